"""A small call center: 3 queues, 20 agents with mixed skills and levels,
contacts of every tier with their own skill requirements. Agents become
ready one at a time; every offer must go to a qualified agent and take the
waiting contact with the earliest deadline (emergencies first) among those
the agent qualifies for, as computed here from the config written."""

import os
import random
import time
import unittest

from ringq_harness import TIERS, RingqTestCase, agent, config, queue

SEED = int(os.environ.get("RINGQ_SCENARIO_SEED", "20240611"))
SKILLS = ["sales", "support", "billing", "key_accounts"]
PRIORITY_STEP_S = 5.0
TOLERANCE_S = 0.5  # deadlines closer than this may come in either order


def qconf(name, skills, rings):
    # 2 s on + 8 s off = 10 s a ring: targets of 40, 70 and 110 s.
    return queue(name, skills=skills, answer_rings=rings, ring_on_s=2.0, ring_off_s=8.0,
                 ring_timeout_s=5.0, priority_step_s=PRIORITY_STEP_S)


QUEUES = [
    qconf("sales", {"sales": 3}, 4),
    qconf("support", {"support": 2}, 7),
    qconf("billing", {"billing": 4}, 11),
]
TARGET_S = {"sales": 40.0, "support": 70.0, "billing": 110.0}
FACTOR = {t["name"]: t["sla_factor"] for t in TIERS}
EMERGENCY = {t["name"] for t in TIERS if t.get("emergency")}


def make_agents(rnd):
    agents = []
    for i in range(20):
        skills = {}
        for s in rnd.sample(["sales", "support", "billing"], rnd.randint(1, 3)):
            skills[s] = rnd.randint(2, 10)
        if rnd.random() < 0.4:
            skills["key_accounts"] = rnd.randint(1, 10)
        agents.append(agent("ag%02d" % i, skills))
    return agents


def make_contacts(rnd):
    tiers = ["emergency", "key_account", "standard", "prospect"]
    contacts = [
        # One key account and one standard contact in the same queue, for the targets.
        {"contact": "sc00", "queue": "sales", "customer": {"tier": "standard"}},
        {"contact": "sc01", "queue": "sales", "customer": {"tier": "key_account"}},
    ]
    for i in range(2, 18):
        c = {"contact": "sc%02d" % i, "queue": rnd.choice(list(TARGET_S)),
             "customer": {"id": "cust%d" % i, "tier": tiers[i % 4]}}
        r = rnd.random()
        if r < 0.25:
            c["skills"] = {"key_accounts": rnd.randint(1, 6)}
        elif r < 0.45:
            qskill = next(iter(QUEUES[[q["name"] for q in QUEUES].index(c["queue"])]["skills"]))
            c["skills"] = {qskill: rnd.randint(3, 9)}
        if rnd.random() < 0.3:
            c["priority"] = rnd.randint(1, 3)
        contacts.append(c)
    return contacts


def requirements(c):
    """Skill -> minimum level: the queue's and the contact's own, merged."""
    req = dict(next(q for q in QUEUES if q["name"] == c["queue"])["skills"])
    for s, lvl in c.get("skills", {}).items():
        req[s] = max(req.get(s, 0), lvl)
    return req


def qualifies(a, c):
    return all(a["skills"].get(s, 0) >= lvl for s, lvl in requirements(c).items())


class Scenario(RingqTestCase):
    def test_call_center(self):
        rnd = random.Random(SEED)
        agents = make_agents(rnd)
        contacts = make_contacts(rnd)
        by_agent = {a["id"]: a for a in agents}
        d = self.start(config(queues=QUEUES, agents=agents, skills=SKILLS))
        mon = self.monitor(d)
        src = self.source(d)
        clients = {a["id"]: self.agent(d, a["id"], ready=False) for a in agents}

        t0 = time.monotonic()
        waiting = {}
        for c in contacts:
            fields = {k: v for k, v in c.items() if k not in ("contact", "queue")}
            self.new_contact(src, c["contact"], c["queue"], **fields)
            arrived = time.monotonic() - t0
            tier = c["customer"]["tier"]
            deadline = (arrived + TARGET_S[c["queue"]] * FACTOR[tier]
                        - c.get("priority", 0) * PRIORITY_STEP_S)
            waiting[c["contact"]] = (0 if tier in EMERGENCY else 1, deadline, c)

        snap = {x["contact"]: x for x in self.snapshot(mon)["contacts"]}
        self.assertEqual(set(snap), set(waiting))
        for cid, (_, _, c) in waiting.items():
            expect = TARGET_S[c["queue"]] * FACTOR[c["customer"]["tier"]]
            self.assertAlmostEqual(snap[cid]["target_s"], expect, places=2, msg=cid)
        self.assertAlmostEqual(snap["sc01"]["target_s"], snap["sc00"]["target_s"] / 2, places=3)

        order = list(by_agent)
        rnd.shuffle(order)
        served = 0
        for aid in order:
            a = by_agent[aid]
            cl = clients[aid]
            cands = [w for w in waiting.values() if qualifies(a, w[2])]
            cl.ready()
            if not cands:
                cl.no_push("offer", within=0.3)
                continue
            o = cl.offer(timeout=2.0)
            cid = o["contact"]
            seed = " (seed %d)" % SEED
            self.assertIn(cid, waiting, "offer of a contact not waiting" + seed)
            cls, deadline, c = waiting[cid]
            self.assertTrue(qualifies(a, c), "%s offered to %s (%r) but needs %r%s"
                            % (cid, aid, a["skills"], requirements(c), seed))
            best_cls = min(w[0] for w in cands)
            best = min(w[1] for w in cands if w[0] == best_cls)
            self.assertEqual(cls, best_cls, "%s offered to %s ahead of an emergency%s"
                             % (cid, aid, seed))
            self.assertLessEqual(deadline, best + TOLERANCE_S,
                                 "%s (deadline %.1f s) offered to %s before one due at %.1f s%s"
                                 % (cid, deadline, aid, best, seed))
            self.assertEqual(o["queue"], c["queue"])
            self.assertEqual(o["customer"]["tier"], c["customer"]["tier"])
            src.push("route", contact=cid, agent=aid)
            cl.ok("offer.accept", contact=cid)
            del waiting[cid]
            served += 1
        self.assertGreaterEqual(served, 8, "the scenario served too few contacts to mean much")
        left = {x["contact"] for x in self.snapshot(mon)["contacts"] if x["state"] == "waiting"}
        self.assertEqual(left, set(waiting))


if __name__ == "__main__":
    unittest.main()
