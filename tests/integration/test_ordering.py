"""Waiting contacts are served in deadline order, emergencies first."""

import time
import unittest

from ringq_harness import TIERS, RingqTestCase, agent, config, queue

# Voice target 60 s (3 rings of 20 s): deadlines are far apart per tier
# (15, 30, 60, 90 s), so a few ms between arrivals never decides the order.


def conf(**qkw):
    q = dict(
        skills={"sales": 1},
        answer_rings=3,
        ring_on_s=5.0,
        ring_off_s=15.0,
        ring_timeout_s=5.0,
        wrap_up_s=0,
        priority_step_s=5,
    )
    q.update(qkw)
    return config(queues=[queue("sales", **q)], agents=[agent("a1", {"sales": 5})])


class Ordering(RingqTestCase):
    def serve_all(self, a1, n):
        """a1 takes n offers one after the other; returns the contact ids in
        offer order."""
        order = []
        for _ in range(n):
            o = a1.offer()
            order.append(o["contact"])
            a1.ok("offer.accept", contact=o["contact"])
            a1.ok("contact.end", contact=o["contact"])
        return order

    def test_tier_order(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        tiers = ["prospect", "standard", "key_account", "emergency"]
        for i, t in enumerate(tiers):
            r = self.new_contact(src, "o-" + t, "sales", customer={"tier": t})
            self.assertGreaterEqual(r["position"], 1)
        # Positions follow service order, not arrival order.
        snap = self.snapshot(mon)
        targets = {c["contact"]: c["target_s"] for c in snap["contacts"]}
        self.assertAlmostEqual(targets["o-standard"], 60.0, places=2)
        self.assertAlmostEqual(targets["o-key_account"], targets["o-standard"] / 2, places=2)
        self.assertAlmostEqual(targets["o-prospect"], 90.0, places=2)
        self.assertAlmostEqual(targets["o-emergency"], 15.0, places=2)
        a1.ready()
        self.assertEqual(
            self.serve_all(a1, 4),
            ["o-emergency", "o-key_account", "o-standard", "o-prospect"],
        )

    def test_position_in_reply(self):
        d = self.start(conf())
        src = self.source(d)
        self.assertEqual(self.new_contact(src, "p1", "sales")["position"], 1)
        self.assertEqual(self.new_contact(src, "p2", "sales")["position"], 2)
        # A key account arriving later is ahead of both standard contacts.
        r = self.new_contact(src, "p3", "sales", customer={"tier": "key_account"})
        self.assertEqual(r["position"], 1)
        r = self.new_contact(src, "p4", "sales", customer={"tier": "emergency"})
        self.assertEqual(r["position"], 1)
        r = self.new_contact(src, "p5", "sales", customer={"tier": "prospect"})
        self.assertEqual(r["position"], 5)
        for r in (self.new_contact(src, "p6", "sales"),):
            self.assertGreater(r["ewt_s"], 0)

    def test_same_tier_first_come_first_served(self):
        d = self.start(conf())
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        ids = ["f%d" % i for i in range(6)]
        for cid in ids:
            self.new_contact(src, cid, "sales")
        a1.ready()
        self.assertEqual(self.serve_all(a1, 6), ids)

    def test_priority_moves_deadline(self):
        d = self.start(conf())
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        # Standard with priority 8: deadline 60 - 8 x 5 = 20 s, ahead of a
        # key account (30 s); priority 2: 50 s, behind it.
        self.new_contact(src, "q-plain", "sales")
        self.new_contact(src, "q-key", "sales", customer={"tier": "key_account"})
        self.new_contact(src, "q-p2", "sales", priority=2)
        self.new_contact(src, "q-p8", "sales", priority=8)
        a1.ready()
        self.assertEqual(self.serve_all(a1, 4), ["q-p8", "q-key", "q-p2", "q-plain"])

    def test_earlier_arrival_beats_better_tier_when_its_deadline_is_earlier(self):
        d = self.start(conf(answer_rings=1, ring_on_s=0.5, ring_off_s=0.5))
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        # Standard, target 1 s; 0.8 s later a key account, target 0.5 s:
        # the standard contact's deadline (1 s) is earlier than the key
        # account's (1.3 s).
        self.new_contact(src, "early", "sales")
        time.sleep(0.8)
        self.new_contact(src, "late-key", "sales", customer={"tier": "key_account"})
        a1.ready()
        self.assertEqual(self.serve_all(a1, 2), ["early", "late-key"])

    def test_due_at(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        self.new_contact(src, "d-voice", "sales")  # deadline in 60 s
        now_ms = self.snap_contact(mon, "d-voice")["arrived_ms"]
        # A callback promised in 10 s and an email due in 2 minutes.
        self.new_contact(src, "d-callback", "sales", channel="callback", due_at=now_ms + 10000)
        self.new_contact(src, "d-email", "sales", channel="email", due_at=now_ms + 120000)
        self.assertEqual(self.snap_contact(mon, "d-callback")["deadline_ms"], now_ms + 10000)
        a1.ready()
        self.assertEqual(self.serve_all(a1, 3), ["d-callback", "d-voice", "d-email"])

    def test_past_max_wait_goes_first(self):
        # A prospect past its tier's maximum wait (0.4 s here) is served
        # before a key account whose deadline is still ahead.
        tiers = [dict(t) for t in TIERS]
        for t in tiers:
            if t["name"] == "prospect":
                t["max_wait_s"] = 0.4
        d = self.start(config(queues=[queue("sales", skills={"sales": 1}, answer_rings=3,
                                            ring_on_s=5.0, ring_off_s=15.0, ring_timeout_s=5.0,
                                            wrap_up_s=0)],
                              agents=[agent("a1", {"sales": 5})], tiers=tiers))
        mon = self.monitor(d, subscribe=["alerts"])
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        self.new_contact(src, "mw-prospect", "sales", customer={"tier": "prospect"})
        self.new_contact(src, "mw-key", "sales", customer={"tier": "key_account"})
        mon.push("alert", contact="mw-prospect", what="max_wait", timeout=2.0)
        self.new_contact(src, "mw-emergency", "sales", customer={"tier": "emergency"})
        a1.ready()
        self.assertEqual(self.serve_all(a1, 3), ["mw-emergency", "mw-prospect", "mw-key"])

    def test_default_tier(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        self.new_contact(src, "n1", "sales")
        self.assertEqual(self.snap_contact(mon, "n1")["tier"], "standard")
        e = src.error("contact.new", "bad_field", contact="n2", queue="sales",
                      customer={"tier": "platinum"})
        self.assertEqual(e["message"], "customer.tier: unknown tier 'platinum'")


if __name__ == "__main__":
    unittest.main()
