"""The whole protocol over the Unix socket, and both listeners at once."""

import os
import stat
import unittest

from ringq_harness import RingqTestCase, agent, config, queue


def conf():
    return config(
        queues=[queue("sales", skills={"sales": 1}, ring_timeout_s=5.0, wrap_up_s=0.2)],
        agents=[agent("a1", {"sales": 5})],
    )


class Unix(RingqTestCase):
    def test_call_over_unix_socket(self):
        d = self.start(conf())
        self.assertTrue(stat.S_ISSOCK(os.stat(d.unix_path).st_mode))
        mon = self.monitor(d, subscribe=["contacts"], unix=True)
        src = self.source(d, unix=True)
        a1 = self.agent(d, "a1", unix=True)
        r = self.new_contact(src, "u1", "sales", customer={"id": "c-9", "tier": "key_account"})
        self.assertEqual(r["contact"], "u1")
        o = a1.offer("u1")
        self.assertEqual(o["customer"]["tier"], "key_account")
        src.push("route", contact="u1", agent="a1")
        src.ok("contact.answered", contact="u1", agent="a1")
        mon.push("contact", contact="u1", state="connected")
        a1.ok("contact.end", contact="u1")
        mon.push("contact", contact="u1", state="ended")
        a1.state("wrap_up")
        a1.state("ready", timeout=2.0)
        a1.ok("bye")
        self.assertTrue(a1.closed_by_peer())

    def test_tcp_and_unix_clients_together(self):
        d = self.start(conf())
        src = self.source(d)  # TCP
        a1 = self.agent(d, "a1", unix=True)
        self.new_contact(src, "u2", "sales")
        a1.offer("u2")
        src.push("route", contact="u2")

    def test_unix_only(self):
        d = self.start(conf(), tcp=False)
        src = self.source(d, unix=True)
        self.assertIs(src.ok("ping")["ok"], True)

    def test_socket_removed_on_exit(self):
        d = self.start(conf())
        path = d.unix_path
        self.assertTrue(os.path.exists(path))
        d.stop()
        self.assertFalse(os.path.exists(path), "ringqd left its Unix socket behind")


if __name__ == "__main__":
    unittest.main()
