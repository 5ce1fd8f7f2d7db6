"""A source reconnects and reconciles its contacts with `sync`."""

import unittest

from ringq_harness import RingqTestCase, agent, config, queue


def conf():
    return config(
        queues=[
            queue("sales", skills={"sales": 1}, ring_timeout_s=5.0, answer_rings=20),
            queue("support", skills={"support": 1}, ring_timeout_s=5.0, answer_rings=20),
        ],
        agents=[agent("a1", {"sales": 5}), agent("a2", {"support": 5})],
    )


class Sync(RingqTestCase):
    def test_reconnect_and_sync(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        for cid in ("s1", "s2", "s3"):
            self.new_contact(src, cid, "sales")
        # Another source's contacts are not this source's business.
        other = self.source(d, name="pbx2")
        self.new_contact(other, "o1", "sales")
        # A new session of the same source takes over (as after a network
        # failure the old one may still look open).
        src2 = self.source(d)
        src.push("closed", reason="replaced")
        self.assertTrue(src.closed_by_peer())
        r = src2.ok(
            "sync",
            contacts=[
                "s1",
                {"contact": "s2", "queue": "sales"},
                {"contact": "s4", "queue": "support", "customer": {"tier": "key_account"}},
                "zz9",
            ],
        )
        self.assertEqual(r["kept"], 2)
        self.assertEqual(r["dropped"], ["s3"])
        self.assertEqual(r["added"], ["s4"])
        self.assertEqual(r["unknown"], ["zz9"])
        ids = {c.get("contact") for c in self.snapshot(mon)["contacts"]}
        self.assertEqual(ids, {"s1", "s2", "s4", "o1"})
        s4 = self.snap_contact(mon, "s4")
        self.assertEqual(s4["queue"], "support")
        self.assertEqual(s4["tier"], "key_account")

        # Routes now go to the new connection.
        a1 = self.agent(d, "a1")
        a1.offer("s1")
        route = src2.push("route", contact="s1")
        self.assertEqual(route["agent"], "a1")
        a2 = self.agent(d, "a2")
        a2.offer("s4")
        src2.push("route", contact="s4", agent="a2")
        other.no_push("route", within=0.2)
        # The new connection owns the contacts: it can answer and end them.
        src2.ok("contact.answered", contact="s1", agent="a1")
        src2.ok("contact.end", contact="s1")

    def test_sync_drops_a_connected_contact(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "s5", "sales")
        a1.offer("s5")
        src.ok("contact.answered", contact="s5", agent="a1")
        src.close()
        src2 = self.source(d)
        r = src2.ok("sync", contacts=[])
        self.assertEqual(r["kept"], 0)
        self.assertEqual(r["dropped"], ["s5"])
        self.assertEqual(r["added"], [])
        self.assertEqual(r["unknown"], [])
        # Answered before: it ends, and its agent goes to wrap-up.
        a1.state("wrap_up")
        self.assertIsNone(self.snap_contact(mon, "s5"))

    def test_sync_while_ringing_revokes(self):
        d = self.start(conf())
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "s6", "sales")
        a1.offer("s6")
        r = src.ok("sync", contacts=[])
        self.assertEqual(r["dropped"], ["s6"])
        a1.push("revoke", contact="s6")
        self.new_contact(src, "s7", "sales")
        a1.offer("s7")

    def test_sync_entries_that_fail(self):
        # A full entry that cannot be added is listed under `failed` with its
        # error; the rest of the sync still applies.
        d = self.start(config(queues=[queue("sales", skills={"sales": 1}),
                                      queue("closed_q", closed=True)],
                              agents=[agent("a1", {"sales": 5})], max_contacts=3))
        mon = self.monitor(d)
        src = self.source(d)
        for cid in ("f1", "f2", "f3"):
            self.new_contact(src, cid, "sales")
        r = src.ok("sync", contacts=["f1", "f2", "f3", {"contact": "f4", "queue": "sales"}])
        self.assertEqual(r["kept"], 3)
        self.assertEqual(r["added"], [])
        self.assertEqual([(f["contact"], f["error"]["code"]) for f in r["failed"]],
                         [("f4", "overloaded")])
        r = src.ok("sync", contacts=["f1", {"contact": "f5", "queue": "nowhere"},
                                     {"contact": "f6", "queue": "closed_q"},
                                     {"contact": "f7", "queue": "sales"}])
        self.assertEqual(r["kept"], 1)
        self.assertEqual(sorted(r["dropped"]), ["f2", "f3"])
        self.assertEqual(r["added"], ["f7"])
        self.assertEqual(sorted((f["contact"], f["error"]["code"]) for f in r["failed"]),
                         [("f5", "not_found"), ("f6", "unavailable")])
        ids = sorted(c["contact"] for c in self.snapshot(mon)["contacts"])
        self.assertEqual(ids, ["f1", "f7"])

    def test_sync_keeps_arrival_time(self):
        # A contact re-added by sync keeps its original arrival (arrived_ms):
        # it is served ahead of one that arrived later.
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        self.new_contact(src, "late", "sales")
        now_ms = self.snap_contact(mon, "late")["arrived_ms"]
        r = src.ok("sync", contacts=["late", {"contact": "early", "queue": "sales",
                                              "arrived_ms": now_ms - 5000}])
        self.assertEqual(r["added"], ["early"])
        early = self.snap_contact(mon, "early")
        self.assertEqual(early["arrived_ms"], now_ms - 5000)
        self.assertEqual(early["position"], 1)
        self.assertGreaterEqual(early["waited_s"], 5.0)
        a1 = self.agent(d, "a1")
        a1.offer("early")

    def test_sync_bad_entries(self):
        d = self.start(conf())
        mon = self.monitor(d)
        src = self.source(d)
        self.new_contact(src, "s8", "sales")
        before = self.snapshot(mon)
        err = src.error("sync", "bad_field", contacts=["s8", 5])
        self.assertIn("contacts[1]", err["message"])
        err = src.error("sync", "bad_field", contacts=[{"contact": "s9", "queue": "sales", "bogus": 1}])
        self.assertIn("bogus", err["message"])
        err = src.error("sync", "bad_field", contacts="s8")
        self.assertIn("contacts", err["message"])
        after = self.snapshot(mon)
        self.assertEqual([c["contact"] for c in before["contacts"]],
                         [c["contact"] for c in after["contacts"]])


if __name__ == "__main__":
    unittest.main()
