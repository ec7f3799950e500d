#!/usr/bin/env bash
# Persistent registrations on a 3-node locus cluster vs puts on a 3-node
# etcd cluster, one after the other on this machine, data directories on
# the same disk, fsync on for both (locus's raft log and etcd's WAL fsync
# every commit by default), the same load generator for the HTTP pair:
#
#   locus  wrk, 64 keep-alive connections to the leader, POST
#          /nacos/v1/ns/instance?ephemeral=false (bench/wrk/locus_register.lua):
#          every request of every run a new instance (run and thread in the
#          second octet, all on 127.0.0.0/8), health checks left on (the
#          leader probes each instance's loopback ip:port and writes the
#          verdict through raft: part of the cost)
#   etcd   the same wrk against its JSON gateway, POST /v3/kv/put
#          (bench/wrk/etcd_put.lua): every request a new key, run in the key
#   etcd   its native gRPC, h2load (nghttp2-client), 64 connections, one
#          stream each, a fixed unary etcdserverpb.KV/Put (one key, 256-byte
#          value: h2load sends one body; each put is still a new revision
#          and an fsync). h2load cannot read grpc-status, so the key's
#          version (one per applied put) is read before and after and
#          compared with h2load's count.
#
# A failure is any non-2xx answer, socket error (connect, read, write) or
# timeout (wrk --timeout 2s; h2load: 2 s without an answer on a connection);
# each run prints them, and the rate counts successes only.
#
#   bench/puts_vs_etcd.sh [runs] [seconds]     (defaults: 3 runs of 8 s)
#
# Data goes under data/bench-puts/ (wiped first). Needs build/locusd,
# build/locusctl, etcd-server, etcd-client, wrk and nghttp2-client (make
# bench-puts installs them). BENCH_LOCUSD overrides the locusd binary.
set -euo pipefail

runs=${1:-3}
secs=${2:-8}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/etcd_cluster.sh"
dir="$top/data/bench-puts"
locusd=${BENCH_LOCUSD:-$top/build/locusd}
locusctl=${BENCH_LOCUSCTL:-$top/build/locusctl}
lua="$top/bench/wrk"
locus_port=23848            # HTTP ports 23848, 23858, 23868 (raft -1000)
etcd_client=(24379 24479 24579)
etcd_peer=(24380 24480 24580)

for tool in wrk h2load etcd etcdctl "$locusd" "$locusctl"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (run: make bench-puts)" >&2; exit 1; }
done
[ "$runs" -ge 1 ] && [ "$runs" -le 15 ] || { echo "runs: 1..15" >&2; exit 2; }

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
mid() { printf '%s\n' "$@" | median; }
sum() { awk '{s+=$1} END {print s+0}'; }

# wrk with --latency: prints "<ok/s> <failures> <p50 ms> <p99 ms> <ok>
# <detail>". ok = requests answered 2xx; failures = non-2xx + socket errors
# (connect, read, write) + timeouts.
wrk_run() {
    local out
    out=$(wrk --timeout 2s --latency "$@")
    awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
            return substr(v, 1, length(v) - 1) * 1000
        }
        / requests in / { req = $1; t = $4; sub(/,$/, "", t); t = ms(t) / 1000 }
        /Socket errors:/ { gsub(/,/, ""); conn = $4; rd = $6; wr = $8; to = $10 }
        /Non-2xx or 3xx responses:/ { bad = $5 }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
        END {
            ok = req - bad
            printf "%.0f %d %.2f %.2f %d non-2xx %d, connect %d, read %d, write %d, timeout %d\n",
                ok / t, bad + conn + rd + wr + to, p50, p99, ok, bad, conn, rd, wr, to
        }' <<<"$out"
}

# ---------------------------------------------------------------- same disk
disk() { df -P "$1" | awk 'NR == 2 {print $1 " (" $6 ")"}'; }
echo "== data under $dir on $(disk "$dir"), fsync on for both peers"

# ------------------------------------------------------------------ locus
echo "== locus: 3 nodes on 127.0.0.1:$locus_port/$((locus_port+10))/$((locus_port+20))"
"$locusctl" cluster start --dir "$dir/locus" --nodes 3 --port $locus_port --locusd "$locusd" >/dev/null
leader=$("$locusctl" --server 127.0.0.1:$locus_port --json groups |
    tr '{' '\n' | grep '"group": *"naming_persistent_service_v2"' |
    sed -n 's/.*"leader": *"127.0.0.1:\([0-9]*\)".*/\1/p')
leader_http=$((leader + 1000))
check=$(curl -s "http://127.0.0.1:$leader_http/nacos/v1/ns/operator/switches" |
    tr ',' '\n' | sed -n 's/.*"healthCheckEnabled": *\([a-z]*\).*/\1/p')
echo "   leader of naming_persistent_service_v2: http port $leader_http; health checks: ${check:-?}"
locus_rates=(); locus_fail=(); locus_p50=(); locus_p99=(); acked=0
for i in $(seq "$runs"); do
    read -r r f p50 p99 ok detail < <(wrk_run -t2 -c64 -d"${secs}s" -s "$lua/locus_register.lua" \
        "http://127.0.0.1:$leader_http" -- persistent "$i")
    echo "   run $i: $r registrations/s, $f failures ($detail), p50 $p50 ms p99 $p99 ms"
    locus_rates+=("$r"); locus_fail+=("$f"); locus_p50+=("$p50"); locus_p99+=("$p99")
    acked=$((acked + ok))
done
read -r r f p50 p99 ok detail < <(wrk_run -t1 -c1 -d5s -s "$lua/locus_register.lua" \
    "http://127.0.0.1:$leader_http" -- persistent 0)
lat="$p50 / $p99 ms"
acked=$((acked + ok))
echo "   one client: $r registrations/s, p50 / p99 = $lat, $f failures"
# Every acknowledged request made a new instance: the count must match
# (a request that timed out may have made one too).
count=$(curl -s "http://127.0.0.1:$leader_http/nacos/v1/ns/operator/metrics?onlyStatus=false" |
    tr ',' '\n' | sed -n 's/.*"instanceCount": *\([0-9]*\).*/\1/p')
echo "   instances registered: ${count:-?}, acknowledged registrations: $acked"
if [ -z "$count" ] || [ "$count" -lt "$acked" ]; then
    echo "error: fewer instances than acknowledged registrations" >&2
    exit 1
fi
"$locusctl" cluster stop --dir "$dir/locus" >/dev/null

# ------------------------------------------------------------------- etcd
etcd_cluster_start "$dir"
json_rates=(); json_fail=(); json_p50=(); json_p99=()
for i in $(seq "$runs"); do
    read -r r f p50 p99 ok detail < <(wrk_run -t2 -c64 -d"${secs}s" -s "$lua/etcd_put.lua" \
        "http://$etcd_leader" -- "$i")
    echo "   JSON gateway run $i: $r puts/s, $f failures ($detail), p50 $p50 ms p99 $p99 ms"
    json_rates+=("$r"); json_fail+=("$f"); json_p50+=("$p50"); json_p99+=("$p99")
done

etcd_put_body "$dir/put.bin"
grpc_rates=(); grpc_fail=()
for i in $(seq "$runs"); do
    read -r r f detail < <(etcd_h2load_put "$dir/put.bin" "$secs")
    echo "   gRPC (h2load) run $i: $r puts/s, $f failures ($detail)"
    grpc_rates+=("$r"); grpc_fail+=("$f")
done

# ---------------------------------------------------------------- summary
lm=$(printf '%s\n' "${locus_rates[@]}" | median)
jm=$(printf '%s\n' "${json_rates[@]}" | median)
gm=$(printf '%s\n' "${grpc_rates[@]}" | median)
lf=$(printf '%s\n' "${locus_fail[@]}" | sum)
jf=$(printf '%s\n' "${json_fail[@]}" | sum)
gf=$(printf '%s\n' "${grpc_fail[@]}" | sum)
echo
echo "median of $runs runs of ${secs}s, 64 connections, one request in flight each, 3 nodes, same disk, fsync on"
printf '%-46s %10s %9s %9s %9s\n' "" "per second" "failures" "p50 ms" "p99 ms"
printf '%-46s %10s %9s %9s %9s\n' "locus persistent registrations (wrk, HTTP)" "$lm" "$lf" \
    "$(mid "${locus_p50[@]}")" "$(mid "${locus_p99[@]}")"
printf '%-46s %10s %9s %9s %9s\n' "etcd puts, JSON gateway (wrk, HTTP)" "$jm" "$jf" \
    "$(mid "${json_p50[@]}")" "$(mid "${json_p99[@]}")"
printf '%-46s %10s %9s %9s %9s\n' "etcd KV.Put, native gRPC (h2load, one key)" "$gm" "$gf" "-" "-"
printf '%-46s %10s\n' "ratio locus / etcd JSON gateway (same tool)" \
    "$(awk -v a="$lm" -v b="$jm" 'BEGIN {printf "%.2fx", a/b}')"
printf '%-46s %10s\n' "ratio locus / etcd gRPC" \
    "$(awk -v a="$lm" -v b="$gm" 'BEGIN {printf "%.2fx", a/b}')"
printf '%-46s %10s\n' "locus one client p50 / p99" "$lat"
[ "$lf" = 0 ] && [ "$jf" = 0 ] && [ "$gf" = 0 ] || { echo "failures above: see the runs" >&2; exit 1; }
