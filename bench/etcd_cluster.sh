# Sourced by the benchmark scripts that measure against etcd 3.4: start a
# 3-node etcd cluster on 127.0.0.1 and find its leader.
#
#   etcd_cluster_start DIR    with etcd_client=(3 ports) etcd_peer=(3 ports)
#                             set; appends the pids to etcd_pids and sets
#                             etcd_leader (host:port of the leader's client
#                             URL). Data and logs under DIR/etcd<i>.
etcd_cluster_start() {
    local dir=$1 initial="" i endpoints
    echo "== etcd $(etcd --version | awk '/etcd Version/ {print $3}'): 3 nodes on 127.0.0.1:${etcd_client[*]}"
    for i in 0 1 2; do initial+="e$i=http://127.0.0.1:${etcd_peer[$i]},"; done
    for i in 0 1 2; do
        etcd --name "e$i" --data-dir "$dir/etcd$i" \
            --listen-client-urls "http://127.0.0.1:${etcd_client[$i]}" \
            --advertise-client-urls "http://127.0.0.1:${etcd_client[$i]}" \
            --listen-peer-urls "http://127.0.0.1:${etcd_peer[$i]}" \
            --initial-advertise-peer-urls "http://127.0.0.1:${etcd_peer[$i]}" \
            --initial-cluster "${initial%,}" --initial-cluster-state new \
            --initial-cluster-token locus-bench >"$dir/etcd$i.log" 2>&1 &
        etcd_pids+=($!)
    done
    endpoints="127.0.0.1:${etcd_client[0]},127.0.0.1:${etcd_client[1]},127.0.0.1:${etcd_client[2]}"
    for _ in $(seq 100); do
        etcdctl --endpoints="$endpoints" endpoint health >/dev/null 2>&1 && break
        sleep 0.2
    done
    etcd_leader=$(etcdctl --endpoints="$endpoints" endpoint status -w table |
        awk -F'|' '$6 ~ /true/ {gsub(/ /, "", $2); print $2}')
    echo "   leader: $etcd_leader"
}

# etcd_put_body FILE: the fixed h2load body, a gRPC message (0 = not
# compressed, 4-byte big-endian length 274) holding PutRequest{1: key
# "/bench/h2load" (13 bytes), 2: value 256 x "v" (length varint 0x80 0x02)}.
etcd_put_body() {
    {
        printf '\000\000\000\001\022'
        printf '\012\015/bench/h2load'
        printf '\022\200\002'
        printf 'v%.0s' $(seq 256)
    } >"$1"
    [ "$(stat -c %s "$1")" = 279 ] || { echo "$1: wrong size" >&2; return 1; }
}

# The version of /bench/h2load (one per applied put; empty when absent).
etcd_key_version() {
    etcdctl --endpoints="127.0.0.1:${etcd_client[0]},127.0.0.1:${etcd_client[1]},127.0.0.1:${etcd_client[2]}" \
        get /bench/h2load -w json | sed -n 's/.*"version":\([0-9]*\).*/\1/p'
}

# etcd_h2load_put FILE SECS: h2load, 64 connections, one stream each, the
# fixed unary etcdserverpb.KV/Put of FILE against the leader for SECS
# seconds. Prints "<puts/s> <failures> <detail>". h2load cannot read
# grpc-status, so the key's version before and after counts the puts etcd
# applied; an answered put that did not apply is a failure, as are failed,
# errored and timed-out requests (2 s without an answer on a connection).
etcd_h2load_put() {
    local body=$1 secs=$2 v0 v1 out
    v0=$(etcd_key_version); v0=${v0:-0}
    out=$(h2load -c64 -m1 -D "$secs" -N 2 -d "$body" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://$etcd_leader/etcdserverpb.KV/Put" 2>&1)
    v1=$(etcd_key_version); v1=${v1:-0}
    awk -v secs="$secs" -v applied=$((v1 - v0)) '
        /^finished in/ { t = $3; sub(/s,$/, "", t) }
        /^requests:/ { gsub(/,/, ""); ok = $8; failed = $10; errored = $12; to = $14 }
        /^status codes:/ { gsub(/,/, ""); non2xx = $5 + $7 + $9 }
        END {
            if (t == "") t = secs
            miss = ok - applied; if (miss < 0) miss = 0
            printf "%.0f %d failed %d, errored %d, timeout %d, non-2xx %d, answered but not applied %d (key version +%d)\n",
                (ok - miss) / t, failed + errored + to + miss, failed, errored, to, non2xx, miss, applied
        }' <<<"$out"
}
