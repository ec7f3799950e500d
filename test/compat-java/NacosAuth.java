/*
 * locus with auth on (nacos.core.auth.enabled=true, a token secret the runner
 * made for this run) against the real Nacos Java client 2.4.3: the admin is
 * initialised through POST /nacos/v1/auth/users/admin, users, roles and
 * permissions are made through the /nacos/v1/auth endpoints, then clients
 * with username/password (the client logs in over HTTP, POST
 * /nacos/v1/auth/users/login, and sends accessToken with every gRPC request)
 * register, list and subscribe; clients without credentials, with a wrong
 * password, an unknown user or a read-only role are refused as Nacos refuses
 * them (NacosException 403 "user not found!" / "authorization failed!") and
 * change nothing. The server's view is read over HTTP with the admin's token.
 *
 *   java NacosAuth SERVER_ADDR WORK_DIR
 *
 * Output and the runner's protocol as NacosCompat's ("@@locusd restart").
 * Every instance is on 127.0.0.0/8. Every wait is bounded.
 */

import com.alibaba.nacos.api.PropertyKeyConst;
import com.alibaba.nacos.api.exception.NacosException;
import com.alibaba.nacos.api.naming.NamingService;
import com.alibaba.nacos.api.naming.pojo.Instance;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

public final class NacosAuth extends CompatBase {

    static String adminToken;
    static String appPw;
    static String targetPw;
    static String roPw;

    // ================================================================ HTTP

    static final class Resp {
        final int status;
        final String body;

        Resp(int status, String body) {
            this.status = status;
            this.body = body;
        }

        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                return JSON.missingNode();
            }
        }

        @Override
        public String toString() {
            return status + " " + body;
        }
    }

    static Map<String, String> params(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    static String encode(Map<String, String> m) {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, String> e : m.entrySet()) {
            b.append(b.length() == 0 ? "" : "&")
                    .append(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8)).append('=')
                    .append(URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
        }
        return b.toString();
    }

    /* @method @path with @query in the URL and @form (may be null) as an
     * application/x-www-form-urlencoded body; any status. */
    static Resp http(String method, String path, Map<String, String> query,
            Map<String, String> form) throws IOException {
        String q = encode(query);
        URL url = new URL("http://" + serverAddr + path + (q.isEmpty() ? "" : "?" + q));
        HttpURLConnection c = (HttpURLConnection) url.openConnection();
        c.setRequestMethod(method);
        c.setConnectTimeout(3000);
        c.setReadTimeout(5000);
        try {
            if (form != null) {
                byte[] body = encode(form).getBytes(StandardCharsets.UTF_8);
                c.setDoOutput(true);
                c.setRequestProperty("Content-Type", "application/x-www-form-urlencoded");
                try (OutputStream out = c.getOutputStream()) {
                    out.write(body);
                }
            }
            int status = c.getResponseCode();
            InputStream in = status < 400 ? c.getInputStream() : c.getErrorStream();
            return new Resp(status, in == null ? ""
                    : new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } finally {
            c.disconnect();
        }
    }

    /* Nacos's AuthFilter refusal: 403 with Spring's error JSON. */
    static void denied(Resp r, String message, String what) {
        JsonNode j = r.json();
        check(r.status == 403 && j.path("status").asInt() == 403
                && "Forbidden".equals(j.path("error").asText())
                && message.equals(j.path("message").asText()) && j.has("path"),
                "%s: want 403 {\"error\":\"Forbidden\",\"message\":\"%s\",...}, got %s", what,
                message, r);
    }

    /* A RestResult success of the user-management endpoints. */
    static void restOk(Resp r, String data, String what) {
        JsonNode j = r.json();
        check(r.status == 200 && j.path("code").asInt() == 200
                && data.equals(j.path("data").asText()),
                "%s: want {\"code\":200,\"data\":\"%s\"}, got %s", what, data, r);
    }

    static Resp login(String user, String password) throws IOException {
        return http("POST", "/nacos/v1/auth/login", params("username", user),
                params("password", password));
    }

    /* The hosts of @group@@@service as the server lists them (with the
     * admin's token). */
    static Set<String> serverAddrs(String group, String service) throws IOException {
        Resp r = http("GET", "/nacos/v1/ns/instance/list", params("serviceName",
                group + "@@" + service, "namespaceId", "public", "accessToken", adminToken),
                null);
        JsonNode hosts = r.json().get("hosts");
        check(r.status == 200 && hosts != null && hosts.isArray(), "instance/list: %s", r);
        Set<String> s = new TreeSet<>();
        for (JsonNode h : hosts) {
            s.add(h.path("ip").asText() + ":" + h.path("port").asInt());
        }
        return s;
    }

    static void serverLists(String what, long ms, String group, String service,
            Set<String> want) throws InterruptedException {
        waitFor(what + ": server lists " + want + " in " + group + "@@" + service, ms,
                () -> serverAddrs(group, service), want::equals);
    }

    static String password() {
        byte[] b = new byte[9];
        new SecureRandom().nextBytes(b);
        return Base64.getEncoder().encodeToString(b);
    }

    /* A client logging in as @user (null: no credentials). */
    static NamingService client(Ctx ctx, String user, String pw) throws Exception {
        Properties p = new Properties();
        if (user != null) {
            p.setProperty(PropertyKeyConst.USERNAME, user);
            p.setProperty(PropertyKeyConst.PASSWORD, pw);
        }
        return ctx.client(serverAddr, null, p);
    }

    interface Call {
        void run() throws Exception;
    }

    /* @call must throw NacosException @code with @message in its text. */
    static void refusedWith(String what, int code, String message, Call call) throws Exception {
        try {
            call.run();
        } catch (NacosException e) {
            check(e.getErrCode() == code && e.getErrMsg() != null
                    && e.getErrMsg().contains(message),
                    "%s: want NacosException %d \"%s\", got %d \"%s\"", what, code, message,
                    e.getErrCode(), e.getErrMsg());
            return;
        }
        throw new Failure(what + ": accepted, want NacosException " + code + " \"" + message
                + "\"");
    }

    // ================================================================ scenarios

    /* The admin once, then users app and target (role ROLE_APP, rw on the
     * public namespace) and ro (ROLE_RO, r), all through the endpoints. */
    static void setup(Ctx ctx) throws Exception {
        denied(http("GET", "/nacos/v1/ns/instance/list", params("serviceName",
                "DEFAULT_GROUP@@x"), null), "user not found!", "instance/list before any user");
        String apw = password();
        Resp r = http("POST", "/nacos/v1/auth/users/admin", params(), params("password", apw));
        check(r.status == 200 && "nacos".equals(r.json().path("username").asText())
                && apw.equals(r.json().path("password").asText()),
                "admin init: want {\"username\":\"nacos\",\"password\":<ours>}, got %s", r);
        r = http("POST", "/nacos/v1/auth/users/admin", params(), params("password", password()));
        check(r.status == 200 && r.json().path("code").asInt() == 409
                && "have admin user cannot use it".equals(r.json().path("data").asText()),
                "admin init again: want code 409 \"have admin user cannot use it\", got %s", r);
        r = login("nacos", apw + "x");
        check(r.status == 403 && r.body.trim().equals("user not found!"),
                "login with a wrong password: want 403 user not found!, got %s", r);
        r = login("nacos", apw);
        JsonNode j = r.json();
        check(r.status == 200 && j.path("accessToken").isTextual()
                && j.path("globalAdmin").asBoolean(false)
                && "nacos".equals(j.path("username").asText())
                && j.path("tokenTtl").asLong() > 17900, "login as the admin: %s", r);
        adminToken = j.path("accessToken").asText();

        appPw = password();
        targetPw = password();
        roPw = password();
        String[][] users = {{"app", appPw, "ROLE_APP"}, {"target", targetPw, "ROLE_APP"},
            {"ro", roPw, "ROLE_RO"}};
        for (String[] u : users) {
            restOk(http("POST", "/nacos/v1/auth/users", params("username", u[0],
                    "accessToken", adminToken), params("password", u[1])), "create user ok!",
                    "create user " + u[0]);
            restOk(http("POST", "/nacos/v1/auth/roles", params("role", u[2], "username", u[0],
                    "accessToken", adminToken), null), "add role ok!", "add " + u[2]);
        }
        restOk(http("POST", "/nacos/v1/auth/permissions", params("role", "ROLE_APP",
                "resource", ":*:*", "action", "rw", "accessToken", adminToken), null),
                "add permission ok!", "rw to ROLE_APP");
        restOk(http("POST", "/nacos/v1/auth/permissions", params("role", "ROLE_RO",
                "resource", ":*:*", "action", "r", "accessToken", adminToken), null),
                "add permission ok!", "r to ROLE_RO");
    }

    /* Logged in as app: register over gRPC (ephemeral, and persistent),
     * list, subscribe with pushes, deregister. */
    static void withPassword(Ctx ctx) throws Exception {
        check(adminToken != null, "no users (the setup scenario failed)");
        NamingService w = client(ctx, "app", appPw);
        NamingService s = client(ctx, "app", appPw);
        String svc = uniq("auth");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);
        Instance a = inst("127.0.0.61", nextPort());
        w.registerInstance(svc, g, a);
        p.await("registered", CHANGE_MS, set(a));
        serverLists("after register", CHANGE_MS, g, svc, set(a));
        List<Instance> got = w.getAllInstances(svc, g, false);
        check(addrs(got).equals(set(a)), "getAllInstances: %s", show(got));
        Instance b = inst("127.0.0.62", nextPort());
        s.registerInstance(svc, g, b);
        p.await("a second registration", CHANGE_MS, set(a, b));
        /* A persistent instance (PersistentInstanceRequest), in a service
         * of its own: Nacos keeps a service ephemeral or persistent. */
        String psvc = uniq("auth-persistent");
        Instance per = inst("127.0.0.63", nextPort());
        per.setEphemeral(false);
        w.registerInstance(psvc, g, per);
        serverLists("a persistent registration", CHANGE_MS, g, psvc, set(per));
        w.deregisterInstance(psvc, g, per);
        serverLists("persistent deregistered", CHANGE_MS, g, psvc, set());
        w.deregisterInstance(svc, g, a);
        p.await("deregistered", CHANGE_MS, set(b));
        s.unsubscribe(svc, g, p);
        s.deregisterInstance(svc, g, b);
        serverLists("after deregister", CHANGE_MS, g, svc, set());
    }

    /* A client as @user/@pw (null: none) is refused (403 @message) to
     * register, deregister another's instance, query and subscribe; after
     * its redo had time to try again, the server holds the owner's only. */
    static void refusedAs(Ctx ctx, String user, String pw, String message) throws Exception {
        check(adminToken != null, "no users (the setup scenario failed)");
        NamingService c = client(ctx, user, pw);
        NamingService owner = client(ctx, "app", appPw);
        String svc = uniq("denied");
        String g = "G-" + RUN_ID;
        Instance o = inst("127.0.0.64", nextPort());
        owner.registerInstance(svc, g, o);
        serverLists("the owner's instance", CHANGE_MS, g, svc, set(o));
        Instance x = inst("127.0.0.65", nextPort());
        refusedWith("registerInstance", 403, message, () -> c.registerInstance(svc, g, x));
        Instance y = inst("127.0.0.66", nextPort());
        y.setEphemeral(false);
        String psvc = uniq("denied-persistent");
        refusedWith("register a persistent instance", 403, message,
                () -> c.registerInstance(psvc, g, y));
        refusedWith("batchRegisterInstance", 403, message,
                () -> c.batchRegisterInstance(svc, g, Arrays.asList(inst("127.0.0.67",
                        nextPort()))));
        refusedWith("deregister the owner's instance", 403, message,
                () -> c.deregisterInstance(svc, g, o));
        refusedWith("getAllInstances", 403, message, () -> c.getAllInstances(svc, g, false));
        Pushes p = new Pushes("refused subscriber");
        refusedWith("subscribe", 403, message, () -> c.subscribe(svc, g, p));
        /* The client's redo task (every 3 s) tries again: still nothing. */
        Thread.sleep(3500);
        check(serverAddrs(g, svc).equals(set(o)), "the server after the refusals: %s",
                serverAddrs(g, svc));
        check(serverAddrs(g, psvc).isEmpty(), "the persistent service after the refusal: %s",
                serverAddrs(g, psvc));
        check(p.last == null || p.last.isEmpty(), "the refused subscriber was given %s",
                show(p.last));
        shutDown(c);
        ctx.clients.remove(c);
    }

    static void noCredentials(Ctx ctx) throws Exception {
        refusedAs(ctx, null, null, "user not found!");
    }

    static void wrongPassword(Ctx ctx) throws Exception {
        refusedAs(ctx, "target", targetPw + "x", "user not found!");
        /* target's own password still works (its failed logins stayed
         * under the per-user limit). */
        Resp r = login("target", targetPw);
        check(r.status == 200, "target's login after the wrong password: %s", r);
    }

    static void unknownUser(Ctx ctx) throws Exception {
        refusedAs(ctx, "nobody-" + RUN_ID, appPw, "user not found!");
    }

    /* ro (r on public): queries and subscribes, cannot register. */
    static void readOnly(Ctx ctx) throws Exception {
        check(adminToken != null, "no users (the setup scenario failed)");
        NamingService ro = client(ctx, "ro", roPw);
        NamingService w = client(ctx, "app", appPw);
        String svc = uniq("ro");
        String g = "G-" + RUN_ID;
        Instance a = inst("127.0.0.68", nextPort());
        w.registerInstance(svc, g, a);
        Pushes p = new Pushes("ro subscriber");
        ro.subscribe(svc, g, p);
        p.await("subscribed", CHANGE_MS, set(a));
        check(addrs(ro.getAllInstances(svc, g, false)).equals(set(a)), "ro's getAllInstances");
        Instance x = inst("127.0.0.69", nextPort());
        refusedWith("ro registering", 403, "authorization failed!",
                () -> ro.registerInstance(svc, g, x));
        Thread.sleep(500);
        check(serverAddrs(g, svc).equals(set(a)), "after ro's attempt: %s", serverAddrs(g, svc));
    }

    /* locusd restarted (same secret): the client's token still holds; its
     * redo registers and subscribes again. */
    static void restart(Ctx ctx) throws Exception {
        check(adminToken != null, "no users (the setup scenario failed)");
        NamingService w = client(ctx, "app", appPw);
        NamingService s = client(ctx, "app", appPw);
        String svc = uniq("auth-restart");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber");
        s.subscribe(svc, g, p);
        Instance a = inst("127.0.0.70", nextPort());
        w.registerInstance(svc, g, a);
        p.await("registered", CHANGE_MS, set(a));
        askRunner("restart", 60000);
        serverLists("after the restart (the redo, with the token)", REDO_MS, g, svc, set(a));
        /* Another connection (one publish per service and connection). */
        NamingService w2 = client(ctx, "app", appPw);
        Instance b = inst("127.0.0.71", nextPort());
        w2.registerInstance(svc, g, b);
        p.await("a registration after the restart", REDO_MS, set(a, b));
    }

    // ================================================================ main

    static final class Scenario {
        final String name;
        final long ms;
        final NacosCompat.Body body;

        Scenario(String name, long ms, NacosCompat.Body body) {
            this.name = name;
            this.ms = ms;
            this.body = body;
        }
    }

    static List<Scenario> scenarios() {
        return Arrays.asList(
                new Scenario("auth: admin init, users, roles, permissions over HTTP", 30000,
                        NacosAuth::setup),
                new Scenario("auth: username/password: login, register, list, subscribe", 40000,
                        NacosAuth::withPassword),
                new Scenario("auth: no credentials: NacosException 403, nothing changed", 40000,
                        NacosAuth::noCredentials),
                new Scenario("auth: wrong password: NacosException 403, nothing changed", 40000,
                        NacosAuth::wrongPassword),
                new Scenario("auth: unknown user: refused as a wrong password", 40000,
                        NacosAuth::unknownUser),
                new Scenario("auth: read-only role: reads, 403 authorization failed! on writes",
                        30000, NacosAuth::readOnly),
                new Scenario("auth: locusd restarted: the token holds, redo, pushes", 90000,
                        NacosAuth::restart));
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: java NacosAuth SERVER_ADDR WORK_DIR");
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
        for (Scenario s : scenarios()) {
            if (only != null && !only.matcher(s.name).find() && !s.name.contains("admin init")) {
                System.out.println("SKIP " + s.name + ": JAVA_COMPAT_FILTER=" + filter);
                skipped++;
                continue;
            }
            System.out.println("RUN " + s.name);
            System.out.flush();
            long t0 = System.currentTimeMillis();
            String why = NacosCompat.runOne(s.ms, s.body);
            long ms = System.currentTimeMillis() - t0;
            if (why == null) {
                System.out.println("PASS " + s.name + " (" + ms + " ms)");
                passed++;
            } else {
                System.out.println("FAIL " + s.name + ": " + why.replace('\n', ' ') + " ("
                        + ms + " ms)");
                failed++;
            }
            System.out.flush();
        }
        System.out.println("SUMMARY passed=" + passed + " failed=" + failed + " skipped="
                + skipped);
        System.out.flush();
        Runtime.getRuntime().halt(failed > 0 ? 1 : 0);
    }
}
