"""A contact's life: queued, offered, connected, ended; the agent's wrap-up
and chat capacity."""

import time
import unittest

from ringq_harness import RingqTestCase, agent, config, push_any, queue


def conf(wrap_up_s=0.3):
    return config(
        queues=[
            queue("sales", skills={"sales": 1}, wrap_up_s=wrap_up_s, ring_timeout_s=5.0),
        ],
        agents=[
            agent("a1", {"sales": 5}),
            agent("a2", {"sales": 5}),
            agent("c1", {"sales": 5}, capacity={"voice": 1, "chat": 2, "email": 1}),
            agent("w1", {"sales": 5}, capacity={"voice": 0, "chat": 3, "email": 2}),
        ],
    )


class Lifecycle(RingqTestCase):
    def test_hello_replies(self):
        d = self.start(conf())
        src = self.connect(d)
        r = src.hello("source", name="pbx1")
        self.assertEqual(r["role"], "source")
        self.assertEqual(r["server"], "ringqd")
        self.assertIsInstance(r["version"], str)
        self.assertNotIn("state", r)
        self.assertTrue(src.ok("ping")["ok"])
        ag = self.connect(d)
        r = ag.hello("agent", agent="a1")
        self.assertEqual(r["role"], "agent")
        # The reply says where the agent stands: logged in, not ready.
        self.assertEqual((r["state"], r["reason"]), ("not_ready", "login"))
        # An agent logs in not ready (reason login) until it says ready.
        mon = self.monitor(d)
        a1 = self.snap_agent(mon, "a1")
        self.assertEqual(a1["state"], "not_ready")
        self.assertEqual(a1["reason"], "login")
        self.assertEqual(self.snap_agent(mon, "a2")["state"], "logged_out")
        ag.ready()
        ag.state("ready")
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "ready")

    def test_offer_accept_end_wrapup_done(self):
        d = self.start(conf(wrap_up_s=30))
        mon = self.monitor(d, subscribe=["agents", "contacts"])
        src = self.source(d)
        a1 = self.agent(d, "a1")
        a2 = self.agent(d, "a2")

        r = self.new_contact(src, "k1", "sales", customer={"id": "cust-1", "tier": "standard"})
        self.assertEqual(r["contact"], "k1")
        self.assertIn("position", r)
        self.assertIsInstance(r["ewt_s"], (int, float))

        who, offer = push_any([a1, a2], "offer", contact="k1")
        other = a2 if who is a1 else a1
        self.assertEqual(offer["queue"], "sales")
        self.assertEqual(offer["channel"], "voice")
        self.assertEqual(offer["customer"]["id"], "cust-1")
        self.assertEqual(offer["customer"]["tier"], "standard")
        self.assertAlmostEqual(offer["ring_timeout_s"], 5.0, places=3)
        self.assertGreaterEqual(offer["waited_s"], 0)
        route = src.push("route", contact="k1")
        self.assertEqual(route["agent"], who.name)
        self.assertEqual(route["target"], who.name)
        self.assertAlmostEqual(route["ring_timeout_s"], 5.0, places=3)
        mon.agent_state(who.name, "reserved")
        self.assertEqual(self.snap_contact(mon, "k1")["state"], "ringing")
        other.no_push("offer", within=0.2)

        who.ok("offer.accept", contact="k1")
        who.state("busy")
        mon.agent_state(who.name, "busy")
        self.assertEqual(self.snap_contact(mon, "k1")["state"], "connected")

        who.ok("contact.end", contact="k1")
        who.state("wrap_up")
        mon.agent_state(who.name, "wrap_up")
        mon.push("contact", contact="k1", state="ended")
        self.assertEqual(self.snap_agent(mon, who.name)["state"], "wrap_up")
        self.assertIsNone(self.snap_contact(mon, "k1"))

        who.ok("wrapup.done")
        who.state("ready", timeout=1.0)
        mon.agent_state(who.name, "ready")
        self.assertEqual(self.snap_agent(mon, who.name)["state"], "ready")

    def test_source_answered_then_source_end(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "k2", "sales")
        a1.offer("k2")
        src.push("route", contact="k2", agent="a1")
        src.ok("contact.answered", contact="k2", agent="a1")
        a1.state("busy")
        self.assertEqual(self.snap_contact(mon, "k2")["state"], "connected")
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "busy")
        # The caller hangs up: the source ends the contact.
        src.ok("contact.end", contact="k2")
        a1.state("wrap_up")
        self.assertIsNone(self.snap_contact(mon, "k2"))

    def test_reply_comes_before_the_pushes_it_caused(self):
        d = self.start(conf())
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        self.new_contact(src, "k16", "sales")
        a1.send_raw(b'{"op":"agent.state","state":"ready","id":"r"}\n')
        lines = [a1.read_msg() for _ in range(4)]
        self.assertEqual(lines[0], {"re": "r", "ok": True})
        self.assertEqual(lines[1], {"ev": "state", "state": "ready", "reason": None})
        self.assertEqual(lines[2]["ev"], "offer")
        self.assertEqual(lines[3], {"ev": "state", "state": "reserved", "reason": None})

    def test_wrap_up_ends_by_timer(self):
        d = self.start(conf(wrap_up_s=0.3))
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "k3", "sales")
        a1.offer("k3")
        a1.ok("offer.accept", contact="k3")
        a1.ok("contact.end", contact="k3")
        t0 = time.monotonic()
        a1.state("wrap_up")
        a1.state("ready", timeout=3.0)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.2, "wrap-up ended before wrap_up_s")
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "ready")
        # Ready again: takes the next contact.
        self.new_contact(src, "k4", "sales")
        a1.offer("k4")

    def test_next_contact_waits_for_wrap_up(self):
        d = self.start(conf(wrap_up_s=0.6))
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "k5", "sales")
        a1.offer("k5")
        a1.ok("offer.accept", contact="k5")
        a1.ok("contact.end", contact="k5")
        a1.state("wrap_up")
        r = self.new_contact(src, "k6", "sales")
        self.assertGreaterEqual(r["position"], 1)
        a1.no_push("offer", within=0.3)
        a1.offer("k6", timeout=3.0)

    def test_chat_capacity(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        c1 = self.agent(d, "c1")
        self.new_contact(src, "chat1", "sales", channel="chat")
        o = c1.offer("chat1")
        self.assertEqual(o["channel"], "chat")
        c1.ok("offer.accept", contact="chat1")
        self.new_contact(src, "chat2", "sales", channel="chat")
        c1.offer("chat2")
        c1.ok("offer.accept", contact="chat2")
        # Capacity 2: the third chat waits, and so does a voice contact.
        r = self.new_contact(src, "chat3", "sales", channel="chat")
        self.assertGreaterEqual(r["position"], 1)
        r = self.new_contact(src, "voice1", "sales")
        self.assertGreaterEqual(r["position"], 1)
        c1.no_push("offer", within=0.5)
        a = self.snap_agent(mon, "c1")
        self.assertEqual(a["state"], "busy")
        self.assertEqual(self.snap_contact(mon, "chat3")["state"], "waiting")
        self.assertEqual(self.snap_contact(mon, "voice1")["state"], "waiting")
        # One chat ends: room for the third chat, not for the voice call.
        c1.ok("contact.end", contact="chat1")
        c1.request("wrapup.done")  # bad_state if chats keep the agent out of wrap-up
        o = c1.offer(timeout=3.0)
        self.assertEqual(o["contact"], "chat3")
        c1.ok("offer.accept", contact="chat3")
        c1.no_push("offer", within=0.3)

    def test_agent_without_voice_capacity(self):
        # voice = 0: a chat and email agent only.
        d = self.start(conf())
        src = self.source(d)
        w1 = self.agent(d, "w1")
        self.new_contact(src, "v-call", "sales")
        self.new_contact(src, "v-callback", "sales", channel="callback")
        w1.no_push("offer", within=0.3)
        self.new_contact(src, "v-mail", "sales", channel="email")
        o = w1.offer("v-mail")
        self.assertEqual(o["channel"], "email")
        w1.ok("offer.accept", contact="v-mail")
        self.new_contact(src, "v-mail2", "sales", channel="email")
        w1.offer("v-mail2")

    def test_voice_waits_while_agent_has_a_chat(self):
        d = self.start(conf())
        src = self.source(d)
        c1 = self.agent(d, "c1")
        self.new_contact(src, "chat1", "sales", channel="chat")
        c1.offer("chat1")
        c1.ok("offer.accept", contact="chat1")
        self.new_contact(src, "voice1", "sales")
        c1.no_push("offer", within=0.5)
        c1.ok("contact.end", contact="chat1")
        c1.request("wrapup.done")
        o = c1.offer("voice1", timeout=3.0)
        self.assertEqual(o["channel"], "voice")

    def test_takeover_while_ringing(self):
        # The softphone restarts while an offer rings: the new session learns
        # its state and gets the offer again.
        d = self.start(conf())
        src = self.source(d)
        old = self.agent(d, "a1")
        self.new_contact(src, "k8", "sales")
        old.offer("k8")
        new = self.connect(d)
        new.hello("agent", agent="a1")
        new.state("reserved")
        o = new.offer("k8")
        self.assertEqual(o["queue"], "sales")
        self.assertTrue(old.closed_by_peer())
        new.ok("offer.accept", contact="k8")
        new.state("busy")

    def test_logout_while_ringing(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "k9", "sales")
        a1.offer("k9")
        src.push("route", contact="k9", agent="a1")
        a1.ok("bye")
        rv = src.push("revoke", contact="k9")
        self.assertEqual((rv["agent"], rv["reason"]), ("a1", "logged_out"))
        self.assertEqual(self.snap_contact(mon, "k9")["state"], "waiting")
        a2 = self.agent(d, "a2")
        a2.offer("k9")
        src.push("route", contact="k9", agent="a2")

    def test_disconnect_while_ringing(self):
        d = self.start(conf())
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "k10", "sales")
        a1.offer("k10")
        a1.close()
        self.assertEqual(src.push("revoke", contact="k10")["reason"], "logged_out")
        a2 = self.agent(d, "a2")
        a2.offer("k10")

    def test_disconnect_keeps_the_call(self):
        # The softphone's connection drops during a call: the agent is logged
        # out, but the call goes on (the PBX still has it) and stays counted.
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "k11", "sales")
        a1.offer("k11")
        a1.ok("offer.accept", contact="k11")
        a1.close()
        self.wait_until(lambda: self.snap_agent(mon, "a1")["state"] == "logged_out",
                        what="a1 logged out")
        a = self.snap_agent(mon, "a1")
        self.assertEqual(a["contacts"], ["k11"])
        self.assertEqual(self.snap_contact(mon, "k11")["state"], "connected")
        # Back again and ready while the call goes on: no second voice call.
        a1 = self.agent(d, "a1")
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "busy")
        self.new_contact(src, "k12", "sales")
        a1.no_push("offer", within=0.3)
        src.ok("contact.end", contact="k11")
        a1.state("wrap_up")
        a1.offer("k12", timeout=2.0)

    def test_not_ready_while_busy(self):
        # not_ready during a call takes effect after it: after wrap-up the
        # agent stays not ready with the reason given.
        d = self.start(conf(wrap_up_s=0.2))
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "k13", "sales")
        a1.offer("k13")
        a1.ok("offer.accept", contact="k13")
        a1.ok("agent.state", state="not_ready", reason="lunch")
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "busy")
        a1.ok("contact.end", contact="k13")
        a1.state("wrap_up")
        a1.state("not_ready", reason="lunch", timeout=2.0)
        self.new_contact(src, "k14", "sales")
        a1.no_push("offer", within=0.3)
        a1.ready()
        a1.offer("k14")

    def test_not_ready_while_ringing_keeps_the_offer(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "k15", "sales")
        a1.offer("k15")
        a1.ok("agent.state", state="not_ready", reason="break")
        a = self.snap_agent(mon, "a1")
        self.assertEqual((a["state"], a["offer"]), ("reserved", "k15"))
        a1.ok("offer.accept", contact="k15")
        a1.ok("contact.end", contact="k15")
        a1.state("not_ready", reason="break", timeout=2.0)

    def test_not_ready_without_reason(self):
        d = self.start(conf())
        mon = self.monitor(d)
        a1 = self.agent(d, "a1")
        a1.ok("agent.state", state="not_ready")
        self.assertIsNone(a1.state("not_ready")["reason"])
        self.assertIsNone(self.snap_agent(mon, "a1")["reason"])
        a1.error("wrapup.done", "bad_state")

    def test_bye_logs_out(self):
        d = self.start(conf())
        mon = self.monitor(d)
        a1 = self.agent(d, "a1")
        a1.ok("bye")
        self.assertTrue(a1.closed_by_peer(), "bye did not close the connection")
        self.wait_until(lambda: self.snap_agent(mon, "a1")["state"] == "logged_out",
                        what="a1 logged out")

    def test_second_session_replaces_first(self):
        d = self.start(conf())
        mon = self.monitor(d)
        old = self.agent(d, "a1")
        new = self.connect(d)
        new.hello("agent", agent="a1")
        old.push("closed", reason="replaced")
        self.assertTrue(old.closed_by_peer())
        new.ready()
        src = self.source(d)
        self.new_contact(src, "k7", "sales")
        new.offer("k7")
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "reserved")


if __name__ == "__main__":
    unittest.main()
