// The client flows the suites run, written once for a standalone node and
// for a cluster (where writer, readers and subscriber talk to different
// members). Each step waits with a bound and fails saying what it expected
// and what it saw.
'use strict';

const assert = require('node:assert/strict');
const net = require('node:net');

const { waitFor, within, sleep, uniq, listHosts, clientIP } = require('./harness');

const G = 'DEFAULT_GROUP';
const CALL_MS = 10000; // one client call (its own retries can take 30 s)

const key = (h) => `${h.ip}:${h.port}`;
const keys = (hosts) => (hosts || []).map(key).sort();
const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
const brief = (hosts) => (hosts || [])
  .map((h) => `${key(h)}${h.healthy ? '' : '(unhealthy)'}${h.ephemeral ? '(ephemeral)' : ''}`)
  .sort().join(', ') || '(none)';

// Bound a client call. The client answers a refused request with "failed
// to req API ... after all servers tried"; the server's answer is in its
// last warning, which is added to the message.
async function call(client, what, promise) {
  try {
    return await within(CALL_MS, `${client.label}.${what}`, promise);
  } catch (e) {
    const last = (client.lines || []).filter((l) => l.includes(' code: ')).at(-1);
    if (last) e.message += ` (last refusal: ${last})`;
    throw e;
  }
}

// A port that accepts TCP connections (healthy, should locus ever run
// Nacos's TCP health check on persistent instances) and one that refuses.
async function listeningPort(env) {
  const s = net.createServer((c) => c.destroy());
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', resolve);
  });
  env.defer(() => new Promise((r) => s.close(r)));
  return s.address().port;
}

async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// A subscribe listener recording every call as sorted ip:port keys.
function recorder(label) {
  const fn = (hosts) => fn.calls.push({ at: Date.now(), keys: keys(hosts), hosts });
  fn.calls = [];
  fn.label = label;
  return fn;
}

async function waitCall(rec, want, from, timeout, why) {
  return waitFor(`${rec.label} called with [${want}] (${why})`, () => {
    const c = rec.calls.slice(from).find((x) => same(x.keys, want));
    return { ok: !!c, seen: `calls: ${JSON.stringify(rec.calls.map((x) => x.keys))}` };
  }, { timeout, interval: 50 });
}

// Wait for a UDP 'dom' push of grouped to client with exactly want hosts,
// among the packets received since index from.
async function waitPush(client, grouped, want, from, timeout, why) {
  const pushes = await waitFor(`UDP push of ${grouped} with [${want}] to ${client.label} (${why})`, () => {
    const p = client.pushes.slice(from).find((x) => x.type === 'dom' && x.data &&
      x.data.name === grouped && same(keys(x.data.hosts), want));
    return {
      ok: !!p,
      p,
      seen: `${client.pushes.length - from} packets: ` + JSON.stringify(client.pushes.slice(from)
        .map((x) => ({ type: x.type, name: x.data && x.data.name, hosts: x.data && keys(x.data.hosts), error: x.error }))),
    };
  }, { timeout, interval: 50 });
  return pushes.p;
}

// ------------------------------------------------------------------ persistent

// Register two persistent instances through w (A healthy, weight 2,
// metadata; B registered unhealthy), read them back through r1
// (getAllInstances) and r2 (selectInstances healthy true/false), deregister
// B through r1 and A through w. n1, n2: the nodes r1, r2 talk to.
async function persistentFlow({ w, r1, r2, n1, n2 }) {
  const env = w.env;
  const svc = uniq('persist');
  const grouped = `${G}@@${svc}`;
  const ip = '127.0.0.1';
  const pa = await listeningPort(env);
  const pb = await closedPort();
  const A = `${ip}:${pa}`;
  const B = `${ip}:${pb}`;
  const meta = { zone: 'a', 'k.k': 'v v' };

  await call(w, 'registerInstance(A)', w.registerInstance(svc,
    { ip, port: pa, ephemeral: false, weight: 2, metadata: meta }));
  await call(w, 'registerInstance(B)', w.registerInstance(svc,
    { ip, port: pb, ephemeral: false, healthy: false }));

  // r1: direct reads until its node has both (a follower may apply later).
  const got = await waitFor(`${r1.label}.getAllInstances(${svc}, subscribe=false) lists [${A}, ${B}]`,
    async () => {
      const hosts = await call(r1, 'getAllInstances', r1.getAllInstances(svc, G, '', false));
      return { ok: same(keys(hosts), [A, B].sort()), seen: brief(hosts), hosts };
    }, { timeout: 5000 });
  const a = got.hosts.find((h) => key(h) === A);
  const b = got.hosts.find((h) => key(h) === B);
  const pick = (h) => ({
    instanceId: h.instanceId, ip: h.ip, port: h.port, weight: h.weight, healthy: h.healthy,
    enabled: h.enabled, ephemeral: h.ephemeral, clusterName: h.clusterName,
    serviceName: h.serviceName, metadata: h.metadata,
  });
  assert.deepEqual(pick(a), {
    instanceId: `${ip}#${pa}#DEFAULT#${grouped}`, ip, port: pa, weight: 2, healthy: true,
    enabled: true, ephemeral: false, clusterName: 'DEFAULT', serviceName: grouped, metadata: meta,
  }, `instance A as getAllInstances returns it: ${JSON.stringify(a)}`);
  assert.equal(b.healthy, false, `B was registered healthy=false: ${JSON.stringify(b)}`);
  assert.equal(b.weight, 1, `B's default weight: ${JSON.stringify(b)}`);

  // The default (subscribing, cached) path of getAllInstances.
  const cached = await call(r1, 'getAllInstances', r1.getAllInstances(svc));
  assert.deepEqual(keys(cached), [A, B].sort(), `getAllInstances(subscribe=true): ${brief(cached)}`);

  // r2: selectInstances, default subscribe=true; wait until its node has both first.
  await waitFor(`${n2.name} lists [${A}, ${B}]`, async () => {
    const hosts = await listHosts(n2, grouped);
    return { ok: same(keys(hosts), [A, B].sort()), seen: brief(hosts) };
  }, { timeout: 5000 });
  const healthy = await call(r2, 'selectInstances(healthy)', r2.selectInstances(svc, G, '', true));
  assert.deepEqual(keys(healthy), [A], `selectInstances(healthy=true): ${brief(healthy)}`);
  const unhealthy = await call(r2, 'selectInstances(unhealthy)', r2.selectInstances(svc, G, '', false));
  assert.deepEqual(keys(unhealthy), [B], `selectInstances(healthy=false): ${brief(unhealthy)}`);

  // Deregister B through another client than the one that registered it.
  await call(r1, 'deregisterInstance(B)', r1.deregisterInstance(svc,
    { ip, port: pb, ephemeral: false }));
  await waitFor(`${n2.name} lists only [${A}] after deregistering B`, async () => {
    const hosts = await listHosts(n2, grouped);
    return { ok: same(keys(hosts), [A]), seen: brief(hosts) };
  }, { timeout: 5000 });
  // w's node may be a third member that applies the deregistration a
  // heartbeat later: direct reads until it has.
  await waitFor(`${w.label}.getAllInstances after deregistering B lists only [${A}]`, async () => {
    const left = await call(w, 'getAllInstances', w.getAllInstances(svc, G, '', false));
    return { ok: same(keys(left), [A]), seen: brief(left) };
  }, { timeout: 5000 });

  // Deregister the last one. The client ignores an empty host list (its
  // cache keeps the old one), so the empty service is checked over HTTP.
  await call(w, 'deregisterInstance(A)', w.deregisterInstance(svc,
    { ip, port: pa, ephemeral: false }));
  await waitFor(`${n1.name} lists no instance of ${svc} after deregistering A and B`, async () => {
    const hosts = await listHosts(n1, grouped);
    return { ok: hosts.length === 0, seen: brief(hosts) };
  }, { timeout: 5000 });
}

// Group and cluster names: register into group COMPAT_G, cluster c1; the
// cluster filter and the group reach the server as the client sends them.
async function groupClusterFlow({ w, r, n }) {
  const svc = uniq('grouped');
  const group = 'COMPAT_G';
  const ip = '127.0.0.1';
  const port = await closedPort();
  await call(w, 'registerInstance', w.registerInstance(svc,
    { ip, port, ephemeral: false, clusterName: 'c1' }, group));
  const got = await waitFor(`${r.label}.getAllInstances(${svc}, ${group}, c1) lists ${ip}:${port}`, async () => {
    const hosts = await call(r, 'getAllInstances', r.getAllInstances(svc, group, 'c1', false));
    return { ok: hosts.length === 1, seen: brief(hosts), hosts };
  }, { timeout: 5000 });
  const h = got.hosts[0];
  assert.equal(h.clusterName, 'c1', `clusterName: ${JSON.stringify(h)}`);
  assert.equal(h.serviceName, `${group}@@${svc}`, `serviceName: ${JSON.stringify(h)}`);
  assert.equal(h.instanceId, `${ip}#${port}#c1#${group}@@${svc}`, `instanceId: ${JSON.stringify(h)}`);
  const other = await call(r, 'getAllInstances', r.getAllInstances(svc, group, 'c2', false));
  assert.deepEqual(keys(other), [], `cluster c2 of ${svc}: ${brief(other)}`);
  const dflt = await listHosts(n, `${G}@@${svc}`);
  assert.deepEqual(keys(dflt), [], `${svc} in ${G} (registered in ${group}): ${brief(dflt)}`);
  await call(w, 'deregisterInstance', w.deregisterInstance(svc,
    { ip, port, ephemeral: false, clusterName: 'c1' }, group));
  await waitFor(`${n.name} lists nothing in ${group}@@${svc} after deregister`, async () => {
    const hosts = await listHosts(n, `${group}@@${svc}`);
    return { ok: hosts.length === 0, seen: brief(hosts) };
  }, { timeout: 5000 });
}

// ------------------------------------------------------------------ push

// s subscribes (its node pushes to it over UDP); w1 and w2 write.
// Listener L1 gets the initial list, then the pushed change; after L1 is
// unsubscribed, L2 (still subscribed) sees the next changes and L1 does not.
async function subscribeFlow({ w1, w2, s }) {
  const env = w1.env;
  assert.ok(clientIP(), 'this host has no non-loopback IPv4 address: the npm client ' +
    'sends it as clientIP (its UDP push target), so it can receive no push here');
  const svc = uniq('push');
  const grouped = `${G}@@${svc}`;
  const ip = '127.0.0.1';
  const [pa, pb, pc] = [await listeningPort(env), await closedPort(), await closedPort()];
  const [A, B, C] = [pa, pb, pc].map((p) => `${ip}:${p}`);
  const reg = (c, port) => call(c, `registerInstance(${port})`,
    c.registerInstance(svc, { ip, port, ephemeral: false }));
  const dereg = (c, port) => call(c, `deregisterInstance(${port})`,
    c.deregisterInstance(svc, { ip, port, ephemeral: false }));

  await reg(w1, pa);
  const L1 = recorder('listener L1');
  const L2 = recorder('listener L2');
  const t0 = Date.now();
  s.subscribe({ serviceName: svc }, L1);
  await waitCall(L1, [A], 0, 5000, 'the first call, from the query subscribe sends');

  // The client polls 1 s after subscribing, then every cacheMillis (10 s):
  // from here to t0 + 11 s, only a push can bring a change.
  await sleep(Math.max(0, t0 + 1500 - Date.now()));
  let p = s.pushes.length;
  let n = L1.calls.length;
  await reg(w2, pb);
  const push = await waitPush(s, grouped, [A, B].sort(), p, 5000, `after registering ${B} through ${w2.label}`);
  assert.equal(push.data.clusters, 'DEFAULT', `pushed clusters (subscribe asked for DEFAULT): ${JSON.stringify(push.data)}`);
  await waitCall(L1, [A, B].sort(), n, 1000, `the push after registering ${B}`);

  // Unsubscribe L1 while L2 stays.
  s.subscribe({ serviceName: svc }, L2);
  await waitCall(L2, [A, B].sort(), 0, 2000, 'the cached list, right after subscribing');
  s.unSubscribe({ serviceName: svc }, L1);
  const l1Calls = L1.calls.length;
  p = s.pushes.length;
  n = L2.calls.length;
  await reg(w1, pc);
  await waitPush(s, grouped, [A, B, C].sort(), p, 5000, `after registering ${C} through ${w1.label}`);
  await waitCall(L2, [A, B, C].sort(), n, 1000, `the push after registering ${C}`);
  await sleep(300);
  assert.equal(L1.calls.length, l1Calls, `L1 was called after unSubscribe: ${JSON.stringify(L1.calls.slice(l1Calls).map((c) => c.keys))}`);

  // A removal is pushed too.
  p = s.pushes.length;
  n = L2.calls.length;
  await dereg(w2, pb);
  await waitPush(s, grouped, [A, C].sort(), p, 5000, `after deregistering ${B} through ${w2.label}`);
  await waitCall(L2, [A, C].sort(), n, 1000, `the push after deregistering ${B}`);
  assert.ok(Date.now() < t0 + 11000, 'the flow took past the client\'s next poll: pushes and polls cannot be told apart');

  s.unSubscribe({ serviceName: svc }, L2);
  await dereg(w1, pa);
  await dereg(w1, pc);
}

// ------------------------------------------------------------------ service list

// getServiceList is not a method of NacosNamingClient 2.6.x; its proxy has
// it and sends GET /nacos/v1/ns/service/list (pageNo, pageSize, groupName).
async function serviceListFlow({ w }) {
  const group = uniq('G');
  const s1 = uniq('list-a');
  const s2 = uniq('list-b');
  const ip = '127.0.0.1';
  for (const svc of [s1, s2]) {
    await call(w, 'registerInstance', w.registerInstance(svc,
      { ip, port: 7000, ephemeral: false }, group));
  }
  const page = await call(w, 'getServiceList', w._serverProxy.getServiceList(1, 10, group));
  assert.equal(page.count, 2, `service/list count for group ${group}: ${JSON.stringify(page)}`);
  assert.deepEqual([...page.data].sort(), [s1, s2].sort(), `service/list doms: ${JSON.stringify(page)}`);
  const p1 = await call(w, 'getServiceList', w._serverProxy.getServiceList(1, 1, group));
  const p2 = await call(w, 'getServiceList', w._serverProxy.getServiceList(2, 1, group));
  assert.equal(p1.count, 2, `pageSize 1, page 1: ${JSON.stringify(p1)}`);
  assert.equal(p1.data.length + p2.data.length, 2, `pages 1 and 2 of size 1: ${JSON.stringify([p1, p2])}`);
  assert.deepEqual([...p1.data, ...p2.data].sort(), [s1, s2].sort(), `pages 1 and 2 of size 1: ${JSON.stringify([p1, p2])}`);
  const none = await call(w, 'getServiceList', w._serverProxy.getServiceList(1, 10, uniq('G')));
  assert.deepEqual({ count: none.count, data: none.data }, { count: 0, data: [] }, 'an unknown group');
  for (const svc of [s1, s2]) {
    await call(w, 'deregisterInstance', w.deregisterInstance(svc,
      { ip, port: 7000, ephemeral: false }, group));
  }
}

module.exports = {
  G, CALL_MS, key, keys, same, brief, call, listeningPort, closedPort, recorder, waitCall, waitPush,
  persistentFlow, groupClusterFlow, subscribeFlow, serviceListFlow,
};
