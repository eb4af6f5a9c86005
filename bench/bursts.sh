#!/usr/bin/env bash
# bench/bursts.sh: where the CPU goes in repeated bursts of distinct photos. compare.sh's round 4
# (prep-bench --distinct against the gateway, every photo processed) run R times, each burst
# after the last one's backlog is drained, with the gateway's CPU split by thread priority:
# intake (event loops, disk and ingest threads, nice 0) against processing (nice > 0), user and
# system time apart, and PostgreSQL's. The options test two explanations of a later burst being
# slower than the first: --pg-nice lowers PostgreSQL's priority, --touch writes to fresh memory
# before each burst (on a VM the first write to a page the host took back is slow, and the page
# cache a burst writes into is such memory), --profile names the kernel's top symbols.
set -euo pipefail
usage() {
    cat <<'USAGE'
Usage: bench/bursts.sh [--rounds R=3] [-c C=10] [-n N=200] [--pool P=20] [--pg-nice K]
                       [--touch GIB] [--profile] [--gateway PATH]
Installs what is missing, builds build/ (release), starts a throwaway PostgreSQL and a gateway on
TLS (open uploads, no per-device or per-address limits), enrols 20 phones, generates P photos of
4000x3000, and sends R bursts of N distinct photos at concurrency C. After each burst it waits
until every photo is processed. One table row a burst.
  --pg-nice K   renice PostgreSQL's postmaster by K before the gateway connects (its backends
                inherit it)
  --touch GIB   before each burst, write GIB GiB of fresh memory and free it
  --profile     perf-record the gateway during each burst and print its top kernel symbols
  --gateway PATH  run this gateway binary (another commit's build) instead of build/'s
USAGE
}
rounds=3 conc=10 count=200 pool=20 pg_nice='' touch='' profile='' bench_gateway=''
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift 2 ;;
    -c) conc=$2; shift 2 ;;
    -n) count=$2; shift 2 ;;
    --pool) pool=$2; shift 2 ;;
    --pg-nice) pg_nice=$2; shift 2 ;;
    --touch) touch=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --gateway) bench_gateway=$(realpath "$2"); shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREP_LOG_PREFIX=bench/bursts.sh
# shellcheck source=../scripts/lib.sh
. scripts/lib.sh
# shellcheck source=lib.sh
. bench/lib.sh
[ -z "$profile" ] || PREP_PACKAGES+=(linux-perf)
prep_deps
prep_build build -Dbuildtype=release

bench_scratch bursts
prep_log "generating $pool photos of 4000x3000"
bench_pool "$scratch/pool" "$pool" 1000 >/dev/null
if [ -n "$pg_nice" ]; then
    renice -n "$pg_nice" -p "$(head -1 "$scratch/pg/postmaster.pid")" >/dev/null
fi
bench_start_gateway --insecure-open-uploads --max-uploads-per-device 0 \
    --request-rate-per-device 0 --request-rate-per-address 0 --conn-rate-per-address 0
bench_enrol 20

echo "bench/bursts.sh --rounds $rounds -c $conc -n $count --pool $pool${pg_nice:+ --pg-nice $pg_nice}${touch:+ --touch $touch}:" \
    "${bench_gateway:-build/gateway/prep-gateway}, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| burst | accepted | uploads/s | p50 ms | p99 ms | intake user/sys s | processing user/sys s | PostgreSQL s | drained after s |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
    bench_touch "$touch"
    t0=$(bench_cpu_by_nice "$gw_pid") p0=$(bench_cpu_pg "$scratch/pg")
    if [ -n "$profile" ]; then
        perf record -q -F 499 -p "$gw_pid" -o "$scratch/perf-$r.data" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    out=$(build/bench/prep-bench --server "https://127.0.0.1:$tls" --insecure \
        --devices "$scratch/devices" --photos "$scratch/pool" --distinct -c "$conc" -n "$count" \
        --clave-base $((r * 1000)) --entidad $((15 + r)) --no-progress --json)
    t1=$(bench_cpu_by_nice "$gw_pid") p1=$(bench_cpu_pg "$scratch/pg")
    if [ -n "$profile" ]; then
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
    fi
    drained=$(bench_wait_processed)
    cpu=$(awk -v a="$t0" -v b="$t1" 'BEGIN { split(a, x); split(b, y)
        printf "%.2f/%.2f | %.2f/%.2f", y[1] - x[1], y[2] - x[2], y[3] - x[3], y[4] - x[4] }')
    pg=$(awk -v a="$p0" -v b="$p1" 'BEGIN { printf "%.2f", b - a }')
    jq -r --arg r "$r" --arg cpu "$cpu" --arg pg "$pg" --arg d "$drained" \
        '"| \($r) | \(.ok)/\(.planned) | \(.uploads_per_s * 10 | round / 10) | \(.service.p50_ms | round) | \(.service.p99_ms | round) | \($cpu) | \($pg) | \($d) |"' <<<"$out"
done
for r in $(seq "$rounds"); do
    [ -n "$profile" ] || break
    echo
    echo "Burst $r, the gateway's top kernel symbols (share of all its samples):"
    perf report -i "$scratch/perf-$r.data" --no-children --sort sym --stdio 2>/dev/null |
        awk '/\[k\]/ && n++ < 6 { print "  " $1, $3 }'
done
