/* What Nacos does to a /v1/ns request before its controllers: the
 * ServiceNameFilter, the ParamCheckerFilter's HTTP extractors (the checks
 * themselves are naming/ops/check.c's, shared with gRPC), and WebUtils'
 * required/optional. Sources: alibaba/nacos 2.4.3,
 * naming/web/ServiceNameFilter.java, naming/paramcheck/ (the HTTP param extractors),
 * core/utils/WebUtils.java.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/core/model.h"
#include "naming/http/filters.h"
#include "naming/ops/check.h"

const char *lc_optional(const struct lc_http_exchange *ex, const char *name,
                        char *out, size_t size)
{
    const char *v = lc_http_param(ex, name);
    if (lc_java_blank(v)) {
        return NULL;
    }
    lc_java_trim(v, out, size);
    return out;
}

const char *lc_required(struct lc_http_exchange *ex, const char *name,
                        char *out, size_t size, struct lc_err *e)
{
    const char *v = lc_http_param(ex, name);
    if (v == NULL || v[0] == '\0') {
        lc_err_missing(e, name, false);
        return NULL;
    }
    lc_java_trim(v, out, size);
    return out;
}

int lc_filter_service_name(struct lc_http_exchange *ex, char *out,
                           size_t size, struct lc_err *e)
{
    const char *raw = lc_http_param(ex, "serviceName");
    const char *group = lc_http_param(ex, "groupName");
    char name[1200];
    const char *error;

    out[0] = '\0';
    if (raw == NULL) {
        return 0;
    }
    if (lc_java_blank(raw)) {
        lc_strlcpy(out, raw, size);
        return 0;
    }
    lc_java_trim(raw, name, sizeof name);
    if (lc_java_blank(group)) {
        group = LC_DEFAULT_GROUP;
    }
    if (strstr(name, LC_GROUP_SEP) == NULL) {
        snprintf(out, size, "%s%s%s", group, LC_GROUP_SEP, name);
    } else {
        lc_strlcpy(out, name, size);
    }
    error = lc_check_service_name_format(out);
    if (error != NULL) {
        return lc_err_set(e, LC_EBADNAME,
                          "Service name filter error,caused: %s;", error);
    }
    return 0;
}

int lc_filter_params(struct lc_http_exchange *ex, const char *grouped,
                     bool list, struct lc_err *e)
{
    struct lc_param_info pi = {.ns = lc_http_param(ex, "namespaceId")};
    char group[1200] = "";
    const char *sep;

    if (list) {
        pi.clusters = lc_http_param(ex, "clusters");
    } else {
        const char *metadata = lc_http_param(ex, "metadata");
        pi.ip = lc_http_param(ex, "ip");
        pi.port = lc_http_param(ex, "port");
        pi.cluster = lc_http_param(ex, "clusterName");
        if (lc_java_blank(pi.cluster)) {
            pi.cluster = lc_http_param(ex, "cluster");
        }
        if (lc_java_blank(pi.port)) {
            pi.port = lc_http_param(ex, "checkPort");
        }
        /* The extractor parses metadata before any check runs. */
        if (!lc_java_blank(metadata)) {
            char *canonical = NULL;
            if (lc_metadata_parse(metadata, &canonical) != 0) {
                /* The extractor quotes the raw parameter, untrimmed. */
                return lc_err_set(e, LC_EEXTRACT,
                                  "Server failed, caused: ErrCode:400, "
                                  "ErrMsg:metadata format incorrect:%s;"
                                  "caused: metadata format incorrect:%s;",
                                  metadata, metadata);
            }
            pi.metadata_len = lc_check_metadata_len(canonical);
            free(canonical);
        }
    }
    pi.service = grouped;
    if (grouped != NULL && (sep = strstr(grouped, LC_GROUP_SEP)) != NULL) {
        size_t n = (size_t)(sep - grouped);
        if (n < sizeof group) {
            memcpy(group, grouped, n);
            group[n] = '\0';
        }
        pi.service = sep + 2;
    } else if (grouped == NULL || grouped[0] == '\0') {
        const char *g = lc_http_param(ex, "groupName");
        pi.service = NULL;
        if (g != NULL) {
            lc_strlcpy(group, g, sizeof group);
        }
    }
    pi.group = group;
    return lc_check_params(&pi, e);
}
