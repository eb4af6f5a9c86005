#!/usr/bin/env bash
# bench/peak.sh: an election night's window end to end on this machine. A throwaway PostgreSQL
# (fsync on) and a gateway on TLS with its default limits (signed uploads only, as ./run.sh runs
# it); enrolled phones replay a scenario window with prep-bench, every body distinct (--distinct)
# so that every photo is stored and processed; the processing backlog is sampled every 10 s; at
# the end it waits until every photo is `queued` and prints the receipt latency (from each
# upload's intended send time), receipt to `queued` per photo, the backlog's course and the
# verdict of issue 14's acceptance 5: p99 receipt < 1 s, every photo queued, the backlog drained.
# Phones on a slow link (--kbps, --rtt) take the link's time to send: their threshold is the p99
# of the receipt after the body's last byte (prep-bench's after_body) instead.
#
# Disk: each photo is kept twice (the gateway's store, and PostgreSQL for the other gateways), so
# a window needs about 2 x uploads x the pool's mean size; the script says so and stops when the
# disk holds less.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: bench/peak.sh [--scenario NAME=national-peak] [--from HH:MM=21:30] [--to HH:MM=22:00]
                     [--speed X=1] [-c PHONES=64] [--pool P=24] [--out DIR=peak-out]
                     [--light-photos] [--rtt MS] [--kbps K] [--keep-going]

Builds build/ (release) and replays the scenario window (bench/scenarios) at --speed against a
throwaway gateway; the JSON and the HTML report of prep-bench, the backlog samples (backlog.tsv)
and the summary (summary.txt) go to --out. Exit 0 when the window was held, 3 when not.
  --light-photos  photos of 1.5-3 MB (quality 86-90, noise 4-6) instead of 3-6 MB (88-96,
                6-12): for a window the disk cannot hold at the larger size
  --rtt MS, --kbps K  phones on a mobile network: each one's round trip and upstream
                (prep-bench's in-process relay and pacing; more phones are in flight: raise -c);
                the threshold is then the receipt after the last byte, p99 < 1 s
  --keep-going  run even when the disk looks too small for the window
USAGE
}

scenario=national-peak from=21:30 to=22:00 speed=1 conns=64 pool=24 out=peak-out force=0
kind=--varied net=()
while [ $# -gt 0 ]; do
    case $1 in
    --scenario) scenario=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --to) to=$2; shift 2 ;;
    --speed) speed=$2; shift 2 ;;
    -c) conns=$2; shift 2 ;;
    --pool) pool=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --light-photos) kind=--light; shift ;;
    --rtt | --kbps) net+=("$1" "$2"); shift 2 ;;
    --keep-going) force=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREP_LOG_PREFIX=bench/peak.sh
# shellcheck source=../scripts/lib.sh
. scripts/lib.sh
# shellcheck source=lib.sh
. bench/lib.sh
prep_deps
prep_build build -Dbuildtype=release
mkdir -p "$out"
out=$(cd "$out" && pwd)

sampler=''
bench_cleanup_extra() { [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true; }
bench_scratch peak

prep_log "generating $pool photos (4000x3000 with a QR code, bench_pool $kind)"
bench_pool "$scratch/pool" "$pool" 3000 "$kind"
mean=$(find "$scratch/pool" -name '*.jpg' -printf '%s\n' | awk '{s += $1} END {print s / NR}')
planned=$(build/bench/prep-bench --scenario "$scenario" --from "$from" --to "$to" \
    --speed "$speed" --plan)
need=$(awk -v n="$planned" -v m="$mean" 'BEGIN{printf "%.0f", 2.1 * n * m / 1e9}')
free=$(df -B1 --output=avail /tmp | tail -1 | awk '{printf "%.0f", $1 / 1e9}')
prep_log "$planned uploads of $(awk -v m="$mean" 'BEGIN{printf "%.1f", m/1e6}') MB on average: about $need GB of disk, $free GB free"
if [ "$need" -ge "$free" ] && [ "$force" = 0 ]; then
    prep_die "not enough disk for this window: shorten it (--to) or pass --keep-going"
fi

bench_start_gateway
prep_log "enrolling $conns phones"
bench_enrol "$conns"

# Every 10 s: seconds since the start, photos waiting for processing, queued, gateway RSS (KiB).
t0=$(date +%s)
printf 'seconds\twaiting\tqueued\trss_kib\n' >"$out/backlog.tsv"
(
    while sleep 10; do
        printf '%s\t%s\t%s\t%s\n' $(($(date +%s) - t0)) \
            "$(bench_sql "SELECT count(*) FROM photos WHERE status IN ('received','processing')")" \
            "$(bench_sql "SELECT count(*) FROM photos WHERE status = 'queued'")" \
            "$(awk '/VmRSS/{print $2}' "/proc/$gw_pid/status")" >>"$out/backlog.tsv"
    done
) &
sampler=$!

prep_log "replaying $scenario $from-$to at speed $speed: $planned uploads"
require='p99<1s,errors<0.1%'
[ ${#net[@]} -eq 0 ] || require='after_body.p99<1s,errors<0.1%'
rc=0
build/bench/prep-bench --server "https://127.0.0.1:$tls" --cacert "$scratch/tls/cert.pem" \
    --devices "$scratch/devices" --photos "$scratch/pool" --distinct -c "$conns" \
    --scenario "$scenario" --from "$from" --to "$to" --speed "$speed" ${net[@]+"${net[@]}"} \
    --out "$out/prep-bench.json" --html "$out/prep-bench.html" --require "$require" \
    >"$out/prep-bench.txt" || rc=$?
ended=$(($(date +%s) - t0))
prep_log "the last upload was answered at ${ended} s; waiting for processing"
drain=$(bench_wait_processed)
sleep 10 # one more sample after the drain
kill "$sampler" 2>/dev/null || true
sampler=''

queued=$(bench_sql "SELECT count(*) FROM photos WHERE status = 'queued'")
other=$(bench_sql "SELECT coalesce(string_agg(status || ' ' || n, ', '), 'none') FROM (SELECT
    status, count(*) n FROM photos WHERE status <> 'queued' GROUP BY status) s")
ok=$(jq -r .ok "$out/prep-bench.json")
peak=$(awk -F'\t' 'NR > 1 && $2 > m {m = $2; t = $1} END {printf "%d at %d s", m, t}' \
    "$out/backlog.tsv")
{
    echo "bench/peak.sh --scenario $scenario --from $from --to $to --speed $speed -c $conns --pool $pool$([ "$kind" = --light ] && echo ' --light-photos')${net[*]+ ${net[*]}}"
    echo "$(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "pool: $pool photos, $(awk -v m="$mean" 'BEGIN{printf "%.2f", m/1e6}') MB on average"
    cat "$out/prep-bench.txt"
    echo "thresholds (prep-bench --require): $require: $([ "$rc" = 0 ] && echo held || echo "not held (exit $rc)")"
    echo "receipts: $ok of $planned; queued: $queued; not queued: $other"
    echo "receipt to queued per photo, ms (p50 p99 max): $(bench_to_queued '%')"
    echo "backlog (waiting for processing): peak $peak; the last upload answered at $ended s, all processed $drain s later"
    echo "gateway peak RSS: $(($(bench_hwm) / 1024)) MiB"
} | tee "$out/summary.txt"
[ "$rc" = 0 ] && [ "$queued" = "$planned" ] && exit 0
prep_log "not held: prep-bench exit $rc, $queued of $planned queued"
exit 3
