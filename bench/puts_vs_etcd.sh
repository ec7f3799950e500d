#!/usr/bin/env bash
# Persistent registrations on a 3-node locus cluster vs puts on a 3-node
# etcd 3.4 cluster, side by side on this machine, same load generator:
# wrk, 64 keep-alive connections to the leader, fsync on for both.
#
#   bench/puts_vs_etcd.sh [runs] [seconds]     (defaults: 3 runs of 8 s)
#
# Prints each run, the medians, the ratio, and locus's one-client latency.
# BENCH_LOCUSD=bench/locusd_check_off.sh runs the nodes with the `check` switch
# off (registered instances are not probed, so no health writes compete).
# Data goes under data/bench-puts/ (wiped first). Needs build/locusd,
# build/locusctl, etcd-server, etcd-client and wrk (make bench-puts installs
# them).
set -euo pipefail

runs=${1:-3}
secs=${2:-8}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/etcd_cluster.sh"
dir="$top/data/bench-puts"
locusd=${BENCH_LOCUSD:-$top/build/locusd}
locusctl="$top/build/locusctl"
lua="$top/bench/wrk"
locus_port=23848            # HTTP ports 23848, 23858, 23868 (raft -1000)
etcd_client=(24379 24479 24579)
etcd_peer=(24380 24480 24580)

for tool in wrk etcd etcdctl "$locusd" "$locusctl"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (run: make bench-puts)" >&2; exit 1; }
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

# wrk prints "Requests/sec: N"; fail the run if any response was not 2xx.
rate() {
    local out
    out=$(wrk "$@")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "error: non-2xx responses:" >&2
        echo "$out" >&2
        return 1
    fi
    awk '/Requests\/sec/ {printf "%.0f\n", $2}' <<<"$out"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ------------------------------------------------------------------ locus
echo "== locus: 3 nodes on 127.0.0.1:$locus_port/$((locus_port+10))/$((locus_port+20))"
"$locusctl" cluster start --dir "$dir/locus" --nodes 3 --port $locus_port --locusd "$locusd" >/dev/null
leader=$("$locusctl" --server 127.0.0.1:$locus_port --json groups |
    tr '{' '\n' | grep '"group": *"naming_persistent_service_v2"' |
    sed -n 's/.*"leader": *"127.0.0.1:\([0-9]*\)".*/\1/p')
leader_http=$((leader + 1000))
echo "   leader of naming_persistent_service_v2: http port $leader_http"
locus_rates=()
for i in $(seq "$runs"); do
    r=$(rate -t2 -c64 -d"${secs}s" -s "$lua/locus_register.lua" "http://127.0.0.1:$leader_http")
    echo "   run $i: $r registrations/s"
    locus_rates+=("$r")
done
lat=$(wrk -t1 -c1 -d5s --latency -s "$lua/locus_register.lua" "http://127.0.0.1:$leader_http" |
    awk '$1=="50%" {print $2} $1=="99%" {print $2}' | paste -sd' ')
echo "   one client: p50 p99 = $lat"
"$locusctl" cluster stop --dir "$dir/locus" >/dev/null

# ------------------------------------------------------------------- etcd
etcd_cluster_start "$dir"
etcd_rates=()
for i in $(seq "$runs"); do
    r=$(rate -t2 -c64 -d"${secs}s" -s "$lua/etcd_put.lua" "http://$etcd_leader")
    echo "   run $i: $r puts/s"
    etcd_rates+=("$r")
done

# ---------------------------------------------------------------- summary
lm=$(printf '%s\n' "${locus_rates[@]}" | median)
em=$(printf '%s\n' "${etcd_rates[@]}" | median)
echo
printf '%-44s %10s\n' "median of $runs runs, 64 connections, ${secs}s" "per second"
printf '%-44s %10s\n' "locus persistent registrations (3 nodes)" "$lm"
printf '%-44s %10s\n' "etcd 3.4 puts (3 nodes)" "$em"
printf '%-44s %10s\n' "ratio locus / etcd" "$(awk -v a="$lm" -v b="$em" 'BEGIN {printf "%.2fx", a/b}')"
printf '%-44s %10s\n' "locus one client p50 / p99" "$lat"
