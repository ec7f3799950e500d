// The npm client with auth on (nacos.core.auth.enabled=true, issue 12): the
// admin initialised once through POST /nacos/v1/auth/users/admin, a user
// with rw on the public namespace and one with r only, made through the
// user, role and permission endpoints; then clients with username/password
// (which the npm client sends as query params on every call, §8.4)
// register, list and subscribe, while clients without credentials, with a
// wrong password or without the permission are refused with Nacos's 403s
// and change nothing.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { uniq, httpRaw, httpForm, listHosts, sleep } = require('./harness');
const { G, call, key, brief, closedPort, subscribeFlow } = require('./flows');

const ip = '127.0.0.1';

// Nacos's AuthFilter refusal: 403, Spring's error JSON with the message.
function assertDenied(r, message, what) {
  assert.equal(r.status, 403, `${what}: ${r.status} ${r.text}`);
  assert.ok(r.json && r.json.status === 403 && r.json.error === 'Forbidden' &&
    r.json.message === message && typeof r.json.path === 'string' && 'timestamp' in r.json,
  `${what}: want Spring's 403 JSON with message "${message}", got ${r.text}`);
}

// A RestResult success ({"code":200,...}) of a user-management endpoint.
function assertRestOk(r, data, what) {
  assert.ok(r.status === 200 && r.json && r.json.code === 200 && r.json.data === data,
    `${what}: want {"code":200,...,"data":"${data}"}, got ${r.status} ${r.text}`);
}

// The client's last refusal as its logger saw it ("... code: 403 msg: ...").
function lastRefusal(c) {
  return c.lines.filter((l) => l.includes(' code: ')).at(-1) || '(none)';
}

async function login(node, username, password) {
  return httpForm(node, 'POST', '/nacos/v1/auth/login', { username }, { password });
}

async function auth(env, t) {
  const node = env.nodes[0];
  const s = {}; // what the tests share: tokens, users, passwords
  const pw = () => crypto.randomBytes(9).toString('base64');
  // instance/list as the admin (the tests' own view of the server).
  const list = (grouped) => listHosts(node, grouped, { accessToken: s.admin });

  await env.test(t, 'auth on: admin init once, login, users/roles/permissions through the endpoints', 30000, async () => {
    assertDenied(await httpRaw(node, 'GET', '/nacos/v1/ns/instance/list', { serviceName: `${G}@@x` }),
      'user not found!', 'instance/list before any user exists');
    const r = await httpForm(node, 'POST', '/nacos/v1/auth/users/admin', {}, {});
    assert.ok(r.status === 200 && r.json && r.json.username === 'nacos' &&
      typeof r.json.password === 'string' && r.json.password.length >= 8,
    `admin init with no password: want {"username":"nacos","password":<generated>}, got ${r.status} ${r.text}`);
    const again = await httpForm(node, 'POST', '/nacos/v1/auth/users/admin', {}, { password: pw() });
    assert.ok(again.status === 200 && again.json && again.json.code === 409 &&
      again.json.data === 'have admin user cannot use it',
    `admin init a second time: want code 409 "have admin user cannot use it", got ${again.status} ${again.text}`);

    const bad = await login(node, 'nacos', r.json.password + 'x');
    assert.equal(`${bad.status} ${bad.text.trim()}`, '403 user not found!', 'login with a wrong password');
    const l = await login(node, 'nacos', r.json.password);
    assert.ok(l.status === 200 && l.json && typeof l.json.accessToken === 'string' &&
      l.json.globalAdmin === true && l.json.username === 'nacos' &&
      l.json.tokenTtl > 17900 && l.json.tokenTtl <= 18000,
    `login as the admin: ${l.status} ${l.text}`);
    s.admin = l.json.accessToken;

    s.appPw = pw();
    s.roPw = pw();
    s.targetPw = pw();
    const tok = { accessToken: s.admin };
    assertRestOk(await httpForm(node, 'POST', '/nacos/v1/auth/users', { username: 'app', ...tok },
      { password: s.appPw }), 'create user ok!', 'create user app');
    assertRestOk(await httpForm(node, 'POST', '/nacos/v1/auth/users', { username: 'ro', ...tok },
      { password: s.roPw }), 'create user ok!', 'create user ro');
    assertRestOk(await httpRaw(node, 'POST', '/nacos/v1/auth/roles',
      { role: 'ROLE_APP', username: 'app', ...tok }), 'add role ok!', 'add ROLE_APP to app');
    assertRestOk(await httpRaw(node, 'POST', '/nacos/v1/auth/roles',
      { role: 'ROLE_RO', username: 'ro', ...tok }), 'add role ok!', 'add ROLE_RO to ro');
    // The wrong-password test's user: its failed checks count against it
    // (brute-force limit per user), not against app.
    assertRestOk(await httpForm(node, 'POST', '/nacos/v1/auth/users', { username: 'target', ...tok },
      { password: s.targetPw }), 'create user ok!', 'create user target');
    assertRestOk(await httpRaw(node, 'POST', '/nacos/v1/auth/roles',
      { role: 'ROLE_APP', username: 'target', ...tok }), 'add role ok!', 'add ROLE_APP to target');
    assertRestOk(await httpRaw(node, 'POST', '/nacos/v1/auth/permissions',
      { role: 'ROLE_APP', resource: ':*:*', action: 'rw', ...tok }), 'add permission ok!', 'rw on public to ROLE_APP');
    assertRestOk(await httpRaw(node, 'POST', '/nacos/v1/auth/permissions',
      { role: 'ROLE_RO', resource: ':*:*', action: 'r', ...tok }), 'add permission ok!', 'r on public to ROLE_RO');
    // Only an admin manages users.
    const a = await login(node, 'app', s.appPw);
    assert.ok(a.status === 200 && a.json && a.json.globalAdmin === false, `login as app: ${a.status} ${a.text}`);
    assertDenied(await httpRaw(node, 'POST', '/nacos/v1/auth/roles',
      { role: 'ROLE_ADMIN2', username: 'app', accessToken: a.json.accessToken }),
    'authorization failed!', 'app adding a role');
  });

  await env.test(t, 'with username/password: register, list, getAllInstances, deregister', 30000, async () => {
    assert.ok(s.admin, 'the users were not made (the first test failed)');
    const c = await env.newClient([node], { label: 'app', username: 'app', password: s.appPw });
    const svc = uniq('auth');
    const grouped = `${G}@@${svc}`;
    const port = await closedPort();
    await call(c, 'registerInstance', c.registerInstance(svc, { ip, port, metadata: { who: 'app' } }));
    const hosts = await list(grouped);
    assert.deepEqual(hosts.map(key), [`${ip}:${port}`], `listed after register: ${brief(hosts)}`);
    const all = await call(c, 'getAllInstances', c.getAllInstances(svc, G, '', false));
    assert.deepEqual(all.map(key), [`${ip}:${port}`], `getAllInstances: ${brief(all)}`);
    // A reader with r only: lists, cannot write.
    const ro = await env.newClient([node], { label: 'ro', username: 'ro', password: s.roPw });
    const seen = await call(ro, 'getAllInstances', ro.getAllInstances(svc, G, '', false));
    assert.deepEqual(seen.map(key), [`${ip}:${port}`], `getAllInstances as ro: ${brief(seen)}`);
    const p2 = await closedPort();
    await assert.rejects(call(ro, 'registerInstance', ro.registerInstance(svc, { ip, port: p2 })),
      /failed to req API/, 'ro registering');
    assert.match(lastRefusal(ro), /code: 403 .*authorization failed!/, 'the refusal ro saw');
    await call(c, 'deregisterInstance', c.deregisterInstance(svc, { ip, port }));
    assert.deepEqual((await list(grouped)).map(key), [], 'after deregister');
  });

  await env.test(t, 'with username/password: subscribe, UDP pushes for changes', 30000, async () => {
    assert.ok(s.admin, 'the users were not made (the first test failed)');
    const opts = (label) => ({ label, username: 'app', password: s.appPw });
    const w1 = await env.newClient([node], opts('writer1'));
    const w2 = await env.newClient([node], opts('writer2'));
    const sub = await env.newClient([node], opts('subscriber'));
    await subscribeFlow({ w1, w2, s: sub });
  });

  const refused = async (label, opts, message) => {
    const c = await env.newClient([node], { label, ...opts });
    const svc = uniq('denied');
    const grouped = `${G}@@${svc}`;
    // A service that exists, with one instance, so that a refused read is
    // not an empty answer by chance.
    const w = await env.newClient([node], { label: 'owner', username: 'app', password: s.appPw });
    const p0 = await closedPort();
    await call(w, 'registerInstance', w.registerInstance(svc, { ip, port: p0 }));

    const port = await closedPort();
    await assert.rejects(call(c, 'registerInstance', c.registerInstance(svc, { ip, port })),
      /failed to req API/, `${label} registering`);
    assert.match(lastRefusal(c), new RegExp(`code: 403 .*${message}`), `the refusal ${label} saw`);
    await assert.rejects(call(c, 'deregisterInstance', c.deregisterInstance(svc, { ip, port: p0 })),
      /failed to req API/, `${label} deregistering the owner's instance`);
    // Reads: the client swallows the refusal (logs it) and has nothing.
    const all = await call(c, 'getAllInstances', c.getAllInstances(svc, G, '', false).catch((e) => e));
    assert.ok(all instanceof Error || (Array.isArray(all) && all.length === 0),
      `getAllInstances as ${label}: ${all instanceof Error ? all.message : brief(all)}`);
    // A subscription gets no list and no push.
    const calls = [];
    c.subscribe({ serviceName: svc }, (hosts) => calls.push(hosts.map(key)));
    await call(w, 'registerInstance', w.registerInstance(svc, { ip, port: port + 1 }));
    await sleep(2000);
    assert.ok(calls.every((k) => k.length === 0), `${label}'s listener was given hosts: ${JSON.stringify(calls)}`);
    assert.ok(!c.pushes.some((x) => x.data && x.data.name === grouped),
      `${label} got a UDP push of ${grouped}: ${JSON.stringify(c.pushes)}`);
    // Nothing changed: the owner's instances only.
    const hosts = await list(grouped);
    assert.deepEqual(hosts.map(key).sort(), [`${ip}:${p0}`, `${ip}:${port + 1}`].sort(),
      `the server after ${label}'s attempts: ${brief(hosts)}`);
    // And the raw answer, as Nacos's AuthFilter gives it.
    const q = { serviceName: grouped, ip, port: String(port), ...(opts.username ? { username: opts.username, password: opts.password } : {}) };
    assertDenied(await httpRaw(node, 'POST', '/nacos/v1/ns/instance', q), message, `POST instance as ${label}`);
    // Stop its polls and beats: each failed password check counts against
    // the user and 127.0.0.1 (brute-force limits).
    await call(c, 'close()', c.close());
  };

  await env.test(t, 'without credentials: refused (403 user not found!), nothing changes', 30000, async () => {
    assert.ok(s.admin, 'the users were not made (the first test failed)');
    await refused('anonymous', {}, 'user not found!');
  });

  await env.test(t, 'wrong password: refused (403 user not found!), nothing changes', 30000, async () => {
    assert.ok(s.admin, 'the users were not made (the first test failed)');
    await refused('wrong-password', { username: 'target', password: s.targetPw + 'x' }, 'user not found!');
    // The right password still works afterwards (under the per-user limit).
    const l = await login(node, 'target', s.targetPw);
    assert.equal(l.status, 200, `target's login after the wrong passwords: ${l.status} ${l.text}`);
  });

  await env.test(t, 'unknown user: refused as a wrong password (no user enumeration)', 30000, async () => {
    assert.ok(s.admin, 'the users were not made (the first test failed)');
    await refused('unknown-user', { username: 'nobody', password: s.appPw }, 'user not found!');
  });
}

module.exports = { auth };
