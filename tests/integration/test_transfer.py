"""contact.transfer: a contact moves to another queue."""

import unittest

from ringq_harness import RingqTestCase, agent, config, queue


def conf():
    return config(
        queues=[
            queue("sales", skills={"sales": 3}, ring_timeout_s=5.0, wrap_up_s=30),
            queue("billing", skills={"billing": 4}, ring_timeout_s=5.0, wrap_up_s=30),
            queue("closed_q", closed=True),
        ],
        agents=[
            agent("s1", {"sales": 5}),
            agent("b1", {"billing": 6}),
            agent("b2", {"billing": 2}),  # below the billing queue's level
        ],
    )


class Transfer(RingqTestCase):
    def test_transfer_connected(self):
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["contacts", "queues"])
        src = self.source(d)
        s1 = self.agent(d, "s1")
        b2 = self.agent(d, "b2")
        self.new_contact(src, "t1", "sales", customer={"tier": "key_account"})
        s1.offer("t1")
        s1.ok("offer.accept", contact="t1")
        s1.state("busy")

        src.ok("contact.transfer", contact="t1", queue="billing")
        # The first agent is done with it: wrap-up.
        s1.state("wrap_up")
        ev = mon.push("contact", contact="t1", pred=lambda m: m.get("queue") == "billing")
        self.assertEqual(ev["queue"], "billing")
        c = self.snap_contact(mon, "t1")
        self.assertEqual(c["queue"], "billing")
        self.assertEqual(c["state"], "waiting")
        self.assertEqual(c["tier"], "key_account")
        # b2 lacks the level the billing queue needs; b1 has it.
        b2.no_push("offer", within=0.3)
        b1 = self.agent(d, "b1")
        o = b1.offer("t1")
        self.assertEqual(o["queue"], "billing")
        self.assertEqual(o["customer"]["tier"], "key_account")
        src.push("route", contact="t1", agent="b1")
        b1.ok("offer.accept", contact="t1")
        b1.ok("contact.end", contact="t1")
        b1.state("wrap_up")

    def test_transfer_waiting(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        self.new_contact(src, "t2", "sales")
        self.assertEqual(self.snap_queue(mon, "sales")["waiting"], 1)
        src.ok("contact.transfer", contact="t2", queue="billing")
        self.assertEqual(self.snap_queue(mon, "sales")["waiting"], 0)
        self.assertEqual(self.snap_queue(mon, "billing")["waiting"], 1)
        s1 = self.agent(d, "s1")
        s1.no_push("offer", within=0.3)
        b1 = self.agent(d, "b1")
        b1.offer("t2")

    def test_transfer_ringing_revokes(self):
        d = self.start(conf())
        src = self.source(d)
        s1 = self.agent(d, "s1")
        self.new_contact(src, "t3", "sales")
        s1.offer("t3")
        src.ok("contact.transfer", contact="t3", queue="billing")
        rv = s1.push("revoke", contact="t3")
        self.assertEqual(rv["reason"], "transferred")
        b1 = self.agent(d, "b1")
        b1.offer("t3")

    def test_transfer_errors(self):
        d = self.start(conf())
        src = self.source(d)
        self.new_contact(src, "t4", "sales")
        src.error("contact.transfer", "not_found", contact="t4", queue="nowhere")
        src.error("contact.transfer", "not_found", contact="nobody", queue="billing")
        src.error("contact.transfer", "bad_field", contact="t4")
        src.error("contact.transfer", "bad_state", contact="t4", queue="sales")
        src.error("contact.transfer", "unavailable", contact="t4", queue="closed_q")


if __name__ == "__main__":
    unittest.main()
