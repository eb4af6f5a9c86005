#!/usr/bin/env bash
# bench/abuse.sh: what the phones get while someone attacks the gateway. A release gateway with
# its default limits and 8 enrolled phones sending distinct photos at a fixed rate (prep-bench's
# open model), first alone, then beside N hostile clients of each kind prep-bench has
# (bad-signature, unsigned, slow) connecting from 127.0.0.2, and once more with the
# bad-signature clients on the phones' own address: a table of the phones' accepted uploads and
# latency percentiles and of what the hostile clients sent and got.
set -euo pipefail
usage() {
    cat <<'USAGE'
Usage: bench/abuse.sh [--rate R=2] [--duration S=40] [--abusive N=3]
Installs what is missing, builds build/ (release), starts a throwaway PostgreSQL and a gateway on
TLS with its default limits, enrols 8 phones, and runs prep-bench --rate R --duration S five
times: alone, beside N clients of each --abuse kind from 127.0.0.2, and beside N bad-signature
clients from the phones' own address (127.0.0.1). The default 40 s outlasts the gateway's
--body-timeout (30 s), so that the slow clients are cut within the run.
USAGE
}
rate=2 duration=40 abusive=3
while [ $# -gt 0 ]; do
    case $1 in
    --rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --abusive) abusive=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREP_LOG_PREFIX=bench/abuse.sh
# shellcheck source=../scripts/lib.sh
. scripts/lib.sh
# shellcheck source=lib.sh
. bench/lib.sh
prep_deps
prep_build build -Dbuildtype=release

bench_scratch abuse

prep_log "generating 4 photos of 4000x3000"
bench_pool "$scratch/pool" 4 500 --light
bench_start_gateway
bench_enrol 8
base=0
run() { # LABEL [prep-bench options]: one row
    local label=$1 out
    shift
    out=$(build/bench/prep-bench --server "https://127.0.0.1:$tls" --insecure \
        --devices "$scratch/devices" --photos "$scratch/pool" --distinct -c 8 \
        --rate "$rate" --duration "$duration" --clave-base "$base" --no-progress --json "$@" ||
        true)
    base=$((base + 1000))
    jq -r --arg l "$label" '"| \($l) | \(.ok)/\(.planned) | \(.latency.p50_ms | round) | \(.latency.p99_ms | round) | \(.latency.max_ms | round) | " +
        (if .abuse then "\(.abuse.sent): " + ([.abuse.classes | to_entries[] | "\(.value) \(.key)"] | join(", ")) else "-" end) + " |"' <<<"$out"
    sleep 2 # the gateway's per-address and per-device budgets refill between rows
}
echo "bench/abuse.sh --rate $rate --duration $duration --abusive $abusive: $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| hostile clients | phones' uploads accepted | p50 ms | p99 ms | max ms | hostile requests: answers |"
echo "|---|---|---|---|---|---|"
run "none"
for k in bad-signature unsigned slow; do
    run "$abusive $k from 127.0.0.2" --abusive "$abusive" --abuse "$k" --abuse-from 127.0.0.2
done
run "$abusive bad-signature from the phones' address" --abusive "$abusive" --abuse bad-signature
