"""The ringqd process: command line, config errors, signals, and a clean
exit with every kind of live state (checked under the sanitizers)."""

import signal
import socket
import subprocess
import time
import unittest

from ringq_harness import RingqTestCase, agent, config, queue, ringqd_path


def conf():
    return config(
        queues=[queue("sales", skills={"sales": 1}, ring_timeout_s=5.0, wrap_up_s=30),
                queue("chat", skills={"sales": 1}, ring_timeout_s=5.0, wrap_up_s=30)],
        agents=[agent("a1", {"sales": 5}), agent("a2", {"sales": 5}),
                agent("a3", {"sales": 5}, capacity={"voice": 1, "chat": 3, "email": 1}),
                agent("a4", {"sales": 5})],
    )


def run(*args, timeout=30):
    return subprocess.run([ringqd_path(), *args], capture_output=True, text=True, timeout=timeout)


class CommandLine(RingqTestCase):
    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^ringqd \d+\.\d+\.\d+")

    def test_check_config(self):
        path = self.config_only(conf()).write_config()
        r = run("--check-config", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok", r.stdout + r.stderr)

    def test_bad_config_names_file_and_line(self):
        c = conf()
        c["queues"][0]["answer_rings"] = "three"
        d = self.config_only(c)
        path = d.write_config()
        with open(path) as f:
            line = next(i for i, l in enumerate(f, 1) if "answer_rings" in l)
        for args in (("--check-config", path), ("-c", path)):
            r = run(*args)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("%s:%d:" % (path, line), r.stdout + r.stderr)

    def test_missing_config_file(self):
        r = run("-c", "/nonexistent/ringqd.conf")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/ringqd.conf", r.stderr)

    def test_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            c = conf()
            c["listen"] = {"host": "127.0.0.1", "port": port}
            path = self.config_only(c, unix=False).write_config()
            r = run("-c", path, timeout=15)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(str(port), r.stderr)


class Signals(RingqTestCase):
    def busy_daemon(self):
        """A daemon with contacts waiting, ringing, connected (voice and
        chat), an agent in wrap-up and timers pending."""
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["queues", "agents", "contacts", "alerts"])
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "x1", "sales")
        a1.offer("x1")
        a1.ok("offer.accept", contact="x1")  # connected
        a2 = self.agent(d, "a2")
        self.new_contact(src, "x2", "sales")
        a2.offer("x2")  # ringing
        a3 = self.agent(d, "a3")
        self.new_contact(src, "x3", "chat", channel="chat")
        a3.offer("x3")
        a3.ok("offer.accept", contact="x3")
        a4 = self.agent(d, "a4")
        self.new_contact(src, "x4", "sales")
        a4.offer("x4")
        a4.ok("offer.accept", contact="x4")
        a4.ok("contact.end", contact="x4")  # a4 in wrap-up
        self.new_contact(src, "x5", "sales", customer={"tier": "prospect"})  # waiting
        self.assertEqual(self.snap_queue(mon, "sales")["waiting"], 1)
        return d

    def test_sigterm_with_live_state(self):
        d = self.busy_daemon()
        t0 = time.monotonic()
        d.stop()  # asserts exit status 0 and no sanitizer report
        self.assertLess(time.monotonic() - t0, 10)

    def test_sigint(self):
        d = self.busy_daemon()
        d.proc.send_signal(signal.SIGINT)
        self.assertEqual(d.proc.wait(15), 0, d.stderr_tail())
        self.assertEqual(d.sanitizer_reports(), [])

    def test_sighup_keeps_running(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        self.new_contact(src, "h1", "sales")
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        self.assertTrue(d.alive())
        self.assertEqual(self.snap_contact(mon, "h1")["state"], "waiting")
        self.assertIs(src.ok("ping")["ok"], True)

    def test_clients_see_eof_on_stop(self):
        d = self.start(conf())
        src = self.source(d)
        d.stop()
        self.assertTrue(src.closed_by_peer(timeout=2))


if __name__ == "__main__":
    unittest.main()


class Logging(RingqTestCase):
    def test_repeated_refusals_are_rate_limited(self):
        """A client hammering with bad tokens fills no journal: at most 5
        lines per 10 s, then one that says how many were suppressed."""
        d = self.start(conf())
        for i in range(40):
            c = self.connect(d)
            rep = c.request("hello", role="source", name="pbx1", token="wrong-%d" % i)
            self.assertEqual(rep["error"]["code"], "unauthorized")
            c.close()
        src = self.source(d)
        src.ok("ping")
        text = d.stderr_text()
        self.assertEqual(text.count("hello refused for source"), 5)
        self.assertTrue(all(line.startswith("<") for line in text.splitlines() if line))
