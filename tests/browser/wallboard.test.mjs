// The wallboard (web/wallboard.html) in headless Chromium.
//
// Starts the ringqd named by $RINGQD on free ports (NDJSON and HTTP) with its
// own config in a temporary directory, drives a source and agents over the
// NDJSON protocol, opens /wallboard in Debian's Chromium (driven by
// playwright-core, no downloaded browsers) and checks that the page shows
// what GET /v1/queues says, follows changes within a second, lists contacts
// near their target, keeps its counters ticking, and comes back by itself
// after ringqd is killed and restarted. A screenshot is kept as
// tests/artifacts/wallboard.png.
//
//   cd tests/browser && npm ci && RINGQD=../../build/daemon/ringqd node --test
//
// Environment: RINGQD (required), CHROMIUM (default /usr/bin/chromium).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const PAGE_FILE = path.join(REPO, 'web', 'wallboard.html');
const ARTIFACTS = path.join(REPO, 'tests', 'artifacts');
const RINGQD = process.env.RINGQD;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WALL_TOKEN = 'wall-secret';
const WAIT_MS = 5000; // default bound of every wait
const START_MS = 15000; // a sanitizer build starts slowly
const UPDATE_MS = 1000; // the page must follow a change within this

let chromium;
try {
    ({ chromium } = await import('playwright-core'));
} catch (err) {
    throw new Error(`playwright-core is missing: run "npm ci" in ${HERE} (${err.message})`);
}

// ---------------------------------------------------------------------------
// helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function canConnect(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
            s.destroy();
            resolve(true);
        });
        s.once('error', () => resolve(false));
    });
}

// Poll fn until it returns a truthy value; the last value otherwise.
async function until(fn, ms = WAIT_MS, every = 25) {
    const end = Date.now() + ms;
    let v;
    for (;;) {
        v = await fn();
        if (v || Date.now() > end) return v;
        await sleep(every);
    }
}

// The page's formatting of a percentage: floored to tenths.
function fmtPct(v) {
    if (v == null) return '–';
    const f = Math.floor(v * 10 + 1e-9) / 10;
    return (Number.isInteger(f) ? String(f) : f.toFixed(1)) + '%';
}

function slLevel(q) {
    if (q.service_level == null) return 'none';
    if (q.service_level >= q.goal_percent) return 'green';
    return q.service_level >= q.goal_percent - 5 ? 'amber' : 'red';
}

// ---------------------------------------------------------------------------
// ringqd: config, process, NDJSON clients

const SKILLS = ['sales', 'support', 'billing', 'retention', 'technical', 'accounts'];
const AGENTS = {
    a1: { sales: 5 },
    a2: { sales: 3, support: 3 },
    a3: { support: 5 },
    a4: { billing: 5 },
    a5: { retention: 5 },
    a6: { technical: 5 },
    a7: { accounts: 5 },
    a8: { billing: 2, technical: 2 },
};

function configText(ndjsonPort, httpPort) {
    const agents = Object.entries(AGENTS)
        .map(([id, skills]) => {
            const sk = Object.entries(skills).map(([s, l]) => `${s} = ${l};`).join(' ');
            return `  { id = "${id}"; name = "Agent ${id}"; token = "agent-secret"; skills = { ${sk} }; }`;
        })
        .join(',\n');
    return `log_level = "info";
listen = { host = "127.0.0.1"; port = ${ndjsonPort}; };
http = {
  host = "127.0.0.1";
  port = ${httpPort};
  wallboard = ${JSON.stringify(PAGE_FILE)};
  tokens = ( { name = "wall"; token = "${WALL_TOKEN}"; role = "wallboard"; } );
};
tiers = (
  { name = "key_account"; sla_factor = 0.5; },
  { name = "standard"; sla_factor = 1.0; }
);
default_tier = "standard";
skills = [ ${SKILLS.map((s) => `"${s}"`).join(', ')} ];
queues = (
  { name = "sales"; answer_rings = 3; ring_cadence = "north_america"; goal_percent = 80.0;
    wrap_up_s = 600; ring_timeout_s = 60; skills = { sales = 1; }; },
  { name = "support"; answer_rings = 4; ring_cadence = "europe"; goal_percent = 80.0;
    ring_timeout_s = 60; skills = { support = 1; }; },
  { name = "billing"; answer_rings = 3; ring_cadence = "uk"; goal_percent = 85.0;
    service_level = "abandons_negative"; ring_timeout_s = 60; skills = { billing = 1; }; },
  { name = "retention"; answer_rings = 2; ring_on_s = 0.5; ring_off_s = 0.5; alert_percent = 50;
    goal_percent = 90.0; ring_timeout_s = 60; skills = { retention = 1; }; },
  { name = "technical"; answer_rings = 5; ring_cadence = "north_america"; goal_percent = 70.0;
    ring_timeout_s = 60; skills = { technical = 1; }; },
  { name = "key_accounts"; answer_rings = 2; ring_cadence = "north_america"; goal_percent = 90.0;
    service_level = "abandons_negative"; ring_timeout_s = 60; skills = { accounts = 1; }; }
);
agents = (
${agents}
);
sources = ( { name = "pbx1"; token = "source-secret"; } );
monitors = ( { name = "wallboard"; token = "monitor-secret"; } );
`;
}

class Daemon {
    constructor(dir, ndjsonPort, httpPort) {
        this.dir = dir;
        this.ndjsonPort = ndjsonPort;
        this.httpPort = httpPort;
        this.confPath = path.join(dir, 'ringqd.conf');
        this.logPath = path.join(dir, 'ringqd.log');
        fs.writeFileSync(this.confPath, configText(ndjsonPort, httpPort));
        this.proc = null;
    }

    log() {
        try {
            return fs.readFileSync(this.logPath, 'utf8');
        } catch {
            return '';
        }
    }

    async start() {
        const out = fs.openSync(this.logPath, 'a');
        const proc = spawn(RINGQD, ['-c', this.confPath], { stdio: ['ignore', out, out] });
        fs.closeSync(out);
        this.proc = proc;
        proc.exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve({ code, sig })));
        proc.exitState = null;
        proc.exited.then((s) => (proc.exitState = s));
        const up = await until(async () => {
            if (proc.exitState) return false;
            return (await canConnect(this.ndjsonPort)) && (await canConnect(this.httpPort));
        }, START_MS, 50);
        if (!up) {
            throw new Error(`ringqd did not start (${JSON.stringify(proc.exitState)}):\n${this.log()}`);
        }
    }

    async kill() {
        const proc = this.proc;
        this.proc = null;
        proc.kill('SIGKILL');
        await proc.exited;
    }

    async stop() {
        const proc = this.proc;
        if (!proc) return;
        this.proc = null;
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), START_MS);
        const s = await proc.exited;
        clearTimeout(timer);
        assert.equal(s.code, 0, `ringqd exit ${JSON.stringify(s)}:\n${this.log()}`);
        assert.doesNotMatch(this.log(), /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/);
    }

    async api(pathname) {
        const r = await fetch(`http://127.0.0.1:${this.httpPort}${pathname}`, {
            headers: { Authorization: `Bearer ${WALL_TOKEN}` },
        });
        assert.equal(r.status, 200, `GET ${pathname}: ${r.status}`);
        return r.json();
    }

    async queues() {
        const body = await this.api('/v1/queues');
        return Array.isArray(body) ? body : body.queues;
    }
}

// One NDJSON connection: requests with ids, pushes kept for waitPush().
class Client {
    static async connect(port, hello) {
        const c = new Client();
        c.sock = await new Promise((resolve, reject) => {
            const s = net.connect(port, '127.0.0.1', () => resolve(s));
            s.once('error', reject);
        });
        c.sock.setNoDelay(true);
        c.sock.on('error', () => {});
        c.sock.on('data', (d) => c.onData(d));
        await c.ok('hello', hello);
        return c;
    }

    constructor() {
        this.buf = '';
        this.nextId = 1;
        this.pending = new Map();
        this.pushes = [];
        this.waiters = [];
    }

    onData(d) {
        this.buf += d.toString('utf8');
        let nl;
        while ((nl = this.buf.indexOf('\n')) >= 0) {
            const line = this.buf.slice(0, nl);
            this.buf = this.buf.slice(nl + 1);
            if (!line) continue;
            const msg = JSON.parse(line);
            if ('ev' in msg) {
                this.pushes.push(msg);
                for (const w of [...this.waiters]) w();
            } else if (this.pending.has(msg.re)) {
                this.pending.get(msg.re)(msg);
                this.pending.delete(msg.re);
            }
        }
    }

    request(op, fields = {}) {
        const id = this.nextId++;
        const line = JSON.stringify({ op, id, ...fields }) + '\n';
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no reply to ${line}`)), WAIT_MS);
            this.pending.set(id, (msg) => {
                clearTimeout(timer);
                resolve(msg);
            });
            this.sock.write(line);
        });
    }

    async ok(op, fields = {}) {
        const r = await this.request(op, fields);
        assert.equal(r.ok, true, `${op} ${JSON.stringify(fields)} -> ${JSON.stringify(r)}`);
        return r;
    }

    // The first push (kept or to come) matching pred, removed from the list.
    waitPush(pred, ms = WAIT_MS) {
        return new Promise((resolve, reject) => {
            const check = () => {
                const i = this.pushes.findIndex(pred);
                if (i < 0) return false;
                const [p] = this.pushes.splice(i, 1);
                this.waiters = this.waiters.filter((w) => w !== check);
                clearTimeout(timer);
                resolve(p);
                return true;
            };
            const timer = setTimeout(() => {
                this.waiters = this.waiters.filter((w) => w !== check);
                reject(new Error(`no push matching ${pred} within ${ms} ms`));
            }, ms);
            if (!check()) this.waiters.push(check);
        });
    }

    close() {
        this.sock.destroy();
    }
}

// The call center around one ringqd: a source and the agents.
class Center {
    static async connect(daemon) {
        const c = new Center();
        c.source = await Client.connect(daemon.ndjsonPort, {
            role: 'source', name: 'pbx1', token: 'source-secret',
        });
        c.agents = {};
        for (const id of Object.keys(AGENTS)) {
            if (id === 'a8') continue; // stays logged out
            c.agents[id] = await Client.connect(daemon.ndjsonPort, {
                role: 'agent', agent: id, token: 'agent-secret',
            });
        }
        return c;
    }

    contact(id, queue, extra = {}) {
        return this.source.ok('contact.new', { contact: id, queue, ...extra });
    }

    // Wait for the contact to be routed; the agent it rang accepts it.
    async answer(id) {
        const route = await this.source.waitPush((p) => p.ev === 'route' && p.contact === id);
        await this.agents[route.agent].ok('offer.accept', { contact: id });
        return route.agent;
    }

    ready(...ids) {
        return Promise.all(ids.map((id) => this.agents[id].ok('agent.state', { state: 'ready' })));
    }

    notReady(id, reason) {
        return this.agents[id].ok('agent.state', { state: 'not_ready', reason });
    }

    close() {
        this.source.close();
        for (const a of Object.values(this.agents)) a.close();
    }
}

// ---------------------------------------------------------------------------
// the page

async function pageQueues(page) {
    return page.evaluate(() => {
        const out = {};
        for (const card of document.querySelectorAll('.q[data-queue]')) {
            const v = { level: card.dataset.level };
            for (const e of card.querySelectorAll('[data-k]')) {
                v[e.dataset.k] = e.textContent;
                v[e.dataset.k + '#v'] = e.dataset.v;
            }
            out[card.dataset.queue] = v;
        }
        return out;
    });
}

// What the page must show for each queue of GET /v1/queues.
function expected(queues) {
    const out = {};
    for (const q of queues) {
        const a = q.agents;
        out[q.name] = {
            waiting: String(q.waiting),
            offered: String(q.offered),
            answered: String(q.answered),
            abandoned: String(q.abandoned),
            service_level: fmtPct(q.service_level),
            level: slLevel(q),
            ag_available: String(a.ready),
            ag_on_contact: String(a.busy + a.reserved),
            ag_wrap_up: String(a.wrap_up),
            ag_not_ready: String(a.not_ready),
        };
    }
    return out;
}

function shownSubset(shown, want) {
    const out = {};
    for (const [name, w] of Object.entries(want)) {
        const s = shown[name] || {};
        out[name] = Object.fromEntries(Object.keys(w).map((k) => [k, s[k]]));
    }
    return out;
}

// The page and /v1/queues agree (once pending events have arrived).
async function assertPageMatchesApi(page, daemon, ms = 3000) {
    let want, got;
    await until(async () => {
        want = expected(await daemon.queues());
        got = shownSubset(await pageQueues(page), want);
        return JSON.stringify(got) === JSON.stringify(want);
    }, ms, 100);
    assert.deepEqual(got, want);
    return want;
}

async function shown(page, queue, key) {
    return page.$eval(`.q[data-queue="${queue}"] [data-k="${key}"]`, (e) => e.textContent);
}

// ---------------------------------------------------------------------------
// the tests (run in order; they share one ringqd and one browser)

let tmp, daemon, center, context, page;
const timings = {};
const pageErrors = [];

before(async () => {
    assert.ok(RINGQD, 'set RINGQD to the ringqd binary');
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (Debian package chromium)`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ringq-wallboard-'));
    daemon = new Daemon(tmp, await freePort(), await freePort());
    await daemon.start();
    center = await Center.connect(daemon);

    // Traffic before the page opens, so every figure has something to show.
    await center.ready('a1', 'a2', 'a3', 'a4', 'a6');
    await center.notReady('a5', 'break');
    await center.notReady('a7', 'meeting');
    // sales: two answered (one ended: its agent wraps up for 600 s), one abandoned, one waiting
    await center.contact('s1', 'sales');
    await center.answer('s1');
    await center.contact('s2', 'sales', { customer: { tier: 'key_account' } });
    await center.answer('s2');
    await center.source.ok('contact.end', { contact: 's2' });
    await center.contact('s3', 'sales');
    await center.contact('s4', 'sales');
    await center.source.ok('contact.abandon', { contact: 's4' });
    // support: one answered and connected
    await center.contact('u1', 'support');
    await center.answer('u1');
    // billing: one answered and ended, one answered, one abandoned, one waiting
    await center.contact('b1', 'billing');
    await center.answer('b1');
    await center.agents.a4.ok('contact.end', { contact: 'b1' });
    await center.contact('b2', 'billing');
    await center.answer('b2');
    await center.contact('b3', 'billing');
    await center.contact('b4', 'billing');
    await center.source.ok('contact.abandon', { contact: 'b4' });
    // technical: one answered and ended
    await center.contact('t1', 'technical');
    await center.answer('t1');
    await center.source.ok('contact.end', { contact: 't1' });
    // key_accounts: nobody ready; one abandoned, one waiting
    await center.contact('k1', 'key_accounts');
    await center.contact('k2', 'key_accounts');
    await center.source.ok('contact.abandon', { contact: 'k2' });
    // retention: nobody ready, a contact waits past its 2 s target
    await center.contact('r1', 'retention');

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(tmp, 'profile-')), {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1920, height: 1080 },
        args: [
            '--no-sandbox',
            '--disable-gpu',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
        ],
    });
    page = context.pages()[0] || (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
});

after(async () => {
    if (context) await context.close();
    if (center) center.close();
    if (daemon) await daemon.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    if (Object.keys(timings).length) console.log('wallboard timings (ms):', JSON.stringify(timings));
});

test('the page loads and shows the numbers of /v1/queues', async () => {
    const t0 = Date.now();
    const res = await page.goto(`http://127.0.0.1:${daemon.httpPort}/wallboard?token=${WALL_TOKEN}`);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/html/);
    await page.waitForSelector('body[data-conn="live"]', { timeout: WAIT_MS });
    timings.load_to_live = Date.now() - t0;

    const names = await page.$$eval('.q[data-queue]', (cards) => cards.map((c) => c.dataset.queue));
    assert.deepEqual(names, (await daemon.queues()).map((q) => q.name));
    const want = await assertPageMatchesApi(page, daemon);
    // The traffic above left a figure in every column somewhere.
    assert.equal(want.sales.waiting, '1');
    assert.equal(want.sales.abandoned, '1');
    assert.equal(want.sales.ag_wrap_up, '1');
    assert.equal(want.billing.answered, '2');

    // The target in rings and seconds, from the queue's cadence.
    assert.equal(await shown(page, 'sales', 'target'), '3 rings (18 s)');
    assert.equal(await shown(page, 'support', 'target'), '4 rings (20 s)');
    assert.equal(await shown(page, 'billing', 'target'), '3 rings (9 s)');
    assert.equal(await shown(page, 'retention', 'target'), '2 rings (2 s)');
    // ASA as the API computes it.
    for (const q of await daemon.queues()) {
        const v = await page.$eval(`.q[data-queue="${q.name}"] [data-k="asa"]`, (e) => e.dataset.v);
        if (q.answered > 0) assert.ok(Math.abs(Number(v) - q.asa_s) < 0.01, `${q.name} asa ${v} vs ${q.asa_s}`);
    }
    // The totals in the header.
    assert.equal(await page.textContent('#t-agents'), '7');
    assert.equal(await page.textContent('#t-waiting'), String(Object.values(want)
        .reduce((n, q) => n + Number(q.waiting), 0)));
    // The clock runs.
    assert.match(await page.textContent('#clock'), /^\d\d:\d\d:\d\d$/);
});

test('a new contact shows on the page within a second', async () => {
    const samples = [];
    for (const [id, queue] of [['k3', 'key_accounts'], ['k4', 'key_accounts'], ['s5', 'sales']]) {
        const before = Number(await shown(page, queue, 'waiting'));
        const t0 = performance.now();
        await center.contact(id, queue);
        await page.waitForFunction(
            ([q, n]) => document.querySelector(`.q[data-queue="${q}"] [data-k="waiting"]`)
                .textContent === String(n),
            [queue, before + 1], { timeout: 3 * UPDATE_MS, polling: 'raf' });
        samples.push(Math.round(performance.now() - t0));
    }
    timings.contact_to_page = samples;
    for (const ms of samples) assert.ok(ms < UPDATE_MS, `waiting count took ${ms} ms`);
    await assertPageMatchesApi(page, daemon);
});

test('longest waits tick on the page between events', async () => {
    // key_accounts has contacts waiting and nobody to take them: no events.
    const read = async () => {
        const t = await shown(page, 'key_accounts', 'longest_wait');
        const m = /^(\d+) s$/.exec(t);
        assert.ok(m, `longest wait "${t}"`);
        return Number(m[1]);
    };
    // Two ticks within 4 s (a loaded machine may delay a timer, not skip it).
    const first = await read();
    const until = Date.now() + 4000;
    let second = first;
    while (second < first + 2 && Date.now() < until) {
        await sleep(200);
        second = await read();
    }
    assert.ok(second >= first + 2 && second <= first + 4, `longest wait ${first} s, then ${second} s`);
    const api = (await daemon.queues()).find((q) => q.name === 'key_accounts');
    assert.ok(Math.abs(api.longest_wait_s - second) <= 1.5, `page ${second} s, api ${api.longest_wait_s} s`);
});

test('contacts near their target are listed until answered or abandoned', async () => {
    const chip = (id) => `.q[data-queue="retention"] [data-k="alerts"] [data-contact="${id}"]`;
    // r1 waited past its target before the page opened: listed from the snapshot.
    await page.waitForSelector(chip('r1'), { timeout: WAIT_MS });
    // r2 gets an alert at 50 % of its 2 s target.
    await center.contact('r2', 'retention', { customer: { tier: 'key_account' } });
    const t0 = performance.now();
    await page.waitForSelector(chip('r2'), { timeout: WAIT_MS });
    timings.contact_to_alert = Math.round(performance.now() - t0);
    assert.match(await page.textContent(chip('r2')), /key account/);
    // Abandoned: gone from the row.
    await center.source.ok('contact.abandon', { contact: 'r2' });
    await page.waitForSelector(chip('r2'), { state: 'detached', timeout: UPDATE_MS });
    // Answered: gone too.
    await center.ready('a5');
    await center.answer('r1');
    await page.waitForSelector(chip('r1'), { state: 'detached', timeout: UPDATE_MS });
    assert.equal(await page.$eval('.q[data-queue="retention"] [data-k="alerts"]', (e) => e.dataset.v), '0');
    // Its first answer gives the queue an ASA: the page follows.
    let asa, pageAsa;
    await until(async () => {
        asa = (await daemon.queues()).find((q) => q.name === 'retention').asa_s;
        pageAsa = Number(await page.$eval('.q[data-queue="retention"] [data-k="asa"]', (e) => e.dataset.v));
        return asa > 0 && Math.abs(pageAsa - asa) < 0.01;
    }, WAIT_MS, 100);
    assert.ok(asa > 0 && Math.abs(pageAsa - asa) < 0.01, `retention ASA: page ${pageAsa}, api ${asa}`);
    await center.notReady('a5', 'break');
    // Leave one on the board for the screenshot.
    await center.contact('r3', 'retention');
    await page.waitForSelector(chip('r3'), { timeout: WAIT_MS });
    await assertPageMatchesApi(page, daemon);
});

test('the board fits a 1920x1080 screen and a screenshot is kept', async () => {
    await sleep(1100); // let the bars' transitions settle
    await page.screenshot({ path: path.join(ARTIFACTS, 'wallboard.png') });
    assert.ok(fs.statSync(path.join(ARTIFACTS, 'wallboard.png')).size > 10000);
    const fit = await page.evaluate(() => ({
        scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
        view: [innerWidth, innerHeight],
        clipped: [...document.querySelectorAll('.q')]
            .filter((c) => c.scrollHeight > c.clientHeight + 1 || c.scrollWidth > c.clientWidth + 1)
            .map((c) => `${c.dataset.queue} ${c.scrollWidth}x${c.scrollHeight} in ${c.clientWidth}x${c.clientHeight}`),
    }));
    assert.deepEqual(fit.scroll, fit.view, 'the page scrolls');
    assert.deepEqual(fit.clipped, [], 'cards whose content does not fit');
});

test('after ringqd is killed and restarted the page reconnects with fresh data', async () => {
    const snapshots = Number(await page.getAttribute('body', 'data-snapshots'));
    center.close();
    await daemon.kill();
    await page.waitForSelector('body:not([data-conn="live"])', { timeout: WAIT_MS });
    assert.equal(await page.isVisible('#banner'), true, 'no banner while the data is stale');

    const t0 = Date.now();
    await daemon.start();
    center = await Center.connect(daemon);
    await center.contact('n1', 'support');
    await page.waitForFunction((n) => Number(document.body.dataset.snapshots) > n &&
        document.body.dataset.conn === 'live', snapshots, { timeout: 15000 });
    timings.restart_to_live = Date.now() - t0;
    assert.equal(await page.isVisible('#banner'), false);
    // Without Redis the new ringqd starts from nothing: the page shows its figures.
    const want = await assertPageMatchesApi(page, daemon);
    assert.equal(want.support.offered, '1');
    assert.equal(want.support.waiting, '1');
    assert.equal(want.sales.offered, '0');
    assert.equal(await page.$$eval('.chip', (c) => c.length), 0, 'alerts of the old ringqd');
    // And it follows changes again.
    await center.contact('n2', 'support');
    await page.waitForFunction(() => document.querySelector('.q[data-queue="support"] [data-k="waiting"]')
        .textContent === '2', null, { timeout: UPDATE_MS });
});

test('a page without a valid token says so', async () => {
    const p = await context.newPage();
    p.on('pageerror', (err) => pageErrors.push(err.message));
    try {
        await p.goto(`http://127.0.0.1:${daemon.httpPort}/wallboard?token=wrong`);
        await p.waitForFunction(() => document.getElementById('conn-text').textContent === 'Token refused',
            null, { timeout: WAIT_MS });
        await p.goto(`http://127.0.0.1:${daemon.httpPort}/wallboard`);
        await p.waitForFunction(() => document.getElementById('conn-text').textContent === 'No token',
            null, { timeout: WAIT_MS });
    } finally {
        await p.close();
    }
});

test('the page raised no script errors', () => {
    assert.deepEqual(pageErrors, []);
});
