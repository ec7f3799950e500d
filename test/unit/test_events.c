/* Tests of naming/core/events.c: subscriber order, queued (never re-entrant)
 * dispatch of events published during dispatch, counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naming/core/events.h"

/* A log of calls: "<subscriber>:<type>:<service>|..." */
struct log {
    char text[4096];
    int depth;     /* subscribers running right now */
    int max_depth; /* deepest nesting seen */
    struct lc_bus *bus;
};

struct sub {
    struct log *log;
    const char *name;
    /* What this subscriber publishes when it sees @trigger (NULL: nothing). */
    const char *trigger;
    enum lc_event_type emit_type;
    const char *emit_service[3];
};

static void log_call(struct log *log, const char *name,
                     const struct lc_event *ev)
{
    char line[256];
    snprintf(line, sizeof line, "%s:%d:%s|", name, (int)ev->type,
             ev->service != NULL ? ev->service : "-");
    strncat(log->text, line, sizeof log->text - strlen(log->text) - 1);
}

static void on_event(const struct lc_event *ev, void *data)
{
    struct sub *s = data;
    struct log *log = s->log;

    log->depth++;
    if (log->depth > log->max_depth) {
        log->max_depth = log->depth;
    }
    log_call(log, s->name, ev);
    if (s->trigger != NULL && ev->service != NULL &&
        strcmp(ev->service, s->trigger) == 0) {
        for (int i = 0; i < 3 && s->emit_service[i] != NULL; i++) {
            /* The strings live on this stack frame and are overwritten
             * right after publishing: a queued event must own copies. */
            char ns[16] = "ns";
            char service[64];
            char client[16] = "c1";
            struct lc_event e = {.type = s->emit_type,
                                 .ns = ns,
                                 .group = NULL,
                                 .service = service,
                                 .client_id = client};
            snprintf(service, sizeof service, "%s", s->emit_service[i]);
            lc_bus_publish(log->bus, &e);
            memset(service, 'X', sizeof service - 1);
            service[sizeof service - 1] = '\0';
            memset(ns, 'Y', sizeof ns - 1);
            memset(client, 'Z', sizeof client - 1);
        }
    }
    log->depth--;
}

static struct lc_event ev_of(enum lc_event_type type, const char *service)
{
    struct lc_event ev = {.type = type,
                          .ns = "public",
                          .group = "DEFAULT_GROUP",
                          .service = service,
                          .client_id = "127.2.3.4:80#true"};
    return ev;
}

static void test_subscriber_order(void **state)
{
    struct log log = {0};
    struct lc_bus *bus = lc_bus_new();
    struct sub a = {.log = &log, .name = "a"};
    struct sub b = {.log = &log, .name = "b"};
    struct sub c = {.log = &log, .name = "c"};
    struct sub other = {.log = &log, .name = "other"};
    struct lc_event ev = ev_of(LC_EV_SERVICE_CHANGED, "s1");
    (void)state;

    assert_non_null(bus);
    log.bus = bus;
    assert_int_equal(lc_bus_subscribe(bus, LC_EV_SERVICE_CHANGED, on_event, &a),
                     0);
    assert_int_equal(
        lc_bus_subscribe(bus, LC_EV_CLIENT_DISCONNECT, on_event, &other), 0);
    assert_int_equal(lc_bus_subscribe(bus, LC_EV_SERVICE_CHANGED, on_event, &b),
                     0);
    assert_int_equal(lc_bus_subscribe(bus, LC_EV_SERVICE_CHANGED, on_event, &c),
                     0);
    lc_bus_publish(bus, &ev);
    assert_string_equal(log.text, "a:2:s1|b:2:s1|c:2:s1|");

    log.text[0] = '\0';
    ev = ev_of(LC_EV_CLIENT_DISCONNECT, NULL);
    lc_bus_publish(bus, &ev);
    assert_string_equal(log.text, "other:3:-|");

    /* No subscriber: counted, nothing called. */
    log.text[0] = '\0';
    ev = ev_of(LC_EV_CLIENT_REGISTER_SERVICE, "s2");
    lc_bus_publish(bus, &ev);
    assert_string_equal(log.text, "");
    assert_int_equal(log.max_depth, 1);
    lc_bus_free(bus);
}

/* A subscriber publishes during dispatch: the new events wait until every
 * subscriber has seen the current one, then go out in publish order. */
static void test_publish_during_dispatch(void **state)
{
    struct log log = {0};
    struct lc_bus *bus = lc_bus_new();
    struct sub first = {.log = &log,
                        .name = "first",
                        .trigger = "s1",
                        .emit_type = LC_EV_SERVICE_CHANGED,
                        .emit_service = {"s2", "s3", NULL}};
    struct sub second = {.log = &log, .name = "second"};
    struct sub changed = {.log = &log,
                          .name = "changed",
                          .trigger = "s2",
                          .emit_type = LC_EV_CLIENT_DISCONNECT,
                          .emit_service = {"s4", NULL}};
    struct sub gone = {.log = &log, .name = "gone"};
    struct lc_event ev = ev_of(LC_EV_CLIENT_REGISTER_SERVICE, "s1");
    (void)state;

    log.bus = bus;
    assert_int_equal(
        lc_bus_subscribe(bus, LC_EV_CLIENT_REGISTER_SERVICE, on_event, &first),
        0);
    assert_int_equal(
        lc_bus_subscribe(bus, LC_EV_CLIENT_REGISTER_SERVICE, on_event, &second),
        0);
    assert_int_equal(
        lc_bus_subscribe(bus, LC_EV_SERVICE_CHANGED, on_event, &changed), 0);
    assert_int_equal(
        lc_bus_subscribe(bus, LC_EV_CLIENT_DISCONNECT, on_event, &gone), 0);

    lc_bus_publish(bus, &ev);
    /* s1 reaches both subscribers before s2 and s3 go out; s4, published
     * while s2 is dispatched, comes after s3 (already queued). */
    assert_string_equal(log.text, "first:0:s1|second:0:s1|"
                                  "changed:2:s2|changed:2:s3|gone:3:s4|");
    assert_int_equal(log.max_depth, 1); /* never re-entrant */

    assert_int_equal(lc_bus_count(bus, LC_EV_CLIENT_REGISTER_SERVICE), 1);
    assert_int_equal(lc_bus_count(bus, LC_EV_CLIENT_DEREGISTER_SERVICE), 0);
    assert_int_equal(lc_bus_count(bus, LC_EV_SERVICE_CHANGED), 2);
    assert_int_equal(lc_bus_count(bus, LC_EV_CLIENT_DISCONNECT), 1);

    /* The bus is idle again: a second round behaves the same. */
    log.text[0] = '\0';
    lc_bus_publish(bus, &ev);
    assert_string_equal(log.text, "first:0:s1|second:0:s1|"
                                  "changed:2:s2|changed:2:s3|gone:3:s4|");
    assert_int_equal(lc_bus_count(bus, LC_EV_SERVICE_CHANGED), 4);
    lc_bus_free(bus);
}

/* Queued events carry copies of every string, NULLs stay NULL. */
struct capture {
    struct lc_bus *bus;
    int calls;
    char seen[4][64];
    bool null_group;
};

static void on_capture_trigger(const struct lc_event *ev, void *data)
{
    struct capture *c = data;
    char ns[8] = "ns1";
    char service[8] = "svc";
    char client[8] = "cid";
    struct lc_event e = {.type = LC_EV_CLIENT_DEREGISTER_SERVICE,
                         .ns = ns,
                         .group = NULL,
                         .service = service,
                         .client_id = client};
    (void)ev;
    lc_bus_publish(c->bus, &e);
    assert_int_equal(c->calls, 0); /* not dispatched yet */
    strcpy(ns, "bad");
    strcpy(service, "bad");
    strcpy(client, "bad");
}

static void on_capture(const struct lc_event *ev, void *data)
{
    struct capture *c = data;
    c->calls++;
    snprintf(c->seen[0], sizeof c->seen[0], "%s", ev->ns);
    snprintf(c->seen[2], sizeof c->seen[2], "%s", ev->service);
    snprintf(c->seen[3], sizeof c->seen[3], "%s", ev->client_id);
    c->null_group = ev->group == NULL;
}

static void test_queued_strings_copied(void **state)
{
    struct capture c = {0};
    struct lc_bus *bus = lc_bus_new();
    struct lc_event ev = ev_of(LC_EV_SERVICE_CHANGED, "x");
    (void)state;
    c.bus = bus;
    assert_int_equal(
        lc_bus_subscribe(bus, LC_EV_SERVICE_CHANGED, on_capture_trigger, &c),
        0);
    assert_int_equal(
        lc_bus_subscribe(bus, LC_EV_CLIENT_DEREGISTER_SERVICE, on_capture, &c),
        0);
    lc_bus_publish(bus, &ev);
    assert_int_equal(c.calls, 1);
    assert_string_equal(c.seen[0], "ns1");
    assert_string_equal(c.seen[2], "svc");
    assert_string_equal(c.seen[3], "cid");
    assert_true(c.null_group);
    lc_bus_free(bus);
}

/* A long chain: each dispatch publishes the next; the stack never grows. */
struct chain {
    struct lc_bus *bus;
    int depth;
    int max_depth;
    int n;
};

static void on_chain(const struct lc_event *ev, void *data)
{
    struct chain *ch = data;
    (void)ev;
    ch->depth++;
    if (ch->depth > ch->max_depth) {
        ch->max_depth = ch->depth;
    }
    if (++ch->n < 10000) {
        struct lc_event e = {.type = LC_EV_SERVICE_CHANGED};
        lc_bus_publish(ch->bus, &e);
    }
    ch->depth--;
}

static void test_chain(void **state)
{
    struct chain ch = {0};
    struct lc_bus *bus = lc_bus_new();
    struct lc_event ev = {.type = LC_EV_SERVICE_CHANGED};
    (void)state;
    ch.bus = bus;
    assert_int_equal(
        lc_bus_subscribe(bus, LC_EV_SERVICE_CHANGED, on_chain, &ch), 0);
    lc_bus_publish(bus, &ev);
    assert_int_equal(ch.n, 10000);
    assert_int_equal(ch.max_depth, 1);
    assert_int_equal(lc_bus_count(bus, LC_EV_SERVICE_CHANGED), 10000);
    lc_bus_free(bus);
}

static void test_counts_start_at_zero(void **state)
{
    struct lc_bus *bus = lc_bus_new();
    (void)state;
    for (int t = 0; t < LC_EV__COUNT; t++) {
        assert_int_equal(lc_bus_count(bus, (enum lc_event_type)t), 0);
    }
    lc_bus_free(bus);
    lc_bus_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscriber_order),
        cmocka_unit_test(test_publish_during_dispatch),
        cmocka_unit_test(test_queued_strings_copied),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_counts_start_at_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
