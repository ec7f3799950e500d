#!/usr/bin/env python3
"""Write the seed corpus of test/fuzz/fuzz_grpc_server.c into
test/fuzz/corpus/grpc_server/ (run from the repository's root)."""
import os
import struct

OUT = "test/fuzz/corpus/grpc_server"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
UNARY = "/Request/request"
BIDI = "/BiRequestStream/requestBiStream"


def frame(ftype, flags, sid, payload=b""):
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xFFFF, ftype, flags, sid) + payload


def hpack(fields):
    out = b""
    for name, value in fields:
        name, value = name.encode(), value.encode()
        out += b"\x10" + bytes([len(name)]) + name + bytes([len(value)]) + value
    return out


def headers(sid, path, end=False, timeout=None):
    f = [(":method", "POST"), (":scheme", "http"), (":path", path),
         (":authority", "localhost"), ("content-type", "application/grpc"),
         ("te", "trailers")]
    if timeout:
        f.append(("grpc-timeout", timeout))
    return frame(1, 0x4 | (1 if end else 0), sid, hpack(f))


def msg(body, flag=0, length=None):
    return struct.pack(">BI", flag, len(body) if length is None else length) + body


def data(sid, payload, end=False):
    return frame(0, 1 if end else 0, sid, payload)


def start():
    return PREFACE + frame(4, 0, 0)


def ping(ack=False):
    return frame(6, 1 if ack else 0, 0, b"12345678")


seeds = {
    "unary": start() + headers(1, UNARY) + data(1, msg(b"hello"), True),
    "unary_fail": start() + headers(1, UNARY) + data(1, msg(b"fail"), True),
    "unary_held": start() + headers(1, UNARY, timeout="1m")
    + data(1, msg(b"keep"), True)
    + headers(3, UNARY) + data(3, msg(b"kept"), True),
    "unary_two_msgs": start() + headers(1, UNARY)
    + data(1, msg(b"a") + msg(b"b"), True),
    "unary_empty": start() + headers(1, UNARY, end=True),
    "bidi": start() + headers(1, BIDI)
    + data(1, msg(b"one") + msg(b"two")) + data(1, msg(b"end"))
    + headers(3, BIDI) + data(3, msg(b"x")) + data(3, b"", True),
    "oversized": start() + headers(1, UNARY)
    + data(1, msg(b"", length=0x7FFFFFFF)),
    "compressed": start() + headers(1, BIDI) + data(1, msg(b"zz", flag=1)),
    "unknown_path": start() + headers(1, "/nope/nope", end=True),
    "pings": start() + ping() * 5 + ping(True),
    "split": start() + headers(1, UNARY) + headers(3, BIDI)
    + b"".join(data(1 + 2 * (i % 2), bytes([b])) for i, b in
               enumerate(msg(b"abcdefgh") * 2)) + data(1, b"", True),
    "control": start() + headers(1, BIDI) + frame(8, 0, 1, struct.pack(">I", 1000))
    + frame(8, 0, 0, struct.pack(">I", 70000))
    + frame(4, 0, 0, struct.pack(">HI", 4, 1) + struct.pack(">HI", 3, 1))
    + frame(3, 0, 1, struct.pack(">I", 8))
    + frame(7, 0, 0, struct.pack(">II", 0, 0) + b"bye"),
    "bad_preface": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}

os.makedirs(OUT, exist_ok=True)
for name, blob in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)
