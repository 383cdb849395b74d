#!/usr/bin/env bash
# Self-test of tests/fleet/fleet.sh (make fleet-check): bring up N hosts, run a
# hardened web container on each with a port published on 127.0.0.1 inside
# its netns (and one on its 10.231.I.2 address), fetch from both sides, then
# `down` and prove nothing is left behind: no netns, no mount, no process, no
# link, no cgroup, no files. Refuses to run while a fleet of the same
# CDFLEET_PREFIX is up (it would take it down); CDFLEET_PREFIX=cdfck
# CDFLEET_NET=10.229 runs it beside one.
#
#   tests/fleet/selftest.sh [N] [--ssh]
# --ssh: the SSH fleet (fleet.sh up N --ssh); also proves that root logs in with
# the fleet's key and known_hosts, that /var/run/docker.sock inside a host is that
# host's own engine, that its Python has the Docker SDK, and, after down, that no
# process of the hosts' mount namespaces (sshd and its sessions included) is left.
# Host N serves its engine also over TCP with mutual TLS (CDFLEET_TCP_N=tls): it answers
# with the fleet's client certificate, refuses a client without one, and its inventory entry
# reaches it from this machine; its CA and certificates go with `down`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
N=${1:-3}
MODE=${2:-}
[[ -z $MODE || $MODE == --ssh ]] || { echo "usage: selftest.sh [N] [--ssh]" >&2; exit 2; }
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
export "CDFLEET_TCP_$N=tls"
# shellcheck disable=SC2086
"$fleet" up "$N" $MODE
t1=$(now)
echo "fleet up $N: $(secs "$t0" "$t1")s"
quiet() { "$@" >/dev/null 2>&1; }
check "fleet status: every host answers" quiet "$fleet" status

# the engine of host i as this machine reaches it
sock() { if [[ -n $MODE ]]; then echo "unix:///run/$P/host$1/run/docker.sock"; else echo "unix:///run/$P/host$1/docker.sock"; fi; }
if [[ -n $MODE ]]; then
    key=/var/lib/$P/ssh/id_ed25519
    on_host() { # on_host I COMMAND: over SSH as root, as the inventory says
        local i=$1
        shift
        ssh -q -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5 -o GlobalKnownHostsFile=/dev/null \
            -o UserKnownHostsFile="/var/lib/$P/ssh/known_hosts" -o StrictHostKeyChecking=yes "root@$NET.$i.2" "$@"
    }
    own_engine() { # the engine at /var/run/docker.sock inside host i is host i's (its data root), not another's
        [[ $(on_host "$1" docker -H unix:///var/run/docker.sock info --format "'{{.DockerRootDir}}'") == "/var/lib/$P/host$1/docker" ]]
    }
    for ((i = 1; i <= N; i++)); do
        check "host$i: root logs in over SSH with the fleet's key, the host key in known_hosts" quiet on_host "$i" true
        check "host$i: /var/run/docker.sock there is host$i's own engine" own_engine "$i"
        check "host$i: /usr/bin/python3 there imports the Docker SDK" quiet on_host "$i" /usr/bin/python3 -c "'import docker'"
    done
    wrong_key() { ! ssh -q -i /dev/null -o BatchMode=yes -o ConnectTimeout=5 -o UserKnownHostsFile="/var/lib/$P/ssh/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o PubkeyAuthentication=no "root@$NET.1.2" true 2>/dev/null; }
    check "host1: no login without the key (no passwords)" wrong_key
fi

tls_url=tcp://$NET.$N.2:2376
with_cert() { DOCKER_CERT_PATH=/run/$P/tls/client docker --tlsverify -H "$tls_url" version --format '{{.Server.Version}}'; }
raw_tls() { # raw_tls [CERT KEY]: GET /version over TLS with Python's ssl, the fleet's CA trusted
    python3 - "$NET.$N.2" "/run/$P/tls/client/ca.pem" "$@" <<'EOP' 2>/dev/null
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
if len(sys.argv) > 3:
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
with ctx.wrap_socket(socket.create_connection((sys.argv[1], 2376), timeout=5), server_hostname=sys.argv[1]) as s:
    s.sendall(b"GET /version HTTP/1.0\r\n\r\n")
    sys.exit(0 if s.recv(64).startswith(b"HTTP/1.0 200") else 1)
EOP
}
# the handshake (or the first read after it) fails without a client certificate, not with it
without_cert() { raw_tls "/run/$P/tls/client/cert.pem" "/run/$P/tls/client/key.pem" && ! raw_tls; }
tls_inventory() { python3 - "${CDFLEET_INVENTORY:-$here/.state/inventory.yml}" "host$N" "$tls_url" <<'EOP'
import sys, yaml
h = yaml.safe_load(open(sys.argv[1]))["fleet"]["hosts"][sys.argv[2]]
sys.exit(not (h["ansible_connection"] == "local" and h["containment_docker_host"] == sys.argv[3]
              and h["containment_docker_validate_certs"] is True and h["containment_docker_tls_hostname"]))
EOP
}
check "host$N: $tls_url answers with the fleet's client certificate (--tlsverify)" quiet with_cert
check "host$N: $tls_url refuses a client without a certificate" without_cert
check "host$N: its inventory entry reaches $tls_url from this machine with the TLS variables" tls_inventory

for ((i = 1; i <= N; i++)); do
    DOCKER_HOST=$(sock "$i")
    export DOCKER_HOST
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

# the hosts' mount namespaces, to look for their processes after down
mntns=()
if [[ -n $MODE ]]; then
    for ((i = 1; i <= N; i++)); do mntns+=("mnt:[$(stat -L -c %i "/run/$P/mntns/host$i")]"); done
fi
in_host_ns() { # pids of processes still in one of the hosts' mount namespaces
    local p ns
    for p in /proc/[0-9]*; do
        ns=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
        for m in "${mntns[@]}"; do [[ $ns == "$m" ]] && echo "${p#/proc/}"; done
    done
    return 0
}

t2=$(now)
"$fleet" down
t3=$(now)
echo "fleet down: $(secs "$t2" "$t3")s"

check "no $P network namespace" none bash -c "ip netns list | grep -- '$P-'"
check "no $P mount" none grep -- "/$P" /proc/self/mountinfo
check "no $P process" none pgrep -f -- "/run/$P/|/var/lib/$P/"
if [[ -n $MODE ]]; then
    # sshd's sessions, containerd and the shims of an SSH host name none of the fleet's paths
    check "no process in the hosts' mount namespaces" none in_host_ns
    check "no sshd of the fleet" none pgrep -f -- "/var/lib/$P/host[0-9]+/etc/sshd_config"
    check "no $P mount namespace file" bash -c "! [[ -e /run/$P/mntns ]]"
fi
check "no $P link" none bash -c "ip -o link show | grep -E ': ${P}[0-9]+[@:]'"
check "no $P cgroup" none cg_left
check "no /run/$P, /var/lib/$P" bash -c "! [[ -e /run/$P || -e /var/lib/$P ]]"
check "no inventory left" bash -c "! [[ -e '${CDFLEET_INVENTORY:-$here/.state/inventory.yml}' ]]"

echo "fleet selftest: $pass passed, $fail failed"
((fail == 0))
