# -*- coding: utf-8 -*-
# Copyright: containment.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the containment.docker collection: no compatibility promise outside it.
#
# One run per engine at a time. Controllers share no filesystem, so the lock lives on the engine:
# a container named `containment-lock` (never started). Container names are unique on an engine and
# reserved atomically, so of two runs creating it at once exactly one succeeds. Its labels say who
# holds it (user@host, pid), since when, and how to tell that the holder died:
#   - on the same machine (same machine id and boot id), the holder's pid is gone or is another process;
#   - the machine rebooted since (same machine id, other boot id);
#   - otherwise (a run on another controller, over TCP): its lease ran out.
# A stale lock is removed (by id, so two runs breaking it at once cannot remove a fresh one) and the
# break is reported.

from __future__ import annotations

import getpass
import os
import socket
import time

from ansible_collections.containment.docker.plugins.module_utils._connection import EngineError
from ansible_collections.containment.docker.plugins.module_utils._policy import LABEL_LOCK as LABEL

_HOLDER, _PID, _START, _BOOT, _MACHINE, _SINCE, _EXPIRES = (
    LABEL + '.' + key for key in ('holder', 'pid', 'pid-start', 'boot-id', 'machine-id', 'since', 'expires'))
# a run's lease: this much beyond what its own waits can add up to (see lease_for)
LEASE_MARGIN = 900


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return ''


def process_start(pid):
    """The start time of a process (clock ticks since boot, /proc/PID/stat field 22), '' if there is none."""
    stat = _read('/proc/%d/stat' % pid)
    # the command name (field 2) is in parentheses and may hold spaces
    fields = stat.rpartition(')')[2].split()
    return fields[19] if len(fields) > 19 else ''


def machine():
    """(machine id, boot id) of the machine this runs on; '' where the system does not tell."""
    return (_read('/etc/machine-id') or _read('/var/lib/dbus/machine-id'),
            _read('/proc/sys/kernel/random/boot_id'))


def holder_labels(lease, now=None, pid=None):
    now = time.time() if now is None else now
    pid = os.getpid() if pid is None else pid
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry for the uid (containers, odd hosts): the uid says enough
        user = str(os.getuid())
    machine_id, boot_id = machine()
    return {LABEL: 'true', _HOLDER: '%s@%s' % (user, socket.gethostname()), _PID: str(pid),
            _START: process_start(pid), _BOOT: boot_id, _MACHINE: machine_id,
            _SINCE: time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now)), _EXPIRES: str(int(now + lease))}


def describe(labels):
    return '%s (pid %s) since %s' % (labels.get(_HOLDER) or 'an unknown run', labels.get(_PID) or '?',
                                     labels.get(_SINCE) or 'an unknown time')


def stale_reason(labels, now=None, here=None, start_of=process_start):
    """Why a lock with these labels is stale, or None while its holder may still be running. Pure but
    for start_of (the start time of a local pid)."""
    now = time.time() if now is None else now
    machine_id, boot_id = here if here is not None else machine()
    try:
        expires = int(labels.get(_EXPIRES) or 0)
    except ValueError:
        expires = 0
    if expires and now > expires:
        return 'its lease ran out at %s' % time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires))
    if machine_id and labels.get(_MACHINE) == machine_id:
        if boot_id and labels.get(_BOOT) and labels.get(_BOOT) != boot_id:
            return 'the machine it ran on has rebooted since'
        try:
            pid = int(labels.get(_PID) or 0)
        except ValueError:
            pid = 0
        if pid and labels.get(_BOOT) == boot_id and start_of(pid) != labels.get(_START):
            return 'its process %d is gone' % pid
    if not expires:
        return 'it names no lease'
    return None


def lease_for(specs_ops):
    """Seconds a run may hold the lock before another controller may take it as dead: the run's own
    stop timeouts and watches, plus a margin for the engine calls."""
    return LEASE_MARGIN + int(sum((spec.get('stop_timeout') or 0) + max(ops.get('grace_period') or 0, ops.get('healthy_timeout') or 0)
                                  for spec, ops in specs_ops))


class HostLock(object):
    """`with HostLock(engine, timeout, lease):` holds the engine's lock; with wait_only it only waits
    until nobody holds it (check mode: a plan never reads a half-done replace, and takes no lock).
    `broken` lists the stale locks it removed, as report lines."""

    def __init__(self, engine, timeout, lease, wait_only=False, clock=time.monotonic, sleep=time.sleep):
        self.engine, self.timeout, self.lease, self.wait_only = engine, timeout, lease, wait_only
        self.clock, self.sleep = clock, sleep
        self.lock_id = None
        self.broken = []

    def __enter__(self):
        deadline = self.clock() + self.timeout
        delay = 0.1
        while True:
            if not self.wait_only:
                self.lock_id = self.engine.create_lock(holder_labels(self.lease))
                if self.lock_id:
                    return self
            holder = self.engine.lock_holder()
            if holder is None:
                if self.wait_only:
                    return self
                continue  # released between our create and our look: try again at once
            labels = (holder.get('Config') or {}).get('Labels') or {}
            why = stale_reason(labels)
            if why:
                self.engine.remove(holder['Id'])
                self.broken.append('removed the stale host lock of %s: %s' % (describe(labels), why))
                continue
            if self.clock() >= deadline:
                raise EngineError(
                    'another run holds the host lock: %s; waited %d s. Fix: let that run finish and run again, or raise '
                    'lock_timeout; if that run is gone for good (and ran on another machine, so its death cannot be seen '
                    'from here), remove the container %s on this engine' % (describe(labels), self.timeout, holder['Name'].lstrip('/')))
            self.sleep(delay)
            delay = min(delay * 2, 1.0)

    def __exit__(self, *exc_info):
        if self.lock_id:
            try:
                self.engine.remove(self.lock_id)
            except EngineError:
                pass  # the next run sees our pid gone and breaks it
            self.lock_id = None
        return False
