#!/usr/bin/env bash
# bench/load.sh: the gateway's intake under load, measured with h2load against a release build.
#
# Uploads a phone-sized photo (>= 8 MB) N times over HTTP/2 (h2c), C connections with M streams
# each, then waits until every photo has been processed and reads the gateway's peak RSS (VmHWM).
# Three rounds: with h2load (unsigned), the same bytes for one clave (idempotent retries: one
# photo stored) and the same bytes spread over N/C claves (h2load gives every client the URI
# list from its start, so each clave is uploaded C times: N/C photos, N spool writes); then the
# N/C-claves load again as phones send it, signed, with bench/prep-load. The results go to
# stdout and, with --write, to docs/bench-load.md together with the command that produced them.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: bench/load.sh [--write] [-c CONNECTIONS] [-m STREAMS] [-n REQUESTS]

Defaults: -c 10 -m 5 -n 50 (the foundation issue's acceptance run). Builds build/ (release) and
uses a throwaway PostgreSQL cluster with fsync on, like production.
  --write   also write the results to docs/bench-load.md
USAGE
}

conns=10 streams=5 reqs=50 write=0
while [ $# -gt 0 ]; do
    case $1 in
    --write) write=1; shift ;;
    -c) conns=$2; shift 2 ;;
    -m) streams=$2; shift 2 ;;
    -n) reqs=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREP_LOG_PREFIX=bench/load.sh
# shellcheck source=../scripts/lib.sh
. scripts/lib.sh
prep_deps
prep_build build -Dbuildtype=release

scratch=$(mktemp -d /tmp/prep-bench-load.XXXXXX)
chmod 755 "$scratch"
pg_port=5499
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
build/gateway/prep-gateway migrate --db "$db" >/dev/null

photo=$scratch/big.jpg
build/fixtures/acta-gen --out "$photo" --width 4000 --height 3000 --quality 98 --noise 10 \
    --seed 42 2>/dev/null
bytes=$(stat -c %s "$photo")
[ "$bytes" -ge 8000000 ] || prep_die "test photo is only $bytes bytes"

port=$((20000 + RANDOM % 20000))
# h2load sends unsigned uploads: open uploads on; prep-load's signed ones are checked anyway.
# prep-load sends every upload as one device, which a phone never does: no per-device cap or
# rate; and the whole load comes from one address, faster than any address of phones.
build/gateway/prep-gateway serve --h2c "127.0.0.1:$port" --tls off --db "$db" \
    --data "$scratch/data" --insecure-open-uploads --max-uploads-per-device 0 \
    --request-rate-per-device 0 --request-rate-per-address 0 \
    2>"$scratch/gateway.log" &
gw_pid=$!
for _ in $(seq 100); do
    curl -fsS --http2-prior-knowledge "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

sql() { psql -X -q -t -A -h "$scratch/run" -p "$pg_port" -U prep -d bench -c "$1"; }

# wait_processed: until the spool has nothing pending and no photo waits for processing.
wait_processed() {
    for _ in $(seq 3000); do
        if [ -z "$(ls -A "$scratch/data/spool/pending")" ] &&
            [ "$(sql "SELECT count(*) FROM photos WHERE status IN ('received','processing')")" = 0 ]; then
            return 0
        fi
        sleep 0.1
    done
    prep_die "photos not processed in 300 s"
}

round() { # round NAME URI...
    local name=$1 out start end
    shift
    start=$(date +%s.%N)
    out=$(h2load -c "$conns" -m "$streams" -n "$reqs" -d "$photo" -H 'Content-Type: image/jpeg' "$@")
    end=$(date +%s.%N)
    ok=$(sed -n 's/.*requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
    codes=$(sed -n 's/^status codes: //p' <<<"$out")
    rate=$(sed -n 's/^finished in \([0-9.]*\)m\{0,1\}s, \([0-9.]*\) req\/s.*/\2/p' <<<"$out")
    mbps=$(awk -v n="$reqs" -v b="$bytes" -v s="$start" -v e="$end" 'BEGIN{printf "%.0f", n*b/(e-s)/1e6}')
    printf '| %s | %s/%s | %s | %s | %s |\n' "$name" "$ok" "$reqs" "$codes" "$rate" "$mbps"
}

# The same load as phones send it: signed uploads (RFC 9421) from an enrolled device, by
# bench/prep-load, which is built on prep-upload's client library.
signed_round() {
    local code out start end
    code=$(build/gateway/prep-gateway device code --db "$db" --label bench --actas '15*' \
        --expires 1h --json | sed -n 's/.*"code": *"\([^"]*\)".*/\1/p')
    build/client/prep-upload enrol --code "$code" --server "http://127.0.0.1:$port" \
        --state "$scratch/device" >/dev/null
    start=$(date +%s.%N)
    out=$(build/bench/prep-load --server "http://127.0.0.1:$port" --state "$scratch/device" \
        --file "$photo" -c "$conns" -m "$streams" -n "$reqs" --claves "$uris_n" --entidad 15 \
        --json)
    end=$(date +%s.%N)
    /usr/bin/python3 - "$out" "$reqs" "$bytes" "$start" "$end" "$uris_n" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); n, b, s, e, k = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
print(f"| signed (prep-load), {k} claves | {d['2xx']}/{n} | {d['2xx']} 2xx, {d['4xx']} 4xx, "
      f"{d['5xx']} 5xx, {d['failed']} failed | {d['req_per_s']:.2f} | {n * b / (e - s) / 1e6:.0f} |")
PY
}

uris_one="http://127.0.0.1:$port/v1/actas/140338B010002/photos"
# h2load walks the URI list from its start in every client, so -n/-c URIs are enough to make
# every request of the second round a distinct photo as far as h2load lets us.
uris_n=$(( (reqs + conns - 1) / conns ))
uris_many=()
for i in $(seq "$uris_n"); do
    uris_many+=("http://127.0.0.1:$port/v1/actas/14$(printf '%04d' "$i")B010002/photos")
done

rss_start=$(awk '/VmRSS/{print $2}' /proc/$gw_pid/status)
table=$(
    printf '| round | succeeded | status codes | req/s | MB/s in |\n|---|---|---|---|---|\n'
    round "same photo, one clave (retries)" "$uris_one"
    wait_processed
    round "same bytes, $uris_n claves" "${uris_many[@]}"
    wait_processed
    signed_round
    wait_processed
)
hwm=$(awk '/VmHWM/{print $2}' /proc/$gw_pid/status)
photos=$(sql "SELECT count(*) FROM photos")
queued=$(sql "SELECT count(*) FROM photos WHERE status = 'queued'")

report=$(
    cat <<REPORT
Command: \`bench/load.sh -c $conns -m $streams -n $reqs\` (release build, h2c, PostgreSQL with
fsync on, data on $(df -P "$scratch" | awk 'NR==2{print $1}'), $(nproc) cores, $(date -u +%Y-%m-%d)).
Photo: acta-gen 4000x3000 q98 noise 10, $bytes bytes. h2load $(h2load --version 2>/dev/null | head -1 | awk '{print $2}'): \`h2load -c $conns -m $streams -n $reqs -d photo.jpg -H 'Content-Type: image/jpeg' URI...\`.

$table

Photos recorded: $photos, queued: $queued. Gateway RSS at start: $((rss_start / 1024)) MiB; peak RSS
(VmHWM) over all rounds and the processing of every photo: **$((hwm / 1024)) MiB** (bound: 150 MiB).
REPORT
)
printf '%s\n' "$report"
if [ $write -eq 1 ]; then
    {
        printf '# Intake load benchmark\n\nWritten by `bench/load.sh --write`; rerun it to refresh.\n\n'
        printf '%s\n' "$report"
    } >docs/bench-load.md
    prep_log "wrote docs/bench-load.md"
fi
[ $((hwm / 1024)) -lt 150 ] || prep_die "peak RSS $((hwm / 1024)) MiB is over the 150 MiB bound"
