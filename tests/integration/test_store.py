"""Live state in Redis: the keys match what ringqd reports, acknowledged
contacts survive SIGKILL, Redis outages are ridden out, and Redis with
requirepass, an ACL user or a Unix socket works.

Every test runs its own redis-server (redis_server.py) and ringqd."""

import os
import signal
import socket
import threading
import time
import unittest

from redis_server import RedisServer
from ringq_harness import RingqTestCase, agent, config, queue


def conf(redis, n_agents=4, journal_max=None, wait_at_start=True):
    extra = {}
    if journal_max is not None:
        extra["journal_max"] = journal_max
    return config(
        queues=[
            queue("sales", skills={"sales": 1}, ring_timeout_s=60.0, wrap_up_s=0.2),
            queue("support", skills={"support": 1}, ring_timeout_s=60.0, wrap_up_s=0.2),
        ],
        agents=[agent("a%d" % i, {"sales": 5, "support": 5}) for i in range(1, n_agents + 1)],
        max_contacts=100000,
        redis=redis_group(redis, **extra, wait_at_start=wait_at_start),
    )


def redis_group(redis, **extra):
    g = {"prefix": "ringq:", "connect_timeout_s": 1.0, "command_timeout_s": 2.0}
    if redis.unix_path:
        g["unix"] = redis.unix_path
    else:
        g["host"] = "127.0.0.1"
        g["port"] = redis.port
    if redis.acl_user:
        g["user"] = redis.acl_user
        g["password"] = redis.acl_password
    elif redis.password:
        g["password"] = redis.password
    g.update(extra)
    return g


class RedisCase(RingqTestCase):
    def redis(self, **kw):
        r = RedisServer(**kw)
        self.addCleanup(r.cleanup)
        return r.start()

    def contacts_in_redis(self, r):
        return set(r.lines("SMEMBERS", "ringq:contacts"))

    def wait_for(self, what, fn, timeout=10.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.05)
        self.fail("timed out waiting for %s (last: %r)" % (what, last))

    def kill_and_restart(self, d):
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait()
        for c in self.clients:
            c.close()
        self.clients = []
        d.start()  # same config and Redis, a new port


class Keys(RedisCase):
    def test_keys_match_snapshot(self):
        r = self.redis()
        d = self.start(conf(r))
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        a2 = self.agent(d, "a2", ready=False)
        a2.ok("agent.state", state="not_ready", reason="training")
        # c1 offered to a1, then answered; c2..c6 wait in deadline order
        self.new_contact(src, "c1", "sales")
        a1.offer("c1")
        a1.ok("offer.accept", contact="c1")
        tiers = ["prospect", "standard", "key_account", "emergency", "loyal"]
        for i, t in enumerate(tiers):
            rep = self.new_contact(src, "c%d" % (i + 2), "sales",
                                   customer={"id": "k%d" % i, "tier": t}, skills={"sales": 2})
            self.assertIs(rep["durable"], True)
        self.new_contact(src, "s1", "support", channel="chat", customer={"lang": "fr"})
        snap = mon.ok("snapshot")
        self.assertEqual(snap["redis"]["connected"], True)

        live = {c["contact"]: c for c in snap["contacts"]}
        self.assertEqual(self.contacts_in_redis(r), set(live))
        for cid, c in live.items():
            h = r.hgetall("ringq:contact:" + cid)
            self.assertEqual(h["state"], c["state"], cid)
            self.assertEqual(h["queue"], c["queue"], cid)
            self.assertEqual(h["tier"], c["tier"], cid)
            self.assertEqual(h["channel"], c["channel"], cid)
            self.assertEqual(int(h["arrived_ms"]), c["arrived_ms"], cid)
            self.assertEqual(h["agent"], c["agent"] or "", cid)
        self.assertEqual(r.hgetall("ringq:contact:c3")["skills"], "sales:2")
        # the waiting set is in the router's order: emergency, key account, ...
        waiting = sorted((c for c in live.values()
                          if c["state"] == "waiting" and c["queue"] == "sales"),
                         key=lambda c: c["position"])
        self.assertEqual(r.lines("ZRANGE", "ringq:queue:sales:waiting", 0, -1),
                         [c["contact"] for c in waiting])
        self.assertEqual([c["contact"] for c in waiting][:2], ["c5", "c4"])
        # agents
        agents = {a["agent"]: a for a in snap["agents"]}
        for aid in ("a1", "a2"):
            self.assertEqual(r.hgetall("ringq:agent:" + aid)["state"], agents[aid]["state"], aid)
        self.assertEqual(r.hgetall("ringq:agent:a2")["reason"], "training")
        self.assertEqual(r.hgetall("ringq:agent:a1")["state"], "busy")
        # live counters, total and per tier
        q = {x["name"]: x for x in snap["queues"]}["sales"]
        stats = r.hgetall("ringq:queue:sales:stats")
        self.assertEqual(int(stats["offered"]), q["offered"])
        self.assertEqual(int(stats["answered"]), q["answered"])
        self.assertEqual(int(stats["waiting"]), q["waiting"])
        self.assertEqual(int(stats["key_account.offered"]), 1)
        # every change is in the stream; an ended contact leaves the keys
        a1.ok("contact.end", contact="c1")
        self.wait_for("c1 deleted", lambda: r.lines("EXISTS", "ringq:contact:c1")[0] == "0")
        self.assertNotIn("c1", self.contacts_in_redis(r))
        events = r.lines("XRANGE", "ringq:events", "-", "+")
        self.assertIn("ended", events)
        self.assertIn("offered", events)

    def test_agent_bye_is_answered_then_closed(self):
        """An agent's reply waits for Redis; bye's reply too, and only then
        does the connection close (logged out in Redis)."""
        r = self.redis()
        d = self.start(conf(r))
        a1 = self.agent(d, "a1")
        a1.ok("bye")
        self.assertTrue(a1.closed_by_peer(timeout=5.0))
        self.wait_for("a1 logged out in Redis",
                      lambda: r.lines("HGET", "ringq:agent:a1", "state") == ["logged_out"])

    def test_stats_channel_publishes(self):
        r = self.redis()
        d = self.start(conf(r))
        sub = socket.create_connection(("127.0.0.1", r.port))
        self.addCleanup(sub.close)
        sub.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$11\r\nringq:stats\r\n")
        sub.settimeout(5)
        buf = b""
        while b"ringq:stats" not in buf:
            buf += sub.recv(4096)
        src = self.source(d)
        self.new_contact(src, "p1", "support")
        buf = b""
        while b'"queue":"support"' not in buf:
            buf += sub.recv(4096)
        self.assertIn(b'"waiting":1', buf)


class Recovery(RedisCase):
    def test_sigkill_with_2000_in_flight_loses_nothing(self):
        r = self.redis()
        d = self.start(conf(r, n_agents=40))
        src = self.source(d)
        agents = [self.agent(d, "a%d" % i) for i in range(1, 41)]
        # 2,000 contacts, pipelined; every reply must say durable
        tiers = ["emergency", "key_account", "loyal", "standard", "prospect"]
        for i in range(2000):
            src.send_json({"op": "contact.new", "id": i, "contact": "k%04d" % i,
                           "queue": "sales" if i % 3 else "support",
                           "customer": {"id": "cust%d" % i, "tier": tiers[i % 5]}})
        for i in range(2000):
            rep = src.reply(re=i, timeout=30)
            self.assertTrue(rep["ok"], rep)
            self.assertIs(rep["durable"], True)
        # 40 offers out: half answered (talking), half still ringing
        offered = {}
        for a in agents:
            o = a.offer(timeout=10)
            offered[o["contact"]] = a
        for n, (cid, a) in enumerate(sorted(offered.items())):
            if n % 2 == 0:
                a.ok("offer.accept", contact=cid)
        mon = self.monitor(d)
        before = {c["contact"]: c for c in mon.ok("snapshot")["contacts"]}
        self.assertEqual(len(before), 2000)
        agent_of = {cid: c["agent"] for cid, c in before.items() if c["state"] == "connected"}
        self.assertEqual(len(agent_of), 20)

        # more contacts in flight while the daemon is killed: every one that
        # was acknowledged must come back
        acked = []
        stop = threading.Event()

        def blast():
            try:
                for i in range(5000):
                    if stop.is_set():
                        return
                    src.send_json({"op": "contact.new", "id": 10000 + i,
                                   "contact": "x%04d" % i, "queue": "sales"})
            except OSError:
                return

        t = threading.Thread(target=blast)
        t.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(acked) < 300:
            try:
                rep = src.reply(any_re=True, timeout=2)
            except Exception:
                break
            if rep.get("ok") and rep.get("durable"):
                acked.append(rep["contact"])
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait()
        stop.set()
        t.join()
        for c in self.clients:
            c.close()
        self.clients = []
        self.assertGreaterEqual(len(acked), 300)

        d.start()  # same config and Redis, a new port
        mon = self.monitor(d)
        after = {c["contact"]: c for c in mon.ok("snapshot")["contacts"]}
        for cid in list(before) + acked:
            self.assertIn(cid, after, "acknowledged contact %s lost" % cid)
        for cid, c in before.items():
            self.assertEqual(after[cid]["arrived_ms"], c["arrived_ms"], cid)
            self.assertEqual(after[cid]["tier"], c["tier"], cid)
        # talking ones are still with their agents; ringing ones wait again
        for cid, aid in agent_of.items():
            self.assertEqual(after[cid]["state"], "connected", cid)
            self.assertEqual(after[cid]["agent"], aid, cid)
        for cid in offered:
            if cid not in agent_of:
                self.assertEqual(after[cid]["state"], "waiting", cid)
        # deadline order unchanged among the contacts that were waiting
        for q in ("sales", "support"):
            was = sorted((c for c in before.values()
                          if c["state"] == "waiting" and c["queue"] == q),
                         key=lambda c: c["position"])
            now_pos = {cid: c["position"] for cid, c in after.items() if c["state"] == "waiting"}
            ranks = [now_pos[c["contact"]] for c in was]
            self.assertEqual(ranks, sorted(ranks), "order of %s changed" % q)
        # agents come back; no contact is offered twice, none that is talking
        src = self.source(d)
        free = [aid for aid in ("a%d" % i for i in range(1, 41)) if aid not in agent_of.values()]
        self.assertEqual(len(free), 20)
        back = [self.agent(d, aid, ready=False) for aid in free]
        seen = {}
        for a in back:
            a.ok("agent.state", state="ready")
            o = a.offer(timeout=10)
            self.assertNotIn(o["contact"], agent_of)
            self.assertNotIn(o["contact"], seen, "offered twice")
            seen[o["contact"]] = a
        self.assertEqual(len(seen), 20)
        # Redis agrees with the new process
        self.wait_for("redis converges",
                      lambda: self.contacts_in_redis(r) == set(after) or None)

    def test_agent_state_survives_restart(self):
        r = self.redis()
        d = self.start(conf(r))
        self.agent(d, "a1")
        a2 = self.agent(d, "a2", ready=False)
        a2.ok("agent.state", state="not_ready", reason="lunch")
        self.kill_and_restart(d)
        a1 = self.connect(d)
        self.assertEqual(a1.hello("agent", agent="a1")["state"], "ready")
        a2 = self.connect(d)
        rep = a2.hello("agent", agent="a2")
        self.assertEqual((rep["state"], rep["reason"]), ("not_ready", "lunch"))
        mon = self.monitor(d)
        agents = {a["agent"]: a for a in mon.ok("snapshot")["agents"]}
        self.assertEqual(agents["a1"]["state"], "ready")
        self.assertEqual(agents["a2"]["reason"], "lunch")


    def test_wrap_up_resumes_after_restart(self):
        r = self.redis()
        c = conf(r)
        c["queues"][0]["wrap_up_s"] = 30.0
        d = self.start(c)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "w1", "sales")
        a1.offer("w1")
        a1.ok("offer.accept", contact="w1")
        a1.ok("contact.end", contact="w1")
        a1.state("wrap_up")
        self.kill_and_restart(d)
        a1 = self.connect(d)
        # the wrap-up goes on until its stored end (not straight to ready)
        self.assertEqual(a1.hello("agent", agent="a1")["state"], "wrap_up")
        src = self.source(d)
        self.new_contact(src, "w2", "sales")
        a1.no_push("offer", within=0.5)
        a1.ok("wrapup.done")
        self.assertEqual(a1.offer("w2")["contact"], "w2")


class Outage(RedisCase):
    def test_redis_down_10s_under_load(self):
        r = self.redis()
        d = self.start(conf(r, journal_max=200000))
        mon = self.monitor(d)
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        for i in range(50):
            self.assertIs(self.new_contact(src, "b%d" % i, "sales")["durable"], True)
        r.stop()
        mon.push("redis", connected=False, timeout=10)
        # routing goes on from memory; replies say durable false
        t_end = time.monotonic() + 10
        i = 0
        while time.monotonic() < t_end:
            rep = self.new_contact(src, "o%d" % i, "sales" if i % 2 else "support")
            self.assertIs(rep["durable"], False)
            if i % 5 == 0:
                src.ok("contact.abandon", contact="o%d" % i)
            i += 1
            time.sleep(0.01)
        a1.ok("agent.state", state="ready")
        o = a1.offer(timeout=5)
        a1.ok("offer.accept", contact=o["contact"])
        snap = mon.ok("snapshot")
        self.assertIs(snap["redis"]["connected"], False)
        self.assertGreater(snap["redis"]["journal"], 0)
        self.assertLessEqual(snap["redis"]["journal"], snap["redis"]["journal_limit"])
        # the outage is logged once, not per event
        self.assertEqual(d.stderr_text().count("routing goes on from memory"), 1)
        r.start()
        mon.push("redis", connected=True, timeout=15)
        live = {c["contact"]: c for c in mon.ok("snapshot")["contacts"]}
        self.assertGreater(i, 100)
        # Redis converges to ringqd's view
        self.wait_for("redis converges", lambda: self.contacts_in_redis(r) == set(live) or None)
        h = r.hgetall("ringq:contact:" + o["contact"])
        self.assertEqual(h["state"], "connected")
        self.assertEqual(h["agent"], "a1")
        self.assertIs(self.new_contact(src, "after", "sales")["durable"], True)

    def test_full_journal_refuses_new_contacts(self):
        r = self.redis()
        d = self.start(conf(r, journal_max=100))
        mon = self.monitor(d)
        src = self.source(d)
        self.new_contact(src, "first", "sales")
        r.stop()
        mon.push("redis", connected=False, timeout=10)
        refused = None
        for i in range(200):
            rep = src.request("contact.new", contact="j%d" % i, queue="sales")
            if not rep["ok"]:
                refused = rep
                break
        self.assertIsNotNone(refused, "journal of 100 commands never filled")
        self.assertEqual(refused["error"]["code"], "unavailable")
        accepted = {c["contact"] for c in mon.ok("snapshot")["contacts"]}
        self.assertNotIn("j%d" % i, accepted)
        # other changes still apply in memory and reach Redis afterwards
        src.ok("contact.abandon", contact="j0")
        r.start()
        mon.push("redis", connected=True, timeout=15)
        live = {c["contact"] for c in mon.ok("snapshot")["contacts"]}
        self.wait_for("redis converges", lambda: self.contacts_in_redis(r) == live or None)
        self.assertIs(self.new_contact(src, "later", "sales")["durable"], True)


class Auth(RedisCase):
    def check_roundtrip(self, r):
        d = self.start(conf(r))
        src = self.source(d)
        self.assertIs(self.new_contact(src, "z1", "sales")["durable"], True)
        self.assertEqual(r.hgetall("ringq:contact:z1")["queue"], "sales")

    def test_requirepass(self):
        self.check_roundtrip(self.redis(password="s3cret-pass"))

    def test_acl_user(self):
        self.check_roundtrip(self.redis(password="admin-pass", acl_user="ringq",
                                        acl_password="ringq-pass"))

    def test_unix_socket(self):
        self.check_roundtrip(self.redis(unix=True))

    def test_wrong_password_is_logged_and_retried(self):
        r = self.redis(password="right")
        c = conf(r, wait_at_start=False)
        c["redis"]["password"] = "wrong"
        d = self.start(c)
        src = self.source(d)
        rep = self.new_contact(src, "w1", "sales")
        self.assertIs(rep["durable"], False)
        self.assertIn("AUTH", d.stderr_text())


if __name__ == "__main__":
    unittest.main()
