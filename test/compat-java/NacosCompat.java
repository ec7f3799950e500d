/*
 * locus against the real Nacos Java client 2.4.3 (../shared/nacos-java): one
 * JVM runs every scenario in order against one standalone locusd, each with
 * its own clients, services and a time limit. The client speaks the Nacos 2.x
 * gRPC protocol on the HTTP port + 1000; this program checks what it sees and,
 * over plain HTTP (/nacos/v1/ns/instance/list), what the server holds.
 *
 *   java NacosCompat SERVER_ADDR WORK_DIR      run the scenarios
 *   java NacosCompat child SERVER_ADDR SERVICE GROUP IP PORT
 *                                              (the JVM the kill -9 scenario
 *                                              starts and kills)
 *
 * Output, one line each: "RUN <scenario>", "PASS <scenario> (N ms)", "FAIL
 * <scenario>: <reason>", "SKIP <scenario>: <why>", then "SUMMARY passed=N
 * failed=M skipped=K". Exit status 1 when a scenario failed.
 *
 * The runner (test/compat-java/runner.c) owns locusd. A scenario asks it for
 * something by printing "@@locusd <command>" and reading one line from stdin:
 * "@@ok" or "@@fail <reason>". Commands: "restart" (SIGTERM, start again, wait
 * until UP), "kill9" (the same with SIGKILL). stdin at EOF means the runner
 * is gone: the JVM exits.
 *
 * Environment: JAVA_COMPAT_FILTER=regex runs only the scenarios whose name
 * matches (the others print SKIP).
 *
 * Every instance is on 127.0.0.0/8. Every wait is bounded.
 */

import com.alibaba.nacos.api.NacosFactory;
import com.alibaba.nacos.api.PropertyKeyConst;
import com.alibaba.nacos.api.exception.NacosException;
import com.alibaba.nacos.api.naming.NamingService;
import com.alibaba.nacos.api.naming.pojo.Instance;
import com.alibaba.nacos.api.naming.pojo.ListView;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

public final class NacosCompat extends CompatBase {

    // ================================================================ scenarios

    /* The connection: ServerCheck, ConnectionSetup, SetupAck with
     * supportPersistentInstanceByGrpc; the client is UP. When this fails the
     * other scenarios are not run (each would wait for a connection). */
    static void connect(Ctx ctx) throws Exception {
        NamingService c = ctx.client();
        check(persistentByGrpc(c), "connected, but the client does not see "
                + "supportPersistentInstanceByGrpc in SetupAck");
        /* The instance the "no beats" scenario looks at near the end. */
        keeper = ctx.client();
        ctx.clients.remove(keeper);
        keeperId = connectionId(keeper);
        keeperSvc = uniq("keep");
        keeperInst = inst("127.0.0.81", nextPort());
        keeper.registerInstance(keeperSvc, "G-" + RUN_ID, keeperInst);
        keeperSince = System.currentTimeMillis();
    }

    static NamingService keeper;
    static String keeperId;
    static String keeperSvc;
    static Instance keeperInst;
    static long keeperSince;

    /* An instance over gRPC lives as long as its connection: no beats, yet
     * still listed and healthy after the beat timeout (15 s) and the delete
     * timeout (30 s); the connection (kept up by the client's idle
     * HealthCheckRequest) never changed. */
    static void noBeats(Ctx ctx) throws Exception {
        check(keeper != null, "not registered (the connect scenario did not get that far)");
        long wait = keeperSince + 32000 - System.currentTimeMillis();
        if (wait > 0) {
            Thread.sleep(wait);
        }
        String g = "G-" + RUN_ID;
        Map<String, JsonNode> hosts = httpHosts(null, g, keeperSvc);
        JsonNode h = hosts.get(addr(keeperInst));
        check(h != null, "%s gone %d ms after registration: %s", addr(keeperInst),
                System.currentTimeMillis() - keeperSince, hosts.keySet());
        check(h.path("healthy").asBoolean(false), "unhealthy %d ms after registration: %s",
                System.currentTimeMillis() - keeperSince, h);
        String id = connectionId(keeper);
        check(keeperId != null && keeperId.equals(id),
                "the connection changed meanwhile (reconnected): %s, then %s", keeperId, id);
        shutDown(keeper);
        keeper = null;
        serverHas("after the keeper's shutDown", CHANGE_MS, null, g, keeperSvc, set());
    }

    /* ConnectResetRequest through the admin API (GET /nacos/v2/core/loader/
     * reloadClient): each client reconnects on a new connection; its redo
     * registers its instance and subscribes again. */
    static void connectReset(Ctx ctx) throws Exception {
        NamingService s = ctx.client();
        NamingService w = ctx.client();
        String svc = uniq("reset");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);
        Instance e = inst("127.0.0.91", nextPort());
        w.registerInstance(svc, g, e);
        p.await("registered", CHANGE_MS, set(e));

        for (NamingService c : Arrays.asList(w, s)) {
            String label = c == w ? "the writer" : "the subscriber";
            String id = connectionId(c);
            JsonNode current = httpJson("GET", "/nacos/v2/core/loader/current",
                    Collections.emptyMap());
            check(current.has(id), "loader/current does not list %s's connection %s: %s", label,
                    id, current.fieldNames().hasNext() ? current.toString() : "{}");
            /* Nacos's Connection (metaInfo from the setup), and locus's own
             * count of what the connection holds. */
            JsonNode conn = current.get(id);
            JsonNode meta = conn.path("metaInfo");
            check("Nacos-Java-Client:v2.4.3".equals(meta.path("version").asText())
                    && meta.path("sdkSource").asBoolean(false)
                    && "sdk".equals(conn.path("labels").path("source").asText())
                    && "naming".equals(conn.path("labels").path("module").asText())
                    && id.equals(meta.path("connectionId").asText()),
                    "loader/current: %s's connection as listed: %s", label, conn);
            String holds = c == w ? "instances" : "subscriptions";
            check(conn.path("locus").path(holds).asInt(-1) == 1,
                    "loader/current: %s's connection holds %s %s, want 1: %s", label,
                    conn.path("locus").path(holds), holds, conn.path("locus"));
            String r = httpText("GET", "/nacos/v2/core/loader/reloadClient",
                    Collections.singletonMap("connectionId", id));
            check("success".equals(r.trim()), "loader/reloadClient answered %s", r);
            waitFor(label + " on a new connection after ConnectReset", REDO_MS,
                    () -> connectionId(c), x -> x != null && !x.equals(id));
            waitFor(label + "'s gRPC connection up", REDO_MS, () -> grpcUp(c), up -> up);
            serverHas("after " + label + "'s ConnectReset (its redo)", REDO_MS, null, g, svc,
                    set(e));
        }
        NamingService w2 = ctx.client();
        Instance f = inst("127.0.0.92", nextPort());
        w2.registerInstance(svc, g, f);
        p.await("a registration after the subscriber's ConnectReset", REDO_MS, set(e, f));
    }

    /* Big messages: a batch of 2,000 instances with metadata (a request of
     * several hundred KB, past HTTP/2's default 64 KB window and 16 KB
     * frames), the push and the query answer of the same size; and one
     * client subscribed to 100 services, each pushed its change. */
    static void large(Ctx ctx) throws Exception {
        NamingService s = ctx.client();
        NamingService w = ctx.client();
        String svc = uniq("large");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);
        List<Instance> batch = new ArrayList<>();
        Set<String> want = new TreeSet<>();
        for (int k = 0; k < 2000; k++) {
            Instance i = inst("127.0.1." + (1 + k % 250), 20000 + k);
            Map<String, String> meta = new HashMap<>();
            meta.put("index", String.valueOf(k));
            meta.put("padding", "x".repeat(100));
            i.setMetadata(meta);
            batch.add(i);
            want.add(addr(i));
        }
        w.batchRegisterInstance(svc, g, batch);
        List<Instance> l = p.await("the batch of 2000", CHANGE_MS, want);
        for (Instance i : l) {
            check(i.getMetadata().get("padding") != null, "metadata lost in the push: %s", i);
        }
        List<Instance> got = ctx.client().getAllInstances(svc, g, false);
        check(addrs(got).equals(want), "getAllInstances: %d instances, want 2000", got.size());
        check(httpAddrs(null, g, svc).equals(want), "instance/list: not the 2000");

        List<String> many = new ArrayList<>();
        List<Pushes> listeners = new ArrayList<>();
        for (int k = 0; k < 100; k++) {
            String name = uniq("many" + k);
            Pushes pk = new Pushes("subscriber of " + name);
            s.subscribe(name, g, pk);
            many.add(name);
            listeners.add(pk);
        }
        Instance one = inst("127.0.0.93", nextPort());
        for (String name : many) {
            w.registerInstance(name, g, one);
        }
        for (Pushes pk : listeners) {
            pk.await("registered", CHANGE_MS, set(one));
        }
        shutDown(w);
        p.await("the batch's client shut down", CHANGE_MS, set());
    }

    /* operator/metrics counts connection clients (connectionBasedClientCount)
     * as they come and go. */
    static void metrics(Ctx ctx) throws Exception {
        Map<String, String> p = new HashMap<>();
        p.put("onlyStatus", "false");
        Probe<Integer> count = () -> {
            JsonNode m = httpJson("GET", "/nacos/v1/ns/operator/metrics", p);
            JsonNode v = m.get("connectionBasedClientCount");
            check(v != null && v.isInt(), "no connectionBasedClientCount: %s", m);
            return v.asInt();
        };
        /* The previous scenario's connections are gone once the count holds
         * still. */
        int[] prev = {-1};
        int base = waitFor("connectionBasedClientCount settles", CHANGE_MS, () -> {
            Thread.sleep(300);
            return count.get();
        }, v -> {
            boolean same = v == prev[0];
            prev[0] = v;
            return same;
        });
        NamingService a = ctx.client();
        NamingService b = ctx.client();
        waitFor("two clients more than " + base, CHANGE_MS, count, v -> v == base + 2);
        shutDown(a);
        shutDown(b);
        waitFor("back to " + base + " after their shutDown", CHANGE_MS, count, v -> v == base);
    }

    /* A persistent instance's health, checked by the server over TCP, is
     * pushed: unhealthy when its port refuses, healthy again when it
     * listens. */
    static void persistentHealth(Ctx ctx) throws Exception {
        NamingService s = ctx.client();
        NamingService w = ctx.client();
        String svc = uniq("health");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = probe.getLocalPort(); /* refused once closed */
        }
        Instance i = inst("127.0.0.1", port);
        i.setEphemeral(false);
        w.registerInstance(svc, g, i);
        p.await("registered", CHANGE_MS, set(i));
        List<Instance> l = p.await("turned unhealthy (its port refuses)", HEALTH_MS,
                x -> addrs(x).equals(set(i)) && !x.get(0).isHealthy());
        check(s.selectInstances(svc, g, true).isEmpty(),
                "selectInstances(healthy) from the subscriber's cache: %s", show(l));
        ServerSocket ss = new ServerSocket();
        ss.setReuseAddress(true);
        ss.bind(new java.net.InetSocketAddress("127.0.0.1", port), 50);
        ctx.defer(ss);
        Thread t = new Thread(() -> {
            while (!ss.isClosed()) {
                try {
                    ss.accept().close();
                } catch (IOException e) {
                    /* closed */
                }
            }
        }, "live-" + port);
        t.setDaemon(true);
        t.start();
        p.await("healthy again (its port listens)", HEALTH_MS,
                x -> addrs(x).equals(set(i)) && x.get(0).isHealthy());
        w.deregisterInstance(svc, g, i);
        p.await("deregistered", CHANGE_MS, set());
    }

    /* registerInstance / deregisterInstance of an ephemeral instance; the
     * server holds it with the fields sent; another client reads it over
     * gRPC; shutDown (the connection closed) removes what is left. */
    static void ephemeral(Ctx ctx) throws Exception {
        NamingService c = ctx.client();
        NamingService q = ctx.client();
        String svc = uniq("eph");
        String g = "G-" + RUN_ID;
        Instance a = inst("127.0.0.11", nextPort());
        Map<String, String> meta = new HashMap<>();
        meta.put("app", "compat");
        meta.put("k", "v");
        a.setMetadata(meta);
        a.setWeight(2.5);
        a.setClusterName("c1");

        c.registerInstance(svc, g, a);
        serverHas("after registerInstance", CHANGE_MS, null, g, svc, set(a));
        JsonNode h = httpHosts(null, g, svc).get(addr(a));
        check(h.path("ephemeral").asBoolean(false), "listed ephemeral=false: %s", h);
        check(h.path("healthy").asBoolean(false), "listed unhealthy: %s", h);
        check(h.path("enabled").asBoolean(false), "listed disabled: %s", h);
        check(h.path("weight").asDouble() == 2.5, "listed weight not 2.5: %s", h);
        check("c1".equals(h.path("clusterName").asText()), "listed cluster not c1: %s", h);
        check("compat".equals(h.path("metadata").path("app").asText())
                && "v".equals(h.path("metadata").path("k").asText()),
                "listed metadata not {app=compat,k=v}: %s", h);

        List<Instance> got = q.getAllInstances(svc, g, false);
        check(addrs(got).equals(set(a)), "getAllInstances from another client: %s", show(got));
        Instance ga = got.get(0);
        check(ga.isEphemeral() && ga.isHealthy() && ga.isEnabled() && ga.getWeight() == 2.5
                && "c1".equals(ga.getClusterName()) && meta.equals(ga.getMetadata()),
                "getAllInstances: fields differ from what was registered: %s", show(got));

        c.deregisterInstance(svc, g, a);
        serverHas("after deregisterInstance", CHANGE_MS, null, g, svc, set());
        got = q.getAllInstances(svc, g, false);
        check(got.isEmpty(), "getAllInstances after deregister: %s", show(got));

        /* The same client registers again, then closes its connection. */
        Instance b = inst("127.0.0.12", nextPort());
        c.registerInstance(svc, g, b);
        serverHas("after the second registerInstance", CHANGE_MS, null, g, svc, set(b));
        shutDown(c);
        serverHas("after the registering client's shutDown", CHANGE_MS, null, g, svc, set());
    }

    /* One connection holds one publish per service: a second
     * registerInstance of the same service replaces the first, a
     * deregisterInstance removes it (Nacos 2.x). */
    static void replace(Ctx ctx) throws Exception {
        NamingService c = ctx.client();
        String svc = uniq("repl");
        String g = "G-" + RUN_ID;
        Instance a = inst("127.0.0.13", nextPort());
        Instance b = inst("127.0.0.14", nextPort());
        c.registerInstance(svc, g, a);
        serverHas("after register a", CHANGE_MS, null, g, svc, set(a));
        c.registerInstance(svc, g, b);
        serverHas("after register b on the same connection (replaces a)", CHANGE_MS, null, g, svc,
                set(b));
        /* deregisterInstance removes the connection's instance of the
         * service, whatever ip:port it names (2.4.3's
         * EphemeralClientOperationServiceImpl.deregisterInstance). */
        c.deregisterInstance(svc, g, inst("127.0.0.99", nextPort()));
        serverHas("after deregister of another ip:port on the same connection", CHANGE_MS, null,
                g, svc, set());
    }

    /* batchRegisterInstance, batchDeregisterInstance of part of the batch
     * (the client sends batchRegisterInstance with what remains). */
    static void batch(Ctx ctx) throws Exception {
        NamingService c = ctx.client();
        NamingService q = ctx.client();
        String svc = uniq("batch");
        String g = "G-" + RUN_ID;
        Instance a = inst("127.0.0.15", nextPort());
        Instance b = inst("127.0.0.16", nextPort());
        Instance d = inst("127.0.0.17", nextPort());
        Map<String, String> meta = Collections.singletonMap("batch", "yes");
        d.setMetadata(new HashMap<>(meta));

        c.batchRegisterInstance(svc, g, Arrays.asList(a, b, d));
        serverHas("after batchRegisterInstance", CHANGE_MS, null, g, svc, set(a, b, d));
        JsonNode h = httpHosts(null, g, svc).get(addr(d));
        check("yes".equals(h.path("metadata").path("batch").asText())
                && h.path("ephemeral").asBoolean(false),
                "batch instance listed as %s", h);
        List<Instance> got = q.getAllInstances(svc, g, false);
        check(addrs(got).equals(set(a, b, d)), "getAllInstances: %s", show(got));

        c.batchDeregisterInstance(svc, g, Collections.singletonList(b));
        serverHas("after batchDeregisterInstance of b", CHANGE_MS, null, g, svc, set(a, d));

        shutDown(c);
        serverHas("after the client's shutDown", CHANGE_MS, null, g, svc, set());
    }

    /* A persistent instance (ephemeral=false) over gRPC: the server must have
     * announced supportPersistentInstanceByGrpc so the client sends
     * PersistentInstanceRequest; the instance is stored through Raft, not
     * bound to the connection: it outlives the client. */
    static void persistent(Ctx ctx) throws Exception {
        NamingService c = ctx.client();
        check(persistentByGrpc(c), "the client does not see supportPersistentInstanceByGrpc in "
                + "SetupAck: it would send persistent instances over HTTP");
        String svc = uniq("pers");
        String g = "G-" + RUN_ID;
        Instance p = inst("127.0.0.1", liveListener(ctx));
        p.setEphemeral(false);
        p.setMetadata(new HashMap<>(Collections.singletonMap("kind", "persistent")));

        c.registerInstance(svc, g, p);
        serverHas("after registerInstance(persistent)", CHANGE_MS, null, g, svc, set(p));
        JsonNode h = httpHosts(null, g, svc).get(addr(p));
        check(!h.path("ephemeral").asBoolean(true), "listed ephemeral=true: %s", h);
        check("persistent".equals(h.path("metadata").path("kind").asText()),
                "listed metadata: %s", h);

        NamingService q = ctx.client();
        List<Instance> got = q.getAllInstances(svc, g, false);
        check(addrs(got).equals(set(p)) && !got.get(0).isEphemeral(),
                "getAllInstances: %s", show(got));

        /* Not bound to the connection. */
        shutDown(c);
        Thread.sleep(QUIET_MS);
        check(httpAddrs(null, g, svc).equals(set(p)),
                "a persistent instance went away with its client's connection: %s",
                httpAddrs(null, g, svc));

        /* Deregistered by another client (clientId ip:port#false). */
        q.deregisterInstance(svc, g, p);
        serverHas("after deregisterInstance(persistent) from another client", CHANGE_MS, null, g,
                svc, set());
    }

    /* What a request refused by the server looks like to the caller: a
     * NacosException with the server's code and message (an ephemeral
     * instance into a persistent service, and the reverse). */
    static void refused(Ctx ctx) throws Exception {
        String g = "G-" + RUN_ID;
        String psvc = uniq("only-persistent");
        String esvc = uniq("only-ephemeral");
        Instance p = inst("127.0.0.1", liveListener(ctx));
        p.setEphemeral(false);
        ctx.client().registerInstance(psvc, g, p);
        Instance e = inst("127.0.0.94", nextPort());
        ctx.client().registerInstance(esvc, g, e);
        serverHas("the persistent one", CHANGE_MS, null, g, psvc, set(p));
        serverHas("the ephemeral one", CHANGE_MS, null, g, esvc, set(e));

        Instance e2 = inst("127.0.0.95", nextPort());
        expectRefused("registerInstance(ephemeral) into a persistent service",
                () -> ctx.client().registerInstance(psvc, g, e2), 400,
                "Current service " + g + "@@" + psvc
                        + " is persistent service, can't register ephemeral instance.");
        expectRefused("batchRegisterInstance into a persistent service",
                () -> ctx.client().batchRegisterInstance(psvc, g, Arrays.asList(e2)), 400,
                "Current service " + g + "@@" + psvc
                        + " is persistent service, can't batch register ephemeral instance.");
        Instance p2 = inst("127.0.0.1", liveListener(ctx));
        p2.setEphemeral(false);
        expectRefused("registerInstance(persistent) into an ephemeral service",
                () -> ctx.client().registerInstance(esvc, g, p2), 400,
                "Current service " + g + "@@" + esvc
                        + " is ephemeral service, can't register persistent instance.");
        serverHas("the persistent service unchanged", CHANGE_MS, null, g, psvc, set(p));
        serverHas("the ephemeral service unchanged", CHANGE_MS, null, g, esvc, set(e));
    }

    interface Call {
        void run() throws Exception;
    }

    static void expectRefused(String what, Call call, int code, String message) {
        try {
            call.run();
        } catch (NacosException ex) {
            check(ex.getErrCode() == code && ex.getErrMsg() != null
                    && ex.getErrMsg().contains(message),
                    "%s: NacosException %d \"%s\", want %d with \"%s\"", what, ex.getErrCode(),
                    ex.getErrMsg(), code, message);
            return;
        } catch (Exception ex) {
            throw new Failure(what + ": " + describe(ex) + ", want NacosException " + code);
        }
        throw new Failure(what + ": accepted, want NacosException " + code + " \"" + message
                + "\"");
    }

    /* getAllInstances and selectInstances(healthy) with clusters: a healthy,
     * an unhealthy and a disabled instance from three connections. Queries
     * (ServiceQueryRequest, HTTP instance/list) and subscriptions leave
     * disabled instances out (Nacos's enableOnly). */
    static void select(Ctx ctx) throws Exception {
        String svc = uniq("sel");
        String g = "G-" + RUN_ID;
        Instance a = inst("127.0.0.21", nextPort());
        a.setClusterName("c1");
        Instance b = inst("127.0.0.22", nextPort());
        b.setClusterName("c2");
        b.setHealthy(false);
        Instance d = inst("127.0.0.23", nextPort());
        d.setClusterName("c1");
        d.setEnabled(false);
        Instance e = inst("127.0.0.24", nextPort());
        e.setClusterName("c1");
        ctx.client().registerInstance(svc, g, a);
        ctx.client().registerInstance(svc, g, b);
        ctx.client().registerInstance(svc, g, d);
        ctx.client().registerInstance(svc, g, e);
        serverHas("after four registrations (one disabled)", CHANGE_MS, null, g, svc,
                set(a, b, e));
        JsonNode hb = httpHosts(null, g, svc).get(addr(b));
        check(!hb.path("healthy").asBoolean(true), "registered healthy=false, listed %s", hb);

        NamingService q = ctx.client();
        List<Instance> got = q.getAllInstances(svc, g, false);
        check(addrs(got).equals(set(a, b, e)), "getAllInstances: %s", show(got));
        for (Instance i : got) {
            boolean healthy = !addr(i).equals(addr(b));
            check(i.isHealthy() == healthy && i.isEnabled(),
                    "getAllInstances: health or enabled wrong: %s", show(got));
        }
        got = q.selectInstances(svc, g, true, false);
        check(addrs(got).equals(set(a, e)), "selectInstances(healthy=true): %s", show(got));
        got = q.selectInstances(svc, g, false, false);
        check(addrs(got).equals(set(b)), "selectInstances(healthy=false): %s", show(got));
        got = q.getAllInstances(svc, g, Collections.singletonList("c1"), false);
        check(addrs(got).equals(set(a, e)), "getAllInstances(clusters=[c1]): %s", show(got));
        got = q.getAllInstances(svc, g, Arrays.asList("c2", "nope"), false);
        check(addrs(got).equals(set(b)), "getAllInstances(clusters=[c2,nope]): %s", show(got));
        got = q.selectInstances(svc, g, Arrays.asList("c1", "c2"), true, false);
        check(addrs(got).equals(set(a, e)), "selectInstances(clusters=[c1,c2], healthy): %s",
                show(got));
        got = q.getAllInstances(uniq("none"), g, false);
        check(got.isEmpty(), "getAllInstances of a service that does not exist: %s", show(got));

        /* subscribe=true: the subscription's answer, enabled instances only
         * as well (2.4.3's SubscribeServiceRequestHandler and
         * PushExecutorRpcImpl select with enableOnly), then the client's own
         * filter for selectInstances. */
        got = q.getAllInstances(svc, g, true);
        check(addrs(got).equals(set(a, b, e)), "getAllInstances(subscribe=true): %s",
                show(got));
        got = q.selectInstances(svc, g, true, true);
        check(addrs(got).equals(set(a, e)), "selectInstances(healthy=true, subscribe=true): %s",
                show(got));
    }

    /* subscribe: a push for every change (register from two connections,
     * deregister, a metadata update), then unsubscribe: no more. */
    static void subscribe(Ctx ctx) throws Exception {
        NamingService s = ctx.client();
        NamingService w1 = ctx.client();
        NamingService w2 = ctx.client();
        String svc = uniq("sub");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);

        Instance a = inst("127.0.0.31", nextPort());
        Instance b = inst("127.0.0.32", nextPort());
        w1.registerInstance(svc, g, a);
        p.await("register a", CHANGE_MS, set(a));
        w2.registerInstance(svc, g, b);
        p.await("register b", CHANGE_MS, set(a, b));
        /* A disabled instance is never pushed (2.4.3 pushes enabled ones). */
        Instance c = inst("127.0.0.35", nextPort());
        c.setEnabled(false);
        ctx.client().registerInstance(svc, g, c);
        serverHas("register c (disabled)", CHANGE_MS, null, g, svc, set(a, b));
        p.expectNoneWith("the disabled c registered", QUIET_MS, c);
        w1.deregisterInstance(svc, g, a);
        p.await("deregister a", CHANGE_MS, set(b));

        /* Same ip:port again with new metadata: the push carries it. */
        Instance b2 = inst(b.getIp(), b.getPort());
        b2.setMetadata(new HashMap<>(Collections.singletonMap("version", "2")));
        w2.registerInstance(svc, g, b2);
        List<Instance> l = p.await("metadata of b updated", CHANGE_MS,
                x -> addrs(x).equals(set(b)) && "2".equals(x.get(0).getMetadata().get("version")));
        check(l.size() == 1, "pushed %s", show(l));

        /* The client's cache follows the pushes. */
        List<Instance> cached = s.getAllInstances(svc, g);
        check(addrs(cached).equals(set(b)), "subscriber's getAllInstances (cache): %s",
                show(cached));

        w2.deregisterInstance(svc, g, b2);
        p.await("deregister b (empty list)", CHANGE_MS, set());

        s.unsubscribe(svc, g, p);
        p.drain();
        w1.registerInstance(svc, g, a);
        serverHas("register a after unsubscribe", CHANGE_MS, null, g, svc, set(a));
        p.expectNone("after unsubscribe", QUIET_MS);
    }

    /* Churn: five connections re-register (replace) their instance 40 times
     * each, as fast as they can, concurrently; the subscriber's pushes
     * (merged, in order: the client drops one older than what it holds)
     * end at the final set, as does the server's list. */
    static void churn(Ctx ctx) throws Exception {
        NamingService s = ctx.client();
        String svc = uniq("churn");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);
        List<NamingService> writers = new ArrayList<>();
        for (int k = 0; k < 5; k++) {
            writers.add(ctx.client());
        }
        Set<String> fin = new TreeSet<>();
        List<Thread> threads = new ArrayList<>();
        List<String> errors = Collections.synchronizedList(new ArrayList<>());
        for (int k = 0; k < writers.size(); k++) {
            NamingService w = writers.get(k);
            String ip = "127.0.2." + (k + 1);
            fin.add(ip + ":" + (30000 + 39));
            Thread t = new Thread(() -> {
                try {
                    for (int n = 0; n < 40; n++) {
                        w.registerInstance(svc, g, inst(ip, 30000 + n));
                    }
                } catch (Exception e) {
                    errors.add(describe(e));
                }
            }, "churn-" + k);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join(20000);
            check(!t.isAlive(), "a writer still registering after 20 s");
        }
        check(errors.isEmpty(), "registerInstance failed: %s", errors);
        serverHas("after the churn", CHANGE_MS, null, g, svc, fin);
        p.await("the final set", CHANGE_MS, fin);
        p.expectNone("after the final set", QUIET_MS);
        List<Instance> cached = s.getAllInstances(svc, g);
        check(addrs(cached).equals(fin), "the subscriber's cache: %s", show(cached));
    }

    /* One naming core under both APIs: instances registered and removed
     * over HTTP (v1 Open API) are pushed to a gRPC subscriber and listed by
     * a gRPC query, next to one registered over gRPC. */
    static void mixed(Ctx ctx) throws Exception {
        NamingService s = ctx.client();
        String svc = uniq("mixed");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);
        Instance viaGrpc = inst("127.0.0.96", nextPort());
        ctx.client().registerInstance(svc, g, viaGrpc);
        p.await("registered over gRPC", CHANGE_MS, set(viaGrpc));

        Instance viaHttp = inst("127.0.0.97", nextPort());
        Map<String, String> params = new HashMap<>();
        params.put("serviceName", svc);
        params.put("groupName", g);
        params.put("ip", viaHttp.getIp());
        params.put("port", String.valueOf(viaHttp.getPort()));
        /* Ephemeral as the service; nobody beats for it, which is fine for
         * the 15 s before it would turn unhealthy. */
        params.put("ephemeral", "true");
        String r = httpText("POST", "/nacos/v1/ns/instance", params);
        check("ok".equals(r.trim()), "POST /nacos/v1/ns/instance answered %s", r);
        p.await("registered over HTTP", CHANGE_MS, set(viaGrpc, viaHttp));
        List<Instance> got = ctx.client().getAllInstances(svc, g, false);
        check(addrs(got).equals(set(viaGrpc, viaHttp)), "getAllInstances: %s", show(got));

        r = httpText("DELETE", "/nacos/v1/ns/instance", params);
        check("ok".equals(r.trim()), "DELETE /nacos/v1/ns/instance answered %s", r);
        p.await("deregistered over HTTP", CHANGE_MS, set(viaGrpc));
    }

    /* Two subscribers of one service on two connections, one with a
     * cluster filter: each is pushed only its clusters. (One connection
     * holds one subscription per service in Nacos: two filters of one
     * service on one client would share a subscriber.) */
    static void subscribeClusters(Ctx ctx) throws Exception {
        NamingService s1 = ctx.client();
        NamingService s2 = ctx.client();
        NamingService w1 = ctx.client();
        NamingService w2 = ctx.client();
        String svc = uniq("subc");
        String g = "G-" + RUN_ID;
        Pushes all = new Pushes("subscriber(all clusters)");
        Pushes c1 = new Pushes("subscriber(clusters=[c1])");
        s1.subscribe(svc, g, all);
        s2.subscribe(svc, g, Collections.singletonList("c1"), c1);
        Instance a = inst("127.0.0.33", nextPort());
        a.setClusterName("c1");
        Instance b = inst("127.0.0.34", nextPort());
        b.setClusterName("c2");
        w1.registerInstance(svc, g, a);
        w2.registerInstance(svc, g, b);
        all.await("register a (c1) and b (c2)", CHANGE_MS, set(a, b));
        c1.await("register a (c1) and b (c2)", CHANGE_MS, set(a));
    }

    /* The server lists the gRPC subscriber (GET /nacos/v1/ns/service/
     * subscribers, as Nacos 2.x's SubscribeManager), and not after
     * unsubscribe. */
    static void subscribersHttp(Ctx ctx) throws Exception {
        NamingService s = ctx.client();
        String svc = uniq("subs");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);
        Map<String, String> params = new HashMap<>();
        /* Nacos reads the group from a grouped serviceName here only. */
        params.put("serviceName", g + "@@" + svc);
        params.put("namespaceId", "public");
        JsonNode r = waitFor("subscribers lists the gRPC subscriber", CHANGE_MS,
                () -> httpJson("GET", "/nacos/v1/ns/service/subscribers", params),
                x -> x.path("count").asInt() == 1);
        /* Subscriber(clientIp from the setup's metadata, clientVersion, ...). */
        JsonNode sub = r.path("subscribers").path(0);
        check("127.0.0.1".equals(sub.path("ip").asText())
                && "Nacos-Java-Client:v2.4.3".equals(sub.path("agent").asText())
                && (g + "@@" + svc).equals(sub.path("serviceName").asText()),
                "the subscriber as listed: %s", sub);
        s.unsubscribe(svc, g, p);
        waitFor("subscribers empty after unsubscribe", CHANGE_MS,
                () -> httpJson("GET", "/nacos/v1/ns/service/subscribers", params),
                x -> x.path("count").asInt() == 0);
    }

    /* getServicesOfServer(pageNo, pageSize, group): count, paging, bare
     * names, only the group asked for. */
    static void serviceList(Ctx ctx) throws Exception {
        NamingService c = ctx.client();
        String g = uniq("GL");
        String other = uniq("GO");
        Set<String> want = names(uniq("s1"), uniq("s2"), uniq("s3"));
        for (String svc : want) {
            c.registerInstance(svc, g, inst("127.0.0.41", nextPort()));
        }
        c.registerInstance(uniq("o1"), other, inst("127.0.0.42", nextPort()));
        ListView<String> p1 = c.getServicesOfServer(1, 2, g);
        ListView<String> p2 = c.getServicesOfServer(1 + 1, 2, g);
        check(p1.getCount() == 3, "getServicesOfServer(1, 2, group).count = %d (data %s), want 3",
                p1.getCount(), p1.getData());
        check(p1.getData().size() == 2, "page 1 of size 2: %s", p1.getData());
        check(p2.getData().size() == 1, "page 2 of size 2: %s", p2.getData());
        Set<String> got = new TreeSet<>(p1.getData());
        got.addAll(p2.getData());
        check(got.equals(want), "pages 1 and 2: %s + %s, want %s", p1.getData(), p2.getData(),
                want);
        ListView<String> one = c.getServicesOfServer(1, 10, other);
        check(one.getCount() == 1 && one.getData().size() == 1
                && one.getData().get(0).startsWith("o1-"),
                "the other group: %d %s", one.getCount(), one.getData());
        ListView<String> none = c.getServicesOfServer(1, 10, uniq("GN"));
        check(none.getCount() == 0 && none.getData().isEmpty(),
                "a group without services: %d %s", none.getCount(), none.getData());
    }

    /* Two namespaces do not see each other; nor do two groups; a subscriber
     * in one namespace is not pushed another's change. */
    static void namespaces(Ctx ctx) throws Exception {
        String nsA = uniq("ns-a");
        String nsB = uniq("ns-b");
        NamingService a = ctx.client(nsA);
        NamingService b = ctx.client(nsB);
        NamingService pub = ctx.client();
        String svc = uniq("nssvc");
        String g1 = "G1-" + RUN_ID;
        String g2 = "G2-" + RUN_ID;
        Pushes pb = new Pushes("subscriber in " + nsB);
        b.subscribe(svc, g1, pb);
        /* (The subscription's answer holds no instance: the client makes no
         * event of it, 2.4's InstancesDiff has nothing added.) */

        Instance ia = inst("127.0.0.51", nextPort());
        Instance ib = inst("127.0.0.52", nextPort());
        Instance ia2 = inst("127.0.0.53", nextPort());
        a.registerInstance(svc, g1, ia);
        a.registerInstance(svc, g2, ia2);
        serverHas(nsA + "/" + g1, CHANGE_MS, nsA, g1, svc, set(ia));
        serverHas(nsA + "/" + g2, CHANGE_MS, nsA, g2, svc, set(ia2));
        serverHas(nsB + " before its registration", CHANGE_MS, nsB, g1, svc, set());
        pb.expectNone("a registration in " + nsA, QUIET_MS);
        b.registerInstance(svc, g1, ib);
        pb.await("registration in its own namespace", CHANGE_MS, set(ib));
        serverHas(nsB + "/" + g1, CHANGE_MS, nsB, g1, svc, set(ib));
        serverHas("public/" + g1, CHANGE_MS, null, g1, svc, set());

        List<Instance> got = a.getAllInstances(svc, g1, false);
        check(addrs(got).equals(set(ia)), "%s getAllInstances %s: %s", nsA, g1, show(got));
        got = a.getAllInstances(svc, g2, false);
        check(addrs(got).equals(set(ia2)), "%s getAllInstances %s: %s", nsA, g2, show(got));
        got = b.getAllInstances(svc, g1, false);
        check(addrs(got).equals(set(ib)), "%s getAllInstances %s: %s", nsB, g1, show(got));
        got = b.getAllInstances(svc, g2, false);
        check(got.isEmpty(), "%s getAllInstances %s: %s", nsB, g2, show(got));
        got = pub.getAllInstances(svc, g1, false);
        check(got.isEmpty(), "public getAllInstances %s: %s", g1, show(got));

        ListView<String> la = a.getServicesOfServer(1, 10, g1);
        check(la.getCount() == 1 && la.getData().equals(Collections.singletonList(svc)),
                "%s getServicesOfServer(%s): %d %s", nsA, g1, la.getCount(), la.getData());
        ListView<String> lp = pub.getServicesOfServer(1, 10, g1);
        check(!lp.getData().contains(svc), "public getServicesOfServer(%s) lists %s's %s: %s",
                g1, nsA, svc, lp.getData());
    }

    /* A client JVM killed with -9: its TCP connection closes, the server
     * removes its instance and pushes the change to a subscriber. */
    static void killedClient(Ctx ctx) throws Exception {
        NamingService s = ctx.client();
        String svc = uniq("kill");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);
        Instance mine = inst("127.0.0.61", nextPort());
        Instance theirs = inst("127.0.0.62", nextPort());
        ctx.client().registerInstance(svc, g, mine);
        p.await("own instance", CHANGE_MS, set(mine));

        Process child = startChild(ctx, serverAddr, svc, g, theirs);
        p.await("the child JVM's instance", CHANGE_MS, set(mine, theirs));
        serverHas("child registered", CHANGE_MS, null, g, svc, set(mine, theirs));

        long t0 = System.currentTimeMillis();
        child.destroyForcibly(); /* SIGKILL */
        check(child.waitFor(5, TimeUnit.SECONDS), "child JVM still alive 5 s after SIGKILL");
        p.await("the killed JVM's instance removed", KILL_MS, set(mine));
        long ms = System.currentTimeMillis() - t0;
        serverHas("after kill -9", CHANGE_MS, null, g, svc, set(mine));
        System.out.println("  (kill -9 to push of the removal: " + ms + " ms)");
    }

    /* locusd restarted: every client reconnects; its redo registers its
     * instance again and subscribes again (pushes resume); the persistent
     * instance was kept by Raft. */
    static void restart(Ctx ctx) throws Exception {
        restartWith(ctx, "restart");
    }

    /* The same after SIGKILL: no GOAWAY, the kernel closes the connections;
     * Raft's log on disk still holds the persistent instance. */
    static void crash(Ctx ctx) throws Exception {
        restartWith(ctx, "kill9");
    }

    static void restartWith(Ctx ctx, String command) throws Exception {
        NamingService s = ctx.client();
        NamingService w = ctx.client();
        NamingService pw = ctx.client();
        String svc = uniq("restart");
        String psvc = uniq("restart-p");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);
        Instance e = inst("127.0.0.71", nextPort());
        w.registerInstance(svc, g, e);
        p.await("before the restart", CHANGE_MS, set(e));
        Instance pers = inst("127.0.0.1", liveListener(ctx));
        pers.setEphemeral(false);
        pw.registerInstance(psvc, g, pers);
        serverHas("persistent before the restart", CHANGE_MS, null, g, psvc, set(pers));

        askRunner(command, 60000);

        serverHas("after the restart (the writer's redo)", REDO_MS, null, g, svc, set(e));
        serverHas("persistent after the restart", CHANGE_MS, null, g, psvc, set(pers));
        waitFor("the subscriber's gRPC connection up again", REDO_MS, () -> grpcUp(s),
                up -> up);

        /* A change after the restart reaches the subscriber: its redo
         * subscribed again. */
        NamingService w2 = ctx.client();
        Instance f = inst("127.0.0.72", nextPort());
        w2.registerInstance(svc, g, f);
        p.await("a registration after the restart", REDO_MS, set(e, f));
        w.deregisterInstance(svc, g, e);
        p.await("a deregistration after the restart", CHANGE_MS, set(f));
        pw.deregisterInstance(psvc, g, pers);
        serverHas("persistent deregistered after the restart", CHANGE_MS, null, g, psvc, set());
    }

    // ================================================================ main

    interface Body {
        void run(Ctx ctx) throws Exception;
    }

    static final class Scenario {
        final String name;
        final long ms;
        final Body body;

        Scenario(String name, long ms, Body body) {
            this.name = name;
            this.ms = ms;
            this.body = body;
        }
    }

    static List<Scenario> scenarios() {
        return Arrays.asList(
                new Scenario("connect: ServerCheck, ConnectionSetup, SetupAck", 20000,
                        NacosCompat::connect),
                new Scenario("ephemeral register, list, deregister, shutDown", 40000,
                        NacosCompat::ephemeral),
                new Scenario("one instance per service and connection: replace, deregister", 30000,
                        NacosCompat::replace),
                new Scenario("batchRegisterInstance, batchDeregisterInstance", 30000,
                        NacosCompat::batch),
                new Scenario("persistent instance over gRPC", 30000, NacosCompat::persistent),
                new Scenario("refused: ephemeral vs persistent service (NacosException 400)",
                        30000, NacosCompat::refused),
                new Scenario("getAllInstances, selectInstances(healthy), clusters", 30000,
                        NacosCompat::select),
                new Scenario("subscribe: a push per change; unsubscribe: none", 40000,
                        NacosCompat::subscribe),
                new Scenario("subscribe with clusters", 30000, NacosCompat::subscribeClusters),
                new Scenario("HTTP registrations pushed to gRPC subscribers", 30000,
                        NacosCompat::mixed),
                new Scenario("subscribe under churn: pushes end at the final set", 60000,
                        NacosCompat::churn),
                new Scenario("HTTP service/subscribers lists gRPC subscribers", 30000,
                        NacosCompat::subscribersHttp),
                new Scenario("getServicesOfServer(pageNo, pageSize, group)", 30000,
                        NacosCompat::serviceList),
                new Scenario("namespaces and groups are separate", 30000,
                        NacosCompat::namespaces),
                new Scenario("persistent instance health changes pushed", 90000,
                        NacosCompat::persistentHealth),
                new Scenario("operator/metrics counts gRPC connections", 30000,
                        NacosCompat::metrics),
                new Scenario("large batch and push (2,000 instances), 100 subscriptions", 60000,
                        NacosCompat::large),
                new Scenario("ConnectReset (loader/reloadClient): reconnect and redo", 60000,
                        NacosCompat::connectReset),
                new Scenario("client JVM killed with -9: removal pushed", 60000,
                        NacosCompat::killedClient),
                new Scenario("gRPC instance without beats outlives the beat timeouts", 50000,
                        NacosCompat::noBeats),
                new Scenario("locusd restarted: reconnect, redo, pushes resume", 90000,
                        NacosCompat::restart),
                new Scenario("locusd killed with -9 and started: the same", 90000,
                        NacosCompat::crash));
    }

    /* Run @s in its own thread, bounded by its time limit; return null when
     * it passed, else why not. A thread stuck past the limit is left behind
     * (a daemon): the JVM exits at the end anyway. */
    static String runOne(Scenario s) {
        return runOne(s.ms, s.body);
    }

    static String runOne(long limitMs, Body body) {
        FutureTask<Void> task = new FutureTask<>(() -> {
            try (Ctx ctx = new Ctx()) {
                body.run(ctx);
            }
            return null;
        });
        Thread t = new Thread(task, "scenario");
        t.setDaemon(true);
        t.start();
        try {
            task.get(limitMs, TimeUnit.MILLISECONDS);
            return null;
        } catch (TimeoutException e) {
            StackTraceElement[] st = t.getStackTrace();
            StringBuilder where = new StringBuilder();
            for (int i = 0; i < st.length && where.length() < 400; i++) {
                if (st[i].getClassName().startsWith("NacosCompat")) {
                    where.append(" at ").append(st[i]);
                }
            }
            task.cancel(true);
            return "did not finish within " + limitMs + " ms;" + where;
        } catch (ExecutionException e) {
            return describe(e.getCause());
        } catch (InterruptedException e) {
            return "interrupted";
        }
    }

    /* The JVM the kill -9 scenario starts: registers one ephemeral instance,
     * prints READY, waits until killed (or until its stdin closes: the parent
     * is gone). */
    static void child(String[] args) throws Exception {
        serverAddr = args[1];
        startStdinReader(true);
        try {
            Properties p = new Properties();
            p.setProperty(PropertyKeyConst.SERVER_ADDR, serverAddr);
            NamingService ns = NacosFactory.createNamingService(p);
            ns.registerInstance(args[2], args[3], inst(args[4], Integer.parseInt(args[5])));
        } catch (Exception e) {
            System.out.println("ERROR " + describe(e));
            System.out.flush();
            Runtime.getRuntime().halt(1);
        }
        System.out.println("READY");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 6 && args[0].equals("child")) {
            child(args);
            return;
        }
        if (args.length != 2) {
            System.err.println("usage: java NacosCompat SERVER_ADDR WORK_DIR");
            System.exit(2);
        }
        serverAddr = args[0];
        workDir = args[1];
        startStdinReader(true);
        String filter = System.getenv("JAVA_COMPAT_FILTER");
        Pattern only = filter == null || filter.isEmpty() ? null : Pattern.compile(filter);
        int passed = 0;
        int failed = 0;
        int skipped = 0;
        String cannot = null;
        for (Scenario s : scenarios()) {
            if (cannot != null) {
                System.out.println("FAIL " + s.name + ": not run: " + cannot);
                failed++;
                continue;
            }
            if (only != null && !only.matcher(s.name).find() && !s.name.startsWith("connect")) {
                System.out.println("SKIP " + s.name + ": JAVA_COMPAT_FILTER=" + filter);
                skipped++;
                continue;
            }
            System.out.println("RUN " + s.name);
            System.out.flush();
            long t0 = System.currentTimeMillis();
            String why = runOne(s);
            long ms = System.currentTimeMillis() - t0;
            if (why == null) {
                System.out.println("PASS " + s.name + " (" + ms + " ms)");
                passed++;
            } else {
                System.out.println("FAIL " + s.name + ": " + why.replace('\n', ' ') + " ("
                        + ms + " ms)");
                failed++;
                if (s.name.startsWith("connect")) {
                    cannot = "the client could not connect";
                }
            }
            System.out.flush();
        }
        System.out.println("SUMMARY passed=" + passed + " failed=" + failed + " skipped="
                + skipped);
        System.out.flush();
        Runtime.getRuntime().halt(failed > 0 ? 1 : 0);
    }
}
