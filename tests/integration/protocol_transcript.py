"""Record the example sessions of docs/protocol.md against a real ringqd,
and check that the document's examples still match what ringqd sends.

    RINGQD=build/daemon/ringqd python3 tests/integration/protocol_transcript.py
        prints the transcripts (client lines `>`, ringqd lines `<`)
    ... protocol_transcript.py --check
        exits 1 and lists every example line of docs/protocol.md that the
        daemon no longer produces (times and timestamps are not compared)

It runs ringqd on conf/ringqd.conf (ports and paths replaced, and two more
monitors: `boss` with role supervisor and `root` with role admin) with a
private redis-server, and waits out one real ring-no-answer of the sample
config's 15 s ring timeout, so it takes about 30 s. For the admin examples it
reloads the daemon's config file as it is, breaks it for one refused reload,
drops `boss` and agent a1003 from it for one more, and puts it back. ctest runs the check as
it_protocol_doc; when the protocol changes, run the script without --check and
paste the lines that changed into the document. In messages, a file path
before `:LINE:` is not compared either (the document shows /etc/ringq/...).
"""

import json
import os
import re
import sys
import time
import unittest

from redis_server import RedisServer
import ringq_harness as H

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(ROOT, "conf", "ringqd.conf")
DOC = os.path.join(ROOT, "docs", "protocol.md")

# Values that differ from run to run.
VOLATILE = re.compile(r'"(since_ms|arrived_ms|deadline_ms|start_ms|waited_s|ewt_s|ewt_at_arrival_s|'
                      r'longest_wait_s|asa_s|aht_s|occupancy|traffic_erlangs|mean_abs|'
                      r'mean_signed)":[0-9.e+-]+')
LINE = re.compile(r"^\s*([\w-]*)\s*([<>]) (.*)$")
# A file path before `:LINE:` in a message (config errors name the file).
FILE_LINE = re.compile(r'/[^\s"\':]*:([0-9]+):')

# Monitors the recording adds to the sample config (sections 7.3 and 7.4).
MONITORS = ('{ name = "boss"; token = "boss-secret"; role = "supervisor"; },\n'
            '  { name = "root"; token = "root-secret"; role = "admin"; }')


class Tap(H.Client):
    """A client that records every line it sends and reads."""

    def __init__(self, out, label, **kw):
        super().__init__(**kw)
        self.out = out
        self.label = label
        self.n = 0

    def send_raw(self, data, timeout=None):
        for line in (data if isinstance(data, bytes) else data.encode()).split(b"\n"):
            if line:
                self.out.append("%-9s > %s" % (self.label, line.decode("utf-8", "replace")))
        return super().send_raw(data, timeout)

    def read_line(self, timeout=None):
        line = super().read_line(timeout)
        if line is not None:
            self.out.append("%-9s < %s" % (self.label, line.decode("utf-8", "replace")))
        return line

    def req(self, op, **fields):
        """A request with this connection's next id (1, 2, ...)."""
        self.n += 1
        return self.request(op, req_id=self.n, **fields)

    def drain(self, t=0.15):
        end = time.monotonic() + t
        while self._pump(end):
            pass


def sample_config(redis):
    text = open(SAMPLE).read()
    text = text.replace("port = 6379;", "port = %d;" % redis.port)
    text = text.replace("port = 7341;", "port = %d;" % H.free_port())
    text = re.sub(r"port = 7340;", "port = ${PORT};", text)
    text, n = re.subn(r'(monitors = \(\s*\{ name = "wallboard"; token = "demo"; \})',
                      lambda m: m.group(1) + ",\n  " + MONITORS, text)
    if n != 1:
        raise RuntimeError("%s: no monitors list with the wallboard to extend" % SAMPLE)
    return re.sub(r'unix = "[^"]*ringqd.sock";', 'unix = "${UNIX}";', text)


def session_tour(d, out):
    """Sections 1 to 8: every op, push and error once."""
    def conn(label):
        return Tap(out, label, port=d.port)

    pre = conn("client")
    pre.req("ping")
    pre.request("ping", req_id="abc")
    pre.send_raw(b'{"op":"ping"}\n')
    pre.reply()
    pre.req("snapshot")
    pre.req("hello", role="source", name="pbx1", token="wrong")
    pre.req("hello", role="agent", agent="a1001")
    src = conn("pbx1")
    src.req("hello", role="source", name="pbx1", token="demo")
    mon = conn("wallboard")
    mon.req("hello", role="monitor", name="wallboard", token="demo")
    a1 = conn("a1001")
    a1.req("hello", role="agent", agent="a1001", token="demo")
    a1.req("agent.state", state="ready")
    a1.drain()
    src.req("contact.new", contact="c-1001", queue="sales",
            customer={"id": "cust-77", "tier": "key_account", "lang": "es",
                      "persona": "analytical"})
    a1.drain()
    src.drain()
    src.req("contact.answered", contact="c-1001", agent="a1001")
    a1.drain()
    src.req("contact.end", contact="c-1001")
    a1.drain()
    a1.req("wrapup.done")
    a1.drain()
    a1.req("agent.state", state="not_ready", reason="break")
    a1.drain()
    src.req("contact.new", contact="c-1002", queue="sales", channel="chat",
            customer={"tier": "standard", "lang": "en"})
    src.req("contact.new", contact="c-1003", queue="sales", customer={"tier": "prospect"},
            priority=5)
    src.req("contact.new", contact="c-1004", queue="sales")
    mon.req("subscribe", topics=["queues", "agents", "contacts", "alerts"])
    mon.req("snapshot")
    a1.req("agent.state", state="ready")
    a1.drain()
    src.drain()
    mon.drain()
    offers = [m for m in a1.pushes if m.get("ev") == "offer"]
    a1.req("offer.reject", contact=offers[-1]["contact"] if offers else "c-1003")
    a1.drain()
    src.drain()
    mon.drain()
    src.req("contact.abandon", contact="c-1003")
    mon.drain()
    a5 = conn("a1005")
    a5.req("hello", role="agent", agent="a1005", token="demo")
    a5.req("agent.state", state="ready")
    a5.drain(0.3)
    src.drain()
    mon.drain()
    offers = [m for m in a5.pushes if m.get("ev") == "offer"]
    if offers:
        cid = offers[-1]["contact"]
        a5.req("offer.accept", contact=cid)
        a5.drain()
        mon.drain()
        a5.req("contact.end", contact=cid)
        a5.drain()
        mon.drain()
    # Ring-no-answer: nobody answers for the sample's 15 s.
    a1.req("agent.state", state="ready")
    a1.drain()
    src.req("contact.new", contact="c-1005", queue="billing", customer={"lang": "fr"})
    a3 = conn("a1003")
    a3.req("hello", role="agent", agent="a1003", token="demo")
    a3.req("agent.state", state="ready")
    a3.drain()
    src.drain()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 17:
        for c in (a3, src, mon, a1, a5):
            c.drain(0.05)
    src.req("contact.transfer", contact="c-1005", queue="support")
    for c in (src, mon, a1, a3, a5):
        c.drain()
    src.close()
    src2 = conn("pbx1")
    src2.req("hello", role="source", name="pbx1", token="demo")
    src2.req("sync", contacts=["c-1004", {"contact": "c-2001", "queue": "support",
                                          "channel": "email", "customer": {"id": "cust-9"}},
                               "c-0999"])
    src2.drain()
    mon.drain()
    # Errors.
    src2.send_raw(b'{"op":"ping",\n')
    src2.drain()
    src2.send_raw(b"[1,2]\n")
    src2.drain()
    src2.req("contact.explode")
    src2.req("contact.new", contact="c-3000", queue="sales", customer={"tier": 5})
    src2.req("contact.new", contact="c-3000", queue="sales", colour="red")
    src2.req("contact.new", contact="c-3000")
    src2.req("contact.new", contact="c-3000", queue="nowhere")
    src2.req("contact.new", contact="c-2001", queue="sales")
    src2.req("contact.end", contact="c-0000")
    src2.req("offer.accept", contact="c-1004")
    src2.req("contact.answered", contact="c-1004", agent="a1002")
    src2.send_raw(b'{"op":"ping","pad":"' + b"x" * 70000 + b'"}\n')
    src2.drain()
    src2.req("ping")
    for c in (mon, a5):
        c.drain(0.2)
    supervise(d, conn, mon, a5, a3, src2)
    a1.req("bye")
    a1.drain()
    for c in (mon, a3, a5, src2):
        c.drain(0.2)


def supervise(d, conn, mon, agent, leaver, src):
    """Sections 7.3 and 7.4: supervisor and admin ops, and three reloads:
    the file unchanged, broken, and without boss and without the agent
    `leaver` while an offer rings at it."""
    boss = conn("boss")
    boss.req("hello", role="monitor", name="boss", token="boss-secret")
    boss.req("agent.set", agent=agent.label, state="not_ready", reason="coaching")
    agent.drain()
    src.req("contact.new", contact="c-1006", queue="sales")
    src.req("contact.new", contact="c-1007", queue="sales")
    boss.req("contact.priority", contact="c-1007", priority=100)
    boss.req("contact.move", contact="c-1006", queue="support")
    mon.req("agent.set", agent=agent.label, state="ready")
    for c in (mon, src, agent, boss):
        c.drain()
    root = conn("root")
    root.req("hello", role="monitor", name="root", token="root-secret")
    # The file unchanged: everything is kept.
    root.req("admin.reload")
    for c in (root, boss, mon):
        c.drain()
    good = open(d.conf_path).read()
    try:
        # A typo: refused, the running configuration stays.
        with open(d.conf_path, "w") as f:
            f.write("drain_timout_s = 30;\n" + good)
        root.req("admin.reload")
        for c in (root, boss, mon):
            c.drain()
        # boss and the ringing agent removed from the file: their sessions
        # are closed, the offer is revoked and the contact waits again.
        leaver.req("agent.state", state="ready")
        for c in (leaver, src, mon):
            c.drain()
        text = good.replace(MONITORS, '{ name = "root"; token = "root-secret"; role = "admin"; }')
        text, n = re.subn(r'\{ id = "%s";.*?\},\s*' % leaver.label, "", text, flags=re.S)
        if n != 1:
            raise RuntimeError("%s: no agent %s to remove" % (SAMPLE, leaver.label))
        with open(d.conf_path, "w") as f:
            f.write(text)
        root.req("admin.reload")
        for c in (root, boss, leaver, src, mon):
            c.drain()
    finally:
        with open(d.conf_path, "w") as f:
            f.write(good)


def session_call(d, out):
    """Section 9: one whole call, watched by a wallboard."""
    mon = Tap(out, "wallboard", port=d.port)
    mon.req("hello", role="monitor", name="wallboard", token="demo")
    mon.req("subscribe", topics=["agents", "contacts", "alerts"])
    src = Tap(out, "pbx1", port=d.port)
    src.req("hello", role="source", name="pbx1", token="demo")
    a = Tap(out, "a1005", port=d.port)
    a.req("hello", role="agent", agent="a1005", token="demo")
    a.req("agent.state", state="ready")
    a.drain()
    mon.drain()
    src.req("contact.new", contact="call-7f3a", queue="key_accounts",
            customer={"id": "acme-001", "tier": "key_account", "lang": "en",
                      "persona": "authoritative"},
            priority=10, preferred_agent="a1005")
    a.drain()
    src.drain()
    mon.drain()
    time.sleep(1.2)
    src.req("contact.answered", contact="call-7f3a", agent="a1005")
    a.drain()
    mon.drain()
    time.sleep(2.0)
    src.req("contact.end", contact="call-7f3a")
    a.drain()
    mon.drain()
    time.sleep(1.0)
    a.req("wrapup.done")
    a.drain()
    mon.drain()
    a.req("bye")
    a.drain()
    mon.drain()


def record():
    """Both sessions, each on a fresh ringqd and Redis: (tour, call) lines."""
    transcripts = []
    for session in (session_tour, session_call):
        redis = RedisServer(persist=False).start()
        d = H.Daemon(sample_config(redis), start=False)
        try:
            d.start()
            out = []
            session(d, out)
            d.stop()
            transcripts.append(out)
        finally:
            d.cleanup()
            redis.cleanup()
    return transcripts


def normalize(line, with_label=True):
    m = LINE.match(line)
    if m is None:
        return None
    label, arrow, body = m.groups()
    body = VOLATILE.sub(r'"\1":N', body)
    body = FILE_LINE.sub(r"FILE:\1:", body)
    return "%s %s %s" % (label if with_label else "", arrow, body)


def check(transcripts):
    """Example lines of the document that no transcript contains."""
    doc = open(DOC).read().split("\n")
    call_at = next(i for i, line in enumerate(doc) if line.startswith("## 9."))
    seen = [set(), set()]
    for k, lines in enumerate(transcripts):
        for line in lines:
            seen[k].add(normalize(line))
            seen[k].add(normalize(line, with_label=False))
    stale, in_block = [], False
    for i, line in enumerate(doc):
        if line.startswith("```"):
            in_block = not in_block
            continue
        if not in_block or LINE.match(line) is None or "..." in line:
            continue
        k = 1 if i > call_at else 0
        if normalize(line, with_label=bool(LINE.match(line).group(1))) not in seen[k]:
            stale.append((i + 1, line))
    return stale


def main():
    try:
        H.ringqd_path()
    except unittest.SkipTest as e:
        sys.exit(str(e))
    tour, call = record()
    if "--check" not in sys.argv:
        print("\n".join(tour))
        print()
        print("\n".join(call))
        return 0
    stale = check([tour, call])
    for n, line in stale:
        print("docs/protocol.md:%d: not produced any more: %s" % (n, line[:160]))
    print("%d stale example lines" % len(stale))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
