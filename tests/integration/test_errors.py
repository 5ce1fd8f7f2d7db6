"""Every error code, and hostile input: a bad line changes nothing, never
closes the connection and never takes the daemon down."""

import json
import random
import socket
import time
import unittest

from ringq_harness import RingqTestCase, agent, config, queue


def conf(**top):
    return config(
        queues=[
            queue("sales", skills={"sales": 1}, ring_timeout_s=5.0),
            queue("closed_q", skills={"sales": 1}, closed=True),
        ],
        agents=[agent("a1", {"sales": 5}), agent("a2", {"sales": 5})],
        **top,
    )


class Errors(RingqTestCase):
    def setUp(self):
        super().setUp()
        self.d = self.start(conf(max_contacts=3), max_line_bytes=2048)
        self.mon = self.monitor(self.d)
        self.src = self.source(self.d)

    def state_of(self):
        """The daemon's view, without the volatile parts."""
        s = self.snapshot(self.mon)
        contacts = sorted((c["contact"], c["state"], c["queue"]) for c in s["contacts"])
        agents = sorted((a["agent"], a["state"]) for a in s["agents"])
        queues = sorted((q["name"], q["waiting"]) for q in s["queues"])
        return contacts, agents, queues

    def assertStillWorks(self, c):
        self.assertTrue(self.d.alive(), "ringqd died:\n" + self.d.stderr_tail())
        self.assertTrue(c.ok("ping")["ok"])

    # ---- bad_json

    def test_bad_json(self):
        before = self.state_of()
        for line in (b"hello world", b"[1,2,3]", b'"just a string"', b"42", b"null",
                     b'{"op":"ping","id":1', b'{"op":"ping",}', b"{'op':'ping'}",
                     b'{"op":"ping","id":1}{"op":"ping"}', b"\xff\xfe{}"):
            self.src.send_raw(line + b"\n")
            r = self.src.reply(any_re=True)
            self.assertIs(r["ok"], False, line)
            self.assertEqual(r["error"]["code"], "bad_json", (line, r))
            self.assertNotIn("re", r, line)
            self.assertIsInstance(r["error"]["message"], str)
        self.assertStillWorks(self.src)
        self.assertEqual(self.state_of(), before)

    def test_empty_lines_and_crlf(self):
        # Empty lines get no reply (nothing was asked); \r\n works like \n.
        self.src.send_raw(b'\n\r\n{"op":"ping","id":"x1"}\r\n')
        r = self.src.reply(re="x1")
        self.assertIs(r["ok"], True)
        self.assertEqual(self.src.replies, [])

    # ---- too_large

    def test_too_large(self):
        before = self.state_of()
        big = json.dumps({"op": "ping", "id": 7, "pad": "x" * 5000})
        self.src.send_raw(big.encode() + b"\n")
        r = self.src.reply(any_re=True)
        self.assertEqual(r["error"]["code"], "too_large")
        # The connection still works and the rest of the line was discarded
        # (no second error for it).
        self.assertStillWorks(self.src)
        self.assertEqual(self.src.replies, [])
        self.assertEqual(self.state_of(), before)

    def test_too_large_sent_in_pieces(self):
        c = self.source(self.d, name="pbx2")
        c.send_raw(b'{"op":"ping","id":1,"pad":"')
        for _ in range(10):
            c.send_raw(b"y" * 1000)
            time.sleep(0.01)
        c.send_raw(b'"}\n{"op":"ping","id":"after"}\n')
        r = c.reply(any_re=True)
        self.assertEqual(r["error"]["code"], "too_large")
        self.assertIs(c.reply(re="after")["ok"], True)
        self.assertEqual(c.replies, [])

    def test_line_at_the_limit_is_fine(self):
        # max_line_bytes = 2048: a line of exactly that many bytes is allowed.
        head = '{"op":"ping","id":"lim","x":"'
        line = head + "z" * (2048 - len(head) - 2) + '"}'
        self.assertEqual(len(line), 2048)
        self.src.send_raw(line.encode() + b"\n")
        r = self.src.reply(any_re=True)
        self.assertEqual(r["re"], "lim")
        self.assertEqual(r["error"]["code"], "bad_field")  # x is unknown, but it was read

    def test_too_large_before_hello(self):
        c = self.connect(self.d)
        # Before hello the limit is 4096 bytes whatever max_line_bytes says.
        c.send_raw(b'{"op":"ping","pad":"' + b"p" * 5000 + b'"}\n')
        r = c.reply(any_re=True)
        self.assertEqual(r["error"]["code"], "too_large")
        self.assertIs(c.ok("ping")["ok"], True)
        c.hello("source", name="pbx2")

    # ---- unknown_op

    def test_unknown_op(self):
        e = self.src.error("contact.explode", "unknown_op")
        self.assertIn("contact.explode", e["message"])
        self.src.error("", "unknown_op")
        self.assertStillWorks(self.src)

    # ---- bad_field

    def test_bad_field(self):
        before = self.state_of()
        e = self.src.error("contact.new", "bad_field", contact="b1")
        self.assertIn("queue", e["message"])
        e = self.src.error("contact.new", "bad_field", queue="sales")
        self.assertIn("contact", e["message"])
        e = self.src.error("contact.new", "bad_field", contact="b1", queue="sales", foo=1)
        self.assertIn("foo", e["message"])
        e = self.src.error("contact.new", "bad_field", contact="b1", queue="sales", priority="high")
        self.assertIn("priority", e["message"])
        e = self.src.error("contact.new", "bad_field", contact="b1", queue="sales", priority=101)
        self.assertIn("priority", e["message"])
        e = self.src.error("contact.new", "bad_field", contact=17, queue="sales")
        self.assertIn("contact", e["message"])
        e = self.src.error("contact.new", "bad_field", contact="b1", queue="sales",
                           customer={"tier": 5})
        self.assertEqual(e["message"], "customer.tier: must be a string")
        e = self.src.error("contact.new", "bad_field", contact="b1", queue="sales",
                           customer={"shoe_size": 44})
        self.assertIn("shoe_size", e["message"])
        e = self.src.error("contact.new", "bad_field", contact="b1", queue="sales",
                           customer="vip")
        self.assertIn("customer", e["message"])
        e = self.src.error("contact.new", "bad_field", contact="b1", queue="sales",
                           channel="pigeon")
        self.assertIn("channel", e["message"])
        e = self.src.error("contact.new", "bad_field", contact="b1", queue="sales",
                           skills={"sales": 11})
        self.assertIn("skills.sales", e["message"])
        e = self.src.error("contact.new", "bad_field", contact="b1", queue="sales",
                           customer={"persona": "grumpy"})
        self.assertIn("customer.persona", e["message"])
        e = self.src.error("ping", "bad_field", extra=True)
        self.assertIn("extra", e["message"])
        self.src.send_json({"op": 5, "id": "opnum"})
        self.assertEqual(self.src.reply(re="opnum")["error"]["code"], "bad_field")
        self.src.send_json({"id": "noop"})
        self.assertEqual(self.src.reply(re="noop")["error"]["code"], "bad_field")
        ag = self.agent(self.d, "a1", ready=False)
        e = ag.error("agent.state", "bad_field", state="sleeping")
        self.assertIn("state", e["message"])
        e = ag.error("agent.state", "bad_field")
        self.assertIn("state", e["message"])
        e = self.mon.error("subscribe", "bad_field", topics=["gossip"])
        self.assertIn("topics", e["message"])
        self.assertEqual(self.state_of()[0], before[0])
        self.assertStillWorks(self.src)

    def test_reply_echoes_id_of_any_scalar(self):
        for rid in ("abc", 12, 3.5, -1):
            self.src.send_json({"op": "ping", "id": rid})
            self.assertIs(self.src.reply(re=rid)["ok"], True)
        self.src.send_json({"op": "ping"})
        r = self.src.reply()
        self.assertEqual(r, {"ok": True})

    # ---- unauthorized

    def test_unauthorized(self):
        c = self.connect(self.d)
        c.error("contact.new", "unauthorized", contact="u1", queue="sales")
        c.error("snapshot", "unauthorized")
        c.error("hello", "unauthorized", role="source", name="pbx1", token="wrong")
        c.error("hello", "unauthorized", role="source", name="nobody", token="demo")
        c.error("hello", "unauthorized", role="monitor", name="pbx1", token="demo")
        c.error("hello", "unauthorized", role="agent", agent="a1", token="nope")
        c.error("hello", "unauthorized", role="agent", agent="a404", token="demo")
        # Still not logged in, and the connection still works.
        c.error("contact.new", "unauthorized", contact="u1", queue="sales")
        c.hello("source", name="pbx2")
        # Ops of another role.
        self.src.error("offer.accept", "unauthorized", contact="u1")
        self.src.error("agent.state", "unauthorized", state="ready")
        self.src.error("snapshot", "unauthorized")
        self.mon.error("contact.new", "unauthorized", contact="u1", queue="sales")
        ag = self.agent(self.d, "a1", ready=False)
        ag.error("contact.new", "unauthorized", contact="u1", queue="sales")
        ag.error("snapshot", "unauthorized")
        self.assertIsNone(self.snap_contact(self.mon, "u1"))

    def test_hello_twice(self):
        e = self.src.request("hello", role="source", name="pbx1", token="demo")
        self.assertIs(e["ok"], False)
        self.assertIn(e["error"]["code"], ("bad_state", "unauthorized"))
        self.assertStillWorks(self.src)

    # ---- not_found

    def test_not_found(self):
        self.src.error("contact.answered", "not_found", contact="nope", agent="a1")
        self.src.error("contact.end", "not_found", contact="nope")
        self.src.error("contact.abandon", "not_found", contact="nope")
        self.src.error("contact.no_answer", "not_found", contact="nope", agent="a1")
        self.src.error("contact.transfer", "not_found", contact="nope", queue="sales")
        self.src.error("contact.new", "not_found", contact="nf1", queue="nowhere")
        self.new_contact(self.src, "nf2", "sales")
        self.src.error("contact.transfer", "not_found", contact="nf2", queue="nowhere")
        self.src.error("contact.answered", "not_found", contact="nf2", agent="a404")
        ag = self.agent(self.d, "a1", ready=False)
        ag.error("offer.accept", "not_found", contact="nope")
        ag.error("offer.reject", "not_found", contact="nope")
        ag.error("contact.end", "not_found", contact="nope")

    # ---- bad_state

    def test_bad_state(self):
        a1 = self.agent(self.d, "a1")
        a2 = self.agent(self.d, "a2", ready=False)
        self.new_contact(self.src, "bs1", "sales")
        a1.offer("bs1")
        # Accept or reject a contact offered to someone else.
        a2.error("offer.accept", "bad_state", contact="bs1")
        a2.error("offer.reject", "bad_state", contact="bs1")
        a2.error("contact.end", "bad_state", contact="bs1")
        # Answered twice, by different agents.
        self.src.ok("contact.answered", contact="bs1", agent="a1")
        self.src.error("contact.answered", "bad_state", contact="bs1", agent="a2")
        # The same answer reported twice (PBX and softphone) is fine.
        self.src.ok("contact.answered", contact="bs1", agent="a1")
        a1.ok("offer.accept", contact="bs1")
        a1.error("offer.reject", "bad_state", contact="bs1")
        # Another source cannot touch it.
        other = self.source(self.d, name="pbx2")
        other.error("contact.end", "not_found", contact="bs1")
        other.error("contact.answered", "not_found", contact="bs1", agent="a1")
        # wrap-up done while not in wrap-up.
        a2.error("wrapup.done", "bad_state")
        self.assertEqual(self.snap_contact(self.mon, "bs1")["state"], "connected")
        self.assertEqual(self.snap_agent(self.mon, "a1")["state"], "busy")

    # ---- duplicate

    def test_duplicate(self):
        self.new_contact(self.src, "dup", "sales")
        e = self.src.error("contact.new", "duplicate", contact="dup", queue="sales")
        self.assertIn("dup", e["message"])
        other = self.source(self.d, name="pbx2")
        other.error("contact.new", "duplicate", contact="dup", queue="sales")
        self.assertEqual(self.snap_queue(self.mon, "sales")["waiting"], 1)

    # ---- overloaded

    def test_overloaded(self):
        for i in range(3):
            self.new_contact(self.src, "ov%d" % i, "sales")
        self.src.error("contact.new", "overloaded", contact="ov3", queue="sales")
        self.assertIsNone(self.snap_contact(self.mon, "ov3"))
        # Room again once one ends.
        self.src.ok("contact.abandon", contact="ov0")
        self.new_contact(self.src, "ov3", "sales")

    # ---- unavailable

    def test_unavailable(self):
        e = self.src.error("contact.new", "unavailable", contact="cl1", queue="closed_q")
        self.assertIn("closed_q", e["message"])
        self.assertIsNone(self.snap_contact(self.mon, "cl1"))

    # ---- hostile input

    def test_random_garbage(self):
        before = self.state_of()
        rnd = random.Random(1234)
        for _ in range(20):
            chunk = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000)))
            self.src.send_raw(chunk)
        self.src.send_raw(b"\n")
        self.src.send_json({"op": "ping", "id": "after-garbage"})
        self.assertIs(self.src.reply(re="after-garbage", timeout=10)["ok"], True)
        for r in self.src.replies:
            self.assertIs(r["ok"], False)
            self.assertIn(r["error"]["code"], ("bad_json", "too_large", "bad_field", "unknown_op"))
        self.src.replies = []
        self.assertStillWorks(self.src)
        self.assertEqual(self.state_of(), before)

    def test_nul_bytes(self):
        before = self.state_of()
        for line in (b'{"op":"ping",\x00"id":1}', b"\x00\x00\x00", b'{"op":"contact.new\x00"}',
                     b'{"op":"contact.new","contact":"a\x00b","queue":"sales"}'):
            self.src.send_raw(line + b"\n")
            r = self.src.reply(any_re=True)
            self.assertEqual(r["error"]["code"], "bad_json", line)
        # An escaped NUL is refused too (ids must not contain control characters).
        self.src.send_json({"op": "contact.new", "id": 5, "contact": "a\u0000b", "queue": "sales"})
        self.assertEqual(self.src.reply(any_re=True)["error"]["code"], "bad_json")
        e = self.src.error("contact.new", "bad_field", contact="a\u0001b", queue="sales")
        self.assertIn("control characters", e["message"])
        self.assertStillWorks(self.src)
        self.assertEqual(self.state_of(), before)

    def test_deeply_nested_json(self):
        d = self.start(conf(), max_line_bytes=1 << 20)
        mon = self.monitor(d)
        src = self.source(d)
        depth = 10000
        for nest in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
            line = '{"op":"ping","id":"deep","x":' + nest + "}"
            src.send_raw(line.encode() + b"\n")
            r = src.reply(any_re=True, timeout=10)
            self.assertIs(r["ok"], False)
            self.assertIn(r["error"]["code"], ("bad_json", "bad_field"))
        self.assertTrue(d.alive())
        self.assertIs(src.ok("ping")["ok"], True)
        self.assertEqual(self.snapshot(mon)["contacts"], [])

    def test_many_requests_without_reading(self):
        # A client that writes without reading: ringqd stops reading from it
        # once its replies pile up (or drops it), never grows without bound,
        # and keeps serving everyone else.
        before = self.state_of()
        c = self.source(self.d, name="pbx2")
        line = b'{"op":"ping","id":123456}\n'
        batch = line * 4096
        deadline = time.monotonic() + 1.5
        sent = 0
        dropped = False
        while time.monotonic() < deadline:
            try:
                sent += c.sock.send(batch[sent % len(batch):])
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                dropped = True  # the daemon dropped the slow reader: allowed
                break
        self.assertTrue(self.d.alive(), self.d.stderr_tail())
        other = self.monitor(self.d)
        self.assertIs(other.ok("ping")["ok"], True)
        self.assertEqual(self.state_of(), before)
        # Unless dropped, every complete request line gets its one reply, in
        # order (a partial last line stays unanswered).
        n = 0
        t_end = time.monotonic() + 20
        while n < sent // len(line) and time.monotonic() < t_end:
            got = c.read_line(timeout=2.0)
            if got is None:
                break
            self.assertEqual(got, b'{"re":123456,"ok":true}')
            n += 1
        if not c.eof:
            self.assertEqual(n, sent // len(line), "replies lost")
        c.close()
        self.assertStillWorks(self.src)

    def test_max_clients(self):
        c = conf()
        c["listen"] = {"max_clients": 3}
        d = self.start(c)
        time.sleep(0.2)  # the start-up probe connection is gone
        keep = [self.connect(d) for _ in range(3)]
        for k in keep:
            self.assertIs(k.ok("ping")["ok"], True)
        extra = self.connect(d)
        r = extra.reply(any_re=True)
        self.assertEqual(r["error"], {"code": "overloaded", "message": "too many clients"})
        self.assertTrue(extra.closed_by_peer())
        # One leaves: room again.
        keep[0].close()
        time.sleep(0.2)
        again = self.connect(d)
        self.assertIs(again.ok("ping")["ok"], True)

    def test_many_connections(self):
        conns = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=5)
            conns.append(s)
        for s in conns:
            s.sendall(b'{"op":"ping","id":1}\n')
        for s in conns:
            self.assertIn(b'"ok":true', s.recv(4096))
            s.close()
        self.assertStillWorks(self.src)


if __name__ == "__main__":
    unittest.main()
