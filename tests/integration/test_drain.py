"""Drain on SIGTERM / SIGINT: new contacts are refused, no new offers are
made, ringing offers and connected calls run to their end (up to
drain_timeout_s), the last changes reach Redis, and ringqd exits 0. No
offered or talking contact is cut: what did not finish is recovered by the
next start."""

import signal
import time
import unittest

from redis_server import RedisServer
from ringq_harness import RingqTestCase, agent, config, queue
from test_store import redis_group


def conf(redis=None, drain_s=5.0):
    c = config(
        queues=[queue("sales", skills={"sales": 1}, ring_timeout_s=30.0, wrap_up_s=0.1)],
        agents=[agent("a%d" % i, {"sales": 5}) for i in range(1, 5)],
        drain_timeout_s=drain_s,
    )
    if redis is not None:
        c["redis"] = redis_group(redis)
    return c


class Drain(RingqTestCase):
    def setup_calls(self, d):
        """a1 talking on c1, a2 ringing with c2, c3 waiting (nobody else ready)."""
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "c1", "sales")
        a1.offer("c1")
        a1.ok("offer.accept", contact="c1")
        a2 = self.agent(d, "a2")
        self.new_contact(src, "c2", "sales")
        a2.offer("c2")
        self.new_contact(src, "c3", "sales")
        return src, a1, a2

    def drain_with(self, sig):
        d = self.start(conf())
        src, a1, a2 = self.setup_calls(d)
        t0 = time.monotonic()
        d.proc.send_signal(sig)
        # new contacts are refused while the calls finish
        deadline = time.monotonic() + 5
        while True:
            rep = src.request("contact.new", contact="late", queue="sales")
            if not rep["ok"]:
                break
            self.assertLess(time.monotonic(), deadline, "contact.new still accepted")
            src.ok("contact.abandon", contact="late")
            time.sleep(0.05)
        self.assertEqual(rep["error"]["code"], "unavailable")
        # an agent who becomes ready gets no new offer: c3 keeps waiting
        a3 = self.agent(d, "a3")
        a3.no_push("offer", within=0.5)
        # the ringing offer may still be answered, and both calls end normally
        a2.ok("offer.accept", contact="c2")
        a1.ok("contact.end", contact="c1")
        self.assertIsNone(d.proc.poll(), "ringqd left before the last call ended")
        a2.ok("contact.end", contact="c2")
        self.assertEqual(d.proc.wait(10), 0)
        self.assertLess(time.monotonic() - t0, 5.0)
        text = d.stderr_text()
        self.assertIn("draining: 2 offers and calls to finish", text)
        self.assertIn("drained: every offer and call has finished", text)

    def test_sigterm_drains(self):
        self.drain_with(signal.SIGTERM)

    def test_sigint_drains_the_same(self):
        self.drain_with(signal.SIGINT)

    def test_nothing_in_progress_stops_at_once(self):
        d = self.start(conf())
        src = self.source(d)
        self.new_contact(src, "w1", "sales")  # waiting only
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.proc.wait(10), 0)
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_limit_reached_keeps_calls_in_redis(self):
        r = RedisServer()
        self.addCleanup(r.cleanup)
        r.start()
        d = self.start(conf(r, drain_s=1.0))
        src, a1, a2 = self.setup_calls(d)
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.proc.wait(10), 0)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 5.0)
        self.assertIn("drain limit reached: 2 offers and calls still in progress", d.stderr_text())
        for c in self.clients:
            c.close()
        self.clients = []
        # nothing was cut: the next start has the call, the offer and the waiting one
        d.start()
        mon = self.monitor(d)
        live = {c["contact"]: c for c in mon.ok("snapshot")["contacts"]}
        self.assertEqual(live["c1"]["state"], "connected")
        self.assertEqual(live["c1"]["agent"], "a1")
        self.assertEqual(live["c2"]["state"], "waiting")  # its offer died with the process
        self.assertEqual(live["c3"]["state"], "waiting")


if __name__ == "__main__":
    unittest.main()
