"""Overload: when Redis falls behind, ringqd pushes back instead of piling
up work.

A private redis-server is paused for writes (`CLIENT PAUSE ... WRITE`) for
BURST_S seconds, which takes its sustainable rate to zero, while a source
sends contact.new as fast as the socket takes them. ringqd must:

- answer `overloaded` ("... retry in N ms") to contact.new once
  redis.max_pending commands wait for Redis, and stop reading the source
  (TCP back-pressure) once the replies it holds for Redis pass
  redis.max_held_bytes;
- keep its memory bounded: VmRSS during the burst stays within RSS_BOUND_KIB
  of what it was before (see below);
- keep answering pings (a monitor connection) during the burst;
- lose no acknowledged contact: every contact.new answered ok is in the
  snapshot and in Redis afterwards, none answered `overloaded` is;
- be back to at least 90 % of its earlier throughput within 5 s after the
  burst (closed-loop contact.new + contact.abandon, measured before and after
  with the same client).

The overload comes from the paused Redis, not from CPU speed, so the test
behaves the same on a slow, busy or sanitized build.
"""

import json
import os
import select
import socket
import time
import unittest

from redis_server import RedisServer
from ringq_harness import RingqTestCase, agent, config, queue

MAX_PENDING = 2000  # redis.max_pending: commands not acknowledged (a contact is about 4)
MAX_HELD = 256 * 1024  # redis.max_held_bytes: replies held back for Redis
BURST_S = 2.0  # Redis writes paused this long
WINDOW = 64  # requests in flight in the throughput phases
BURST_QUEUES = 20  # queues the burst's contacts are spread over
# What ringqd may add to its RSS while Redis is paused: the work it takes on
# before pushing back is at most 2 x MAX_PENDING commands (~1 KiB each, held
# twice: the batch and hiredis' output buffer: 4 MiB), the ~MAX_PENDING / 4
# contacts they create (< 1 MiB), MAX_HELD bytes of replies with a copy and a
# list node each (< 2 MiB), and the input and output buffers of three
# connections (< 1 MiB): about 8 MiB. The bound leaves 4x room for allocator
# and sanitizer overhead. Without the push-back ringqd would take on every
# contact.new the source can send: tens of thousands per second, several KiB
# each with their pending commands.
RSS_BOUND_KIB = 32 * 1024


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Source:
    """A raw source connection that writes as much as the socket takes and
    collects reply lines, never blocking."""

    def __init__(self, port, name, unix_path=None):
        if unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(5)
            self.sock.connect(unix_path)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(b'{"op":"hello","id":"h","role":"source","name":"%s","token":"demo"}\n'
                          % name.encode())
        buf = b""
        while b"\n" not in buf:
            data = self.sock.recv(4096)
            if not data:
                raise AssertionError("hello: connection closed")
            buf += data
        if b'"ok":true' not in buf:
            raise AssertionError("hello refused: %r" % buf)
        self.sock.setblocking(False)
        self.out = bytearray()
        self.inbuf = b""

    def close(self):
        self.sock.close()

    def queue(self, line):
        self.out += line

    def pump(self, timeout):
        """Write what the socket takes, read what came; returns reply lines."""
        w = [self.sock] if self.out else []
        r, wr, _ = select.select([self.sock], w, [], timeout)
        if wr:
            try:
                n = self.sock.send(self.out)
                del self.out[:n]
            except BlockingIOError:
                pass
        lines = []
        if r:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                data = None
            if data == b"":
                raise AssertionError("ringqd closed the source connection")
            if data:
                self.inbuf += data
                *lines, self.inbuf = self.inbuf.split(b"\n")
        return lines


class Overload(RingqTestCase):
    def setUp(self):
        super().setUp()
        # A sanitized ringqd keeps freed memory in a quarantine (256 MiB by
        # default) that would show in its RSS: keep it small here.
        opts = os.environ.get("ASAN_OPTIONS", "detect_leaks=1")
        if "quarantine_size_mb" not in opts:
            os.environ["ASAN_OPTIONS"] = opts + ":quarantine_size_mb=4"
        self.redis = RedisServer(persist=False)
        self.addCleanup(self.redis.cleanup)
        self.redis.start()

    def conf(self):
        r = self.redis
        return config(
            # burst contacts wait in BURST_QUEUES queues (each stays short, so
            # positions are cheap to report); the throughput phases use "steady"
            queues=[queue("b%d" % i, skills={"sales": 1}) for i in range(BURST_QUEUES)]
            + [queue("steady", skills={"sales": 1})],
            agents=[agent("a1", {"sales": 1})],
            skills=["sales"],
            max_contacts=1000000,
            log_level="notice",
            redis={
                "host": "127.0.0.1",
                "port": r.port,
                "prefix": "ringq:",
                "connect_timeout_s": 1.0,
                # longer than the pause: the pause is a slow Redis, not an outage
                "command_timeout_s": 10.0,
                "max_pending": MAX_PENDING,
                "max_held_bytes": MAX_HELD,
            },
        )

    def throughput(self, src, seconds, tag):
        """Closed loop: contact.new + contact.abandon pairs, WINDOW requests
        in flight. Returns ok replies per 0.5 s bin."""
        bins = []
        t0 = time.monotonic()
        sent = done = 0
        n = 0
        while True:
            now = time.monotonic()
            b = int((now - t0) / 0.5)
            if now - t0 >= seconds:
                break
            while len(bins) <= b:
                bins.append(0)
            while sent - done < WINDOW:
                cid = "%s-%d" % (tag, n // 2)
                if n % 2 == 0:
                    src.queue(b'{"op":"contact.new","id":%d,"contact":"%s","queue":"steady"}\n'
                              % (n, cid.encode()))
                else:
                    src.queue(b'{"op":"contact.abandon","id":%d,"contact":"%s"}\n'
                              % (n, cid.encode()))
                n += 1
                sent += 1
            for line in src.pump(0.05):
                done += 1
                if b'"ok":true' in line:
                    bins[b] += 1
                else:
                    self.fail("throughput phase: %r" % line)
        # let what is in flight finish (an odd count leaves a contact: abandon it)
        if n % 2 == 1:
            src.queue(b'{"op":"contact.abandon","id":%d,"contact":"%s-%d"}\n'
                      % (n, tag.encode(), n // 2))
            sent += 1
        deadline = time.monotonic() + 10
        while done < sent and time.monotonic() < deadline:
            done += len(src.pump(0.1))
        self.assertEqual(done, sent, "throughput phase: replies missing")
        return bins

    def test_burst_with_redis_paused(self):
        d = self.start(self.conf())
        pid = d.proc.pid
        mon = self.monitor(d)
        steady = Source(d.port, "pbx2")
        self.addCleanup(steady.close)

        # Before: the throughput of a healthy Redis, the median of 0.5 s
        # bins after a 0.5 s warm-up (the machine may be shared and noisy).
        before_bins = self.throughput(steady, 3.0, "pre")
        before = sorted(before_bins[1:6])[2] / 0.5
        self.assertGreater(before, 0)
        rss_before = rss_kib(pid)

        # The burst: Redis takes no writes for BURST_S; the source sends
        # contact.new as fast as ringqd reads them. It is connected over the
        # Unix socket, whose kernel buffers have a fixed size (TCP's grow to
        # megabytes), so that what the kernel holds for ringqd when it stops
        # reading stays small and the live state after the burst is close
        # to the one before (the throughput comparison is fair).
        burst = Source(None, "pbx1", unix_path=d.unix_path)
        self.addCleanup(burst.close)
        self.redis.cli("CLIENT", "PAUSE", int(BURST_S * 1000), "WRITE")
        t0 = time.monotonic()
        sent = 0
        early = []  # replies while Redis was paused: there must be none
        rss_max = rss_before
        pings = []
        next_probe = t0
        while time.monotonic() - t0 < BURST_S - 0.2:
            while len(burst.out) < 65536:
                burst.queue(b'{"op":"contact.new","id":%d,"contact":"b-%d","queue":"b%d",'
                            b'"customer":{"id":"cust%d","tier":"standard"}}\n'
                            % (sent, sent, sent % BURST_QUEUES, sent))
                sent += 1
            early += burst.pump(0.005)
            if time.monotonic() >= next_probe:
                next_probe += 0.05
                rss_max = max(rss_max, rss_kib(pid))
                p0 = time.monotonic()
                mon.ok("ping")
                pings.append(time.monotonic() - p0)
        unsent = len(burst.out)
        burst.out.clear()  # not taken by ringqd: dropped (the last line may be cut)
        pause_end = t0 + BURST_S
        # Everything ringqd read is answered, in order, once Redis is back:
        # collect until nothing more comes for 0.5 s.
        self.assertEqual(early, [], "replies went out before Redis acknowledged their changes")
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            n_before = len(lines)
            lines += burst.pump(0.5)
            if len(lines) == n_before and time.monotonic() > pause_end + 0.5:
                break
        drained = time.monotonic()

        ok, over, other, messages = set(), set(), [], set()
        first_ok_run = None
        for line in lines:
            m = json.loads(line)
            if m.get("ok") is True:
                ok.add(m["contact"])
            elif m.get("error", {}).get("code") == "overloaded":
                if first_ok_run is None:
                    first_ok_run = len(ok)
                over.add(m["re"])
                messages.add(m["error"]["message"])
            else:
                other.append(m)
        self.assertEqual(other, [], "unexpected replies during the burst")
        self.assertGreater(len(over), 0, "no `overloaded` reply")
        for msg in messages:
            self.assertRegex(msg, r"^Redis is behind: .*; retry in \d+ ms$")
        # Accepted while Redis was paused (the replies before the first
        # `overloaded`): no more than redis.max_pending allows (about 4
        # commands a contact, plus the queue's stats per batch).
        self.assertGreater(first_ok_run, 0, "nothing accepted before the bound")
        self.assertLessEqual(first_ok_run, MAX_PENDING // 3)
        # one reply per request read, in order; ringqd stopped reading the rest
        self.assertEqual(len(ok) + len(over), len(lines))
        self.assertEqual(sorted(int(json.loads(x)["re"]) for x in lines), list(range(len(lines))))
        self.assertGreater(sent, len(lines), "ringqd read everything: no back-pressure")
        # memory
        self.assertLessEqual(rss_max - rss_before, RSS_BOUND_KIB,
                             "RSS grew from %d to %d KiB during the burst" % (rss_before, rss_max))
        # pings answered all along
        self.assertGreaterEqual(len(pings), int(BURST_S / 0.05) // 2)
        self.assertLess(max(pings), 1.0, "a ping waited %.3f s during the burst" % max(pings))

        # After: back to 90 % of the earlier throughput within 5 s.
        # The time since the pause ended counts: draining the burst's backlog
        # is part of the recovery.
        after_start = time.monotonic()
        after_bins = self.throughput(steady, 5.0, "post")
        back = next((i for i, n in enumerate(after_bins) if n / 0.5 >= 0.9 * before), None)
        self.assertIsNotNone(back, "throughput after the burst %r per 0.5 s, before %.0f/s"
                             % (after_bins, before))
        recovered_s = after_start - pause_end + (back + 1) * 0.5
        self.assertLessEqual(recovered_s, 5.0, "throughput back to 90%% only after %.1f s (%r)"
                             % (recovered_s, after_bins))
        # no acknowledged contact lost, none refused kept
        # (the snapshot lists at most 10000 contacts: the queue's count is
        # checked, and the ids when they are all listed)
        snap = mon.request("snapshot", timeout=60)
        self.assertTrue(snap.get("ok"), snap)
        waiting = sum(q["waiting"] for q in snap["queues"] if q["name"] != "steady")
        self.assertEqual(waiting, len(ok), "acknowledged contacts missing from the snapshot")
        live = {c["contact"] for c in snap["contacts"]}
        if not snap.get("contacts_truncated"):
            self.assertEqual(live, ok, "the snapshot's contacts are not the acknowledged ones")
        refused = {"b-%d" % i for i in over}
        self.assertEqual(refused & live, set(), "refused contacts were kept")
        in_redis = set(self.redis.lines("SMEMBERS", "ringq:contacts"))
        self.assertEqual(in_redis, ok, "Redis does not hold exactly the acknowledged contacts")

        print("\noverload: before %.0f req/s; burst: %d generated, %d read and answered "
              "(%d ok, of which %d while Redis was paused; %d overloaded), %d bytes not taken; "
              "backlog drained %.1f s after the pause; RSS %d -> max %d KiB; pings %d, max %.1f "
              "ms; back to >= 90%% %.1f s after the pause"
              % (before, sent, len(lines), len(ok), first_ok_run, len(over), unsent,
                 drained - pause_end, rss_before, rss_max, len(pings), max(pings) * 1000,
                 recovered_s))


if __name__ == "__main__":
    unittest.main()
