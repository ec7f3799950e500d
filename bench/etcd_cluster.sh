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
