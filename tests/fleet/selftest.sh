#!/usr/bin/env bash
# Self-test of tests/fleet/fleet.sh (make fleet-check): bring up N hosts, run a
# hardened web container on each with a port published on 127.0.0.1 inside
# its netns (and one on its 10.231.I.2 address), fetch from both sides, then
# `down` and prove nothing is left behind: no netns, no mount, no process, no
# link, no cgroup, no files. Refuses to run while a fleet of the same
# CDFLEET_PREFIX is up (it would take it down); CDFLEET_PREFIX=cdfck
# CDFLEET_NET=10.229 runs it beside one.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
N=${1:-3}
# shellcheck source=../../scripts/images.env
source "$top/scripts/images.env"
fleet="$here/fleet.sh"
P=${CDFLEET_PREFIX:-cdfleet}
NET=${CDFLEET_NET:-10.231}
pass=0 fail=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        pass=$((pass + 1)); echo "ok    $what"
    else
        fail=$((fail + 1)); echo "FAIL  $what"
    fi
}
now() { date +%s.%N; }
# fetch URL: print the body (python3: busybox's static wget crashes on the
# host's NSS config, and curl may not be installed)
fetch() {
    python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())' "$1" 2>/dev/null
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
none() { [[ -z $("$@" 2>/dev/null) ]]; }
cg_left() { ls -d /sys/fs/cgroup/*/"$P"-host* 2>/dev/null || true; }

if [[ $("$fleet" status 2>/dev/null) != "no fleet hosts" ]]; then
    echo "selftest: a fleet ($P) is up; take it down first (tests/fleet/fleet.sh down), or run with CDFLEET_PREFIX=cdfck CDFLEET_NET=10.229" >&2
    exit 1
fi

t0=$(now)
"$fleet" up "$N"
t1=$(now)
echo "fleet up $N: $(secs "$t0" "$t1")s"
quiet() { "$@" >/dev/null 2>&1; }
check "fleet status: every host answers" quiet "$fleet" status

for ((i = 1; i <= N; i++)); do
    export DOCKER_HOST=unix:///run/$P/host$i/docker.sock
    docker run -d --name selftest-web --user 1500:1500 --read-only \
        --tmpfs /tmp:size=8m,mode=1777,nosuid,nodev,noexec --cap-drop ALL \
        --security-opt no-new-privileges --memory 32m --cpus 0.5 --pids-limit 32 \
        -p 127.0.0.1:8080:8080 -p "$NET.$i.2:8081:8080" \
        "$CONTAINMENT_IMAGE_DOGGOS" >/dev/null
    unset DOCKER_HOST
done
for ((i = 1; i <= N; i++)); do
    get_in() { nsenter --net="/run/netns/$P-host$1" python3 -c 'import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1], timeout=3).read() != b"ok\n")' http://127.0.0.1:8080/healthz 2>/dev/null; }
    get_root() { fetch "http://$NET.$1.2:8081/cgi-bin/dog" | grep -q '^[a-z]'; }
    ok=0
    for _ in $(seq 1 50); do get_in "$i" && { ok=1; break; }; sleep 0.1; done
    check "host$i: 127.0.0.1:8080 published inside its netns answers" test $ok = 1
    check "host$i: $NET.$i.2:8081 answers from the root namespace" get_root "$i"
done
not_root_published() { ! fetch http://127.0.0.1:8080/healthz >/dev/null; }
check "127.0.0.1:8080 is not published in the root namespace" not_root_published

t2=$(now)
"$fleet" down
t3=$(now)
echo "fleet down: $(secs "$t2" "$t3")s"

check "no $P network namespace" none bash -c "ip netns list | grep -- '$P-'"
check "no $P mount" none grep -- "/$P" /proc/self/mountinfo
check "no $P process" none pgrep -f -- "/run/$P/"
check "no $P link" none bash -c "ip -o link show | grep -E ': ${P}[0-9]+[@:]'"
check "no $P cgroup" none cg_left
check "no /run/$P, /var/lib/$P" bash -c "! [[ -e /run/$P || -e /var/lib/$P ]]"
check "no inventory left" bash -c "! [[ -e '${CDFLEET_INVENTORY:-$here/.state/inventory.yml}' ]]"

echo "fleet selftest: $pass passed, $fail failed"
((fail == 0))
