"""Escalation steps widen the pool of agents while a contact waits."""

import time
import unittest

from ringq_harness import RingqTestCase, agent, config, queue

# Voice target: 2 rings of 0.5 + 0.5 s = 2 s. Relax two levels at 50 % (1 s),
# add the support queue's agents at 80 % (1.6 s), drop the language at 60 %.


def conf():
    return config(
        queues=[
            queue(
                "sales",
                skills={"sales": 6},
                answer_rings=2,
                ring_on_s=0.5,
                ring_off_s=0.5,
                ring_timeout_s=5.0,
                escalation=[
                    {"at_percent": 50, "relax_levels": 2},
                    {"at_percent": 80, "overflow": ["support"]},
                ],
            ),
            queue(
                "intl",
                skills={"sales": 1},
                answer_rings=2,
                ring_on_s=0.5,
                ring_off_s=0.5,
                ring_timeout_s=5.0,
                escalation=[{"at_percent": 60, "relax_language": True}],
            ),
            queue("support", skills={"support": 2}, ring_timeout_s=5.0),
            queue(
                "slow",
                skills={"sales": 9},
                chat_target_s=100,
                answer_rings=50,
                ring_on_s=1.0,
                ring_off_s=1.0,
                ring_timeout_s=5.0,
                escalation=[{"after_s": 0.8, "relax_levels": 5}],
            ),
        ],
        agents=[
            agent("hi", {"sales": 8}),
            agent("lo", {"sales": 4}),
            agent("lo2", {"sales": 3}),
            agent("sup", {"support": 5}),
            agent("en", {"sales": 5}, languages=["en"]),
            agent("de", {"sales": 5}, languages=["de"]),
        ],
    )


class Escalation(RingqTestCase):
    def test_relax_levels(self):
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["contacts"])
        src = self.source(d)
        lo = self.agent(d, "lo")
        lo2 = self.agent(d, "lo2")
        t0 = time.monotonic()
        self.new_contact(src, "e1", "sales")
        lo.no_push("offer", within=0.7)
        o = lo.offer("e1", timeout=2.0)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.9, "offered to a level-4 agent before the relax step")
        self.assertLess(took, 1.8)
        self.assertGreaterEqual(o["waited_s"], 0.9)
        mon.push("contact", contact="e1", change="escalated")
        # Relaxed by two levels: 6 -> 4, still too high for level 3.
        lo2.no_push("offer", within=0.1)

    def test_qualified_agent_first(self):
        d = self.start(conf())
        src = self.source(d)
        lo = self.agent(d, "lo")
        hi = self.agent(d, "hi")
        self.new_contact(src, "e2", "sales")
        hi.offer("e2", timeout=0.5)
        lo.no_push("offer", within=0.2)

    def test_overflow(self):
        d = self.start(conf())
        src = self.source(d)
        sup = self.agent(d, "sup")
        t0 = time.monotonic()
        self.new_contact(src, "e3", "sales")
        sup.no_push("offer", within=1.2)
        o = sup.offer("e3", timeout=2.5)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 1.5, "offered to an overflow agent before the overflow step")
        self.assertLess(took, 2.6)
        self.assertIn(o["queue"], ("sales", "support"))
        sup.ok("offer.accept", contact="e3")

    def test_contact_skill_requirement_is_relaxed_too(self):
        d = self.start(conf())
        src = self.source(d)
        hi = self.agent(d, "hi")
        # The contact asks for sales 10 itself: nobody has it until relaxed (10 -> 8).
        self.new_contact(src, "e4", "sales", skills={"sales": 10})
        hi.no_push("offer", within=0.7)
        hi.offer("e4", timeout=2.0)

    def test_relax_language(self):
        d = self.start(conf())
        src = self.source(d)
        en = self.agent(d, "en")
        self.agent(d, "de", ready=False)  # speaks de but is not ready
        t0 = time.monotonic()
        self.new_contact(src, "e5", "intl", customer={"lang": "de"})
        en.no_push("offer", within=0.9)
        en.offer("e5", timeout=2.0)
        self.assertGreaterEqual(time.monotonic() - t0, 1.1)

    def test_language_matched_first(self):
        d = self.start(conf())
        src = self.source(d)
        en = self.agent(d, "en")
        de = self.agent(d, "de")
        self.new_contact(src, "e6", "intl", customer={"lang": "de"})
        de.offer("e6", timeout=0.5)
        en.no_push("offer", within=0.2)

    def test_step_after_seconds(self):
        d = self.start(conf())
        src = self.source(d)
        lo = self.agent(d, "lo")
        t0 = time.monotonic()
        self.new_contact(src, "e7", "slow")
        lo.no_push("offer", within=0.6)
        lo.offer("e7", timeout=2.0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.75)


if __name__ == "__main__":
    unittest.main()
