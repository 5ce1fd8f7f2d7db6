"""Integration test harness for ringqd: a real daemon over real sockets.

Daemon(config) writes a config into a temporary directory (a free TCP port
on 127.0.0.1 and a Unix socket in that directory), starts the binary named
by the environment variable RINGQD as `ringqd -c FILE`, waits until it
accepts connections and captures its stderr to a file. stop() sends
SIGTERM and checks the exit status and that no sanitizer reported anything.

Client(port or path) speaks the NDJSON protocol (docs/protocol.md):
request() sends one op with an automatic id and returns its reply; pushes
that arrive meanwhile are kept and handed out by push(). Every wait is
bounded, so a daemon bug fails a test instead of hanging it.

Only the Python 3.11 standard library is used.
"""

import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

WAIT_S = 5.0  # default bound of every wait
START_S = 15.0  # how long a daemon may take to accept (sanitizer builds are slow)
STOP_S = 15.0  # how long a daemon may take to exit after SIGTERM

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


# --------------------------------------------------------------------------
# libconfig text from Python values


def _lc_value(v, indent):
    pad = "  " * indent
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = repr(v)
        return text if ("." in text or "e" in text) else text + ".0"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        inner = "".join(
            "%s  %s = %s;\n" % (pad, k, _lc_value(x, indent + 1)) for k, x in v.items()
        )
        return "{\n%s%s}" % (inner, pad)
    if isinstance(v, (list, tuple)):
        if all(isinstance(x, dict) for x in v) and v:
            items = ",\n".join("%s  %s" % (pad, _lc_value(x, indent + 1)) for x in v)
            return "(\n%s\n%s)" % (items, pad)
        return "[ %s ]" % ", ".join(_lc_value(x, indent) for x in v)
    raise TypeError("no libconfig form for %r" % (v,))


def libconfig(settings):
    """Render a dict of settings as libconfig text: dicts become groups,
    lists of dicts lists `( ... )`, lists of scalars arrays `[ ... ]`."""
    return "".join("%s = %s;\n" % (k, _lc_value(v, 0)) for k, v in settings.items())


# --------------------------------------------------------------------------
# Config building blocks with fast times, so a test runs in about a second

TIERS = [
    {"name": "emergency", "sla_factor": 0.25, "emergency": True, "max_wait_s": 30},
    {"name": "key_account", "sla_factor": 0.5, "max_wait_s": 120},
    {"name": "loyal", "sla_factor": 0.8, "max_wait_s": 300},
    {"name": "standard", "sla_factor": 1.0, "max_wait_s": 600},
    {"name": "prospect", "sla_factor": 1.5, "max_wait_s": 900},
]


def queue(name, **kw):
    """A queue with fast defaults: a ring of 0.1 s on + 0.2 s off, 3 rings
    (0.9 s voice target), ring timeout 0.5 s, wrap-up 0.3 s."""
    q = {
        "name": name,
        "answer_rings": 3,
        "ring_on_s": 0.1,
        "ring_off_s": 0.2,
        "chat_target_s": 2.0,
        "ring_timeout_s": 0.5,
        "wrap_up_s": 0.3,
        "strategy": "longest_idle",
    }
    q.update(kw)
    return q


def agent(aid, skills, **kw):
    """An agent with token "demo"; skills is a dict name -> level."""
    a = {"id": aid, "name": "Agent " + aid, "token": "demo", "skills": skills}
    a.update(kw)
    return a


def config(queues, agents, skills=None, tiers=None, **top):
    """A whole config dict (without `listen`: Daemon adds it)."""
    if skills is None:
        names = []
        for q in queues:
            for s in q.get("skills", {}):
                if s not in names:
                    names.append(s)
        for a in agents:
            for s in a.get("skills", {}):
                if s not in names:
                    names.append(s)
        skills = names
    c = {"log_level": "info"}
    c.update(top)
    c.update(
        {
            "tiers": tiers if tiers is not None else TIERS,
            "default_tier": "standard",
            "skills": skills,
            "queues": queues,
            "agents": agents,
            "sources": [{"name": "pbx1", "token": "demo"}, {"name": "pbx2", "token": "demo"}],
            "monitors": [{"name": "wallboard", "token": "demo"}],
        }
    )
    return c


# --------------------------------------------------------------------------
# The daemon


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def ringqd_path():
    path = os.environ.get("RINGQD")
    if not path:
        raise unittest.SkipTest("RINGQD is not set (run through ctest)")
    return path


class DaemonError(AssertionError):
    pass


class Daemon:
    """One ringqd process with its own config, port, Unix socket and stderr.

    config: a dict (rendered with libconfig(); a `listen` group is added
    unless present) or text; text may use ${PORT}, ${UNIX}, ${DIR} and
    ${LISTEN} (the whole listen group). Text with none of these gets the
    listen group prepended.
    """

    def __init__(self, config_text_template, tcp=True, unix=True, max_line_bytes=None,
                 start=True):
        self.dir = tempfile.mkdtemp(prefix="ringq-it-")
        self.conf_path = os.path.join(self.dir, "ringqd.conf")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.unix_path = os.path.join(self.dir, "ringqd.sock") if unix else None
        self.template = config_text_template
        self.tcp = tcp
        self.max_line_bytes = max_line_bytes
        self.port = None
        self.proc = None
        self._stderr = None
        if start:
            self.start()

    def _listen(self):
        g = {}
        if self.tcp:
            g["host"] = "127.0.0.1"
            g["port"] = self.port
        if self.unix_path:
            g["unix"] = self.unix_path
        if self.max_line_bytes is not None:
            g["max_line_bytes"] = self.max_line_bytes
        return g

    def _render(self):
        t = self.template
        if isinstance(t, dict):
            t = dict(t)
            if "listen" not in t:
                t = {"listen": self._listen(), **t}
            else:
                listen = dict(self._listen())
                listen.update(t["listen"])
                t["listen"] = listen
            return libconfig(t)
        listen = "listen = %s;\n" % _lc_value(self._listen(), 0)
        if not any(m in t for m in ("${PORT}", "${UNIX}", "${DIR}", "${LISTEN}")):
            t = listen + t
        return (
            t.replace("${LISTEN}", listen)
            .replace("${PORT}", str(self.port))
            .replace("${UNIX}", self.unix_path or "")
            .replace("${DIR}", self.dir)
        )

    def write_config(self):
        """Pick a free port and write the config file (start() does this);
        returns the file's path."""
        self.port = free_port() if self.tcp else None
        with open(self.conf_path, "w") as f:
            f.write(self._render())
        return self.conf_path

    def start(self):
        binary = ringqd_path()
        for attempt in range(3):
            self.write_config()
            self._stderr = open(self.stderr_path, "ab")
            env = dict(os.environ)
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
            self.proc = subprocess.Popen(
                [binary, "-c", self.conf_path],
                stdin=subprocess.DEVNULL,
                stdout=self._stderr,
                stderr=self._stderr,
                env=env,
            )
            if self._wait_accepting():
                return self
            # The port may have been taken between free_port() and bind().
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._stderr.close()
            if attempt == 2 or "in use" not in self.stderr_text():
                break
        raise DaemonError(
            "ringqd did not start (status %r); stderr:\n%s" % (self.proc.returncode, self.stderr_tail())
        )

    def _wait_accepting(self):
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.tcp:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                addr = ("127.0.0.1", self.port)
            else:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                addr = self.unix_path
            try:
                s.settimeout(0.5)
                s.connect(addr)
                return True
            except OSError:
                time.sleep(0.02)
            finally:
                s.close()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_tail(self, n=60):
        return "\n".join(self.stderr_text().splitlines()[-n:])

    def sanitizer_reports(self):
        text = self.stderr_text()
        return [m for m in SANITIZER_MARKS if m in text]

    def client(self, unix=False, timeout=WAIT_S):
        if unix:
            return Client(path=self.unix_path, timeout=timeout)
        return Client(port=self.port, timeout=timeout)

    def stop(self):
        """SIGTERM, wait, then assert exit status 0 and a clean stderr."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise DaemonError(
                    "ringqd did not exit within %.0f s of SIGTERM; stderr:\n%s"
                    % (STOP_S, self.stderr_tail())
                )
        if self._stderr:
            self._stderr.close()
        bad = self.sanitizer_reports()
        if bad:
            raise DaemonError("sanitizer report (%s); stderr:\n%s" % (", ".join(bad), self.stderr_tail(200)))
        if proc.returncode != 0:
            raise DaemonError(
                "ringqd exited with status %r; stderr:\n%s" % (proc.returncode, self.stderr_tail())
            )

    def kill(self):
        """Stop without checks (cleanup after a failure)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def cleanup(self):
        """Kill if still running and remove the temporary directory."""
        self.kill()
        if self._stderr:
            self._stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# A protocol client


class ProtocolError(AssertionError):
    pass


class Client:
    """One NDJSON connection (TCP port on 127.0.0.1, or a Unix socket path)."""

    _ids = itertools.count(1)

    def __init__(self, port=None, path=None, timeout=WAIT_S):
        self.timeout = timeout
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(path)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setblocking(False)
        self.buf = b""
        self.eof = False
        self.pushes = []  # pushes received but not yet taken by push()
        self.replies = []  # replies received but not yet taken
        self.name = None

    # ---- low level

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data, timeout=None):
        """Send bytes as they are (all of them, within the timeout)."""
        if isinstance(data, str):
            data = data.encode()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError("send: the daemon stopped reading (%d bytes left)" % len(view))
            _, w, _ = select.select([], [self.sock], [], left)
            if not w:
                continue
            try:
                n = self.sock.send(view)
            except BlockingIOError:
                continue
            view = view[n:]

    def send_json(self, obj):
        self.send_raw(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def _fill(self, deadline):
        """Read once (waiting until deadline). False on timeout or EOF."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_line(self, timeout=None):
        """The next raw line (bytes, without newline), or None on timeout/EOF."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            if not self._fill(deadline):
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_msg(self, timeout=None):
        """The next message (reply or push) as a dict, or None on timeout/EOF."""
        line = self.read_line(timeout)
        if line is None:
            return None
        try:
            msg = json.loads(line)
        except ValueError as e:
            raise ProtocolError("daemon sent a line that is not JSON (%s): %r" % (e, line[:200]))
        if not isinstance(msg, dict):
            raise ProtocolError("daemon sent a line that is not an object: %r" % line[:200])
        return msg

    def _pump(self, deadline):
        """Read one message into pushes/replies. False on timeout or EOF."""
        msg = self.read_msg(max(0.0, deadline - time.monotonic()))
        if msg is None:
            return False
        if "ev" in msg:
            self.pushes.append(msg)
        else:
            self.replies.append(msg)
        return True

    def closed_by_peer(self, timeout=None):
        """Wait for EOF (keeping what arrives before it); True when it came."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.eof and time.monotonic() < deadline:
            self._pump(deadline)
        return self.eof

    # ---- replies

    def reply(self, timeout=None, re=None, any_re=False):
        """The next reply (a message without `ev`). With re: the reply whose
        `re` equals it; without: the next reply that has no `re` unless
        any_re is set."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, m in enumerate(self.replies):
                if re is not None:
                    if m.get("re") == re:
                        return self.replies.pop(i)
                elif any_re or "re" not in m:
                    return self.replies.pop(i)
            if not self._pump(deadline):
                raise ProtocolError(
                    "no reply%s within %.1f s%s (kept: %r)"
                    % (
                        "" if re is None else " with re=%r" % (re,),
                        (self.timeout if timeout is None else timeout),
                        " (connection closed)" if self.eof else "",
                        self.replies[-3:],
                    )
                )

    def request(self, op, timeout=None, req_id=None, **fields):
        """Send {op, id, **fields}; return the reply whose `re` is that id.
        Field names that are Python keywords may be passed with a trailing
        underscore (e.g. from_)."""
        rid = next(Client._ids) if req_id is None else req_id
        msg = {"op": op, "id": rid}
        for k, v in fields.items():
            msg[k[:-1] if k.endswith("_") else k] = v
        self.send_json(msg)
        return self.reply(timeout=timeout, re=rid)

    def ok(self, op, **fields):
        """request() and assert it succeeded; return the reply."""
        r = self.request(op, **fields)
        if r.get("ok") is not True:
            raise ProtocolError("%s %r failed: %r" % (op, fields, r))
        return r

    def error(self, op, code, **fields):
        """request() and assert it failed with code; return the error object."""
        r = self.request(op, **fields)
        if r.get("ok") is not False or not isinstance(r.get("error"), dict):
            raise ProtocolError("%s %r: expected error %s, got %r" % (op, fields, code, r))
        if r["error"].get("code") != code:
            raise ProtocolError("%s %r: expected error %s, got %r" % (op, fields, code, r))
        return r["error"]

    def hello(self, role, name=None, token="demo", agent=None, expect_ok=True, **extra):
        fields = {"role": role, "token": token}
        if name is not None:
            fields["name"] = name
        if agent is not None:
            fields["agent"] = agent
        fields.update(extra)
        r = self.request("hello", **fields)
        if expect_ok and r.get("ok") is not True:
            raise ProtocolError("hello %r refused: %r" % (fields, r))
        self.name = agent or name
        return r

    # ---- pushes

    @staticmethod
    def _match(m, ev, pred):
        return m.get("ev") == ev and (pred is None or pred(m))

    def push(self, ev, timeout=None, pred=None, **where):
        """The next push `ev` matching pred and the given field values (taken
        from the kept list first, then from the socket); fails after timeout."""
        def ok(m):
            if not self._match(m, ev, pred):
                return False
            return all(m.get(k) == v for k, v in where.items())

        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, m in enumerate(self.pushes):
                if ok(m):
                    return self.pushes.pop(i)
            if not self._pump(deadline):
                raise ProtocolError(
                    "%s: no push %r%s within %.1f s%s; kept pushes: %s"
                    % (
                        self.name,
                        ev,
                        (" with %r" % where) if where else "",
                        (self.timeout if timeout is None else timeout),
                        " (connection closed)" if self.eof else "",
                        json.dumps(self.pushes[-8:]),
                    )
                )

    def push_in_order(self, ev, group=None, timeout=None, **where):
        """Like push(), for a sequence of changes (an agent's states): takes
        the pushes `ev` that match group (a dict of field values, e.g. the
        agent id) in arrival order, dropping each one that does not match
        `where`, until one does. So an older push with the same values never
        stands in for a new one."""
        group = group or {}

        def in_group(m):
            return m.get("ev") == ev and all(m.get(k) == v for k, v in group.items())

        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        skipped = []
        while True:
            while True:
                i = next((i for i, m in enumerate(self.pushes) if in_group(m)), None)
                if i is None:
                    break
                m = self.pushes.pop(i)
                if all(m.get(k) == v for k, v in where.items()):
                    return m
                skipped.append(m)
            if not self._pump(deadline):
                raise ProtocolError(
                    "%s: no push %r %r with %r within %.1f s%s; passed over: %s; kept: %s"
                    % (
                        self.name,
                        ev,
                        group,
                        where,
                        (self.timeout if timeout is None else timeout),
                        " (connection closed)" if self.eof else "",
                        json.dumps(skipped[-8:]),
                        json.dumps(self.pushes[-8:]),
                    )
                )

    def no_push(self, ev, within=0.5, pred=None, **where):
        """Assert that no push `ev` (matching pred/fields) arrives within `within` s."""
        def ok(m):
            return self._match(m, ev, pred) and all(m.get(k) == v for k, v in where.items())

        deadline = time.monotonic() + within
        while True:
            for m in self.pushes:
                if ok(m):
                    raise ProtocolError("%s: unexpected push %r" % (self.name, m))
            if time.monotonic() >= deadline:
                return
            self._pump(deadline)

    def pushes_of(self, ev, within=0.0):
        """Collect (and take) every push `ev` arriving within `within` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and self._pump(deadline):
            pass
        got = [m for m in self.pushes if m.get("ev") == ev]
        self.pushes = [m for m in self.pushes if m.get("ev") != ev]
        return got

    def discard_pushes(self, ev=None):
        """Forget kept pushes (of one kind, or all)."""
        self.pushes = [] if ev is None else [m for m in self.pushes if m.get("ev") != ev]

    # ---- shortcuts for the roles

    def ready(self):
        r = self.ok("agent.state", state="ready")
        # Take this change's own state push (it comes before the reply), so
        # that state("ready") later waits for the next one.
        idx = [i for i, m in enumerate(self.pushes)
               if m.get("ev") == "state" and m.get("state") == "ready"]
        if idx:
            self.pushes = [m for i, m in enumerate(self.pushes)
                           if not (m.get("ev") == "state" and i <= idx[-1])]
        return r

    def offer(self, contact=None, timeout=None):
        """The next offer push (for that contact, when given)."""
        if contact is None:
            return self.push("offer", timeout=timeout)
        return self.push("offer", timeout=timeout, contact=contact)

    def state(self, state, reason=None, timeout=None):
        """Wait for this agent's own `state` push with that state (and
        reason), passing over older state pushes (see push_in_order)."""
        where = {"state": state}
        if reason is not None:
            where["reason"] = reason
        return self.push_in_order("state", timeout=timeout, **where)

    def agent_state(self, agent, state, reason=None, timeout=None):
        """Monitor: wait for agent's agent_state push with that state,
        passing over its older agent_state pushes."""
        where = {"state": state}
        if reason is not None:
            where["reason"] = reason
        return self.push_in_order("agent_state", group={"agent": agent}, timeout=timeout, **where)


# --------------------------------------------------------------------------
# Waiting on several clients


def push_any(clients, ev, timeout=WAIT_S, pred=None, **where):
    """The first push `ev` (matching pred/fields) on any of clients:
    returns (client, push)."""

    def ok(m):
        return Client._match(m, ev, pred) and all(m.get(k) == v for k, v in where.items())

    deadline = time.monotonic() + timeout
    while True:
        for c in clients:
            for i, m in enumerate(c.pushes):
                if ok(m):
                    return c, c.pushes.pop(i)
        left = deadline - time.monotonic()
        live = [c for c in clients if not c.eof]
        if left <= 0 or not live:
            raise ProtocolError(
                "no push %r%s on any of %s within %.1f s"
                % (ev, (" with %r" % where) if where else "", [c.name for c in clients], timeout)
            )
        pending = [c for c in live if b"\n" in c.buf]
        if pending:
            for c in pending:
                c._pump(time.monotonic())
            continue
        r, _, _ = select.select([c.sock for c in live], [], [], left)
        for c in live:
            if c.sock in r:
                c._pump(time.monotonic() + 0.05)


# --------------------------------------------------------------------------
# unittest base


class RingqTestCase(unittest.TestCase):
    """Starts daemons on demand and stops (and checks) them after each test."""

    def setUp(self):
        self.daemons = []
        self.clients = []

    def start(self, conf, **kw):
        """Start a ringqd with conf (see Daemon); it is stopped and checked
        when the test ends."""
        d = Daemon(conf, start=False, **kw)
        self.daemons.append(d)
        self.addCleanup(self._stop_daemon, d)
        d.start()
        return d

    def _stop_daemon(self, d):
        for c in self.clients:
            c.close()
        self.clients = []
        try:
            d.stop()
        finally:
            d.cleanup()

    def config_only(self, conf, **kw):
        """A Daemon that is not started: for its config file (write_config())."""
        d = Daemon(conf, start=False, **kw)
        self.addCleanup(d.cleanup)
        return d

    def connect(self, d, unix=False):
        c = d.client(unix=unix)
        self.clients.append(c)
        return c

    def source(self, d, name="pbx1", unix=False):
        c = self.connect(d, unix)
        c.hello("source", name=name)
        return c

    def monitor(self, d, subscribe=None, unix=False):
        c = self.connect(d, unix)
        c.hello("monitor", name="wallboard")
        if subscribe is not None:
            c.ok("subscribe", topics=subscribe)
        return c

    def agent(self, d, aid, ready=True, unix=False):
        c = self.connect(d, unix)
        c.hello("agent", agent=aid)
        if ready:
            c.ready()
        return c

    def new_contact(self, src, cid, queue, **fields):
        return src.ok("contact.new", contact=cid, queue=queue, **fields)

    def snapshot(self, mon):
        return mon.ok("snapshot")

    @staticmethod
    def by_key(items, key):
        return {x[key]: x for x in items}

    def snap_agent(self, mon, aid):
        s = self.snapshot(mon)
        for a in s["agents"]:
            if a["agent"] == aid:
                return a
        self.fail("agent %s not in snapshot: %r" % (aid, s["agents"]))

    def snap_contact(self, mon, cid):
        s = self.snapshot(mon)
        for c in s["contacts"]:
            if c["contact"] == cid:
                return c
        return None

    def snap_queue(self, mon, name):
        s = self.snapshot(mon)
        for q in s["queues"]:
            if q["name"] == name:
                return q
        self.fail("queue %s not in snapshot: %r" % (name, s["queues"]))

    def wait_until(self, fn, timeout=WAIT_S, what="condition", step=0.02):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() >= deadline:
                self.fail("timed out after %.1f s waiting for %s" % (timeout, what))
            time.sleep(step)
