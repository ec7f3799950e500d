// locus against the real npm nacos-naming client (see package.json for the
// pinned version): standalone and 3-node clusters of real locusd processes,
// and a standalone node with auth on (auth.js).
// Run with `make test-compat` (or `node compat.test.js` here). Suites run
// concurrently, each on its own node(s); tests inside a suite in order.
//
//   COMPAT_SUITES=regex   run only the suites whose name matches
//   COMPAT_FILTER=regex   run only the tests whose "suite name" matches
//   LOCUS_TEST_KEEP=1     keep the temporary directories (logs, data)
//   COMPAT_CLIENT_LOG=1   print the clients' log lines
//   LOCUSD=path, BUILD=dir  the locusd under test (default build/locusd)
'use strict';

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { Env, suite, waitFor, uniq, httpRaw, listHosts } = require('./harness');
const { auth } = require('./auth');
const {
  G, call, key, brief, closedPort,
  persistentFlow, groupClusterFlow, subscribeFlow, serviceListFlow,
} = require('./flows');

const CLIENT_VERSION = require('nacos-naming/package.json').version;
const SUITE_MS = 180000;
const ip = '127.0.0.1';

function find(hosts, port) {
  return hosts.find((h) => h.ip === ip && h.port === port);
}

// Register an ephemeral instance over plain HTTP: nobody beats for it.
async function registerNoBeats(node, grouped, port) {
  const r = await httpRaw(node, 'POST', '/nacos/v1/ns/instance',
    { serviceName: grouped, ip, port: String(port), ephemeral: 'true', namespaceId: 'public' });
  assert.equal(`${r.status} ${r.text}`, '200 ok', `POST ${r.url}`);
}

// ------------------------------------------------------------------ standalone

async function standalone(env, t) {
  const node = env.nodes[0];

  await env.test(t, 'getServerStatus: UP from a running node, DOWN from a dead address', 30000, async () => {
    const c = await env.newClient([node], { label: 'status' });
    assert.equal(await call(c, 'getServerStatus()', c.getServerStatus()), 'UP');
    const d = await env.newClient([`${ip}:${await closedPort()}`], { label: 'dead' });
    assert.equal(await call(d, 'getServerStatus()', d.getServerStatus()), 'DOWN',
      'a client whose only server refuses connections');
  });

  await env.test(t, 'persistent: register, getAllInstances, selectInstances, deregister', 30000, async () => {
    const w = await env.newClient([node], { label: 'writer' });
    const r1 = await env.newClient([node], { label: 'reader1' });
    const r2 = await env.newClient([node], { label: 'reader2' });
    await persistentFlow({ w, r1, r2, n1: node, n2: node });
  });

  await env.test(t, 'persistent: group and cluster names', 30000, async () => {
    const w = await env.newClient([node], { label: 'writer' });
    const r = await env.newClient([node], { label: 'reader' });
    await groupClusterFlow({ w, r, n: node });
  });

  await env.test(t, 'ephemeral: register (client default), list, deregister', 30000, async () => {
    const c = await env.newClient([node], { label: 'ephemeral' });
    const svc = uniq('eph');
    const grouped = `${G}@@${svc}`;
    const port = await closedPort();
    await call(c, 'registerInstance', c.registerInstance(svc,
      { ip, port, metadata: { app: 'compat' } }));
    const hosts = await listHosts(node, grouped);
    const h = find(hosts, port);
    assert.ok(h, `${ip}:${port} listed right after register: ${brief(hosts)}`);
    assert.deepEqual({
      ephemeral: h.ephemeral, healthy: h.healthy, metadata: h.metadata,
      instanceHeartBeatInterval: h.instanceHeartBeatInterval,
      instanceHeartBeatTimeOut: h.instanceHeartBeatTimeOut, ipDeleteTimeout: h.ipDeleteTimeout,
    }, {
      ephemeral: true, healthy: true, metadata: { app: 'compat' },
      instanceHeartBeatInterval: 5000, instanceHeartBeatTimeOut: 15000, ipDeleteTimeout: 30000,
    }, `the instance as listed: ${JSON.stringify(h)}`);
    const all = await call(c, 'getAllInstances', c.getAllInstances(svc));
    assert.deepEqual(all.map(key), [`${ip}:${port}`], `getAllInstances: ${brief(all)}`);
    assert.equal(all[0].ephemeral, true);
    await call(c, 'deregisterInstance', c.deregisterInstance(svc, { ip, port }));
    await waitFor(`${ip}:${port} gone after deregisterInstance`, async () => {
      const l = await listHosts(node, grouped);
      return { ok: !find(l, port), seen: brief(l) };
    }, { timeout: 3000 });
  });

  await env.test(t, 'subscribe: UDP push reaches the listener; unSubscribe stops it', 30000, async () => {
    const w1 = await env.newClient([node], { label: 'writer1' });
    const w2 = await env.newClient([node], { label: 'writer2' });
    const s = await env.newClient([node], { label: 'subscriber' });
    await subscribeFlow({ w1, w2, s });
  });

  await env.test(t, 'getServiceList (service/list): count and doms, paged', 30000, async () => {
    const w = await env.newClient([node], { label: 'lister' });
    await serviceListFlow({ w });
  });
}

// ------------------------------------------------------------------ beats

// The client's beats keep its instance healthy past the 15 s heartbeat
// timeout, while an instance registered over HTTP without beats expires.
async function keepalive(env, t) {
  const node = env.nodes[0];
  await env.test(t, 'beats keep an ephemeral instance alive past 15 s', 45000, async () => {
    const c = await env.newClient([node], { label: 'beating' });
    const svc = uniq('alive');
    const grouped = `${G}@@${svc}`;
    const [pe, pk] = [await closedPort(), await closedPort()];
    const t0 = Date.now();
    await call(c, 'registerInstance', c.registerInstance(svc, { ip, port: pe }));
    await registerNoBeats(node, grouped, pk);
    const seen = await waitFor(`the instance without beats (${ip}:${pk}) unhealthy or removed`, async () => {
      const hosts = await listHosts(node, grouped);
      const k = find(hosts, pk);
      return { ok: !k || !k.healthy, hosts, seen: `${brief(hosts)} at ${Date.now() - t0} ms` };
    }, { timeout: 30000, interval: 500 });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed > 15000, `the instance without beats expired after ${elapsed} ms, before its 15 s timeout`);
    const e = find(seen.hosts, pe);
    assert.ok(e && e.healthy, `the beating instance ${ip}:${pe} at ${elapsed} ms: ${JSON.stringify(e)} (list: ${brief(seen.hosts)})`);
    assert.ok(c.beats.length >= 2, `beats sent in ${elapsed} ms: ${JSON.stringify(c.beats)}`);
    assert.deepEqual([...new Set(c.beats.map((b) => b.interval))], [5000],
      `clientBeatInterval answered to the beats: ${JSON.stringify(c.beats)}`);
    await call(c, 'deregisterInstance', c.deregisterInstance(svc, { ip, port: pe }));
  });
}

// close() stops the beats: with short preserved.* timeouts in the
// metadata, the instance turns unhealthy, then is removed.
async function closing(env, t) {
  const node = env.nodes[0];
  await env.test(t, 'close(): the ephemeral instance turns unhealthy, then is removed', 60000, async () => {
    const c = await env.newClient([node], { label: 'closing' });
    const svc = uniq('close');
    const grouped = `${G}@@${svc}`;
    const port = await closedPort();
    const metadata = {
      'preserved.heart.beat.interval': '1000',
      'preserved.heart.beat.timeout': '3000',
      'preserved.ip.delete.timeout': '8000',
    };
    await call(c, 'registerInstance', c.registerInstance(svc, { ip, port, metadata }));
    const h = find(await listHosts(node, grouped), port);
    assert.deepEqual(h && [h.instanceHeartBeatInterval, h.instanceHeartBeatTimeOut, h.ipDeleteTimeout],
      [1000, 3000, 8000], `heartbeat fields from the preserved.* metadata: ${JSON.stringify(h)}`);
    // The client's first beat comes 10 s after it starts, then every
    // clientBeatInterval, which the server takes from the metadata.
    await waitFor('two beats sent', () => ({ ok: c.beats.length >= 2, seen: c.beats }), { timeout: 25000 });
    assert.equal(c.beats.at(-1).interval, 1000,
      `clientBeatInterval answered for preserved.heart.beat.interval=1000: ${JSON.stringify(c.beats)}`);
    await waitFor(`${ip}:${port} healthy while beating`, async () => {
      const hosts = await listHosts(node, grouped);
      const x = find(hosts, port);
      return { ok: x && x.healthy, seen: brief(hosts) };
    }, { timeout: 3000 });

    await within5(c.close(), 'close()');
    const beatsAtClose = c.beats.length;
    const tc = Date.now();
    await waitFor(`${ip}:${port} unhealthy after close() (timeout 3 s, checks every 5 s)`, async () => {
      const hosts = await listHosts(node, grouped);
      const x = find(hosts, port);
      return { ok: x && !x.healthy, seen: `${x ? brief(hosts) : 'removed'} at ${Date.now() - tc} ms` };
    }, { timeout: 12000, interval: 100 });
    await waitFor(`${ip}:${port} removed after close() (delete timeout 8 s)`, async () => {
      const hosts = await listHosts(node, grouped);
      return { ok: !find(hosts, port), seen: `${brief(hosts)} at ${Date.now() - tc} ms` };
    }, { timeout: 15000, interval: 200 });
    assert.ok(c.beats.length <= beatsAtClose + 1, `beats after close(): ${JSON.stringify(c.beats.slice(beatsAtClose))}`);
  });
}

function within5(promise, what) {
  return call({ label: 'client' }, what, promise);
}

// After locusd restarts (SIGKILL, same port and data directory), the
// ephemeral instance is gone until the client's next beat, whose beat JSON
// re-registers it (the client itself never re-registers).
async function restart(env, t) {
  const node = env.nodes[0];
  await env.test(t, 'ephemeral instance comes back by beat after locusd restarts', 60000, async () => {
    const c = await env.newClient([node], { label: 'restarted' });
    const svc = uniq('restart');
    const grouped = `${G}@@${svc}`;
    const [pe, pk] = [await closedPort(), await closedPort()];
    await call(c, 'registerInstance', c.registerInstance(svc,
      { ip, port: pe, weight: 3, metadata: { zone: 'r' } }));
    await registerNoBeats(node, grouped, pk);
    const before = await listHosts(node, grouped);
    assert.ok(find(before, pe) && find(before, pk), `both listed before the restart: ${brief(before)}`);
    const beatsBefore = c.beats.length;

    await node.kill();
    node.start();
    await node.waitUp();
    const after = await listHosts(node, grouped);
    assert.ok(!find(after, pk), 'the instance without beats survived a restart: ephemeral instances ' +
      `live in memory (as in Nacos), and this test cannot tell a beat's re-registration from persistence; list: ${brief(after)}`);
    if (c.beats.length === beatsBefore) {
      assert.ok(!find(after, pe), `the beating instance was listed after the restart before any beat: ${brief(after)}`);
    }
    const back = await waitFor(`${ip}:${pe} back (re-registered from the beat)`, async () => {
      const hosts = await listHosts(node, grouped);
      const x = find(hosts, pe);
      return { ok: x && x.healthy, x, seen: `${brief(hosts)}; beats: ${JSON.stringify(c.beats)}` };
    }, { timeout: 25000, interval: 250 });
    assert.ok(c.beats.length > beatsBefore, `beats since the restart: ${JSON.stringify(c.beats)}`);
    const x = back.x;
    assert.deepEqual({
      ephemeral: x.ephemeral, weight: x.weight, clusterName: x.clusterName, metadata: x.metadata,
    }, { ephemeral: true, weight: 3, clusterName: 'DEFAULT', metadata: { zone: 'r' } },
    `the instance re-registered from the beat JSON: ${JSON.stringify(x)}`);
    await call(c, 'deregisterInstance', c.deregisterInstance(svc, { ip, port: pe }));
  });
}

// ------------------------------------------------------------------ cluster

// Persistent flows with clients pointed at different members.
async function cluster(env, t) {
  const [n0, n1, n2] = env.nodes;
  const clients = async () => [
    await env.newClient([n0], { label: 'client@node0' }),
    await env.newClient([n1], { label: 'client@node1' }),
    await env.newClient([n2], { label: 'client@node2' }),
  ];

  await env.test(t, 'getServerStatus through every member', 30000, async () => {
    for (const c of await clients()) {
      assert.equal(await call(c, 'getServerStatus()', c.getServerStatus()), 'UP', c.label);
    }
  });

  await env.test(t, 'persistent: register via node0, getAllInstances via node1, selectInstances via node2, deregister via node1', 30000, async () => {
    const [c0, c1, c2] = await clients();
    await persistentFlow({ w: c0, r1: c1, r2: c2, n1, n2 });
  });

  await env.test(t, 'persistent: group and cluster names (write via node1, read via node2)', 30000, async () => {
    const [, c1, c2] = await clients();
    await groupClusterFlow({ w: c1, r: c2, n: n0 });
  });

  await env.test(t, 'subscribe via node2: UDP push for writes via node0 and node1', 30000, async () => {
    const [c0, c1, c2] = await clients();
    await subscribeFlow({ w1: c0, w2: c1, s: c2 });
  });

  await env.test(t, 'getServiceList via node2 after registering via node2', 30000, async () => {
    const [, , c2] = await clients();
    await serviceListFlow({ w: c2 });
  });
}

// ------------------------------------------------------------------ run

test(`locus against nacos-naming ${CLIENT_VERSION}`, { concurrency: true }, async (t) => {
  const suites = [
    ['standalone', Env.standalone, standalone],
    ['beats-keepalive', Env.standalone, keepalive],
    ['beats-close', Env.standalone, closing],
    ['beats-restart', Env.standalone, restart],
    ['cluster3', (name) => Env.cluster(name, 3), cluster],
    ['auth', Env.standaloneAuth, auth],
  ];
  await Promise.all(suites.map(([name, make, body]) =>
    t.test(name, { timeout: SUITE_MS }, suite(name, make, body))));
});
