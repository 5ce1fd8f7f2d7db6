"""The caller hangs up before an answer: while waiting, and while ringing."""

import unittest

from ringq_harness import RingqTestCase, agent, config, queue


def conf():
    return config(
        queues=[queue("sales", skills={"sales": 1}, ring_timeout_s=5.0)],
        agents=[agent("a1", {"sales": 5})],
    )


class Abandon(RingqTestCase):
    def test_abandon_while_waiting(self):
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["queues", "contacts"])
        src = self.source(d)
        r = self.new_contact(src, "w1", "sales")
        self.assertEqual(r["position"], 1)
        self.new_contact(src, "w2", "sales")
        self.assertEqual(self.snap_queue(mon, "sales")["waiting"], 2)
        src.ok("contact.abandon", contact="w1")
        ev = mon.push("contact", contact="w1", state="abandoned")
        self.assertEqual(ev["queue"], "sales")
        src.ok("contact.abandon", contact="w2")
        mon.push("contact", contact="w2", state="abandoned")
        mon.push("queue_stats", queue="sales", waiting=0,
                 pred=lambda m: m["abandoned"] == 2)
        q = self.snap_queue(mon, "sales")
        self.assertEqual(q["waiting"], 0)
        self.assertEqual(self.snapshot(mon)["contacts"], [])
        # Gone: an agent who becomes ready gets nothing, and the id is unknown.
        a1 = self.agent(d, "a1")
        a1.no_push("offer", within=0.3)
        src.error("contact.abandon", "not_found", contact="w1")

    def test_abandon_while_ringing(self):
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["agents"])
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "w3", "sales")
        a1.offer("w3")
        a1.state("reserved")
        src.ok("contact.abandon", contact="w3")
        rv = a1.push("revoke", contact="w3")
        self.assertEqual(rv["reason"], "abandoned")
        # The agent did nothing wrong: ready again, not rona.
        a1.state("ready")
        a1.no_push("state", within=0.2, state="not_ready")
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "ready")
        self.assertIsNone(self.snap_contact(mon, "w3"))
        self.new_contact(src, "w4", "sales")
        a1.offer("w4")
        a1.ok("offer.accept", contact="w4")

    def test_source_end_before_answer_is_an_abandon(self):
        # A PBX that only reports hang-ups: contact.end of a contact nobody
        # answered counts as abandoned.
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["contacts"])
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "w6", "sales")
        a1.offer("w6")
        src.ok("contact.end", contact="w6")
        self.assertEqual(a1.push("revoke", contact="w6")["reason"], "abandoned")
        mon.push("contact", contact="w6", state="abandoned")
        self.assertEqual(self.snap_queue(mon, "sales")["abandoned"], 1)
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "ready")

    def test_abandon_after_answer_is_refused(self):
        d = self.start(conf())
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "w5", "sales")
        a1.offer("w5")
        a1.ok("offer.accept", contact="w5")
        src.error("contact.abandon", "bad_state", contact="w5")
        src.ok("contact.end", contact="w5")


if __name__ == "__main__":
    unittest.main()
