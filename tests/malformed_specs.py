"""Malformed service specs, one table for the unit tests (tests/unit/test_spec_malformed.py) and the
engine test (tests/integration/test_malformed_specs.py).

Each case is (id, options, field): `options` change a good service (a callable gets the sandbox-free
naming helper `named(suffix)` and returns them), `field` is the option the refusal must name. Every
case is something the engine would refuse, misread, or that used to crash the module, so it must be
refused before the first engine call of a run. JSON-safe values only (the engine test writes them
into a playbook); the unit test adds the cases JSON cannot carry (NaN, integer keys).
"""

from __future__ import annotations

HUGE = 10 ** 30


def cases(named):
    """The table, with `named(suffix)` giving a name of this run (the sandbox prefix + suffix)."""
    return [
        # names: the engine's [a-zA-Z0-9][a-zA-Z0-9_.-]+, matched whole
        ('a one-character name', dict(name='x'), 'name'),
        ('a name with a trailing newline', dict(name=named('bad') + '\n'), 'name'),
        ('a name with a space', dict(name=named('my bad')), 'name'),
        ('a name ending in __previous', dict(name=named('bad__previous')), 'name'),
        ('a name ending in __next', dict(name=named('bad__next')), 'name'),
        ('the name of the host lock container', dict(name='containment-lock'), 'name'),
        # image references
        ('an empty image', dict(image=''), 'image'),
        ('an image with an uppercase name', dict(image='containment-test/BusyBox:1'), 'image'),
        ('an image with an empty tag', dict(image='containment-test/busybox:'), 'image'),
        ('an image with a space', dict(image='containment-test/busy box:1'), 'image'),
        # commands
        ('a command given as a dict', dict(command={'sh': '-c'}), 'command'),
        ('a command with an unclosed quote', dict(command='sh -c "sleep 60'), 'command'),
        ('a command with a null item', dict(command=['sleep', None]), 'command'),
        ('a command with a NUL character', dict(command=['echo', 'a\x00b']), 'command'),
        ('an entrypoint with a dict item', dict(entrypoint=['sh', {'a': 1}]), 'entrypoint'),
        # environment
        ('an env name with a trailing newline', dict(env={'GREETING\n': 'hi'}), 'env'),
        ('an env name starting with a digit', dict(env={'1GREETING': 'hi'}), 'env'),
        ('an env value that is null', dict(env={'GREETING': None}), 'env'),
        ('an env value with a NUL character', dict(env={'GREETING': 'h\x00i'}), 'env'),
        # user
        ('a user in Arabic-Indic digits', dict(user='\u0661\u0665\u0660\u0660:\u0661\u0665\u0660\u0660'), 'user'),
        ('a user id beyond 2**31-1', dict(user='99999999999:1500'), 'user'),
        ('a user with a NUL character', dict(user='1500:\x001500'), 'user'),
        # sizes and numbers: int64, finite, whole, ASCII
        ('memory of 10**30', dict(memory=HUGE), 'memory'),
        ('memory with a bad unit', dict(memory='12x'), 'memory'),
        ('memory written in Arabic-Indic digits', dict(memory='\u0663\u0662m'), 'memory'),
        ('memory_swap below memory', dict(memory='32m', memory_swap='16m'), 'memory_swap'),
        ('cpus nan', dict(cpus='nan'), 'cpus'),
        ('cpus inf', dict(cpus='inf'), 'cpus'),
        ('cpus below 0.01', dict(cpus=0.001), 'cpus'),
        ('pids_limit of 10**30', dict(pids_limit=HUGE), 'pids_limit'),
        ('pids_limit given as a boolean', dict(pids_limit=True), 'pids_limit'),
        ('pids_limit in Arabic-Indic digits', dict(pids_limit='\u0666\u0664'), 'pids_limit'),
        ('pids_limit 2.5', dict(pids_limit=2.5), 'pids_limit'),
        ('stop_timeout of 10**30', dict(stop_timeout=HUGE), 'stop_timeout'),
        ('a negative stop_timeout', dict(stop_timeout=-1), 'stop_timeout'),
        ('negative restart_retries', dict(restart_retries=-1), 'restart_retries'),
        ('restart_retries of 10**30', dict(restart_retries=HUGE), 'restart_retries'),
        ('restart_retries given as a boolean', dict(restart_retries=True), 'restart_retries'),
        ('an unknown restart policy', dict(restart_policy='sometimes'), 'restart_policy'),
        # keys: a typo (the refusal names the closest option), a policy control given as an option
        ('a typo in an option name', dict(memroy='32m'), 'memroy'),
        ('a floor control given as an option', dict(read_only_rootfs=True), 'read_only_rootfs'),
        # tmpfs
        ('a tmpfs of 10**30 bytes', dict(tmpfs=[{'path': '/tmp', 'size': HUGE}]), 'tmpfs'),
        ('a tmpfs on /', dict(tmpfs=[{'path': '/', 'size': '8m'}]), 'tmpfs'),
        # ports
        ('a host port in Arabic-Indic digits', dict(ports=['127.0.0.1:\u0668\u0660\u0668\u0660:80']), 'ports'),
        ('host port 0', dict(ports=['127.0.0.1:0:80']), 'ports'),
        ('host port 65536', dict(ports=['127.0.0.1:65536:80']), 'ports'),
        ('a port given as a dict', dict(ports=[{'published': 8080}]), 'ports'),
        # volumes (the named ones must not be created)
        ('a one-character volume name', dict(volumes=['v:/data']), 'volumes'),
        ('a volume mounted on /', dict(volumes=[named('vol1') + ':/']), 'volumes'),
        ('a good volume beside a bad memory', dict(volumes=[named('vol2') + ':/data'], memory='lots'), 'memory'),
        # networks (the named ones must not be created)
        ('a new network beside bad healthcheck retries',
         dict(networks=[named('net1')], healthcheck={'test': 'true', 'retries': -1}), 'healthcheck'),
        ('a network listed twice', dict(networks=[named('net2'), named('net2')]), 'networks'),
        ('the predefined network bridge in networks', dict(networks=['bridge']), 'networks'),
        ('network_mode bogus', dict(network_mode='bogus'), 'network_mode'),
        ('network_mode container: without a name', dict(network_mode='container:'), 'network_mode'),
        ('pid_mode bogus', dict(pid_mode='bogus'), 'pid_mode'),
        # security options: the keys and forms the engine takes
        ('security_opts bogus', dict(security_opts=['bogus']), 'security_opts'),
        ('a seccomp profile given as a file name', dict(security_opts=['seccomp=/etc/hosts']), 'security_opts'),
        ('security_opts systempaths=unconfined (a CLI-only option)',
         dict(security_opts=['systempaths=unconfined']), 'security_opts'),
        ('no-new-privileges=maybe', dict(security_opts=['no-new-privileges=maybe']), 'security_opts'),
        ('an apparmor option without a profile', dict(security_opts=['apparmor=']), 'security_opts'),
        ('a misspelled capability', dict(cap_add=['NET_BIND_SERVCE']), 'cap_add'),
        # devices
        ('a device with permission x', dict(devices=['/dev/fuse:/dev/fuse:rwx']), 'devices'),
        ('a device with a relative container path', dict(devices=['/dev/fuse:fuse:rw']), 'devices'),
        # healthcheck
        ('healthcheck retries -1', dict(healthcheck={'test': 'true', 'retries': -1}), 'healthcheck'),
        ('healthcheck interval 500us', dict(healthcheck={'test': 'true', 'interval': '500us'}), 'healthcheck'),
        ('healthcheck timeout beyond int64 ns', dict(healthcheck={'test': 'true', 'timeout': '9999999999h'}), 'healthcheck'),
        ('a healthcheck test given as a dict', dict(healthcheck={'test': {'cmd': 'true'}}), 'healthcheck'),
        ('a healthcheck CMD with no program', dict(healthcheck={'test': ['CMD']}), 'healthcheck'),
        ('a healthcheck NONE with arguments', dict(healthcheck={'test': ['NONE', 'true']}), 'healthcheck'),
        ('an empty healthcheck shell command', dict(healthcheck={'test': ['CMD-SHELL', ' ']}), 'healthcheck'),
        # labels and exceptions
        ('a label value that is null', dict(labels={'tier': None}), 'labels'),
        ('a label value that is a dict', dict(labels={'tier': {'a': 1}}), 'labels'),
        ('an exception with an empty reason', dict(pids_limit=0, exceptions={'pids_limit': ''}), 'exceptions'),
        # operation options, which Ansible does not type-check inside secure_stack's services
        ('state bogus', dict(state='bogus'), 'state'),
        ('pull bogus', dict(pull='bogus'), 'pull'),
        ('grace_period abc', dict(grace_period='abc'), 'grace_period'),
        ('grace_period nan', dict(grace_period='nan'), 'grace_period'),
        ('a negative grace_period', dict(grace_period=-1), 'grace_period'),
        ('healthy_timeout inf', dict(healthy_timeout='inf'), 'healthy_timeout'),
        ('healthy_timeout given as a list', dict(healthy_timeout=[60]), 'healthy_timeout'),
    ]


# What only the engine test names: every volume and network a case mentions, which must not exist after.
def named_volumes(named):
    return [named('vol1'), named('vol2')]


def named_networks(named):
    return [named('net1'), named('net2')]
