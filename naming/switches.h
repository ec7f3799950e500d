/* The naming switch domain (Nacos's SwitchDomain): runtime knobs an operator
 * reads and changes through /nacos/v1/ns/operator/switches. Defaults are
 * Nacos 2.4.3's. The values every member uses come from Raft; this struct is
 * this node's applied copy, read on the loop.
 */
#ifndef LC_NAMING_SWITCHES_H
#define LC_NAMING_SWITCHES_H

#include <stdbool.h>

struct lc_switches {
    long default_push_cache_millis; /* cacheMillis of ServiceInfo: 10000 */
    long client_beat_interval;      /* beat answer when unset: 5000 */
    long default_cache_millis;      /* 3000 */
    double distro_threshold;        /* 0.7 */
    bool health_check_enabled;      /* true */
    bool auto_change_health_check_enabled; /* true */
    bool distro_enabled;            /* true */
    bool enable_standalone;         /* true */
    bool push_enabled;              /* true */
    bool light_beat_enabled;        /* true */
    bool default_instance_ephemeral; /* true */
    bool disable_add_ip;            /* false */
    bool send_beat_only;            /* false */
    bool enable_authentication;     /* false */
    int check_times;                /* 3 */
};

/* Nacos's defaults. */
static inline void lc_switches_default(struct lc_switches *sw)
{
    *sw = (struct lc_switches){
        .default_push_cache_millis = 10000,
        .client_beat_interval = 5000,
        .default_cache_millis = 3000,
        .distro_threshold = 0.7,
        .health_check_enabled = true,
        .auto_change_health_check_enabled = true,
        .distro_enabled = true,
        .enable_standalone = true,
        .push_enabled = true,
        .light_beat_enabled = true,
        .default_instance_ephemeral = true,
        .check_times = 3,
    };
}

#endif /* LC_NAMING_SWITCHES_H */
