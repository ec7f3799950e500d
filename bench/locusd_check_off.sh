#!/bin/sh
# A locusd for `locusctl bench ... --locusd bench/locusd_check_off.sh`: runs
# build/locusd (or $LOCUSD) with the same arguments and the same pid, and
# turns the `check` switch (healthCheckEnabled) off as soon as the node
# answers, so that persistent instances registered by a benchmark are not
# probed. The HTTP port is read from the --conf file (server.port).
here=$(cd "$(dirname "$0")" && pwd)
locusd=${LOCUSD:-$here/../build/locusd}
conf=
prev=
for a in "$@"; do
    [ "$prev" = "--conf" ] && conf=$a
    prev=$a
done
port=$(sed -n 's/^server\.port=//p' "$conf" 2>/dev/null | tail -n 1)
(
    i=0
    while [ $i -lt 200 ]; do
        if curl -sf -X PUT "http://127.0.0.1:${port:-8848}/nacos/v1/ns/operator/switches?entry=check&value=false" >/dev/null 2>&1; then
            echo "locusd_check_off.sh: check switch off" >&2
            exit 0
        fi
        i=$((i + 1))
        sleep 0.05
    done
    echo "locusd_check_off.sh: could not turn the check switch off" >&2
) &
exec "$locusd" "$@"
