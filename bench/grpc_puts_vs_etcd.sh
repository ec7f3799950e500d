#!/usr/bin/env bash
# Persistent writes over gRPC: a 3-node locus cluster (Nacos's
# PersistentInstanceRequest, through Raft) against a 3-node etcd cluster
# (its native gRPC KV.Put), one after the other on this machine, data on
# the same disk, fsync on for both, the same load generator (`locusctl bench
# grpc puts`: 64 HTTP/2 connections to the leader, one unary call in flight
# each, a 256-byte etcd value against a ~250-byte instance JSON). Every
# request of every run writes a new instance or key (--first-seq gives each
# run its own range; instance IPs on 127.0.0.0/8), and locus's health checks
# stay on (the leader probes each instance's loopback address: part of the
# cost), connection balancing off (below). Errors and timeouts (10 s) are
# counted and printed per run; the rate counts successes only.
#
#   bench/grpc_puts_vs_etcd.sh [runs] [seconds]     (defaults: 3 runs of 8 s)
#
# h2load cannot drive locus: a Nacos server answers unary requests only on
# a connection registered through the bi-stream (ServerCheck,
# ConnectionSetup), which h2load cannot open. It does drive etcd, so an
# h2load figure for etcd (64 connections, one stream each, one fixed
# PutRequest) is printed beside ours to show the two generators agree on
# the peer.
#
# Data goes under data/bench-grpc-puts/ (wiped first). Needs build/locusd,
# build/locusctl, etcd-server, etcd-client and nghttp2-client
# (make deps-bench installs them).
set -euo pipefail

runs=${1:-3}
secs=${2:-8}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/etcd_cluster.sh"
dir="$top/data/bench-grpc-puts"
locusd=${BENCH_LOCUSD:-$top/build/locusd}
locusctl=${BENCH_LOCUSCTL:-$top/build/locusctl}
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
sum() { awk '{s+=$1} END {print s+0}'; }
first_error() { sed -n 's/^ *run [0-9]*: [0-9]* errors, /     /p' "$1"; }
# From `locusctl --json bench grpc puts --runs 1`: "<rate> <errors>".
rate_of() {
    tr -d ' \n' | sed -n 's/.*"medianRate":\([0-9.]*\).*"errors":\([0-9]*\).*/\1 \2/p' |
        awk '{printf "%.0f %d\n", $1, $2}'
}

echo "== data under $dir on $(df -P "$dir" | awk 'NR == 2 {print $1}'), fsync on for both peers"
echo "== locus: 3 nodes on 127.0.0.1:$locus_port/$((locus_port+10))/$((locus_port+20))"
# Connection balancing off: the 64 connections stay on the leader, as
# etcd's do (with it on, the leader hands two thirds of them to the
# followers with ConnectResetRequest, whose writes are then forwarded, and
# this generator, which does not follow a reset, counts the calls in flight
# on a reset connection as failures).
"$locusctl" cluster start --dir "$dir/locus" --nodes 3 --port $locus_port --locusd "$locusd" \
    --set locus.loader.balance.enabled=false >/dev/null
leader=$("$locusctl" --server 127.0.0.1:$locus_port --json groups |
    tr '{' '\n' | grep '"group": *"naming_persistent_service_v2"' |
    sed -n 's/.*"leader": *"127.0.0.1:\([0-9]*\)".*/\1/p')
leader_http=$((leader + 1000))
echo "   leader of naming_persistent_service_v2: http port $leader_http (gRPC $((leader_http + 1000)))"

locus_rates=(); locus_errs=(); etcd_rates=(); etcd_errs=(); h2_rates=(); h2_fail=()
for i in $(seq "$runs"); do
    read -r r e < <("$locusctl" --json bench grpc puts --server 127.0.0.1:$leader_http --conns 64 \
        --seconds "$secs" --runs 1 --first-seq $((i * 10000000)) 2>"$dir/locus$i.err" | rate_of)
    echo "   run $i: locus $r persistent registrations/s, $e errors (timeouts included)"
    first_error "$dir/locus$i.err"
    locus_rates+=("$r"); locus_errs+=("$e")
done
"$locusctl" cluster stop --dir "$dir/locus" >/dev/null

etcd_cluster_start "$dir"
for i in $(seq "$runs"); do
    read -r r e < <("$locusctl" --json bench grpc puts --etcd "$etcd_leader" --conns 64 \
        --seconds "$secs" --runs 1 --first-seq $((i * 10000000)) 2>"$dir/etcd$i.err" | rate_of)
    echo "   run $i: etcd  $r puts/s, $e errors (timeouts included)"
    first_error "$dir/etcd$i.err"
    etcd_rates+=("$r"); etcd_errs+=("$e")
done
etcd_put_body "$dir/put.bin"
for i in $(seq "$runs"); do
    read -r r f detail < <(etcd_h2load_put "$dir/put.bin" "$secs")
    echo "   h2load against etcd, run $i: $r puts/s, $f failures ($detail)"
    h2_rates+=("$r"); h2_fail+=("$f")
done

lm=$(printf '%s\n' "${locus_rates[@]}" | median)
em=$(printf '%s\n' "${etcd_rates[@]}" | median)
hm=$(printf '%s\n' "${h2_rates[@]}" | median)
le=$(printf '%s\n' "${locus_errs[@]}" | sum)
ee=$(printf '%s\n' "${etcd_errs[@]}" | sum)
hf=$(printf '%s\n' "${h2_fail[@]}" | sum)
echo
printf '%-52s %10s %9s\n' "median of $runs runs, 64 gRPC connections, ${secs}s" "per second" "failures"
printf '%-52s %10s %9s\n' "locus PersistentInstanceRequest (3 nodes)" "$lm" "$le"
printf '%-52s %10s %9s\n' "etcd KV.Put (3 nodes), same generator" "$em" "$ee"
printf '%-52s %10s %9s\n' "etcd KV.Put (3 nodes), h2load, one fixed key" "$hm" "$hf"
printf '%-52s %10s\n' "ratio locus / etcd (same generator)" "$(awk -v a="$lm" -v b="$em" 'BEGIN {printf "%.2fx", a/b}')"
[ "$le" = 0 ] && [ "$ee" = 0 ] && [ "$hf" = 0 ] || { echo "failures above: see the runs" >&2; exit 1; }
