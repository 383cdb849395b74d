#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: secure_container
short_description: Run one Docker container inside the containment policy, or refuse to
version_added: 0.1.0
description:
  - Creates, converges, stops or removes one container through the Docker SDK for Python.
  - "The policy's floor cannot be switched off: a numeric non-root O(user), C(no-new-privileges),
    memory and CPU limits, a read-only root filesystem with sized C(noexec,nosuid,nodev) tmpfs mounts,
    no privileged mode and no Docker socket mount. There is no option that turns any of them off."
  - "The baseline (all capabilities dropped, a pids limit, no swap, no host namespaces, no unconfined
    security profiles, no sensitive or writable bind mounts, no devices, ports bound to an address,
    a bounded restart policy) is on by default and relaxed only by naming the control in O(exceptions)
    with a written reason, which is recorded on the container as a label."
  - "Every control is checked before anything changes. A refused spec fails the task with one line per
    problem naming the service, the field, the rule and the fix, and leaves every container as it was. All
    problems come at once, unknown keys (with the closest option as the fix, for example C(memroy) gets
    C(did you mean 'memory'?)), wrong types and the policy's breaches alike."
  - "Idempotent: the container is compared with the spec through its spec-hash label, its normalised
    fields and an audit of the live container, so a change made behind the collection's back
    (for example C(docker update --memory 1g), or an extra capability) is detected and undone.
    An image tag that now points to another image ID recreates the container."
  - "Replacing is safe: the new container is created first as C(NAME__next) beside the old one; then the old
    one is stopped and kept aside as C(NAME__previous), and the new one must keep running (and become healthy
    if it has a healthcheck) for O(grace_period) seconds before it is renamed to C(NAME) and the old one
    removed. Otherwise it is removed, the old one is put back and started again, and the task fails with the
    new container's exit code and last log lines."
  - "A run may be killed at any step (a cancelled CI job): the names record how far it got, C(NAME) being
    always the container last proven good. The next run resumes from the engine's state alone: an unproven
    C(NAME__next) is removed, a C(NAME__previous) is put back unless its successor was proven, and each such
    step is reported as a change in RV(actions)."
  - Unless O(networks) or O(network_mode) is given, the container gets a user-defined bridge network of
    its own named C(containment_<name>), created when missing.
author:
  - containment.docker maintainers (@containment)
seealso:
  - module: containment.docker.secure_stack
    description: All services of one host in one call, with pruning.
  - module: containment.docker.secure_container_audit
    description: Audit the containers of an engine against the same controls.
  - name: The secure_services role
    link: https://github.com/containment/docker/blob/main/roles/secure_services/README.md
    description: The role P(containment.docker.secure_services#role) converges the services of every inventory host from group_vars and host_vars.
  - name: The containment policy
    link: https://github.com/containment/docker/blob/main/docs/policy.md
    description: Every control, its tier (floor, baseline, advisory), what it checks and how to fix a breach.
  - name: Safe replace and the host lock
    link: https://github.com/containment/docker/blob/main/docs/reliability.md
    description: What happens when a run is interrupted or races another run.
extends_documentation_fragment:
  - containment.docker.docker
  - containment.docker.docker.converge
attributes:
  check_mode:
    description: Plans only; reports what would be created, recreated (and why), started, stopped or removed.
    support: full
  diff_mode:
    description:
      - Shows before and after of the fields that differ, in the units and shapes the options are written in (C(64m),
        C(30s), the healthcheck with its C(test), O(tmpfs) items); a new container shows every field it gets, its image,
        env and labels among them.
      - Secret values show as C((secret)) or C((secret changed)). Image ids and the collection's bookkeeping labels (the
        spec hash) are left out; RV(reasons) names the image by its tag and short id.
    support: full
  idempotent:
    description: A second run with the same options reports no change.
    support: full
options:
  name:
    description: Name of the container, and of the service in labels and messages.
    type: str
    required: true
  image:
    description: Image reference, for example C(registry.example.com/app:1.4.2). Required unless O(state=absent).
    type: str
  command:
    description: Command to run, as a list or a string split like a shell would. The image's C(CMD) when not set.
    type: raw
  entrypoint:
    description: Entrypoint, as a list or a string. The image's C(ENTRYPOINT) when not set.
    type: raw
  env:
    description:
      - Environment variables. Values are turned into strings and shown in diffs and reasons, except for names that
        look like secrets (C(*PASSWORD*), C(*PASSWD*), C(*TOKEN*), C(*SECRET*), C(*_KEY)), whose values are hidden
        as well; the advisory finding C(no_plain_secret_env) then suggests O(secret_env) or O(secrets).
      - "A null value (C(FOO: null)), which Compose reads as \"take it from the environment\", is refused: the module's
        environment is not the service's. Write the value, for example with C(lookup('ansible.builtin.env', 'FOO'))."
    type: dict
    default: {}
  secret_env:
    description:
      - "Environment variables whose values are secret, for example from Ansible Vault. The values never appear in
        the task's result, diff, reasons, messages (refusals, rollbacks, engine errors) or the module arguments
        shown at C(-vvv); the diff and reasons say C(DB_PASSWORD: (secret changed))."
      - The option is C(no_log), so Ansible masks its values everywhere it prints.
      - A changed value recreates the container. It is compared with the live container's environment; no
        label or hash holds it (the label C(containment.secret-env) lists the names only).
      - "Docker keeps environment variables in the container's C(Config.Env): anyone who may run
        C(docker inspect) on the host sees them. For anything sensitive prefer O(secrets)."
      - A name may not be in both O(env) and O(secret_env).
    type: dict
    default: {}
  env_file:
    description:
      - "Env files on the managed host (the host the module runs on), read by the module before anything changes,
        as C(docker run --env-file) reads them: C(NAME=VALUE) lines taken as they are (no quotes removed),
        blank lines and lines starting with C(#) skipped, a C(NAME) alone takes the value of the module's
        environment or is skipped when unset."
      - Their values are treated as secret, as O(secret_env). O(env) and O(secret_env) win over a file, a later
        file over an earlier one. A changed file recreates the container, an unchanged one leaves it alone.
      - A missing or unreadable file, or a line without a valid name, refuses the task naming the service, the
        file and the line number (never the line's text).
    type: list
    elements: str
    default: []
  secrets:
    description:
      - Files on the managed host mounted read-only into the container, at C(/run/secrets/<name>) by default
        (Compose's convention). Read-only binds of one file each, they pass C(no_sensitive_mounts) like any such
        bind; keep the files outside system paths and C(/home), for example in C(/srv/secrets/<service>/).
      - "The file must be readable by the container's O(user) (it has no capabilities and no extra groups): write
        it with M(ansible.builtin.copy) with C(owner) and C(group) set to the service's uid and gid, C(mode: '0400')
        and C(no_log: true). A file the user cannot read is refused before anything changes."
      - The module reads each file (run it as a user that may, usually with C(become)) to detect a change; a
        changed file recreates the container. The label C(containment.secret.<name>) keeps a salted scrypt
        digest of the content (costly to guess, never the value); the content is never printed.
      - Log lines and healthcheck output of a failed new container are redacted of every known secret value
        before they are shown, in case the application prints its secrets.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the secret, the file name under C(/run/secrets).
        type: str
        required: true
      source:
        description: Absolute path of the file on the managed host.
        type: str
        required: true
      target:
        description: Absolute path in the container. Default C(/run/secrets/<name>).
        type: str
  user:
    description:
      - Numeric C(UID:GID) to run as, both non-zero, for example C(1500:1500).
      - Names are refused (a name can map to uid 0 inside the image), and so is leaving it to the image's C(USER).
      - Required unless O(state=absent).
    type: str
  memory:
    description: Memory limit with a unit C(b), C(k), C(m) or C(g), for example C(128m) or C(1g). At least C(6m). Required unless O(state=absent).
    type: str
  memory_swap:
    description:
      - Memory plus swap limit. Defaults to O(memory), so the container cannot swap.
      - A different value breaks the C(no_swap) control and needs an exception with a reason.
    type: str
  cpus:
    description: CPU limit in CPUs, for example C(0.5). Above 0 and at most the engine host's CPU count. Required unless O(state=absent).
    type: float
  pids_limit:
    description: Most processes and threads the container may run. C(0) or less breaks the C(pids_limit) control.
    type: int
    default: 256
  tmpfs:
    description:
      - The only writable places of the read-only root filesystem, each mounted C(rw,nosuid,nodev,noexec).
      - The directory in the image should have mode 1777 (Docker copies the image directory's mode onto the mount).
    type: list
    elements: dict
    default: [{path: /tmp, size: 64m, mode: '1777'}]
    suboptions:
      path:
        description: Absolute path in the container.
        type: str
        required: true
      size:
        description: Size with a unit, for example C(64m). Required by the policy.
        type: str
      mode:
        description: Octal mode of the mount.
        type: str
        default: '1777'
      exec_reason:
        description: Mount without C(noexec). Only with a written reason, recorded as a label.
        type: str
  ports:
    description:
      - Published ports as C(HOST_IP:HOST_PORT:CONTAINER_PORT[/PROTO]), for example C(127.0.0.1:8080:8080), or ranges
        of the same length such as C(127.0.0.1:8000-8010:8000-8010). PROTO is C(tcp), C(udp) or C(sctp), in any case.
      - "IPv6 addresses may go in brackets, C([::1]:8080:8080), or not, C(::1:8080:8080), as in the Compose spec.
        Without a host IP, or on C(0.0.0.0) or C(::), the port breaks the C(ports_bound) control."
    type: list
    elements: str
    default: []
  volumes:
    description:
      - Mounts as C(SOURCE:TARGET[:OPTIONS]). A SOURCE starting with C(/) is a bind mount, read-only unless
        C(:rw) is given; anything else is a named volume, read-write by default.
      - "OPTIONS, comma-separated: C(ro) or C(rw); C(z) or C(Z) (SELinux relabelling); C(nocopy) (named volumes: do not
        copy the image's files in); a propagation C(rslave), C(slave) (the source must be on a shared mount), C(rprivate), C(private) (binds; C(shared) and
        C(rshared) break C(no_sensitive_mounts)). For example C(/srv/data:/data:ro,rslave)."
      - A read-only bind of one file or folder under C(/etc/<something>), such as C(/etc/myapp/tls.crt:/run/tls.crt),
        passes C(no_sensitive_mounts); C(/etc) itself, C(/etc/shadow), C(/etc/ssh), C(/root), C(/home) and the other
        system trees do not.
      - The Docker socket, or a folder holding it, is never mounted.
    type: list
    elements: str
    default: []
  mounts:
    description:
      - "The long form of O(volumes), as C(community.docker.docker_container) writes it: named volumes (C(type: volume))
        and bind mounts (C(type: bind)). Each item stands for the O(volumes) line C(SOURCE:TARGET:OPTIONS), with the
        same defaults (binds read-only, volumes read-write) and rules, and is compared as that line."
      - A named volume with O(mounts[].volume_driver) or O(mounts[].volume_options) is created by the module with them
        when it is missing. One that exists with another driver or other options is refused before anything changes,
        naming the volume, the options it has and those wanted (a volume's options cannot change without losing its data).
      - "A C(local) volume with C(o: bind) (or C(type: none)) and C(device: PATH) is a bind mount of PATH:
        C(no_sensitive_mounts) and C(no_docker_socket) judge it as one (the audit too, from the engine's volumes), so
        it is read-only unless O(mounts[].read_only) is C(false)."
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description: C(volume) (SOURCE is a volume name) or C(bind) (SOURCE is an absolute host path).
        type: str
        default: volume
        choices: [volume, bind]
      source:
        description: The volume's name, or the host path of a bind.
        type: str
        required: true
      target:
        description: The absolute path in the container.
        type: str
        required: true
      read_only:
        description: C(true) mounts read-only, C(false) read-write (said explicitly); unset, binds are read-only and volumes read-write.
        type: bool
      propagation:
        description: The propagation of a bind. C(shared) and C(rshared) break C(no_sensitive_mounts).
        type: str
        choices: [shared, rshared, slave, rslave, private, rprivate]
      no_copy:
        description: A named volume only; do not copy the image's files into a new volume.
        type: bool
        default: false
      volume_driver:
        description: The driver of the named volume (default C(local) when O(mounts[].volume_options) is given).
        type: str
      volume_options:
        description:
          - "The driver options of the named volume, such as C({type: nfs, o: 'addr=10.0.0.5,ro', device: ':/export'})."
          - "A credential in them (an option whose name looks secret, or a C(password=) or C(pass=) part of C(o), as cifs
            takes it) is masked in every output; the engine keeps volume options in plain text (C(docker volume inspect))."
        type: dict
  networks:
    description:
      - User-defined networks to attach the container to, created as bridge networks when missing.
      - Default is one network of its own, C(containment_<name>). Services that must talk share a network by naming it.
      - "Each item is a name or a dict C({name: NET, aliases: [db], ipv4_address: 172.30.0.10, ipv6_address: ...}), as in
        C(community.docker.docker_container). The service's name is always an alias. A static address needs a network
        with a configured subnet (create it beforehand). The engine's predefined C(bridge), C(host) and C(none) are
        O(network_mode) values, not networks."
    type: list
    elements: raw
  network_mode:
    description: A network mode instead of O(networks), such as C(none). C(host) breaks C(no_host_namespaces).
    type: str
  pid_mode:
    description: PID namespace mode. C(host) breaks C(no_host_namespaces).
    type: str
  cap_add:
    description:
      - Capabilities to add back after C(ALL) is dropped, spelt C(NET_BIND_SERVICE), C(CAP_NET_BIND_SERVICE) or C(net_bind_service).
      - Needs an exception for C(cap_drop_all) whose reason names each capability. C(ALL) and C(SYS_ADMIN) are never added.
    type: list
    elements: str
    default: []
  security_opts:
    description:
      - Extra security options as C(KEY=VALUE), such as C(apparmor=PROFILE) or a custom seccomp profile.
        C(no-new-privileges) is always set.
      - C(seccomp=/path/profile.json) reads the profile on the host the module runs on and sends its JSON, as the docker
        CLI does; the container is compared by the profile's content, so editing the file recreates it.
      - Unconfined profiles break C(security_profiles); C(no-new-privileges:false) is refused.
    type: list
    elements: str
    default: []
  devices:
    description: Host devices as C(/dev/HOST[:/dev/CONTAINER[:rwm]]). Any device breaks C(no_devices).
    type: list
    elements: str
    default: []
  exceptions:
    description:
      - "Baseline controls this service relaxes, mapped to the reason, for example C(cap_drop_all: NET_BIND_SERVICE to bind port 80)."
      - Floor controls cannot be excepted. Each reason is recorded as a label C(containment.exception.<control>).
    type: dict
    default: {}
  restart_policy:
    description:
      - Restart policy. C(always) brings a service that was running back after the engine restarts or is killed,
        or the host reboots, whatever its exit code on SIGTERM; Docker's restart back-off bounds a crash loop.
      - C(no) is for one-shot jobs. C(on-failure) and C(unless-stopped) break the C(restart_policy) control,
        as each leaves a service down after some engine restarts (see docs/policy.md).
    type: str
    default: always
    choices: ['no', on-failure, always, unless-stopped]
  restart_retries:
    description: Retries of C(on-failure) (ignored by the other policies).
    type: int
    default: 5
  healthcheck:
    description: Healthcheck of the container; the image's is used when not set.
    type: dict
    suboptions:
      test:
        description: A shell command string, or a list such as C([CMD, /bin/check]).
        type: raw
        required: true
      interval:
        description: Time between checks, for example C(30s).
        type: str
        default: 30s
      timeout:
        description: Time one check may take.
        type: str
        default: 30s
      retries:
        description: Failures in a row that make the container unhealthy.
        type: int
        default: 3
      start_period:
        description:
          - Time after start during which failures do not count.
          - "Durations are Go's: C(1m30s), C(500ms), C(2h), or a number of seconds. A zero field (C(0s), or the
            default C(start_period)) takes the image's C(HEALTHCHECK) value, as Docker does."
        type: str
        default: 0s
  labels:
    description: Extra labels. Names starting with C(containment.) are reserved.
    type: dict
    default: {}
  stop_timeout:
    description: Seconds to wait for the container to stop before it is killed.
    type: int
    default: 10
  working_dir:
    description: Working directory of the command, an absolute path. The image's C(WORKDIR) when not set.
    type: str
  groups:
    description:
      - Supplementary groups of the container's user, as numeric gids such as C('1600') (HostConfig.GroupAdd).
      - Group C(0) and group names are refused by the C(non_root_user) floor control (a name may be root's group in the image).
    type: list
    elements: str
    default: []
  memory_reservation:
    description: Soft memory limit the kernel reclaims down to under pressure, with a unit, for example C(64m). At most O(memory).
    type: str
  shm_size:
    description: Size of C(/dev/shm), for example C(256m). Docker's default (C(64m)) when not set.
    type: str
  cpu_shares:
    description: Relative CPU weight against other containers (Docker's default is 1024), from 2 to 262144.
    type: int
  cpuset_cpus:
    description: CPUs the container may run on, for example C(0-1) or C(0,2).
    type: str
  blkio_weight:
    description:
      - Relative block IO weight, from 10 to 1000.
      - Kernels without a block IO weight (no CFQ/BFQ scheduler on cgroup v1) make the engine discard it; the create then fails
        with the engine's warning rather than run a container that differs from its spec.
    type: int
  device_read_bps:
    description: "Read rate limits per device, as items C({path: /dev/vda, rate: 10m}) (bytes per second, with a unit)."
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The device on the engine host.
        type: str
        required: true
      rate:
        description: Bytes per second with a unit, for example C(10m).
        type: str
        required: true
  device_write_bps:
    description: "Write rate limits per device, as items C({path: /dev/vda, rate: 10m})."
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The device on the engine host.
        type: str
        required: true
      rate:
        description: Bytes per second with a unit, for example C(10m).
        type: str
        required: true
  device_read_iops:
    description: "Read operations per second per device, as items C({path: /dev/vda, rate: 1000})."
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The device on the engine host.
        type: str
        required: true
      rate:
        description: Operations per second.
        type: int
        required: true
  device_write_iops:
    description: "Write operations per second per device, as items C({path: /dev/vda, rate: 1000})."
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The device on the engine host.
        type: str
        required: true
      rate:
        description: Operations per second.
        type: int
        required: true
  ulimits:
    description:
      - Resource limits as C(TYPE:SOFT[:HARD]), for example C(nofile:1024:2048) or C(memlock:-1) (C(-1) is unlimited).
      - Any value is allowed (the pids limit bounds processes); the audit shows them as evidence of C(pids_limit).
    type: list
    elements: str
    default: []
  hostname:
    description: Host name inside the container. Docker's (the short container id) when not set. Not with O(network_mode) C(host) or C(container:NAME).
    type: str
  domainname:
    description: Domain name inside the container.
    type: str
  etc_hosts:
    description: "Extra C(/etc/hosts) entries, as a dict of name to address, for example C({db.internal: 10.0.0.5}). C(host-gateway) is the host."
    type: dict
    default: {}
  dns_servers:
    description: DNS servers, as IP addresses.
    type: list
    elements: str
    default: []
  dns_search_domains:
    description: DNS search domains.
    type: list
    elements: str
    default: []
  dns_opts:
    description: DNS resolver options, such as C(ndots:2).
    type: list
    elements: str
    default: []
  sysctls:
    description:
      - "Namespaced kernel parameters, as a dict such as C({net.ipv4.ip_unprivileged_port_start: '80'})."
      - "The C(safe_sysctls) control passes only container-safe keys: C(net.*) in the container's own network namespace,
        C(kernel.shm*), C(kernel.msg*), C(kernel.sem) and C(fs.mqueue.*). C(net.ipv4.ip_unprivileged_port_start) lets a
        non-root service bind a low port without C(NET_BIND_SERVICE)."
    type: dict
    default: {}
  init:
    description: Run an init process (Docker's tini) as PID 1 that reaps zombies and forwards signals.
    type: bool
    default: false
  log_driver:
    description:
      - Logging driver. C(json-file) and C(local) write to the engine host's disk and need C(max-size) and C(max-file)
        in O(log_options) (the C(log_bounded) control); C(journald), C(syslog), C(fluentd), C(gelf) and C(none) ship
        logs elsewhere or drop them.
    type: str
    default: json-file
  log_options:
    description:
      - "Options of the logging driver, as a dict of strings, for example C({max-size: 50m, max-file: '5'})."
      - "Default for C(json-file) and C(local): C({max-size: 10m, max-file: '3'}); none for other drivers."
    type: dict
  stop_signal:
    description: Signal that stops the container, such as C(SIGQUIT). The image's C(STOPSIGNAL) (or C(SIGTERM)) when not set.
    type: str
  depends_on:
    description:
      - The services this one needs running first, as Compose writes them. Only meaningful in
        M(containment.docker.secure_stack) and the role P(containment.docker.secure_services#role), where every named
        service must be in the same list (this module converges one service, so any name here is refused).
      - "A list of names (C([db, cache])), a mapping of name to C({condition}) (C({db: {condition: service_healthy}})),
        or a list mixing names, such one-key mappings and C({service, condition}) dicts."
      - "V(service_started) (the default): this service is started once the dependency's container runs, and its
        change is kept only once the dependency's change is. V(service_healthy): started once the dependency is
        healthy; a dependency without a healthcheck (its own or its image's) is refused."
      - An unchanged dependency counts as ready when it runs (for V(service_healthy), when it is healthy now).
      - When a dependency fails, this service is not replaced (its old container is left as it was, or rolled back
        if it was already set aside) and fails with C(not replaced, its dependency NAME failed).
      - A cycle, an unknown name, or a dependency whose O(state) is not V(started) is refused before anything changes.
      - The start order is not part of the container; changing it recreates nothing.
    type: raw
  state:
    description:
      - V(started) creates or converges the container and makes sure it runs.
      - V(stopped) converges it and makes sure it does not run.
      - V(absent) removes it, and its own network when nothing else uses it.
    type: str
    default: started
    choices: [started, stopped, absent]
  pull:
    description: V(missing) pulls the image only when it is not on the engine; V(always) pulls every run; V(never) fails when it is missing.
    type: str
    default: missing
    choices: [missing, always, never]
  grace_period:
    description: Seconds a new or restarted container must keep running before the change is kept.
    type: float
    default: 3
  healthy_timeout:
    description: Seconds to wait, at most, for a container with a healthcheck to become healthy.
    type: float
    default: 60
  recreate:
    description:
      - Recreate the container in this run even if nothing differs (safe replace, as for any recreate). Reported as a
        change. Like O(restart), an operation option for one run, not part of the spec, so the next run without it
        has nothing to do. Not with O(state=absent).
    type: bool
    default: false
  restart:
    description:
      - Restart the running container in this run (stop and start under its name), typically from a handler after a
        configuration file it reads changed. The usual watch follows; if the container does not come up, the task fails
        with its exit code and last log lines (there is no older container to roll back to).
      - A recreate (something differs, or O(recreate)) or a start in the same run already restarts it, so nothing more
        is done then. Needs O(state=started). Check mode reports V(restart) without touching the container.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Run the web front end, hardened
  containment.docker.secure_container:
    name: web
    image: registry.example.com/shop/web:1.4.2
    user: "1501:1501"
    memory: 64m
    cpus: 0.5
    ports:
      - 127.0.0.1:8080:8080

- name: A service that must bind port 80 inside the container
  containment.docker.secure_container:
    name: edge
    image: ghcr.io/example/edge:2.1
    user: "1502:1502"
    memory: 128m
    cpus: 1
    command: [httpd, -f, -p, "80", -h, /www]
    cap_add: [NET_BIND_SERVICE]
    exceptions:
      cap_drop_all: NET_BIND_SERVICE so the legacy client can keep using port 80
    tmpfs:
      - path: /tmp
        size: 16m
    ports:
      - 127.0.0.1:8081:80
    healthcheck:
      test: wget -q -O /dev/null http://127.0.0.1:80/ || exit 1
      interval: 5s

- name: A database password from Ansible Vault (a vaulted group_vars file), never printed
  containment.docker.secure_container:
    name: api
    image: registry.example.com/shop/worker:3.0.1
    user: "1503:1503"
    memory: 32m
    cpus: 0.25
    env:
      DB_HOST: db.internal
    secret_env:
      DB_PASSWORD: "{{ vault_db_password }}"

# The same password as a file, which docker inspect does not show: written to the host by
# ansible.builtin.copy (owner and group the service's uid and gid, mode 0400, no_log) and
# mounted read-only at /run/secrets/db_password; and an env file whose values are secret:
#
#   - ansible.builtin.copy:
#       content: "{{ vault_db_password }}"
#       dest: /srv/secrets/api/db_password
#       owner: "1503"
#       group: "1503"
#       mode: "0400"
#     no_log: true
#   - containment.docker.secure_container:
#       name: api
#       ...
#       secrets:
#         - name: db_password
#           source: /srv/secrets/api/db_password
#       env_file:
#         - /srv/secrets/api/app.env

- name: A worker with the options production services need (names as in community.docker.docker_container)
  containment.docker.secure_container:
    name: worker
    image: registry.example.com/shop/worker:3.0.1
    user: "1504:1504"
    groups: ["1600"]                  # supplementary groups: numeric and non-zero
    memory: 256m
    memory_reservation: 128m
    cpus: 1
    shm_size: 128m
    ulimits:
      - nofile:4096:8192              # TYPE:SOFT[:HARD]
    init: true                        # an init as PID 1 reaps zombies and forwards signals
    stop_signal: SIGTERM
    stop_timeout: 30
    hostname: worker-1
    working_dir: /tmp
    sysctls:
      net.ipv4.ip_unprivileged_port_start: "80"   # bind port 80 without NET_BIND_SERVICE
    etc_hosts:
      queue.internal: 10.0.0.15
    dns_search_domains: [internal]
    log_driver: json-file             # on the host's disk: max-size and max-file are required (log_bounded)
    log_options:
      max-size: 50m
      max-file: "5"
    volumes:
      - /etc/hostname:/run/host-hostname:ro     # one read-only file under /etc passes no_sensitive_mounts
    healthcheck:
      test: "true"
      interval: 5s
      start_period: 1m30s             # Go durations

# Named volumes with a driver and driver options, as community.docker.docker_container's mounts
# (the module creates a missing volume with them and refuses one that exists with others):
#
#       mounts:
#         - type: volume
#           source: worker-spool
#           target: /spool
#           volume_driver: local
#           volume_options: {type: tmpfs, device: tmpfs, o: "size=64m,uid=1504"}
#         - type: volume                 # a bind of /srv/worker/data in disguise: judged as that bind
#           source: worker-data
#           target: /data
#           read_only: false             # read-write said explicitly, as ':rw' for a bind
#           volume_options: {type: none, o: bind, device: /srv/worker/data}

# A handler that restarts the service after its configuration file changed:
#
#   tasks:
#     - ansible.builtin.template:
#         src: app.conf.j2
#         dest: /srv/app/app.conf
#       notify: Restart app
#   handlers:
#     - name: Restart app
#       containment.docker.secure_container:
#         name: app
#         ...            # the same options as the task that deploys it
#         restart: true

- name: Remove it again (only the name is needed)
  containment.docker.secure_container:
    name: edge
    state: absent
'''

RETURN = r'''
container:
  description: The container after the run (before it, in check mode). Empty when absent.
  returned: always
  type: dict
  sample: {id: 4f0c..., name: web, image: "registry.example.com/shop/web:1.4.2", image_id: "sha256:9b1e...", status: running, health: null}
action:
  description: What was done, or would be done in check mode (create, recreate, restart, start, stop, remove, none).
  returned: always
  type: str
  sample: recreate
reasons:
  description: Why the action was needed, for example the fields that drifted.
  returned: always
  type: list
  elements: str
  sample: ["memory differs: live '1g', wanted '64m'"]
actions:
  description:
    - The steps taken against the engine, in order, beginning with those that resumed what an interrupted run left.
  returned: always
  type: list
  elements: str
  sample: ["created 9a8b7c6d5e4f as web__next", "stopped old container 4f0c2b1a9e3d", "renamed old container 4f0c2b1a9e3d to web__previous",
           "started 9a8b7c6d5e4f", "renamed 9a8b7c6d5e4f to web", "removed old container 4f0c2b1a9e3d"]
findings:
  description: The policy controls evaluated on the container (the planned one in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{control: non_root_user, tier: floor, status: pass, message: runs as a numeric non-root UID:GID,
            evidence: {"Config.User": "1501:1501"}, cis: "4.1", pss: "runAsNonRoot, runAsUser, runAsGroup"}]
failure:
  description: When a new container did not stay up, its exit code, status, health, last log lines and last healthcheck outputs.
  returned: on failure of a new container
  type: dict
  sample: {exit_code: 3, status: exited, health: null, logs: ["config file missing"], health_log: []}
engine_calls:
  description:
    - The Docker Engine API calls the run made, per call of the Docker SDK, and their C(total); for sizing and
      debugging. The API version negotiation of the connection is not counted.
  returned: when the engine was reached
  type: dict
  sample: {total: 7, info: 1, containers: 1, inspect_container: 1, inspect_image: 2, create_container_from_config: 1,
           remove_container: 1}
problems:
  description: When the spec is refused, one entry per breach with service, field, rule, message and fix.
  returned: on refusal
  type: list
  elements: dict
'''

from ansible_collections.containment.docker.plugins.module_utils import _module
from ansible_collections.containment.docker.plugins.module_utils._spec import OPERATION_OPTIONS, REQUIRED_IF, SERVICE_OPTIONS


def main():
    # image, user, memory and cpus are needed to run a container, not to remove one
    module = _module.new_module(_module.argument_spec(SERVICE_OPTIONS, OPERATION_OPTIONS, _module.CONVERGE_OPTIONS), one_service=True,
                                required_if=REQUIRED_IF)
    raw = dict((k, v) for k, v in module.params.items() if k in SERVICE_OPTIONS or k in OPERATION_OPTIONS)
    results, _pruned, engine_calls = _module.converge(module, [raw])
    result = results[0]
    output = dict(changed=result['changed'], container=result['container'], action=result['action'],
                  reasons=result['reasons'], actions=result.get('steps', []), findings=result['findings'],
                  engine_calls=engine_calls)
    if module._diff:
        output['diff'] = result['diff']
    if result.get('failed'):
        module.fail_json(msg=result['msg'], failure=result.get('failure'), **output)
    module.exit_json(**output)


if __name__ == '__main__':
    main()
