"""Live reload of the configuration (SIGHUP, the admin op `admin.reload`):
queues, tiers, skills, agents, sources and monitors change without dropping
a waiting, ringing or talking contact; a removed queue's contacts move to
`fallback_queue` keeping their arrival time; a broken file is refused with
its FILE:LINE error (in the log, the admin.reload reply and the `reload`
push) and the running configuration stays whole; Redis is rewritten to match
(keys of removed queues and agents deleted); monitors get a `reload` push
whatever they subscribed to, and the HTTP event stream a fresh `snapshot`.

Each test rewrites the file ringqd was started with (same listeners) and
asks for a reload; every wait is bounded and polled."""

import json
import os
import random
import re
import select
import signal
import subprocess
import threading
import time
import unittest

from redis_server import RedisServer
from ringq_harness import TIERS, RingqTestCase, agent, config, queue, ringqd_path
from test_http import SSE, WB, HttpDaemon, request
from test_store import redis_group

RELOAD_S = 20.0  # bound of one reload (sanitizer builds on a loaded machine)
ADMIN = {"name": "root", "token": "r00t", "role": "admin"}
MONITORS = [{"name": "wallboard", "token": "demo"}, ADMIN]

# Snapshot fields that move with the clock alone (and the request id): left
# out when two snapshots must be equal.
VOLATILE = frozenset(("re", "waited_s", "longest_wait_s", "ewt_s", "occupancy", "uptime_s",
                      "interval", "last_interval", "agents_needed", "traffic_erlangs", "redis"))


def stable(v):
    if isinstance(v, dict):
        return {k: stable(x) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        return [stable(x) for x in v]
    return v


def slow_queue(name, **kw):
    """A queue whose contacts neither time out nor ring out during a test
    (30 s voice target, 60 s ring timeout) and whose wrap-up is short."""
    q = {"answer_rings": 10, "ring_on_s": 1.0, "ring_off_s": 2.0, "ring_timeout_s": 60.0,
         "wrap_up_s": 0.1}
    q.update(kw)
    return queue(name, **q)


def conf(queues, agents, monitors=None, **top):
    c = config(queues, agents, **top)
    c["monitors"] = list(monitors if monitors is not None else MONITORS)
    return c


def tiers_with(**sla):
    """TIERS with some sla_factors changed (name=factor)."""
    out = []
    for t in TIERS:
        t = dict(t)
        if t["name"] in sla:
            t["sla_factor"] = sla[t["name"]]
        out.append(t)
    return out


def line_of(text, needle):
    """1-based number of the one line of text that contains needle."""
    hits = [i + 1 for i, l in enumerate(text.split("\n")) if needle in l]
    if len(hits) != 1:
        raise AssertionError("%r is on lines %r" % (needle, hits))
    return hits[0]


class ReloadCase(RingqTestCase):
    # ---- the file

    def rewrite(self, d, conf_dict=None, text=None):
        """Replace d's config file (same listeners) with conf_dict rendered,
        or with text as it is; atomically, so a reload never reads half of
        it. Returns the text written."""
        if text is None:
            d.template = conf_dict
            text = d._render()
        tmp = d.conf_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, d.conf_path)
        return text

    def check_config(self, path):
        """`ringqd --check-config`: (status, its one line of output)."""
        p = subprocess.run([ringqd_path(), "--check-config", path], capture_output=True,
                           text=True, timeout=30)
        return p.returncode, (p.stdout + p.stderr).strip()

    # ---- asking for a reload

    def admin(self, d):
        """A monitor with role admin that never subscribes: it gets only the
        pushes every monitor gets (reload, redis)."""
        c = self.connect(d)
        c.hello("monitor", name=ADMIN["name"], token=ADMIN["token"])
        return c

    def admin_reload(self, root):
        """admin.reload: (reply, the `reload` push root got for it)."""
        rep = root.request("admin.reload", timeout=RELOAD_S)
        ev = root.push("reload", timeout=RELOAD_S)
        self.assertEqual(ev.get("ok"), rep.get("ok"), (rep, ev))
        return rep, ev

    def sighup(self, d, mon):
        """SIGHUP; the `reload` push mon gets for it."""
        os.kill(d.proc.pid, signal.SIGHUP)
        return mon.push("reload", timeout=RELOAD_S)

    # ---- outcomes

    def assert_reloaded(self, msg, queues, agents, moved=0):
        """msg: an admin.reload reply or a `reload` push of a success."""
        self.assertIs(msg.get("ok"), True, msg)
        if "ev" not in msg:
            self.assertIs(msg.get("reloaded"), True, msg)
            self.assertNotIn("signal", msg)  # no signal raised any more
        self.assertEqual((msg.get("queues"), msg.get("agents"), msg.get("moved")),
                         (queues, agents, moved), msg)

    def refusal_message(self, msg):
        """The error text of a refused reload (reply or push)."""
        self.assertIs(msg.get("ok"), False, msg)
        if "ev" in msg:
            self.assertIsInstance(msg.get("error"), str, msg)
            return msg["error"]
        self.assertEqual(msg["error"]["code"], "bad_config", msg)
        return msg["error"]["message"]

    def log_lines(self, d, pattern):
        return [l for l in d.stderr_text().splitlines() if re.match(pattern, l)]

    def success_lines(self, d):
        return self.log_lines(d, r"<5>reload: ")

    def refusal_lines(self, d):
        return self.log_lines(d, r"<3>reload refused: ")

    def assert_refusal_logged(self, d, n_before, message):
        """A new error line `reload refused: MESSAGE; the running
        configuration stays` (the n_before+1-th)."""
        lines = self.wait_until(lambda: (len(self.refusal_lines(d)) > n_before
                                         and self.refusal_lines(d)),
                                timeout=RELOAD_S, what="the refusal in the log")
        self.assertEqual(len(lines), n_before + 1, lines)
        self.assertEqual(lines[-1], "<3>reload refused: %s; the running configuration stays"
                         % message)

    # ---- snapshots

    def contacts(self, mon):
        return {c["contact"]: c for c in mon.ok("snapshot")["contacts"]}

    def waiting_order(self, snap_contacts, q):
        w = [c for c in snap_contacts.values() if c["state"] == "waiting" and c["queue"] == q]
        return [c["contact"] for c in sorted(w, key=lambda c: c["position"])]


# --------------------------------------------------------------------------


class Kept(ReloadCase):
    def test_waiting_ringing_talking_kept(self):
        """A reload that changes queue and tier settings keeps every live
        contact as it was: waiting ones with their arrival, tier, priority
        and order; a ringing one at its agent (no revoke, no new offer) and
        answerable; a talking one with its agent. Counters are kept."""
        agents = [agent("a1", {"sales": 5}), agent("a2", {"sales": 5})]
        v0 = conf([slow_queue("sales", skills={"sales": 1})], agents)
        # sales's goal changes, a tier's factor changes (if deadlines were
        # recomputed the order would change), a queue is added
        v1 = conf([slow_queue("sales", skills={"sales": 1}, goal_percent=95.0),
                   slow_queue("support", skills={"support": 1})],
                  agents, tiers=tiers_with(prospect=0.1, key_account=3.0))
        d = self.start(v0)
        root = self.admin(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "talk", "sales")
        a1.offer("talk")
        a1.ok("offer.accept", contact="talk")
        a2 = self.agent(d, "a2")
        self.new_contact(src, "ring", "sales")
        a2.offer("ring")
        tiers = ["standard", "key_account", "prospect", "loyal", "standard"]
        for i, t in enumerate(tiers):
            self.new_contact(src, "w%d" % i, "sales", customer={"id": "k%d" % i, "tier": t},
                             priority=i % 3)
        before = self.contacts(root)
        q_before = self.snap_queue(root, "sales")
        order = self.waiting_order(before, "sales")
        self.assertEqual(len(order), 5)

        self.rewrite(d, v1)
        rep, ev = self.admin_reload(root)
        self.assert_reloaded(rep, 2, 2)
        self.assert_reloaded(ev, 2, 2)
        # the reply leaves after the reload is done: its log line is there
        self.assertEqual(len(self.success_lines(d)), 1, d.stderr_tail())

        after = self.contacts(root)
        self.assertEqual(set(after), set(before))
        for cid, c in before.items():
            for k in ("state", "queue", "tier", "arrived_ms", "priority", "agent", "customer",
                      "source", "channel"):
                self.assertEqual(after[cid][k], c[k], "%s.%s" % (cid, k))
        with self.subTest("waiting order kept"):
            self.assertEqual(self.waiting_order(after, "sales"), order)
        self.assertEqual(self.snap_queue(root, "sales")["goal_percent"], 95.0)
        q_after = self.snap_queue(root, "sales")
        for k in ("offered", "answered", "answered_in_target", "abandoned"):
            self.assertEqual(q_after[k], q_before[k], k)
        # nothing revoked or offered again
        a2.no_push("offer", within=0.5)
        for c in (a1, a2, src):
            self.assertEqual([m for m in c.pushes if m.get("ev") == "revoke"], [], c.name)
        # the ringing one can be answered, the talking one ended
        a2.ok("offer.accept", contact="ring")
        a1.ok("contact.end", contact="talk")
        a2.ok("contact.end", contact="ring")
        # and routing goes on, in the kept order (a1 is back after wrap-up)
        a1.state("ready", timeout=5)
        with self.subTest("served in the kept order"):
            self.assertEqual(a1.offer()["contact"], order[0])

    def test_ringing_keeps_its_deadline(self):
        """A ringing offer keeps its ring deadline across a reload: ring-no-
        answer comes ring_timeout_s after the offer, not after the reload."""
        q = [slow_queue("sales", skills={"sales": 1}, ring_timeout_s=4.0)]
        d = self.start(conf(q, [agent("a1", {"sales": 5})]))
        root = self.admin(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "r1", "sales")
        a1.offer("r1")
        t_offer = time.monotonic()
        time.sleep(1.5)  # the point of the test: time passes while it rings
        rep, _ = self.admin_reload(root)
        self.assert_reloaded(rep, 1, 1)
        t_reload = time.monotonic()
        self.assertLess(t_reload - t_offer, 3.5, "the reload itself took too long to judge")
        rev = a1.push("revoke", contact="r1", timeout=10)
        t_rona = time.monotonic()
        self.assertEqual(rev["reason"], "rona", rev)
        # after the original deadline (4 s after the offer) ...
        self.assertGreater(t_rona - t_offer, 3.0, "revoked at the reload: %r" % rev)
        # ... and before a deadline restarted by the reload (reload + 4 s)
        self.assertLess(t_rona - t_offer, 5.4,
                        "ring-no-answer %.1f s after the offer, %.1f s after the reload"
                        % (t_rona - t_offer, t_rona - t_reload))
        a1.state("not_ready", "rona")


class Queues(ReloadCase):
    def conf_v0(self):
        return conf(
            [slow_queue("sales", skills={"sales": 1}), slow_queue("support", skills={"support": 1}),
             slow_queue("billing", skills={"billing": 1})],
            [agent("a1", {"sales": 5, "billing": 5}), agent("a2", {"support": 5}),
             agent("a3", {"sales": 5})],
            fallback_queue="support")

    def conf_v1(self):
        # billing removed (its contacts go to support), retention added and
        # a3 learns its skill
        return conf(
            [slow_queue("sales", skills={"sales": 1}), slow_queue("support", skills={"support": 1}),
             slow_queue("retention", skills={"retention": 1})],
            [agent("a1", {"sales": 5}), agent("a2", {"support": 5}),
             agent("a3", {"sales": 5, "retention": 4})],
            fallback_queue="support")

    def test_added_removed_and_fallback(self):
        d = self.start(self.conf_v0())
        root = self.admin(d)
        mon = self.monitor(d, subscribe=["contacts"])
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "b0", "billing")
        a1.offer("b0")
        a1.ok("offer.accept", contact="b0")  # talking in the queue to be removed
        self.new_contact(src, "b1", "billing", customer={"tier": "key_account"})
        self.new_contact(src, "b2", "billing", customer={"tier": "prospect"}, priority=3)
        self.new_contact(src, "s1", "support")
        before = self.contacts(root)
        mon.discard_pushes()

        self.rewrite(d, self.conf_v1())
        ev = self.sighup(d, root)
        self.assert_reloaded(ev, 3, 3, moved=3)
        line = self.wait_until(lambda: self.success_lines(d), what="the reload in the log")
        self.assertEqual(len(line), 1, d.stderr_tail())
        self.assertRegex(line[0], r"^<5>reload: %s: 3 queues \(\+1 -1\), 3 agents \(\+0 -0\), "
                         r"3 contacts moved to " % re.escape(d.conf_path))

        snap = root.ok("snapshot")
        self.assertEqual([q["name"] for q in snap["queues"]], ["sales", "support", "retention"])
        after = {c["contact"]: c for c in snap["contacts"]}
        self.assertEqual(set(after), set(before))
        for cid in ("b0", "b1", "b2"):
            self.assertEqual(after[cid]["queue"], "support", cid)
            for k in ("arrived_ms", "tier", "priority", "state", "agent"):
                self.assertEqual(after[cid][k], before[cid][k], "%s.%s" % (cid, k))
        self.assertEqual(after["s1"]["queue"], "support")
        self.assertEqual(self.snap_queue(root, "support")["waiting"], 3)
        # monitors saw the waiting ones move
        for cid in ("b1", "b2"):
            m = mon.push("contact", contact=cid, change="transferred", timeout=5)
            self.assertEqual(m["queue"], "support")
        # the talking one is still a1's; a1 was not told anything
        self.assertEqual([m for m in a1.pushes if m.get("ev") == "revoke"], [])
        a1.ok("contact.end", contact="b0")
        a1.state("ready", timeout=5)  # its wrap-up over: the snapshots below stay still

        # the removed queue takes nothing; the new one routes to the new skill
        err = src.error("contact.new", "not_found", contact="x1", queue="billing")
        self.assertIn("billing", err["message"])
        a3 = self.agent(d, "a3")
        self.new_contact(src, "r1", "retention")
        self.assertEqual(a3.offer("r1")["queue"], "retention")
        a3.ok("offer.accept", contact="r1")
        self.new_contact(src, "r2", "retention")  # waits: a3 is busy

        # removing retention, which has live contacts, with no fallback_queue
        v2 = self.conf_v1()
        del v2["fallback_queue"]
        v2["queues"] = [q for q in v2["queues"] if q["name"] != "retention"]
        for a in v2["agents"]:
            a["skills"].pop("retention", None)
        v2["skills"] = [s for s in v2["skills"] if s != "retention"]
        self.rewrite(d, v2)
        self.assertEqual(self.check_config(d.conf_path)[0], 0)  # the file itself is fine
        snap0 = stable(root.ok("snapshot"))
        n_refused = len(self.refusal_lines(d))
        rep, ev = self.admin_reload(root)
        message = self.refusal_message(rep)
        self.assertEqual(self.refusal_message(ev), message)
        self.assertIn("'retention'", message)
        self.assert_refusal_logged(d, n_refused, message)
        self.assertEqual(stable(root.ok("snapshot")), snap0)
        # retention still works
        self.new_contact(src, "r3", "retention")
        a3.ok("contact.end", contact="r1")
        a3.state("ready", timeout=5)
        self.assertEqual(a3.offer()["contact"], "r2")


class Agents(ReloadCase):
    def test_added_removed_and_changed(self):
        """Removed agents: an idle session is closed (reason removed) and its
        hello refused; a ringing offer is revoked (reason removed) and the
        contact is routed to someone else; a talking one keeps its call
        (busy, reason removed) until it ends; one in wrap-up is never offered
        again; each leaves (session closed, reason removed) when done. An added agent takes offers; a changed one gets the new
        skill's contacts. A removed source or monitor is closed, its
        contacts stay."""
        v0 = conf([slow_queue("sales", skills={"sales": 1}, wrap_up_s=4.0),
                   slow_queue("support", skills={"support": 1})],
                  [agent("a%d" % i, {"sales": 5}) for i in range(1, 5)]
                  + [agent("a6", {"support": 5})],
                  monitors=MONITORS + [{"name": "tv", "token": "demo"}])
        v1 = conf([slow_queue("sales", skills={"sales": 1}, wrap_up_s=4.0),
                   slow_queue("support", skills={"support": 1})],
                  [agent("a5", {"sales": 5}), agent("a6", {"support": 5, "sales": 5})])
        v1["sources"] = [{"name": "pbx1", "token": "demo"}]
        d = self.start(v0)
        root = self.admin(d)
        src = self.source(d)
        a2 = self.agent(d, "a2")
        self.new_contact(src, "c1", "sales")
        a2.offer("c1")
        a2.ok("offer.accept", contact="c1")  # a2 talking
        a4 = self.agent(d, "a4")
        self.new_contact(src, "c0", "sales")
        a4.offer("c0")
        a4.ok("offer.accept", contact="c0")
        a4.ok("contact.end", contact="c0")
        a4.state("wrap_up")  # a4 in a 4 s wrap-up
        t_wrap = time.monotonic()
        a3 = self.agent(d, "a3")
        self.new_contact(src, "c2", "sales")
        a3.offer("c2")  # a3 ringing
        a1 = self.agent(d, "a1")  # a1 idle, ready
        a6 = self.agent(d, "a6", ready=False)
        pbx2 = self.source(d, "pbx2")
        self.new_contact(pbx2, "p2", "support")  # waits: a6 not ready
        tv = self.connect(d)
        tv.hello("monitor", name="tv")
        src.discard_pushes()

        self.rewrite(d, v1)
        rep, _ = self.admin_reload(root)
        self.assertIs(rep.get("ok"), True, rep)
        with self.subTest("the reply counts the file's agents"):
            self.assert_reloaded(rep, 2, 2)

        # the idle one, the removed source and monitor: closed, reason removed
        for c in (a1, pbx2, tv):
            self.assertTrue(c.closed_by_peer(timeout=10), c.name)
            self.assertEqual(c.push("closed")["reason"], "removed", c.name)
        # the ringing one: revoked (agent and source told), then closed
        self.assertEqual(a3.push("revoke", contact="c2")["reason"], "removed")
        self.assertEqual(src.push("revoke", contact="c2", timeout=5)["reason"], "removed")
        self.assertTrue(a3.closed_by_peer(timeout=10), "a3 not closed")
        self.assertEqual(a3.push("closed")["reason"], "removed")
        # the talking one stays with its call (busy), reason removed
        snap = root.ok("snapshot")
        ags = {a["agent"]: a for a in snap["agents"]}
        self.assertEqual((ags["a2"]["reason"], ags["a2"]["contacts"]), ("removed", ["c1"]))
        with self.subTest("a talking removed agent stays busy, reason removed"):
            self.assertEqual(ags["a2"]["state"], "busy")
            a2.state("busy", "removed")
        live = {c["contact"]: c for c in snap["contacts"]}
        self.assertEqual((live["c1"]["state"], live["c1"]["agent"]), ("connected", "a2"))
        self.assertEqual(live["c2"]["state"], "waiting")
        self.assertEqual(live["p2"]["state"], "waiting")  # the removed source's contact stays
        self.assertNotIn("a1", ags)
        self.assertNotIn("a3", ags)
        if time.monotonic() - t_wrap < 3.0:  # its wrap-up is surely not over: it stays
            with self.subTest("a removed agent in wrap-up stays until it ends"):
                self.assertIn("a4", ags, "a4 dropped in the middle of its wrap-up")
                self.assertEqual((ags["a4"]["state"], ags["a4"]["reason"]),
                                 ("wrap_up", "removed"))
        # removed names can no longer say hello
        for aid in ("a1", "a3"):
            c = self.connect(d)
            c.error("hello", "unauthorized", role="agent", agent=aid, token="demo")
        c = self.connect(d)
        c.error("hello", "unauthorized", role="source", name="pbx2", token="demo")

        # a4 (in wrap-up) is never offered c2, and leaves when its wrap-up ends
        self.assertTrue(a4.closed_by_peer(timeout=10), "a4 not closed after its wrap-up")
        self.assertEqual([m for m in a4.pushes if m.get("ev") == "offer"], [])
        self.assertEqual(a4.push("closed")["reason"], "removed")
        # a2 ends its call, then (after its wrap-up) leaves too
        a2.ok("contact.end", contact="c1")
        with self.subTest("a retiring agent's session is closed after its last contact"):
            self.assertTrue(a2.closed_by_peer(timeout=10), "a2 not closed after its last call")
            self.assertEqual(a2.push("closed")["reason"], "removed")
        self.assertEqual([m for m in a2.pushes if m.get("ev") == "offer"], [])
        self.wait_until(lambda: {a["agent"]: a["state"] for a in root.ok("snapshot")["agents"]}
                        .get("a2", "logged_out") == "logged_out",
                        timeout=10, what="a2 logged out")

        # the added agent takes the contact a3 lost
        a5 = self.agent(d, "a5")
        self.assertEqual(a5.offer("c2")["contact"], "c2")
        a5.ok("offer.accept", contact="c2")
        # a6 takes the removed source's contact, then a sales one (its new skill)
        a6.ready()
        self.assertEqual(a6.offer()["contact"], "p2")
        a6.ok("offer.accept", contact="p2")
        a6.ok("contact.end", contact="p2")
        a6.state("ready", timeout=5)
        self.new_contact(src, "c3", "sales")
        self.assertEqual(a6.offer("c3")["queue"], "sales")


class Broken(ReloadCase):
    def test_broken_files_refused(self):
        """Syntax error, bad value, unknown setting, fallback_queue naming no
        queue, a plugin that does not load, a missing file: each refused
        with FILE:LINE (FILE alone when there is no line) in the reply, the
        push and the log; the running configuration stays whole."""
        agents = [agent("a1", {"sales": 5})]
        good = conf([slow_queue("sales", skills={"sales": 1}),
                     slow_queue("support", skills={"support": 1})], agents)
        d = self.start(good)
        root = self.admin(d)
        wall = self.monitor(d)  # never subscribed: still told
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        self.new_contact(src, "w1", "sales", customer={"tier": "loyal"})
        path = d.conf_path

        # each broken file also changes things that must not take effect
        changed = conf([slow_queue("sales", skills={"sales": 1}, goal_percent=99.0),
                        slow_queue("extra", skills={"sales": 1})],
                       [agent("a9", {"sales": 5})])

        def render(c):
            d.template = c
            return d._render()

        cases = []
        t = render(changed)
        cases.append(("syntax error", t + "broken = ;\n", t.count("\n") + 1))
        c = json.loads(json.dumps(changed))
        c["queues"][0]["goal_percent"] = 150.0
        t = render(c)
        cases.append(("bad value", t, line_of(t, "goal_percent = 150.0")))
        c = json.loads(json.dumps(changed))
        c["queues"][1]["ring_timout_s"] = 5
        t = render(c)
        cases.append(("unknown setting", t, line_of(t, "ring_timout_s")))
        c = json.loads(json.dumps(changed))
        c["fallback_queue"] = "nosuch"
        t = render(c)
        cases.append(("fallback_queue naming no queue", t, line_of(t, "fallback_queue")))
        c = json.loads(json.dumps(changed))
        c["plugins"] = [os.path.join(d.dir, "nosuch_plugin.so")]
        t = render(c)
        cases.append(("plugin that does not load", t, line_of(t, "nosuch_plugin.so")))

        snap0 = stable(root.ok("snapshot"))
        for i, (what, text, line) in enumerate(cases):
            with self.subTest(what):
                self.rewrite(d, text=text)
                st, checked = self.check_config(path)
                self.assertNotEqual(st, 0, what)
                self.assertTrue(checked.startswith("%s:%d: " % (path, line)),
                                "test file: %s: %r" % (what, checked))
                n_refused = len(self.refusal_lines(d))
                if i % 2 == 0:
                    rep, ev = self.admin_reload(root)
                    message = self.refusal_message(rep)
                    self.assertEqual(self.refusal_message(ev), message)
                else:
                    message = self.refusal_message(self.sighup(d, root))
                self.assertTrue(message.startswith("%s:%d: " % (path, line)), (what, message))
                # the loader's own words
                self.assertIn(checked.split(": ", 1)[1], message)
                self.assertEqual(self.refusal_message(wall.push("reload", timeout=RELOAD_S)),
                                 message)
                self.assert_refusal_logged(d, n_refused, message)
                self.assertEqual(stable(root.ok("snapshot")), snap0, what)

        # a missing file: FILE, no line
        os.unlink(path)
        n_refused = len(self.refusal_lines(d))
        rep, _ = self.admin_reload(root)
        message = self.refusal_message(rep)
        self.assertTrue(message.startswith(path + ": "), message)
        self.assert_refusal_logged(d, n_refused, message)
        wall.push("reload", timeout=RELOAD_S)
        self.assertEqual(stable(root.ok("snapshot")), snap0)
        self.assertEqual(self.success_lines(d), [])

        # the old configuration still routes: a1 (gone from every broken
        # file) takes w1, a new contact is accepted in sales
        a1.ready()
        self.assertEqual(a1.offer("w1")["queue"], "sales")
        self.new_contact(src, "w2", "sales")
        src.error("contact.new", "not_found", contact="w3", queue="extra")
        # and a good file is taken afterwards
        self.rewrite(d, good)
        rep, _ = self.admin_reload(root)
        self.assert_reloaded(rep, 2, 1)


class Settings(ReloadCase):
    def test_removed_tier_and_skill(self):
        """A removed tier's contacts take the default tier; a removed skill
        leaves the contacts' own requirements."""
        q = [slow_queue("sales", skills={"sales": 1})]
        a = [agent("a1", {"sales": 5})]
        d = self.start(conf(q, a, skills=["sales", "extra"]))
        root = self.admin(d)
        src = self.source(d)
        self.new_contact(src, "t1", "sales", customer={"tier": "prospect"},
                         skills={"extra": 2})
        self.new_contact(src, "t2", "sales", customer={"tier": "loyal"})
        before = self.contacts(root)
        self.assertIn("extra", before["t1"]["skills"])
        self.rewrite(d, conf(q, a, skills=["sales"],
                             tiers=[t for t in TIERS if t["name"] != "prospect"]))
        rep, _ = self.admin_reload(root)
        self.assert_reloaded(rep, 1, 1)
        after = self.contacts(root)
        self.assertEqual(after["t1"]["tier"], "standard")
        self.assertNotIn("extra", after["t1"]["skills"])
        self.assertEqual(after["t1"]["arrived_ms"], before["t1"]["arrived_ms"])
        self.assertEqual(after["t2"]["tier"], "loyal")
        # t1 needs no skill a1 lacks any more: a1 takes both
        a1 = self.agent(d, "a1")
        got = set()
        for _ in range(2):
            cid = a1.offer()["contact"]
            got.add(cid)
            a1.ok("offer.accept", contact=cid)
            a1.ok("contact.end", contact=cid)
        self.assertEqual(got, {"t1", "t2"})

    def test_top_level_settings(self):
        """max_contacts changes at once; a changed `listen` is logged as
        waiting for a restart and the reload goes on."""
        q = [slow_queue("sales", skills={"sales": 1})]
        a = [agent("a1", {"sales": 5})]
        d = self.start(conf(q, a))
        root = self.admin(d)
        src = self.source(d)
        for i in range(3):
            self.new_contact(src, "m%d" % i, "sales")
        v1 = conf(q, a, max_contacts=4)
        v1["listen"] = {"max_clients": 77}
        self.rewrite(d, v1)
        ev = self.sighup(d, root)
        self.assert_reloaded(ev, 1, 1)
        self.assertEqual(len(self.log_lines(
            d, r"<4>reload: 'listen' changed: takes effect at the next restart$")), 1,
            d.stderr_tail())
        self.new_contact(src, "m3", "sales")
        src.error("contact.new", "overloaded", contact="m4", queue="sales")
        # still on the same listeners
        c = self.connect(d)
        c.ok("ping")


class Load(ReloadCase):
    def test_reload_under_load_drops_nothing(self):
        """A source keeps sending contact.new (and some abandons), agents
        keep taking and ending offers, while the file is rewritten and
        reloaded six times (SIGHUP and admin.reload), a queue coming and
        going. Every acknowledged contact is accounted for; arrival, tier
        and priority never change; waiting order holds; the ringing and
        talking contacts held across every reload are never revoked and
        finish normally."""
        rng = random.Random(6)
        six = [agent("a%d" % i, {"sales": 5, "support": 5}) for i in range(1, 7)]
        base_q = [slow_queue("sales", skills={"sales": 1}, wrap_up_s=0.05),
                  slow_queue("support", skills={"support": 1}, wrap_up_s=0.05)]
        v0 = conf(base_q, six, fallback_queue="support")
        seven = json.loads(json.dumps(six)) + [agent("a7", {"sales": 5})]
        seven[0]["skills"]["billing"] = 3
        v1 = conf([slow_queue("sales", skills={"sales": 1}, wrap_up_s=0.05, goal_percent=90.0),
                   base_q[1], slow_queue("billing", skills={"billing": 1}, wrap_up_s=0.05)],
                  seven, fallback_queue="support", tiers=tiers_with(loyal=0.7, prospect=2.0))
        no_billing = json.loads(json.dumps(seven))
        del no_billing[0]["skills"]["billing"]
        v2 = conf(base_q, no_billing, fallback_queue="support")
        shape = {id(v0): (2, 6), id(v1): (3, 7), id(v2): (2, 7)}
        plan = [(v1, "hup"), (v2, "admin"), (v1, "hup"), (v0, "admin"), (v1, "admin"),
                (v2, "hup")]

        d = self.start(v0)
        root = self.admin(d)
        src = self.source(d)
        tiers = [t["name"] for t in TIERS]
        sent_tier = {}
        acked, ended, abandoned = set(), set(), set()
        lock = threading.Lock()

        # held across every reload: a6 talking on T, a5 ringing with H
        a6 = self.agent(d, "a6")
        sent_tier["T"] = "standard"
        self.new_contact(src, "T", "sales")
        a6.offer("T")
        a6.ok("offer.accept", contact="T")
        a5 = self.agent(d, "a5")
        sent_tier["H"] = "standard"
        self.new_contact(src, "H", "sales")
        a5.offer("H")
        acked.update(("T", "H"))
        churners = [self.agent(d, "a%d" % i) for i in range(1, 5)]
        st = {a.name: {"offer": None, "at": 0.0, "talk": None} for a in churners}
        problems, failed, agent_revokes = [], [], []

        # the source, in a thread of its own, with its own connection
        feed = self.source(d, "pbx2")
        stop = threading.Event()
        thread_error = []
        not_found_billing = [0]

        def source_loop():
            i = 0
            try:
                while not stop.is_set():
                    cid = "L%05d" % i
                    i += 1
                    q = rng.choice(("sales", "sales", "support", "billing"))
                    t = rng.choice(tiers)
                    sent_tier[cid] = t
                    rep = feed.request("contact.new", contact=cid, queue=q,
                                       customer={"tier": t}, priority=rng.randrange(0, 4),
                                       timeout=RELOAD_S)
                    if rep["ok"]:
                        with lock:
                            acked.add(cid)
                    elif q == "billing" and rep["error"]["code"] == "not_found":
                        not_found_billing[0] += 1
                    else:
                        problems.append(("contact.new", cid, rep))
                    if i % 6 == 0:
                        with lock:
                            pool = sorted(acked - ended - abandoned - {"T", "H"})
                        if pool:
                            victim = rng.choice(pool)
                            rep = feed.request("contact.abandon", contact=victim,
                                               timeout=RELOAD_S)
                            if rep["ok"]:
                                with lock:
                                    abandoned.add(victim)
                            elif rep["error"]["code"] not in ("bad_state", "not_found"):
                                problems.append(("contact.abandon", victim, rep))
                    time.sleep(0.008)  # pacing of the load, not a wait
            except Exception as e:  # reported by the main thread
                thread_error.append(e)

        def pump(wait):
            live = [c for c in churners + [a5, a6] if not c.eof]
            r, _, _ = select.select([c.sock for c in live], [], [], wait)
            for c in live:
                if c.sock in r:
                    c._pump(time.monotonic() + 0.01)
                while b"\n" in c.buf:
                    c._pump(time.monotonic())

        def churn(seconds):
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                pump(0.01)
                now = time.monotonic()
                for a in churners:
                    s = st[a.name]
                    for m in a.pushes:
                        if m["ev"] == "offer":
                            if s["offer"] or s["talk"]:
                                problems.append(("offer while busy", a.name, m, dict(s)))
                            s["offer"] = m["contact"]
                            s["at"] = now + rng.uniform(0.05, 0.4)
                        elif m["ev"] == "revoke":
                            agent_revokes.append((a.name, m))
                            if s["offer"] == m["contact"]:
                                s["offer"] = None
                        elif m["ev"] == "closed":
                            problems.append(("closed", a.name, m))
                    a.pushes = []
                    if s["offer"] and now >= s["at"]:
                        cid, s["offer"] = s["offer"], None
                        rep = a.request("offer.accept", contact=cid, timeout=RELOAD_S)
                        if rep["ok"]:
                            s["talk"] = cid
                            s["at"] = now + rng.uniform(0.05, 0.4)
                        else:
                            failed.append((a.name, "offer.accept", cid, rep["error"]["code"]))
                    elif s["talk"] and now >= s["at"]:
                        cid, s["talk"] = s["talk"], None
                        rep = a.request("contact.end", contact=cid, timeout=RELOAD_S)
                        if rep["ok"]:
                            with lock:
                                ended.add(cid)
                        else:
                            failed.append((a.name, "contact.end", cid, rep["error"]["code"]))

        seen = {}  # contact -> (arrived_ms, tier, priority) when first seen

        def observe(snap):
            live = {c["contact"]: c for c in snap["contacts"]}
            for cid, c in live.items():
                now = (c["arrived_ms"], c["tier"], c["priority"])
                first = seen.setdefault(cid, now)
                self.assertEqual(now, first, "%s changed: %r -> %r" % (cid, first, now))
                self.assertEqual(c["tier"], sent_tier.get(cid), cid)
            return live

        th = threading.Thread(target=source_loop, daemon=True)
        th.start()
        self.addCleanup(stop.set)
        ringing_at_reload = 0
        order_changes = []  # (reload, queue, positions) where the waiting order changed
        try:
            for n, (variant, how) in enumerate(plan):
                churn(1.2)
                pre = observe(root.ok("snapshot", timeout=RELOAD_S))
                ringing_at_reload += sum(1 for c in pre.values()
                                         if c["state"] == "ringing" and c["contact"] != "H")
                self.rewrite(d, variant)
                if how == "hup":
                    outcome = self.sighup(d, root)
                else:
                    outcome, _ = self.admin_reload(root)
                q_n, a_n = shape[id(variant)]
                self.assertIs(outcome.get("ok"), True, "reload %d: %r" % (n + 1, outcome))
                self.assertEqual((outcome["queues"], outcome["agents"]), (q_n, a_n), outcome)
                post_snap = root.ok("snapshot", timeout=RELOAD_S)
                post = observe(post_snap)
                names = [q["name"] for q in post_snap["queues"]]
                self.assertEqual(len(names), q_n, names)
                # whatever was live before the reload and is still live sits
                # in a queue of the new file; billing's went to support
                for cid, c in pre.items():
                    if cid in post:
                        self.assertIn(post[cid]["queue"], names, cid)
                        if c["queue"] != "billing" or "billing" in names:
                            self.assertEqual(post[cid]["queue"], c["queue"], cid)
                        else:
                            self.assertEqual(post[cid]["queue"], "support", cid)
                if "billing" not in names:
                    moved_min = sum(1 for cid, c in pre.items()
                                    if c["queue"] == "billing" and cid in post)
                    self.assertGreaterEqual(outcome["moved"], moved_min, outcome)
                # waiting order holds among those still waiting in a kept queue
                for q in names:
                    was = self.waiting_order(pre, q)
                    now_pos = {cid: c["position"] for cid, c in post.items()
                               if c["state"] == "waiting" and c["queue"] == q}
                    ranks = [now_pos[cid] for cid in was if cid in now_pos]
                    if ranks != sorted(ranks):
                        order_changes.append((n + 1, q, ranks))
                # the held ones
                self.assertEqual((post["H"]["state"], post["H"]["agent"]), ("ringing", "a5"))
                self.assertEqual((post["T"]["state"], post["T"]["agent"]), ("connected", "a6"))
            churn(0.5)
        finally:
            stop.set()
            th.join(RELOAD_S * 2)
        self.assertFalse(th.is_alive(), "the source thread hangs")
        self.assertEqual(thread_error, [])

        # the held ones finish normally, never revoked nor offered twice
        a5.ok("offer.accept", contact="H")
        a5.ok("contact.end", contact="H")
        a6.ok("contact.end", contact="T")
        ended.update(("H", "T"))
        for a in (a5, a6):
            self.assertEqual([m for m in a.pushes if m.get("ev") in ("revoke", "offer", "closed")],
                             [], a.name)

        self.assertEqual(problems, [])
        final = observe(root.ok("snapshot", timeout=RELOAD_S))
        self.assertEqual(ended & abandoned, set())
        expected = acked - ended - abandoned
        self.assertEqual(set(final), expected,
                         "vanished: %s; unexpected: %s"
                         % (sorted(expected - set(final))[:20], sorted(set(final) - expected)[:20]))
        # what failed or was revoked did so because the test abandoned it
        for name, op, cid, code in failed:
            self.assertIn(cid, abandoned, (name, op, cid, code))
            self.assertIn(code, ("not_found", "bad_state"), (name, op, cid, code))
        for name, m in agent_revokes:
            self.assertEqual(m["reason"], "abandoned", (name, m))
            self.assertIn(m["contact"], abandoned, (name, m))
        for m in feed.pushes + src.pushes:
            if m.get("ev") == "revoke":
                self.assertEqual(m["reason"], "abandoned", m)
                self.assertIn(m["contact"], abandoned, m)
        # every reload happened, once each, none refused
        self.assertEqual(len(self.success_lines(d)), len(plan), d.stderr_tail())
        self.assertEqual(self.refusal_lines(d), [])
        # the load was real
        self.assertGreaterEqual(len(acked), 150)
        self.assertGreaterEqual(len(ended), 30)
        self.assertGreaterEqual(len(abandoned), 10)
        self.assertGreater(not_found_billing[0], 0)
        self.assertGreater(ringing_at_reload, 0)
        with self.subTest("waiting order kept"):
            self.assertEqual([x[:2] for x in order_changes], [],
                             "order changed at (reload, queue): first %r" % (order_changes[:1],))
        print("load: %d contacts acknowledged, %d ended, %d abandoned, %d live at the end, "
              "%d ringing at a reload" % (len(acked), len(ended), len(abandoned), len(final),
                                          ringing_at_reload))


class Redis(ReloadCase):
    def test_keys_match_snapshot_after_reload(self):
        r = RedisServer()
        self.addCleanup(r.cleanup)
        r.start()
        four = [agent("a%d" % i, {"sales": 5, "support": 5, "billing": 5}) for i in range(1, 5)]
        v0 = conf([slow_queue("sales", skills={"sales": 1}),
                   slow_queue("support", skills={"support": 1}),
                   slow_queue("billing", skills={"billing": 1})],
                  four, fallback_queue="support", redis=redis_group(r))
        three = json.loads(json.dumps(four[:3]))
        for a in three:
            del a["skills"]["billing"]
        v1 = conf([slow_queue("sales", skills={"sales": 1}),
                   slow_queue("support", skills={"support": 1}),
                   slow_queue("retention", skills={"retention": 1})],
                  three + [agent("a5", {"retention": 5})], fallback_queue="support",
                  redis=redis_group(r))
        d = self.start(v0)
        root = self.admin(d)
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.new_contact(src, "b0", "billing")
        a1.offer("b0")
        a1.ok("offer.accept", contact="b0")
        a2 = self.agent(d, "a2", ready=False)
        a2.ok("agent.state", state="not_ready", reason="training")
        self.agent(d, "a4", ready=False)  # removed below
        tiers = ["prospect", "emergency", "standard", "key_account", "loyal"]
        for i, t in enumerate(tiers):
            q = ("sales", "support", "billing")[i % 3]
            self.new_contact(src, "c%d" % i, q, customer={"tier": t})
        self.wait_until(lambda: r.lines("EXISTS", "ringq:queue:billing:waiting")[0] == "1",
                        timeout=10, what="billing's waiting set in Redis")
        self.assertEqual(r.lines("EXISTS", "ringq:agent:a4")[0], "1")

        self.rewrite(d, v1)
        rep, _ = self.admin_reload(root)
        self.assert_reloaded(rep, 3, 4, moved=2)  # b0 and c2
        snap = root.ok("snapshot")
        live = {c["contact"]: c for c in snap["contacts"]}
        self.assertEqual(live["c2"]["queue"], "support")

        def diff():
            """What Redis still lacks: [] once it matches the snapshot."""
            out = []
            if set(r.lines("SMEMBERS", "ringq:contacts")) != set(live):
                out.append("contacts set")
            for cid, c in live.items():
                h = r.hgetall("ringq:contact:" + cid)
                for k in ("state", "queue", "tier", "agent"):
                    if h.get(k) != (c[k] or ""):
                        out.append("%s.%s=%r" % (cid, k, h.get(k)))
                if h.get("arrived_ms") != str(c["arrived_ms"]):
                    out.append("%s.arrived_ms" % cid)
            for q in ("sales", "support"):
                if r.lines("ZRANGE", "ringq:queue:%s:waiting" % q, 0, -1) != \
                        self.waiting_order(live, q):
                    out.append("%s waiting order" % q)
            for key in ("ringq:queue:billing:stats", "ringq:queue:billing:waiting",
                        "ringq:agent:a4"):
                if r.lines("EXISTS", key)[0] != "0":
                    out.append(key + " still there")
            for a in snap["agents"]:
                if a["state"] != "logged_out" and \
                        r.hgetall("ringq:agent:" + a["agent"]).get("state") != a["state"]:
                    out.append("agent %s" % a["agent"])
            return out

        deadline = time.monotonic() + 15
        while diff() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(diff(), [])
        self.assertEqual(r.hgetall("ringq:agent:a2")["reason"], "training")
        self.assertEqual(r.lines("ZRANGE", "ringq:queue:support:waiting", 0, -1),
                         self.waiting_order(live, "support"))
        self.assertIn("c2", r.lines("ZRANGE", "ringq:queue:support:waiting", 0, -1))


class Pushes(ReloadCase):
    def test_reload_push_and_event_stream(self):
        """Every monitor gets the `reload` push (subscribed or not); the HTTP
        event stream gets a fresh snapshot; HTTP tokens change at once."""
        agents = [agent("a1", {"sales": 5})]
        tokens = [{"token": "wb-secret", "role": "wallboard", "name": "wall1"}]
        v0 = conf([slow_queue("sales", skills={"sales": 1})], agents)
        v0["http"] = {"host": "127.0.0.1", "tokens": tokens}
        v1 = conf([slow_queue("sales", skills={"sales": 1}),
                   slow_queue("retention", skills={"sales": 1})], agents)
        v1["http"] = {"host": "127.0.0.1",
                      "tokens": tokens + [{"token": "new-secret", "role": "wallboard",
                                           "name": "wall2"}]}
        d = HttpDaemon(v0, start=False)
        self.daemons.append(d)
        self.addCleanup(self._stop_daemon, d)
        d.start()
        root = self.admin(d)
        quiet = self.monitor(d)  # never subscribed
        busy = self.monitor(d, subscribe=["queues"])
        s = SSE(d.http_port, "/v1/stream", headers=WB, timeout=RELOAD_S)
        self.addCleanup(s.close)
        self.assertEqual(s.read_head(), 200)
        first, _ = s.wait_for("snapshot")
        self.assertEqual([q["name"] for q in first["queues"]], ["sales"])
        new = {"Authorization": "Bearer new-secret"}
        self.assertEqual(request(d, "GET", "/v1/queues", new)[0], 401)

        self.rewrite(d, v1)
        rep, ev = self.admin_reload(root)
        self.assert_reloaded(rep, 2, 1)
        for m in (ev, quiet.push("reload", timeout=RELOAD_S),
                  busy.push("reload", timeout=RELOAD_S)):
            self.assert_reloaded(m, 2, 1)
            self.assertNotIn("error", m)
        snap, _ = s.wait_for("snapshot", lambda x: "retention" in
                             [q["name"] for q in x["queues"]], timeout=RELOAD_S)
        self.assertEqual([q["name"] for q in snap["queues"]], ["sales", "retention"])
        st, _, body = request(d, "GET", "/v1/queues", new)
        self.assertEqual(st, 200)
        self.assertIn("retention", [q["name"] for q in json.loads(body)["queues"]])

        # a refusal reaches every monitor too
        text = self.rewrite(d, v1) + "broken = ;\n"
        self.rewrite(d, text=text)
        line = text.count("\n")
        ev = self.sighup(d, root)
        message = self.refusal_message(ev)
        self.assertTrue(message.startswith("%s:%d: " % (d.conf_path, line)), message)
        for m in (quiet.push("reload", timeout=RELOAD_S), busy.push("reload", timeout=RELOAD_S)):
            self.assertEqual(self.refusal_message(m), message)


if __name__ == "__main__":
    unittest.main()
