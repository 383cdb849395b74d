#!/usr/bin/env bash
# A fleet of simulated Docker hosts on this one machine, for testing the
# collection's multi-host role and playbooks without any real remote host.
#
#   tests/fleet/fleet.sh up N      # converge to hosts host1..hostN (adds or removes hosts)
#   tests/fleet/fleet.sh up N --ssh
#                                  # the same as SSH hosts (also: CDFLEET_MODE=ssh); see below
#   tests/fleet/fleet.sh down      # stop and remove every fleet host; leave nothing behind
#   tests/fleet/fleet.sh status    # one line per host
#   tests/fleet/fleet.sh restart-engine I [--kill]
#                                  # stop host I's dockerd (SIGTERM, or SIGKILL with --kill),
#                                  # wait until it and its containerd are gone, start it again
#                                  # and wait until it answers (its containers are not touched)
#   tests/fleet/fleet.sh config I FILE
#                                  # make FILE host I's daemon.json and restart its engine
#                                  # gracefully (as restart-engine I) so dockerd reads it
#
# Host i is:
#   - network namespace cdfleet-hostI with lo up and a veth pair: eth0 inside
#     at 10.231.I.2/24, cdfleetI in the root namespace at 10.231.I.1/24. The
#     address is reachable from this machine's root namespace only (no route,
#     no forwarding): traffic never leaves the machine.
#   - its own dockerd in that namespace (started with nsenter --net, not
#     `ip netns exec`, which remounts /sys and breaks dockerd's cgroups):
#       socket    unix:///run/cdfleet/hostI/docker.sock
#       data-root /var/lib/cdfleet/hostI, exec-root /run/cdfleet/hostI/exec
#     with its own supervised containerd (state under those roots), its own
#     containerd namespace, cgroup parent /cdfleet-hostI, config file
#     (/run/cdfleet/hostI/daemon.json: `{}` when a host is first made, or the
#     JSON in $CDFLEET_DAEMON_JSON_<I> at `up`; kept across engine restarts, so
#     a role that edits it sees it read) and log (/run/cdfleet/hostI/dockerd.log).
#     The same command line for local and SSH hosts (dockerd_up). Its default bridge and iptables
#     rules live in its netns, so published ports and user-defined networks
#     work as on a real host (127.0.0.1 inside the netns, or 10.231.I.2).
#   - the test images (scripts/images.env), copied from the main engine
#     (built there by scripts/build-images) with docker save | docker load.
#
# SSH mode (`up N --ssh`): host i is a managed host as Ansible meets it, with
# the same netns, address and data root, plus
#   - its own mount namespace (unshare --mount --propagation private, entered
#     in the netns with nsenter), persisted in /run/cdfleet/mntns/hostI, in
#     which /run is bind-mounted from /run/cdfleet/hostI/run: inside the host,
#     /var/run/docker.sock, /run/docker, /run/containerd are the host's own.
#     The rest of the filesystem (/usr, /etc, /home, /tmp) is this machine's.
#   - dockerd with its default socket, exec-root and pidfile (so the controller
#     reaches it at unix:///run/cdfleet/hostI/run/docker.sock, the module on
#     the host at /var/run/docker.sock), data-root /var/lib/cdfleet/hostI/docker,
#     config /var/lib/cdfleet/hostI/daemon.json (the same path inside and out)
#   - an sshd (Debian's openssh-server) on 10.231.I.2:22 with a host key made
#     per fleet, keys only (/var/lib/cdfleet/hostI/etc: key, sshd_config).
#     Authorized keys: /var/lib/cdfleet/ssh/authorized_keys/USER, root's is
#     the fleet's client key /var/lib/cdfleet/ssh/id_ed25519; the fleet's
#     known_hosts beside it. Log: /run/cdfleet/hostI/sshd.log.
#   - Python: /usr/bin/python3 with Debian's python3-docker (the distribution's
#     Docker SDK; scripts/ensure-test-packages installs it and openssh-server).
# Its inventory entry: ansible_host, ansible_user root, the key, known_hosts,
# ansible_python_interpreter /usr/bin/python3, pipelining on, and no
# containment_docker_host: the module uses the host's own socket. A fleet is
# of one mode: `up` replaces hosts of the other mode.
#
# A TCP listener, either mode (CDFLEET_TCP_<I> at `up`, kept across restarts):
#   tls    host I's dockerd also serves tcp://NET.I.2:2376 with --tlsverify: a CA
#          made by openssl per fleet (/run/cdfleet/tls), a client certificate in
#          DOCKER_CERT_PATH layout (/run/cdfleet/tls/client: ca.pem cert.pem key.pem),
#          a server certificate naming NET.I.2 and hostI.cdfleet.test in the host's
#          own run folder. Its inventory entry reaches it from this machine, as a
#          controller reaches a remote engine: connection local, containment_docker_host
#          tcp://NET.I.2:2376 and the containment_docker_* TLS variables of the role.
#   plain  host I's dockerd also listens on tcp://NET.I.2:2375 without TLS (root for
#          whoever reaches it: what the audit's tls_on_tcp fails). Inventory unchanged.
#
# `up` writes an Ansible inventory (group `fleet`) to $CDFLEET_INVENTORY
# (default tests/fleet/.state/inventory.yml); each host's cdfleet_docker_host
# is its engine as the controller reaches it (checks from outside), its
# cdfleet_daemon_config the daemon.json its dockerd reads. Needs root
# and Linux; on Debian, scripts/ensure-docker installs what it uses.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
# Names and addresses; override both to run a second, independent fleet on the
# same machine (e.g. two checkouts testing at once): CDFLEET_PREFIX=cdf2
# CDFLEET_NET=10.230. The veth name PREFIX<i> must fit in 15 characters.
PREFIX=${CDFLEET_PREFIX:-cdfleet}
NET=${CDFLEET_NET:-10.231}
[[ $PREFIX =~ ^[a-z][a-z0-9]{0,9}$ ]] || { echo "fleet: CDFLEET_PREFIX must match [a-z][a-z0-9]{0,9}" >&2; exit 2; }
[[ $NET =~ ^10\.[0-9]{1,3}$ ]] || { echo "fleet: CDFLEET_NET must look like 10.231" >&2; exit 2; }
RUN_ROOT=/run/$PREFIX
DATA_ROOT=/var/lib/$PREFIX
INVENTORY=${CDFLEET_INVENTORY:-$here/.state/inventory.yml}
WAIT=${CDFLEET_WAIT:-60}
MODE=${CDFLEET_MODE:-local}
NS_PREFIX=$PREFIX-host
MNTNS_DIR=$RUN_ROOT/mntns
SSH_DIR=$DATA_ROOT/ssh
TLS_DIR=$RUN_ROOT/tls
declare -A LAUNCHED=()

say() { printf 'fleet: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

ns_of() { echo "$NS_PREFIX$1"; }
run_dir() { echo "$RUN_ROOT/host$1"; }
veth_of() { echo "$PREFIX$1"; }
# an SSH host has a /run of its own; there the daemon keeps its socket and pidfile
is_ssh_host() { [[ -d $RUN_ROOT/host$1/run ]]; }
host_run() { if is_ssh_host "$1"; then echo "$RUN_ROOT/host$1/run"; else echo "$RUN_ROOT/host$1"; fi; }
sock_of() { echo "unix://$(host_run "$1")/docker.sock"; }

# the docker CLI against host i
hdocker() {
    local i=$1
    shift
    DOCKER_HOST=$(sock_of "$i") docker "$@"
}

answers() { hdocker "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# pid from a pidfile, if that process runs and is COMM
pid_of() { # pid_of PIDFILE COMM
    local pid
    [[ -s $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ && -d /proc/$pid ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]] || return 1
    echo "$pid"
}
# pid of host i's dockerd, if it runs (pidfile + the process really is dockerd)
dockerd_pid() { pid_of "$(host_run "$1")/docker.pid" dockerd; }

# host numbers that have anything on this machine: netns, run dir, data dir or veth
existing_hosts() {
    {
        ip netns list 2>/dev/null | sed -n "s/^$NS_PREFIX\([0-9]\{1,\}\)\( .*\)\{0,1\}$/\1/p"
        for d in "$RUN_ROOT"/host* "$DATA_ROOT"/host* "$MNTNS_DIR"/host*; do
            [[ -e $d ]] && basename "$d" | sed -n 's/^host\([0-9]\{1,\}\)$/\1/p'
        done
        ip -o link show 2>/dev/null | sed -n "s/^[0-9]*: $PREFIX\([0-9]\{1,\}\)[@:].*/\1/p"
    } | sort -n -u
}

# mount points at or under a prefix, deepest first
mounts_under() {
    awk -v p="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == p || index(m, p "/") == 1) print m }' /proc/self/mountinfo |
        awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-
}

# pids of processes whose command line mentions a path (our containerd and
# shims name the fleet's own paths; the paths hold no regex metacharacters).
# Only processes in our mount namespace: another one has its own /run.
pids_mentioning() {
    local pid me
    me=$(readlink /proc/self/ns/mnt)
    for pid in $(pgrep -f -- "$1" || true); do
        [[ $(readlink "/proc/$pid/ns/mnt" 2>/dev/null) == "$me" ]] && echo "$pid"
    done
    return 0
}

wait_gone() { # wait_gone SECONDS PID...
    local t=$1 pid
    shift
    for ((k = 0; k < t * 10; k++)); do
        local alive=0
        for pid in "$@"; do [[ -d /proc/$pid ]] && alive=1; done
        ((alive)) || return 0
        sleep 0.1
    done
    return 1
}

# ------------------------------------------------------------------------------
net_up() { # netns + veth of host i
    local i=$1 ns veth
    ns=$(ns_of "$i")
    veth=$(veth_of "$i")
    if ! [[ -e /run/netns/$ns ]]; then
        ip netns add "$ns"
    fi
    ip -n "$ns" link set lo up
    if ! ip link show "$veth" >/dev/null 2>&1; then
        ip -n "$ns" link del eth0 >/dev/null 2>&1 || true
        ip link add "$veth" type veth peer name eth0 netns "$ns"
        ip addr add "$NET.$i.1/24" dev "$veth"
        ip -n "$ns" addr add "$NET.$i.2/24" dev eth0
    fi
    ip link set "$veth" up
    ip -n "$ns" link set eth0 up
}

host_up() { # create netns + veth and start dockerd (does not wait); host_up I [CONFIG_JSON [TCP]]
    net_up "$1"
    dockerd_up "$@"
}

# the daemon.json host i's dockerd reads: a local host's in its run dir; an SSH host's beside its
# data root, a path that is the same inside the host and on this machine
conf_of() { if is_ssh_host "$1"; then echo "$DATA_ROOT/host$1/daemon.json"; else echo "$(run_dir "$1")/daemon.json"; fi; }
# host i's TCP listener, as its dockerd was started: tls, plain or nothing (kept in its run dir)
tcp_of() { cat "$(run_dir "$1")/tcp" 2>/dev/null || true; }
tls_name_of() { echo "host$1.$PREFIX.test"; }

# host i's dockerd, for both kinds of host (does not wait); dockerd_up I [CONFIG_JSON [TCP]].
# CONFIG_JSON becomes its daemon.json, TCP (tls, plain) its TCP listener; both are kept for
# later starts (restart-engine, config). A local host's socket, pidfile and exec root are in its
# run dir; an SSH host's dockerd runs in the host's mount namespace with Docker's defaults there
# (/var/run is the host's own), its data root under the host's.
dockerd_up() {
    local i=$1 config=${2:-} tcp=${3:-} ns dir run data exec conf
    local -a enter listen
    ns=$(ns_of "$i")
    dir=$(run_dir "$i")
    enter=(--net="/run/netns/$ns")
    if is_ssh_host "$i"; then
        enter+=(--mount="$(mntns_of "$i")")
        run=/var/run data=$DATA_ROOT/host$i/docker exec=/var/run/docker
    else
        run=$dir data=$DATA_ROOT/host$i exec=$dir/exec
    fi
    mkdir -p "$dir" "$data"
    dockerd_pid "$i" >/dev/null && return 0
    rm -f "$(host_run "$i")/docker.pid" "$(host_run "$i")/docker.sock"
    conf=$(conf_of "$i")
    if [[ -n $config ]]; then
        printf '%s\n' "$config" >"$conf"
    elif ! [[ -s $conf ]]; then
        echo '{}' >"$conf"
    fi
    [[ -n $tcp ]] && echo "$tcp" >"$dir/tcp"
    listen=(--host "unix://$run/docker.sock")
    case $(tcp_of "$i") in
        tls)
            tls_server_cert "$i"
            listen+=(--host "tcp://$(addr_of "$i"):2376" --tlsverify --tlscacert "$run/tls/ca.pem"
                --tlscert "$run/tls/server.pem" --tlskey "$run/tls/server-key.pem") ;;
        # what CIS 2.7 fails: root for whoever reaches it. Said explicitly (--tls=false), or
        # dockerd 20.10 delays its start by 15 s to show its deprecation warning
        plain) listen+=(--host "tcp://$(addr_of "$i"):2375" --tls=false) ;;
    esac
    printf '\n=== %s fleet.sh starting dockerd for host%s\n' "$(date -Is)" "$i" >>"$dir/dockerd.log"
    setsid nsenter "${enter[@]}" \
        dockerd \
        --config-file "$conf" \
        "${listen[@]}" \
        --pidfile "$run/docker.pid" \
        --exec-root "$exec" \
        --data-root "$data" \
        --containerd-namespace "$ns" \
        --containerd-plugins-namespace "$ns-plugins" \
        --cgroup-parent "/$ns" \
        --bip "172.31.$i.1/24" \
        --default-address-pool "base=10.232.0.0/16,size=24" \
        </dev/null >>"$dir/dockerd.log" 2>&1 9<&- &
    LAUNCHED[$i]=$!
}

# ------------------------------------------------------------------------------
# Mutual TLS: a CA per fleet, a client certificate (DOCKER_CERT_PATH layout: ca.pem, cert.pem,
# key.pem in $TLS_DIR/client) and a server certificate per TLS host, naming its address and
# tls_name_of, in the host's own run folder (where its dockerd reads it: an SSH host's /run)
pki_sign() { # pki_sign OUT SUBJECT EXTENSIONS: OUT.pem and OUT-key.pem, signed by the fleet's CA
    local out=$1
    printf '%b\n' "$3" >"$out.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$out-key.pem" \
        -subj "$2" -out "$out.csr" 2>/dev/null
    openssl x509 -req -in "$out.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca-key.pem" -set_serial "0x$(openssl rand -hex 8)" \
        -days 30 -sha256 -extfile "$out.ext" -out "$out.pem" 2>/dev/null
    rm -f "$out.csr" "$out.ext"
}

tls_fleet_pki() { # the fleet's CA and client certificate (once)
    openssl verify -CAfile "$TLS_DIR/ca.pem" "$TLS_DIR/client/cert.pem" >/dev/null 2>&1 && return 0
    rm -rf "$TLS_DIR"
    install -d -m 700 "$TLS_DIR"
    mkdir -p "$TLS_DIR/client"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TLS_DIR/ca-key.pem" \
        -subj "/CN=$PREFIX fleet CA" -days 30 -sha256 -out "$TLS_DIR/ca.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    pki_sign "$TLS_DIR/client/cert" "/CN=$PREFIX fleet client" "extendedKeyUsage=clientAuth"
    mv "$TLS_DIR/client/cert-key.pem" "$TLS_DIR/client/key.pem"
    cp "$TLS_DIR/ca.pem" "$TLS_DIR/client/ca.pem"
}

tls_server_cert() { # host i's server certificate (again when the fleet's CA is new)
    local i=$1 d
    d=$(host_run "$i")/tls
    tls_fleet_pki
    openssl verify -CAfile "$TLS_DIR/ca.pem" "$d/server.pem" >/dev/null 2>&1 && return 0
    install -d -m 700 "$d"
    pki_sign "$d/server" "/CN=$(tls_name_of "$i")" \
        "subjectAltName=DNS:$(tls_name_of "$i"),IP:$(addr_of "$i")\nextendedKeyUsage=serverAuth"
    cp "$TLS_DIR/ca.pem" "$d/ca.pem"
}

# the docker CLI against host i's TCP listener with mutual TLS, as a remote client reaches it
tls_docker() {
    local i=$1
    shift
    DOCKER_CERT_PATH=$TLS_DIR/client docker --tlsverify -H "tcp://$(addr_of "$i"):2376" "$@"
}

host_wait() {
    local i=$1 launched=${LAUNCHED[$1]:-}
    for ((k = 0; k < WAIT * 5; k++)); do
        answers "$i" && return 0
        if [[ -n $launched ]] && ! [[ -d /proc/$launched ]]; then
            say "host$i: dockerd exited; last lines of $(run_dir "$i")/dockerd.log:"
            tail -n 30 "$(run_dir "$i")/dockerd.log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
    say "host$i: dockerd did not answer within ${WAIT}s; last lines of $(run_dir "$i")/dockerd.log:"
    tail -n 30 "$(run_dir "$i")/dockerd.log" >&2 || true
    return 1
}

# ------------------------------------------------------------------------------
# SSH mode: a mount namespace per host, with its own /run, dockerd and sshd

mntns_of() { echo "$MNTNS_DIR/host$1"; }
etc_of() { echo "$DATA_ROOT/host$1/etc"; }
addr_of() { echo "$NET.$1.2"; }
is_mounted() { awk -v p="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == p) f = 1 } END { exit !f }' /proc/self/mountinfo; }
# run a command inside host i (its netns and mount namespace)
in_host() {
    local i=$1
    shift
    nsenter --net="/run/netns/$(ns_of "$i")" --mount="$(mntns_of "$i")" "$@"
}

sshd_pid() { pid_of "$(host_run "$1")/sshd.pid" sshd; }

# every process in host i's mount namespace (dockerd, containerd, shims, sshd and its sessions)
pids_in_host() {
    local f ns p
    f=$(mntns_of "$1")
    is_mounted "$f" || return 0
    ns="mnt:[$(stat -L -c %i "$f")]"
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/ns/mnt" 2>/dev/null) == "$ns" ]] && echo "${p#/proc/}"
    done
    return 0
}

# the fleet's client key and the folder of authorized keys (one file per user)
ssh_fleet_keys() {
    mkdir -p "$SSH_DIR/authorized_keys"
    chmod 755 "$SSH_DIR" "$SSH_DIR/authorized_keys"
    if ! [[ -s $SSH_DIR/id_ed25519 ]]; then
        rm -f "$SSH_DIR/id_ed25519" "$SSH_DIR/id_ed25519.pub"
        ssh-keygen -q -t ed25519 -N '' -C "$PREFIX fleet client" -f "$SSH_DIR/id_ed25519"
    fi
    install -m 644 "$SSH_DIR/id_ed25519.pub" "$SSH_DIR/authorized_keys/root"
}

# the mount namespace of host i, /run bound to the host's own folder (once)
mntns_up() {
    local i=$1 f run
    f=$(mntns_of "$i")
    run=$(run_dir "$i")/run
    mkdir -p "$MNTNS_DIR" "$run"
    # a namespace file can only be bound on a private mount (no propagation loops)
    if ! is_mounted "$MNTNS_DIR"; then
        mount --bind "$MNTNS_DIR" "$MNTNS_DIR"
        mount --make-private "$MNTNS_DIR"
    fi
    is_mounted "$f" && return 0
    touch "$f"
    nsenter --net="/run/netns/$(ns_of "$i")" \
        unshare --mount="$f" --propagation private mount --bind "$run" /run
    # what a booted host has in /run: sshd's privilege separation folder, /run/lock
    install -d -m 755 "$run/sshd" "$run/lock"
}

# kill everything in host i's mount namespace and release it
mntns_down() {
    local i=$1 f
    local -a pids
    f=$(mntns_of "$i")
    mapfile -t pids < <(pids_in_host "$i")
    if ((${#pids[@]})); then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        wait_gone 10 "${pids[@]}" || kill -KILL "${pids[@]}" 2>/dev/null || true
        wait_gone 5 "${pids[@]}" || say "host$i: processes ${pids[*]} still there after SIGKILL"
    fi
    if is_mounted "$f"; then umount "$f" 2>/dev/null || umount -l "$f" || say "host$i: could not unmount $f"; fi
    rm -f "$f"
}

sshd_up() { # host key, sshd_config, sshd on the host's address
    local i=$1 etc dir
    etc=$(etc_of "$i")
    dir=$(run_dir "$i")
    mkdir -p "$etc"
    if ! [[ -s $etc/ssh_host_ed25519_key ]]; then
        rm -f "$etc/ssh_host_ed25519_key" "$etc/ssh_host_ed25519_key.pub"
        ssh-keygen -q -t ed25519 -N '' -C "host$i" -f "$etc/ssh_host_ed25519_key"
    fi
    # keys only; no PAM (pam_loginuid fails in a namespace; a locked account ('!' in shadow) is refused)
    cat >"$etc/sshd_config" <<EOC
# Written by tests/fleet/fleet.sh for host$i of fleet $PREFIX
ListenAddress $(addr_of "$i"):22
HostKey $etc/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys/%u
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
EOC
    sshd_pid "$i" >/dev/null && return 0
    rm -f "$(host_run "$i")/sshd.pid"
    printf '\n=== %s fleet.sh starting sshd for host%s\n' "$(date -Is)" "$i" >>"$dir/sshd.log"
    setsid nsenter --net="/run/netns/$(ns_of "$i")" --mount="$(mntns_of "$i")" \
        /usr/sbin/sshd -D -e -f "$etc/sshd_config" </dev/null >>"$dir/sshd.log" 2>&1 9<&- &
}

ssh_host_up() { # netns, mount namespace, sshd, dockerd (does not wait for dockerd); ssh_host_up I [CONFIG_JSON [TCP]]
    net_up "$1"
    mntns_up "$1"
    sshd_up "$1"
    dockerd_up "$@"
}

ssh_client() { # ssh_client I COMMAND...: as root to host i, as Ansible does
    local i=$1
    shift
    ssh -q -i "$SSH_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5 \
        -o UserKnownHostsFile="$SSH_DIR/known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes "root@$(addr_of "$i")" "$@"
}

write_known_hosts() { # the host keys of hosts 1..N, by address
    local n=$1 i tmp="$SSH_DIR/known_hosts.tmp.$$"
    for ((i = 1; i <= n; i++)); do
        echo "$(addr_of "$i") $(cut -d' ' -f1,2 "$(etc_of "$i")/ssh_host_ed25519_key.pub")"
    done >"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$SSH_DIR/known_hosts"
}

ssh_host_wait() { # dockerd answers, sshd lets root in, the host's Python has the Docker SDK
    local i=$1 sdk
    host_wait "$i" || return 1
    for ((k = 0; k < WAIT * 5; k++)); do
        sdk=$(ssh_client "$i" /usr/bin/python3 -c "'import docker; print(docker.__version__)'" 2>/dev/null) && break
        if ! sshd_pid "$i" >/dev/null && ((k > 10)); then break; fi
        sleep 0.2
    done
    if [[ -z $sdk ]]; then
        if ssh_client "$i" true 2>/dev/null; then
            say "host$i: /usr/bin/python3 there has no Docker SDK (on Debian: apt-get install python3-docker; scripts/ensure-test-packages)"
        else
            say "host$i: no SSH login as root at $(addr_of "$i"); last lines of $(run_dir "$i")/sshd.log:"
            tail -n 20 "$(run_dir "$i")/sshd.log" >&2 || true
        fi
        return 1
    fi
}

tls_inventory_entry() { # the inventory variables of a TLS host: reached from the controller over TCP
    local i=$1
    echo "      ansible_connection: local"
    echo "      ansible_python_interpreter: \"{{ ansible_playbook_python }}\""
    echo "      containment_docker_host: tcp://$(addr_of "$i"):2376"
    echo "      containment_docker_validate_certs: true"
    echo "      containment_docker_ca_path: $TLS_DIR/client/ca.pem"
    echo "      containment_docker_client_cert: $TLS_DIR/client/cert.pem"
    echo "      containment_docker_client_key: $TLS_DIR/client/key.pem"
    echo "      containment_docker_tls_hostname: $(tls_name_of "$i")"
    echo "      cdfleet_cert_path: $TLS_DIR/client"
}

write_ssh_inventory() { # write_ssh_inventory N
    local n=$1 i tmp
    mkdir -p "$(dirname "$INVENTORY")"
    tmp="$INVENTORY.tmp.$$"
    {
        echo "# Written by tests/fleet/fleet.sh up $n --ssh: simulated Docker hosts on this machine."
        echo "# Each host is a network and a mount namespace with its own /run, dockerd and sshd;"
        echo "# Ansible reaches it over SSH and the module uses the host's /usr/bin/python3 (Debian's"
        echo "# python3-docker) and /var/run/docker.sock. cdfleet_docker_host: the same engine as"
        echo "# this machine reaches it (checks from outside). A TLS host (CDFLEET_TCP_<i>=tls) is reached"
        echo "# from this machine instead, over TCP with mutual TLS."
        echo "---"
        echo "fleet:"
        echo "  hosts:"
        for ((i = 1; i <= n; i++)); do
            echo "    host$i:"
            if [[ $(tcp_of "$i") == tls ]]; then
                tls_inventory_entry "$i"
            else
                echo "      ansible_host: $(addr_of "$i")"
                echo "      ansible_user: root"
                echo "      ansible_ssh_private_key_file: $SSH_DIR/id_ed25519"
                echo "      ansible_ssh_common_args: >-"
                echo "        -o UserKnownHostsFile=$SSH_DIR/known_hosts -o GlobalKnownHostsFile=/dev/null"
                echo "        -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
                echo "      ansible_python_interpreter: /usr/bin/python3"
                echo "      ansible_pipelining: true"
            fi
            echo "      cdfleet_daemon_config: $(conf_of "$i")"
            echo "      cdfleet_netns: $(ns_of "$i")"
            echo "      cdfleet_address: $(addr_of "$i")"
            echo "      cdfleet_docker_host: $(sock_of "$i")"
            echo "      cdfleet_authorized_keys: $SSH_DIR/authorized_keys"
        done
    } >"$tmp"
    mv "$tmp" "$INVENTORY"
}

host_has_images() { # the host has every tag, with the main engine's image ID
    local i=$1 tag want have
    shift
    for tag in "$@"; do
        want=$(docker image inspect -f '{{.Id}}' "$tag")
        have=$(hdocker "$i" image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
        [[ $want == "$have" ]] || return 1
    done
}

host_down() {
    local i=$1 ns veth dir pid pids m
    ns=$(ns_of "$i")
    veth=$(veth_of "$i")
    dir=$(run_dir "$i")

    if pid=$(dockerd_pid "$i"); then
        if answers "$i"; then
            # remove containers first: fast, and their mounts and shims go with them
            local ids
            ids=$(hdocker "$i" ps -aq 2>/dev/null || true)
            if [[ -n $ids ]]; then
                # shellcheck disable=SC2086
                hdocker "$i" rm -f -v $ids >/dev/null 2>&1 || true
            fi
        fi
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone 30 "$pid"; then
            say "host$i: dockerd $pid did not stop in 30s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone 5 "$pid" || true
        fi
    fi
    # an SSH host: everything in its mount namespace (sshd and its sessions, containerd, shims)
    if [[ -e $(mntns_of "$i") ]]; then mntns_down "$i"; fi
    # the daemon's own containerd and any shim left (they name our paths)
    mapfile -t pids < <(pids_mentioning "$dir/"; pids_mentioning "$DATA_ROOT/host$i/")
    if ((${#pids[@]})); then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        wait_gone 10 "${pids[@]}" || kill -KILL "${pids[@]}" 2>/dev/null || true
        wait_gone 5 "${pids[@]}" || true
    fi
    # overlay mounts, container netns bind mounts, shm mounts ...
    for root in "$DATA_ROOT/host$i" "$dir"; do
        while IFS= read -r m; do
            [[ -n $m ]] || continue
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "host$i: could not unmount $m"
        done < <(mounts_under "$root")
    done
    ip link del "$veth" >/dev/null 2>&1 || true
    if [[ -e /run/netns/$ns ]]; then
        ip netns delete "$ns" 2>/dev/null || say "host$i: could not delete netns $ns"
    fi
    # the cgroups the daemon made (empty once its containers are gone)
    local cg
    for cg in /sys/fs/cgroup/*/"$ns"; do
        [[ -d $cg ]] || continue
        find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [[ -d $cg ]] && say "host$i: could not remove cgroup $cg"
    done
    rm -rf "$dir" "$DATA_ROOT/host$i"
}

down_hosts() { # take hosts down in parallel (they share nothing)
    local i p rc=0
    local -a jobs=()
    for i in "$@"; do
        host_down "$i" &
        jobs+=($!)
    done
    for p in "${jobs[@]}"; do wait "$p" || rc=1; done
    return $rc
}

write_inventory() { # write_inventory N
    local n=$1 i tmp
    mkdir -p "$(dirname "$INVENTORY")"
    tmp="$INVENTORY.tmp.$$"
    {
        echo "# Written by tests/fleet/fleet.sh up $n: simulated Docker hosts on this machine."
        echo "# Each host is a network namespace with its own dockerd; Ansible reaches it"
        echo "# through its Docker socket, from the controller (ansible_connection: local)."
        echo "---"
        echo "fleet:"
        echo "  hosts:"
        for ((i = 1; i <= n; i++)); do
            echo "    host$i:"
            if [[ $(tcp_of "$i") == tls ]]; then
                tls_inventory_entry "$i"
            else
                echo "      ansible_connection: local"
                echo "      ansible_python_interpreter: \"{{ ansible_playbook_python }}\""
                echo "      containment_docker_host: $(sock_of "$i")"
            fi
            echo "      cdfleet_daemon_config: $(conf_of "$i")"
            echo "      cdfleet_netns: $(ns_of "$i")"
            echo "      cdfleet_address: $NET.$i.2"
            echo "      cdfleet_docker_host: $(sock_of "$i")"
        done
    } >"$tmp"
    mv "$tmp" "$INVENTORY"
}

# ------------------------------------------------------------------------------
start_host() { if [[ $MODE == ssh ]]; then ssh_host_up "$@"; else host_up "$@"; fi; }
wait_host() {
    local i=$1
    if [[ $MODE == ssh ]]; then ssh_host_wait "$i" || return 1; else host_wait "$i" || return 1; fi
    [[ $(tcp_of "$i") == tls ]] || return 0
    # the TCP listener answers with the fleet's client certificate
    for ((k = 0; k < WAIT * 5; k++)); do
        tls_docker "$i" version --format '{{.Server.Version}}' >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    say "host$i: tcp://$(addr_of "$i"):2376 does not answer with mutual TLS:"
    tls_docker "$i" version >&2 || true
    return 1
}

cmd_up() {
    local n=${1:-}
    case ${2:-} in
        '') ;;
        --ssh) MODE=ssh ;;
        *) die "usage: fleet.sh up N [--ssh]" ;;
    esac
    if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 200)); then die "usage: fleet.sh up N [--ssh]   (1 <= N <= 200)"; fi
    [[ $MODE == local || $MODE == ssh ]] || die "CDFLEET_MODE must be local or ssh"
    local start=$SECONDS i var
    for ((i = 1; i <= n; i++)); do
        var=CDFLEET_TCP_$i
        case ${!var:-} in
            '' | plain) ;;
            tls) command -v openssl >/dev/null || die "openssl not found (on Debian: apt-get install openssl)" ;;
            *) die "$var must be tls or plain" ;;
        esac
    done
    if [[ $MODE == ssh ]]; then
        for t in /usr/sbin/sshd ssh ssh-keygen unshare; do
            command -v "$t" >/dev/null || die "$t not found (on Debian: scripts/ensure-test-packages installs openssh-server)"
        done
    fi

    # the main engine and the test images on it (no-ops when already there)
    # (9<&-: a daemon started there must not inherit our lock)
    "$top/scripts/ensure-docker" 9<&-
    "$top/scripts/build-images" >/dev/null 9<&-
    mapfile -t tags < <("$top/scripts/build-images" --list)

    # converge: hosts beyond N, and hosts of the other mode, go away
    local -a extra=()
    for i in $(existing_hosts); do
        if ((i > n)) || { is_ssh_host "$i" && [[ $MODE == local ]]; } ||
            { ! is_ssh_host "$i" && [[ $MODE == ssh ]]; }; then
            extra+=("$i")
        fi
    done
    if ((${#extra[@]})); then
        say "removing ${extra[*]/#/host}"
        down_hosts "${extra[@]}"
    fi

    mkdir -p "$RUN_ROOT" "$DATA_ROOT"
    local json tcp
    [[ $MODE == ssh ]] && ssh_fleet_keys
    for ((i = 1; i <= n; i++)); do
        json=CDFLEET_DAEMON_JSON_$i tcp=CDFLEET_TCP_$i
        start_host "$i" "${!json:-}" "${!tcp:-}"
    done
    [[ $MODE == ssh ]] && write_known_hosts "$n"
    for ((i = 1; i <= n; i++)); do wait_host "$i"; done

    # copy the test images from the main engine to the hosts that lack them
    local -a need=()
    for ((i = 1; i <= n; i++)); do
        host_has_images "$i" "${tags[@]}" || need+=("$i")
    done
    if ((${#need[@]})); then
        local tmpd p failed=0
        local -a loaders=()
        tmpd=$(mktemp -d)
        # shellcheck disable=SC2064
        trap "rm -rf '$tmpd'" EXIT
        docker save -o "$tmpd/images.tar" "${tags[@]}"
        for i in "${need[@]}"; do
            hdocker "$i" load -q -i "$tmpd/images.tar" >/dev/null &
            loaders+=($!)
        done
        for p in "${loaders[@]}"; do wait "$p" || failed=1; done
        ((failed == 0)) || die "loading the test images into a fleet host failed"
    fi

    if [[ $MODE == ssh ]]; then write_ssh_inventory "$n"; else write_inventory "$n"; fi
    say "$n $MODE host(s) up in $((SECONDS - start))s; inventory: $INVENTORY"
}

cmd_down() {
    local any=0
    local -a hosts
    mapfile -t hosts < <(existing_hosts)
    if ((${#hosts[@]})); then
        any=1
        down_hosts "${hosts[@]}"
    fi
    # the SSH hosts' namespace folder and the fleet's keys
    if is_mounted "$MNTNS_DIR"; then umount "$MNTNS_DIR" || say "could not unmount $MNTNS_DIR"; fi
    [[ -d $MNTNS_DIR ]] && { rmdir "$MNTNS_DIR" || say "could not remove $MNTNS_DIR"; }
    rm -rf "$SSH_DIR" "$TLS_DIR"
    rmdir "$RUN_ROOT" "$DATA_ROOT" 2>/dev/null || true
    rm -f "$INVENTORY"
    rmdir "$(dirname "$INVENTORY")" 2>/dev/null || true
    if ((any)); then say "down"; else say "no fleet hosts"; fi
}

cmd_status() {
    local i ns pid ver running tcp
    local -a hosts
    mapfile -t hosts < <(existing_hosts)
    if ((${#hosts[@]} == 0)); then
        echo "no fleet hosts"
        return 0
    fi
    local bad=0
    for i in "${hosts[@]}"; do
        ns=$(ns_of "$i")
        pid=$(dockerd_pid "$i" || echo -)
        if ver=$(hdocker "$i" version --format '{{.Server.Version}}' 2>/dev/null); then
            running=$(hdocker "$i" ps -q | wc -l)
            tcp=
            case $(tcp_of "$i") in
                tls) tcp="  tcp://$NET.$i.2:2376 (mutual TLS: $(tls_docker "$i" version --format ok 2>/dev/null || echo DOWN))" ;;
                plain) tcp="  tcp://$NET.$i.2:2375 (plaintext)" ;;
            esac
            if is_ssh_host "$i"; then
                echo "host$i  netns=$ns  address=$NET.$i.2  dockerd=$pid  engine=$ver  running=$running  ssh=root@$NET.$i.2 sshd=$(sshd_pid "$i" || echo DOWN)$tcp"
                sshd_pid "$i" >/dev/null || bad=1
            else
                echo "host$i  netns=$ns  address=$NET.$i.2  dockerd=$pid  engine=$ver  running=$running  $(sock_of "$i")$tcp"
            fi
            [[ $tcp != *DOWN* ]] || bad=1
        else
            echo "host$i  netns=$([[ -e /run/netns/$ns ]] && echo "$ns" || echo missing)  dockerd=$pid  engine=DOWN"
            bad=1
        fi
    done
    return $bad
}

# pids of host i's own containerd (not the shims: they outlive a killed dockerd)
containerd_pids() {
    local pid
    for pid in $(if is_ssh_host "$1"; then pids_in_host "$1"; else pids_mentioning "$(run_dir "$1")/"; fi); do
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == containerd ]] && echo "$pid"
    done
    return 0
}

# restart-engine I [--kill]: what a host sees when its Docker engine is restarted
# (`systemctl restart docker`) or dies (`kill -9`): the daemon goes away with its
# containerd, comes back on the same data root, and restores its containers by their
# restart policies. A killed process's orphans are reaped late here, so wait for every
# pid to vanish before starting the daemon again (it refuses a live pidfile).
cmd_restart_engine() {
    local i=${1:-} mode=${2:-} sig=TERM pid
    local -a pids
    [[ $i =~ ^[0-9]+$ ]] || die "usage: fleet.sh restart-engine I [--kill]"
    case $mode in
        '') ;;
        --kill) sig=KILL ;;
        *) die "usage: fleet.sh restart-engine I [--kill]" ;;
    esac
    [[ -e /run/netns/$(ns_of "$i") ]] || die "host$i is not up"
    pid=$(dockerd_pid "$i") || die "host$i: dockerd does not run"
    mapfile -t pids < <(echo "$pid"; containerd_pids "$i")
    kill "-$sig" "$pid"
    # a graceful stop stops every container first (up to its stop timeout)
    wait_gone "$WAIT" "${pids[@]}" || die "host$i: dockerd or containerd (${pids[*]}) still there ${WAIT}s after SIG$sig"
    dockerd_up "$i"
    host_wait "$i"
    say "host$i: engine restarted (SIG$sig)"
}

# config I FILE: host I's dockerd reads FILE as its daemon.json from now on. The fleet's
# own flags (--host, --data-root, --bip, ...) must not be repeated in it: dockerd refuses
# an option given both ways.
cmd_config() {
    local i=${1:-} file=${2:-}
    [[ $i =~ ^[0-9]+$ && -f $file ]] || die "usage: fleet.sh config I FILE"
    [[ -d $(run_dir "$i") ]] || die "host$i is not up"
    cp "$file" "$(conf_of "$i")"
    cmd_restart_engine "$i"
}

# ------------------------------------------------------------------------------
[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, dockerd)"
for t in ip nsenter dockerd docker flock; do
    command -v "$t" >/dev/null || die "$t not found (on Debian: scripts/ensure-docker installs docker.io and iproute2)"
done

# one fleet.sh at a time on this machine, whichever checkout it comes from
# (the namespaces and /run/$PREFIX are machine-wide). The lock file stays.
mkdir -p /run/lock
exec 9>>"/run/lock/$PREFIX.lock"
flock 9

case ${1:-} in
    up) cmd_up "${2:-}" "${3:-}" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    restart-engine) cmd_restart_engine "${2:-}" "${3:-}" ;;
    config) cmd_config "${2:-}" "${3:-}" ;;
    *)
        sed -n '5,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
