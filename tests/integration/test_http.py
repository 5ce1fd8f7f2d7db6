"""The HTTP side of ringqd (docs/http.md) over real sockets: the JSON API,
bearer tokens and roles, agent state changes, the Server-Sent Events stream
(snapshot, pushes, coalescing, a slow client dropped without the daemon's
memory growing), /metrics checked by `promtool check metrics` and by a
parser of our own, /healthz against a private redis-server, and the
wallboard page.

Only the Python standard library is used (http.client for requests, a raw
socket for the event stream); promtool comes from Debian's `prometheus`
package, which tools/quickstart installs.
"""

import http.client
import json
import math
import os
import re
import select
import shutil
import socket
import subprocess
import time
import unittest

from redis_server import RedisServer
from ringq_harness import (Daemon, RingqTestCase, agent, config, free_port, libconfig, queue,
                           ringqd_path)

TOKENS = [
    {"token": "wb-secret", "role": "wallboard", "name": "wall1"},
    {"token": "sup-secret", "role": "supervisor", "name": "sup1"},
    {"token": "admin-secret", "role": "admin", "name": "root"},
]
WB = {"Authorization": "Bearer wb-secret"}
SUP = {"Authorization": "Bearer sup-secret"}
ADMIN = {"Authorization": "Bearer admin-secret"}
PAGE = "<!doctype html><title>ringq wallboard</title><p>test page</p>\n"
EDGES = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0]  # rq_wait_bucket_edges


class HttpDaemon(Daemon):
    """A Daemon with an `http` section on a free port of its own (picked
    again with the NDJSON port on every start attempt)."""

    def __init__(self, conf, **kw):
        self.http_port = None
        super().__init__(conf, **kw)

    def write_config(self):
        self.http_port = free_port()
        return super().write_config()

    def start(self):
        """Start, then also wait for the HTTP listener (opened after the
        NDJSON one the harness waits for)."""
        super().start()
        deadline = time.monotonic() + 15.0
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.http_port), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.02)

    def _render(self):
        t = dict(self.template)
        t["http"] = dict(t["http"], port=self.http_port)
        self.template, saved = t, self.template
        try:
            return super()._render()
        finally:
            self.template = saved


def http_conf(tmpdir, page=True, **http):
    """A config with two queues, three agents and an http section whose
    wallboard page is a file in tmpdir (missing unless page)."""
    path = os.path.join(tmpdir, "wallboard.html")
    if page:
        with open(path, "w") as f:
            f.write(PAGE)
    h = {"host": "127.0.0.1", "wallboard": path, "tokens": TOKENS}
    h.update(http)
    c = config(
        queues=[
            queue("sales", skills={"sales": 3}, ring_timeout_s=0.5),
            queue("support", skills={"support": 1}, ring_timeout_s=5.0),
        ],
        agents=[
            agent("a1", {"sales": 7, "support": 3}),
            agent("a2", {"support": 4}),
            agent("a3", {"sales": 5}),
        ],
    )
    c["http"] = h
    return c


# --------------------------------------------------------------------------
# HTTP helpers


def request(d, method, path, headers=None, body=None, timeout=5.0):
    """One request on a fresh connection: (status, headers dict, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=timeout)
    try:
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        conn.request(method, path, body=data, headers=dict(headers or {}))
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def get_json(d, path, headers=WB, status=200):
    st, hdrs, body = request(d, "GET", path, headers)
    if st != status:
        raise AssertionError("GET %s: status %d, expected %d: %r" % (path, st, status, body))
    if not hdrs.get("content-type", "").startswith("application/json"):
        raise AssertionError("GET %s: content-type %r" % (path, hdrs.get("content-type")))
    return json.loads(body)


class SSE:
    """A raw-socket reader of GET /v1/stream: HTTP/1.1 chunked transfer
    decoding, then Server-Sent Events (event/data/retry lines, comments)."""

    def __init__(self, port, path, headers=None, rcvbuf=None, timeout=5.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port,
                 "Accept: text/event-stream"]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = b""  # bytes read, not yet decoded
        self.text = b""  # decoded body, not yet parsed into events
        self.eof = False
        self.ended = False  # the terminating chunk came
        self.status = None
        self.headers = {}
        self.retry = None
        self.comments = 0
        self.kept = []  # events passed over by wait_for, oldest first

    def close(self):
        self.sock.close()

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        try:
            data = self.sock.recv(262144)
        except (ConnectionResetError, socket.timeout):
            data = b""
        if not data:
            self.eof = True
            return False
        self.raw += data
        return True

    def read_head(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            if not self._recv(deadline):
                raise AssertionError("no response head (eof=%s): %r" % (self.eof, self.raw[:200]))
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        return self.status

    def _decode(self):
        """Move complete chunks from raw to text."""
        while not self.ended:
            if b"\r\n" not in self.raw:
                return
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                self.ended = True
                return
            if len(rest) < size + 2:
                return
            self.text += rest[:size]
            assert rest[size:size + 2] == b"\r\n", "bad chunk framing"
            self.raw = rest[size + 2:]

    def event(self, timeout=5.0):
        """The next event as (name, data), data parsed as JSON; None on
        timeout or end of stream."""
        deadline = time.monotonic() + timeout
        while True:
            self._decode()
            while b"\n\n" in self.text:
                block, self.text = self.text.split(b"\n\n", 1)
                name, data = "message", []
                for line in block.decode().split("\n"):
                    if line.startswith(":"):
                        self.comments += 1
                    elif line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        data.append(line[6:])
                    elif line.startswith("retry: "):
                        self.retry = int(line[7:])
                if data:
                    return name, json.loads("\n".join(data))
            if self.ended or not self._recv(deadline):
                return None

    def wait_for(self, name, pred=lambda d: True, timeout=5.0):
        """The first event `name` whose data satisfies pred, looking first at
        the events earlier calls passed over: (data, passed_over). The events
        passed over are kept for later calls."""
        deadline = time.monotonic() + timeout
        for i, ev in enumerate(self.kept):
            if ev[0] == name and pred(ev[1]):
                del self.kept[i]
                return ev[1], []
        passed = []
        while True:
            ev = self.event(max(0.0, deadline - time.monotonic()))
            if ev is None:
                raise AssertionError("no %s event within %.1f s; passed over %s"
                                     % (name, timeout, [e[0] for e in passed][-10:]))
            if ev[0] == name and pred(ev[1]):
                return ev[1], passed
            passed.append(ev)
            self.kept.append(ev)

    def drain_until_eof(self, timeout):
        """Read and discard until the server closes; True when it did."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._recv(deadline)
            self.raw = b""
        return self.eof


# --------------------------------------------------------------------------
# Prometheus text format


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, labels, value)] plus {family: type}; asserts every sample
    belongs to a family that has HELP and TYPE lines."""
    samples, types, helps = [], {}, set()
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            types[name] = typ
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        labels = dict(LABEL_RE.findall(m.group(3) or ""))
        v = m.group(4)
        value = math.nan if v == "NaN" else float(v)
        samples.append((m.group(1), labels, value))
    for name, _, _ in samples:
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[:-len(suffix)] in types:
                fam = name[:-len(suffix)]
        if fam not in types or fam not in helps:
            raise AssertionError("sample %s has no HELP/TYPE" % name)
    return samples, types


def metric(samples, name, **labels):
    """The value of the one sample name{labels...} (a subset match)."""
    found = [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items())]
    if len(found) != 1:
        raise AssertionError("%s%r: %d samples" % (name, labels, len(found)))
    return found[0]


def metric_sum(samples, name, **labels):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items()))


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


# --------------------------------------------------------------------------


class Http(RingqTestCase):
    def start_http(self, conf=None, page=True, **http):
        tmp = self.tmpdir()
        d = HttpDaemon(conf if conf is not None else http_conf(tmp, page=page, **http),
                       start=False)
        self.daemons.append(d)
        self.addCleanup(self._stop_daemon, d)
        d.start()
        return d

    def tmpdir(self):
        import tempfile
        path = tempfile.mkdtemp(prefix="ringq-http-")
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def sse(self, d, path="/v1/stream", headers=WB, **kw):
        s = SSE(d.http_port, path, headers=headers, **kw)
        self.addCleanup(s.close)
        return s

    # ---- the JSON API

    def test_get_endpoints(self):
        d = self.start_http()
        src = self.source(d)
        mon = self.monitor(d)
        self.agent(d, "a1", ready=False)
        self.new_contact(src, "c1", "support", customer={"id": "cu1", "tier": "key_account"})

        qs = get_json(d, "/v1/queues")
        self.assertIs(qs["ok"], True)
        snap = self.snapshot(mon)
        by_name = self.by_key(qs["queues"], "name")
        self.assertEqual(set(by_name), {"sales", "support"})
        snap_q = self.by_key(snap["queues"], "name")
        for name in ("sales", "support"):
            for key in ("targets", "answer_rings", "waiting", "offered", "goal_percent"):
                self.assertEqual(by_name[name][key], snap_q[name][key], (name, key))
        self.assertEqual(by_name["support"]["waiting"], 1)

        q = get_json(d, "/v1/queues/support")["queue"]
        self.assertEqual(q["name"], "support")
        self.assertEqual(q["offered"], 1)

        ags = get_json(d, "/v1/agents")["agents"]
        self.assertEqual([a["agent"] for a in ags], ["a1", "a2", "a3"])
        a1 = get_json(d, "/v1/agents/a1")["agent"]
        self.assertEqual((a1["state"], a1["reason"]), ("not_ready", "login"))
        self.assertEqual(a1["skills"], {"sales": 7, "support": 3})

        c = get_json(d, "/v1/contacts/c1")["contact"]
        self.assertEqual((c["contact"], c["state"], c["queue"], c["tier"]),
                         ("c1", "waiting", "support", "key_account"))
        self.assertEqual(c["position"], 1)

        for path, what in (("/v1/queues/nope", "queue"), ("/v1/agents/nope", "agent"),
                           ("/v1/contacts/nope", "contact")):
            e = get_json(d, path, status=404)
            self.assertEqual(e["ok"], False)
            self.assertEqual(e["error"]["code"], "not_found")
            self.assertIn("nope", e["error"]["message"])
        for path in ("/", "/v1", "/v1/queues/sales/extra", "/v2/queues", "/v1/agents/a1/nope",
                     "/v1/queues/%00x", "/v1/queues/%zz"):
            e = get_json(d, path, status=404)
            self.assertEqual(e["error"]["code"], "not_found", path)
        # a percent-encoded id is decoded
        self.assertEqual(get_json(d, "/v1/queues/%73ales")["queue"]["name"], "sales")
        # HEAD: the headers of GET, no body
        st, hdrs, body = request(d, "HEAD", "/v1/queues", WB)
        self.assertEqual((st, body), (200, b""))

    def test_auth(self):
        d = self.start_http()
        # no token, an unknown token, another scheme: 401 with a challenge
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic d2I6eA=="},
                        {"Authorization": "Bearer wb-secretX"}, {"Authorization": "Bearer wb-secre"}):
            st, hdrs, body = request(d, "GET", "/v1/queues", headers)
            self.assertEqual(st, 401, headers)
            self.assertIn("Bearer", hdrs.get("www-authenticate", ""))
            e = json.loads(body)
            self.assertEqual((e["ok"], e["error"]["code"]), (False, "unauthorized"))
        # every role reads; the token may come as ?token= on a GET
        for headers in (WB, SUP, ADMIN):
            self.assertIs(get_json(d, "/v1/agents", headers)["ok"], True)
        self.assertIs(get_json(d, "/v1/agents?token=wb-secret", {})["ok"], True)
        self.assertEqual(get_json(d, "/v1/agents?token=nope", {}, status=401)["error"]["code"],
                         "unauthorized")
        # ... but not on a POST
        self.agent(d, "a1", ready=False)
        st, _, body = request(d, "POST", "/v1/agents/a1/state?token=sup-secret", {},
                              {"state": "ready"})
        self.assertEqual(st, 401, body)
        # the wallboard role may not change states: 403
        st, _, body = request(d, "POST", "/v1/agents/a1/state", WB, {"state": "ready"})
        self.assertEqual(st, 403)
        self.assertEqual(json.loads(body)["error"]["code"], "unauthorized")
        self.assertEqual(get_json(d, "/v1/agents/a1")["agent"]["state"], "not_ready")
        # admin and supervisor may
        for headers in (ADMIN, SUP):
            st, _, body = request(d, "POST", "/v1/agents/a1/state", headers,
                                  {"state": "not_ready", "reason": "break"})
            self.assertEqual(st, 200, body)
        # open: the health check, the metrics (unless configured otherwise), the page
        self.assertEqual(request(d, "GET", "/healthz")[0], 200)
        self.assertEqual(request(d, "GET", "/metrics")[0], 200)
        st, hdrs, body = request(d, "GET", "/wallboard")
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/html"))
        self.assertEqual(body.decode(), PAGE)
        # the event stream needs a token too
        self.assertEqual(request(d, "GET", "/v1/stream")[0], 401)
        m = re.search(r"ringq_http_auth_failures_total (\d+)",
                      request(d, "GET", "/metrics")[2].decode())
        self.assertGreaterEqual(int(m.group(1)), 8)

    def test_metrics_token_required_and_cors(self):
        d = self.start_http(metrics_token_required=True, cors_origin="https://wall.example")
        st, hdrs, _ = request(d, "GET", "/metrics")
        self.assertEqual(st, 401)
        st, hdrs, body = request(d, "GET", "/metrics", WB)
        self.assertEqual(st, 200)
        self.assertEqual(hdrs.get("access-control-allow-origin"), "https://wall.example")
        st, hdrs, _ = request(d, "OPTIONS", "/v1/agents/a1/state",
                              {"Origin": "https://wall.example",
                               "Access-Control-Request-Method": "POST"})
        self.assertEqual(st, 204)
        self.assertIn("POST", hdrs.get("access-control-allow-methods", ""))
        self.assertIn("Authorization", hdrs.get("access-control-allow-headers", ""))
        # /healthz stays open
        self.assertEqual(request(d, "GET", "/healthz")[0], 200)

    def test_methods_and_bad_bodies(self):
        d = self.start_http()
        self.agent(d, "a1", ready=False)
        st, hdrs, body = request(d, "DELETE", "/v1/queues", ADMIN)
        self.assertEqual(st, 405)
        self.assertIn("GET", hdrs.get("allow", ""))
        self.assertEqual(json.loads(body)["error"]["code"], "unknown_op")
        st, hdrs, _ = request(d, "GET", "/v1/agents/a1/state", ADMIN)
        self.assertEqual(st, 405)
        self.assertEqual(hdrs.get("allow"), "POST, OPTIONS")
        self.assertEqual(request(d, "POST", "/v1/queues", ADMIN, "{}")[0], 405)

        def post(body, status, code, field=None):
            st, _, raw = request(d, "POST", "/v1/agents/a1/state", SUP, body)
            self.assertEqual(st, status, raw)
            e = json.loads(raw)
            self.assertEqual((e["ok"], e["error"]["code"]), (False, code), e)
            if field:
                self.assertIn(field, e["error"]["message"])

        post("not json", 400, "bad_json")
        post("", 400, "bad_json")
        post("[1,2]", 400, "bad_json")
        post({"state": "ready", "colour": "red"}, 400, "bad_field", "colour")
        post({"reason": "break"}, 400, "bad_field", "state")
        post({"state": "asleep"}, 400, "bad_field", "state")
        post({"state": 1}, 400, "bad_field", "state")
        post({"state": "not_ready", "reason": 5}, 400, "bad_field", "reason")
        post({"state": "not_ready", "reason": ""}, 400, "bad_field", "reason")
        post({"state": "not_ready", "reason": "x" * 65}, 400, "bad_field", "reason")
        post({"state": "not_ready", "reason": "a\nb"}, 400, "bad_field", "reason")
        # a logged-out agent cannot change state: 409; an unknown one: 404
        st, _, raw = request(d, "POST", "/v1/agents/a2/state", SUP, {"state": "ready"})
        self.assertEqual((st, json.loads(raw)["error"]["code"]), (409, "bad_state"))
        st, _, raw = request(d, "POST", "/v1/agents/zz/state", SUP, {"state": "ready"})
        self.assertEqual((st, json.loads(raw)["error"]["code"]), (404, "not_found"))
        # nothing changed
        self.assertEqual(get_json(d, "/v1/agents/a1")["agent"]["reason"], "login")
        # a body over the limit is refused by the server
        st, _, _ = request(d, "POST", "/v1/agents/a1/state", SUP, "x" * 20000)
        self.assertEqual(st, 413)
        # the daemon still answers
        self.assertEqual(request(d, "GET", "/healthz")[0], 200)

    # ---- changing an agent's state

    def test_post_state_changes_agent(self):
        d = self.start_http()
        mon = self.monitor(d, subscribe=["agents"])
        src = self.source(d)
        a1 = self.agent(d, "a1", ready=False)
        # A contact waits: nobody is ready.
        self.new_contact(src, "w1", "sales")
        st, _, raw = request(d, "POST", "/v1/agents/a1/state", SUP,
                             {"state": "not_ready", "reason": "coaching"})
        self.assertEqual(st, 200, raw)
        r = json.loads(raw)
        self.assertEqual((r["agent"]["state"], r["agent"]["reason"]), ("not_ready", "coaching"))
        a1.state("not_ready", "coaching")
        mon.agent_state("a1", "not_ready", "coaching")
        self.assertEqual(get_json(d, "/v1/agents/a1")["agent"]["reason"], "coaching")

        # Ready through HTTP: the waiting contact is offered at once ...
        st, _, raw = request(d, "POST", "/v1/agents/a1/state", SUP, {"state": "ready"})
        self.assertEqual(st, 200, raw)
        a1.offer("w1")
        mon.agent_state("a1", "reserved")
        # ... and the router's timer was armed for its ring timeout (0.5 s):
        # unanswered, the offer is revoked and the agent set not_ready/rona.
        a1.push("revoke", contact="w1", timeout=5.0)
        a1.state("not_ready", "rona")
        mon.agent_state("a1", "not_ready", "rona")
        self.assertEqual(get_json(d, "/v1/agents/a1")["agent"]["reason"], "rona")

    # ---- the event stream

    def test_stream_snapshot_then_pushes(self):
        d = self.start_http()
        src = self.source(d)
        self.new_contact(src, "s0", "support")
        s = self.sse(d, "/v1/stream?topics=queues,agents,contacts,alerts")
        self.assertEqual(s.read_head(), 200)
        self.assertTrue(s.headers["content-type"].startswith("text/event-stream"))
        self.assertEqual(s.headers.get("cache-control"), "no-cache")
        name, snap = s.event()
        self.assertEqual(name, "snapshot")
        self.assertEqual(s.retry, 2000)
        self.assertEqual({q["name"] for q in snap["queues"]}, {"sales", "support"})
        self.assertEqual([a["agent"] for a in snap["agents"]], ["a1", "a2", "a3"])
        self.assertEqual([c["contact"] for c in snap["contacts"]], ["s0"])
        self.assertEqual(snap["redis"], {"enabled": False})

        t0 = time.monotonic()
        self.new_contact(src, "s1", "support")
        qs, passed = s.wait_for("queue_stats", lambda q: q["queue"] == "support"
                                and q["offered"] == 2, timeout=1.0)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertEqual(qs["ev"], "queue_stats")
        self.assertEqual(qs["waiting"], 2)
        c, _ = s.wait_for("contact", lambda c: c["contact"] == "s1", timeout=1.0)
        self.assertEqual((c["state"], c["change"]), ("waiting", "queued"))

        a2 = self.agent(d, "a2")
        st, _ = s.wait_for("agent_state", lambda a: a["agent"] == "a2" and
                           a["state"] in ("ready", "reserved"))
        a2.offer()
        # the same payloads as an NDJSON monitor gets
        mon = self.monitor(d, subscribe=["queues"])
        self.new_contact(src, "s2", "sales")
        pushed = mon.push("queue_stats", queue="sales")
        streamed, _ = s.wait_for("queue_stats", lambda q: q["queue"] == "sales"
                                 and q["offered"] == pushed["offered"])
        self.assertEqual(set(streamed), set(pushed))

    def test_stream_topics_and_errors(self):
        d = self.start_http()
        src = self.source(d)
        # token as a query parameter (EventSource cannot set headers)
        s = self.sse(d, "/v1/stream?topics=agents&token=wb-secret", headers={})
        self.assertEqual(s.read_head(), 200)
        self.assertEqual(s.event()[0], "snapshot")
        self.new_contact(src, "t1", "sales")
        self.agent(d, "a3", ready=False)
        s.wait_for("agent_state", lambda a: a["agent"] == "a3")
        # nothing but agent events arrives on it
        deadline = time.monotonic() + 0.8
        while time.monotonic() < deadline:
            ev = s.event(timeout=max(0.0, deadline - time.monotonic()))
            if ev is not None:
                self.assertEqual(ev[0], "agent_state", ev)
        for path, code in (("/v1/stream?topics=queues,weather", 400),
                           ("/v1/stream?topics=,", 400)):
            st, _, body = request(d, "GET", path, WB)
            self.assertEqual(st, code, path)
            self.assertEqual(json.loads(body)["error"]["code"], "bad_field")
            self.assertIn("topics", json.loads(body)["error"]["message"])
        self.assertEqual(request(d, "POST", "/v1/stream", WB, "")[0], 405)

    def test_stream_coalesces_queue_stats(self):
        d = self.start_http()
        src = self.source(d)
        s = self.sse(d, "/v1/stream?topics=queues")
        s.read_head()
        self.assertEqual(s.event()[0], "snapshot")
        n = 40
        t0 = time.monotonic()
        for i in range(n):
            self.new_contact(src, "q%d" % i, "support")
            time.sleep(0.03)
        # every change reaches the stream, the last one included ...
        last, passed = s.wait_for("queue_stats", lambda q: q["queue"] == "support" and
                                  q["offered"] == n, timeout=2.0)
        elapsed = time.monotonic() - t0
        updates = [e for e in passed if e[0] == "queue_stats" and e[1]["queue"] == "support"]
        updates.append(("queue_stats", last))
        # ... at most about 4 a second for the queue, not one per change
        self.assertLessEqual(len(updates), 4 * elapsed + 2, (len(updates), elapsed))
        self.assertGreaterEqual(len(updates), 2)
        offered = [u[1]["offered"] for u in updates]
        self.assertEqual(offered, sorted(offered))

    def test_slow_stream_client_is_dropped(self):
        # Under AddressSanitizer freed memory sits in a quarantine (256 MB by
        # default), which would hide what this test measures: keep it small.
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "detect_leaks=1:") + \
            "quarantine_size_mb=8"
        self.addCleanup(lambda: os.environ.__setitem__("ASAN_OPTIONS", saved) if saved
                        else os.environ.pop("ASAN_OPTIONS", None))
        d = self.start_http()
        src = self.source(d)
        fast = self.sse(d, "/v1/stream?topics=queues")
        fast.read_head()
        self.assertEqual(fast.event()[0], "snapshot")
        # A client that reads its head and snapshot and then nothing more.
        slow = self.sse(d, "/v1/stream?topics=contacts", rcvbuf=4096)
        slow.read_head()
        self.assertEqual(slow.event()[0], "snapshot")

        def churn(prefix, n, batch=500):
            """n contacts announced and abandoned: 2 contact events each."""
            sent = 0
            while sent < n:
                k = min(batch, n - sent)
                lines = []
                for i in range(sent, sent + k):
                    cid = "%s-%06d-%s" % (prefix, i, "x" * 90)
                    lines.append(json.dumps({"op": "contact.new", "contact": cid,
                                             "queue": "support",
                                             "customer": {"id": "cust-" + "y" * 100}}))
                    lines.append(json.dumps({"op": "contact.abandon", "contact": cid}))
                src.send_raw(("\n".join(lines) + "\n").encode(), timeout=30)
                for _ in range(2 * k):
                    r = src.reply(timeout=30)
                    if r.get("ok") is not True:
                        raise AssertionError("churn: %r" % r)
                sent += k

        churn("warm", 2000)
        time.sleep(0.3)
        rss0 = vm_rss_kib(d.proc.pid)
        # Events sized about 1 KiB: 2 x 20000 of them is ~40 MiB the slow
        # client would hold if its output were not bounded.
        churn("load", 20000)
        time.sleep(0.5)
        rss1 = vm_rss_kib(d.proc.pid)
        metrics = request(d, "GET", "/metrics")[2].decode()
        samples, _ = parse_metrics(metrics)
        self.assertEqual(metric(samples, "ringq_http_streams_dropped_total"), 1)
        self.assertEqual(metric(samples, "ringq_http_streams"), 1)  # the fast one
        grown_mib = (rss1 - rss0) / 1024.0
        self.assertLess(grown_mib, 16.0, "VmRSS grew %.1f MiB (%d -> %d KiB)"
                        % (grown_mib, rss0, rss1))
        # the slow client finds its stream closed once it reads again
        self.assertTrue(slow.drain_until_eof(10.0), "the slow stream was not closed")
        # the other stream goes on
        self.new_contact(src, "after", "support")
        fast.wait_for("queue_stats", lambda q: q["queue"] == "support" and
                      q["offered"] == 22001, timeout=3.0)
        self.assertIn("dropped", d.stderr_text())

    # ---- /metrics

    def test_metrics(self):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.fail("promtool not found: install the Debian package prometheus "
                      "(tools/quickstart does)")
        d = self.start_http()
        src = self.source(d)
        a1 = self.agent(d, "a1")
        self.agent(d, "a2", ready=False)
        # sales: two answered, one abandoned; support: one waiting
        for cid in ("m1", "m2"):
            self.new_contact(src, cid, "sales")
            a1.offer(cid)
            a1.ok("offer.accept", contact=cid)
            a1.ok("contact.end", contact=cid)
            a1.ok("wrapup.done")
        self.new_contact(src, "m3", "sales", customer={"tier": "key_account"})
        a1.offer("m3")
        a1.ok("offer.reject", contact="m3")
        src.ok("contact.abandon", contact="m3")
        self.new_contact(src, "m4", "support", customer={"tier": "prospect"})

        st, hdrs, body = request(d, "GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "promtool check metrics:\n%s%s" % (p.stdout, p.stderr))
        self.assertEqual((p.stdout + p.stderr).strip(), "", p.stdout + p.stderr)

        samples, types = parse_metrics(text)
        for name, labels, _ in samples:
            self.assertTrue(name.startswith("ringq_"), name)
            self.assertLessEqual(set(labels) - {"le"}, {"queue", "channel", "tier", "state"},
                                 (name, labels))
        for fam, typ in types.items():
            self.assertEqual(fam.endswith("_total"), typ == "counter", fam)

        queues = {q["name"]: q for q in get_json(d, "/v1/queues")["queues"]}
        for qn, q in queues.items():
            self.assertEqual(metric_sum(samples, "ringq_offered_total", queue=qn), q["offered"])
            self.assertEqual(metric_sum(samples, "ringq_answered_total", queue=qn), q["answered"])
            self.assertEqual(metric_sum(samples, "ringq_abandoned_total", queue=qn),
                             q["abandoned"])
            self.assertEqual(metric_sum(samples, "ringq_answered_within_target_total", queue=qn),
                             q["answered_in_target"])
            self.assertEqual(metric(samples, "ringq_waiting", queue=qn), q["waiting"])
            self.assertEqual(metric(samples, "ringq_goal_ratio", queue=qn),
                             q["goal_percent"] / 100.0)
            sl = metric(samples, "ringq_service_level_ratio", queue=qn)
            if q["service_level"] is None:
                self.assertTrue(math.isnan(sl))
            else:
                self.assertAlmostEqual(sl, q["service_level"] / 100.0, places=6)
            for state, n in q["agents"].items():
                self.assertEqual(metric(samples, "ringq_queue_agents", queue=qn, state=state), n)
            # the wait histogram: edges at the voice target's multiples
            buckets = [(l["le"], v) for n, l, v in samples
                       if n == "ringq_wait_seconds_bucket" and l["queue"] == qn]
            self.assertEqual(len(buckets), len(EDGES) + 1)
            target = q["targets"]["voice"]  # default tier "standard": sla_factor 1.0
            for (le, _), edge in zip(buckets, EDGES):
                self.assertAlmostEqual(float(le), edge * target, places=6)
            self.assertEqual(buckets[-1][0], "+Inf")
            counts = [v for _, v in buckets]
            self.assertEqual(counts, sorted(counts))
            self.assertEqual(counts[-1], q["answered"])
            self.assertEqual(metric(samples, "ringq_wait_seconds_count", queue=qn), q["answered"])
        self.assertEqual(queues["sales"]["offered"], 3)
        self.assertEqual(metric(samples, "ringq_offered_total", queue="sales", tier="key_account"), 1)
        self.assertEqual(metric(samples, "ringq_abandoned_total", queue="sales",
                                tier="key_account"), 1)
        # the rejected offer counts as one not answered
        self.assertEqual(metric(samples, "ringq_rona_total", queue="sales", tier="key_account"), 1)
        self.assertEqual(metric(samples, "ringq_offered_total", queue="support", tier="prospect"), 1)
        # targets: sales voice 0.9 s; key_account halves it, prospect x1.5
        self.assertAlmostEqual(metric(samples, "ringq_answer_target_seconds", queue="sales",
                                      tier="key_account", channel="voice"), 0.45, places=6)
        self.assertAlmostEqual(metric(samples, "ringq_answer_target_seconds", queue="sales",
                                      tier="prospect", channel="chat"), 3.0, places=6)
        # a1 rejected its last offer, a2 never said ready, a3 never logged in
        self.assertEqual(metric(samples, "ringq_agents", state="ready"), 0)
        self.assertEqual(metric(samples, "ringq_agents", state="not_ready"), 2)
        self.assertEqual(metric(samples, "ringq_agents", state="logged_out"), 1)
        self.assertEqual(metric(samples, "ringq_redis_enabled"), 0)
        self.assertEqual(metric(samples, "ringq_redis_connected"), 0)
        self.assertAlmostEqual(metric(samples, "ringq_wait_seconds_sum", queue="sales"),
                               queues["sales"]["asa_s"] * 2, places=3)

    # ---- /healthz with Redis

    def test_healthz_follows_redis(self):
        r = RedisServer(persist=False)
        self.addCleanup(r.cleanup)
        r.start()
        tmp = self.tmpdir()
        c = http_conf(tmp)
        c["redis"] = {"host": "127.0.0.1", "port": r.port, "prefix": "ringq:",
                      "connect_timeout_s": 1, "command_timeout_s": 2}
        d = self.start_http(conf=c)
        src = self.source(d)
        self.new_contact(src, "h1", "sales")

        def health():
            st, _, body = request(d, "GET", "/healthz")
            return st, json.loads(body)

        st, h = health()
        self.assertEqual(st, 200, h)
        self.assertEqual((h["ok"], h["status"]), (True, "ok"))
        self.assertEqual((h["redis"]["enabled"], h["redis"]["connected"]), (True, True))
        samples, _ = parse_metrics(request(d, "GET", "/metrics")[2].decode())
        self.assertEqual(metric(samples, "ringq_redis_connected"), 1)

        r.stop()
        self.wait_until(lambda: health()[0] == 503, timeout=10, what="/healthz 503")
        st, h = health()
        self.assertEqual((h["ok"], h["status"]), (False, "unavailable"))
        self.assertEqual(h["error"]["code"], "unavailable")
        self.assertIs(h["redis"]["connected"], False)
        samples, _ = parse_metrics(request(d, "GET", "/metrics")[2].decode())
        self.assertEqual(metric(samples, "ringq_redis_connected"), 0)
        # routing goes on meanwhile, and the journal shows in the metrics
        self.new_contact(src, "h2", "sales")
        samples, _ = parse_metrics(request(d, "GET", "/metrics")[2].decode())
        self.assertGreater(metric(samples, "ringq_redis_journal_commands"), 0)

        r.start()
        self.wait_until(lambda: health()[0] == 200, timeout=15, what="/healthz 200 again")

    # ---- the wallboard page and the config

    def test_wallboard_page_missing(self):
        d = self.start_http(page=False)
        e = get_json(d, "/wallboard", headers={}, status=404)
        self.assertEqual(e["error"]["code"], "not_found")
        self.assertIn("wallboard", d.stderr_text())

    def test_config_errors(self):
        tmp = self.tmpdir()
        base = http_conf(tmp)
        base["listen"] = {"host": "127.0.0.1", "port": 1}

        def check(http_section, expect):
            c = dict(base)
            c["http"] = http_section
            path = os.path.join(tmp, "bad.conf")
            with open(path, "w") as f:
                f.write(libconfig(c))
            p = subprocess.run([ringqd_path(), "--check-config", path], capture_output=True,
                               text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, http_section)
            self.assertRegex(p.stderr, r"bad\.conf:\d+: ")
            self.assertIn(expect, p.stderr)

        tok = {"token": "t", "role": "wallboard", "name": "w"}
        check({"port": 70000}, "port")
        check({"colour": "red"}, "unknown setting 'colour'")
        check({"tokens": [dict(tok, role="root")]}, "unknown role 'root'")
        check({"tokens": [tok, dict(tok, name="w2")]}, "same token")
        check({"tokens": [tok, dict(tok, token="u")]}, "defined twice")
        check({"tokens": [{"token": "t", "role": "admin"}]}, "missing 'name'")
        check({"metrics_token_required": 1}, "true or false")
        ok = dict(base)
        path = os.path.join(tmp, "ok.conf")
        with open(path, "w") as f:
            f.write(libconfig(ok))
        p = subprocess.run([ringqd_path(), "--check-config", path], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_http_port_in_use(self):
        tmp = self.tmpdir()
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        c = http_conf(tmp)
        c["http"]["port"] = busy.getsockname()[1]
        c["listen"] = {"host": "127.0.0.1", "port": free_port()}
        path = os.path.join(tmp, "busy.conf")
        with open(path, "w") as f:
            f.write(libconfig(c))
        p = subprocess.run([ringqd_path(), "-c", path], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot listen for HTTP on 127.0.0.1:%d" % busy.getsockname()[1], p.stderr)


if __name__ == "__main__":
    unittest.main()
