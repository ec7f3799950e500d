/* The registry's model: instances and service names, as Nacos 2.x has them.
 *
 * An instance is immutable once built and reference counted: the client that
 * publishes it, the index rendering it and a snapshot being written on a
 * worker thread may all hold it. Counts change on the loop only; the worker
 * reads fields and never touches counts.
 */
#ifndef LC_NAMING_MODEL_H
#define LC_NAMING_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LC_DEFAULT_NAMESPACE "public"
#define LC_DEFAULT_GROUP "DEFAULT_GROUP"
#define LC_DEFAULT_CLUSTER "DEFAULT"
#define LC_GROUP_SEP "@@"

/* Nacos's length limits (NamingParamChecker / ParamCheckUtils). */
#define LC_MAX_SERVICE_NAME 512
#define LC_MAX_GROUP_NAME 128
#define LC_MAX_CLUSTER_NAME 64
#define LC_MAX_NAMESPACE 64
#define LC_MAX_METADATA 1024

/* Preserved metadata keys and their defaults. */
#define LC_META_BEAT_INTERVAL "preserved.heart.beat.interval"
#define LC_META_BEAT_TIMEOUT "preserved.heart.beat.timeout"
#define LC_META_DELETE_TIMEOUT "preserved.ip.delete.timeout"
#define LC_META_ID_GENERATOR "preserved.instance.id.generator"

/* One allocation holds the struct and its strings. The metadata is kept as
 * canonical text only (a parsed object per instance would cost ~0.7 KB for a
 * three-key map); lc_instance_metadata() parses it when a reader needs it.
 * The beat limits an expiry check needs every second are parsed once. */
struct lc_instance {
    unsigned refs;
    char *ip;
    int port;
    char *cluster; /* LC_DEFAULT_CLUSTER's text is shared */
    double weight;
    bool healthy;
    bool enabled;
    bool ephemeral;
    char *metadata_text; /* canonical JSON object: sorted keys, compact */
    char *instance_id;
    /* The instance's own preserved.* limits (LC_META_*, with Nacos's
     * defaults 5000/15000/30000 ms), as lc_meta_long() reads them. */
    long long beat_interval_ms;
    long long beat_timeout_ms;
    long long delete_timeout_ms;
};

/* Build an instance; strings are copied. @metadata_text must be a JSON
 * object's text (it is re-encoded canonically); NULL means {}. Return NULL
 * when out of memory or when @metadata_text is not a JSON object. */
struct lc_instance *lc_instance_new(const char *ip, int port,
                                    const char *cluster, double weight,
                                    bool healthy, bool enabled, bool ephemeral,
                                    const char *metadata_text,
                                    const char *instance_id);
void lc_instance_ref(struct lc_instance *inst);
/* Drop a reference; the last one frees the instance, or defers the free
 * while the model is pinned. */
void lc_instance_unref(struct lc_instance *inst);

/* Pinning: while a snapshot holds a frozen view (plain pointers, no
 * references), nothing it may point to is freed: instances whose last
 * reference goes, and memory passed to lc_model_defer_free(), wait until the
 * last pin is released. Loop thread only. */
void lc_model_pin(void);
void lc_model_unpin(void);
void lc_model_defer_free(void *p);
/* True when every field is the same. */
bool lc_instance_equal(const struct lc_instance *a,
                       const struct lc_instance *b);

/* The instance's metadata as a JSON object: a new reference (parsed from
 * metadata_text; {} is one shared object that must not be modified), or
 * NULL when out of memory. */
json_t *lc_instance_metadata(const struct lc_instance *inst);

/* Value of metadata key @key of the object @meta parsed as a positive
 * integer, or @dflt (Instance#getMetaDataByKeyWithDefault). */
long long lc_meta_long(const json_t *meta, const char *key, long long dflt);

/* The same for the instance's own metadata. */
long long lc_instance_meta_long(const struct lc_instance *inst,
                                const char *key, long long dflt);

/* Nacos's simple instanceId: ip#port#cluster#group@@service. Writes into
 * @out (@size bytes). */
void lc_instance_id(char *out, size_t size, const char *ip, int port,
                    const char *cluster, const char *grouped_service);

/* ------------------------------------------------------------ names */

/* Split "group@@service" into its parts (pointers into @grouped, lengths
 * given). Return false when there is no "@@". */
bool lc_split_grouped(const char *grouped, const char **group,
                      size_t *group_len, const char **service);

/* A service's identity. The strings are owned by whoever holds the key. */
struct lc_service_key {
    const char *ns;
    const char *group;
    const char *name; /* bare */
};

/* Hash-table key for a service: "ns\x1fgroup\x1fname". Writes into @out;
 * returns false when it does not fit. */
bool lc_service_key_text(char *out, size_t size,
                         const struct lc_service_key *key);

/* A service's names in one allocation: the returned block is the key text
 * (lc_service_key_text), and *@ns, *@group, *@name and *@grouped
 * ("group@@name") point into it, so free() of the block releases them all.
 * Return NULL when out of memory. */
char *lc_service_names(const struct lc_service_key *key, char **ns,
                       char **group, char **name, char **grouped);

/* Metadata as Nacos accepts it on v1 register: a JSON object, or
 * "k=v,k=v". On success *@canonical is a malloc'd canonical JSON text.
 * Return 0, or LC_EINVAL when neither form parses. */
int lc_metadata_parse(const char *text, char **canonical);

#endif /* LC_NAMING_MODEL_H */
