#!/usr/bin/env bash
# bench/enrol-devices.sh: enrols N simulated phones for prep-bench --devices, each with its own
# key and state folder (DIR/device-0001...), through the gateway's real enrolment: a one-time
# code from `prep-gateway device code`, then `prep-upload enrol`. Folders already enrolled are
# kept, so a second run only adds what is missing.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: bench/enrol-devices.sh --db CONNINFO --server URL --dir DIR [-n N=50] [--actas GLOB='14*']
                              [--gateway BIN] [--upload BIN] [--insecure]

  --db       the gateway's database (the codes are made there, as an operator makes them)
  --server   the gateway's URL (http:// h2c or https://)
  --gateway, --upload  prep-gateway and prep-upload (default: build/'s)
USAGE
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
db= server= dir= n=50 actas='14*' insecure=()
gateway=$root/build/gateway/prep-gateway upload=$root/build/client/prep-upload
while [ $# -gt 0 ]; do
    case $1 in
    --db) db=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    -n) n=$2; shift 2 ;;
    --actas) actas=$2; shift 2 ;;
    --gateway) gateway=$2; shift 2 ;;
    --upload) upload=$2; shift 2 ;;
    --insecure) insecure=(--insecure); shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
[ -n "$db" ] && [ -n "$server" ] && [ -n "$dir" ] || { usage >&2; exit 2; }
mkdir -p "$dir"
for i in $(seq -f '%04g' 1 "$n"); do
    state=$dir/device-$i
    [ -f "$state/device.json" ] && continue
    code=$("$gateway" device code --db "$db" --label "prep-bench $i" --actas "$actas" \
        --expires 1h --json | sed -n 's/.*"code": *"\([^"]*\)".*/\1/p')
    "$upload" enrol --code "$code" --server "$server" --state "$state" --label "prep-bench $i" \
        "${insecure[@]}" >/dev/null
done
echo "$n devices in $dir"
