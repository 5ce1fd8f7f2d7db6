"""Monitors: snapshot contents and subscription pushes."""

import time
import unittest

from ringq_harness import RingqTestCase, agent, config, queue


def conf():
    return config(
        queues=[
            queue("sales", skills={"sales": 3}, ring_timeout_s=5.0, goal_percent=80.0,
                  alert_percent=50, max_wait_s={"prospect": 0.6}),
            queue("support", skills={"support": 1}, answer_rings=4, ring_on_s=2.0,
                  ring_off_s=4.0, chat_target_s=45, ring_timeout_s=5.0),
        ],
        agents=[
            agent("a1", {"sales": 7, "support": 3}, name="Ana Lima",
                  capacity={"voice": 1, "chat": 3, "email": 5}, languages=["en", "es"],
                  personas=["analytical", "amiable"]),
            agent("a2", {"support": 4}),
        ],
    )


class Monitor(RingqTestCase):
    def test_snapshot(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        self.new_contact(src, "m1", "support", customer={"id": "cu1", "tier": "key_account",
                                                         "lang": "es"})
        self.new_contact(src, "m2", "support", channel="chat")
        s = self.snapshot(mon)
        queues = self.by_key(s["queues"], "name")
        self.assertEqual(set(queues), {"sales", "support"})
        sup = queues["support"]
        # Voice target: 4 rings x (2 + 4 s) = 24 s.
        self.assertAlmostEqual(sup["targets"]["voice"], 24.0, places=3)
        self.assertAlmostEqual(sup["targets"]["chat"], 45.0, places=3)
        self.assertEqual(sup["answer_rings"], 4)
        self.assertAlmostEqual(sup["ring_s"], 6.0, places=3)
        self.assertEqual(sup["waiting"], 2)
        self.assertAlmostEqual(sup["goal_percent"], 80.0)
        self.assertAlmostEqual(queues["sales"]["targets"]["voice"], 0.9, places=3)
        agents = self.by_key(s["agents"], "agent")
        self.assertEqual(agents["a1"]["state"], "not_ready")
        self.assertEqual(agents["a1"]["reason"], "login")
        self.assertEqual(agents["a1"]["name"], "Ana Lima")
        self.assertEqual(agents["a1"]["skills"], {"sales": 7, "support": 3})
        self.assertEqual(agents["a1"]["languages"], ["en", "es"])
        self.assertEqual(agents["a1"]["personas"], ["analytical", "amiable"])
        self.assertEqual(agents["a1"]["capacity"], {"voice": 1, "chat": 3, "email": 5})
        self.assertEqual(agents["a2"]["state"], "logged_out")
        contacts = self.by_key(s["contacts"], "contact")
        m1 = contacts["m1"]
        self.assertEqual(m1["state"], "waiting")
        self.assertEqual(m1["queue"], "support")
        self.assertEqual(m1["tier"], "key_account")
        self.assertEqual(m1["channel"], "voice")
        self.assertEqual(m1["customer"], {"id": "cu1", "tier": "key_account", "lang": "es",
                                          "persona": None})
        self.assertEqual(m1["skills"], {"support": 1})
        self.assertEqual(m1["position"], 1)
        self.assertAlmostEqual(m1["target_s"], 12.0, places=3)
        self.assertEqual(contacts["m2"]["channel"], "chat")
        self.assertAlmostEqual(contacts["m2"]["target_s"], 45.0, places=3)
        # After an offer the contact shows its agent.
        a1.ready()
        o = a1.offer()
        c = self.snap_contact(mon, o["contact"])
        self.assertEqual(c["state"], "ringing")
        self.assertEqual(c["agent"], "a1")
        a = self.snap_agent(mon, "a1")
        self.assertEqual(a["state"], "reserved")
        self.assertEqual(a["offer"], o["contact"])

    def test_subscribe_pushes(self):
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["queues", "agents", "contacts", "alerts"])
        src = self.source(d)
        a2 = self.agent(d, "a2")
        ev = mon.agent_state("a2", "ready")
        self.assertIn("since_ms", ev)
        self.assertIn("load", ev)
        self.new_contact(src, "m3", "support")
        ev = mon.push("contact", contact="m3", change="queued")
        self.assertEqual(ev["queue"], "support")
        self.assertEqual(ev["tier"], "standard")
        ev = mon.push("contact", contact="m3", change="offered")
        self.assertEqual(ev["agent"], "a2")
        qs = mon.push("queue_stats", queue="support")
        for k in ("waiting", "longest_wait_s", "offered", "answered", "answered_in_target",
                  "abandoned", "target_s", "service_level", "goal_percent", "agents"):
            self.assertIn(k, qs)
        self.assertEqual(set(qs["agents"]),
                         {"ready", "not_ready", "reserved", "busy", "wrap_up", "logged_out"})
        a2.ok("offer.accept", contact="m3")
        mon.push("contact", contact="m3", state="connected", change="answered")
        mon.agent_state("a2", "busy")
        mon.push("queue_stats", queue="support", pred=lambda m: m["answered"] == 1
                 and m["answered_in_target"] == 1)

    def test_near_target_alert(self):
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["alerts"])
        src = self.source(d)
        t0 = time.monotonic()
        # sales: 0.9 s target, alert at 50 %.
        self.new_contact(src, "m4", "sales")
        ev = mon.push("alert", contact="m4", what="near_target", timeout=3.0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.35)
        self.assertEqual(ev["queue"], "sales")
        self.assertAlmostEqual(ev["target_s"], 0.9, places=3)
        self.assertGreaterEqual(ev["waited_s"], 0.4)
        # Only once per contact.
        mon.no_push("alert", within=0.5, contact="m4", what="near_target")

    def test_max_wait_alert(self):
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["alerts"])
        src = self.source(d)
        self.new_contact(src, "m5", "sales", customer={"tier": "prospect"})
        ev = mon.push("alert", contact="m5", what="max_wait", timeout=3.0)
        self.assertGreaterEqual(ev["waited_s"], 0.55)

    def test_service_level_counters(self):
        # sales: 0.9 s voice target, abandons_ignored: A_t / (O - B_t).
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "sl1", "sales")  # answered at once: in target
        a1.offer("sl1")
        a1.ok("offer.accept", contact="sl1")
        a1.ok("contact.end", contact="sl1")
        a1.ok("agent.state", state="not_ready", reason="break")
        self.new_contact(src, "sl2", "sales")  # answered after 1.1 s: late
        self.new_contact(src, "sl3", "sales")  # abandoned within target
        time.sleep(0.2)
        src.ok("contact.abandon", contact="sl3")
        time.sleep(0.9)
        a1.ready()
        a1.offer("sl2")
        a1.ok("offer.accept", contact="sl2")
        q = self.snap_queue(mon, "sales")
        self.assertEqual(q["offered"], 3)
        self.assertEqual(q["answered"], 2)
        self.assertEqual(q["answered_in_target"], 1)
        self.assertEqual(q["abandoned"], 1)
        self.assertEqual(q["short_abandoned"], 1)  # under short_abandon_s (5 s)
        self.assertEqual(q["service_level_variant"], "abandons_ignored")
        self.assertAlmostEqual(q["service_level"], 50.0, places=3)
        self.assertGreater(q["asa_s"], 0.4)
        self.assertLess(q["asa_s"], 1.0)

    def test_service_level_variants(self):
        for variant, expect in (("answered_only", 100.0), ("abandons_negative", 50.0),
                                ("abandons_ignored", 100.0), ("abandons_positive", 100.0)):
            with self.subTest(variant=variant):
                d = self.start(config(
                    queues=[queue("q", skills={"sales": 1}, service_level=variant,
                                  ring_timeout_s=5.0)],
                    agents=[agent("a1", {"sales": 1})]))
                mon = self.monitor(d)
                src = self.source(d)
                self.new_contact(src, "v1", "q")
                src.ok("contact.abandon", contact="v1")  # within target
                a1 = self.agent(d, "a1")
                self.new_contact(src, "v2", "q")
                a1.offer("v2")
                a1.ok("offer.accept", contact="v2")  # in target
                q = self.snap_queue(mon, "q")
                self.assertEqual(q["service_level_variant"], variant)
                self.assertAlmostEqual(q["service_level"], expect, places=3)

    def test_topics_filter(self):
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["agents"])
        src = self.source(d)
        self.agent(d, "a2")
        mon.push("agent_state", agent="a2")
        self.new_contact(src, "m6", "sales")
        mon.no_push("contact", within=0.3)
        mon.no_push("queue_stats", within=0.1)
        # Without subscribe, a monitor gets no pushes at all.
        quiet = self.monitor(d)
        self.new_contact(src, "m7", "sales")
        quiet.no_push("contact", within=0.3)
        quiet.no_push("queue_stats", within=0.0)

    def test_subscribe_replaces(self):
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["agents"])
        mon.ok("subscribe", topics=["contacts"])
        src = self.source(d)
        self.agent(d, "a2")
        self.new_contact(src, "m9", "support")
        mon.push("contact", contact="m9", change="queued")
        mon.no_push("agent_state", within=0.3)
        mon.error("subscribe", "bad_field", topics=[])

    # Known ringqd bug, reported: waited_s of answered contacts keeps counting
    # (now - arrival) in snapshots and contact pushes. Drop the decorator
    # once fixed (an unexpected success fails the run as a reminder).
    def test_waited_s_stops_at_answer(self):
        d = self.start(conf())
        mon = self.monitor(d, subscribe=["contacts"])
        src = self.source(d)
        a2 = self.agent(d, "a2", ready=False)
        self.new_contact(src, "m10", "support")
        time.sleep(0.3)
        a2.ready()
        a2.offer("m10")
        a2.ok("offer.accept", contact="m10")
        waited = mon.push("contact", contact="m10", change="answered")["waited_s"]
        self.assertGreaterEqual(waited, 0.3)
        time.sleep(0.5)
        # The wait is over once answered: it does not keep growing.
        self.assertAlmostEqual(self.snap_contact(mon, "m10")["waited_s"], waited, delta=0.05)
        a2.ok("contact.end", contact="m10")
        ended = mon.push("contact", contact="m10", change="ended")
        self.assertAlmostEqual(ended["waited_s"], waited, delta=0.05)

    def test_subscribe_default_all(self):
        d = self.start(conf())
        mon = self.monitor(d)
        mon.ok("subscribe")
        src = self.source(d)
        self.new_contact(src, "m8", "sales")
        mon.push("contact", contact="m8")
        mon.push("queue_stats", queue="sales")
        mon.push("alert", contact="m8", timeout=3.0)


if __name__ == "__main__":
    unittest.main()
