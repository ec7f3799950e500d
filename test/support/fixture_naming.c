/* Test cluster of naming processors on canonical/raft's in-memory fixture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "naming/core/events.h"
#include "naming/store/service_meta.h"
#include "snapshots/snapshots.h"
#include "test/support/fixture_naming.h"

/* ------------------------------------------------------------ helpers */

struct lines {
    char **v;
    size_t n;
    size_t cap;
};

static void lines_add(struct lines *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void lines_add(struct lines *l, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int rv;
    va_start(ap, fmt);
    rv = vasprintf(&s, fmt, ap);
    va_end(ap);
    assert_true(rv >= 0);
    /* Separators in keys (\x1e, \x1f) printed readably. */
    for (char *p = s; *p != '\0'; p++) {
        if (*p == '\x1e' || *p == '\x1f') {
            *p = '/';
        }
    }
    if (l->n == l->cap) {
        l->cap = l->cap == 0 ? 32 : l->cap * 2;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n++] = s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort, join with newlines, free the lines. */
static char *lines_join(struct lines *l)
{
    size_t total = 1;
    char *out;
    char *p;
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    for (size_t i = 0; i < l->n; i++) {
        total += strlen(l->v[i]) + 1;
    }
    out = malloc(total);
    assert_non_null(out);
    p = out;
    for (size_t i = 0; i < l->n; i++) {
        size_t len = strlen(l->v[i]);
        memcpy(p, l->v[i], len);
        p[len] = '\n';
        p += len + 1;
        free(l->v[i]);
    }
    *p = '\0';
    free(l->v);
    memset(l, 0, sizeof *l);
    return out;
}

static void on_kv_change(void *data, const char *key)
{
    struct lc_fixture_node *node = data;
    char **v = realloc(node->changed, (node->n_changed + 1) * sizeof *v);
    assert_non_null(v);
    node->changed = v;
    node->changed[node->n_changed] = strdup(key);
    assert_non_null(node->changed[node->n_changed]);
    node->n_changed++;
}

/* ------------------------------------------------------------ lifecycle */

static void node_init(struct lc_fixture_node *node, const char *group)
{
    struct lc_naming *n = calloc(1, sizeof *n);
    struct lc_statemachine **glue;
    assert_non_null(n);
    n->bus = lc_bus_new();
    assert_non_null(n->bus);
    n->reg = lc_registry_new(n->bus);
    assert_non_null(n->reg);
    lc_naming_persistent_processor(n, &n->persistent_proc);
    lc_service_meta_processor(n, &n->service_meta_proc);
    lc_kvstore_processor(&n->instance_meta, LC_GROUP_INSTANCE_META,
                         &n->instance_meta_proc);
    lc_switches_default(&n->sw);
    lc_naming_switch_processor(n, &n->switch_proc);
    node->naming = n;
    if (strcmp(group, LC_GROUP_SWITCHES) == 0) {
        node->proc = &n->switch_proc;
        glue = &n->switch_sm;
    } else if (strcmp(group, LC_GROUP_PERSISTENT) == 0) {
        node->proc = &n->persistent_proc;
        glue = &n->persistent_sm;
    } else if (strcmp(group, LC_GROUP_SERVICE_META) == 0) {
        node->proc = &n->service_meta_proc;
        glue = &n->service_meta_sm;
    } else if (strcmp(group, LC_GROUP_INSTANCE_META) == 0) {
        node->proc = &n->instance_meta_proc;
        node->kv = &n->instance_meta;
        glue = &n->instance_meta_sm;
    } else {
        fail_msg("unknown group %s", group);
        return;
    }
    if (node->kv != NULL) {
        node->kv->on_change = on_kv_change;
        node->kv->change_data = node;
    }
    /* lc_naming_free() frees the glue with the rest. */
    assert_int_equal(lc_statemachine_new_detached(node->proc, glue), 0);
    lc_fixture_sm_init(&node->adapter, lc_statemachine_sm(*glue));
}

struct lc_fixture_cluster *lc_fixture_cluster_new(unsigned n, const char *group)
{
    struct lc_fixture_cluster *c = calloc(1, sizeof *c);
    struct raft_configuration conf;
    assert_non_null(c);
    assert_true(n > 0 && n <= RAFT_FIXTURE_MAX_SERVERS);
    c->group = group;
    c->n = n;
    assert_int_equal(raft_fixture_initialize(&c->f), 0);
    for (unsigned i = 0; i < n; i++) {
        node_init(&c->nodes[i], group);
        assert_int_equal(raft_fixture_grow(&c->f, &c->nodes[i].adapter.fsm), 0);
        lc_fixture_sm_attach(&c->nodes[i].adapter, raft_fixture_get(&c->f, i));
    }
    assert_int_equal(raft_fixture_configuration(&c->f, n, &conf), 0);
    assert_int_equal(raft_fixture_bootstrap(&c->f, &conf), 0);
    raft_configuration_close(&conf);
    assert_int_equal(raft_fixture_start(&c->f), 0);
    return c;
}

void lc_fixture_cluster_free(struct lc_fixture_cluster *c)
{
    if (c == NULL) {
        return;
    }
    /* Closes every raft instance: pending raft_apply requests fail. */
    raft_fixture_close(&c->f);
    for (unsigned i = 0; i < c->n; i++) {
        struct lc_fixture_node *node = &c->nodes[i];
        lc_fixture_sm_close(&node->adapter);
        lc_fixture_changes_reset(c, i);
        lc_naming_free(node->naming);
    }
    for (size_t k = 0; k < c->n_keys; k++) {
        free(c->keys[k]);
    }
    free(c->keys);
    free(c);
}

struct raft *lc_fixture_raft(struct lc_fixture_cluster *c, unsigned i)
{
    return raft_fixture_get(&c->f, i);
}

/* ------------------------------------------------------------ writes */

struct submit {
    struct raft_apply req;
    struct lc_fixture_cluster *c;
};

static void on_apply_done(struct raft_apply *req, int status, void *result)
{
    struct submit *s = req->data;
    (void)result;
    if (status == 0) {
        s->c->n_apply_ok++;
    } else {
        s->c->n_apply_failed++;
    }
    free(s);
}

uint64_t lc_fixture_submit_raw(struct lc_fixture_cluster *c, unsigned i,
                               void *buf, size_t len)
{
    struct submit *s = calloc(1, sizeof *s);
    struct raft_buffer b = {buf, len};
    int rv;
    assert_non_null(s);
    s->c = c;
    s->req.data = s;
    rv = raft_apply(raft_fixture_get(&c->f, i), &s->req, &b, 1, on_apply_done);
    if (rv != 0) {
        raft_free(buf);
        free(s);
        return 0;
    }
    return s->req.index;
}

uint64_t lc_fixture_submit(struct lc_fixture_cluster *c, unsigned i,
                           const char *group, const char *operation,
                           const void *data, size_t len)
{
    void *buf = NULL;
    size_t n = 0;
    assert_int_equal(lc_sm_encode_write(group != NULL ? group : c->group, "",
                                        operation, "", data, len, &buf, &n),
                     0);
    assert_int_equal(n % 8, 0);
    return lc_fixture_submit_raw(c, i, buf, n);
}

uint64_t lc_fixture_submit_instance(struct lc_fixture_cluster *c, unsigned i,
                                    const char *operation,
                                    const Locus__Naming__InstanceStore *st)
{
    size_t len = locus__naming__instance_store__get_packed_size(st);
    uint8_t *data = malloc(len > 0 ? len : 1);
    uint64_t index;
    assert_non_null(data);
    locus__naming__instance_store__pack(st, data);
    index = lc_fixture_submit(c, i, NULL, operation, data, len);
    free(data);
    return index;
}

uint64_t lc_fixture_submit_kv(struct lc_fixture_cluster *c, unsigned i,
                              const char *operation, const char *key,
                              const void *value, size_t len)
{
    Locus__Naming__MetadataStore st = LOCUS__NAMING__METADATA_STORE__INIT;
    uint8_t *data;
    size_t n;
    uint64_t index;
    bool known = false;

    for (size_t k = 0; k < c->n_keys; k++) {
        known = known || strcmp(c->keys[k], key) == 0;
    }
    if (!known) {
        char **v = realloc(c->keys, (c->n_keys + 1) * sizeof *v);
        assert_non_null(v);
        c->keys = v;
        c->keys[c->n_keys] = strdup(key);
        assert_non_null(c->keys[c->n_keys]);
        c->n_keys++;
    }
    st.key = (char *)key;
    st.value.data = (uint8_t *)value;
    st.value.len = len;
    n = locus__naming__metadata_store__get_packed_size(&st);
    data = malloc(n > 0 ? n : 1);
    assert_non_null(data);
    locus__naming__metadata_store__pack(&st, data);
    index = lc_fixture_submit(c, i, NULL, operation, data, n);
    free(data);
    return index;
}

/* ------------------------------------------------------------ stepping */

static bool in_mask(unsigned mask, unsigned i)
{
    return mask == 0 || (mask & (1u << i)) != 0;
}

unsigned lc_fixture_leader(struct lc_fixture_cluster *c, unsigned mask)
{
    unsigned best = c->n;
    raft_term term = 0;
    for (unsigned i = 0; i < c->n; i++) {
        struct raft *r = raft_fixture_get(&c->f, i);
        if (!in_mask(mask, i) || !raft_fixture_alive(&c->f, i) ||
            raft_state(r) != RAFT_LEADER) {
            continue;
        }
        if (best == c->n || r->current_term > term) {
            best = i;
            term = r->current_term;
        }
    }
    return best;
}

struct leader_arg {
    struct lc_fixture_cluster *c;
    unsigned mask;
};

static bool has_leader(struct raft_fixture *f, void *arg)
{
    struct leader_arg *a = arg;
    (void)f;
    return lc_fixture_leader(a->c, a->mask) < a->c->n;
}

unsigned lc_fixture_step_until_leader(struct lc_fixture_cluster *c,
                                      unsigned mask, unsigned max_ms)
{
    struct leader_arg a = {c, mask};
    raft_fixture_step_until(&c->f, has_leader, &a, max_ms);
    return lc_fixture_leader(c, mask);
}

void lc_fixture_link(struct lc_fixture_cluster *c, unsigned i, unsigned j,
                     bool connected)
{
    if (connected) {
        raft_fixture_reconnect(&c->f, i, j);
        raft_fixture_reconnect(&c->f, j, i);
    } else {
        raft_fixture_disconnect(&c->f, i, j);
        raft_fixture_disconnect(&c->f, j, i);
    }
}

struct applied_arg {
    struct lc_fixture_cluster *c;
    uint64_t index;
    unsigned mask;
};

static bool has_applied(struct raft_fixture *f, void *arg)
{
    struct applied_arg *a = arg;
    for (unsigned i = 0; i < a->c->n; i++) {
        if (in_mask(a->mask, i) &&
            raft_last_applied(raft_fixture_get(f, i)) < a->index) {
            return false;
        }
    }
    return true;
}

bool lc_fixture_step_until_applied(struct lc_fixture_cluster *c, uint64_t index,
                                   unsigned mask, unsigned max_ms)
{
    struct applied_arg a = {c, index, mask};
    return raft_fixture_step_until(&c->f, has_applied, &a, max_ms);
}

unsigned lc_fixture_live(struct lc_fixture_cluster *c)
{
    unsigned mask = 0;
    for (unsigned i = 0; i < c->n; i++) {
        if (raft_fixture_alive(&c->f, i)) {
            mask |= 1u << i;
        }
    }
    return mask;
}

/* ------------------------------------------------------------ instances */

void lc_fixture_inst_init(struct lc_fixture_inst *in, const char *service,
                          int host, int port)
{
    char grouped[128];
    memset(in, 0, sizeof *in);
    locus__naming__instance_store__init(&in->st);
    snprintf(in->service, sizeof in->service, "%s", service);
    snprintf(in->ip, sizeof in->ip, "127.0.%d.%d", host / 250, host % 250);
    snprintf(in->client_id, sizeof in->client_id, "%s:%d#false", in->ip, port);
    snprintf(grouped, sizeof grouped, "%s@@%s", LC_DEFAULT_GROUP, service);
    lc_instance_id(in->instance_id, sizeof in->instance_id, in->ip, port,
                   LC_DEFAULT_CLUSTER, grouped);
    snprintf(in->metadata, sizeof in->metadata, "{\"host\":\"%d\"}", host);
    in->st.namespace_ = LC_DEFAULT_NAMESPACE;
    in->st.group_name = LC_DEFAULT_GROUP;
    in->st.service_name = in->service;
    in->st.client_id = in->client_id;
    in->st.ip = in->ip;
    in->st.port = port;
    in->st.cluster = LC_DEFAULT_CLUSTER;
    in->st.weight = 1.0;
    in->st.healthy = true;
    in->st.enabled = true;
    in->st.metadata = in->metadata;
    in->st.instance_id = in->instance_id;
}

const struct lc_instance *lc_fixture_find(struct lc_fixture_cluster *c,
                                          unsigned i,
                                          const struct lc_fixture_inst *in)
{
    struct lc_registry *reg = c->nodes[i].naming->reg;
    struct lc_service_key key = {in->st.namespace_, in->st.group_name,
                                 in->st.service_name};
    struct lc_service *svc = lc_registry_find_service(reg, &key);
    return svc != NULL ? lc_registry_instance_of(reg, in->client_id, svc)
                       : NULL;
}

/* Server @i publishes exactly @in. */
void lc_fixture_assert_has(struct lc_fixture_cluster *c, unsigned i,
                           const struct lc_fixture_inst *in)
{
    const struct lc_instance *got = lc_fixture_find(c, i, in);
    if (got == NULL) {
        fail_msg("server %u lacks %s", i, in->client_id);
    }
    assert_string_equal(got->ip, in->st.ip);
    assert_int_equal(got->port, in->st.port);
    assert_string_equal(got->cluster, in->st.cluster);
    assert_true(got->weight == in->st.weight);
    assert_int_equal(got->healthy, in->st.healthy);
    assert_int_equal(got->enabled, in->st.enabled);
    assert_false(got->ephemeral);
    assert_string_equal(got->metadata_text, in->st.metadata);
    assert_string_equal(got->instance_id, in->st.instance_id);
}

void lc_fixture_assert_lacks(struct lc_fixture_cluster *c, unsigned i,
                             const struct lc_fixture_inst *in)
{
    if (lc_fixture_find(c, i, in) != NULL) {
        fail_msg("server %u still has %s", i, in->client_id);
    }
}

void lc_fixture_wait_applied(struct lc_fixture_cluster *c, uint64_t index,
                             unsigned mask)
{
    if (!lc_fixture_step_until_applied(c, index, mask, LC_FIXTURE_MAX_MS)) {
        fail_msg("index %llu not applied in time", (unsigned long long)index);
    }
}

/* Every server (alive or not) that applied @index got @status for it. */
void lc_fixture_assert_result(struct lc_fixture_cluster *c, uint64_t index,
                              int status)
{
    for (unsigned i = 0; i < c->n; i++) {
        const struct lc_raft_result *r =
            lc_fixture_sm_result(&c->nodes[i].adapter, index);
        if (r == NULL) {
            fail_msg("server %u did not apply %llu", i,
                     (unsigned long long)index);
        }
        if (r->status != status) {
            fail_msg("server %u index %llu: %s (%s), expected %s", i,
                     (unsigned long long)index, lc_errname(r->status),
                     r->message, lc_errname(status));
        }
        if (status != 0) {
            assert_true(r->message[0] != '\0');
        }
    }
}

/* ------------------------------------------------------------ state */

static char *dump_registry(struct lc_registry *reg)
{
    struct lines l = {0};
    struct lc_client *cl, *ctmp;
    struct lc_service *svc, *stmp;

    HASH_ITER(hh, reg->clients, cl, ctmp)
    {
        struct lc_publish *pub, *ptmp;
        if (cl->ephemeral) {
            continue;
        }
        HASH_ITER(hh, cl->publishes, pub, ptmp)
        {
            const struct lc_instance *in = pub->inst;
            assert_string_equal(pub->service_key, pub->service->key);
            lines_add(&l,
                      "I %s %s ip=%s port=%d cluster=%s weight=%.17g "
                      "healthy=%d enabled=%d ephemeral=%d metadata=%s id=%s",
                      cl->id, pub->service_key, in->ip, in->port, in->cluster,
                      in->weight, in->healthy, in->enabled, in->ephemeral,
                      in->metadata_text, in->instance_id);
        }
    }
    HASH_ITER(hh, reg->services, svc, stmp)
    {
        struct lc_publisher *p, *ptmp;
        if (svc->n_publishers == 0) {
            continue; /* an empty service is not replicated state */
        }
        assert_int_equal(svc->n_publishers, HASH_COUNT(svc->publishers));
        lines_add(&l, "S %s ephemeral=%d publishers=%u", svc->key,
                  svc->ephemeral, svc->n_publishers);
        HASH_ITER(hh, svc->publishers, p, ptmp)
        {
            lines_add(&l, "S %s publisher %s", svc->key, p->client_id);
        }
    }
    lines_add(&l, "N instances=%lu", reg->n_instances);
    return lines_join(&l);
}

static char *dump_kv(struct lc_fixture_cluster *c, struct lc_kvstore *kv)
{
    struct lines l = {0};
    unsigned present = 0;
    for (size_t k = 0; k < c->n_keys; k++) {
        size_t len = 0;
        const uint8_t *v = lc_kvstore_get(kv, c->keys[k], &len);
        char *hex;
        if (v == NULL) {
            lines_add(&l, "K %s absent", c->keys[k]);
            continue;
        }
        present++;
        hex = malloc(2 * len + 1);
        assert_non_null(hex);
        for (size_t j = 0; j < len; j++) {
            snprintf(hex + 2 * j, 3, "%02x", v[j]);
        }
        hex[2 * len] = '\0';
        lines_add(&l, "K %s = %s", c->keys[k], hex);
        free(hex);
    }
    /* Every key the store holds is one the test submitted. */
    assert_int_equal(lc_kvstore_count(kv), present);
    lines_add(&l, "N keys=%u", lc_kvstore_count(kv));
    return lines_join(&l);
}

/* Service metadata: every entry (its JSON views) and every service. */
static char *dump_smeta(struct lc_naming *n)
{
    struct lines l = {0};
    struct lc_smeta *e, *etmp;
    struct lc_service *svc, *stmp;
    HASH_ITER(hh, n->smeta, e, etmp)
    {
        const Locus__Naming__ServiceMeta *m = e->meta;
        json_t *o = json_object();
        json_t *cl = json_object();
        char *text;
        json_object_set_new(o, "ephemeral", json_boolean(m->ephemeral));
        json_object_set_new(o, "protectThreshold",
                            lc_json_float(m->protect_threshold));
        json_object_set_new(o, "selector", lc_selector_json(m));
        json_object_set_new(o, "metadata",
                            lc_meta_entries_json(m->metadata, m->n_metadata));
        for (size_t k = 0; k < m->n_clusters; k++) {
            const Locus__Naming__ClusterMeta *c = m->clusters[k];
            json_t *co = json_object();
            json_object_set_new(co, "healthChecker",
                                json_string(c->health_checker));
            json_object_set_new(co, "checkPort", json_integer(c->check_port));
            json_object_set_new(co, "useIPPort4Check",
                                json_boolean(c->use_ip_port));
            json_object_set_new(
                co, "metadata",
                lc_meta_entries_json(c->metadata, c->n_metadata));
            json_object_set_new(cl, c->name, co);
        }
        json_object_set_new(o, "clusters", cl);
        text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
        lines_add(&l, "M %s %s", e->key, text);
        free(text);
        json_decref(o);
    }
    HASH_ITER(hh, n->reg->services, svc, stmp)
    {
        lines_add(&l, "S %s ephemeral=%d", svc->key, svc->ephemeral);
    }
    lines_add(&l, "N metadata=%u services=%u", HASH_COUNT(n->smeta),
              HASH_COUNT(n->reg->services));
    return lines_join(&l);
}

char *lc_fixture_dump(struct lc_fixture_cluster *c, unsigned i)
{
    struct lc_fixture_node *node = &c->nodes[i];
    if (node->kv != NULL) {
        return dump_kv(c, node->kv);
    }
    if (node->proc == &node->naming->switch_proc) {
        json_t *doc = lc_switches_json(&node->naming->sw);
        char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
        json_decref(doc);
        assert_non_null(text);
        return text;
    }
    if (strcmp(c->group, LC_GROUP_SERVICE_META) == 0) {
        return dump_smeta(node->naming);
    }
    return dump_registry(node->naming->reg);
}

char *lc_fixture_assert_converged(struct lc_fixture_cluster *c, unsigned mask)
{
    char *ref = NULL;
    unsigned ref_i = 0;
    for (unsigned i = 0; i < c->n; i++) {
        char *d;
        if (!in_mask(mask, i)) {
            continue;
        }
        d = lc_fixture_dump(c, i);
        if (ref == NULL) {
            ref = d;
            ref_i = i;
            continue;
        }
        if (strcmp(ref, d) != 0) {
            print_error("server %u:\n%s\nserver %u:\n%s\n", ref_i, ref, i, d);
            free(d);
            free(ref);
            fail_msg("servers %u and %u differ", ref_i, i);
        }
        free(d);
    }
    assert_non_null(ref);
    return ref;
}

size_t lc_fixture_changes(struct lc_fixture_cluster *c, unsigned i,
                          const char *key)
{
    struct lc_fixture_node *node = &c->nodes[i];
    size_t n = 0;
    for (size_t k = 0; k < node->n_changed; k++) {
        if (key == NULL || strcmp(node->changed[k], key) == 0) {
            n++;
        }
    }
    return n;
}

void lc_fixture_changes_reset(struct lc_fixture_cluster *c, unsigned i)
{
    struct lc_fixture_node *node = &c->nodes[i];
    for (size_t k = 0; k < node->n_changed; k++) {
        free(node->changed[k]);
    }
    free(node->changed);
    node->changed = NULL;
    node->n_changed = 0;
}

/* ------------------------------------------------------------ shortcuts */

struct lc_fixture_cluster *lc_fixture_cluster3(void **state, const char *group)
{
    struct lc_fixture_cluster *c = lc_fixture_cluster_new(3, group);
    *state = c;
    raft_fixture_elect(&c->f, 0);
    return c;
}

int lc_fixture_teardown(void **state)
{
    lc_fixture_cluster_free(*state);
    return 0;
}

uint64_t lc_fixture_add(struct lc_fixture_cluster *c, unsigned leader,
                        const struct lc_fixture_inst *in)
{
    uint64_t index = lc_fixture_submit_instance(c, leader, "ADD", &in->st);
    assert_true(index > 0);
    return index;
}

uint64_t lc_fixture_del(struct lc_fixture_cluster *c, unsigned leader,
                        const struct lc_fixture_inst *in)
{
    uint64_t index = lc_fixture_submit_instance(c, leader, "DELETE", &in->st);
    assert_true(index > 0);
    return index;
}

/* ------------------------------------------------------------ snapshots */

int lc_fixture_restore(struct lc_fixture_cluster *c, unsigned i,
                       const void *buf, size_t len, char *errmsg, size_t errlen)
{
    struct lc_raft_sm *sm = c->nodes[i].adapter.sm;
    struct lc_raft_snapshot_info info;
    memset(&info, 0, sizeof info);
    errmsg[0] = '\0';
    return sm->restore(sm, buf, len, &info, errmsg, errlen);
}

static unsigned long events_published(struct lc_fixture_cluster *c, unsigned i)
{
    unsigned long n = 0;
    for (int t = 0; t < LC_EV__COUNT; t++) {
        n += lc_bus_count(c->nodes[i].naming->bus, (enum lc_event_type)t);
    }
    return n;
}

void lc_fixture_assert_refused(struct lc_fixture_cluster *c, unsigned i,
                               const void *buf, size_t len, const char *what)
{
    char *before = lc_fixture_dump(c, i);
    char *after;
    size_t changes = lc_fixture_changes(c, i, NULL);
    unsigned long events = events_published(c, i);
    char errmsg[256];
    int rv = lc_fixture_restore(c, i, buf, len, errmsg, sizeof errmsg);

    if (rv == 0) {
        fail_msg("%s: restore accepted", what);
    }
    if (errmsg[0] == '\0') {
        fail_msg("%s: refused (%s) without a message", what, lc_errname(rv));
    }
    after = lc_fixture_dump(c, i);
    assert_string_equal(before, after);
    assert_int_equal(lc_fixture_changes(c, i, NULL), changes);
    assert_int_equal(events_published(c, i), events);
    free(before);
    free(after);
}

void lc_fixture_must_restore(struct lc_fixture_cluster *c, unsigned i,
                             const void *buf, size_t len)
{
    char errmsg[256];
    int rv = lc_fixture_restore(c, i, buf, len, errmsg, sizeof errmsg);
    if (rv != 0) {
        fail_msg("restore on server %u: %s: %s", i, lc_errname(rv), errmsg);
    }
}

void lc_fixture_image(const char *group, const char *sql, void **buf,
                      size_t *len)
{
    struct lc_snapshot_meta meta;
    char errmsg[256];
    sqlite3 *db;
    assert_int_equal(lc_snapshot_begin(&db), 0);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    memset(&meta, 0, sizeof meta);
    snprintf(meta.group, sizeof meta.group, "%s", group);
    meta.index = 1;
    meta.term = 1;
    assert_int_equal(
        lc_snapshot_finish(db, &meta, buf, len, errmsg, sizeof errmsg), 0);
}

void lc_fixture_publish(struct lc_naming *n, const char *service,
                        const char *ip, int port, const char *cluster)
{
    struct lc_service_key key = {"public", "DEFAULT_GROUP", service};
    struct lc_service *svc = lc_registry_service(n->reg, &key, false);
    char id[256], client[300], grouped[300];
    struct lc_instance *inst;
    snprintf(grouped, sizeof grouped, "DEFAULT_GROUP@@%s", service);
    snprintf(client, sizeof client, "%s:%d#false", ip, port);
    lc_instance_id(id, sizeof id, ip, port, cluster, grouped);
    inst = lc_instance_new(ip, port, cluster, 1.0, true, true, false, NULL, id);
    assert_non_null(svc);
    assert_non_null(inst);
    assert_int_equal(
        lc_registry_publish(n->reg, client, LC_CLIENT_PERSISTENT, svc, inst),
        0);
    lc_instance_unref(inst);
}
