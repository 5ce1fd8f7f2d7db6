"""The Debian package: `cpack -G DEB` from the build directory, installed with
apt into a fresh Debian 12 (bookworm) root, so that its Depends are resolved
from the Debian mirror this machine's apt uses, then checked: ringqd runs in
that root and accepts the installed /etc/ringq/ringqd.conf, the unit is where
systemd looks for units and names files that exist, the wallboard page and
the plugins are where the configuration says, `dpkg -L ringq` lists them,
the installed daemon serves its Unix socket and wallboard page when run as
the unit runs it, and the package purges cleanly.

The root comes from `debootstrap --variant=minbase --include=systemd` (the
smallest Debian 12 with the init the unit is written for; systemd-analyze
verify needs its units), cached as a tar file under /var/cache/ringq-test,
one per day: about a minute to make, then a run takes seconds. Needs root
(chroot), network to the mirror, debootstrap and dpkg-dev (tools/quickstart
installs them) and env RINGQ_BUILD_DIR, a finished build configured by
tests/CMakeLists.txt."""

import datetime
import fcntl
import glob
import os
import re
import shutil
import subprocess
import signal
import tempfile
import time
import unittest
import urllib.request

from redis_server import RedisServer, free_port
from ringq_harness import Client

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
SUITE = "bookworm"
CACHE_DIR = "/var/cache/ringq-test"
CONF = "/etc/ringq/ringqd.conf"
UNIT = "/lib/systemd/system/ringqd.service"
# Inside the root: no locale data beyond C, no service starts.
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/root",
              "DEBIAN_FRONTEND": "noninteractive"}


def run(cmd, timeout=600, **kw):
    """Runs cmd, returns the CompletedProcess; raises with its output on failure."""
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if out.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(cmd), out.returncode, out.stdout,
                                                    out.stderr))
    return out


def apt_sources():
    """[(uri, suite)] of the Debian archive entries of this machine's apt
    (deb822 .sources files and one-line .list files), main component."""
    found = []
    files = sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
    for path in files:
        with open(path) as f:
            stanzas = re.split(r"\n\s*\n", f.read())
        for stanza in stanzas:
            fields = {}
            for line in stanza.splitlines():
                m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                if m and not line.startswith("#"):
                    fields[m.group(1).lower()] = m.group(2).split()
            if fields.get("enabled", ["yes"])[0] == "no" or "deb" not in fields.get("types", []):
                continue
            if "main" not in fields.get("components", []):
                continue
            for uri in fields.get("uris", []):
                for suite in fields.get("suites", []):
                    found.append((uri, suite))
    lists = sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
    if os.path.exists("/etc/apt/sources.list"):
        lists.insert(0, "/etc/apt/sources.list")
    for path in lists:
        with open(path) as f:
            for line in f:
                m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
                if m and "main" in m.group(3).split():
                    found.append((m.group(1), m.group(2)))
    return [(uri, suite) for uri, suite in found
            if suite in (SUITE, SUITE + "-updates", SUITE + "-security")]


def unmount_under(path):
    """Unmounts whatever is mounted at or below path (deepest first), so that
    removing path cannot reach into a mounted file system."""
    with open("/proc/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    prefix = os.path.realpath(path) + "/"
    for point in sorted((p for p in points if (p + "/").startswith(prefix)), reverse=True):
        subprocess.run(["umount", point], capture_output=True, timeout=60)
    with open("/proc/mounts") as f:
        return not any((line.split()[1] + "/").startswith(prefix) for line in f)


def remove_tree(path):
    if unmount_under(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        print("package: %s still has mounts; left in place" % path)


def cached_root(mirror):
    """The tar file of a minbase bookworm root with systemd made today, made now if
    missing (older ones are removed). Returns (path, seconds spent making it
    or None when it was cached)."""
    os.makedirs(CACHE_DIR, exist_ok=True)
    name = "%s-minbase-systemd-%s.tar" % (SUITE, datetime.date.today().strftime("%Y%m%d"))
    path = os.path.join(CACHE_DIR, name)
    with open(os.path.join(CACHE_DIR, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(path):
            return path, None
        started = time.monotonic()
        work = tempfile.mkdtemp(prefix="debootstrap-", dir=CACHE_DIR)
        try:
            run(["debootstrap", "--variant=minbase", "--include=systemd", SUITE, work, mirror],
                timeout=1800)
            # apt's downloaded .debs are not part of a fresh root
            for deb in glob.glob(os.path.join(work, "var/cache/apt/archives/*.deb")):
                os.unlink(deb)
            os.chmod(work, 0o755)  # becomes "/": not mkdtemp's 0700
            run(["tar", "-C", work, "-cf", path + ".part", "."], timeout=600)
            os.rename(path + ".part", path)
        finally:
            remove_tree(work)
            if os.path.exists(path + ".part"):
                os.unlink(path + ".part")
        for old in glob.glob(os.path.join(CACHE_DIR, "%s-minbase-systemd-*.tar" % SUITE)):
            if old != path:
                os.unlink(old)
        return path, time.monotonic() - started


def cmake_cache(build_dir, key):
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"^%s:[A-Z]+=(.*)$" % re.escape(key), line)
            if m:
                return m.group(1)
    raise AssertionError("%s not in %s/CMakeCache.txt" % (key, build_dir))


class Package(unittest.TestCase):
    """One package build and install (setUpClass); the tests read the root."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: chroot and a Debian root owned by root")
        for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps", "debootstrap", "chroot", "tar",
                     "systemctl", "systemd-analyze"):
            if shutil.which(tool) is None:
                raise AssertionError("%s not found (tools/quickstart test installs it)" % tool)
        cls.build_dir = os.environ["RINGQ_BUILD_DIR"]
        cls.version = cmake_cache(cls.build_dir, "CMAKE_PROJECT_VERSION")
        cls.scratch = tempfile.mkdtemp(prefix="ringq-package-", dir="/var/tmp")
        os.chmod(cls.scratch, 0o755)  # the root's unprivileged users reach their files
        cls.root = os.path.join(cls.scratch, "root")
        try:
            cls._build_and_install()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _build_and_install(cls):
        t0 = time.monotonic()
        run(["cpack", "-G", "DEB", "--config", os.path.join(cls.build_dir, "CPackConfig.cmake"),
             "-B", os.path.join(cls.scratch, "pkg")], timeout=600, cwd=cls.scratch)
        debs = glob.glob(os.path.join(cls.scratch, "pkg", "ringq_*.deb"))
        assert len(debs) == 1, debs
        cls.deb = debs[0]
        t_cpack = time.monotonic() - t0

        sources = apt_sources()
        mirrors = [uri for uri, suite in sources if suite == SUITE]
        if not mirrors:
            raise AssertionError("no Debian %s archive with component main in /etc/apt" % SUITE)
        tar, t_debootstrap = cached_root(mirrors[0])

        t0 = time.monotonic()
        os.makedirs(cls.root)
        run(["tar", "-C", cls.root, "-xf", tar], timeout=600)
        os.chmod(cls.root, 0o755)  # "/" of the root, whatever mode the tar says
        # The root's apt reads the archives this machine's apt reads.
        with open(os.path.join(cls.root, "etc/apt/sources.list"), "w") as f:
            for uri, suite in sources:
                f.write("deb %s %s main\n" % (uri, suite))
        shutil.copy("/etc/resolv.conf", os.path.join(cls.root, "etc/resolv.conf"))
        # As in any chroot: maintainer scripts may not start services.
        policy = os.path.join(cls.root, "usr/sbin/policy-rc.d")
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
        run(["mount", "-t", "proc", "proc", os.path.join(cls.root, "proc")])
        shutil.copy(cls.deb, os.path.join(cls.root, "tmp/ringq.deb"))
        cls.chroot(["apt-get", "update", "-q"])
        # Recommends (redis-server) are left out: its service is not what is tested.
        cls.install_log = cls.chroot(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                                      "/tmp/ringq.deb"]).stdout
        t_install = time.monotonic() - t0
        print("package: cpack %.1f s, debootstrap %s, root + apt-get install %.1f s" %
              (t_cpack, "cached" if t_debootstrap is None else "%.1f s" % t_debootstrap,
               t_install))

    @classmethod
    def tearDownClass(cls):
        remove_tree(cls.scratch)

    @classmethod
    def chroot(cls, cmd, check=True, timeout=600):
        full = ["chroot", cls.root] + cmd
        if check:
            return run(full, timeout=timeout, env=CHROOT_ENV)
        return subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                              env=CHROOT_ENV)

    def run_host(self, cmd, ok=(0,)):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertIn(out.returncode, ok, "%s\n%s%s" % (" ".join(cmd), out.stdout, out.stderr))
        return out

    def in_root(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def listed(self):
        return set(self.chroot(["dpkg", "-L", "ringq"]).stdout.split("\n"))

    def installed_conf(self):
        with open(self.in_root(CONF)) as f:
            return f.read()

    def test_control(self):
        fields = {}
        for name in ("Package", "Version", "Section", "Maintainer", "Depends", "Recommends"):
            fields[name] = run(["dpkg-deb", "-f", self.deb, name]).stdout.strip()
        self.assertEqual(fields["Package"], "ringq")
        self.assertEqual(fields["Version"], self.version + "-1")
        self.assertEqual(fields["Section"], "net")
        self.assertEqual(fields["Maintainer"], "ringq developers")
        self.assertEqual(fields["Recommends"], "redis-server")
        # dpkg-shlibdeps found the libraries ringqd links
        depends = [d.strip().split()[0] for d in fields["Depends"].split(",")]
        for lib in ("libc6", "libevent-2.1-7", "libjansson4", "libconfig9", "libhiredis0.14",
                    "libsystemd0", "procps"):
            self.assertIn(lib, depends, fields["Depends"])
        conffiles = self.chroot(["dpkg-query", "-W", "-f", "${Conffiles}", "ringq"]).stdout
        self.assertRegex(conffiles, r"(?m)^ %s [0-9a-f]{32}$" % re.escape(CONF))
        status = self.chroot(["dpkg-query", "-W", "-f", "${Status}", "ringq"]).stdout
        self.assertEqual(status, "install ok installed")

    def test_daemon_runs_in_root(self):
        out = self.chroot(["/usr/sbin/ringqd", "--version"])
        self.assertIn(self.version, out.stdout + out.stderr)
        out = self.chroot(["/usr/sbin/ringqd", "--check-config", CONF], check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_unit_where_systemd_looks(self):
        unit = self.in_root(UNIT)
        self.assertTrue(os.path.isfile(unit), unit)
        # systemd's own lookup in the root finds it: enabling it there
        # links it into multi-user.target.wants (then it is disabled again).
        self.assertEqual(
            self.run_host(["systemctl", "--root", self.root, "is-enabled", "ringqd.service"],
                          ok=(0, 1)).stdout.strip(), "disabled")
        self.run_host(["systemctl", "--root", self.root, "enable", "ringqd.service"])
        wants = self.in_root("/etc/systemd/system/multi-user.target.wants/ringqd.service")
        self.assertTrue(os.path.islink(wants), wants)
        self.run_host(["systemctl", "--root", self.root, "disable", "ringqd.service"])
        self.assertFalse(os.path.lexists(wants))
        # Every command the unit runs is an executable of the root, and the
        # configuration it names is the installed one.
        with open(unit) as f:
            text = f.read()
        commands = re.findall(r"(?m)^Exec[A-Za-z]*=[-@:+!]*(\S+)", text)
        self.assertIn("/usr/sbin/ringqd", commands)
        for cmd in commands:
            self.assertTrue(os.access(self.in_root(cmd), os.X_OK), cmd)
        self.assertIn("-c %s" % CONF, text)
        self.assertIn("RuntimeDirectory=ringq", text)
        out = self.run_host(["systemd-analyze", "verify", "--root", self.root,
                             "--man=no", "ringqd.service"])
        self.assertEqual(out.stderr.strip(), "")
        self.assertEqual(out.stdout.strip(), "")

    def test_files_where_the_config_says(self):
        text = self.installed_conf()
        # http.wallboard: the installed page, the repository's copy
        m = re.search(r'(?m)^\s*wallboard\s*=\s*"([^"]+)"', text)
        self.assertIsNotNone(m, "http.wallboard not set in the installed config")
        page = m.group(1)
        self.assertTrue(page.startswith("/"), page)
        with open(self.in_root(page), "rb") as f, \
                open(os.path.join(SOURCE_DIR, "web", "wallboard.html"), "rb") as g:
            self.assertEqual(f.read(), g.read())
        # the Unix socket in the unit's RuntimeDirectory
        self.assertRegex(text, r'(?m)^\s*unix\s*=\s*"/run/ringq/ringqd\.sock"')
        # plugins named in the config exist; the installed plugins load
        # into the installed daemon
        for path in re.findall(r'"([^"]+\.so)"', text):
            self.assertTrue(os.path.isfile(self.in_root(path)), path)
        plugins = sorted(p for p in self.listed() if re.search(r"/ringq/plugins/[^/]+\.so$", p))
        self.assertTrue(plugins, "no plugin in dpkg -L ringq")
        self.assertIsNone(re.search(r"(?m)^\s*plugins\s*=", text))
        with open(self.in_root("/tmp/with-plugins.conf"), "w") as f:
            f.write(text + "\nplugins = [ %s ];\n" % ", ".join('"%s"' % p for p in plugins))
        out = self.chroot(["/usr/sbin/ringqd", "--check-config", "/tmp/with-plugins.conf"],
                          check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_dpkg_lists_the_files(self):
        listed = self.listed()
        want = ["/usr/sbin/ringqd", UNIT, CONF, "/usr/share/ringq/wallboard.html",
                "/usr/share/doc/ringq/README.md"]
        want += ["/usr/share/doc/ringq/" + os.path.basename(p)
                 for p in glob.glob(os.path.join(SOURCE_DIR, "docs", "*.md"))]
        # the admin CLI, when this build made it
        if any(os.path.isfile(p) and os.access(p, os.X_OK)
               for p in glob.glob(os.path.join(self.build_dir, "**", "ringqctl"), recursive=True)):
            want.append("/usr/bin/ringqctl")
        for path in want:
            self.assertIn(path, listed)
            self.assertTrue(os.path.lexists(self.in_root(path)), path)

    def test_runs_as_the_unit_would(self):
        # The installed config, run in the root as the unit runs it: an
        # unprivileged user (DynamicUser) with /run/ringq made for it
        # (RuntimeDirectory=ringq). Only the ports change: free ones, and a
        # private redis-server for the sample's Redis.
        redis = RedisServer(persist=False).start()
        self.addCleanup(redis.cleanup)
        ndjson_port, http_port = free_port(), free_port()
        text = self.installed_conf()
        for old, new in (("port = 7340;", ndjson_port), ("port = 7341;", http_port),
                         ("port = 6379;", redis.port)):
            text, n = re.subn(r"(?m)^(\s*)%s$" % re.escape(old), r"\g<1>port = %d;" % new, text)
            self.assertEqual(n, 1, old)
        with open(self.in_root("/tmp/run.conf"), "w") as f:
            f.write(text)
        rundir = self.in_root("/run/ringq")
        os.makedirs(rundir, mode=0o755, exist_ok=True)
        os.chown(rundir, 65534, 65534)
        self.addCleanup(shutil.rmtree, rundir, ignore_errors=True)
        log = open(os.path.join(self.scratch, "ringqd.log"), "w+")
        self.addCleanup(log.close)
        proc = subprocess.Popen(["chroot", "--userspec=65534:65534", self.root,
                                 "/usr/sbin/ringqd", "-c", "/tmp/run.conf"],
                                stdout=log, stderr=log, env=CHROOT_ENV)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        sock = os.path.join(rundir, "ringqd.sock")
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        log.seek(0)
        self.assertTrue(os.path.exists(sock), "no %s; ringqd log:\n%s" % (sock, log.read()))
        c = Client(path=sock)
        self.addCleanup(c.close)
        c.ok("ping")
        c.hello("monitor", name="wallboard")
        snap = c.ok("snapshot")
        self.assertTrue(snap["queues"], snap)
        # the page at /wallboard is the installed one
        with urllib.request.urlopen("http://127.0.0.1:%d/wallboard" % http_port, timeout=10) as r:
            self.assertEqual(r.status, 200)
            body = r.read()
        with open(os.path.join(SOURCE_DIR, "web", "wallboard.html"), "rb") as f:
            self.assertEqual(body, f.read())
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0)

    # Runs last (unittest orders the methods by name): it removes the package.
    def test_zz_remove_and_purge(self):
        self.chroot(["dpkg", "--remove", "ringq"])
        self.assertFalse(os.path.exists(self.in_root("/usr/sbin/ringqd")))
        self.assertTrue(os.path.exists(self.in_root(CONF)), "remove keeps the conffile")
        self.chroot(["dpkg", "--purge", "ringq"])
        self.assertFalse(os.path.exists(self.in_root(CONF)), "purge removes the conffile")
        out = self.chroot(["dpkg-query", "-W", "-f", "${Status}", "ringq"], check=False)
        self.assertNotIn("installed", out.stdout.replace("not-installed", ""))


if __name__ == "__main__":
    unittest.main()
