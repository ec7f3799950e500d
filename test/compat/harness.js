// Harness for the compatibility tests: real locusd processes on loopback
// ports with temporary data directories, real nacos-naming clients, bounded
// waits that fail with what was expected and what was seen.
//
// Every process started here is killed when the run ends, also when a test
// fails or the runner is interrupted (SIGKILL on 'exit'; SIGKILL from the
// kernel through setpriv --pdeathsig when the runner itself dies).
'use strict';

const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');

const { NacosNamingClient } = require('nacos-naming');
const nacosUtil = require('nacos-naming/lib/util');

const REPO = path.resolve(__dirname, '..', '..');
const START_MS = 20000; // a node must be UP within this (ASan builds are slow)
const HTTP_MS = 3000; // raw HTTP requests from the tests
const LOG_TAIL = 30; // lines of each node log shown with a failure

// ------------------------------------------------------------------ misc

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function locusdPath() {
  if (process.env.LOCUSD) return path.resolve(process.env.LOCUSD);
  const build = process.env.BUILD || 'build';
  return path.resolve(REPO, build, 'locusd');
}

function show(v) {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v);
  } catch (_) {
    return util.inspect(v);
  }
}

// Poll fn() until it returns a truthy value (returned). On timeout throw
// "<what>: not within N ms; last seen: <last value or error>". fn may return
// {ok, seen} to choose what is shown.
async function waitFor(what, fn, { timeout = 10000, interval = 200 } = {}) {
  const end = Date.now() + timeout;
  let seen = '(nothing yet)';
  for (;;) {
    try {
      const v = await fn();
      if (v && typeof v === 'object' && 'ok' in v) {
        if (v.ok) return v;
        seen = v.seen;
      } else if (v) {
        return v;
      } else {
        seen = v;
      }
    } catch (e) {
      seen = 'error: ' + e.message;
    }
    if (Date.now() >= end) {
      throw new Error(`${what}: not within ${timeout} ms; last seen: ${show(seen)}`);
    }
    await sleep(interval);
  }
}

// Reject after ms with a message; used to bound every awaited client call.
function within(ms, what, promise) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

function uniq(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

// ------------------------------------------------------------------ ports

// The allocator of test/support/ports.c (its header says more): a main
// port P in 11000-31000, below the kernel's ephemeral range, such that P,
// P - 1000 (raft), P + 1000 and P + 1001 (gRPC) are free on 127.0.0.1 for
// TCP, reserved by holding a UDP socket bound on each until releasePort(P)
// (locusd uses only TCP on them). Every allocator checks UDP too, so no one
// else takes them meanwhile: not another suite of this run (suites start
// concurrently), not a C test binary, not another checkout's tests.
const PORT_MIN = 11000;
const PORT_MAX = 31000;
const COMPANIONS = [0, -1000, 1000, 1001];
const held = new Map(); // main port -> its UDP sockets

function tcpFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

// A UDP socket bound on 127.0.0.1:port (not keeping the process alive), or
// null when the port is taken.
function udpHold(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    s.once('error', () => {
      try {
        s.close();
      } catch (_) {
        /* never bound */
      }
      resolve(null);
    });
    s.bind({ port, address: '127.0.0.1', exclusive: true }, () => {
      s.unref();
      resolve(s);
    });
  });
}

async function reservePort() {
  for (let attempt = 0; attempt < 2000; attempt++) {
    const p = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN + 1));
    const holds = [];
    let ok = true;
    for (const off of COMPANIONS) {
      // The UDP hold first: once it is ours, no other allocator takes the
      // port while we check TCP.
      const s = await udpHold(p + off);
      if (s) holds.push(s);
      if (!s || !(await tcpFree(p + off))) {
        ok = false;
        break;
      }
    }
    if (ok) {
      held.set(p, holds);
      return p;
    }
    holds.forEach((s) => s.close());
  }
  throw new Error(`no free loopback ports for locusd in ${PORT_MIN}-${PORT_MAX} after 2000 tries`);
}

function releasePort(p) {
  (held.get(p) || []).forEach((s) => s.close());
  held.delete(p);
}

// ------------------------------------------------------------------ processes

const live = new Set(); // Locusd objects with a running process

process.on('exit', () => {
  for (const n of live) {
    try {
      process.kill(n.proc.pid, 'SIGKILL');
    } catch (_) {
      /* already gone */
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => process.exit(130));
}

let setprivOk = null;
function haveSetpriv() {
  if (setprivOk === null) {
    const r = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true']);
    setprivOk = r.status === 0;
  }
  return setprivOk;
}

// One locusd process: its port, data directory, log file and arguments.
class Locusd {
  constructor({ name, port, dataDir, log, args }) {
    this.name = name;
    this.port = port;
    this.dataDir = dataDir;
    this.logPath = log;
    this.args = args;
    this.proc = null;
    this.exits = []; // descriptions of every exit, for messages
  }

  get addr() {
    return `127.0.0.1:${this.port}`;
  }

  start() {
    assert.equal(this.proc, null, `${this.name} is already running`);
    const bin = locusdPath();
    if (!fs.existsSync(bin)) {
      throw new Error(`no locusd at ${bin} (run make, or set LOCUSD)`);
    }
    const fd = fs.openSync(this.logPath, 'a');
    const [cmd, argv] = haveSetpriv()
      ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', bin, ...this.args]]
      : [bin, this.args];
    const proc = spawn(cmd, argv, { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    this.proc = proc;
    live.add(this);
    proc.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        live.delete(this);
        const why = signal ? `killed by ${signal}` : `exit status ${code}`;
        this.exits.push(why);
        if (this.proc === proc) this.proc = null;
        resolve({ code, signal, why });
      });
    });
    proc.once('error', (e) => this.exits.push(`spawn error: ${e.message}`));
    return this;
  }

  // Wait until operator/metrics says UP; fail early if the process exits.
  async waitUp(timeout = START_MS) {
    const proc = this.proc;
    assert.ok(proc, `${this.name} is not running`);
    let seen = '(no answer)';
    const end = Date.now() + timeout;
    while (Date.now() < end) {
      if (this.proc !== proc) {
        throw new Error(`${this.name} (${this.addr}) exited while starting ` +
          `(${this.exits.at(-1)}); log tail:\n${this.logTail()}`);
      }
      try {
        const r = await httpRaw(this, 'GET', '/nacos/v1/ns/operator/metrics', {}, 1000);
        seen = `${r.status} ${r.text}`;
        if (r.status === 200 && r.json && r.json.status === 'UP') return;
      } catch (e) {
        seen = e.message;
      }
      await sleep(100);
    }
    throw new Error(`${this.name} (${this.addr}) not UP within ${timeout} ms; ` +
      `last metrics answer: ${seen}; log tail:\n${this.logTail()}`);
  }

  // SIGTERM (SIGKILL after 10 s); returns a problem string or ''.
  async stop() {
    const proc = this.proc;
    if (!proc) return '';
    proc.kill('SIGTERM');
    const r = await Promise.race([proc.exited, sleep(10000).then(() => null)]);
    if (r === null) {
      proc.kill('SIGKILL');
      await proc.exited;
      return `${this.name} did not exit within 10 s of SIGTERM (killed)`;
    }
    return r.code === 0 ? '' : `${this.name} did not stop cleanly on SIGTERM: ${r.why}`;
  }

  async kill() {
    const proc = this.proc;
    if (!proc) return;
    proc.kill('SIGKILL');
    await proc.exited;
  }

  logText() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch (_) {
      return '';
    }
  }

  logTail(n = LOG_TAIL) {
    const lines = this.logText().split('\n');
    return lines.slice(-n - 1).map((l) => `    | ${l}`).join('\n');
  }

  sanitizerReport() {
    const t = this.logText();
    return ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:']
      .some((s) => t.includes(s));
  }
}

// ------------------------------------------------------------------ HTTP

// One HTTP request to a node (parameters in the query string, as the npm
// client sends them; no keep-alive). Returns {status, text, json, url};
// throws on no answer within timeout.
function httpRaw(node, method, p, params = {}, timeout = HTTP_MS) {
  const qs = new URLSearchParams(params).toString();
  const pathQs = `${p}${qs ? '?' + qs : ''}`;
  const url = `http://${node.addr}${pathQs}`;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: node.port, method, path: pathQs, agent: false, timeout,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => reject(new Error(`${method} ${url}: ${e.message}`)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch (_) {
          json = undefined;
        }
        resolve({ status: res.statusCode, text, json, url });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
    req.on('error', (e) => reject(new Error(`${method} ${url}: ${e.code || e.message}`)));
    req.end();
  });
}

// A request with the query params in the URL and the form params in an
// application/x-www-form-urlencoded body (as the Java client logs in: the
// username in the query, the password in the body). Same answer as httpRaw.
function httpForm(node, method, p, query = {}, form = {}, timeout = HTTP_MS) {
  const qs = new URLSearchParams(query).toString();
  const pathQs = `${p}${qs ? '?' + qs : ''}`;
  const url = `http://${node.addr}${pathQs}`;
  const body = Buffer.from(new URLSearchParams(form).toString());
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: node.port, method, path: pathQs, agent: false, timeout,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => reject(new Error(`${method} ${url}: ${e.message}`)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch (_) {
          json = undefined;
        }
        resolve({ status: res.statusCode, text, json, url });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
    req.on('error', (e) => reject(new Error(`${method} ${url}: ${e.code || e.message}`)));
    req.end(body);
  });
}

// instance/list straight from a node (no client cache). Returns the hosts
// array; throws with the answer unless 200.
async function listHosts(node, grouped, extra = {}) {
  const r = await httpRaw(node, 'GET', '/nacos/v1/ns/instance/list',
    { serviceName: grouped, namespaceId: 'public', ...extra });
  if (r.status !== 200 || !r.json || !Array.isArray(r.json.hosts)) {
    throw new Error(`GET ${r.url} -> ${r.status} ${r.text}`);
  }
  return r.json.hosts;
}

// ------------------------------------------------------------------ clients

// A nacos-naming client for serverList, with a logger that records every
// line, a count of beats sent and of the intervals the server returned.
async function newClient(env, serverList, opts = {}) {
  const lines = [];
  const rec = (level) => (...args) => {
    const text = util.format(...args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : a)));
    lines.push(`${new Date().toISOString()} ${level} ${text}`);
    if (process.env.COMPAT_CLIENT_LOG) console.error(`[client] ${level} ${text}`);
  };
  const logger = {
    debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error'),
  };
  const client = new NacosNamingClient({
    logger,
    serverList: serverList.map((n) => (typeof n === 'string' ? n : n.addr)).join(','),
    ...opts,
  });
  client.lines = lines;
  client.env = env;
  client.label = opts.label || 'client';
  client._hostReactor.on('error', (e) => lines.push(`hostReactor error: ${e.message}`));
  // Count the beats (the client never logs a successful one).
  const proxy = client._serverProxy;
  const sendBeat = proxy.sendBeat.bind(proxy);
  client.beats = [];
  proxy.sendBeat = async (info) => {
    const interval = await sendBeat(info);
    client.beats.push({ at: Date.now(), ip: info.ip, port: info.port, interval });
    return interval;
  };
  // The UDP packets this client received, decoded as the client decodes
  // them: {at, from, type, data (the parsed ServiceInfo for 'dom')}.
  client.pushes = [];
  const receiver = client._hostReactor._pushReceiver;
  const handle = receiver._handlePushMessage.bind(receiver);
  receiver._handlePushMessage = (msg, rinfo) => {
    const rec = { at: Date.now(), from: `${rinfo.address}:${rinfo.port}` };
    try {
      const packet = JSON.parse(nacosUtil.tryDecompress(msg).toString());
      rec.type = packet.type;
      rec.lastRefTime = packet.lastRefTime;
      rec.data = packet.type === 'dom' ? JSON.parse(packet.data) : packet.data;
    } catch (e) {
      rec.error = e.message;
    }
    client.pushes.push(rec);
    return handle(msg, rinfo);
  };
  env.clients.push(client);
  await within(5000, `${client.label}.ready()`, client.ready());
  return client;
}

// ------------------------------------------------------------------ env

// The nodes, clients and directory of one suite. Tests run through
// env.test() so a failure carries the node logs and client lines.
class Env {
  constructor(name) {
    this.name = name;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `locus-compat-${name}-`));
    this.nodes = [];
    this.clients = [];
    this.deferred = []; // cleanups run by down() before the nodes stop
    this.ports = []; // reserved main ports, released by down()
    this.failed = false;
  }

  defer(fn) {
    this.deferred.push(fn);
  }

  // Build and start an env with setup(env); when a node lost one of its
  // ports to a process outside the allocator (it exited, its log says
  // "cannot listen on"), start over on new ports, twice at most.
  static async started(name, setup) {
    for (let attempt = 1; ; attempt++) {
      const env = new Env(name);
      try {
        await setup(env);
        return env;
      } catch (e) {
        const lost = env.nodes.some((n) => !n.proc && n.logText().includes('cannot listen on'));
        const retry = lost && attempt < 3;
        env.failed = !retry; // keep the directory of a real failure
        await env.down().catch(() => {});
        if (!retry) throw e;
        console.error(`${name}: a node lost one of its ports to another process; starting over on new ports`);
      }
    }
  }

  // One standalone node.
  static standalone(name) {
    return Env.started(name, async (env) => {
      const port = await env.reservePort();
      const dataDir = path.join(env.dir, 'node0');
      const node = new Locusd({
        name: `${name}/node0`, port, dataDir, log: path.join(env.dir, 'node0.log'),
        args: ['--standalone', '--ip', '127.0.0.1', '--port', String(port), '--data-dir', dataDir],
      });
      env.nodes.push(node);
      node.start();
      await node.waitUp();
    });
  }

  // One standalone node with auth on (nacos.core.auth.enabled=true) and a
  // token secret made for this run (32 random bytes, base64), written to a
  // properties file only this user can read: env.secret.
  static standaloneAuth(name) {
    return Env.started(name, async (env) => {
      const port = await env.reservePort();
      const dataDir = path.join(env.dir, 'node0');
      env.secret = crypto.randomBytes(32).toString('base64');
      const conf = path.join(env.dir, 'node0.properties');
      fs.writeFileSync(conf, [
        '# written by test/compat/harness.js',
        'nacos.core.auth.enabled=true',
        `nacos.core.auth.plugin.nacos.token.secret.key=${env.secret}`,
        '',
      ].join('\n'), { mode: 0o600 });
      const node = new Locusd({
        name: `${name}/node0`, port, dataDir, log: path.join(env.dir, 'node0.log'),
        args: ['--standalone', '--conf', conf, '--ip', '127.0.0.1', '--port', String(port),
          '--data-dir', dataDir],
      });
      env.nodes.push(node);
      node.start();
      await node.waitUp();
    });
  }

  // An n-node cluster, configured as `locusctl cluster start` does it:
  // cluster.conf with every member, one properties file per node with the
  // shared secret (locus.cluster.secret) that authenticates raft peers.
  static cluster(name, n = 3) {
    return Env.started(name, async (env) => {
      const ports = [];
      for (let i = 0; i < n; i++) ports.push(await env.reservePort());
      const secret = crypto.randomBytes(32).toString('hex');
      const members = ports.map((p) => `127.0.0.1:${p}`);
      const clusterConf = path.join(env.dir, 'cluster.conf');
      fs.writeFileSync(clusterConf, members.join('\n') + '\n');
      for (let i = 0; i < n; i++) {
        const port = ports[i];
        const dataDir = path.join(env.dir, `node${i}`);
        const conf = path.join(env.dir, `node${i}.properties`);
        fs.writeFileSync(conf, [
          '# written by test/compat/harness.js',
          `server.port=${port}`,
          'nacos.inetutils.ip-address=127.0.0.1',
          'nacos.standalone=false',
          `locus.data.dir=${dataDir}`,
          `locus.cluster.secret=${secret}`,
          '',
        ].join('\n'), { mode: 0o600 });
        env.nodes.push(new Locusd({
          name: `${name}/node${i}`, port, dataDir, log: path.join(env.dir, `node${i}.log`),
          args: ['--conf', conf, '--cluster-conf', clusterConf],
        }));
      }
      for (const node of env.nodes) node.start();
      await Promise.all(env.nodes.map((node) => node.waitUp()));
    });
  }

  // A main port for one of this env's nodes, released by down().
  async reservePort() {
    const p = await reservePort();
    this.ports.push(p);
    return p;
  }

  newClient(serverList, opts) {
    return newClient(this, serverList, opts);
  }

  // What a failure message carries: each node's log tail, each client's
  // last lines.
  context() {
    const parts = [];
    for (const n of this.nodes) {
      parts.push(`  ${n.name} (${n.addr}, ${n.proc ? 'running' : 'stopped: ' + (n.exits.at(-1) || '?')}) log tail:\n${n.logTail()}`);
    }
    for (const c of this.clients) {
      const tail = c.lines.slice(-15).map((l) => `    | ${l}`).join('\n');
      parts.push(`  ${c.label} (${c.beats.length} beats, ${c.pushes.length} UDP packets) last lines:\n${tail}`);
    }
    parts.push(`  (logs in ${this.dir}, kept)`);
    return '\n' + parts.join('\n');
  }

  // Run one test as a subtest of t, bounded by ms; a failure gets context.
  test(t, name, ms, fn) {
    const filter = process.env.COMPAT_FILTER;
    if (filter && !new RegExp(filter).test(`${this.name} ${name}`)) {
      return t.test(name, { skip: `COMPAT_FILTER=${filter}` }, () => {});
    }
    return t.test(name, { timeout: ms + 15000 }, async () => {
      try {
        await within(ms, `test "${name}" as a whole`, fn());
      } catch (e) {
        this.failed = true;
        e.message += '\n' + this.context();
        throw e;
      }
    });
  }

  // Close clients, stop nodes (each must exit 0 on SIGTERM and have no
  // sanitizer report), remove the directory unless something failed or
  // LOCUS_TEST_KEEP is set. Throws with the problems found.
  async down() {
    for (const fn of this.deferred.splice(0)) {
      await within(5000, 'cleanup', Promise.resolve().then(fn)).catch(() => {});
    }
    for (const c of this.clients) {
      await within(5000, `${c.label}.close()`, c.close()).catch(() => {});
    }
    const problems = [];
    for (const n of this.nodes) {
      const p = await n.stop();
      if (p) problems.push(p);
      if (n.sanitizerReport()) problems.push(`${n.name}'s log has a sanitizer report`);
    }
    this.ports.splice(0).forEach(releasePort);
    if (problems.length) this.failed = true;
    if (!this.failed && !process.env.LOCUS_TEST_KEEP) {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
    if (problems.length) {
      throw new Error(problems.join('; ') + '\n' + this.context());
    }
  }
}

// A suite: start an env with make(), run body(env, t), always tear down.
// Skipped entirely when COMPAT_SUITES is set and does not match name.
function suite(name, make, body) {
  return async (t) => {
    const only = process.env.COMPAT_SUITES;
    if (only && !new RegExp(only).test(name)) {
      t.skip(`COMPAT_SUITES=${only}`);
      return;
    }
    const env = await make(name);
    try {
      await body(env, t);
    } finally {
      await env.down();
    }
  };
}

// The address the npm client reports as clientIP (its UDP push target):
// the first non-internal IPv4 address, from the 'address' package it uses.
function clientIP() {
  // eslint-disable-next-line global-require
  return require('address').ip();
}

module.exports = {
  Env, Locusd, suite, waitFor, within, sleep, uniq, httpRaw, httpForm, listHosts, clientIP, show,
};
