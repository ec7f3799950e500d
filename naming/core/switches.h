/* The naming switch domain (Nacos's SwitchDomain): runtime knobs an operator
 * reads and changes through /nacos/v1/ns/operator/switches. Defaults are
 * Nacos 2.4.3's. The values every member uses come from Raft (group
 * naming_persistent_service, naming/store/switch_store.c); this struct is this
 * node's applied copy, read on the loop.
 *
 * masters, limited_url_map and overridden_server_status are owned by the
 * struct: release them with lc_switches_clear(), duplicate with
 * lc_switches_copy(). The json_t values are never modified in place.
 */
#ifndef LC_NAMING_SWITCHES_H
#define LC_NAMING_SWITCHES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* SwitchDomain.HealthParams: check intervals in ms and the smoothing factor
 * (Java floats). */
struct lc_health_params {
    int max;
    int min;
    float factor;
};

#define LC_SWITCH_DOMAIN_NAME "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00"
/* KeyBuilder.getSwitchDomainKey(). */
#define LC_SWITCH_DOMAIN_KEY                                                   \
    "com.alibaba.nacos.naming.domains.meta." LC_SWITCH_DOMAIN_NAME
#define LC_PUSH_VERSION_MAX 64

struct lc_switches {
    long default_push_cache_millis; /* cacheMillis of ServiceInfo: 10000 */
    long client_beat_interval;      /* beat answer when unset: 5000 */
    long default_cache_millis;      /* 3000 */
    double distro_threshold;        /* 0.7 */
    bool health_check_enabled;      /* true */
    bool auto_change_health_check_enabled; /* true */
    bool distro_enabled;                   /* true */
    bool enable_standalone;                /* true */
    bool push_enabled;                     /* true */
    bool light_beat_enabled;               /* true */
    bool default_instance_ephemeral;       /* true */
    bool disable_add_ip;                   /* false */
    bool send_beat_only;                   /* false */
    bool enable_authentication;            /* false */
    int check_times;                       /* 3 */
    /* Appended for the full domain (issue 3). */
    struct lc_health_params http_params;           /* 5000, 500, 0.85 */
    struct lc_health_params tcp_params;            /* 5000, 1000, 0.75 */
    struct lc_health_params mysql_params;          /* 3000, 2000, 0.65 */
    long server_status_sync_millis;                /* 2000 */
    long service_status_sync_millis;               /* 5000 */
    long distro_server_expired_millis;             /* 10000 */
    char push_go_version[LC_PUSH_VERSION_MAX];     /* "0.1.0" */
    char push_java_version[LC_PUSH_VERSION_MAX];   /* "0.1.0" */
    char push_python_version[LC_PUSH_VERSION_MAX]; /* "0.4.3" */
    char push_c_version[LC_PUSH_VERSION_MAX];      /* "1.0.12" */
    char push_csharp_version[LC_PUSH_VERSION_MAX]; /* "0.9.0" */
    json_t *masters;                /* array of strings, or NULL (null) */
    json_t *limited_url_map;        /* object url -> status, NULL ({}) */
    char *overridden_server_status; /* NULL (null) */
};

/* Nacos's defaults. Owns nothing: no lc_switches_clear() needed. */
static inline void lc_switches_default(struct lc_switches *sw)
{
    *sw = (struct lc_switches){
        .default_push_cache_millis = 10000,
        .client_beat_interval = 5000,
        .default_cache_millis = 3000,
        .distro_threshold = (double)0.7f,
        .health_check_enabled = true,
        .auto_change_health_check_enabled = true,
        .distro_enabled = true,
        .enable_standalone = true,
        .push_enabled = true,
        .light_beat_enabled = true,
        .default_instance_ephemeral = true,
        .check_times = 3,
        .http_params = {5000, 500, 0.85f},
        .tcp_params = {5000, 1000, 0.75f},
        .mysql_params = {3000, 2000, 0.65f},
        .server_status_sync_millis = 2000,
        .service_status_sync_millis = 5000,
        .distro_server_expired_millis = 10000,
        .push_go_version = "0.1.0",
        .push_java_version = "0.1.0",
        .push_python_version = "0.4.3",
        .push_c_version = "1.0.12",
        .push_csharp_version = "0.9.0",
    };
}

/* Release what @sw owns and reset it to the defaults. */
void lc_switches_clear(struct lc_switches *sw);

/* Make @dst (uninitialised) a copy of @src. Return 0 or LC_ENOMEM. */
int lc_switches_copy(struct lc_switches *dst, const struct lc_switches *src);

/* SwitchManager.update(entry, value): validate @value for @entry and apply
 * it to @sw. Entry names and messages are Nacos's; an entry Nacos does not
 * know changes nothing and succeeds. On failure @sw is unchanged and @msg
 * holds Nacos's response body. Return 0, LC_EINVAL (Nacos answers 400),
 * LC_EPROTO (Nacos fails with a runtime exception: 500) or LC_ENOMEM. */
int lc_switches_update(struct lc_switches *sw, const char *entry,
                       const char *value, char *msg, size_t msglen);

/* The SwitchDomain JSON as Nacos's GET /operator/switches writes it: keys in
 * Jackson's order (fields as declared, then the getter-only name and
 * checksum), nulls included. Return a new reference or NULL (no memory). */
json_t *lc_switches_json(const struct lc_switches *sw);

/* Read a document written by lc_switches_json() into @out (uninitialised);
 * keys that are absent keep their defaults. Return 0, LC_EINVAL (a key has
 * the wrong type) or LC_ENOMEM. */
int lc_switches_from_json(const json_t *doc, struct lc_switches *out);

#endif /* LC_NAMING_SWITCHES_H */
