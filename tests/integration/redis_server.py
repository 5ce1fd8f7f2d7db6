"""A private redis-server for the integration tests.

Each test starts its own server on a free loopback port (and, if asked, a
Unix socket) in a temporary directory, and stops it afterwards, so tests
never touch a Redis that somebody else uses. `stop()` then `start()` again
on the same port and directory simulates an outage; data survives it when
`persist=True` (an append-only file in the directory).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, password=None, acl_user=None, acl_password=None, unix=False,
                 persist=True):
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.cli_binary = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        self.dir = tempfile.mkdtemp(prefix="ringq-redis-")
        self.port = free_port()
        self.password = password
        self.acl_user = acl_user
        self.acl_password = acl_password
        self.unix_path = os.path.join(self.dir, "redis.sock") if unix else None
        self.persist = persist
        self.proc = None
        self._write_conf()

    def _write_conf(self):
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f"dir {self.dir}",
            "daemonize no",
            "save \"\"",
            f"appendonly {'yes' if self.persist else 'no'}",
            "appendfsync always",
            "logfile redis.log",
        ]
        if self.unix_path:
            lines += [f"unixsocket {self.unix_path}", "unixsocketperm 700"]
        if self.password:
            lines.append(f"requirepass {self.password}")
        if self.acl_user:
            # an ACL user allowed only the ringq keys and the commands ringqd uses
            lines.append(
                f"user {self.acl_user} on >{self.acl_password} ~ringq:* &ringq:* "
                "+@read +@write +@transaction +@pubsub +@connection +@stream "
                "+@keyspace +ping +select")
        with open(os.path.join(self.dir, "redis.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(
            [self.binary, os.path.join(self.dir, "redis.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.cli("PING").strip() in ("PONG", "NOAUTH Authentication required."):
                    return self
            except subprocess.CalledProcessError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start; see " +
                           os.path.join(self.dir, "redis.log"))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args):
        """Run one redis-cli command as the admin and return its raw output."""
        cmd = [self.cli_binary, "--no-auth-warning", "-h", "127.0.0.1", "-p", str(self.port)]
        if self.password:
            cmd += ["-a", self.password]
        out = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                             timeout=10, check=True)
        return out.stdout

    def lines(self, *args):
        return [l for l in self.cli(*args).splitlines() if l != ""]

    def hgetall(self, key):
        # empty values print as empty lines: keep them, drop only the last newline
        out = self.cli("HGETALL", key).split("\n")[:-1]
        return dict(zip(out[0::2], out[1::2]))

    def config_block(self, prefix="ringq:", extra=""):
        """The ringqd.conf `redis` section that points at this server."""
        where = (f'unix = "{self.unix_path}";' if self.unix_path
                 else f'host = "127.0.0.1"; port = {self.port};')
        auth = ""
        if self.acl_user:
            auth = f'user = "{self.acl_user}"; password = "{self.acl_password}";'
        elif self.password:
            auth = f'password = "{self.password}";'
        return (f"redis = {{ {where} {auth} prefix = \"{prefix}\"; "
                f"connect_timeout_s = 1; command_timeout_s = 2; {extra} }};\n")
