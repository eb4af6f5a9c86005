#!/usr/bin/env bash
# bench/compare.sh: intake side by side on this machine, in one run, over TLS with the same 4 MB
# acta JPEGs and the same concurrency: the gateway (fsync before every receipt) and a reference
# nginx (Debian's, HTTP/2 over TLS, every request body kept in a file, no fsync), each driven by
# h2load and by prep-bench. After a measure of the disk (4 writers of fsync'd copies), five
# rounds:
#   1. h2load -> gateway, one body for every upload (unsigned; the gateway runs with open uploads)
#   2. prep-bench -> gateway, the same bytes, signed, every receipt verified
#   3. h2load -> nginx, the same bytes
#   4. prep-bench --distinct -> gateway: every body distinct, so every photo is stored and
#      processed (identical bytes hit the gateway's content-addressed shortcut)
#   5. prep-bench --distinct --reference -> nginx: the same bodies
# It prints a table, the ratios 2/1 (the tool is not the bottleneck: acceptance 3 of issue 14),
# 1/3 and 4/5 (the gateway's intake against nginx's), the time until every photo of round 4 is
# `queued`, and the gateway's peak RSS per upload in flight (VmHWM at -c C and at -c 2C: the
# difference over C is what one more upload in flight costs; imaging's own memory cancels out).
# With --profile, perf samples the gateway during round 4 and the top symbols are printed.
# Every round starts after --touch GIB (3) GiB of memory were written and freed, so that both
# servers write their bodies into recently used pages: on a VM whose host takes freed memory back,
# the first write to a page is slow, and without it the ratio says which server came first
# (docs/capacity.md, "Equal memory for both servers").
#
# h2load walks its URI list from the start in every client, so with K = N/C claves each clave is
# sent by every connection: the first a new photo, the rest idempotent retries. nginx's upstream
# is a second server block of the same nginx answering 201 (proxy_pass_request_body off): the
# body is read to its file first, the classic nginx upload set-up.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: bench/compare.sh [-c CONNECTIONS=10] [-n REQUESTS=300] [--distinct N=200] [--pool P=20]
                        [--touch GIB=3] [--profile]

Installs what is missing (Debian's nginx among it), builds build/ (release), starts a throwaway
PostgreSQL (fsync on), a gateway and an nginx on TLS, and runs the five rounds above. Round 4
and 5 send N distinct bodies made from P generated 4000x3000 acta JPEGs (with their QR code); round 4 runs again at
twice the concurrency for the RSS per upload. --touch GIB: before each round, write GIB GiB of
memory and free it, the same memory state for both servers (0: not). --profile: perf record of
the gateway in round 4.
USAGE
}

conns=10 reqs=300 distinct=200 pool=20 profile=0 touch=3
while [ $# -gt 0 ]; do
    case $1 in
    -c) conns=$2; shift 2 ;;
    -n) reqs=$2; shift 2 ;;
    --distinct) distinct=$2; shift 2 ;;
    --pool) pool=$2; shift 2 ;;
    --touch) touch=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREP_LOG_PREFIX=bench/compare.sh
# shellcheck source=../scripts/lib.sh
. scripts/lib.sh
# shellcheck source=lib.sh
. bench/lib.sh
PREP_PACKAGES+=(nginx time)
[ "$profile" = 1 ] && PREP_PACKAGES+=(linux-perf)
prep_deps
prep_build build -Dbuildtype=release

ng_pid='' perf_pid=''
bench_cleanup_extra() {
    [ -n "$perf_pid" ] && kill -INT "$perf_pid" 2>/dev/null && wait "$perf_pid" 2>/dev/null || true
    [ -n "$ng_pid" ] && kill -TERM "$ng_pid" 2>/dev/null && wait "$ng_pid" 2>/dev/null || true
}
bench_scratch compare

prep_log "generating the photos: 1 + $pool of 4000x3000"
photo=$scratch/same.jpg
build/fixtures/acta-gen --out "$photo" --width 4000 --height 3000 --quality 92 --noise 8 --qr \
    --seed 42 >/dev/null 2>&1
bytes=$(stat -c %s "$photo")
bench_pool "$scratch/pool" "$pool" 1000
pool_mb=$(du -sm "$scratch/pool" | cut -f1)

bench_start_gateway --insecure-open-uploads --max-uploads-per-device 0 \
    --request-rate-per-device 0 --request-rate-per-address 0 --conn-rate-per-address 0
ng=$((h2c + 2)) ng_up=$((h2c + 3))

# The reference: Debian's nginx with as many workers as the gateway has event loops (2), HTTP/2
# over TLS, each body read into its own file under bodies/ and kept there; its upstream, a second
# server of the same nginx, answers 201 without the body.
mkdir -p "$scratch/nginx/bodies"
[ "$(id -u)" -eq 0 ] && chown nobody "$scratch/nginx/bodies"
cat >"$scratch/nginx/nginx.conf" <<NGINX
worker_processes 2;
pid $scratch/nginx/nginx.pid;
error_log $scratch/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_max_body_size 32m;
    client_body_temp_path $scratch/nginx/bodies 1 2;
    client_body_in_file_only on;
    server {
        listen 127.0.0.1:$ng ssl http2;
        ssl_certificate $scratch/tls/cert.pem;
        ssl_certificate_key $scratch/tls/key.pem;
        location / {
            proxy_pass http://127.0.0.1:$ng_up;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Body-File \$request_body_file;
        }
    }
    server {
        listen 127.0.0.1:$ng_up;
        location / { return 201 "stored\n"; }
    }
}
NGINX
nginx -e "$scratch/nginx/error.log" -p "$scratch/nginx" -c "$scratch/nginx/nginx.conf" \
    -g 'daemon off;' &
ng_pid=$!
for _ in $(seq 100); do
    curl -ksS -o /dev/null --http2 "https://127.0.0.1:$ng/" 2>/dev/null && break
    sleep 0.1
done
bench_enrol $((conns * 2))

claves=$(((reqs + conns - 1) / conns))
uris() {
    local i
    for i in $(seq "$claves"); do
        printf '%s/v1/actas/14%04dB010002/photos\n' "$1" "$i"
    done
}
gw=https://127.0.0.1:$tls ngx=https://127.0.0.1:$ng
h2() { # h2load URL-BASE: "accepted rate"
    local out
    mapfile -t u < <(uris "$1")
    out=$(h2load -c "$conns" -m 1 -n "$reqs" -d "$photo" -H 'Content-Type: image/jpeg' "${u[@]}")
    printf '%s %s\n' "$(sed -n 's/.*requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")" \
        "$(sed -n 's/^finished in [0-9.]*m\{0,1\}s, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")"
}
pb() { build/bench/prep-bench --insecure --devices "$scratch/devices" --no-progress --json "$@"; }
jq_() { jq -r "$1" <<<"$2"; }
# per_upload CPU0 CPU1 WALL0: "X ms of CPU an upload, Y% of the cores" over $reqs uploads.
per_upload() {
    awk -v a="$1" -v b="$2" -v w="$3" -v e="$(date +%s.%N)" -v n="$reqs" -v c="$(nproc)" \
        'BEGIN{printf "%.1f ms of CPU an upload, %.0f%% of the cores", 1000 * (b - a) / n,
            100 * (b - a) / (e - w) / c}'
}

prep_log "round 0: the disk: the same photo written and fsync'd by 4 writers"
mkdir -p "$scratch/disk"
w0=$(date +%s.%N) writers=()
for t in 1 2 3 4; do
    for i in $(seq 25); do
        dd if="$photo" of="$scratch/disk/$t-$i" bs=1M conv=fsync status=none
    done &
    writers+=($!)
done
wait "${writers[@]}"
disk=$(awk -v w="$w0" -v e="$(date +%s.%N)" -v b="$bytes" \
    'BEGIN{printf "%.0f files/s, %.0f MB/s", 100 / (e - w), 100 * b / (e - w) / 1e6}')
rm -rf "$scratch/disk"
bench_touch "$touch"
prep_log "round 1: h2load -> gateway, same bytes"
c0=$(bench_cpu "$gw_pid") w0=$(date +%s.%N)
read -r h2_ok h2_rate < <(h2 "$gw")
cpu1=$(per_upload "$c0" "$(bench_cpu "$gw_pid")" "$w0")
bench_wait_processed >/dev/null
bench_touch "$touch"
prep_log "round 2: prep-bench -> gateway, same bytes"
same=$(pb --server "$gw" --photos "$photo" -c "$conns" -n "$reqs" --claves "$claves" \
    --entidad 15 || true)
bench_wait_processed >/dev/null
bench_touch "$touch"
prep_log "round 3: h2load -> nginx, same bytes"
c0=$(bench_cpu_tree "$ng_pid") w0=$(date +%s.%N)
read -r ng_ok ng_rate < <(h2 "$ngx")
cpu3=$(per_upload "$c0" "$(bench_cpu_tree "$ng_pid")" "$w0")
sync

bench_touch "$touch"
prep_log "round 4: prep-bench --distinct -> gateway, $distinct photos"
if [ "$profile" = 1 ]; then
    perf record -F 499 -g -p "$gw_pid" -o "$scratch/perf.data" 2>/dev/null &
    perf_pid=$!
fi
cpu_gw0=$(bench_cpu "$gw_pid") cpu_pg0=$(bench_cpu_pg "$scratch/pg") t0=$(date +%s.%N)
dist=$(/usr/bin/time -f '%U %S' -o "$scratch/pb.cpu" build/bench/prep-bench --insecure \
    --devices "$scratch/devices" --no-progress --json --server "$gw" --photos "$scratch/pool" \
    --distinct -c "$conns" -n "$distinct" --entidad 16 || true)
proc_s=$(bench_wait_processed)
cpu=$(awk -v g0="$cpu_gw0" -v g1="$(bench_cpu "$gw_pid")" -v p0="$cpu_pg0" \
    -v p1="$(bench_cpu_pg "$scratch/pg")" -v t0="$t0" -v t1="$(date +%s.%N)" \
    -v b="$(awk '{print $1 + $2}' "$scratch/pb.cpu")" -v n="$distinct" 'BEGIN{
    printf "%.1f s of wall time: gateway %.1f s (%.0f ms a photo), PostgreSQL %.1f s (%.0f ms), prep-bench %.1f s (%.0f ms)",
        t1 - t0, g1 - g0, 1000 * (g1 - g0) / n, p1 - p0, 1000 * (p1 - p0) / n, b, 1000 * b / n}')
if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" && wait "$perf_pid" 2>/dev/null || true
    perf_pid=
fi
hwm_c=$(bench_hwm)
queued=$(bench_sql "SELECT count(*) FROM photos WHERE clave_acta LIKE '16%' AND status = 'queued'")
tq=$(bench_to_queued '16%')
sync
bench_touch "$touch"
prep_log "round 5: prep-bench --distinct --reference -> nginx, $distinct photos"
ndist=$(pb --server "$ngx" --reference --photos "$scratch/pool" --distinct -c "$conns" \
    -n "$distinct" --entidad 16 || true)
bench_touch "$touch"
prep_log "round 4 again at -c $((conns * 2)): the RSS one more upload in flight costs"
pb --server "$gw" --photos "$scratch/pool" --distinct -c $((conns * 2)) -n "$distinct" \
    --entidad 17 >/dev/null || true
bench_wait_processed >/dev/null
hwm_2c=$(bench_hwm)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (b > 0) ? a / b : 0}'; }
row() { # label JSON
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(jq_ '"\(.ok)/\(.planned)"' "$2")" \
        "$(jq_ '.uploads_per_s*100|round/100' "$2")" "$(jq_ '.mb_per_s*10|round/10' "$2")" \
        "$(jq_ '.latency.p50_ms|round' "$2")" "$(jq_ '.latency.p99_ms|round' "$2")"
}
mbps() { awk -v r="$1" -v b="$bytes" 'BEGIN{printf "%.1f", r*b/1e6}'; }
tool=$(ratio "$(jq_ .uploads_per_s "$same")" "$h2_rate")
per_upload=$(((hwm_2c - hwm_c) / conns))
cat <<REPORT
bench/compare.sh -c $conns -n $reqs --distinct $distinct --pool $pool --touch $touch: over TLS, $(nproc) cores,
load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ). Same photo: $bytes
bytes; pool: $pool photos, $pool_mb MB.

| round | accepted | uploads/s | MB/s | p50 ms | p99 ms |
|---|---|---|---|---|---|
| 1 h2load -> gateway, same bytes, $claves claves, unsigned | $h2_ok/$reqs | $h2_rate | $(mbps "$h2_rate") | - | - |
$(row "2 prep-bench -> gateway, same bytes, $claves claves, signed" "$same")
| 3 h2load -> nginx, same bytes | $ng_ok/$reqs | $ng_rate | $(mbps "$ng_rate") | - | - |
$(row "4 prep-bench -> gateway, $distinct distinct photos, signed" "$dist")
$(row "5 prep-bench -> nginx, the same $distinct bodies" "$ndist")

- The disk, 4 writers each writing the photo and fsync'ing it 25 times (dd conv=fsync): $disk.
- CPU in rounds 1 and 3 (h2load's own not counted): gateway $cpu1; nginx $cpu3.
- prep-bench / h2load, same bytes and concurrency (2/1): **$tool** (acceptance: 0.90-1.10).
- gateway / nginx, h2load's identical bytes (1/3): **$(ratio "$h2_rate" "$ng_rate")**.
- gateway / nginx, distinct photos, all processed (4/5): **$(ratio "$(jq_ .uploads_per_s \
    "$dist")" "$(jq_ .uploads_per_s "$ndist")")**.
- Round 4: $queued of $distinct photos queued; processing ended $proc_s s after the last receipt;
  receipt to queued per photo, ms (p50 p99 max): $tq.
- CPU from round 4's start until its last photo was queued, on $(nproc) cores: $cpu.
- Gateway peak RSS (VmHWM): $((hwm_c / 1024)) MiB after round 4 (-c $conns), $((hwm_2c / 1024))
  MiB after -c $((conns * 2)): **$per_upload KiB per upload in flight**.
REPORT
if [ "$profile" = 1 ]; then
    echo
    echo "Gateway profile during round 4 (perf, 499 Hz, self time by shared object, then symbol):"
    perf report -i "$scratch/perf.data" --no-children --sort dso --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | head -12
    echo
    perf report -i "$scratch/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | sed 's/ *- *- *$//' | head -25
fi
awk -v r="$tool" 'BEGIN{exit !(r >= 0.9 && r <= 1.1)}' || prep_die "prep-bench is not within 10% of h2load"
