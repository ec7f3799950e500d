/* Nacos's validation rules for naming requests, with their exact messages,
 * for every transport: NamingUtils (service name format, instance
 * legality), DefaultParamChecker (the parameter checker Nacos runs as an
 * HTTP filter and as a gRPC filter), and the instance builders' checks.
 *
 * Each check returns 0, or an LC_E* code with Nacos's message in @e. Pure
 * functions: nothing here changes state.
 */
#ifndef LC_NAMING_OPS_CHECK_H
#define LC_NAMING_OPS_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* NamingUtils.checkServiceNameFormat of a grouped name: NULL if fine, else
 * the message (static). */
const char *lc_check_service_name_format(const char *grouped);

/* The same as an LC_EINVAL error. */
int lc_check_service_name(const char *grouped, struct lc_err *e);

/* Whether @s is well-formed UTF-8: no stray continuation bytes, truncated
 * or overlong sequences, surrogates or code points past U+10FFFF. Names
 * that are not could not be written into JSON answers. */
bool lc_check_utf8(const char *s);

/* Whether @ip is an address an instance can have: an IPv4 literal
 * (dotted quad), an IPv6 literal (with an optional %zone), or a host name
 * (dot-separated labels of letters, digits, '-' and '_', not all digits,
 * no label starting or ending with '-'), at most 253 bytes. */
bool lc_check_ip(const char *ip);

/* lc_check_ip() as an LC_ECHECK error with the checker's message. */
int lc_check_instance_ip(const char *ip, struct lc_err *e);

/* What DefaultParamChecker looks at (NULL or blank: not checked). */
struct lc_param_info {
    const char *ns;
    const char *group;
    const char *service;  /* bare */
    const char *cluster;  /* one cluster name */
    const char *clusters; /* a comma-separated list (instance list) */
    const char *ip;
    const char *port;     /* as text */
    size_t metadata_len;  /* summed Java lengths of keys and values */
};

/* DefaultParamChecker.checkParamInfoList in Nacos's order: namespace,
 * service, group, clusters, cluster, ip, port, metadata. LC_ECHECK with
 * "Param '<name>' is illegal, ..." on failure. Stricter than Nacos in two
 * ways: every name must be valid UTF-8 (Tomcat would decode the bytes to
 * U+FFFD), and ip must pass lc_check_ip() ("Param 'ip' is illegal, it
 * should be an IPv4 or IPv6 address or a host name."). */
int lc_check_params(const struct lc_param_info *pi, struct lc_err *e);

/* The Java length a metadata map counts for the checker: every non-blank
 * key and value of the JSON object text @canonical. */
size_t lc_check_metadata_len(const char *canonical);

/* The instance builders' weight range: LC_EINVAL "instance format invalid:
 * The weights range from 0.0 to 10000.0" outside [0, 10000] (and NaN). */
int lc_check_weight(double weight, struct lc_err *e);

/* Only the simple instance id generator exists: LC_ESERVER "caused: The
 * InstanceIdGenerator type is not found ;" when the metadata (canonical
 * JSON text) names another one. */
int lc_check_id_generator(const char *metadata, struct lc_err *e);

/* NamingUtils.checkInstanceIsLegal: the heart beat interval is below the
 * beat timeout and the delete timeout (from @metadata, a canonical JSON
 * object text, with Nacos's defaults), and @cluster has only 0-9a-zA-Z-.
 * LC_EINVAL with Nacos's message otherwise. */
int lc_check_instance_legal(const char *metadata, const char *cluster,
                            struct lc_err *e);

/* The cluster part alone, for a name that must not be empty either (a
 * beat's re-registration). */
int lc_check_cluster_name(const char *cluster, struct lc_err *e);

/* Parse instance metadata as Nacos takes it (a JSON object, or k=v,k=v;
 * NULL or "" is {}) into a malloc'd canonical text *@canonical. LC_EINVAL
 * "metadata format incorrect:<text>" when it does not parse. */
int lc_check_metadata(const char *text, char **canonical, struct lc_err *e);

#endif /* LC_NAMING_OPS_CHECK_H */
