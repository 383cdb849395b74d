"""The secure_services role and playbooks/deploy.yml, driven by ansible-playbook as users run them.

- The example inventory merges as its README says (group list, defaults, host overrides and extras,
  ports bound to the bind address) and every host's merged list passes the policy.
- A typo in one host's service fails the deploy before any host is touched, naming host and service.
- A policy breach is refused by the same check, naming host and service, before any host is touched.
- A failed batch stops the rollout: later batches are never deployed.
- Over SSH on the session's SSH fleet (conftest.py ssh_fleet; the module runs on each host with
  /usr/bin/python3 and Debian's python3-docker) and, in the same runs, from the controller through
  its TLS host's mutual-TLS engine (the role's containment_docker_* TLS variables from fleet.sh's
  inventory, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE set to an unrelated CA): deploy, rerun
  unchanged, check-diff, a rollback of a crashing version, and the audit.

The engine tests use the shared local engine, or the shared SSH fleet: names carry the sandbox
prefix, prune is off.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request

import pytest
import yaml
from integration_helpers import ANSIBLE_ENV, ANSIBLE_PLAYBOOK, TOP, docker, free_port, inspect

from ansible_collections.containment.docker.plugins.module_utils._converge import load_specs
from ansible_collections.containment.docker.plugins.module_utils._spec import SpecError

DEPLOY = str(TOP / "playbooks" / "deploy.yml")
AUDIT = str(TOP / "playbooks" / "audit.yml")
EXAMPLE = TOP / "playbooks" / "inventory" / "example"


def playbook(args, timeout=300, env=None):
    proc = subprocess.run([ANSIBLE_PLAYBOOK, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **dict(ANSIBLE_ENV, **(env or {}))), check=False)
    return proc.returncode, proc.stdout + proc.stderr


def write_inventory(path, hosts, group_vars=None):
    """An inventory folder: hosts.yml (group `fleet`, every host local) and optional group_vars."""
    path.mkdir()
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inventory = {"fleet": {"hosts": dict((name, dict(local, **host_vars)) for name, host_vars in hosts.items())}}
    (path / "hosts.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")
    if group_vars:
        (path / "group_vars").mkdir()
        (path / "group_vars" / "fleet.yml").write_text(yaml.safe_dump(group_vars), encoding="utf-8")
    return str(path)


def merged_lists(tmp_path, inventory):
    """{host: the list the role would give the module}, from the role's own merge (tasks_from: validate)."""
    out = tmp_path / "merged"
    out.mkdir()
    play = [{"hosts": "all", "gather_facts": False, "tasks": [
        {"ansible.builtin.include_role": {"name": "containment.docker.secure_services", "tasks_from": "validate",
                                          "public": True}},
        {"ansible.builtin.copy": {"content": "{{ __secure_services_stack | to_json }}",
                                  "dest": str(out) + "/{{ inventory_hostname }}.json", "mode": "0644"},
         "delegate_to": "localhost"}]}]
    (tmp_path / "merge.yml").write_text(json.dumps(play), encoding="utf-8")
    rc, output = playbook(["-i", inventory, "-e", "ansible_connection=local", str(tmp_path / "merge.yml")])
    assert rc == 0, output
    return dict((p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in out.iterdir())


def by_name(services):
    return dict((s["name"], s) for s in services)


def test_example_inventory_merges_as_documented_and_passes_the_policy(tmp_path):
    lists = merged_lists(tmp_path, str(EXAMPLE))
    assert sorted(lists) == ["batch1.example.com", "web1.example.com", "web2.example.com"]

    web1, web2 = by_name(lists["web1.example.com"]), by_name(lists["web2.example.com"])
    assert list(web1) == ["frontend", "api", "metrics"]
    assert list(web2) == ["frontend", "api", "metrics", "search"]          # the host's own service, last
    # defaults under every service, the service's own values over them
    assert web1["frontend"]["memory"] == "128m" and web1["frontend"]["cpus"] == 0.5
    assert web1["api"]["memory"] == "256m" and web1["api"]["env"] == {"TZ": "UTC", "API_WORKERS": "4"}
    # web2's override: one field of one service, dicts merged key by key, lists replaced
    assert web2["api"]["memory"] == "512m" and web2["api"]["cpus"] == 1.5
    assert web2["api"]["env"] == {"TZ": "UTC", "API_WORKERS": "8"}
    assert web2["api"]["tmpfs"] == web1["api"]["tmpfs"]
    assert web2["metrics"]["ports"] == ["10.0.0.11:9100:9100"]
    assert web2["frontend"] == web1["frontend"]
    assert web2["search"]["memory"] == "384m" and web2["search"]["env"] == {"TZ": "UTC"}
    # ports without an address get the bind address; explicit ones are kept
    assert web1["frontend"]["ports"] == ["127.0.0.1:8080:8080"]
    assert web1["metrics"]["ports"] == ["10.0.0.10:9100:9100"]

    batch = by_name(lists["batch1.example.com"])
    assert batch["mailer"]["exceptions"]["cap_drop_all"].startswith("NET_BIND_SERVICE")
    assert batch["reports"]["user"] == batch["cleanup"]["user"]

    for host, services in lists.items():
        load_specs(services, host_cpus=2, check_unique_uid=True)    # raises SpecError if refused


def test_example_shared_uid_needs_the_exception_on_both_services(tmp_path):
    services = merged_lists(tmp_path, str(EXAMPLE))["batch1.example.com"]
    for service in services:
        if service["name"] == "cleanup":
            del service["exceptions"]["unique_uid"]
    with pytest.raises(SpecError) as refused:
        load_specs(services, host_cpus=2, check_unique_uid=True)
    # reports still names the sharing; cleanup, which no longer does, is refused
    assert [p["service"] for p in refused.value.problems if "unique_uid" in p["rule"]] == ["cleanup"]


def test_ports_bind_to_the_bind_address_ipv6_in_brackets(tmp_path):
    """A port without an address gets the bind address (IPv6 in brackets, once, also when the variable has
    them); one with its own address is kept, also an IPv6 address without brackets as the Compose spec writes
    it. The module reads every resulting port as the address meant (the unbracketed ones included)."""
    own = ["10.1.2.3:81:81", "[::1]:82:82", "::1:83:83", "2001:db8::5:84-85:84-85/UDP", "fe80::1::86", " 127.0.0.2:87:87 "]
    service = {"name": "web", "image": "x", "user": "1501:1501", "memory": "32m", "cpus": 0.5,
               "ports": ["8080:80", "53/udp", 9000, "8000-8001:8000-8001/tcp"] + own}
    inventory = write_inventory(tmp_path / "inventory", {"v4": {}, "v6": {"secure_services_bind_address": "::1"},
                                                         "v6-bracketed": {"secure_services_bind_address": "[fd00::7]"}},
                                {"secure_services_services": [service]})
    lists = merged_lists(tmp_path, inventory)
    kept = [p.strip() for p in own]
    assert lists["v4"][0]["ports"] == ["127.0.0.1:8080:80", "127.0.0.1::53/udp", "127.0.0.1::9000",
                                       "127.0.0.1:8000-8001:8000-8001/tcp"] + kept
    assert lists["v6"][0]["ports"] == ["[::1]:8080:80", "[::1]::53/udp", "[::1]::9000", "[::1]:8000-8001:8000-8001/tcp"] + kept
    assert lists["v6-bracketed"][0]["ports"][:2] == ["[fd00::7]:8080:80", "[fd00::7]::53/udp"]
    addresses = {}
    for host, services in lists.items():
        (spec, _ops), = load_specs(services, host_cpus=2)[0]
        addresses[host] = [(p["host_ip"], p["host_port"], p["container_port"], p["proto"]) for p in spec["ports"]]
    assert addresses["v4"][:2] == [("127.0.0.1", "8080", 80, "tcp"), ("127.0.0.1", "", 53, "udp")]
    assert addresses["v6"][0] == ("::1", "8080", 80, "tcp") and addresses["v6-bracketed"][0] == ("fd00::7", "8080", 80, "tcp")
    assert addresses["v4"][-7:] == [("10.1.2.3", "81", 81, "tcp"), ("::1", "82", 82, "tcp"), ("::1", "83", 83, "tcp"),
                                    ("2001:db8::5", "84", 84, "udp"), ("2001:db8::5", "85", 85, "udp"), ("fe80::1", "", 86, "tcp"),
                                    ("127.0.0.2", "87", 87, "tcp")]


@pytest.mark.parametrize("batches", [[], ["-e", "containment_deploy_serial=1"]], ids=["one-batch", "batches"])
def test_a_typo_fails_before_any_host_is_touched_naming_host_and_service(tmp_path, sandbox, batches):
    good = {"name": sandbox.name("web"), "image": "containment-test/busybox:1", "user": "1501:1501",
            "memory": "16m", "cpus": 0.1}
    api, worker = sandbox.name("api"), sandbox.name("worker")
    inventory = write_inventory(tmp_path / "inventory", {
        "first": {"secure_services_services": [good]},
        # a typo, a wrong type and a policy breach in one service, and a typo in a second one: one message
        "second": {"secure_services_services": [
            dict(good, name=api, memroy="32m", pids_limit="many", user="0:0", secret_env={"API_TOKEN": "s3cr3t-tok"}),
            dict(good, name=worker, user="1502:1502", read_only_rootfs=True, enabled=False)]},
    }, {"secure_services_prune": False})
    # one batch: every host runs the role's checks before any converges; in batches: a play checks them first
    rc, output = playbook(["-i", inventory, DEPLOY] + batches)
    assert rc != 0
    refusal = next(line for line in output.splitlines() if "secure_services refused" in line)
    assert "second: secure_services refused, nothing was changed: " in refusal, output
    for text in ("second: service '%s': field 'memroy': unknown option: there is no option 'memroy'. "
                 "Fix: did you mean 'memory'?" % api,
                 "second: service '%s': field 'pids_limit': format" % api,
                 "second: service '%s': field 'user': non_root_user (floor)" % api,
                 "second: service '%s': field 'read_only_rootfs': unknown option" % worker):
        assert text in refusal, (text, refusal)
    assert "Validating arguments" not in output and "Unsupported parameters" not in output, output
    assert "s3cr3t-tok" not in output
    assert "Converge all services of this host" not in output
    assert inspect(sandbox.name("web")) is None


def test_an_undefined_variable_in_the_services_is_named_not_hidden(tmp_path, sandbox):
    """The check's fact is not no_log (it holds nothing secret), so a template error in the variables reaches
    the user as Ansible words it, naming the variable, and nothing is deployed."""
    inventory = write_inventory(tmp_path / "inventory", {"only": {"secure_services_services": "{{ shop_services }}"}},
                                {"secure_services_prune": False})
    rc, output = playbook(["-i", inventory, DEPLOY])
    assert rc != 0
    assert "shop_services" in output and "is undefined" in output, output
    assert "censored" not in output and "no_log" not in output, output
    assert "Converge all services of this host" not in output


def test_a_policy_breach_is_refused_before_any_host_is_touched_naming_the_service(tmp_path, sandbox):
    base = {"image": "containment-test/busybox:1", "memory": "16m", "cpus": 0.1}
    inventory = write_inventory(tmp_path / "inventory", {"only": {}}, {
        "secure_services_prune": False,
        "secure_services_services": [dict(base, name=sandbox.name("a"), user="1501:1501"),
                                     dict(base, name=sandbox.name("b"), user="1501:1501")]})
    rc, output = playbook(["-i", inventory, DEPLOY])
    assert rc != 0
    assert "only: secure_services refused, nothing was changed: " in output, output
    assert "only: service '%s': field 'user': unique_uid (baseline)" % sandbox.name("a") in output
    assert "Converge all services of this host" not in output
    assert inspect(sandbox.name("a")) is None and inspect(sandbox.name("b")) is None


def test_a_failed_batch_stops_the_rollout(tmp_path, sandbox):
    """serial 1: the first host's new service exits at once, so the second host is never deployed."""
    base = {"image": "containment-test/busybox:1", "memory": "16m", "cpus": 0.1, "grace_period": 1}
    inventory = write_inventory(tmp_path / "inventory", {
        "first": {"secure_services_services": [dict(base, name=sandbox.name("crash"), user="1501:1501",
                                                    command=["/bin/false"])]},
        "second": {"secure_services_services": [dict(base, name=sandbox.name("fine"), user="1502:1502")]},
    }, {"secure_services_prune": False})
    rc, output = playbook(["-i", inventory, DEPLOY, "-e", "containment_deploy_serial=1"])
    assert rc != 0
    assert "%s: FAILED to create" % sandbox.name("crash") in output
    assert inspect(sandbox.name("crash")) is None          # the module removed the new container
    assert inspect(sandbox.name("fine")) is None           # the second batch never ran
    assert docker("network", "ls", "-q", "--filter", "name=containment_" + sandbox.name("fine")).stdout == ""


def test_deploy_checks_each_host_once_and_again_when_its_variables_change(tmp_path, sandbox):
    """deploy.yml checks every host once: with batches before the first batch, and the role, applied next
    with the same variables, does not run the checks again; with one batch the role's own check, on every
    host before any converges. A play that changes the host's variables in between makes the role check
    again."""
    service = {"name": sandbox.name("web"), "image": "containment-test/busybox:1", "user": "1501:1501",
               "memory": "16m", "cpus": 0.1, "command": ["sh", "-c", "sleep 3600"], "grace_period": 0.5}
    inventory = write_inventory(tmp_path / "inventory", {"only": {"secure_services_services": [service]}},
                                {"secure_services_prune": False})
    check_task = "TASK [containment.docker.secure_services : Check the role's variables and every service of this host"
    # one batch: the deploy play checks; in batches: the play before the first batch checks, the role does not
    for extra in ([], ["-e", "containment_deploy_serial=1"]):
        rc, output = playbook(["-i", inventory, DEPLOY] + extra)
        assert rc == 0, output
        assert output.count(check_task) == 1, output
        assert "Validating arguments" not in output, output
    assert inspect(sandbox.name("web"))["State"]["Running"]

    # the role after a task that changed the variables: checked again, and what is wrong now is caught
    # (an override naming a service the host does not have: only these checks see that)
    play = [{"hosts": "all", "gather_facts": False, "tasks": [
        {"ansible.builtin.include_role": {"name": "containment.docker.secure_services", "tasks_from": "validate"}},
        {"ansible.builtin.set_fact": {"secure_services_overrides": {"nosuch": {"memory": "32m"}}}},
        {"ansible.builtin.include_role": {"name": "containment.docker.secure_services"}}]}]
    (tmp_path / "twice.yml").write_text(json.dumps(play), encoding="utf-8")
    rc, output = playbook(["-i", inventory, str(tmp_path / "twice.yml")])
    assert rc != 0
    assert output.count(check_task) == 2, output
    assert "only: secure_services refused, nothing was changed: secure_services_overrides names nosuch" in output
    assert "Converge all services of this host" not in output


def test_deploy_rerun_check_diff_rollback_and_audit_over_ssh_and_tls(ssh_fleet, sandbox, tmp_path):
    inventory = str(ssh_fleet.inventory)
    tls = ssh_fleet.tls_host
    assert ssh_fleet.hosts[tls]["containment_docker_host"].startswith("tcp://")
    web, api = sandbox.name("web"), sandbox.name("api")
    base = {"image": "containment-test/busybox:1", "memory": "32m", "cpus": 0.1, "grace_period": 1, "pull": "never",
            "healthcheck": {"test": "true", "interval": "1s"}}

    def deploy(step, services, *args):
        extra = tmp_path / ("%s.json" % step)
        extra.write_text(json.dumps({"secure_services_prune": False, "secure_services_services": services}), encoding="utf-8")
        rc, output = playbook(["-i", inventory, DEPLOY, "-e", "@%s" % extra, *args], env=ssh_fleet.trap_env)
        (tmp_path / ("%s.txt" % step)).write_text(output, encoding="utf-8")
        return rc, output

    def live(host, name):
        proc = ssh_fleet.docker(host, "inspect", name, check=False)
        return json.loads(proc.stdout)[0] if proc.returncode == 0 else None

    def recap_changed(output):
        return dict((h, int(c)) for h, c in re.findall(r"^(host\d+)\s*:\s*ok=\d+\s+changed=(\d+)", output, re.M))

    v1 = [dict(base, name=web, user="1701:1701"), dict(base, name=api, user="1702:1702")]
    try:
        rc, output = deploy("deploy", v1)
        assert rc == 0, output
        ids = {}
        for host in ssh_fleet.hosts:
            for name in (web, api):
                container = live(host, name)
                assert container and container["State"]["Running"], (host, name)
                ids[host, name] = container["Id"]

        rc, output = deploy("rerun", v1)
        assert rc == 0, output
        assert recap_changed(output) == dict((host, 0) for host in ssh_fleet.hosts) == {"host1": 0, "host2": 0, tls: 0}, output
        assert all(live(host, name)["Id"] == cid for (host, name), cid in ids.items())

        v2 = [dict(v1[0], memory="48m"), v1[1]]
        rc, output = deploy("check-diff", v2, "--check", "--diff")
        assert rc == 0, output
        assert "%s: would be recreated (" % web in output and "memory differs: live '32m', wanted '48m'" in output, output
        assert "%s: unchanged" % api in output, output
        assert all(live(host, name)["Id"] == cid for (host, name), cid in ids.items())
        assert live("host1", web)["HostConfig"]["Memory"] == 32 * 1024 * 1024

        # a new version that exits at once: host1 (the first batch) rolls back to the running one
        v3 = [dict(v1[0], image="containment-test/busybox:2", command=["/bin/false"]), v1[1]]
        rc, output = deploy("rollback", v3, "-e", "containment_deploy_serial=1")
        assert rc != 0, output
        assert "rolled back" in output, output
        for host in ssh_fleet.hosts:
            container = live(host, web)
            assert container["Id"] == ids[host, web] and container["State"]["Running"], host
            assert container["Config"]["Image"] == "containment-test/busybox:1"
            assert live(host, web + "__previous") is None

        report_dir = tmp_path / "reports"
        # the containers only: the fleet's daemons run with defaults, which the daemon controls fail
        # (tests/integration/test_daemon_audit.py covers those)
        audit_vars = {"containment_audit_hosts": "fleet", "containment_audit_names": [sandbox.prefix + "*"],
                      "containment_audit_report_dir": str(report_dir), "containment_audit_daemon": False}
        rc, output = playbook(["-i", inventory, AUDIT, "-e", json.dumps(audit_vars)], env=ssh_fleet.trap_env)
        assert rc == 0, output
        report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
        assert report["passed"] is True
        assert sorted(host["host"] for host in report["hosts"]) == sorted(ssh_fleet.hosts)
        for host in report["hosts"]:
            # on the host's own socket over SSH; the TLS host's engine from the controller
            engine = ssh_fleet.hosts[host["host"]].get("containment_docker_host", "unix:///var/run/docker.sock")
            assert host["status"] == "ok" and host["engine"]["docker_host"] == engine, host
            assert sorted(c["name"] for c in host["containers"]) == sorted([api, web])
    finally:
        ssh_fleet.remove(sandbox.prefix)


def test_new_options_pass_the_roles_checks_and_a_removed_service_needs_only_its_name(tmp_path):
    service = {"name": "worker", "image": "containment-test/busybox:1", "user": "1504:1504", "memory": "64m", "cpus": 0.5,
               "ulimits": ["nofile:1024:2048"], "log_options": {"max-size": "20m", "max-file": "2"}, "init": True,
               "networks": ["plain", {"name": "back", "aliases": ["work"]}], "sysctls": {"net.core.somaxconn": "512"},
               "device_read_bps": [{"path": "/dev/vda", "rate": "10m"}], "depends_on": [{"service": "db", "condition": "service_healthy"}],
               "ports": ["8000-8001:8000-8001"]}
    db = {"name": "db", "image": "containment-test/busybox:1", "user": "1505:1505", "memory": "64m", "cpus": 0.5,
          "healthcheck": {"test": "true"}}
    inventory = write_inventory(tmp_path / "inventory", {"h1": {}},
                                {"secure_services_services": [service, db, {"name": "old", "state": "absent"}]})
    merged = by_name(merged_lists(tmp_path, inventory)["h1"])
    assert merged["old"] == {"name": "old", "state": "absent"}
    assert merged["worker"]["ports"] == ["127.0.0.1:8000-8001:8000-8001"]  # the range bound to the bind address
    specs, _ctx = load_specs(list(merged.values()))
    assert [spec["ulimits"] for spec, _ops in specs if spec["name"] == "worker"] == [[{"name": "nofile", "soft": 1024, "hard": 2048}]]


SERVICES = TOP / "playbooks" / "inventory" / "services"
# The example's images and what stands in for them here: (scripts/images.env key, options the stand-in needs
# instead of the real image's). Healthchecks every second and short stops keep the test cheap; the rest of
# each service is the example's, as written.
STAND_INS = {
    "proxy": ("CONTAINMENT_IMAGE_WEB", {"command": ["httpd", "-f", "-p", "8443", "-h", "/www"],
                                        "healthcheck": {"test": "wget -q -O /dev/null http://127.0.0.1:8443/healthz", "interval": "1s"}}),
    "web": ("CONTAINMENT_IMAGE_WEB", {}),
    "api": ("CONTAINMENT_IMAGE_WEB", {}),
    "db": ("CONTAINMENT_IMAGE_BUSYBOX_1", {"healthcheck": {"test": ["CMD", "true"], "interval": "1s"}}),
    "worker": ("CONTAINMENT_IMAGE_BUSYBOX_1", {}),
    "queue": ("CONTAINMENT_IMAGE_BUSYBOX_1", {"healthcheck": {"test": ["CMD", "true"], "interval": "1s"}}),
    "metrics": ("CONTAINMENT_IMAGE_BUSYBOX_1", {"command": None}),
}


def engine_open_files():
    """The hard limit of open files of this machine's dockerd: a container's nofile cannot go beyond it (runc's
    prlimit fails). A systemd host gives dockerd 1048576; the one started by scripts/ensure-docker may have less."""
    with open("/proc/%s/limits" % open("/var/run/docker.pid").read().strip(), encoding="utf-8") as limits:
        return int(next(line.split()[4] for line in limits if line.startswith("Max open files")))


def within(ulimits, hard_max):
    """nofile limits lowered to `hard_max` where they are above it; the others as written."""
    fitted = []
    for text in ulimits:
        kind, *numbers = text.split(":")
        fitted.append(":".join([kind] + [str(min(int(n), hard_max)) for n in numbers]) if kind == "nofile" else text)
    return fitted


def localized_services(sandbox, ports, agent_config):
    """The example's services for this engine: names, networks and volumes with the sandbox's prefix, host
    ports free ones, the metrics agent's file under /etc a file of the test's own, images the stand-ins."""
    services = yaml.safe_load((SERVICES / "group_vars" / "app.yml").read_text(encoding="utf-8"))["secure_services_services"]
    prefixed = sandbox.name
    for service in services:
        image, replaced = STAND_INS[service["name"]]
        service.update(image=sandbox.images[image], stop_timeout=2, **replaced)
        if service.get("healthcheck"):
            service["healthcheck"] = dict(service["healthcheck"], interval="1s", start_period="0s")
        service = dict((k, v) for k, v in service.items() if v is not None)
        service["name"] = prefixed(service["name"])
        service["networks"] = [dict(n, name=prefixed(n["name"])) if isinstance(n, dict) else prefixed(n) for n in service["networks"]]
        for mount in service.get("mounts", []):
            mount["source"] = prefixed(mount["source"])
        depends = service.get("depends_on")
        if depends:
            service["depends_on"] = (dict((prefixed(k), v) for k, v in depends.items()) if isinstance(depends, dict)
                                     else [prefixed(d) for d in depends])
        service["ports"] = ["%d:%s" % (ports[service["name"]], p.split(":")[-1]) for p in service.get("ports", [])]
        service["volumes"] = [agent_config + ":" + v.split(":", 1)[1] for v in service.get("volumes", [])]
        if service.get("ulimits"):
            service["ulimits"] = within(service["ulimits"], engine_open_files())
        yield service


def test_the_example_services_deploy_rerun_unchanged_and_drift_back(tmp_path, sandbox):
    """playbooks/inventory/services: a proxy, a web front end, an API with its database, a JVM-like worker, a
    queue and a metrics agent, deployed by playbooks/deploy.yml on the local engine; rerun unchanged; drifted by
    hand (docker update, stop, network disconnect, rm) and restored by the next run."""
    name = sandbox.name
    ports = {name("proxy"): free_port(), name("metrics"): free_port()}
    etc_dir = "/etc/%smetrics-agent" % sandbox.prefix  # a file of its own under /etc, as the example's
    agent_config = etc_dir + "/agent.yml"
    services = [dict(s) for s in localized_services(sandbox, ports, agent_config)]
    group_vars = yaml.safe_load((SERVICES / "group_vars" / "all.yml").read_text(encoding="utf-8"))
    for key in ("ansible_python_interpreter", "ansible_pipelining"):
        group_vars.pop(key)
    group_vars["secure_services_defaults"]["grace_period"] = 0.5
    inventory = write_inventory(tmp_path / "inventory", {"app1": {}},
                                dict(group_vars, secure_services_services=services, secure_services_prune=False))

    def recap_changed(output):
        return int(re.search(r"^app1\s*:\s*ok=\d+\s+changed=(\d+)", output, re.M).group(1))

    os.makedirs(etc_dir)
    try:
        with open(agent_config, "w", encoding="utf-8") as handle:
            handle.write("scrape_interval: 15s\n")
        os.chmod(agent_config, 0o644)
        rc, output = playbook(["-i", inventory, DEPLOY])
        assert rc == 0, output
        for service in services:
            assert "%s: created" % service["name"] in output, output
            assert inspect(service["name"])["State"]["Running"], service["name"]
        # what the options do, seen from inside and through the proxy's host port
        worker, queue, metrics, api = name("worker"), name("queue"), name("metrics"), name("api")
        assert docker("exec", worker, "sh", "-c", "ulimit -n; cat /proc/1/comm").stdout.split() == [
            str(min(65536, engine_open_files())), "docker-init"]
        assert docker("exec", queue, "hostname").stdout.strip() == "queue-1"
        assert docker("exec", metrics, "cat", "/etc/agent/agent.yml").stdout == "scrape_interval: 15s\n"
        assert docker("exec", metrics, "cat", "/proc/sys/net/ipv4/ping_group_range").stdout.split() == ["1607", "1607"]
        assert inspect(metrics)["HostConfig"]["LogConfig"] == {"Type": "local", "Config": {"max-size": "5m", "max-file": "2",
                                                                                           "compress": "true"}}
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % ports[name("proxy")], timeout=10) as page:
            assert page.read().strip() == b"ok"
        assert "web.shop.internal" in docker("exec", name("proxy"), "nslookup", "web.shop.internal").stdout

        rc, output = playbook(["-i", inventory, DEPLOY])
        assert rc == 0 and recap_changed(output) == 0, output

        docker("update", "--memory", "2g", "--memory-swap", "2g", worker)
        docker("stop", "-t", "2", queue)
        docker("network", "disconnect", name("shop-backend"), api)
        docker("rm", "-f", metrics)
        rc, output = playbook(["-i", inventory, DEPLOY])
        assert rc == 0, output
        assert re.search(r"%s: recreated \(.*memory differs" % worker, output), output
        assert "%s: started (container is not running)" % queue in output, output
        assert re.search(r"%s: recreated \(.*networks differs" % api, output), output
        assert "%s: created" % metrics in output, output
        for service in ("proxy", "web", "db"):
            assert "%s: unchanged" % name(service) in output, output
        assert inspect(worker)["HostConfig"]["Memory"] == 1536 * 1024 * 1024
        assert inspect(queue)["State"]["Running"] and inspect(metrics)["State"]["Running"]
        assert name("shop-backend") in inspect(api)["NetworkSettings"]["Networks"]
    finally:
        sandbox.cleanup()
        docker("network", "rm", name("shop-edge"), name("shop-backend"), check=False)
        docker("volume", "rm", name("shop-db-data"), name("shop-queue-data"), check=False)
        if os.path.exists(agent_config):
            os.unlink(agent_config)
        if os.path.isdir(etc_dir):
            os.rmdir(etc_dir)
