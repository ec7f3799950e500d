/* libFuzzer driver: arbitrary bytes into a gRPC server session (nghttp2
 * with rpc/grpc's callbacks, output dropped), read in two halves, then the
 * server closed. The application side echoes unary calls (fails those
 * starting 'f', holds those starting 'k' past the close) and bidi messages
 * (ending the stream on one starting 'e'); max_inbound is 64 KiB. */
#include <stddef.h>
#include <stdint.h>

#include "rpc/grpc/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lc_grpc__fuzz_session(data, size);
    return 0;
}
