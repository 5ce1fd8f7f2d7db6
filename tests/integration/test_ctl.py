"""ringqctl against a live ringqd: every command as a table and as JSON,
Redis's state in `status` (a private redis-server), the exit statuses
scripts rely on, supervisor and admin actions (seen in
the snapshot and by the agent's softphone), a monitor without the role
refused, and `top` driven through tmux (send-keys, capture-pane).

RINGQCTL names the binary (set by ctest, like RINGQD)."""

import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import tempfile
import termios
import time
import unittest

from redis_server import RedisServer
from ringq_harness import SANITIZER_MARKS, RingqTestCase, agent, config, free_port, queue

RUN_S = 20.0  # bound of one ringqctl run (sanitizer builds are slow)


def ringqctl_path():
    path = os.environ.get("RINGQCTL")
    if not path:
        raise unittest.SkipTest("RINGQCTL is not set (run through ctest)")
    return path


def conf():
    c = config(
        queues=[
            queue("sales", skills={"sales": 3}, ring_timeout_s=30.0, goal_percent=80.0),
            queue("support", skills={"support": 1}, ring_timeout_s=30.0, goal_percent=90.0),
        ],
        agents=[
            agent("a1", {"sales": 7, "support": 3}, name="Ana Lima"),
            agent("a2", {"support": 4}, name="Bo Chen"),
        ],
    )
    c["monitors"] = [
        {"name": "wallboard", "token": "demo"},
        {"name": "boss", "token": "s3cret", "role": "supervisor"},
        {"name": "root", "token": "r00t", "role": "admin"},
    ]
    return c


class Ctl(RingqTestCase):
    def setUp(self):
        super().setUp()
        self.bin = ringqctl_path()

    def ctl(self, d, *args, who=("wallboard", "demo"), unix=False, expect=0):
        """Run ringqctl against d as monitor `who`; assert its exit status and
        a clean stderr (no sanitizer report); return (stdout, stderr)."""
        where = ["-s", d.unix_path] if unix else ["-c", "127.0.0.1:%d" % d.port]
        cmd = [self.bin] + where + ["-n", who[0], "-t", who[1]] + list(args)
        return self.run_ctl(cmd, expect)

    def run_ctl(self, cmd, expect, env=None):
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=RUN_S, env=env)
        for m in SANITIZER_MARKS:
            self.assertNotIn(m, p.stderr, "ringqctl %s" % cmd[1:])
        self.assertEqual(p.returncode, expect, "ringqctl %s: stdout %r stderr %r"
                         % (cmd[1:], p.stdout, p.stderr))
        return p.stdout, p.stderr

    def ctl_json(self, d, *args, **kw):
        out, _ = self.ctl(d, "--json", *args, **kw)
        return json.loads(out)

    @staticmethod
    def table(text):
        """Rows of an aligned table as dicts keyed by the header; also checks
        that every cell sits in its header's column (left or right edge)."""
        lines = [l for l in text.splitlines() if l.strip()]
        head = lines[0]
        names = head.split()
        starts = [m.start() for m in re.finditer(r"\S+", head)]
        ends = [m.end() for m in re.finditer(r"\S+", head)]
        rows = []
        for line in lines[1:]:
            cells = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", line)]
            if len(cells) != len(names):
                raise AssertionError("row %r has %d cells for %d columns"
                                     % (line, len(cells), len(names)))
            for (s, e, _), hs, he in zip(cells, starts, ends):
                if s != hs and e != he:
                    raise AssertionError("cell at %d..%d of %r is not aligned with %r"
                                         % (s, e, line, head))
            rows.append({n: c[2] for n, c in zip(names, cells)})
        return rows

    def setup_floor(self, d):
        """a1 logged in not ready, a2 logged out; c1, c2 waiting in sales,
        c3 in support."""
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        for cid, q in (("c1", "sales"), ("c2", "sales"), ("c3", "support")):
            self.new_contact(src, cid, q)
        return src, a1

    # ------------------------------------------------------------------

    def test_read_commands(self):
        d = self.start(conf())
        self.setup_floor(d)

        out, _ = self.ctl(d, "status")
        self.assertRegex(out, r"(?m)^ringqd\s+0\.1\.0 at 127\.0\.0\.1:%d, up \d+s$" % d.port)
        self.assertRegex(out, r"(?m)^queues\s+2$")
        self.assertRegex(out, r"(?m)^contacts\s+3 waiting, 0 ringing, 0 connected$")
        self.assertRegex(out, r"(?m)^agents\s+0 ready, 1 not_ready, .* 1 logged_out$")
        self.assertRegex(out, r"(?m)^redis\s+disabled")
        st = self.ctl_json(d, "status")
        self.assertEqual(st["version"], "0.1.0")
        self.assertEqual(st["contacts"], {"waiting": 3, "ringing": 0, "connected": 0})
        self.assertEqual(st["agents"]["not_ready"], 1)
        self.assertEqual(st["agents"]["logged_out"], 1)
        self.assertEqual(st["queues"], 2)
        self.assertIsInstance(st["uptime_s"], (int, float))
        self.assertEqual(st["redis"]["enabled"], False)

        rows = {r["QUEUE"]: r for r in self.table(self.ctl(d, "queues")[0])}
        self.assertEqual(set(rows), {"sales", "support"})
        self.assertEqual(rows["sales"]["WAITING"], "2")
        self.assertEqual(rows["support"]["WAITING"], "1")
        self.assertEqual(rows["sales"]["GOAL%"], "80.0")
        self.assertEqual(rows["support"]["GOAL%"], "90.0")
        self.assertEqual(rows["sales"]["NOT_READY"], "1")
        self.assertRegex(rows["sales"]["LONGEST"], r"^\d+s$")
        qs = {q["name"]: q for q in self.ctl_json(d, "queues")}
        self.assertEqual(qs["sales"]["waiting"], 2)

        # (spaces in names and in a header made single words, same widths)
        rows = {r["AGENT"]: r for r in self.table(self.ctl(d, "agents")[0].replace(
            "Ana Lima", "Ana_Lima").replace("Bo Chen", "Bo_Chen").replace("LOAD V/C/E",
                                                                           "LOAD_V/C/E"))}
        self.assertEqual(rows["a1"]["STATE"], "not_ready")
        self.assertEqual(rows["a1"]["REASON"], "login")
        self.assertEqual(rows["a1"]["NAME"], "Ana_Lima")
        self.assertEqual(rows["a2"]["STATE"], "logged_out")
        self.assertEqual(rows["a1"]["LOAD_V/C/E"], "0/0/0")
        ags = {a["agent"]: a for a in self.ctl_json(d, "agents")}
        self.assertEqual(ags["a1"]["reason"], "login")

        rows = self.table(self.ctl(d, "contacts")[0])
        self.assertEqual([r["CONTACT"] for r in rows], ["c1", "c2", "c3"])  # by queue, arrival
        self.assertEqual([r["POS"] for r in rows], ["1", "2", "1"])
        self.assertEqual({r["STATE"] for r in rows}, {"waiting"})
        rows = self.table(self.ctl(d, "contacts", "--queue", "support")[0])
        self.assertEqual([r["CONTACT"] for r in rows], ["c3"])
        cs = self.ctl_json(d, "contacts", "-q", "sales")
        self.assertEqual([c["contact"] for c in cs], ["c1", "c2"])
        self.assertEqual(cs[0]["queue"], "sales")

        # The same over the Unix socket; options after the command work too.
        self.assertEqual(json.loads(self.ctl(d, "status", "--json", unix=True)[0])["contacts"],
                         {"waiting": 3, "ringing": 0, "connected": 0})

    def test_status_redis(self):
        r = RedisServer()
        self.addCleanup(r.cleanup)
        r.start()
        c = conf()
        c["redis"] = {"host": "127.0.0.1", "port": r.port, "prefix": "ringq:",
                      "connect_timeout_s": 1.0, "command_timeout_s": 2.0}
        d = self.start(c)
        out, _ = self.ctl(d, "status")
        self.assertRegex(out, r"(?m)^redis\s+connected, journal 0 of \d+, 0 outages$")
        st = self.ctl_json(d, "status")
        self.assertEqual((st["redis"]["enabled"], st["redis"]["connected"]), (True, True))
        r.stop()  # an outage: ringqd journals, and says so
        self.wait_until(lambda: self.ctl_json(d, "status")["redis"]["connected"] is False,
                        timeout=10.0, what="status to show Redis down")
        self.assertRegex(self.ctl(d, "status")[0],
                         r"(?m)^redis\s+DOWN, journal \d+ of \d+, 1 outage$")
        r.start()
        self.wait_until(lambda: self.ctl_json(d, "status")["redis"]["connected"] is True,
                        timeout=10.0, what="status to show Redis back")

    def test_env_defaults(self):
        d = self.start(conf())
        env = dict(os.environ, RINGQ_NAME="boss", RINGQ_TOKEN="s3cret")
        out, _ = self.run_ctl([self.bin, "-c", "127.0.0.1:%d" % d.port, "status"], 0, env=env)
        self.assertIn("0 waiting", out)
        env["RINGQ_TOKEN"] = "wrong"
        _, err = self.run_ctl([self.bin, "-c", "127.0.0.1:%d" % d.port, "status"], 1, env=env)
        self.assertIn("unauthorized", err)

    def test_exit_codes(self):
        d = self.start(conf())
        src, a1 = self.setup_floor(d)
        # 2: usage, before any connection (the address is not even tried)
        for args in ([], ["bogus"], ["status", "extra"], ["agent", "a1"],
                     ["agent", "a1", "dance"], ["agent", "a1", "ready", "now"],
                     ["contact", "c1", "priority", "101"], ["contact", "c1", "priority", "x"],
                     ["contact", "c1", "move"], ["--queue", "sales", "status"],
                     ["--json", "top"], ["--timeout", "0", "status"], ["-c", "nohostport",
                                                                         "status"]):
            _, err = self.run_ctl([self.bin, "-c", "127.0.0.1:1"] + args, 2)
            self.assertIn("ringqctl:", err)
        self.run_ctl([self.bin, "--help"], 0)
        # 3: cannot connect
        port = free_port()
        _, err = self.run_ctl([self.bin, "-c", "127.0.0.1:%d" % port, "status"], 3)
        self.assertIn("cannot connect", err)
        _, err = self.run_ctl([self.bin, "-s", os.path.join(d.dir, "nosuch.sock"), "status"], 3)
        self.assertIn("cannot connect", err)
        # 1: refused, with the daemon's code and message
        _, err = self.ctl(d, "status", who=("wallboard", "wrong"), expect=1)
        self.assertIn("unauthorized", err)
        _, err = self.ctl(d, "agent", "nobody", "ready", who=("boss", "s3cret"), expect=1)
        self.assertIn("not_found: agent 'nobody' not found", err)
        _, err = self.ctl(d, "contacts", "--queue", "nosuch", expect=1)
        self.assertIn("not_found", err)
        _, err = self.ctl(d, "contact", "c1", "move", "nosuch", who=("boss", "s3cret"),
                          expect=1)
        self.assertIn("not_found: queue 'nosuch' not found", err)
        # a connected contact has no priority any more: bad_state
        a2 = self.agent(d, "a2")
        a2.offer("c3")
        a2.ok("offer.accept", contact="c3")
        _, err = self.ctl(d, "contact", "c3", "priority", "5", who=("boss", "s3cret"), expect=1)
        self.assertIn("bad_state", err)
        # --json: the refusal's reply on stdout too
        out, err = self.ctl(d, "--json", "agent", "a2", "ready", who=("wallboard", "demo"),
                            expect=1)
        self.assertEqual(json.loads(out)["error"]["code"], "unauthorized")
        self.assertIn("unauthorized", err)

    def test_supervisor_actions(self):
        d = self.start(conf())
        src, a1 = self.setup_floor(d)
        mon = self.monitor(d)
        boss = ("boss", "s3cret")

        out, _ = self.ctl(d, "agent", "a1", "not-ready", "coaching", who=boss)
        self.assertEqual(out, "agent a1: not_ready (coaching)\n")
        a1.state("not_ready", "coaching")
        self.assertEqual(self.snap_agent(mon, "a1")["reason"], "coaching")

        # priority: c2 overtakes c1 in sales
        out, _ = self.ctl(d, "contact", "c2", "priority", "100", who=boss)
        self.assertEqual(out, "contact c2: waiting in queue sales, priority 100, position 1\n")
        self.assertEqual(self.snap_contact(mon, "c2")["position"], 1)
        self.assertEqual(self.snap_contact(mon, "c1")["position"], 2)
        r = self.ctl_json(d, "contact", "c1", "priority", "7", who=boss)
        self.assertEqual(r["contact"]["priority"], 7)
        self.assertEqual(r["contact"]["position"], 2)

        # move: c3 from support to sales
        out, _ = self.ctl(d, "contact", "c3", "move", "sales", who=boss)
        self.assertRegex(out, r"^contact c3: waiting in queue sales, priority 0, position 3\n$")
        self.assertEqual(self.snap_contact(mon, "c3")["queue"], "sales")
        self.assertEqual(self.snap_queue(mon, "support")["waiting"], 0)

        # ready: the softphone hears it, and the first in line is offered
        out, _ = self.ctl(d, "--json", "agent", "a1", "ready", who=boss)
        self.assertTrue(json.loads(out)["ok"])
        a1.state("ready")
        self.assertEqual(a1.offer()["contact"], "c2")

        # logout: the offer is withdrawn, the softphone told
        out, _ = self.ctl(d, "agent", "a1", "logout", who=("root", "r00t"))
        self.assertEqual(out, "agent a1: logged_out\n")
        a1.push("revoke", contact="c2", reason="logged_out")
        a1.state("logged_out")
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "logged_out")
        self.assertEqual(self.snap_contact(mon, "c2")["state"], "waiting")
        _, err = self.ctl(d, "agent", "a1", "not-ready", who=boss, expect=1)
        self.assertIn("bad_state: agent 'a1' is logged out", err)

    def test_unprivileged_refused(self):
        d = self.start(conf())
        src, a1 = self.setup_floor(d)
        mon = self.monitor(d)
        for args in (("agent", "a1", "ready"), ("agent", "a1", "logout"),
                     ("contact", "c1", "priority", "9"), ("contact", "c1", "move", "support"),
                     ("reload",), ("drain",)):
            _, err = self.ctl(d, *args, expect=1)
            self.assertIn("unauthorized", err)
            self.assertIn("role", err)
        for args in (("reload",), ("drain",)):
            _, err = self.ctl(d, *args, who=("boss", "s3cret"), expect=1)
            self.assertIn("unauthorized: admin.%s needs a monitor with role admin" % args[0], err)
        # nothing changed
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "not_ready")
        c1 = self.snap_contact(mon, "c1")
        self.assertEqual((c1["queue"], c1["priority"]), ("sales", 0))
        self.assertTrue(d.alive())

    def write_conf(self, d, text):
        tmp = d.conf_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, d.conf_path)

    def test_reload_and_drain(self):
        d = self.start(conf())
        root = ("root", "r00t")
        # reload: done once ringqctl returns, with what now runs
        out, _ = self.ctl(d, "reload", who=root)
        self.assertRegex(out, r"^reload: done: 2 queues, 2 agents\b")
        self.assertEqual(len([l for l in d.stderr_text().splitlines()
                              if l.startswith("<5>reload: ")]), 1, d.stderr_tail())
        c = conf()
        c["queues"].append(queue("billing", skills={"support": 1}))
        d.template = c
        self.write_conf(d, d._render())
        r = self.ctl_json(d, "reload", who=root)
        self.assertEqual((r["ok"], r["reloaded"], r["queues"], r["agents"], r["moved"]),
                         (True, True, 3, 2, 0))
        # a broken file: refused with its FILE:LINE, exit status 1 (refused),
        # and the running configuration stays
        good = d._render()
        line = good.count("\n") + 1
        self.write_conf(d, good + "broken = ;\n")
        out, err = self.ctl(d, "reload", who=root, expect=1)
        self.assertIn("bad_config", out + err)
        self.assertIn("%s:%d: " % (d.conf_path, line), out + err)
        self.assertNotIn("reload: done", out)
        out, _ = self.ctl(d, "--json", "reload", who=root, expect=1)
        r = json.loads(out)
        self.assertEqual((r["ok"], r["error"]["code"]), (False, "bad_config"))
        self.assertTrue(r["error"]["message"].startswith("%s:%d: " % (d.conf_path, line)), r)
        self.assertEqual(len(self.ctl_json(d, "queues")), 3)
        self.write_conf(d, good)
        out, _ = self.ctl(d, "reload", who=root)
        self.assertRegex(out, r"^reload: done: 3 queues, 2 agents\b")
        self.assertTrue(d.alive())
        out, _ = self.ctl(d, "drain", who=root)
        self.assertIn("SIGTERM", out)
        proc = d.proc
        self.assertEqual(proc.wait(20), 0, d.stderr_tail())

    # ------------------------------------------------------------------

    def test_top_frame_rate(self):
        """A burst of changes does not make a burst of frames: at most five
        a second (plus the first), on a pty of its own."""
        d = self.start(conf())
        src = self.source(d)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        p = subprocess.Popen([self.bin, "-c", "127.0.0.1:%d" % d.port, "-n", "wallboard", "-t",
                              "demo", "top"], stdin=slave, stdout=slave, stderr=slave,
                             close_fds=True)
        os.close(slave)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        self.addCleanup(os.close, master)
        out = bytearray()

        def read_for(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                r, _, _ = select.select([master], [], [], max(0.0, end - time.monotonic()))
                if r:
                    try:
                        out.extend(os.read(master, 65536))
                    except OSError:
                        return

        read_for(0.5)
        self.assertIn(b"\x1b[?1049h", out)  # the alternate screen
        start = out.count(b"\x1b[H")
        t0 = time.monotonic()
        for i in range(60):  # about 60 changes in 1.2 s
            self.new_contact(src, "b%d" % i, "sales")
            time.sleep(0.02)
        read_for(max(0.0, 2.0 - (time.monotonic() - t0)))
        frames = out.count(b"\x1b[H") - start
        self.assertGreaterEqual(frames, 3)
        self.assertLessEqual(frames, 2.0 * 5 + 2, "%d frames in 2 s" % frames)
        self.assertRegex(out.decode("utf-8", "replace").rsplit("\x1b[H", 1)[1],
                         r"sales\s+60\s")
        os.write(master, b"q")
        self.assertEqual(p.wait(RUN_S), 0)
        read_for(0.2)
        self.assertIn(b"\x1b[?1049l", out)  # back to the normal screen
        for m in SANITIZER_MARKS:
            self.assertNotIn(m, out.decode("utf-8", "replace"))

    def test_top_tmux(self):
        tmux = shutil.which("tmux")
        self.assertIsNotNone(tmux, "tmux is not installed (tools/quickstart test installs it)")
        d = self.start(conf())
        src = self.source(d)
        self.agent(d, "a1", ready=False)
        tdir = tempfile.mkdtemp(prefix="ringq-tmux-")
        self.addCleanup(shutil.rmtree, tdir, ignore_errors=True)
        sock = os.path.join(tdir, "tmux.sock")
        rc_file = os.path.join(tdir, "top.rc")
        err_file = os.path.join(tdir, "top.err")

        def tm(*args, check=True):
            return subprocess.run([tmux, "-S", sock, "-f", "/dev/null"] + list(args),
                                  capture_output=True, text=True, timeout=10, check=check)

        self.addCleanup(lambda: tm("kill-server", check=False))
        shell = "'%s' -c 127.0.0.1:%d -n wallboard -t demo top 2>'%s'; echo $? >'%s'" % (
            self.bin, d.port, err_file, rc_file)
        tm("new-session", "-d", "-s", "top", "-x", "100", "-y", "30", "sh", "-c", shell)

        def screen():
            return tm("capture-pane", "-p", "-t", "top", check=False).stdout

        def waiting(q):
            m = re.search(r"(?m)^%s\s+(\d+)\s" % q, screen())
            return int(m.group(1)) if m else None

        self.wait_until(lambda: waiting("sales") == 0, what="top showing sales with 0 waiting")
        s = screen()
        self.assertIn("ringqd 0.1.0 at 127.0.0.1:%d" % d.port, s)
        self.assertRegex(s, r"(?m)^QUEUE\s+WAITING\s+LONGEST\s+SL%\s+GOAL%\s+VS GOAL")
        self.assertRegex(s, r"(?m)^AGENTS\s+ready 0\s+not_ready 1\s+reserved 0")
        self.assertRegex(s, r"(?m)^a1\s+not_ready\s+login\s")

        # contacts appear within a second (pushed, not polled)
        for n, cid in ((1, "t1"), (2, "t2")):
            self.new_contact(src, cid, "sales")
            t0 = time.monotonic()
            self.wait_until(lambda: waiting("sales") == n, timeout=1.0,
                            what="top showing %d waiting in sales" % n)
            self.assertLess(time.monotonic() - t0, 1.0)
        src.ok("contact.abandon", contact="t1")
        self.wait_until(lambda: waiting("sales") == 1, timeout=1.0, what="the abandon in top")
        self.assertRegex(screen(), r"(?m)^sales\s+1\s+\d+s\s+")  # the longest wait shows

        # resize: the frame follows the new width
        tm("resize-window", "-t", "top", "-x", "50", "-y", "20")
        self.wait_until(lambda: "QUEUE" in screen() and
                        max(len(l) for l in screen().splitlines()) <= 50,
                        what="a frame redrawn at 50 columns")
        self.assertEqual(waiting("sales"), 1)

        tm("send-keys", "-t", "top", "q")
        def exit_status():
            if not os.path.exists(rc_file):
                return None
            with open(rc_file) as f:
                return f.read().strip()

        self.wait_until(exit_status, what="top to exit after q")
        self.assertEqual(exit_status(), "0")
        with open(err_file) as f:
            err = f.read()
        for m in SANITIZER_MARKS:
            self.assertNotIn(m, err)


if __name__ == "__main__":
    unittest.main()
