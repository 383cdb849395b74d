# containment.docker - development and CI entry points. See docs/development.md.
#
#   make test     venv + engine + images + unit + integration + faults + molecule + lint (what .ci/run runs)
#   make lint     ansible-lint, ansible-test sanity (builds its venvs from PyPI on first run), shellcheck,
#                 antsibull-docs lint, the changelog check and the execution environment (ansible-builder create)
#   make demo     scripts/demo
#
# Everything runs against the collection as installed: scripts/collection-path
# links this checkout in as <dir>/ansible_collections/containment/docker and
# <dir> goes into ANSIBLE_COLLECTIONS_PATH and PYTHONPATH.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV ?= .venv
VENV_BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed

COLLECTIONS_PATH := $(shell scripts/collection-path)
ifeq ($(COLLECTIONS_PATH),)
$(error scripts/collection-path failed)
endif

export PATH := $(VENV_BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_PATH)
export PYTHONPATH := $(COLLECTIONS_PATH)$(if $(PYTHONPATH),:$(PYTHONPATH))
ifdef CI
# plain logs in CI
export NO_COLOR := 1
export PY_COLORS := 0
export ANSIBLE_NOCOLOR := 1
endif

# This machine's pip configuration names local wheel folders that may not
# exist; pip warns once per package. Keep real errors, drop that noise.
PIP_NOISE := is ignored: it is neither a file nor a directory

.PHONY: help venv engine images unit integration bench-smoke faults molecule lint ansible-lint sanity test demo \
        fleet-up fleet-down fleet-status fleet-check collection-path clean distclean

help:
	@echo "make venv         .venv with requirements-test.txt (re-run when requirements change)"
	@echo "make engine       make sure a Docker engine answers (scripts/ensure-docker)"
	@echo "make images       build the local test/demo images (scripts/build-images)"
	@echo "make unit         pytest tests/unit (no engine needed)"
	@echo "make integration  pytest tests/integration (engine + images), bench-smoke included"
	@echo "make bench-smoke  bench/run end to end at two services, no timing asserted (tests/integration/test_bench_smoke.py)"
	@echo "make faults       pytest tests/faults: kills, concurrent runs, engine errors and restarts on a fleet host of its own (root)"
	@echo "make molecule     molecule test --all (when molecule/ has scenarios)"
	@echo "make test         venv engine images unit integration faults molecule lint  (= .ci/run)"
	@echo "make lint         ansible-lint + ansible-test sanity + shellcheck + docs-lint + changelog-lint + ee-lint"
	@echo "make changelog    release the changelog fragments into CHANGELOG.rst (scripts/changelog-release)"
	@echo "make demo         scripts/demo"
	@echo "make fleet-up N=3 [SSH=1] / fleet-down / fleet-status   simulated Docker hosts (tests/fleet/fleet.sh)"
	@echo "make fleet-check  self-test of the fleet, local and SSH hosts: up, publish, fetch, down, nothing left"
	@echo "collections path: $(COLLECTIONS_PATH)"

# --- environment ---------------------------------------------------------------

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	@echo ">>> creating $(VENV) and installing requirements-test.txt"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install -q -r requirements-test.txt 2>&1 | { grep -v '$(PIP_NOISE)' || true; }
	@touch $@

engine:
	@scripts/ensure-docker

images: engine
	@scripts/build-images

collection-path:
	@echo $(COLLECTIONS_PATH)

# --- tests ------------------------------------------------------------------------

unit: venv
	@echo ">>> unit tests"
	@scripts/run-pytest tests/unit

# bench-smoke (tests/integration/test_bench_smoke.py) is one of them
integration: venv engine images
	@scripts/ensure-test-packages
	@echo ">>> integration tests"
	@scripts/run-pytest tests/integration

# bench/run end to end at two services (no timing asserted): part of `make integration`, alone here
bench-smoke: venv engine images
	@scripts/ensure-test-packages
	@echo ">>> bench smoke test"
	@scripts/run-pytest tests/integration/test_bench_smoke.py

# the fault-injection suite brings up its own fleet host (tests/faults/conftest.py: prefix cdflt, 10.243)
faults: venv engine images
	@echo ">>> fault-injection tests"
	@scripts/run-pytest tests/faults

molecule: venv engine images
	@if compgen -G 'molecule/*/molecule.yml' >/dev/null; then \
		echo ">>> molecule test --all"; \
		molecule test --all; \
	else \
		echo "================ SKIPPED: no molecule scenarios (molecule/*/molecule.yml) yet ================"; \
	fi

test: venv engine images unit integration faults molecule lint

# --- lint -------------------------------------------------------------------------

lint: ansible-lint sanity shellcheck docs-lint changelog-lint ee-lint

ansible-lint: venv
	@echo ">>> ansible-lint"
	@ansible-lint

sanity: venv tools
	@echo ">>> ansible-test sanity"
	@scripts/sanity

.PHONY: tools shellcheck docs-lint changelog-lint changelog ee-lint

# system tools of the lint targets (Debian's shellcheck; sanity skips its shellcheck test without it)
tools:
	@scripts/ensure-tools

# every shell script of the checkout, found by shebang (scripts/lint-shell)
shellcheck: tools
	@echo ">>> shellcheck"
	@scripts/lint-shell

# the plugin and role docs as the Ansible docsite renders them: markup, references, schema
docs-lint: venv
	@echo ">>> antsibull-docs lint-collection-docs"
	@antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all --disallow-unknown-collection-refs .

# fragments and changelog.yaml well formed, CHANGELOG.rst what changelog.yaml renders to
# (unreleased fragments are not in it, so new fragments never break this)
changelog-lint: venv
	@echo ">>> antsibull-changelog lint"
	@antsibull-changelog lint
	@antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	@out=$$(mktemp); trap 'rm -f "$$out"' EXIT; antsibull-changelog generate --output "$$out"; \
	if ! diff -u CHANGELOG.rst "$$out"; then \
		echo "changelog-lint: CHANGELOG.rst differs from what changelogs/changelog.yaml renders to; run antsibull-changelog generate" >&2; exit 1; \
	fi

changelog: venv
	@scripts/changelog-release

# the execution environment: `ansible-builder create` (no build: no registry here) on
# docs/execution-environment.yml, its context, and what its introspection finds in this collection
ee-lint: venv
	@echo ">>> ansible-builder create + introspect (scripts/ee-lint)"
	@scripts/ee-lint

# --- demo and fleet ---------------------------------------------------------------

demo: venv engine images
	@if [[ -x scripts/demo ]]; then scripts/demo; \
	else echo "make demo: scripts/demo does not exist yet" >&2; exit 1; fi

N ?= 3
fleet-up: images
	@tests/fleet/fleet.sh up $(N) $(if $(SSH),--ssh)

fleet-down:
	@tests/fleet/fleet.sh down

fleet-status:
	@tests/fleet/fleet.sh status

# up N, a hardened web container with published ports on every host, down,
# and proof that nothing is left behind (replaces a fleet that is up); then the same as SSH hosts
fleet-check: images
	@scripts/ensure-test-packages
	@tests/fleet/selftest.sh $(N)
	@tests/fleet/selftest.sh $(N) --ssh

# --- housekeeping -----------------------------------------------------------------

clean:
	rm -rf .pytest_cache tests/output .cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(COLLECTIONS_PATH)
