#!/usr/bin/env bash
# bench/intake.sh: what intake alone costs the gateway. h2load sends one 4 MB acta JPEG over TLS
# again and again (the same bytes: after the first, content-addressed, no image processing), so
# the gateway's CPU is the socket, TLS, HTTP/2, the spool's writes, hashing and fsync, and the
# receipt. Each round prints uploads/s and the gateway's CPU per upload; a last round at four times
# the connections gives the peak RSS one more upload in flight costs (VmHWM after -c 4C minus VmHWM
# after the rounds at -c C, over 3C: no imaging runs, so nothing else moves it; the allocator's
# arenas make a smaller step noisy); --strace adds a round
# under `strace -f -c` and prints the system calls per upload (strace slows the gateway down: its
# counts matter, not its speed). --gateway runs another build's binary (an older commit's in a
# git worktree, say) on the same photo and machine, for a before and after in one session.
# --profile adds a round under `perf record` and prints the gateway's top symbols, its own and
# the kernel's, with the share of the samples each library and the kernel take.
set -euo pipefail
usage() {
    cat <<'USAGE'
Usage: bench/intake.sh [-c CONNECTIONS=10] [-n REQUESTS=300] [--rounds R=3] [--strace]
                       [--profile] [--gateway PATH]
Installs what is missing, builds build/ (release), starts a throwaway PostgreSQL and a gateway
on TLS (open uploads, no rate limits), and runs R rounds of h2load -c C -m 1 -n N with one 4 MB
photo over 10 claves. Prints a line per round: uploads/s and the gateway's CPU ms per upload;
then one round at -c 4C for the peak RSS per upload in flight.
--strace: one more round of N/3 under strace -f -c: system calls per upload.
--profile: one more round of N under perf record: the gateway's CPU by library and symbol.
--gateway PATH: this prep-gateway binary instead of build/'s.
USAGE
}
conns=10 reqs=300 rounds=3 trace=0 profile=0 bench_gateway=''
while [ $# -gt 0 ]; do
    case $1 in
    -c) conns=$2; shift 2 ;;
    -n) reqs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --strace) trace=1; shift ;;
    --profile) profile=1; shift ;;
    --gateway) bench_gateway=$(realpath "$2"); shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREP_LOG_PREFIX=bench/intake.sh
# shellcheck source=../scripts/lib.sh
. scripts/lib.sh
# shellcheck source=lib.sh
. bench/lib.sh
PREP_PACKAGES+=(strace)
[ "$profile" = 1 ] && PREP_PACKAGES+=(linux-perf)
prep_deps
prep_build build -Dbuildtype=release

bench_scratch intake

photo=$scratch/same.jpg
build/fixtures/acta-gen --out "$photo" --width 4000 --height 3000 --quality 92 --noise 8 --qr \
    --seed 42 >/dev/null 2>&1
bench_start_gateway --insecure-open-uploads --max-uploads-per-device 0 \
    --request-rate-per-device 0 --request-rate-per-address 0 --conn-rate-per-address 0
uris=()
for i in $(seq 10); do
    uris+=("https://127.0.0.1:$tls/v1/actas/14$(printf %04d "$i")B010002/photos")
done
h2() { # h2load N [C]: prints "succeeded req/s"
    local out
    out=$(h2load -c "${2:-$conns}" -m 1 -n "$1" -d "$photo" -H 'Content-Type: image/jpeg' "${uris[@]}")
    printf '%s %s\n' "$(sed -n 's/.*requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")" \
        "$(sed -n 's/^finished in [0-9.]*m\{0,1\}s, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")"
}
echo "bench/intake.sh -c $conns -n $reqs: $(stat -c %s "$photo") bytes over TLS, gateway" \
    "${bench_gateway:-build/gateway/prep-gateway}, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
h2 50 >/dev/null # warm: the original exists, the claves' receipts too
for r in $(seq "$rounds"); do
    c0=$(bench_cpu "$gw_pid")
    read -r ok rate < <(h2 "$reqs")
    c1=$(bench_cpu "$gw_pid")
    awk -v r="$r" -v ok="$ok" -v n="$reqs" -v rate="$rate" -v a="$c0" -v b="$c1" \
        'BEGIN{printf "round %d: %d/%d accepted, %.1f uploads/s, %.1f ms of gateway CPU an upload\n",
               r, ok, n, rate, (b - a) * 1000 / n}'
done
hwm1=$(bench_hwm)
h2 "$reqs" $((4 * conns)) >/dev/null
hwm2=$(bench_hwm)
echo "peak RSS (VmHWM): $((hwm1 / 1024)) MiB after -c $conns, $((hwm2 / 1024)) MiB after -c" \
    "$((4 * conns)): $(((hwm2 - hwm1) / (3 * conns))) KiB per upload in flight"
if [ "$trace" = 1 ]; then
    n=$((reqs / 3))
    strace -f -c -o "$scratch/strace" -p "$gw_pid" 2>/dev/null &
    st=$!
    sleep 1
    h2 "$n" >/dev/null
    kill -INT "$st"
    wait "$st" || true
    echo "system calls per upload (strace -f -c over $n uploads):"
    awk -v n="$n" '$4 ~ /^[0-9]+$/ && $NF ~ /^[a-z_0-9]+$/ && $NF != "total" {
        printf "  %-16s %8.1f\n", $NF, $4 / n }' "$scratch/strace" | sort -k2 -n -r | head -12
fi
if [ "$profile" = 1 ]; then
    perf record -F 999 -g -p "$gw_pid" -o "$scratch/perf.data" 2>/dev/null &
    pf=$!
    sleep 1
    h2 "$reqs" >/dev/null
    kill -INT "$pf"
    wait "$pf" || true
    echo "gateway CPU by library (perf record -F 999 over $reqs uploads):"
    perf report -i "$scratch/perf.data" --no-children --sort dso --stdio 2>/dev/null |
        awk '$1 ~ /%$/ && n++ < 8 { printf "  %-8s %s\n", $1, $2 }'
    echo "top symbols:"
    perf report -i "$scratch/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
        awk '$1 ~ /%$/ && n++ < 25 { $2 = ""; sub(/^ +/, ""); print "  " $0 }'
fi
