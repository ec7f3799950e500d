#!/usr/bin/env bash
# What auth costs (issue 12's target: with auth on and a token, instance/list
# and gRPC registrations lose <= 10% of their throughput against auth off,
# in the same run). Two standalone locusd side by side on loopback, one with
# auth off, one with nacos.core.auth.enabled=true (a random 32-byte secret,
# the admin initialised, a user "bench" whose role has rw on ":*:*", i.e.
# everything in the public namespace), measured in turn, off then on, for
# several rounds; the medians and the on/off ratios at the end:
#
#   list off         wrk -t2 -c64, GET instance/list over 10 services x 10
#                    instances (bench/wrk/locus_list.lua)
#   list off+pad     auth off, with a parameter as long as the token
#                    (&x=<the JWT>): what carrying the token costs in
#                    parsing alone, so that the check's own cost shows
#   list token       the same with &accessToken=<bench's JWT> (checked on
#                    every request: signature, expiry, the user's roles and
#                    permissions)
#   list user+pw     the same with &username=bench&password=... on every
#                    request, as the npm client sends them (the cache of
#                    good username+password checks: one BCrypt, then none)
#   grpc off         locusctl bench grpc register: 64 connections x 4 in
#                    flight, ephemeral InstanceRequests
#   grpc token       the same with the metadata header accessToken on every
#                    request, as the Java client sends it
#
#   bench/auth.sh [rounds] [seconds]     (defaults: 3 rounds, 8 s per run)
#
# For instance/list the node's CPU time per request is printed too (user +
# system, from /proc): on a shared machine it moves less than the rate.
# Any non-2xx answer or failed registration fails the run. Data under
# data/bench-auth/ (wiped). Needs build/locusd, build/locusctl, wrk and curl
# (make bench-auth); BENCH_LOCUSD / BENCH_LOCUSCTL override the binaries.
# The machine should be otherwise idle: the load average is printed before
# and after.
set -euo pipefail

rounds=${1:-3}
secs=${2:-8}
top=$(cd "$(dirname "$0")/.." && pwd)
dir="$top/data/bench-auth"
locusd=${BENCH_LOCUSD:-$top/build/locusd}
locusctl=${BENCH_LOCUSCTL:-$top/build/locusctl}
lua="$top/bench/wrk"
off=18970
on=18980

for tool in wrk curl base64 "$locusd" "$locusctl"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (make deps-bench all)" >&2; exit 1; }
done

cleanup() {
    "$locusctl" cluster stop --dir "$dir/off" >/dev/null 2>&1 || true
    "$locusctl" cluster stop --dir "$dir/on" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
rm -rf "$dir"
mkdir -p "$dir"

echo "load before: $(uptime)"
secret=$(head -c 32 /dev/urandom | base64 -w0)
"$locusctl" cluster start --dir "$dir/off" --nodes 1 --port $off --locusd "$locusd" >/dev/null
"$locusctl" cluster start --dir "$dir/on" --nodes 1 --port $on --locusd "$locusd" \
    --set nacos.core.auth.enabled=true \
    --set "nacos.core.auth.plugin.nacos.token.secret.key=$secret" >/dev/null

# The admin, then the user the load runs as (through locusctl).
admin=$(curl -sf -XPOST "http://127.0.0.1:$on/nacos/v1/auth/users/admin" \
    --data-urlencode "password=$(head -c 12 /dev/urandom | base64 -w0)")
apw=$(sed -n 's/.*"password":"\([^"]*\)".*/\1/p' <<<"$admin")
[ -n "$apw" ] || { echo "error: admin init answered: $admin" >&2; exit 1; }
upw=$(head -c 12 /dev/urandom | base64 -w0 | tr '+/' '-_')
ctl() { LOCUS_PASSWORD=$apw "$locusctl" --server 127.0.0.1:$on --username nacos "$@"; }
ctl user create bench --password-file <(echo "$upw") >/dev/null
ctl role add ROLE_BENCH bench >/dev/null
ctl perm add ROLE_BENCH ':*:*' rw >/dev/null
token=$(LOCUS_PASSWORD=$upw "$locusctl" --server 127.0.0.1:$on --username bench login -q)
[ -n "$token" ] || { echo "error: no token for bench" >&2; exit 1; }

# Refusals first: the load below must not be counting 403s.
st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$on/nacos/v1/ns/instance/list?serviceName=bench0")
[ "$st" = 403 ] || { echo "error: instance/list without a token answered $st, not 403" >&2; exit 1; }

for port in $off $on; do
    q=""
    [ $port = $on ] && q="&accessToken=$token"
    for s in $(seq 0 9); do
        for h in $(seq 1 10); do
            curl -sf -XPOST "http://127.0.0.1:$port/nacos/v1/ns/instance?serviceName=bench$s&ip=127.1.$s.$h&port=8080&ephemeral=false$q" >/dev/null
        done
    done
    n=$(curl -sf "http://127.0.0.1:$port/nacos/v1/ns/instance/list?serviceName=bench9$q" | grep -o '"instanceId"' | wc -l)
    [ "$n" = 10 ] || { echo "error: bench9 lists $n hosts on $port, not 10" >&2; exit 1; }
done

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# "<requests/s> <locusd CPU us per request>" of one wrk run on port $1 (pid
# $2), $3 appended to every query. The CPU figure (user + system time of
# the node over the requests it answered) depends less than the rate on
# how busy the rest of the machine is.
list() {
    local out c0 c1
    c0=$(cpu_ticks "$2")
    out=$(wrk -t2 -c64 -d"${secs}s" -s "$lua/locus_list.lua" "http://127.0.0.1:$1" -- 10 "${3:-}")
    c1=$(cpu_ticks "$2")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "error: failed requests:" >&2
        echo "$out" >&2
        return 1
    fi
    awk -v c=$((c1 - c0)) -v hz="$hz" '/requests in/ {n = $1}
        /Requests\/sec/ {r = $2}
        END {printf "%.0f %.2f\n", r, c * 1000000 / hz / n}' <<<"$out"
}
grpc() {
    local out
    out=$("$locusctl" bench grpc register --server "127.0.0.1:$1" --runs 1 \
        --seconds "$secs" --json "${@:2}" 2>/dev/null) ||
        { echo "error: bench grpc register on $1 failed: $out" >&2; return 1; }
    sed -n 's/.*"medianRate": *\([0-9.]*\).*/\1/p' <<<"$out" | awk '{printf "%.0f\n", $1}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -a l_pad c_pad l_off l_tok l_pw g_off g_tok c_off c_tok c_pw
pid_off=$(cat "$dir/off/node0.pid")
pid_on=$(cat "$dir/on/node0.pid")
enc_pw=$(printf '%s' "$upw" | sed 's/+/%2B/g; s/=/%3D/g; s/\//%2F/g')
printf '%-6s %12s %14s %12s %14s %12s %12s\n' round "list off" "list off+pad" "list token" "list user+pw" "grpc off" "grpc token"
for r in $(seq "$rounds"); do
    read -r a ca < <(list $off "$pid_off")
    read -r p cp < <(list $off "$pid_off" "&x=$token")
    read -r b cb < <(list $on "$pid_on" "&accessToken=$token")
    read -r c cc < <(list $on "$pid_on" "&username=bench&password=$enc_pw")
    d=$(grpc $off)
    e=$(grpc $on --token "$token")
    [ -n "$a" ] && [ -n "$p" ] && [ -n "$b" ] && [ -n "$c" ] && [ -n "$d" ] && [ -n "$e" ] ||
        { echo "error: a run failed" >&2; exit 1; }
    l_pad+=("$p"); c_pad+=("$cp")
    l_off+=("$a"); l_tok+=("$b"); l_pw+=("$c"); g_off+=("$d"); g_tok+=("$e")
    c_off+=("$ca"); c_tok+=("$cb"); c_pw+=("$cc")
    printf '%-6s %12s %14s %12s %14s %12s %12s\n' "$r" "$a" "$p" "$b" "$c" "$d" "$e"
done

m() { printf '%s\n' "$@" | median; }
ml_pad=$(m "${l_pad[@]}"); ml_off=$(m "${l_off[@]}"); ml_tok=$(m "${l_tok[@]}"); ml_pw=$(m "${l_pw[@]}")
mg_off=$(m "${g_off[@]}"); mg_tok=$(m "${g_tok[@]}")
printf '%-6s %12s %14s %12s %14s %12s %12s\n' median "$ml_off" "$ml_pad" "$ml_tok" "$ml_pw" "$mg_off" "$mg_tok"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f%%", 100 * a / b}'; }
echo "auth on / auth off (medians of $rounds rounds of ${secs} s):"
echo "  instance/list, token          $(ratio "$ml_tok" "$ml_off")"
echo "  instance/list, user+password  $(ratio "$ml_pw" "$ml_off")"
echo "  instance/list, token vs off with a parameter as long (the check alone)  $(ratio "$ml_tok" "$ml_pad")"
echo "  gRPC registrations, token     $(ratio "$mg_tok" "$mg_off")"
mf() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "locusd CPU per instance/list request (median, us): off $(mf "${c_off[@]}"), off+pad $(mf "${c_pad[@]}"), token $(mf "${c_tok[@]}"), user+password $(mf "${c_pw[@]}")"
echo "load after: $(uptime)"
