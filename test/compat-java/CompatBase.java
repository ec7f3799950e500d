/*
 * What the scenarios of NacosCompat stand on: failures that carry what was
 * expected and what was seen, names and instances, the Nacos clients of a
 * scenario (released when it ends), bounded waits, the events a listener
 * was given, the server's view over HTTP, a TCP listener that keeps a
 * persistent instance healthy, and the line protocol with the runner.
 * Everything is static; NacosCompat extends this class to use it by name.
 */

import com.alibaba.nacos.api.NacosFactory;
import com.alibaba.nacos.api.PropertyKeyConst;
import com.alibaba.nacos.api.ability.constant.AbilityKey;
import com.alibaba.nacos.api.naming.NamingService;
import com.alibaba.nacos.api.naming.listener.Event;
import com.alibaba.nacos.api.naming.listener.EventListener;
import com.alibaba.nacos.api.naming.listener.NamingEvent;
import com.alibaba.nacos.api.naming.pojo.Instance;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URL;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

abstract class CompatBase {

    /* Waits: a push or a server-side change after an acknowledged request
     * (locus pushes within well under a second; the client's own first push
     * after a subscribe comes 500 ms late, as Nacos's). */
    static final long CHANGE_MS = 8000;
    /* A dead client JVM's instance gone and pushed (the kernel closes its
     * TCP connection at once). */
    static final long KILL_MS = 15000;
    /* The client back after a locusd restart: its reconnect loop, then its
     * redo task (every 3 s). */
    static final long REDO_MS = 30000;
    /* How long "no push" is watched for. */
    static final long QUIET_MS = 2500;
    /* A persistent instance's health change: TCP checks every 2-7 s, as
     * Nacos's; unhealthy at the first refused one, healthy again after 3
     * successes in a row. */
    static final long HEALTH_MS = 40000;

    static String serverAddr;
    static String workDir;
    static final ObjectMapper JSON = new ObjectMapper();
    static final AtomicInteger PORTS = new AtomicInteger(41000);
    static final String RUN_ID = UUID.randomUUID().toString().substring(0, 8);

    // ------------------------------------------------------------ failures

    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message);
        }
    }

    static void check(boolean ok, String fmt, Object... args) {
        if (!ok) {
            throw new Failure(String.format(fmt, args));
        }
    }

    static String describe(Throwable e) {
        if (e instanceof Failure) {
            return e.getMessage();
        }
        StringWriter sw = new StringWriter();
        e.printStackTrace(new PrintWriter(sw));
        String[] lines = sw.toString().split("\n");
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < lines.length && i < 6; i++) {
            b.append(i == 0 ? "" : " | ").append(lines[i].trim());
        }
        return b.toString();
    }

    // ------------------------------------------------------------ names

    static String uniq(String prefix) {
        return prefix + "-" + RUN_ID + "-" + UUID.randomUUID().toString().substring(0, 6);
    }

    static int nextPort() {
        return PORTS.getAndIncrement();
    }

    static Instance inst(String ip, int port) {
        Instance i = new Instance();
        i.setIp(ip);
        i.setPort(port);
        i.setEphemeral(true);
        return i;
    }

    static String addr(Instance i) {
        return i.getIp() + ":" + i.getPort();
    }

    static Set<String> addrs(List<Instance> list) {
        Set<String> s = new TreeSet<>();
        for (Instance i : list) {
            s.add(addr(i));
        }
        return s;
    }

    static Set<String> names(String... a) {
        return new TreeSet<>(Arrays.asList(a));
    }

    static Set<String> set(Instance... a) {
        Set<String> s = new TreeSet<>();
        for (Instance i : a) {
            s.add(addr(i));
        }
        return s;
    }

    static String show(List<Instance> list) {
        if (list == null) {
            return "(none)";
        }
        List<String> parts = new ArrayList<>();
        for (Instance i : list) {
            parts.add(addr(i) + "{healthy=" + i.isHealthy() + ",enabled=" + i.isEnabled()
                    + ",ephemeral=" + i.isEphemeral() + ",cluster=" + i.getClusterName()
                    + ",weight=" + i.getWeight() + ",metadata=" + i.getMetadata() + "}");
        }
        return parts.toString();
    }

    // ------------------------------------------------------------ clients

    /* The clients and resources of one scenario, released when it ends. */
    static final class Ctx implements AutoCloseable {
        final List<NamingService> clients = new ArrayList<>();
        final List<AutoCloseable> closers = new ArrayList<>();

        NamingService client(String namespace) throws Exception {
            return client(serverAddr, namespace);
        }

        /* A client of the servers @servers ("host:port,host:port"). */
        NamingService client(String servers, String namespace) throws Exception {
            return client(servers, namespace, new Properties());
        }

        /* The same with more client properties (@extra: username and
         * password with auth on). */
        NamingService client(String servers, String namespace, Properties extra)
                throws Exception {
            Properties p = new Properties();
            p.putAll(extra);
            p.setProperty(PropertyKeyConst.SERVER_ADDR, servers);
            if (namespace != null) {
                p.setProperty(PropertyKeyConst.NAMESPACE, namespace);
            }
            NamingService ns = NacosFactory.createNamingService(p);
            clients.add(ns);
            /* createNamingService does not fail when the gRPC connection
             * does not come up (and getServerStatus says UP when HTTP
             * answers); say so here rather than at the first call. */
            waitFor("the client's gRPC connection up", 10000, () -> grpcUp(ns), up -> up);
            return ns;
        }

        NamingService client() throws Exception {
            return client(null);
        }

        void defer(AutoCloseable c) {
            closers.add(c);
        }

        @Override
        public void close() {
            for (AutoCloseable c : closers) {
                try {
                    c.close();
                } catch (Exception e) {
                    /* best effort */
                }
            }
            for (NamingService ns : clients) {
                shutDown(ns);
            }
        }
    }

    /* NamingService.shutDown, bounded: a stuck shutdown must not stall the
     * run. */
    static void shutDown(NamingService ns) {
        Thread t = new Thread(() -> {
            try {
                ns.shutDown();
            } catch (Exception e) {
                /* best effort */
            }
        }, "shutdown");
        t.setDaemon(true);
        t.start();
        try {
            t.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /* Whether the server announced supportPersistentInstanceByGrpc in its
     * SetupAck, as the client decides it (NamingClientProxyDelegate routes
     * persistent instances to gRPC only then, else to HTTP). */
    static boolean persistentByGrpc(NamingService ns) throws Exception {
        Object proxy = field(ns, "clientProxy");
        Object grpc = field(proxy, "grpcClientProxy");
        Method m = grpc.getClass().getMethod("isAbilitySupportedByServer", AbilityKey.class);
        return (Boolean) m.invoke(grpc, AbilityKey.SERVER_SUPPORT_PERSISTENT_INSTANCE_BY_GRPC);
    }

    /* Whether the client's gRPC connection is up (its RpcClient running). */
    static boolean grpcUp(NamingService ns) throws Exception {
        Object grpc = field(field(ns, "clientProxy"), "grpcClientProxy");
        return (Boolean) grpc.getClass().getMethod("serverHealthy").invoke(grpc);
    }

    /* The client's current gRPC connection id (RpcClient.currentConnection),
     * or null. */
    static String connectionId(NamingService ns) throws Exception {
        Object rpc = field(field(field(ns, "clientProxy"), "grpcClientProxy"), "rpcClient");
        Object conn = field(rpc, "currentConnection");
        return conn == null ? null
                : (String) conn.getClass().getMethod("getConnectionId").invoke(conn);
    }

    /* Field @name of @o, declared in its class or a superclass. */
    static Object field(Object o, String name) throws Exception {
        for (Class<?> c = o.getClass(); c != null; c = c.getSuperclass()) {
            try {
                Field f = c.getDeclaredField(name);
                f.setAccessible(true);
                return f.get(o);
            } catch (NoSuchFieldException e) {
                /* look in the superclass */
            }
        }
        throw new NoSuchFieldException(o.getClass().getName() + "." + name);
    }

    // ------------------------------------------------------------ waits

    interface Probe<T> {
        T get() throws Exception;
    }

    /* Poll @probe every 100 ms until @ok accepts its value (returned); on
     * timeout fail with the last value or error seen. */
    static <T> T waitFor(String what, long ms, Probe<T> probe, Predicate<T> ok)
            throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        String seen = "(nothing yet)";
        for (;;) {
            try {
                T v = probe.get();
                if (ok.test(v)) {
                    return v;
                }
                seen = String.valueOf(v);
            } catch (Failure e) {
                seen = e.getMessage();
            } catch (Exception e) {
                seen = "error: " + e;
            }
            if (System.nanoTime() >= end) {
                throw new Failure(what + ": not within " + ms + " ms; last seen: " + seen);
            }
            Thread.sleep(100);
        }
    }

    /* The instance lists a listener was given (NamingEvent), in order. */
    static final class Pushes implements EventListener {
        final String label;
        final BlockingQueue<List<Instance>> queue = new LinkedBlockingQueue<>();
        volatile List<Instance> last;

        Pushes(String label) {
            this.label = label;
        }

        @Override
        public void onEvent(Event e) {
            if (e instanceof NamingEvent) {
                List<Instance> l = new ArrayList<>(((NamingEvent) e).getInstances());
                last = l;
                queue.add(l);
            }
        }

        /* The first event (from now on, oldest first) whose instances are
         * exactly @want (ip:port); fail after @ms with the last one seen. */
        List<Instance> await(String what, long ms, Set<String> want) throws InterruptedException {
            return await(what + " (want " + want + ")", ms, l -> addrs(l).equals(want));
        }

        List<Instance> await(String what, long ms, Predicate<List<Instance>> ok)
                throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
            List<Instance> seen = last;
            int n = 0;
            for (;;) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    throw new Failure(label + ": " + what + ": no such push within " + ms
                            + " ms (" + n + " other pushes meanwhile); last pushed: " + show(seen));
                }
                List<Instance> l = queue.poll(left, TimeUnit.NANOSECONDS);
                if (l == null) {
                    continue;
                }
                seen = l;
                if (ok.test(l)) {
                    return l;
                }
                n++;
            }
        }

        /* Forget the events so far. */
        void drain() {
            queue.clear();
        }

        /* No event holding @i comes within @ms. */
        void expectNoneWith(String what, long ms, Instance i) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
            for (;;) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                List<Instance> l = queue.poll(left, TimeUnit.NANOSECONDS);
                check(l == null || !addrs(l).contains(addr(i)), "%s: %s: pushed with %s: %s",
                        label, what, addr(i), show(l));
            }
        }

        void expectNone(String what, long ms) throws InterruptedException {
            List<Instance> l = queue.poll(ms, TimeUnit.MILLISECONDS);
            check(l == null, "%s: %s: a push came: %s", label, what, show(l));
        }
    }

    // ------------------------------------------------------------ HTTP

    static JsonNode httpJson(String method, String path, Map<String, String> params)
            throws IOException {
        return httpJsonAt(serverAddr, method, path, params);
    }

    static JsonNode httpJsonAt(String server, String method, String path,
            Map<String, String> params) throws IOException {
        String body = httpTextAt(server, method, path, params);
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new Failure(method + " " + path + " " + params + " -> not JSON: " + body);
        }
    }

    /* The body of a 200 answer; fails with the status and body otherwise. */
    static String httpText(String method, String path, Map<String, String> params)
            throws IOException {
        return httpTextAt(serverAddr, method, path, params);
    }

    /* The same to the server at @server (host:port). */
    static String httpTextAt(String server, String method, String path,
            Map<String, String> params) throws IOException {
        StringBuilder q = new StringBuilder();
        for (Map.Entry<String, String> e : params.entrySet()) {
            q.append(q.length() == 0 ? "?" : "&")
                    .append(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8)).append('=')
                    .append(URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
        }
        URL url = new URL("http://" + server + path + q);
        HttpURLConnection c = (HttpURLConnection) url.openConnection();
        c.setRequestMethod(method);
        c.setConnectTimeout(3000);
        c.setReadTimeout(3000);
        try {
            int status = c.getResponseCode();
            InputStream in = status < 400 ? c.getInputStream() : c.getErrorStream();
            String body = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (status != 200) {
                throw new Failure(method + " " + url + " -> " + status + " " + body);
            }
            return body;
        } finally {
            c.disconnect();
        }
    }

    /* The hosts of GROUP@@service in @namespace as the server lists them
     * (GET /nacos/v1/ns/instance/list, no client cache), by ip:port. */
    static Map<String, JsonNode> httpHosts(String namespace, String group, String service)
            throws IOException {
        return httpHostsAt(serverAddr, namespace, group, service);
    }

    /* The same on the server at @server (host:port). */
    static Map<String, JsonNode> httpHostsAt(String server, String namespace, String group,
            String service) throws IOException {
        Map<String, String> p = new HashMap<>();
        p.put("serviceName", group + "@@" + service);
        p.put("namespaceId", namespace == null ? "public" : namespace);
        JsonNode r = httpJsonAt(server, "GET", "/nacos/v1/ns/instance/list", p);
        JsonNode hosts = r.get("hosts");
        check(hosts != null && hosts.isArray(), "instance/list without hosts: %s", r);
        Map<String, JsonNode> m = new HashMap<>();
        for (JsonNode h : hosts) {
            m.put(h.path("ip").asText() + ":" + h.path("port").asInt(), h);
        }
        return m;
    }

    static Set<String> httpAddrs(String namespace, String group, String service)
            throws IOException {
        return new TreeSet<>(httpHosts(namespace, group, service).keySet());
    }

    static Set<String> httpAddrsAt(String server, String namespace, String group,
            String service) throws IOException {
        return new TreeSet<>(httpHostsAt(server, namespace, group, service).keySet());
    }

    /* Wait until the server lists exactly @want for the service. */
    static void serverHas(String what, long ms, String namespace, String group, String service,
            Set<String> want) throws InterruptedException {
        waitFor(what + ": server lists " + want + " in " + group + "@@" + service, ms,
                () -> httpAddrs(namespace, group, service), want::equals);
    }

    // ------------------------------------------------------------ a listener socket

    /* A TCP listener on 127.0.0.1 that accepts and closes, so locusd's TCP
     * health check of a persistent instance there succeeds. */
    static int liveListener(Ctx ctx) throws IOException {
        ServerSocket ss = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        Thread t = new Thread(() -> {
            while (!ss.isClosed()) {
                try {
                    ss.accept().close(); /* the check succeeded */
                } catch (IOException e) {
                    /* closed */
                }
            }
        }, "live-" + ss.getLocalPort());
        t.setDaemon(true);
        t.start();
        ctx.defer(ss);
        return ss.getLocalPort();
    }

    // ------------------------------------------------------------ a client JVM

    static final AtomicInteger CHILDREN = new AtomicInteger();

    /* Start a JVM (NacosCompat child) that registers @i in @g@@@svc through
     * @servers and waits to be killed; return once it said READY. It is
     * killed (SIGKILL) when @ctx closes, if still alive. Its files go to
     * WORK_DIR/jvm-child (the first one: the runner shows its log when the
     * run fails), then jvm-child-2, ... */
    static Process startChild(Ctx ctx, String servers, String svc, String g, Instance i)
            throws Exception {
        String java = ProcessHandle.current().info().command()
                .orElse(System.getProperty("java.home") + "/bin/java");
        int n = CHILDREN.incrementAndGet();
        File dir = new File(workDir, n == 1 ? "jvm-child" : "jvm-child-" + n);
        new File(dir, "home").mkdirs();
        List<String> cmd = new ArrayList<>(Arrays.asList(java,
                "-cp", System.getProperty("java.class.path"),
                "-Duser.home=" + new File(dir, "home"),
                "-DJM.LOG.PATH=" + new File(dir, "logs"),
                "-DJM.SNAPSHOT.PATH=" + new File(dir, "snapshot"),
                "-Dorg.slf4j.simpleLogger.logFile=" + new File(dir, "client.log"),
                "-Dcom.alibaba.nacos.client.local.ip=127.0.0.1",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
                "NacosCompat", "child", servers, svc, g, i.getIp(),
                String.valueOf(i.getPort())));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(ProcessBuilder.Redirect.appendTo(new File(dir, "stderr.log")));
        Process child = pb.start();
        ctx.defer(child::destroyForcibly);
        BlockingQueue<String> out = new LinkedBlockingQueue<>();
        List<String> outLog = Collections.synchronizedList(new ArrayList<>());
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(
                    child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    outLog.add(line);
                    out.add(line);
                }
            } catch (IOException e) {
                /* child gone */
            }
        }, "child-out");
        reader.setDaemon(true);
        reader.start();
        long end = System.currentTimeMillis() + 30000;
        for (;;) {
            String line = out.poll(Math.max(1, end - System.currentTimeMillis()),
                    TimeUnit.MILLISECONDS);
            if (line != null && line.equals("READY")) {
                return child;
            }
            check(line == null || !line.startsWith("ERROR"), "child JVM: %s", line);
            check(child.isAlive() || !out.isEmpty(), "child JVM exited (%s): %s",
                    child.isAlive() ? "?" : child.exitValue(), outLog);
            check(System.currentTimeMillis() < end, "child JVM not READY within 30 s: %s",
                    outLog);
        }
    }

    /* SIGKILL @child and wait until it is gone. */
    static void killChild(Process child) throws InterruptedException {
        child.destroyForcibly();
        check(child.waitFor(5, TimeUnit.SECONDS), "child JVM still alive 5 s after SIGKILL");
    }

    // ------------------------------------------------------------ the runner

    static final BlockingQueue<String> STDIN = new LinkedBlockingQueue<>();

    /* Read stdin lines into STDIN; exit the JVM at EOF (the runner is gone). */
    static void startStdinReader(boolean exitOnEof) {
        Thread t = new Thread(() -> {
            BufferedReader r = new BufferedReader(new InputStreamReader(System.in,
                    StandardCharsets.UTF_8));
            try {
                String line;
                while ((line = r.readLine()) != null) {
                    STDIN.add(line);
                }
            } catch (IOException e) {
                /* treated as EOF */
            }
            if (exitOnEof) {
                Runtime.getRuntime().halt(3);
            }
        }, "stdin");
        t.setDaemon(true);
        t.start();
    }

    static void askRunner(String command, long ms) throws InterruptedException {
        STDIN.clear();
        System.out.println("@@locusd " + command);
        System.out.flush();
        String reply = STDIN.poll(ms, TimeUnit.MILLISECONDS);
        check(reply != null, "runner: no answer to \"%s\" within %d ms", command, ms);
        check(reply.equals("@@ok"), "runner: \"%s\" failed: %s", command, reply);
    }
}
