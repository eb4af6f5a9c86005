#!/usr/bin/env bash
# bench/compare.sh: side by side on this machine, in one run: h2load and prep-bench against the
# same gateway over TLS, with the same bodies and concurrency, and then prep-bench with distinct
# photos that are all processed (time until every photo is `queued`). Prints a table and the
# ratio prep-bench/h2load (acceptance 3 of issue 14: within 10%, the tool is not the bottleneck).
#
# h2load sends one body file: its uploads are unsigned (the gateway runs with open uploads) and
# each clave of its URI list is sent once by every connection (h2load walks the list from its
# start in each client), the first a new photo and the rest idempotent retries. prep-bench sends
# the same bytes to the same number of claves (--claves), signed, one device per connection, and
# verifies every receipt. Not yet here: the reference nginx (see docs/capacity.md).
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: bench/compare.sh [-c CONNECTIONS=10] [-n REQUESTS=300] [--distinct N=40]

Builds build/ (release), starts a throwaway PostgreSQL (fsync on) and a gateway on TLS, and runs
three rounds: h2load (same bytes), prep-bench (same bytes), prep-bench (N distinct photos).
USAGE
}

conns=10 reqs=300 distinct=40
while [ $# -gt 0 ]; do
    case $1 in
    -c) conns=$2; shift 2 ;;
    -n) reqs=$2; shift 2 ;;
    --distinct) distinct=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREP_LOG_PREFIX=bench/compare.sh
# shellcheck source=../scripts/lib.sh
. scripts/lib.sh
prep_deps
prep_build build -Dbuildtype=release

scratch=$(mktemp -d /tmp/prep-bench-compare.XXXXXX)
chmod 755 "$scratch"
pg_port=$((5500 + RANDOM % 400))
gw_pid=
cleanup() {
    [ -n "$gw_pid" ] && kill -TERM "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
    prep_pg_stop "$scratch/pg" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT

prep_pg_start "$scratch/pg" "$scratch/run" "$pg_port"
prep_createdb "$scratch/run" "$pg_port" bench
db=$(prep_conninfo "$scratch/run" "$pg_port" bench)
build/gateway/prep-gateway migrate --db "$db" --schema schema >/dev/null
prep_tls_cert "$scratch/tls"
sql() { psql -X -q -t -A -h "$scratch/run" -p "$pg_port" -U prep -d bench -c "$1"; }

photo=$scratch/same.jpg
build/fixtures/acta-gen --out "$photo" --width 4000 --height 3000 --quality 92 --noise 8 \
    --seed 42 >/dev/null 2>&1
bytes=$(stat -c %s "$photo")
mkdir -p "$scratch/pool"
for i in $(seq "$distinct"); do
    build/fixtures/acta-gen --out "$scratch/pool/acta-$(printf %04d "$i").jpg" --width 4000 \
        --height 3000 --quality 92 --noise 8 --seed $((1000 + i)) >/dev/null 2>&1
done

h2c=$((20000 + RANDOM % 20000)) tls=$((h2c + 1))
build/gateway/prep-gateway serve --h2c "127.0.0.1:$h2c" --tls "127.0.0.1:$tls" \
    --cert "$scratch/tls/cert.pem" --key "$scratch/tls/key.pem" --db "$db" \
    --data "$scratch/data" --insecure-open-uploads --max-uploads-per-device 0 \
    --request-rate-per-device 0 --request-rate-per-address 0 --conn-rate-per-address 0 \
    2>"$scratch/gateway.log" &
gw_pid=$!
for _ in $(seq 100); do
    curl -fsS --http2-prior-knowledge "http://127.0.0.1:$h2c/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
bench/enrol-devices.sh --db "$db" --server "http://127.0.0.1:$h2c" --dir "$scratch/devices" \
    -n "$conns" --actas '1*' >/dev/null
sleep 0.5 # the device records reach the gateway's copy

# queued_after N: seconds until N photos are queued (processed), from now
wait_queued() {
    local want=$1 start
    start=$(date +%s.%N)
    for _ in $(seq 6000); do
        [ "$(sql "SELECT count(*) FROM photos WHERE status IN ('received','processing')")" = 0 ] &&
            [ "$(sql "SELECT count(*) FROM photos WHERE status = 'queued'")" -ge "$want" ] && break
        sleep 0.1
    done
    awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}'
}

claves=$(((reqs + conns - 1) / conns))
uris=()
for i in $(seq "$claves"); do
    uris+=("https://127.0.0.1:$tls/v1/actas/14$(printf '%04d' "$i")B010002/photos")
done
url=https://127.0.0.1:$tls

out=$(h2load -c "$conns" -m 1 -n "$reqs" -d "$photo" -H 'Content-Type: image/jpeg' "${uris[@]}")
h2_ok=$(sed -n 's/.*requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
h2_rate=$(sed -n 's/^finished in \([0-9.]*\)m\{0,1\}s, \([0-9.]*\) req\/s.*/\2/p' <<<"$out")
wait_queued "$claves" >/dev/null

pb() { build/bench/prep-bench --server "$url" --insecure --devices "$scratch/devices" \
    --no-progress --json "$@"; }
jq_() { jq -r "$1" <<<"$2"; }
same=$(pb --photos "$photo" -c "$conns" -n "$reqs" --claves "$claves" --entidad 15 || true)
wait_queued $((claves * 2)) >/dev/null
rss0=$(awk '/VmHWM/{print $2}' "/proc/$gw_pid/status")
dist=$(pb --photos "$scratch/pool" -c "$conns" -n "$distinct" --entidad 16 || true)
proc_s=$(wait_queued $((claves * 2 + distinct)))
hwm=$(awk '/VmHWM/{print $2}' "/proc/$gw_pid/status")

ratio=$(awk -v a="$(jq_ .uploads_per_s "$same")" -v b="$h2_rate" 'BEGIN{printf "%.3f", a/b}')
cat <<REPORT
bench/compare.sh -c $conns -n $reqs --distinct $distinct: gateway over TLS, $(nproc) cores, load
average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ). Same photo: $bytes bytes.

| round | accepted | uploads/s | MB/s | p50 ms | p99 ms |
|---|---|---|---|---|---|
| h2load, same bytes, $claves claves, unsigned | $h2_ok/$reqs | $h2_rate | $(awk -v r="$h2_rate" -v b="$bytes" 'BEGIN{printf "%.1f", r*b/1e6}') | - | - |
| prep-bench, same bytes, $claves claves, signed | $(jq_ '"\(.ok)/\(.planned)"' "$same") | $(jq_ '.uploads_per_s*100|round/100' "$same") | $(jq_ '.mb_per_s*10|round/10' "$same") | $(jq_ '.latency.p50_ms|round' "$same") | $(jq_ '.latency.p99_ms|round' "$same") |
| prep-bench, $distinct distinct photos, signed | $(jq_ '"\(.ok)/\(.planned)"' "$dist") | $(jq_ '.uploads_per_s*100|round/100' "$dist") | $(jq_ '.mb_per_s*10|round/10' "$dist") | $(jq_ '.latency.p50_ms|round' "$dist") | $(jq_ '.latency.p99_ms|round' "$dist") |

prep-bench / h2load throughput, same bytes and concurrency: **$ratio** (acceptance: 0.90-1.10).
The $distinct distinct photos were all queued (processed) $proc_s s after their last receipt.
Gateway peak RSS (VmHWM): $((rss0 / 1024)) MiB before the distinct round, $((hwm / 1024)) MiB after.
REPORT
awk -v r="$ratio" 'BEGIN{exit !(r >= 0.9 && r <= 1.1)}' || prep_die "prep-bench is not within 10% of h2load"
