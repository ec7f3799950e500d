#!/usr/bin/env python3
"""Write the seed corpus of test/fuzz/fuzz_payload.c into
test/fuzz/corpus/payload/ (run from the repository's root): Nacos Payloads
as the Java client and server send them, and broken ones."""
import os

OUT = "test/fuzz/corpus/payload"


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, data):
    """A length-delimited field."""
    return varint(num << 3 | 2) + varint(len(data)) + data


def payload(type_, body, client_ip="", headers=None, type_url=""):
    md = field(3, type_.encode())
    if client_ip:
        md += field(8, client_ip.encode())
    for k, v in (headers or {}).items():
        md += field(7, field(1, k.encode()) + field(2, v.encode()))
    any_ = field(1, type_url.encode()) if type_url else b""
    any_ += field(2, body.encode() if isinstance(body, str) else body)
    return field(2, md) + field(3, any_)


seeds = {
    "server_check": payload(
        "ServerCheckRequest", '{"headers":{},"module":"internal"}', "127.0.0.1"
    ),
    "connection_setup": payload(
        "ConnectionSetupRequest",
        '{"clientVersion":"Nacos-Java-Client:v2.4.3","tenant":"",'
        '"labels":{"source":"sdk","module":"naming","AppName":"unknown"},'
        '"abilityTable":{},"module":"internal","headers":{}}',
        "127.0.0.1",
    ),
    "instance_request": payload(
        "InstanceRequest",
        '{"headers":{},"namespace":"public","serviceName":"svc",'
        '"groupName":"DEFAULT_GROUP","type":"registerInstance",'
        '"instance":{"ip":"127.0.0.2","port":8080,"weight":1.0,'
        '"healthy":true,"enabled":true,"ephemeral":true,'
        '"clusterName":"DEFAULT","metadata":{}},"module":"naming"}',
        "127.0.0.1",
        {"accessToken": "x", "app": "unknown"},
    ),
    "notify_response": payload(
        "NotifySubscriberResponse",
        '{"resultCode":200,"errorCode":0,"requestId":"17","success":true}',
    ),
    "error_response": payload(
        "ErrorResponse",
        '{"resultCode":500,"errorCode":302,'
        '"message":"RequestHandler Not Found","success":false}',
    ),
    "type_url_set": payload(
        "HealthCheckRequest", '{"module":"internal"}',
        type_url="type.googleapis.com/x"
    ),
    "truncated": payload(
        "ServerCheckRequest", '{"headers":{},"module":"internal"}'
    )[:-7],
    "bad_json": payload("InstanceRequest", '{"namespace":"public",'),
    "json_array": payload("InstanceRequest", "[1,2,3]"),
    "not_utf8": payload("X", '{"a":"\xff"}'.encode("latin-1")),
    "empty": b"",
    "deep_json": payload("X", '{"a":' * 40 + "1" + "}" * 40),
}

os.makedirs(OUT, exist_ok=True)
for name, blob in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)
