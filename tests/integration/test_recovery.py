"""The protocol with the Redis mirror on (a private redis-server per test,
see redis_server.py): durable replies, what clients see after ringqd is
killed and restarted, and a Redis outage."""

import shutil
import unittest

from redis_server import RedisServer
from ringq_harness import RingqTestCase, agent, config, queue

HAVE_REDIS = shutil.which("redis-server") and shutil.which("redis-cli")


def conf(redis):
    c = config(
        queues=[queue("sales", skills={"sales": 1}, answer_rings=20, ring_timeout_s=5.0,
                      wrap_up_s=30)],
        agents=[agent("a1", {"sales": 5}), agent("a2", {"sales": 5})],
    )
    c["redis"] = {"host": "127.0.0.1", "port": redis.port, "prefix": "rqit:",
                  "connect_timeout_s": 1, "command_timeout_s": 1, "wait_at_start": True}
    return c


@unittest.skipUnless(HAVE_REDIS, "redis-server / redis-cli are not installed")
class Recovery(RingqTestCase):
    def setUp(self):
        super().setUp()
        self.redis = RedisServer(persist=False).start()
        self.addCleanup(self.redis.cleanup)

    def hget(self, key, field):
        return self.redis.hgetall(key).get(field)

    def crashed_daemon(self):
        """A ringqd with a connected, a ringing and a waiting contact, killed
        with SIGKILL and started again on the same Redis. Returns the new
        daemon and the contacts as the old one saw them."""
        c = conf(self.redis)
        d = self.start(c)
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "k-connected", "sales")
        a1.offer("k-connected")
        a1.ok("offer.accept", contact="k-connected")
        a2 = self.agent(d, "a2")
        self.new_contact(src, "k-ringing", "sales")
        a2.offer("k-ringing")
        self.new_contact(src, "k-waiting", "sales", customer={"tier": "prospect"})
        before = {x["contact"]: x for x in self.snapshot(mon)["contacts"]}
        for cl in self.clients:
            cl.close()
        self.clients = []
        d.kill()  # SIGKILL: no chance to write anything more
        return self.start(c), before

    def test_durable_replies(self):
        d = self.start(conf(self.redis))
        src = self.source(d)
        r = self.new_contact(src, "r1", "sales")
        self.assertIs(r["durable"], True)
        # Acknowledged means stored.
        self.assertEqual(self.hget("rqit:contact:r1", "state"), "waiting")
        self.assertEqual(self.redis.lines("ZRANGE", "rqit:queue:sales:waiting", "0", "-1"), ["r1"])
        mon = self.monitor(d)
        self.assertIs(self.snapshot(mon)["redis"]["connected"], True)

    def test_contacts_survive_kill(self):
        d2, before = self.crashed_daemon()
        mon = self.monitor(d2)
        after = {x["contact"]: x for x in self.snapshot(mon)["contacts"]}
        self.assertEqual(set(after), {"k-connected", "k-ringing", "k-waiting"})
        self.assertEqual(after["k-connected"]["state"], "connected")
        self.assertEqual(after["k-connected"]["agent"], "a1")
        # The offer died with the old process: ringing again means waiting.
        self.assertEqual(after["k-ringing"]["state"], "waiting")
        self.assertEqual(after["k-waiting"]["state"], "waiting")
        for cid in after:
            self.assertEqual(after[cid]["arrived_ms"], before[cid]["arrived_ms"], cid)
            self.assertEqual(after[cid]["tier"], before[cid]["tier"], cid)
        # Service order survives: the standard contact goes before the prospect.
        self.assertEqual(after["k-ringing"]["position"], 1)
        self.assertEqual(after["k-waiting"]["position"], 2)
        # The source reconnects, syncs, and ends the call that went on.
        src = self.source(d2)
        r = src.ok("sync", contacts=["k-connected", "k-ringing", "k-waiting"])
        self.assertEqual(r["kept"], 3)
        src.ok("contact.end", contact="k-connected")
        self.assertIsNone(self.snap_contact(mon, "k-connected"))
        self.assertEqual(self.snap_agent(mon, "a1")["state"], "logged_out")

    def test_agent_back_after_restart_is_offered(self):
        # a2 was ready (with an offer ringing) when ringqd died: on hello it
        # is ready again, so it is offered a contact at once, and its new
        # connection hears all of it.
        d2, _ = self.crashed_daemon()
        b2 = self.connect(d2)
        r = b2.hello("agent", agent="a2")
        self.assertIn(r["state"], ("ready", "reserved"))
        o = b2.offer(timeout=2.0)
        self.assertEqual(o["contact"], "k-ringing")
        b2.state("reserved")
        b2.ok("offer.accept", contact="k-ringing")
        b2.state("busy")

    def test_outage(self):
        d = self.start(conf(self.redis))
        mon = self.monitor(d)
        src = self.source(d)
        self.new_contact(src, "o1", "sales")
        self.redis.stop()
        mon.push("redis", connected=False, timeout=5)
        # Routing goes on from memory; replies say the change is not stored yet.
        r = self.new_contact(src, "o2", "sales")
        self.assertIs(r["durable"], False)
        s = self.snapshot(mon)
        self.assertIs(s["redis"]["connected"], False)
        self.assertGreater(s["redis"]["journal"], 0)
        a1 = self.agent(d, "a1")
        a1.offer("o1")
        # Redis is back: the journal is replayed.
        self.redis.start()
        mon.push("redis", connected=True, timeout=10)
        self.wait_until(lambda: self.hget("rqit:contact:o2", "state") == "waiting",
                        what="o2 stored after the outage")
        self.assertEqual(self.hget("rqit:contact:o1", "state"), "ringing")
        self.assertIs(self.new_contact(src, "o3", "sales")["durable"], True)


if __name__ == "__main__":
    unittest.main()
