"""Which agent gets a contact: preferred agent, persona, strategies."""

import time
import unittest

from ringq_harness import RingqTestCase, agent, config, push_any, queue


def conf(strategy="longest_idle", preferred_wait_s=0.6):
    return config(
        queues=[
            queue("sales", skills={"sales": 1}, ring_timeout_s=5.0, wrap_up_s=0,
                  strategy=strategy, preferred_wait_s=preferred_wait_s),
        ],
        agents=[
            agent("a1", {"sales": 3}, personas=["analytical"]),
            agent("a2", {"sales": 9}, personas=["amiable"]),
            agent("a3", {"sales": 6}, personas=["expressive"]),
        ],
    )


class Routing(RingqTestCase):
    def ready_in_order(self, d, ids):
        """Log the agents in and make them ready in this order, a little
        apart so their idle times differ."""
        out = {}
        for aid in ids:
            out[aid] = self.agent(d, aid)
            time.sleep(0.02)
        return out

    def take(self, agents, cid):
        """Which agent got the offer of cid; it accepts and ends it at once."""
        who, o = push_any(list(agents.values()), "offer", contact=cid)
        who.ok("offer.accept", contact=cid)
        who.ok("contact.end", contact=cid)
        return who.name

    def test_longest_idle(self):
        d = self.start(conf("longest_idle"))
        src = self.source(d)
        ags = self.ready_in_order(d, ["a2", "a3", "a1"])
        got = []
        for i in range(4):
            self.new_contact(src, "li%d" % i, "sales")
            got.append(self.take(ags, "li%d" % i))
            time.sleep(0.02)
        # Each agent that finishes goes to the end of the line.
        self.assertEqual(got, ["a2", "a3", "a1", "a2"])

    def test_most_skilled(self):
        d = self.start(conf("most_skilled"))
        src = self.source(d)
        ags = self.ready_in_order(d, ["a1", "a3", "a2"])
        got = []
        for i in range(3):
            self.new_contact(src, "ms%d" % i, "sales")
            got.append(self.take(ags, "ms%d" % i))
        self.assertEqual(got, ["a2", "a2", "a2"])

    def test_round_robin(self):
        d = self.start(conf("round_robin"))
        src = self.source(d)
        ags = self.ready_in_order(d, ["a1", "a2", "a3"])
        got = []
        for i in range(6):
            self.new_contact(src, "rr%d" % i, "sales")
            got.append(self.take(ags, "rr%d" % i))
        self.assertEqual(sorted(got[:3]), ["a1", "a2", "a3"])
        self.assertEqual(got[3:], got[:3])

    def test_fewest_contacts(self):
        d = self.start(conf("fewest_contacts"))
        src = self.source(d)
        ags = self.ready_in_order(d, ["a1", "a2", "a3"])
        got = []
        for i in range(6):
            self.new_contact(src, "fc%d" % i, "sales")
            got.append(self.take(ags, "fc%d" % i))
        for aid in ("a1", "a2", "a3"):
            self.assertEqual(got.count(aid), 2, got)

    def test_persona_match(self):
        d = self.start(conf())
        src = self.source(d)
        ags = self.ready_in_order(d, ["a1", "a2", "a3"])
        self.new_contact(src, "pe1", "sales", customer={"persona": "expressive"})
        self.assertEqual(self.take(ags, "pe1"), "a3")
        self.new_contact(src, "pe2", "sales", customer={"persona": "amiable"})
        self.assertEqual(self.take(ags, "pe2"), "a2")
        # Nobody free is good with it: any agent takes it.
        self.new_contact(src, "pe3", "sales", customer={"persona": "authoritative"})
        self.assertEqual(self.take(ags, "pe3"), "a1")

    def test_preferred_agent(self):
        d = self.start(conf())
        src = self.source(d)
        ags = self.ready_in_order(d, ["a1", "a2", "a3"])
        self.new_contact(src, "pr1", "sales", preferred_agent="a3")
        self.assertEqual(self.take(ags, "pr1"), "a3")

    def test_preferred_agent_busy_then_others(self):
        d = self.start(conf(preferred_wait_s=0.6))
        mon = self.monitor(d)
        src = self.source(d)
        ags = self.ready_in_order(d, ["a1", "a2", "a3"])
        # a3 is busy on a call.
        self.new_contact(src, "busy", "sales", preferred_agent="a3")
        ags["a3"].offer("busy")
        ags["a3"].ok("offer.accept", contact="busy")
        # The next contact waits for a3 although a1 and a2 are free ...
        t0 = time.monotonic()
        r = self.new_contact(src, "pr2", "sales", preferred_agent="a3")
        self.assertEqual(r["position"], 1)
        ags["a1"].no_push("offer", within=0.3)
        self.assertEqual(self.snap_contact(mon, "pr2")["state"], "waiting")
        # ... until preferred_wait_s has passed.
        who, _ = push_any([ags["a1"], ags["a2"]], "offer", contact="pr2", timeout=2.0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        self.assertEqual(who.name, "a1")

    def test_preferred_agent_frees_up_in_time(self):
        d = self.start(conf(preferred_wait_s=3.0))
        src = self.source(d)
        ags = self.ready_in_order(d, ["a1", "a2", "a3"])
        self.new_contact(src, "busy", "sales", preferred_agent="a3")
        ags["a3"].offer("busy")
        ags["a3"].ok("offer.accept", contact="busy")
        self.new_contact(src, "pr3", "sales", preferred_agent="a3")
        time.sleep(0.2)
        ags["a3"].ok("contact.end", contact="busy")
        ags["a3"].offer("pr3", timeout=1.0)
        ags["a1"].no_push("offer", within=0.1)

    def test_preferred_agent_logged_out_or_unknown(self):
        d = self.start(conf(preferred_wait_s=3.0))
        src = self.source(d)
        ags = self.ready_in_order(d, ["a1", "a2"])
        # a3 is not logged in, "zz" does not exist: neither holds the contact.
        self.new_contact(src, "pr4", "sales", preferred_agent="a3")
        self.assertIn(self.take(ags, "pr4"), ("a1", "a2"))
        self.new_contact(src, "pr5", "sales", preferred_agent="zz")
        self.assertIn(self.take(ags, "pr5"), ("a1", "a2"))

    def test_preferred_agent_logs_out_while_held(self):
        d = self.start(conf(preferred_wait_s=5.0))
        src = self.source(d)
        ags = self.ready_in_order(d, ["a1", "a3"])
        self.new_contact(src, "busy", "sales", preferred_agent="a3")
        ags["a3"].offer("busy")
        ags["a3"].ok("offer.accept", contact="busy")
        self.new_contact(src, "pr6", "sales", preferred_agent="a3")
        ags["a1"].no_push("offer", within=0.2)
        ags["a3"].ok("bye")
        ags["a1"].offer("pr6", timeout=1.0)


if __name__ == "__main__":
    unittest.main()
