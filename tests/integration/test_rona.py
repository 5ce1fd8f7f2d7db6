"""Ring-no-answer: an offer nobody takes is revoked and the contact goes to
the next agent at once; the agent who missed it is set not_ready."""

import time
import unittest

from ringq_harness import RingqTestCase, agent, config, queue


def conf():
    return config(
        queues=[queue("sales", skills={"sales": 1}, ring_timeout_s=0.5)],
        agents=[agent("a1", {"sales": 5}), agent("a2", {"sales": 5})],
    )


class Rona(RingqTestCase):
    def setUp(self):
        super().setUp()
        self.d = self.start(conf())
        self.mon = self.monitor(self.d, subscribe=["agents"])
        self.src = self.source(self.d)
        # a1 is ready first: longest idle, so it gets the first offer.
        self.a1 = self.agent(self.d, "a1")
        time.sleep(0.05)
        self.a2 = self.agent(self.d, "a2")

    def test_ring_timeout(self):
        self.new_contact(self.src, "r1", "sales")
        t0 = time.monotonic()
        o = self.a1.offer("r1")
        self.assertAlmostEqual(o["ring_timeout_s"], 0.5, places=3)
        self.src.push("route", contact="r1", agent="a1")
        # a1 ignores it.
        rv = self.a1.push("revoke", contact="r1", timeout=3.0)
        took = time.monotonic() - t0
        self.assertEqual(rv["reason"], "rona")
        self.assertGreaterEqual(took, 0.4, "revoked before ring_timeout_s")
        self.a1.state("not_ready", reason="rona")
        srv = self.src.push("revoke", contact="r1")
        self.assertEqual(srv["agent"], "a1")
        self.assertEqual(srv["reason"], "rona")
        # Re-routed at once to the next agent.
        self.a2.offer("r1", timeout=1.0)
        self.src.push("route", contact="r1", agent="a2")
        self.mon.agent_state("a1", "not_ready", reason="rona")
        a1 = self.snap_agent(self.mon, "a1")
        self.assertEqual((a1["state"], a1["reason"]), ("not_ready", "rona"))
        # Not ready means no more offers until the agent says ready again.
        self.a2.ok("offer.accept", contact="r1")
        self.new_contact(self.src, "r2", "sales")
        self.a1.no_push("offer", within=0.3)
        self.a1.ready()
        self.a1.offer("r2")

    def test_no_answer_from_source(self):
        self.new_contact(self.src, "r3", "sales")
        self.a1.offer("r3")
        self.src.push("route", contact="r3", agent="a1")
        self.src.ok("contact.no_answer", contact="r3", agent="a1")
        # The revoke carries the source's reason (default no_answer); the
        # agent is set not_ready/rona all the same.
        rv = self.a1.push("revoke", contact="r3", timeout=1.0)
        self.assertEqual(rv["reason"], "no_answer")
        self.a1.state("not_ready", reason="rona", timeout=1.0)
        srv = self.src.push("revoke", contact="r3")
        self.assertEqual((srv["agent"], srv["reason"]), ("a1", "no_answer"))
        self.a2.offer("r3", timeout=1.0)
        self.src.push("route", contact="r3", agent="a2")
        self.a2.ok("offer.accept", contact="r3")
        self.assertEqual(self.snap_contact(self.mon, "r3")["state"], "connected")

    def test_no_answer_with_reason(self):
        self.new_contact(self.src, "r8", "sales")
        self.a1.offer("r8")
        self.src.ok("contact.no_answer", contact="r8", agent="a1", reason="busy")
        self.assertEqual(self.a1.push("revoke", contact="r8")["reason"], "busy")
        self.a1.state("not_ready", reason="rona")
        self.a2.offer("r8", timeout=1.0)

    def test_no_answer_for_wrong_agent(self):
        self.new_contact(self.src, "r4", "sales")
        self.a1.offer("r4")
        self.src.error("contact.no_answer", "bad_state", contact="r4", agent="a2")
        self.src.error("contact.no_answer", "not_found", contact="r4", agent="nobody")
        self.a1.ok("offer.accept", contact="r4")

    def test_offer_reject(self):
        self.new_contact(self.src, "r5", "sales")
        self.a1.offer("r5")
        self.a1.ok("offer.reject", contact="r5")
        rv = self.a1.push("revoke", contact="r5", timeout=1.0)
        self.assertEqual(rv["reason"], "rejected")
        self.a1.state("not_ready", reason="rejected", timeout=1.0)
        self.a2.offer("r5", timeout=1.0)
        srv = self.src.push("revoke", contact="r5")
        self.assertEqual(srv["agent"], "a1")
        self.src.push("route", contact="r5", agent="a2")
        a1 = self.snap_agent(self.mon, "a1")
        self.assertEqual((a1["state"], a1["reason"]), ("not_ready", "rejected"))

    def test_rona_keeps_the_contact_waiting_when_nobody_else(self):
        self.a2.ok("agent.state", state="not_ready", reason="break")
        self.new_contact(self.src, "r6", "sales")
        self.a1.offer("r6")
        self.a1.push("revoke", contact="r6", timeout=3.0)
        self.a1.state("not_ready", reason="rona")
        c = self.snap_contact(self.mon, "r6")
        self.assertEqual(c["state"], "waiting")
        self.a2.ready()
        self.a2.offer("r6")

    def test_answered_after_revoke_is_refused(self):
        self.a2.ok("agent.state", state="not_ready", reason="break")
        self.new_contact(self.src, "r7", "sales")
        self.a1.offer("r7")
        self.a1.push("revoke", contact="r7", timeout=3.0)
        self.a1.error("offer.accept", "bad_state", contact="r7")
        self.src.error("contact.answered", "bad_state", contact="r7", agent="a1")


if __name__ == "__main__":
    unittest.main()
