/* libFuzzer driver: arbitrary bytes through the Payload decoder and its
 * body's JSON parser (rpc/grpc/payload.c), what every gRPC message from a
 * client goes through first. Whatever decodes must encode again and decode
 * to the same type, headers and JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "rpc/grpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lc_payload p;
    struct lc_payload again;
    json_t *body = NULL;
    json_t *body2 = NULL;
    uint8_t *buf;
    size_t len;
    int rv;

    rv = lc_payload_decode(data, size, &p);
    if (rv != 0) {
        if (rv != LC_EPROTO && rv != LC_ENOMEM) {
            abort();
        }
        return 0;
    }
    if (p.type == NULL || p.client_ip == NULL || p.headers == NULL ||
        p.body == NULL || p.body[p.body_len] != '\0') {
        abort();
    }
    rv = lc_payload_json(&p, &body);
    if ((rv == 0) != (body != NULL) || (rv != 0 && rv != LC_EPROTO)) {
        abort();
    }
    if (lc_payload_encode(p.type, body, p.headers, &buf, &len) == 0) {
        if (lc_payload_decode(buf, len, &again) != 0) {
            abort();
        }
        if (strcmp(again.type, p.type) != 0 ||
            !json_equal(again.headers, p.headers)) {
            abort();
        }
        if (body != NULL) {
            if (lc_payload_json(&again, &body2) != 0) {
                abort();
            }
            json_decref(body2);
        }
        lc_payload_free(&again);
        free(buf);
    }
    json_decref(body);
    lc_payload_free(&p);
    return 0;
}
