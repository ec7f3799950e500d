#!/usr/bin/env bash
# Persistent writes over gRPC: a 3-node locus cluster (Nacos's
# PersistentInstanceRequest, through Raft) against a 3-node etcd 3.4
# cluster (its native gRPC KV.Put), side by side on this machine: both
# clusters up at once, runs alternating, the same load generator
# (`locusctl bench grpc puts`: 64 HTTP/2 connections to the leader, one
# unary call in flight each, a 256-byte etcd value against a ~250-byte
# instance JSON), fsync on for both, same disk.
#
#   bench/grpc_puts_vs_etcd.sh [runs] [seconds]     (defaults: 5 runs of 8 s)
#
# h2load, the issue's tool, cannot drive locus: a Nacos server answers
# unary requests only on a connection registered through the bi-stream
# (ServerCheck, ConnectionSetup), which h2load cannot open. It does drive
# etcd, so an h2load figure for etcd (64 connections, one stream each, the
# same fixed PutRequest body) is printed beside ours to show the two
# generators agree on the peer.
#
# Data goes under data/bench-grpc-puts/ (wiped first). Needs build/locusd,
# build/locusctl, etcd-server, etcd-client and nghttp2-client
# (make deps-bench installs them).
set -euo pipefail

runs=${1:-5}
secs=${2:-8}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/etcd_cluster.sh"
dir="$top/data/bench-grpc-puts"
locusd=${BENCH_LOCUSD:-$top/build/locusd}
locusctl="$top/build/locusctl"
locus_port=25848            # HTTP ports 25848, 25858, 25868 (gRPC +1000)
etcd_client=(26379 26479 26579)
etcd_peer=(26380 26480 26580)

for tool in etcd etcdctl h2load "$locusd" "$locusctl"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (run: make deps-bench)" >&2; exit 1; }
done

etcd_pids=()
cleanup() {
    "$locusctl" cluster stop --dir "$dir/locus" >/dev/null 2>&1 || true
    for p in "${etcd_pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

rm -rf "$dir"
mkdir -p "$dir"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate_of() { sed -n 's/.*"medianRate": *\([0-9.]*\).*/\1/p' | awk '{printf "%.0f\n", $1}'; }

echo "== locus: 3 nodes on 127.0.0.1:$locus_port/$((locus_port+10))/$((locus_port+20))"
"$locusctl" cluster start --dir "$dir/locus" --nodes 3 --port $locus_port --locusd "$locusd" >/dev/null
leader=$("$locusctl" --server 127.0.0.1:$locus_port --json groups |
    tr '{' '\n' | grep '"group": *"naming_persistent_service_v2"' |
    sed -n 's/.*"leader": *"127.0.0.1:\([0-9]*\)".*/\1/p')
leader_http=$((leader + 1000))
echo "   leader of naming_persistent_service_v2: http port $leader_http (gRPC $((leader_http + 1000)))"

etcd_cluster_start "$dir"

# The fixed body for h2load: a gRPC message (5-byte prefix) holding
# PutRequest{key "/bench/h2load", value 256 bytes}.
python3 - "$dir/put.bin" <<'PY'
import struct, sys
key = b"/bench/h2load"; val = b"v" * 256
msg = b"\x0a" + bytes([len(key)]) + key + b"\x12\x80\x02" + val
open(sys.argv[1], "wb").write(b"\x00" + struct.pack(">I", len(msg)) + msg)
PY

locus_rates=(); etcd_rates=(); h2_rates=()
for i in $(seq "$runs"); do
    r=$("$locusctl" --json bench grpc puts --server 127.0.0.1:$leader_http --conns 64 --seconds "$secs" --runs 1 2>/dev/null | rate_of)
    echo "   run $i: locus $r persistent registrations/s"
    locus_rates+=("$r")
    r=$("$locusctl" --json bench grpc puts --etcd "$etcd_leader" --conns 64 --seconds "$secs" --runs 1 2>/dev/null | rate_of)
    echo "   run $i: etcd  $r puts/s"
    etcd_rates+=("$r")
done
for i in 1 2 3; do
    r=$(h2load -c64 -m1 -D "$secs" -d "$dir/put.bin" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://$etcd_leader/etcdserverpb.KV/Put" 2>&1 |
        awk '/^finished in/ {gsub(/,/, ""); print int($4)}')
    echo "   h2load against etcd, run $i: $r req/s"
    h2_rates+=("$r")
done

lm=$(printf '%s\n' "${locus_rates[@]}" | median)
em=$(printf '%s\n' "${etcd_rates[@]}" | median)
hm=$(printf '%s\n' "${h2_rates[@]}" | median)
echo
printf '%-52s %10s\n' "median of $runs runs, 64 gRPC connections, ${secs}s" "per second"
printf '%-52s %10s\n' "locus PersistentInstanceRequest (3 nodes)" "$lm"
printf '%-52s %10s\n' "etcd 3.4 KV.Put (3 nodes), same generator" "$em"
printf '%-52s %10s\n' "etcd 3.4 KV.Put (3 nodes), h2load, fixed body" "$hm"
printf '%-52s %10s\n' "ratio locus / etcd (same generator)" "$(awk -v a="$lm" -v b="$em" 'BEGIN {printf "%.2fx", a/b}')"
