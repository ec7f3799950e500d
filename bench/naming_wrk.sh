#!/usr/bin/env bash
# Cross-check of `locusctl bench register` and `bench query` with another
# load generator: wrk (2 threads, 64 keep-alive connections) against one
# standalone locusd, so the figures do not rest on our own client only.
#
#   bench/naming_wrk.sh [runs] [seconds]      (defaults: 3 runs of 8 s)
#
# 1. instance/list: 10 services x 10 ephemeral instances (re-registered
#    before each run so none expires), wrk with bench/wrk/locus_list.lua.
# 2. ephemeral registrations: wrk with bench/wrk/locus_register.lua -- ephemeral
#    (a new ip:port per request, 100 services), a fresh node per run.
# Any non-2xx answer fails the run. Needs build/locusd, build/locusctl and
# wrk (make deps-bench).
set -euo pipefail

runs=${1:-3}
secs=${2:-8}
top=$(cd "$(dirname "$0")/.." && pwd)
dir="$top/data/bench-naming-wrk"
locusctl="$top/build/locusctl"
lua="$top/bench/wrk"
port=18948

for tool in wrk curl "$top/build/locusd" "$locusctl"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (make deps-bench all)" >&2; exit 1; }
done

start() {
    "$locusctl" cluster stop --dir "$dir" >/dev/null 2>&1 || true
    rm -rf "$dir"
    "$locusctl" cluster start --dir "$dir" --nodes 1 --port $port \
        --locusd "$top/build/locusd" >/dev/null
}
cleanup() { "$locusctl" cluster stop --dir "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT

rate() {
    local out
    out=$(wrk "$@")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "error: failed requests:" >&2
        echo "$out" >&2
        return 1
    fi
    # "N (avg latency L)"
    awk '$1=="Latency" {lat=$2} /Requests\/sec/ {rps=$2}
         END {printf "%.0f (avg latency %s)\n", rps, lat}' <<<"$out"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== instance/list, 10 services x 10 ephemeral instances, wrk -t2 -c64 -d${secs}s"
start
list_rates=()
for i in $(seq "$runs"); do
    for s in $(seq 0 9); do
        for h in $(seq 1 10); do
            curl -sf -XPOST "http://127.0.0.1:$port/nacos/v1/ns/instance?serviceName=bench$s&ip=127.1.$s.$h&port=8080" >/dev/null
        done
    done
    n=$(curl -sf "http://127.0.0.1:$port/nacos/v1/ns/instance/list?serviceName=bench9" | grep -o '"instanceId"' | wc -l)
    [ "$n" = 10 ] || { echo "error: bench9 lists $n hosts, not 10" >&2; exit 1; }
    r=$(rate -t2 -c64 -d"${secs}s" -s "$lua/locus_list.lua" "http://127.0.0.1:$port" -- 10)
    echo "   run $i: ${r%% *} queries/s ${r#* }"
    list_rates+=("${r%% *}")
done

echo "== ephemeral registrations, 100 services, wrk -t2 -c64 -d${secs}s, fresh node per run"
reg_rates=()
for i in $(seq "$runs"); do
    start
    r=$(rate -t2 -c64 -d"${secs}s" -s "$lua/locus_register.lua" "http://127.0.0.1:$port" -- ephemeral)
    echo "   run $i: ${r%% *} registrations/s ${r#* }"
    reg_rates+=("${r%% *}")
done

echo
printf '%-44s %10s\n' "median of $runs runs (wrk)" "per second"
printf '%-44s %10s\n' "instance/list" "$(printf '%s\n' "${list_rates[@]}" | median)"
printf '%-44s %10s\n' "ephemeral registrations" "$(printf '%s\n' "${reg_rates[@]}" | median)"
