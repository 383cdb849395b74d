"""A Docker engine served over TCP with mutual TLS, for the connection tests.

    TlsEngine(workdir, prefix, net).start()  ... .stop()

A CA and certificates made by openssl for this one engine (and a second, unrelated CA, to
stand for a wrong CA and for a corporate REQUESTS_CA_BUNDLE); a network namespace with a veth
pair (NET.250.1 outside, NET.250.2 inside); a dockerd in it (nsenter --net, never
`ip netns exec`) with its own data-root, exec-root, pidfile, containerd namespace and cgroup
parent, listening on tcp://NET.250.2:2376 with --tlsverify and, for the tests' own checks with
the docker CLI, on a unix socket of its own; the busybox test image loaded into it.
stop() removes every container, stops the daemon by its pid, its containerd and shims, unmounts
what is left under its roots, deletes the veth, the netns and the cgroups, and removes the files.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

SERVER_NAME = "engine.containment.test"


def run(*cmd, check=True, **kwargs):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check, **kwargs)


def _openssl_cert(directory, name, ca, subject, extensions):
    key, csr, cert, ext = (directory / ("%s-key.pem" % name), directory / ("%s.csr" % name),
                           directory / ("%s.pem" % name), directory / ("%s.ext" % name))
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-subj", subject, "-out", str(csr))
    ext.write_text(extensions, encoding="utf-8")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
        "-days", "2", "-sha256", "-extfile", str(ext), "-out", str(cert))
    return cert, key


def _openssl_ca(directory, name):
    key, cert = directory / ("%s-key.pem" % name), directory / ("%s.pem" % name)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-subj", "/CN=%s" % name, "-days", "2", "-sha256", "-out", str(cert),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


class TlsEngine(object):

    def __init__(self, workdir, prefix="cdcon", net="10.245"):
        self.workdir = Path(workdir)
        self.name = "%stls" % prefix                  # netns, veth (<= 15 chars), cgroup parent
        self.veth = "%stls0" % prefix
        self.address = "%s.250.2" % net
        self.url = "tcp://%s:2376" % self.address
        self.run_dir = Path("/run/%s" % self.name)
        self.data_root = Path("/var/lib/%s" % self.name)
        self.socket = self.run_dir / "docker.sock"
        self.pki = self.workdir / "pki"
        self.net = net
        self.pid = None

    # ------------------------------------------------------------ certificates
    def make_certificates(self):
        self.pki.mkdir(parents=True, exist_ok=True)
        self.ca = _openssl_ca(self.pki, "ca")
        self.other_ca = _openssl_ca(self.pki, "other-ca")
        self.server = _openssl_cert(self.pki, "server", self.ca, "/CN=%s" % SERVER_NAME,
                                    "subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=serverAuth\n" % (SERVER_NAME, self.address))
        self.client = _openssl_cert(self.pki, "client", self.ca, "/CN=containment-tests", "extendedKeyUsage=clientAuth\n")
        self.stranger = _openssl_cert(self.pki, "stranger", self.other_ca, "/CN=stranger", "extendedKeyUsage=clientAuth\n")
        # DOCKER_CERT_PATH layout: ca.pem, cert.pem, key.pem
        self.cert_dir = self.workdir / "docker-cert-path"
        self.cert_dir.mkdir(exist_ok=True)
        for source, target in ((self.ca[0], "ca.pem"), (self.client[0], "cert.pem"), (self.client[1], "key.pem")):
            shutil.copy(source, self.cert_dir / target)

    def options(self, **more):
        """Module options that reach this engine with mutual TLS."""
        options = dict(docker_host=self.url, validate_certs=True, ca_path=str(self.ca[0]),
                       client_cert=str(self.client[0]), client_key=str(self.client[1]))
        options.update(more)
        return options

    # ------------------------------------------------------------ the daemon
    def docker(self, *args, check=True):
        return run("docker", "-H", "unix://%s" % self.socket, *args, check=check)

    def start(self, images, wait=60):
        self.stop()  # leftovers of an earlier, killed session
        self.make_certificates()
        ns = "/run/netns/%s" % self.name
        run("ip", "netns", "add", self.name)
        run("ip", "-n", self.name, "link", "set", "lo", "up")
        run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.name)
        run("ip", "addr", "add", "%s.250.1/24" % self.net, "dev", self.veth)
        run("ip", "-n", self.name, "addr", "add", "%s/24" % self.address, "dev", "eth0")
        run("ip", "link", "set", self.veth, "up")
        run("ip", "-n", self.name, "link", "set", "eth0", "up")
        (self.run_dir / "exec").mkdir(parents=True, exist_ok=True)
        self.data_root.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "daemon.json").write_text("{}", encoding="utf-8")
        log = open(self.run_dir / "dockerd.log", "ab")
        proc = subprocess.Popen(
            ["nsenter", "--net=%s" % ns, "dockerd", "--config-file", str(self.run_dir / "daemon.json"),
             "-H", "unix://%s" % self.socket, "-H", self.url,
             "--tlsverify", "--tlscacert", str(self.ca[0]), "--tlscert", str(self.server[0]), "--tlskey", str(self.server[1]),
             "--data-root", str(self.data_root), "--exec-root", str(self.run_dir / "exec"),
             "--pidfile", str(self.run_dir / "docker.pid"), "--containerd-namespace", self.name,
             "--containerd-plugins-namespace", self.name + "-plugins", "--cgroup-parent", "/" + self.name,
             "--bip", "%s.251.1/24" % self.net, "--default-address-pool", "base=%s.252.0/22,size=26" % self.net],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        self.pid = proc.pid
        self._proc = proc
        deadline = time.monotonic() + wait
        while self.docker("version", "--format", "{{.Server.Version}}", check=False).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the TLS dockerd did not come up:\n%s" % self.log_tail())
            time.sleep(0.2)
        saved = self.workdir / "images.tar"
        run("docker", "save", "-o", str(saved), *images)
        self.docker("load", "-q", "-i", str(saved))
        saved.unlink()
        return self

    def log_tail(self, lines=30):
        try:
            return "\n".join((self.run_dir / "dockerd.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _daemon_pid(self):
        if self.pid and os.path.exists("/proc/%d" % self.pid):
            return self.pid
        try:
            pid = int((self.run_dir / "docker.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            comm = Path("/proc/%d/comm" % pid).read_text().strip()
        except OSError:
            return None
        return pid if comm == "dockerd" else None

    def _ours(self):
        """pids of processes (containerd, shims) whose command line names our roots, in our mount namespace."""
        me = os.readlink("/proc/self/ns/mnt")
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/ns/mnt" % entry) != me:
                    continue
                cmdline = Path("/proc/%s/cmdline" % entry).read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(self.run_dir) + "/" in cmdline or str(self.data_root) + "/" in cmdline:
                found.append(int(entry))
        return [pid for pid in found if pid != os.getpid()]

    def _wait_gone(self, pids, seconds):
        deadline = time.monotonic() + seconds
        while True:
            if getattr(self, "_proc", None) is not None:
                self._proc.poll()  # our own child: reap it, or it stays in /proc as a zombie
            if not any(os.path.exists("/proc/%d" % pid) for pid in pids):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def _signal(self, pids, sig):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self):
        pid = self._daemon_pid()
        if pid:
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", "-v", *ids, check=False)
            self._signal([pid], signal.SIGTERM)
            if not self._wait_gone([pid], 30):
                self._signal([pid], signal.SIGKILL)
                self._wait_gone([pid], 5)
        rest = self._ours()
        if rest:
            self._signal(rest, signal.SIGTERM)
            if not self._wait_gone(rest, 10):
                self._signal(rest, signal.SIGKILL)
                self._wait_gone(rest, 5)
        mounts = []
        with open("/proc/self/mountinfo") as handle:
            for line in handle:
                point = line.split()[4].replace("\\040", " ")
                if any(point == str(root) or point.startswith(str(root) + "/") for root in (self.data_root, self.run_dir)):
                    mounts.append(point)
        for point in sorted(mounts, key=len, reverse=True):
            if run("umount", point, check=False).returncode:
                run("umount", "-l", point, check=False)
        run("ip", "link", "del", self.veth, check=False)
        if os.path.exists("/run/netns/%s" % self.name):
            run("ip", "netns", "delete", self.name, check=False)
        for cgroup in Path("/sys/fs/cgroup").glob("*/%s" % self.name):
            for directory in sorted((p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: len(str(p)), reverse=True):
                try:
                    directory.rmdir()
                except OSError:
                    pass
            try:
                cgroup.rmdir()
            except OSError:
                pass
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.data_root, ignore_errors=True)
        self.pid = None

    def leftovers(self):
        """What stop() should have removed and did not (empty when clean)."""
        left = []
        if os.path.exists("/run/netns/%s" % self.name):
            left.append("netns %s" % self.name)
        if run("ip", "link", "show", self.veth, check=False).returncode == 0:
            left.append("veth %s" % self.veth)
        for path in (self.run_dir, self.data_root):
            if path.exists():
                left.append(str(path))
        if self._ours():
            left.append("processes %s" % self._ours())
        left.extend(str(c) for c in Path("/sys/fs/cgroup").glob("*/%s" % self.name))
        return left
