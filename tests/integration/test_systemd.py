"""ringqd under a service manager: the unit passes `systemd-analyze verify`
and rates 2.0 or better in `systemd-analyze security`, and the daemon speaks
the notify protocol (READY=1 after its listeners accept, WATCHDOG=1 at half
the watchdog period, RELOADING=1 with MONOTONIC_USEC then READY=1 on SIGHUP,
for a good file and for a refused one, STOPPING=1 on SIGTERM) to a datagram
socket the test owns, as systemd would give it in NOTIFY_SOCKET."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from ringq_harness import Daemon, RingqTestCase, agent, config, queue

RELOAD_S = 20.0  # bound of one reload (sanitizer builds on a loaded machine)

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.join(HERE, "..", "..", "systemd", "ringqd.service")
SAMPLE = os.path.join(HERE, "..", "..", "conf", "ringqd.conf")


def small_conf():
    return config(queues=[queue("sales", skills={"sales": 1})], agents=[agent("a1", {"sales": 3})])


class Unit(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ringq-unit-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        ringqd = os.environ["RINGQD"]
        with open(UNIT) as f:
            text = f.read()
        # The installed paths, pointed at this build so verify can check them.
        text = text.replace("/usr/sbin/ringqd", ringqd)
        text = text.replace("/etc/ringq/ringqd.conf", os.path.abspath(SAMPLE))
        self.unit = os.path.join(self.dir, "ringqd.service")
        with open(self.unit, "w") as f:
            f.write(text)

    def test_verify(self):
        out = subprocess.run(["systemd-analyze", "verify", self.unit], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(out.stderr.strip(), "")

    def test_security_rating(self):
        out = subprocess.run(["systemd-analyze", "security", "--offline=true", self.unit],
                             capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for ringqd.service: ([0-9.]+)", out.stdout)
        self.assertIsNotNone(m, out.stdout + out.stderr)
        level = float(m.group(1))
        print("systemd-analyze security: exposure %.1f" % level)
        self.assertLessEqual(level, 2.0)

    def test_unit_essentials(self):
        with open(UNIT) as f:
            text = f.read()
        for line in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "DynamicUser=yes",
                     "StateDirectory=ringq", "RuntimeDirectory=ringq", "ProtectSystem=strict",
                     "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
                     "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
                     "WatchdogSec="):
            self.assertIn(line, text)


class Notify(RingqTestCase):
    def notify_socket(self):
        d = tempfile.mkdtemp(prefix="ringq-notify-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        path = os.path.join(d, "notify.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        self.addCleanup(s.close)
        return s, path

    def messages(self, s, until, timeout=10.0):
        """Datagrams as dicts, until one has key `until`."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(4096).decode()
            except socket.timeout:
                break
            kv = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
            got.append(kv)
            if until in kv:
                return got
        self.fail("no %s within %.0f s; got %r" % (until, timeout, got))

    def reload(self, s, d, text):
        """Write text as d's config file, SIGHUP: RELOADING=1 with STATUS=
        and a MONOTONIC_USEC taken while it reloads, in one datagram, then
        READY=1 (with no second RELOADING=1 between them)."""
        tmp = d.conf_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, d.conf_path)
        t0 = time.monotonic_ns() // 1000  # CLOCK_MONOTONIC, in microseconds
        d.proc.send_signal(signal.SIGHUP)
        reloading = self.messages(s, "RELOADING", timeout=RELOAD_S)[-1]
        t1 = time.monotonic_ns() // 1000
        self.assertEqual(reloading["RELOADING"], "1")
        self.assertIn("STATUS", reloading)
        self.assertNotIn("READY", reloading)
        usec = int(reloading["MONOTONIC_USEC"])
        self.assertGreaterEqual(usec, t0, "MONOTONIC_USEC before the SIGHUP was sent")
        self.assertLessEqual(usec, t1, "MONOTONIC_USEC after the datagram arrived")
        after = self.messages(s, "READY", timeout=RELOAD_S)
        self.assertEqual(after[-1]["READY"], "1")
        self.assertEqual([m for m in after if "RELOADING" in m], [])

    def test_ready_watchdog_stopping(self):
        s, path = self.notify_socket()
        os.environ["NOTIFY_SOCKET"] = path
        os.environ["WATCHDOG_USEC"] = "400000"  # keep-alive expected every 200 ms
        try:
            d = self.start(small_conf())
        finally:
            del os.environ["NOTIFY_SOCKET"]
            del os.environ["WATCHDOG_USEC"]
        msgs = self.messages(s, "READY")
        ready = msgs[-1]
        self.assertEqual(ready["READY"], "1")
        self.assertIn("waiting", ready["STATUS"])
        # READY came after the listener accepts: a client is served now
        src = self.source(d)
        src.ok("ping")
        # watchdog keep-alives keep coming from the loop
        t0 = time.monotonic()
        n = 0
        while n < 5:
            n += sum(1 for m in self.messages(s, "WATCHDOG", timeout=2.0) if "WATCHDOG" in m)
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 3.0, "5 keep-alives took %.1f s" % elapsed)
        # SIGHUP with a good file (a queue added): RELOADING=1, then READY=1
        # once the new configuration runs
        c = small_conf()
        c["queues"].append(queue("support", skills={"sales": 1}))
        d.template = c
        self.reload(s, d, d._render())
        self.wait_until(lambda: [l for l in d.stderr_text().splitlines()
                                 if l.startswith("<5>reload: ")],
                        what="the reload's notice in the log")
        src.ok("contact.new", contact="n1", queue="support")
        # a broken file: refused, and still RELOADING=1 then READY=1
        good = d._render()
        self.reload(s, d, good + "broken = ;\n")
        refused = "<3>reload refused: %s:%d: " % (d.conf_path, good.count("\n") + 1)
        self.wait_until(lambda: [l for l in d.stderr_text().splitlines()
                                 if l.startswith(refused)],
                        what="the refusal (FILE:LINE) in the log")
        src.ok("contact.new", contact="n2", queue="support")
        # SIGTERM: STOPPING=1, then exit 0 (checked by the harness)
        d.proc.send_signal(signal.SIGTERM)
        msgs = self.messages(s, "STOPPING")
        self.assertEqual(msgs[-1]["STOPPING"], "1")
        # a second SIGTERM during the stop does not cut it short
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.proc.wait(15), 0)

    def test_nothing_without_notify_socket(self):
        d = self.start(small_conf())
        src = self.source(d)
        src.ok("ping")
        self.assertNotIn("sd_notify", d.stderr_text())


if __name__ == "__main__":
    unittest.main()
