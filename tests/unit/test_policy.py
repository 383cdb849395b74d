# -*- coding: utf-8 -*-
"""Every control of the policy table, passing and failing, over `docker inspect` dicts.

One table per control. A case starts from a container that passes every control
(`compliant_inspect`) and changes the fields it names, so each row reads as the one
thing that makes the difference. `test_every_control_has_cases` makes a new control
without rows here fail the suite: the table in _policy.py is the one source of truth.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.containment.docker.plugins.module_utils import _policy as policy
from ansible_collections.containment.docker.plugins.module_utils._policy import EXCEPTED, FAIL, PASS, WARN

MiB = 1024 ** 2
ABSENT = object()  # a change that deletes the field
EXCEPTION = policy.LABEL_EXCEPTION  # 'containment.exception.'


def compliant_inspect():
    """What `docker inspect` shows for a container that passes every control."""
    return {
        'Id': '4f1c2a9e' * 8,
        'Name': '/web',
        'Image': 'sha256:' + 'a' * 64,
        'State': {'Status': 'running', 'Running': True},
        'Config': {
            'Image': 'containment-test/web:1',
            'User': '1500:1500',
            'Env': ['PATH=/bin'],
            'Labels': {'containment.managed': 'true', 'containment.service': 'web'},
            'Healthcheck': {'Test': ['CMD', 'wget', '-q', '-O-', 'http://127.0.0.1:8080/healthz'],
                            'Interval': 30 * 10 ** 9, 'Timeout': 5 * 10 ** 9, 'Retries': 3},
        },
        'HostConfig': {
            'Memory': 128 * MiB,
            'MemorySwap': 128 * MiB,
            'NanoCpus': 500000000,
            'CpuQuota': 0,
            'CpuPeriod': 0,
            'PidsLimit': 256,
            'ReadonlyRootfs': True,
            'Tmpfs': {'/tmp': 'rw,nosuid,nodev,noexec,size=67108864,mode=1777'},
            'SecurityOpt': ['no-new-privileges:true'],
            'CapDrop': ['ALL'],
            'CapAdd': None,
            'Privileged': False,
            'GroupAdd': None,
            'Binds': None,
            'Mounts': None,
            'PortBindings': {},
            'PublishAllPorts': False,
            'RestartPolicy': {'Name': 'always', 'MaximumRetryCount': 0},
            'NetworkMode': 'containment_web',
            'PidMode': '',
            'IpcMode': 'private',
            'UTSMode': '',
            'UsernsMode': '',
            'Devices': [],
            'DeviceRequests': None,
            'LogConfig': {'Type': 'json-file', 'Config': {'max-size': '10m', 'max-file': '3'}},
            'Sysctls': None,
        },
        'Mounts': [],
        'NetworkSettings': {'Networks': {'containment_web': {}}},
    }


def bind(source, target, rw=False, propagation='rprivate'):
    """A bind mount as the top-level `Mounts` of `docker inspect` shows it."""
    return {'Type': 'bind', 'Source': source, 'Destination': target, 'Mode': 'rw' if rw else 'ro',
            'RW': rw, 'Propagation': propagation}


def volume(name, target):
    return {'Type': 'volume', 'Name': name, 'Source': '/var/lib/docker/volumes/%s/_data' % name,
            'Destination': target, 'Driver': 'local', 'Mode': 'z', 'RW': True, 'Propagation': ''}


def bind_volumes(device, o='bind', type=None, name='hostdata'):
    """ctx of a container whose volume `name` is a local volume binding `device` (as docker volume inspect shows it)."""
    options = dict(o=o, device=device, **({'type': type} if type else {}))
    return {'volumes': {name: {'Name': name, 'Driver': 'local', 'Options': options}}}


def build(changes=None, labels=None):
    """compliant_inspect() with dotted-path changes ({'HostConfig.Memory': 0}) and extra labels."""
    inspect = compliant_inspect()
    for path, value in (changes or {}).items():
        *parents, leaf = path.split('.')
        node = inspect
        for key in parents:
            node = node[key]
        if value is ABSENT:
            node.pop(leaf, None)
        else:
            node[leaf] = copy.deepcopy(value)
    inspect['Config']['Labels'].update(labels or {})
    return inspect


class Case(object):
    def __init__(self, sentence, status, changes=None, labels=None, ctx=None, exceptions=None, says=None):
        self.sentence, self.status, self.says = sentence, status, says
        self.changes, self.labels, self.ctx, self.exceptions = changes, labels, ctx, exceptions

    def inspect(self):
        return build(self.changes, self.labels)


def case(sentence, status, changes=None, **kwargs):
    return Case(sentence, status, changes, **kwargs)


def user(value):
    return {'Config.User': value}


def host(**fields):
    return dict(('HostConfig.' + k, v) for k, v in fields.items())


def mounts(*items):
    return {'Mounts': list(items)}


def tmpfs(options):
    return host(Tmpfs={'/tmp': options})


def ports(host_ip, host_port='8080', container_port='8080/tcp'):
    return host(PortBindings={container_port: [{'HostIp': host_ip, 'HostPort': host_port}]})


HARDENED_TMPFS = 'rw,nosuid,nodev,noexec,size=67108864,mode=1777'

# ---------------------------------------------------------------- floor controls

NON_ROOT_USER = [
    case('numeric 1500:1500 passes', PASS, user('1500:1500')),
    case('spaces around 1500:1500 are normalised and pass', PASS, user(' 1500:1500 ')),
    case('leading zeros in a non-zero uid and gid pass', PASS, user('01500:01500')),
    case('the name root fails', FAIL, user('root'), says="user 'root' is not numeric"),
    case('uid 0 alone fails as root, not as a name', FAIL, user('0'), says="user '0' is root (uid 0), and names no group"),
    case('0:0 fails as root', FAIL, user('0:0'), says='uid or gid 0'),
    case('root:root fails', FAIL, user('root:root'), says='is not numeric'),
    case('a uid without a gid fails (the image decides the group)', FAIL, user('1500'), says='a uid but no gid'),
    case('uid 1500 with gid 0 fails', FAIL, user('1500:0'), says='uid or gid 0'),
    case('uid 0 with gid 1500 fails', FAIL, user('0:1500'), says='uid or gid 0'),
    case('00:1500 is still uid 0 and fails', FAIL, user('00:1500')),
    case('the name app fails (it may map to uid 0 in the image)', FAIL, user('app'), says='a name is looked up in the image, where it may be root'),
    case('an empty user leaves it to the image and fails', FAIL, user(''), says='no user is set'),
    case('a missing user fails', FAIL, user(ABSENT), says='no user is set'),
    case('GroupAdd 0 fails', FAIL, host(GroupAdd=['0']), says='GroupAdd'),
    case('GroupAdd root fails', FAIL, host(GroupAdd=['root']), says='GroupAdd'),
    case('GroupAdd of a non-root group passes', PASS, host(GroupAdd=['1600'])),
    case('GroupAdd of two numeric non-root groups passes', PASS, host(GroupAdd=['1600', '1601'])),
    case('GroupAdd of a group name fails (it may be root in the image)', FAIL, host(GroupAdd=['staff']), says='by name'),
    case('GroupAdd 00 is still group 0 and fails', FAIL, host(GroupAdd=['00']), says='(root)'),
    case('GroupAdd in Arabic-Indic digits fails', FAIL, host(GroupAdd=['\u0661\u0666\u0660\u0660'])),
    case('an exception label cannot relax this floor control', FAIL, user('root'),
         labels={EXCEPTION + 'non_root_user': 'legacy image'}),
]

NO_NEW_PRIVILEGES = [
    case('no-new-privileges:true passes', PASS, host(SecurityOpt=['no-new-privileges:true'])),
    case('bare no-new-privileges passes', PASS, host(SecurityOpt=['no-new-privileges'])),
    case('no-new-privileges=true passes', PASS, host(SecurityOpt=['no-new-privileges=true'])),
    case('no security options at all fails', FAIL, host(SecurityOpt=None), says='not set'),
    case('other options without no-new-privileges fail', FAIL, host(SecurityOpt=['apparmor=docker-default'])),
    case('no-new-privileges:false fails', FAIL, host(SecurityOpt=['no-new-privileges:false']),
         says='explicitly turned off'),
    case('no-new-privileges:false beside no-new-privileges still fails', FAIL,
         host(SecurityOpt=['no-new-privileges', 'no-new-privileges:false']), says='explicitly turned off'),
    case('no-new-privileges:false before no-new-privileges:true still fails', FAIL,
         host(SecurityOpt=['no-new-privileges:false', 'no-new-privileges:true'])),
    case('no-new-privileges=false fails', FAIL, host(SecurityOpt=['no-new-privileges=false'])),
    case('an exception label cannot relax it', FAIL, host(SecurityOpt=[]),
         labels={EXCEPTION + 'no_new_privileges': 'needs sudo'}),
]

MEMORY_LIMIT = [
    case('128 MiB passes', PASS, host(Memory=128 * MiB)),
    case("exactly Docker's minimum of 6 MiB passes", PASS, host(Memory=6 * MiB, MemorySwap=6 * MiB)),
    case('memory 0 (unlimited) fails', FAIL, host(Memory=0), says='no memory limit'),
    case('a missing memory field fails', FAIL, host(Memory=ABSENT), says='no memory limit'),
    case('below 6 MiB fails', FAIL, host(Memory=5 * MiB, MemorySwap=5 * MiB), says='minimum'),
]

CPU_LIMIT = [
    case('half a CPU passes', PASS, host(NanoCpus=500000000)),
    case('all of the host CPUs passes', PASS, host(NanoCpus=2 * 10 ** 9), ctx={'host_cpus': 2}),
    case('NanoCpus 0 fails', FAIL, host(NanoCpus=0), says='no CPU limit'),
    case('a missing NanoCpus fails', FAIL, host(NanoCpus=ABSENT)),
    case('a CpuQuota without cpus fails (the limit must be set through cpus)', FAIL,
         host(NanoCpus=0, CpuQuota=50000, CpuPeriod=100000)),
    case("more than the host's CPUs fails", FAIL, host(NanoCpus=3 * 10 ** 9), ctx={'host_cpus': 2},
         says='more than the host'),
]

READ_ONLY_ROOTFS = [
    case('a read-only root passes', PASS, host(ReadonlyRootfs=True)),
    case('a writable root fails', FAIL, host(ReadonlyRootfs=False), says='writable'),
    case('a missing ReadonlyRootfs fails', FAIL, host(ReadonlyRootfs=ABSENT)),
]

TMPFS_HARDENED = [
    case('a sized nosuid nodev noexec tmpfs with a mode passes', PASS, tmpfs(HARDENED_TMPFS)),
    case('no tmpfs at all passes', PASS, host(Tmpfs=ABSENT)),
    case('a tmpfs without size fails', FAIL, tmpfs('rw,nosuid,nodev,noexec,mode=1777'), says='size'),
    case('a tmpfs with size=0 (unlimited) fails', FAIL, tmpfs('rw,nosuid,nodev,noexec,size=0,mode=1777'),
         says='size'),
    case('a tmpfs without noexec fails', FAIL, tmpfs('rw,nosuid,nodev,size=64m,mode=1777'), says='noexec'),
    case('a tmpfs without noexec passes when its exec_reason label says why', PASS,
         tmpfs('rw,nosuid,nodev,size=64m,mode=1777'), labels={policy.LABEL_TMPFS_EXEC + '/tmp': 'JIT cache'}),
    case('a blank exec_reason label does not relax noexec', FAIL,
         tmpfs('rw,nosuid,nodev,size=64m,mode=1777'), labels={policy.LABEL_TMPFS_EXEC + '/tmp': '  '}),
    case('an exec_reason label for another path does not relax noexec', FAIL,
         tmpfs('rw,nosuid,nodev,size=64m,mode=1777'), labels={policy.LABEL_TMPFS_EXEC + '/cache': 'JIT'}),
    case('exec after noexec wins in mount options and fails', FAIL,
         tmpfs('rw,nosuid,nodev,noexec,size=64m,mode=1777,exec'), says='noexec'),
    case('a tmpfs without nosuid fails', FAIL, tmpfs('rw,nodev,noexec,size=64m,mode=1777'), says='nosuid'),
    case('suid after nosuid fails', FAIL, tmpfs('rw,nosuid,nodev,noexec,size=64m,mode=1777,suid'), says='nosuid'),
    case('a tmpfs without nodev fails', FAIL, tmpfs('rw,nosuid,noexec,size=64m,mode=1777'), says='nodev'),
    case('a tmpfs without mode fails', FAIL, tmpfs('rw,nosuid,nodev,noexec,size=64m'), says='mode'),
    case('a tmpfs mounted with --mount fails (its options cannot be read)', FAIL,
         mounts({'Type': 'tmpfs', 'Source': '', 'Destination': '/cache', 'RW': True, 'Propagation': ''}),
         says='--mount'),
    case('an exception label cannot relax it', FAIL, tmpfs('rw'),
         labels={EXCEPTION + 'tmpfs_hardened': 'because'}),
]

NOT_PRIVILEGED = [
    case('not privileged passes', PASS, host(Privileged=False)),
    case('a missing Privileged field passes', PASS, host(Privileged=ABSENT)),
    case('privileged fails', FAIL, host(Privileged=True), says='privileged'),
    case('an exception label cannot relax it', FAIL, host(Privileged=True),
         labels={EXCEPTION + 'not_privileged': 'device access'}),
]

NO_DOCKER_SOCKET = [
    case('no mounts pass', PASS, mounts()),
    case('a named volume passes', PASS, mounts(volume('data', '/data'))),
    case('an unrelated read-only bind passes', PASS, mounts(bind('/srv/app/config', '/config'))),
    case('/running is not /run and passes', PASS, mounts(bind('/running', '/data'))),
    case('/var/run/docker.sock fails', FAIL, mounts(bind('/var/run/docker.sock', '/var/run/docker.sock')),
         says='Docker socket'),
    case('/run/docker.sock fails', FAIL, mounts(bind('/run/docker.sock', '/sock'))),
    case('the folder /run fails', FAIL, mounts(bind('/run', '/host-run'))),
    case('the folder /var/run fails', FAIL, mounts(bind('/var/run', '/host-run'))),
    case('/var/run with a trailing slash fails', FAIL, mounts(bind('/var/run/', '/host-run'))),
    case('the folder /var fails', FAIL, mounts(bind('/var', '/host-var'))),
    case('the host root / fails', FAIL, mounts(bind('/', '/host'))),
    case('a socket under another name whose target ends in docker.sock fails', FAIL,
         mounts(bind('/srv/engine/api', '/home/app/docker.sock'))),
    case('a source ending in docker.sock anywhere fails', FAIL, mounts(bind('/srv/x/docker.sock', '/s'))),
    case('/var//run (a doubled slash) fails', FAIL, mounts(bind('/var//run', '/host-run'))),
    case('/srv/../var/run (a dot-dot detour) fails', FAIL, mounts(bind('/srv/../var/run', '/host-run'))),
    case('a named volume mounted at /var/run/docker.sock fails', FAIL,
         mounts(volume('sock', '/var/run/docker.sock'))),
    case('a bind given only in HostConfig.Binds fails', FAIL,
         dict(host(Binds=['/var/run/docker.sock:/var/run/docker.sock:ro']), Mounts=ABSENT)),
    case('a bind given only in HostConfig.Mounts (--mount) fails', FAIL,
         dict(host(Mounts=[{'Type': 'bind', 'Source': '/run', 'Target': '/r', 'ReadOnly': True}]), Mounts=ABSENT)),
    case('an exception label cannot relax it', FAIL, mounts(bind('/var/run', '/r')),
         labels={EXCEPTION + 'no_docker_socket': 'CI runner'}),
    case('a local volume binding /var/run (a bind in disguise) fails', FAIL, mounts(volume('hostrun', '/r')),
         ctx=bind_volumes('/var/run', name='hostrun'), says='hostrun'),
    case('a local volume binding another folder passes', PASS, mounts(volume('hostrun', '/r')), ctx=bind_volumes('/srv/app', name='hostrun')),
]

# ---------------------------------------------------------------- baseline controls

CAP_ADD = 'HostConfig.CapAdd'
CAP_DROP_ALL = [
    case('CapDrop ALL and nothing added passes', PASS, host(CapDrop=['ALL'], CapAdd=None)),
    case('CapDrop all in lower case passes', PASS, host(CapDrop=['all'])),
    case('an empty CapDrop fails', FAIL, host(CapDrop=None), says='not ALL'),
    case('dropping one capability only fails', FAIL, host(CapDrop=['NET_RAW'])),
    case('ALL plus a named capability in CapDrop still drops all', PASS, host(CapDrop=['ALL', 'NET_RAW'])),
    case('an added capability without exception fails', FAIL, {CAP_ADD: ['NET_BIND_SERVICE']},
         says='NET_BIND_SERVICE'),
    case('net_bind_service excepted with a reason naming NET_BIND_SERVICE is excepted', EXCEPTED,
         {CAP_ADD: ['net_bind_service']}, exceptions={'cap_drop_all': 'binds port 80: NET_BIND_SERVICE'}),
    case('CAP_NET_BIND_SERVICE excepted with a reason naming net_bind_service is excepted', EXCEPTED,
         {CAP_ADD: ['CAP_NET_BIND_SERVICE']}, exceptions={'cap_drop_all': 'needs net_bind_service for :80'}),
    case('NET_BIND_SERVICE excepted with a reason naming CAP_NET_BIND_SERVICE is excepted', EXCEPTED,
         {CAP_ADD: ['NET_BIND_SERVICE']}, exceptions={'cap_drop_all': 'CAP_NET_BIND_SERVICE for port 80'}),
    case('an exception recorded as a label is read by the audit', EXCEPTED, {CAP_ADD: ['NET_BIND_SERVICE']},
         labels={EXCEPTION + 'cap_drop_all': 'NET_BIND_SERVICE: port 80'}),
    case('an exception reason that does not name the capability fails', FAIL, {CAP_ADD: ['NET_BIND_SERVICE']},
         exceptions={'cap_drop_all': 'the web server needs it'}, says='does not name NET_BIND_SERVICE'),
    case('an exception naming one of two added capabilities fails', FAIL, {CAP_ADD: ['NET_BIND_SERVICE', 'CHOWN']},
         exceptions={'cap_drop_all': 'NET_BIND_SERVICE for port 80'}, says='does not name CHOWN'),
    case('CapAdd while CapDrop is not ALL fails even with an exception naming it', FAIL,
         host(CapDrop=['NET_RAW'], CapAdd=['NET_BIND_SERVICE']),
         exceptions={'cap_drop_all': 'NET_BIND_SERVICE for port 80'}, says='CapDrop must still be ALL'),
    case('SYS_ADMIN is never addable, even with an exception naming it', FAIL, {CAP_ADD: ['SYS_ADMIN']},
         exceptions={'cap_drop_all': 'SYS_ADMIN to mount'}, says='never added'),
    case('cap_sys_admin spelled in lower case is still SYS_ADMIN and fails', FAIL, {CAP_ADD: ['cap_sys_admin']},
         exceptions={'cap_drop_all': 'cap_sys_admin'}, says='SYS_ADMIN is never added'),
    case('ALL is never addable, even with an exception naming it', FAIL, {CAP_ADD: ['ALL']},
         exceptions={'cap_drop_all': 'ALL of them'}, says='ALL is never added'),
    case('an empty exception reason does not except', FAIL, {CAP_ADD: ['NET_BIND_SERVICE']},
         exceptions={'cap_drop_all': ''}),
]

PIDS_LIMIT = [
    case('256 passes', PASS, host(PidsLimit=256)),
    case('1 passes', PASS, host(PidsLimit=1)),
    case('any ulimit passes (the pids limit bounds processes)', PASS,
         host(Ulimits=[{'Name': 'nofile', 'Soft': 1048576, 'Hard': 1048576}, {'Name': 'nproc', 'Soft': -1, 'Hard': -1}])),
    case('0 (unlimited) fails', FAIL, host(PidsLimit=0), says='no pids limit'),
    case('-1 (unlimited) fails', FAIL, host(PidsLimit=-1)),
    case('null (unlimited) fails', FAIL, host(PidsLimit=None)),
    case('a missing PidsLimit fails', FAIL, host(PidsLimit=ABSENT)),
    case('unlimited with an exception is excepted', EXCEPTED, host(PidsLimit=0),
         exceptions={'pids_limit': 'forks a worker per request'}),
]

NO_SWAP = [
    case('MemorySwap equal to Memory passes', PASS, host(Memory=128 * MiB, MemorySwap=128 * MiB)),
    case("MemorySwap 0 (Docker's default of twice the memory) fails", FAIL, host(MemorySwap=0),
         says="Docker's default"),
    case('MemorySwap null fails', FAIL, host(MemorySwap=None)),
    case('MemorySwap -1 (unlimited swap) fails', FAIL, host(MemorySwap=-1), says='can swap'),
    case('MemorySwap twice the memory fails', FAIL, host(MemorySwap=256 * MiB)),
    case('no memory limit at all fails', FAIL, host(Memory=0, MemorySwap=0)),
    case('swap with an exception is excepted', EXCEPTED, host(MemorySwap=256 * MiB),
         exceptions={'no_swap': 'batch job tolerates swapping'}),
]

NO_HOST_NAMESPACES = [
    case('own namespaces pass', PASS, {}),
    case("another container's network is not the host's and passes", PASS, host(NetworkMode='container:db')),
] + [
    case('%s host fails' % field, FAIL, {'HostConfig.' + field: 'host'}, says='%s is host' % field)
    for field in policy.HOST_NAMESPACE_FIELDS
] + [
    case('host in upper case fails too', FAIL, host(PidMode='HOST')),
    case('host network with an exception is excepted', EXCEPTED, host(NetworkMode='host'),
         exceptions={'no_host_namespaces': 'DHCP server'}),
]

SECURITY_PROFILES = [
    case('only no-new-privileges passes', PASS, host(SecurityOpt=['no-new-privileges:true'])),
    case('a custom seccomp profile passes', PASS,
         host(SecurityOpt=['no-new-privileges:true', 'seccomp=/etc/docker/seccomp/web.json'])),
    case('a named AppArmor profile passes', PASS, host(SecurityOpt=['no-new-privileges', 'apparmor=docker-default'])),
    case('an SELinux type passes', PASS, host(SecurityOpt=['no-new-privileges', 'label=type:svirt_apache_t'])),
] + [
    case('%s fails' % opt, FAIL, host(SecurityOpt=['no-new-privileges:true', opt]), says='turns a confinement off')
    for opt in ('seccomp=unconfined', 'seccomp:unconfined', 'SECCOMP=Unconfined', 'apparmor=unconfined',
                'apparmor:unconfined', 'label=disable', 'label:disable', 'systempaths=unconfined')
] + [
    case('seccomp=unconfined with an exception is excepted', EXCEPTED,
         host(SecurityOpt=['no-new-privileges', 'seccomp=unconfined']),
         exceptions={'security_profiles': 'strace in a debug build'}),
]

NO_SENSITIVE_MOUNTS = [
    case('no mounts pass', PASS, mounts()),
    case('a read-only bind of an application path passes', PASS, mounts(bind('/srv/app/config', '/config'))),
    case('/etcetera is not /etc and passes', PASS, mounts(bind('/etcetera', '/e'))),
    case('a read-only bind of one file under /etc passes', PASS, mounts(bind('/etc/myapp/tls.crt', '/run/tls.crt'))),
    case('a read-only bind of one folder under /etc passes', PASS, mounts(bind('/etc/myapp', '/config'))),
    case('a read-only bind of /etc/ssl/certs passes', PASS, mounts(bind('/etc/ssl/certs', '/certs'))),
    case('a read-write bind under /etc fails, even with the rw label', FAIL, mounts(bind('/etc/myapp', '/config', rw=True)),
         labels={policy.LABEL_RW_BINDS: '/config'}, says='sensitive host path'),
    case('/etc/myapp/../shadow (a detour to a credential store) fails', FAIL, mounts(bind('/etc/myapp/../shadow', '/s'))),
    case('a read-write named volume passes', PASS, mounts(volume('data', '/data'))),
    case('rslave propagation passes', PASS, mounts(bind('/srv/app', '/app', propagation='rslave'))),
] + [
    case('a read-only bind of %s fails' % path, FAIL, mounts(bind(path, '/host')), says='sensitive host path')
    for path in policy.SENSITIVE_HOST_PATHS
] + [
    case('a path under /etc fails', FAIL, mounts(bind('/etc/ssl/private', '/certs'))),
    case('/etc/../etc (a dot-dot detour) fails', FAIL, mounts(bind('/srv/../etc', '/e'))),
    case('a read-write bind without the rw label fails', FAIL, mounts(bind('/srv/app/data', '/data', rw=True)),
         says='read-write'),
    case('a read-write bind named in the rw-binds label passes', PASS,
         mounts(bind('/srv/app/data', '/data', rw=True)), labels={policy.LABEL_RW_BINDS: '/cache,/data'}),
    case('the rw-binds label for another target does not cover it', FAIL,
         mounts(bind('/srv/app/data', '/data', rw=True)), labels={policy.LABEL_RW_BINDS: '/cache'}),
    case('shared propagation fails', FAIL, mounts(bind('/srv/app', '/app', propagation='shared')),
         says='propagation'),
    case('rshared propagation fails', FAIL, mounts(bind('/srv/app', '/app', propagation='rshared'))),
    case('an rw bind only in HostConfig.Binds fails', FAIL,
         dict(host(Binds=['/srv/app/data:/data:rw']), Mounts=ABSENT), says='read-write'),
    case('rshared only in HostConfig.Binds fails', FAIL,
         dict(host(Binds=['/srv/app:/app:ro,rshared']), Mounts=ABSENT), says='propagation'),
    case('a bind of /etc with an exception is excepted', EXCEPTED, mounts(bind('/etc', '/host-etc')),
         exceptions={'no_sensitive_mounts': 'reads the host configuration'}),
    # a local volume with o=bind (or type=none) and device=PATH: a bind of PATH, read from the engine's volumes (ctx)
    case('a local volume binding an application path read-only passes', PASS, mounts(dict(volume('hostdata', '/data'), RW=False)),
         ctx=bind_volumes('/srv/app/data')),
    case('a local volume binding /etc read-only fails', FAIL, mounts(dict(volume('hostdata', '/data'), RW=False)),
         ctx=bind_volumes('/etc'), says='volume hostdata (a bind of /etc) of sensitive host path /etc'),
    case('a local volume with type=none binding /root fails', FAIL, mounts(dict(volume('hostdata', '/data'), RW=False)),
         ctx=bind_volumes('/root', o='rbind', type='none'), says='sensitive host path /root'),
    case('a local volume binding a host path read-write without the rw label fails', FAIL, mounts(volume('hostdata', '/data')),
         ctx=bind_volumes('/srv/app/data'), says='volume hostdata (a bind of /srv/app/data) on /data is read-write'),
    case('a local volume binding a host path read-write with the rw label passes', PASS, mounts(volume('hostdata', '/data')),
         ctx=bind_volumes('/srv/app/data'), labels={policy.LABEL_RW_BINDS: '/data'}),
    case('a local volume with device but no bind (a block device, nfs) is a volume and passes', PASS, mounts(volume('hostdata', '/data')),
         ctx=bind_volumes('/dev/sdb1', o='', type='ext4')),
    case('a volume of another driver with o=bind is that driver\'s and passes', PASS, mounts(volume('hostdata', '/data')),
         ctx={'volumes': {'hostdata': {'Driver': 'rexray', 'Options': {'o': 'bind', 'device': '/etc'}}}}),
    case('a local volume binding /etc with an exception is excepted', EXCEPTED, mounts(dict(volume('hostdata', '/data'), RW=False)),
         ctx=bind_volumes('/etc'), exceptions={'no_sensitive_mounts': 'reads the host configuration'}),
] + [
    case('a read-only bind of the credential store %s fails' % path, FAIL, mounts(bind(path, '/c')), says='sensitive host path')
    for path in policy.ETC_CREDENTIAL_STORES + ('/etc/sudoers.d/app', '/etc/ssh/sshd_config', '/etc/sudoers.bak', '/root/.ssh', '/home/app')
]

LOG_BOUNDED = [
    case('json-file with max-size and max-file passes', PASS, {}),
    case('local with max-size and max-file passes', PASS, host(LogConfig={'Type': 'local', 'Config': {'max-size': '20m', 'max-file': '5'}})),
] + [
    case('%s (logs off the container\'s disk) passes' % driver, PASS, host(LogConfig={'Type': driver, 'Config': {}}))
    for driver in ('journald', 'syslog', 'fluentd', 'gelf', 'awslogs', 'none')
] + [
    case('json-file without options fails', FAIL, host(LogConfig={'Type': 'json-file', 'Config': {}}), says='without max-size and max-file'),
    case('json-file with max-size only fails', FAIL, host(LogConfig={'Type': 'json-file', 'Config': {'max-size': '10m'}}),
         says='without max-file'),
    case('local with max-file only fails', FAIL, host(LogConfig={'Type': 'local', 'Config': {'max-file': '3'}}), says='without max-size'),
    case('max-size 0 is no bound and fails', FAIL, host(LogConfig={'Type': 'json-file', 'Config': {'max-size': '0', 'max-file': '3'}})),
    case("no log driver (the engine's default) fails", FAIL, host(LogConfig=ABSENT), says="engine's default"),
    case('json-file without rotation with an exception is excepted', EXCEPTED, host(LogConfig={'Type': 'json-file', 'Config': {}}),
         exceptions={'log_bounded': 'logrotate on the host truncates the files'}),
]

SAFE_SYSCTLS = [
    case('no sysctls pass', PASS, {}),
] + [
    case('%s passes' % key, PASS, host(Sysctls={key: '1'}))
    for key in ('net.ipv4.ip_unprivileged_port_start', 'net.core.somaxconn', 'kernel.shmmax', 'kernel.msgmax', 'kernel.sem',
                'fs.mqueue.msg_max')
] + [
    case('%s fails' % key, FAIL, host(Sysctls={key: '1'}), says='not namespaced')
    for key in ('vm.swappiness', 'kernel.panic', 'kernel.semx', 'fs.file-max', 'kernel.domainname')
] + [
    case('net.* with the host network fails', FAIL, host(Sysctls={'net.core.somaxconn': '1024'}, NetworkMode='host'),
         says="host's network namespace"),
    case('a host sysctl with an exception is excepted', EXCEPTED, host(Sysctls={'vm.overcommit_memory': '1'}),
         exceptions={'safe_sysctls': 'redis wants overcommit'}),
]

NO_DEVICES = [
    case('no devices pass', PASS, host(Devices=[], DeviceRequests=None)),
    case('a mapped device fails', FAIL,
         host(Devices=[{'PathOnHost': '/dev/fuse', 'PathInContainer': '/dev/fuse', 'CgroupPermissions': 'rwm'}]),
         says='/dev/fuse'),
    case('a device request (GPU) fails', FAIL,
         host(DeviceRequests=[{'Driver': 'nvidia', 'Count': -1, 'Capabilities': [['gpu']]}]), says='device requests'),
    case('a device with an exception is excepted', EXCEPTED,
         host(Devices=[{'PathOnHost': '/dev/kvm', 'PathInContainer': '/dev/kvm', 'CgroupPermissions': 'rwm'}]),
         exceptions={'no_devices': 'runs VMs for tests'}),
]

PORTS_BOUND = [
    case('no published ports pass', PASS, host(PortBindings={})),
    case('a port on 127.0.0.1 passes', PASS, ports('127.0.0.1')),
    case('a port on ::1 passes', PASS, ports('::1')),
    case('a random host port on an explicit address passes', PASS, ports('127.0.0.1', host_port='')),
    case('an empty host IP fails', FAIL, ports(''), says='all addresses'),
    case('a missing host IP fails', FAIL, ports(None)),
    case('0.0.0.0 fails', FAIL, ports('0.0.0.0')),
    case(':: fails', FAIL, ports('::')),
    case('[::] fails', FAIL, ports('[::]')),
    case('::0 (another spelling of ::) fails', FAIL, ports('::0')),
    case('0:0:0:0:0:0:0:0 fails', FAIL, ports('0:0:0:0:0:0:0:0')),
    case('::ffff:0.0.0.0 (0.0.0.0 mapped into IPv6) fails', FAIL, ports('::ffff:0.0.0.0')),
    case('a host IP that is not an address fails', FAIL, ports('localhost')),
    case('a host port below 1024 on an explicit address warns', WARN, ports('127.0.0.1', host_port='80'),
         says='below 1024'),
    case('a low host port on all addresses fails', FAIL, ports('0.0.0.0', host_port='80')),
    case('PublishAllPorts fails', FAIL, host(PublishAllPorts=True)),
    case('all addresses with an exception are excepted', EXCEPTED, ports('0.0.0.0'),
         exceptions={'ports_bound': 'public web server behind the host firewall'}),
]

# Measured on a fleet host (tests/faults/test_engine_restart.py, docs/policy.md): only `always` brings
# back both a service that exits 0 and one that exits non-zero on SIGTERM after a graceful engine
# restart and after a kill -9 of dockerd.
RESTART_POLICY = [
    case('always passes', PASS, host(RestartPolicy={'Name': 'always', 'MaximumRetryCount': 0})),
    case('no passes (one-shot jobs)', PASS, host(RestartPolicy={'Name': 'no', 'MaximumRetryCount': 0})),
    case('an empty name means no and passes', PASS, host(RestartPolicy={'Name': '', 'MaximumRetryCount': 0})),
    case('a missing restart policy means no and passes', PASS, host(RestartPolicy=ABSENT)),
    case('on-failure with 5 retries fails (an exit 0 on SIGTERM stays down)', FAIL,
         host(RestartPolicy={'Name': 'on-failure', 'MaximumRetryCount': 5}), says='exits 0 on SIGTERM'),
    case('on-failure with 1 retry fails', FAIL, host(RestartPolicy={'Name': 'on-failure', 'MaximumRetryCount': 1}),
         says='1 retries'),
    case('on-failure with 0 retries fails', FAIL, host(RestartPolicy={'Name': 'on-failure', 'MaximumRetryCount': 0})),
    case('unless-stopped fails (stays down after the engine is killed)', FAIL,
         host(RestartPolicy={'Name': 'unless-stopped', 'MaximumRetryCount': 0}), says='engine is killed'),
    case('an unknown policy fails', FAIL, host(RestartPolicy={'Name': 'sometimes', 'MaximumRetryCount': 0}),
         says='unknown'),
    case('on-failure with an exception is excepted', EXCEPTED, host(RestartPolicy={'Name': 'on-failure', 'MaximumRetryCount': 3}),
         exceptions={'restart_policy': 'a batch worker that must stay down once it finished'}),
]

OWNERS = {'1500': {'web'}, '1600': {'db'}}
UNIQUE_UID = [
    case('without a host context it passes (nothing to compare)', PASS, {}),
    case('the only service with its uid passes', PASS, {}, ctx={'uid_owners': OWNERS}),
    case('a uid shared with another service fails', FAIL, {}, ctx={'uid_owners': {'1500': {'web', 'db'}}},
         says='also used by db'),
    case('a uid spelled with leading zeros is the same uid and fails', FAIL, user('01500:1500'),
         ctx={'uid_owners': {'1500': {'db'}, '01500': {'web'}}}, says='db'),
    case('without a service label the container name is the service', PASS,
         {'Config.Labels': {}}, ctx={'uid_owners': {'1500': {'web'}}}),
    case('a shared uid with an exception is excepted', EXCEPTED, {}, ctx={'uid_owners': {'1500': {'web', 'db'}}},
         exceptions={'unique_uid': 'web and db share the data volume'}),
]

HEALTHCHECK = [
    case('a defined healthcheck passes', PASS, {}),
    case('no healthcheck warns, never fails', WARN, {'Config.Healthcheck': ABSENT}, says='no healthcheck'),
    case('a healthcheck of NONE (turned off) warns', WARN, {'Config.Healthcheck': {'Test': ['NONE']}}),
    case('an empty healthcheck test warns', WARN, {'Config.Healthcheck': {'Test': []}}),
]

NO_PLAIN_SECRET_ENV = [
    case('plain env with ordinary names passes', PASS, {'Config.Env': ['PATH=/bin', 'LOG_LEVEL=Sx9-info']}),
    case('a password in plain env warns, naming it and never its value', WARN,
         {'Config.Env': ['DB_PASSWORD=Sx9-hunter2']}, says='DB_PASSWORD looks like a secret passed as plain env'),
    case('tokens, secrets and *_KEY names warn', WARN,
         {'Config.Env': ['GH_TOKEN=Sx9-1', 'APP_SECRET=Sx9-2', 'AWS_ACCESS_KEY=Sx9-3']},
         says='APP_SECRET, AWS_ACCESS_KEY, GH_TOKEN look like secrets'),
    case('names the collection gave as secret_env (label) pass', PASS,
         {'Config.Env': ['DB_PASSWORD=Sx9-4'], 'Config.Labels': {'containment.secret-env': 'DB_PASSWORD'}}),
    case('a name like KEYBOARD_LAYOUT is no secret', PASS, {'Config.Env': ['KEYBOARD_LAYOUT=Sx9-de']}),
]

TABLES = {
    'non_root_user': NON_ROOT_USER,
    'no_new_privileges': NO_NEW_PRIVILEGES,
    'memory_limit': MEMORY_LIMIT,
    'cpu_limit': CPU_LIMIT,
    'read_only_rootfs': READ_ONLY_ROOTFS,
    'tmpfs_hardened': TMPFS_HARDENED,
    'not_privileged': NOT_PRIVILEGED,
    'no_docker_socket': NO_DOCKER_SOCKET,
    'cap_drop_all': CAP_DROP_ALL,
    'pids_limit': PIDS_LIMIT,
    'no_swap': NO_SWAP,
    'no_host_namespaces': NO_HOST_NAMESPACES,
    'security_profiles': SECURITY_PROFILES,
    'no_sensitive_mounts': NO_SENSITIVE_MOUNTS,
    'log_bounded': LOG_BOUNDED,
    'safe_sysctls': SAFE_SYSCTLS,
    'no_devices': NO_DEVICES,
    'ports_bound': PORTS_BOUND,
    'restart_policy': RESTART_POLICY,
    'unique_uid': UNIQUE_UID,
    'no_plain_secret_env': NO_PLAIN_SECRET_ENV,
    'healthcheck': HEALTHCHECK,
}


def all_cases(predicate=lambda control_id, c: True):
    return [pytest.param(control_id, c, id='%s: %s' % (control_id, c.sentence))
            for control_id, table in TABLES.items() for c in table if predicate(control_id, c)]


def finding_for(control_id, c, **overrides):
    kwargs = dict(ctx=c.ctx, exceptions=c.exceptions)
    kwargs.update(overrides)
    return policy.evaluate_control(policy.CONTROLS_BY_ID[control_id], c.inspect(), **kwargs)


@pytest.mark.parametrize('control_id, c', all_cases())
def test_control(control_id, c):
    finding = finding_for(control_id, c)
    for item in c.inspect()['Config'].get('Env') or []:  # no env value in any finding
        assert 'Sx9' not in repr(finding), finding
    assert finding['status'] == c.status, finding['message']
    assert finding['control'] == control_id
    if c.says:
        assert c.says in finding['message']
    if c.status == EXCEPTED:
        given = c.exceptions if c.exceptions is not None else policy.exceptions_of(c.inspect())
        assert finding['reason'] == given[control_id].strip()
    else:
        assert 'reason' not in finding


# ---------------------------------------------------------------- the table is the source of truth

def failing_status(control):
    return WARN if control.tier == policy.ADVISORY else FAIL


@pytest.mark.parametrize('control', policy.CONTROLS, ids=lambda c: c.id)
def test_every_control_has_cases(control):
    statuses = {c.status for c in TABLES.get(control.id, [])}
    assert PASS in statuses, 'no passing case for %s in TABLES' % control.id
    assert failing_status(control) in statuses, 'no failing case for %s in TABLES' % control.id
    if control.tier == policy.BASELINE:
        assert EXCEPTED in statuses, 'no case where an exception relaxes %s' % control.id


def test_tables_name_only_real_controls():
    assert set(TABLES) == set(policy.CONTROLS_BY_ID)


def test_every_control_carries_its_references_and_fix():
    for control in policy.CONTROLS:
        assert control.tier in (policy.FLOOR, policy.BASELINE, policy.ADVISORY)
        assert control.field and control.cis and control.pss and control.summary and control.fix
        assert set(control.as_dict()) == {'id', 'tier', 'field', 'cis', 'pss', 'summary', 'fix', 'run_fix'}


RUN_FIX_VERBS = ('run it ', 'give ', 'bind ', 'publish ', 'pass ', 'recreate ')


def test_every_container_control_says_the_docker_run_flag_for_containers_made_by_hand():
    for control in policy.AUDIT_CONTROLS:
        assert control.run_fix != control.fix and control.run_fix.startswith(RUN_FIX_VERBS), control.id
        assert control.fix_for(True) == control.fix and control.fix_for(False) == control.run_fix
    assert '--user 1500:1500' in policy.CONTROLS_BY_ID['non_root_user'].run_fix
    assert '--read-only' in policy.CONTROLS_BY_ID['read_only_rootfs'].run_fix
    assert '--memory 256m' in policy.CONTROLS_BY_ID['memory_limit'].run_fix
    for control in policy.DAEMON_CONTROLS:  # daemon.json is one place for every daemon
        assert control.run_fix == control.fix


def test_floor_ids_follow_the_design():
    assert policy.FLOOR_IDS == ('non_root_user', 'no_new_privileges', 'memory_limit', 'cpu_limit',
                                'read_only_rootfs', 'tmpfs_hardened', 'not_privileged', 'no_docker_socket')


# ---------------------------------------------------------------- exceptions, across controls

@pytest.mark.parametrize('control_id, c', all_cases(
    lambda control_id, c: c.status == FAIL and policy.CONTROLS_BY_ID[control_id].tier == policy.FLOOR))
def test_no_exception_relaxes_a_floor_control(control_id, c):
    reason = 'a long and careful reason'
    assert finding_for(control_id, c, exceptions={control_id: reason})['status'] == FAIL
    labelled = Case(c.sentence, FAIL, c.changes, dict(c.labels or {}, **{EXCEPTION + control_id: reason}), c.ctx)
    assert finding_for(control_id, labelled, exceptions=None)['status'] == FAIL


@pytest.mark.parametrize('reason', ['', '   ', '\n\t'], ids=['an empty reason', 'a blank reason', 'a newline and tab'])
@pytest.mark.parametrize('control_id, c', all_cases(
    lambda control_id, c: c.status == EXCEPTED and c.exceptions is not None))
def test_a_reasonless_exception_does_not_except(control_id, c, reason):
    assert finding_for(control_id, c, exceptions={control_id: reason})['status'] == FAIL


def test_an_exception_for_another_control_does_not_except():
    c = case('pids unlimited', FAIL, host(PidsLimit=0))
    assert finding_for('pids_limit', c, exceptions={'no_swap': 'swap is fine'})['status'] == FAIL


def test_explicit_exceptions_replace_the_labels():
    """validate_spec passes the spec's exceptions; the labels of the inspect dict are then ignored."""
    c = case('pids unlimited', FAIL, host(PidsLimit=0), labels={EXCEPTION + 'pids_limit': 'from a label'})
    assert finding_for('pids_limit', c, exceptions={})['status'] == FAIL
    assert finding_for('pids_limit', c, exceptions=None)['status'] == EXCEPTED


def test_exceptions_of_reads_only_exception_labels():
    inspect = build(labels={EXCEPTION + 'pids_limit': 'forks', EXCEPTION + 'no_swap': 'batch',
                            'org.opencontainers.image.title': 'web'})
    assert policy.exceptions_of(inspect) == {'pids_limit': 'forks', 'no_swap': 'batch'}


# ---------------------------------------------------------------- evaluate and summarize

def test_a_compliant_container_passes_every_control():
    findings = policy.evaluate(compliant_inspect())
    assert [f['control'] for f in findings] == [c.id for c in policy.CONTROLS]
    assert {f['control']: f['status'] for f in findings} == dict((c.id, PASS) for c in policy.CONTROLS)
    assert policy.summarize(findings) == {PASS: len(policy.CONTROLS), FAIL: 0, EXCEPTED: 0, WARN: 0}


def test_an_empty_inspect_fails_the_floor_without_crashing():
    findings = dict((f['control'], f) for f in policy.evaluate({}))
    for control_id in policy.FLOOR_IDS:
        if control_id not in ('tmpfs_hardened', 'not_privileged', 'no_docker_socket'):
            assert findings[control_id]['status'] == FAIL, control_id
    assert findings['healthcheck']['status'] == WARN


def test_a_finding_carries_evidence_references_and_fix():
    finding = finding_for('non_root_user', case('root', FAIL, user('root')))
    control = policy.CONTROLS_BY_ID['non_root_user']
    assert finding['evidence'] == {'Config.User': 'root', 'HostConfig.GroupAdd': []}
    assert (finding['cis'], finding['pss'], finding['field'], finding['fix'], finding['tier']) == (
        control.cis, control.pss, control.field, control.fix, policy.FLOOR)


def test_a_passing_finding_says_the_summary():
    finding = finding_for('read_only_rootfs', case('read-only', PASS, {}))
    assert finding['message'] == policy.CONTROLS_BY_ID['read_only_rootfs'].summary


def test_summarize_counts_each_status():
    inspect = build(host(PidsLimit=0, Privileged=True, MemorySwap=0), labels={EXCEPTION + 'pids_limit': 'forks'})
    del inspect['Config']['Healthcheck']
    counts = policy.summarize(policy.evaluate(inspect))
    assert counts == {PASS: len(policy.CONTROLS) - 4, FAIL: 2, EXCEPTED: 1, WARN: 1}


# ---------------------------------------------------------------- helpers the spec and audit share

@pytest.mark.parametrize('spelling', ['net_bind_service', 'CAP_NET_BIND_SERVICE', 'NET_BIND_SERVICE',
                                      ' cap_net_bind_service ', 'Cap_Net_Bind_Service'])
def test_capability_spellings_are_one_capability(spelling):
    assert policy.normalize_cap(spelling) == 'NET_BIND_SERVICE'


def test_normalize_caps_sorts_and_dedupes():
    assert policy.normalize_caps(['chown', 'CAP_CHOWN', 'NET_RAW']) == ['CHOWN', 'NET_RAW']
    assert policy.normalize_caps(None) == []


@pytest.mark.parametrize('opts, state', [
    ([], None),
    (['no-new-privileges'], True),
    (['no-new-privileges:true'], True),
    (['no-new-privileges=true'], True),
    (['no-new-privileges:false'], False),
    (['no-new-privileges', 'no-new-privileges:false'], False),
    (['no-new-privileges:FALSE', 'no-new-privileges:true'], False),
], ids=['absent', 'bare', 'colon true', 'equals true', 'colon false', 'false beside bare', 'false wins in any order'])
def test_no_new_privileges_state(opts, state):
    assert policy.no_new_privileges_state(opts) is state


@pytest.mark.parametrize('options, parsed', [
    ('rw,noexec,size=64m', {'rw': True, 'noexec': True, 'size': '64m'}),
    ('', {}),
    (' nosuid , mode=1777 ', {'nosuid': True, 'mode': '1777'}),
    ('noexec,exec', {'exec': True}),
    ('exec,noexec', {'noexec': True}),
    ('nodev,dev,nosuid,suid', {'dev': True, 'suid': True}),
], ids=['flags and values', 'empty', 'spaces', 'exec after noexec wins', 'noexec after exec wins',
        'dev and suid after their opposites win'])
def test_parse_tmpfs_options(options, parsed):
    assert policy.parse_tmpfs_options(options) == parsed


def test_an_image_cannot_grant_its_containers_an_exception():
    """Docker copies image labels onto containers: an exception label inherited unchanged from the
    image is not the collection's, so the control fails instead of showing as excepted."""
    label = EXCEPTION + 'pids_limit'
    inspect = build(host(PidsLimit=0), labels={label: 'the image says so'})
    assert policy.evaluate_control(policy.CONTROLS_BY_ID['pids_limit'], inspect)['status'] == EXCEPTED
    findings = policy.evaluate(inspect, {'image_labels': {label: 'the image says so'}})
    assert next(f for f in findings if f['control'] == 'pids_limit')['status'] == FAIL


def test_an_exception_set_on_the_container_still_counts_beside_image_labels():
    label = EXCEPTION + 'pids_limit'
    inspect = build(host(PidsLimit=0), labels={label: 'batch job forks a lot'})
    findings = policy.evaluate(inspect, {'image_labels': {label: 'something else', 'org.example': 'x'}})
    assert next(f for f in findings if f['control'] == 'pids_limit')['status'] == EXCEPTED
