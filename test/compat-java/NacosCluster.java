/*
 * locus as a 3-member cluster against the real Nacos Java client 2.4.3: the
 * Distro replication of ephemeral instances seen from the client. The runner
 * (test/compat-java/runner.c, cluster mode) starts three locusd on loopback
 * (automatic connection balancing off: each scenario pins its clients to the
 * members it names), then this JVM:
 *
 *   java NacosCluster A B C EXPIRED_MS WORK_DIR
 *
 * A, B, C: the members' host:port (HTTP; gRPC is + 1000); EXPIRED_MS: the
 * cluster's nacos.naming.client.expired.time. Output and the "@@locusd"
 * line protocol are NacosCompat's; the commands here are "kill9 N" (SIGKILL
 * member N, not started again) and "start N" (start it, wait until UP).
 *
 * Which member holds a client's gRPC connection is asked of the members
 * (GET /nacos/v2/core/loader/current lists their connections by id; the
 * client's id is the one the server gave it).
 *
 * Every instance is on 127.0.0.0/8. Every wait is bounded.
 */

import com.alibaba.nacos.api.naming.NamingService;
import com.alibaba.nacos.api.naming.listener.Event;
import com.alibaba.nacos.api.naming.listener.EventListener;
import com.alibaba.nacos.api.naming.listener.NamingEvent;
import com.alibaba.nacos.api.naming.pojo.Instance;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

public final class NacosCluster extends CompatBase {

    /* The longest a subscriber may see the instance of a client whose member
     * was killed missing. locus keeps the dead member's copy until
     * nacos.naming.client.expired.time, so the expected gap is 0; were the
     * copy dropped when the member is seen down, the instance would be
     * missing until the client's redo registers it again: its reconnect
     * (the kernel closes the connection at once; one refused or 3 s
     * ServerCheck attempt per server tried) plus the redo period (3 s),
     * plus Distro's sync and a push: about 6 s. 10 s allows for a loaded
     * machine; a longer gap is an instance lost, not a slow one. */
    static final long GAP_BOUND_MS = 10000;

    static final String[] NAMES = {"A", "B", "C"};
    static String[] members;
    static long expiredMs;

    static String all() {
        return String.join(",", members);
    }

    /* The index of the member holding gRPC connection @id, or -1. Members
     * that do not answer (killed) are skipped. */
    static int holder(String id) {
        for (int i = 0; i < members.length; i++) {
            try {
                JsonNode r = httpJsonAt(members[i], "GET", "/nacos/v2/core/loader/current",
                        Collections.emptyMap());
                if (r.has(id)) {
                    return i;
                }
            } catch (Exception e) {
                /* not answering */
            }
        }
        return -1;
    }

    /* How many instances connection @id holds on member @m (locus's
     * loader/current addition), -1 when it is not there. */
    static int held(int m, String id) throws Exception {
        JsonNode r = httpJsonAt(members[m], "GET", "/nacos/v2/core/loader/current",
                Collections.emptyMap());
        return r.has(id) ? r.get(id).path("locus").path("instances").asInt(-1) : -1;
    }

    static void onMember(NamingService ns, int m, String who) throws Exception {
        String id = connectionId(ns);
        int h = holder(id);
        check(h == m, "%s: connection %s should be on %s, is on %s", who, id, NAMES[m],
                h < 0 ? "none" : NAMES[h]);
    }

    static Set<String> listOn(NamingService ns, String svc, String g) throws Exception {
        return addrs(ns.getAllInstances(svc, g, false)); /* from the server */
    }

    static void serverHasOn(String what, int m, String g, String svc, Set<String> want)
            throws InterruptedException {
        waitFor(what + ": " + NAMES[m] + " lists " + want + " in " + g + "@@" + svc, CHANGE_MS,
                () -> httpAddrsAt(members[m], null, g, svc), want::equals);
    }

    // ================================================================ gaps

    /* A subscriber's view of one instance over time: the longest stretch
     * between a push without it and the next push with it. */
    static final class Gap implements EventListener {
        final String label;
        final String addr;
        final Pushes pushes; /* given every event too */
        boolean armed;
        boolean has;
        long missingSince = -1; /* ms, or -1 while present */
        long longest;

        Gap(String label, Instance i) {
            this.label = label;
            this.addr = addr(i);
            this.pushes = new Pushes(label);
        }

        /* Start measuring from now, from the last push's state. */
        synchronized void arm() {
            armed = true;
            longest = 0;
            missingSince = has ? -1 : System.currentTimeMillis();
        }

        @Override
        public synchronized void onEvent(Event e) {
            if (!(e instanceof NamingEvent)) {
                return;
            }
            pushes.onEvent(e);
            has = addrs(((NamingEvent) e).getInstances()).contains(addr);
            long now = System.currentTimeMillis();
            if (!armed) {
                return;
            }
            if (has && missingSince >= 0) {
                longest = Math.max(longest, now - missingSince);
                missingSince = -1;
            } else if (!has && missingSince < 0) {
                missingSince = now;
            }
        }

        /* The longest gap so far, counting one still open. */
        synchronized long longest() {
            long open = missingSince < 0 ? 0 : System.currentTimeMillis() - missingSince;
            return Math.max(longest, open);
        }
    }

    /* The same seen by polling a member's instance list over HTTP every
     * 100 ms (what a query would get, pushes aside). */
    static final class Poller implements AutoCloseable {
        final int member;
        final String addr;
        final AtomicBoolean stop = new AtomicBoolean();
        final Thread thread;
        volatile long longest;
        volatile int polls;

        Poller(int member, String g, String svc, Instance i) {
            this.member = member;
            this.addr = addr(i);
            thread = new Thread(() -> {
                long missingSince = -1;
                while (!stop.get()) {
                    long now = System.currentTimeMillis();
                    boolean has;
                    try {
                        has = httpAddrsAt(members[member], null, g, svc).contains(addr);
                    } catch (Exception e) {
                        has = false; /* an unanswered query is missing too */
                    }
                    polls++;
                    if (has && missingSince >= 0) {
                        longest = Math.max(longest, now - missingSince);
                        missingSince = -1;
                    } else if (!has && missingSince < 0) {
                        missingSince = now;
                    }
                    if (missingSince >= 0) {
                        longest = Math.max(longest, now - missingSince);
                    }
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "poll-" + NAMES[member]);
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void close() {
            stop.set(true);
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ================================================================ scenarios

    /* Register over gRPC on A; list on B and C; a subscriber on C gets the
     * changes made through A and through B. */
    static void replicate(Ctx ctx) throws Exception {
        NamingService a = ctx.client(members[0], null);
        NamingService b = ctx.client(members[1], null);
        NamingService b2 = ctx.client(members[1], null);
        NamingService c = ctx.client(members[2], null);
        NamingService sc = ctx.client(members[2], null);
        onMember(a, 0, "client of A");
        onMember(b, 1, "client of B");
        onMember(b2, 1, "second client of B");
        onMember(c, 2, "client of C");
        onMember(sc, 2, "subscriber on C");
        String svc = uniq("repl");
        String g = "G-" + RUN_ID;
        Pushes p = new Pushes("subscriber on C");
        sc.subscribe(svc, g, p);

        Instance i1 = inst("127.0.0.81", nextPort());
        long t0 = System.currentTimeMillis();
        a.registerInstance(svc, g, i1);
        waitFor("B lists A's registration", CHANGE_MS, () -> listOn(b, svc, g), set(i1)::equals);
        waitFor("C lists A's registration", CHANGE_MS, () -> listOn(c, svc, g), set(i1)::equals);
        p.await("A's registration pushed on C", CHANGE_MS, set(i1));
        long ms = System.currentTimeMillis() - t0;

        Instance i2 = inst("127.0.0.82", nextPort());
        b2.registerInstance(svc, g, i2);
        p.await("B's registration pushed on C", CHANGE_MS, set(i1, i2));
        waitFor("A lists both", CHANGE_MS, () -> listOn(a, svc, g), set(i1, i2)::equals);

        a.deregisterInstance(svc, g, i1);
        p.await("A's deregistration pushed on C", CHANGE_MS, set(i2));
        for (int m = 0; m < 3; m++) {
            serverHasOn("after A's deregistration", m, g, svc, set(i2));
        }
        b2.deregisterInstance(svc, g, i2);
        p.await("B's deregistration pushed on C", CHANGE_MS, set());
        System.out.println("  (registered on A to listed on B and C and pushed on C: " + ms
                + " ms)");
    }

    /* kill -9 the member holding a client's connection (the client knows all
     * three): it reconnects to another member, its redo registers again;
     * subscribers on the two others never miss the instance for long, also
     * when the dead member's copy expires; the member started again lists
     * it; the deregistration through the new connection reaches all. */
    static void killMember(Ctx ctx) throws Exception {
        NamingService w = ctx.client(all(), null);
        String id = connectionId(w);
        int x = holder(id);
        check(x >= 0, "the client's connection %s is on no member", id);
        int y = (x + 1) % 3;
        int z = (x + 2) % 3;
        NamingService sy = ctx.client(members[y], null);
        NamingService sz = ctx.client(members[z], null);
        String svc = uniq("killm");
        String g = "G-" + RUN_ID;
        Instance e = inst("127.0.0.83", nextPort());
        Gap gy = new Gap("subscriber on " + NAMES[y], e);
        Gap gz = new Gap("subscriber on " + NAMES[z], e);
        Pushes py = gy.pushes;
        Pushes pz = gz.pushes;
        sy.subscribe(svc, g, gy);
        sz.subscribe(svc, g, gz);
        w.registerInstance(svc, g, e);
        py.await("registered through " + NAMES[x], CHANGE_MS, set(e));
        pz.await("registered through " + NAMES[x], CHANGE_MS, set(e));
        gy.arm();
        gz.arm();

        long t0;
        String id2;
        int h;
        try (Poller qy = new Poller(y, g, svc, e); Poller qz = new Poller(z, g, svc, e)) {
            askRunner("kill9 " + x, 30000);
            t0 = System.currentTimeMillis();
            id2 = waitFor("the client reconnected", REDO_MS, () -> {
                String now = connectionId(w);
                return now != null && !now.equals(id) && grpcUp(w) ? now : null;
            }, now -> now != null);
            long reconnected = System.currentTimeMillis() - t0;
            h = holder(id2);
            check(h == y || h == z, "the new connection %s is on %s", id2,
                    h < 0 ? "no member" : NAMES[h]);
            int hh = h;
            waitFor("the redo registered the instance on the new connection", REDO_MS,
                    () -> held(hh, id2), n -> n == 1);
            long redone = System.currentTimeMillis() - t0;
            System.out.println("  (" + NAMES[x] + " killed: reconnected to " + NAMES[h] + " in "
                    + reconnected + " ms, redo registered in " + redone + " ms)");
            /* past the dead member's copy's expiry on the survivors */
            long until = t0 + expiredMs + 3000;
            while (System.currentTimeMillis() < until) {
                check(gy.longest() <= GAP_BOUND_MS && gz.longest() <= GAP_BOUND_MS,
                        "instance missing on a subscriber for over %d ms", GAP_BOUND_MS);
                Thread.sleep(200);
            }
            System.out.println("  (longest gap: subscriber on " + NAMES[y] + " " + gy.longest()
                    + " ms, on " + NAMES[z] + " " + gz.longest() + " ms; instance/list on "
                    + NAMES[y] + " " + qy.longest + " ms, on " + NAMES[z] + " " + qz.longest
                    + " ms, " + (qy.polls + qz.polls) + " polls)");
            check(gy.longest() <= GAP_BOUND_MS, "%s: instance missing for %d ms (bound %d)",
                    gy.label, gy.longest(), GAP_BOUND_MS);
            check(gz.longest() <= GAP_BOUND_MS, "%s: instance missing for %d ms (bound %d)",
                    gz.label, gz.longest(), GAP_BOUND_MS);
            check(qy.longest <= GAP_BOUND_MS, "instance/list on %s: missing for %d ms",
                    NAMES[y], qy.longest);
            check(qz.longest <= GAP_BOUND_MS, "instance/list on %s: missing for %d ms",
                    NAMES[z], qz.longest);
        }
        serverHasOn("after the dead member's copy expired", y, g, svc, set(e));
        serverHasOn("after the dead member's copy expired", z, g, svc, set(e));
        check(held(h, id2) == 1, "the new connection holds %d instances", held(h, id2));

        askRunner("start " + x, 60000);
        serverHasOn("the restarted member loaded it", x, g, svc, set(e));
        w.deregisterInstance(svc, g, e);
        py.await("deregistered through the new connection", CHANGE_MS, set());
        pz.await("deregistered through the new connection", CHANGE_MS, set());
        for (int m = 0; m < 3; m++) {
            serverHasOn("after the deregistration", m, g, svc, set());
        }
    }

    /* A client JVM connected to member q only; q is killed, then the JVM:
     * the owner never comes back. The survivors keep its instance (its
     * client synced from q) until nacos.naming.client.expired.time, then
     * remove it and push the removal; it does not come back. */
    static void ownerGone(Ctx ctx) throws Exception {
        int q = 1;
        int r1 = 0;
        int r2 = 2;
        NamingService s1 = ctx.client(members[r1], null);
        NamingService s2 = ctx.client(members[r2], null);
        String svc = uniq("gone");
        String g = "G-" + RUN_ID;
        Instance d = inst("127.0.0.84", nextPort());
        Pushes p1 = new Pushes("subscriber on " + NAMES[r1]);
        Pushes p2 = new Pushes("subscriber on " + NAMES[r2]);
        s1.subscribe(svc, g, p1);
        s2.subscribe(svc, g, p2);
        Process child = startChild(ctx, members[q], svc, g, d);
        p1.await("the child JVM's instance", CHANGE_MS, set(d));
        p2.await("the child JVM's instance", CHANGE_MS, set(d));

        askRunner("kill9 " + q, 30000);
        long t0 = System.currentTimeMillis();
        killChild(child);
        /* still listed: the survivors cannot tell a dead owner from one
         * about to reconnect */
        check(httpAddrsAt(members[r1], null, g, svc).equals(set(d)),
                "%s dropped the instance at once", NAMES[r1]);
        check(httpAddrsAt(members[r2], null, g, svc).equals(set(d)),
                "%s dropped the instance at once", NAMES[r2]);
        long bound = expiredMs + 20000;
        p1.await("the instance expired", bound, set());
        long ms1 = System.currentTimeMillis() - t0;
        p2.await("the instance expired", bound, set());
        long ms2 = System.currentTimeMillis() - t0;
        System.out.println("  (member and client killed: removal pushed on " + NAMES[r1]
                + " after " + ms1 + " ms, on " + NAMES[r2] + " after " + ms2
                + " ms; expired.time " + expiredMs + " ms)");
        /* renewed by sync or verify up to the kill: not removed much before
         * the expiry */
        long early = expiredMs / 2;
        check(ms1 >= early && ms2 >= early, "removed after %d / %d ms, before %d ms", ms1, ms2,
                early);
        serverHasOn("expired", r1, g, svc, set());
        serverHasOn("expired", r2, g, svc, set());
        p1.expectNoneWith("no resurrection", QUIET_MS, d);
        p2.expectNoneWith("no resurrection", 100, d);
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
                new Scenario("cluster: register on A, list on B and C, pushes on C", 40000,
                        NacosCluster::replicate),
                new Scenario("cluster: kill -9 the client's member: reconnect, redo, no gap",
                        90000 + expiredMs, NacosCluster::killMember),
                new Scenario("cluster: member and client killed: expiry on the survivors",
                        60000 + expiredMs, NacosCluster::ownerGone));
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: java NacosCluster A B C EXPIRED_MS WORK_DIR");
            System.exit(2);
        }
        members = new String[] {args[0], args[1], args[2]};
        serverAddr = members[0];
        expiredMs = Long.parseLong(args[3]);
        workDir = args[4];
        startStdinReader(true);
        String filter = System.getenv("JAVA_COMPAT_FILTER");
        Pattern only = filter == null || filter.isEmpty() ? null : Pattern.compile(filter);
        List<String> failures = new ArrayList<>();
        int passed = 0;
        int skipped = 0;
        for (Scenario s : scenarios()) {
            if (only != null && !only.matcher(s.name).find()) {
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
                failures.add(s.name);
            }
            System.out.flush();
        }
        System.out.println("SUMMARY passed=" + passed + " failed=" + failures.size()
                + " skipped=" + skipped);
        System.out.flush();
        Runtime.getRuntime().halt(failures.isEmpty() ? 0 : 1);
    }
}
