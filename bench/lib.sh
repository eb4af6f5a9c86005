# shellcheck shell=bash
# Helpers shared by the bench/ scripts (compare.sh, peak.sh, intake.sh, abuse.sh), sourced after
# scripts/lib.sh. They use the caller's $scratch (a throwaway folder), $pg_port and $gw_pid, which
# bench_scratch sets up.

# bench_scratch NAME: a throwaway folder $scratch (/tmp/prep-bench-NAME.XXXXXX), a port for its
# PostgreSQL in $pg_port, and an EXIT trap that stops the gateway ($gw_pid) and PostgreSQL and
# removes the folder. A script with more to stop defines bench_cleanup_extra, run first.
bench_scratch() {
    scratch=$(mktemp -d "/tmp/prep-bench-$1.XXXXXX")
    chmod 755 "$scratch"
    pg_port=$((5500 + RANDOM % 400))
    gw_pid=''
    trap bench_cleanup EXIT
}

bench_cleanup() {
    if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra; fi
    if [ -n "$gw_pid" ] && kill -TERM "$gw_pid" 2>/dev/null; then
        wait "$gw_pid" 2>/dev/null || true
    fi
    prep_pg_stop "$scratch/pg" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}

# bench_sql SQL: one query against the throwaway database "bench", unaligned.
bench_sql() { psql -X -q -t -A -h "$scratch/run" -p "$pg_port" -U prep -d bench -c "$1"; }

# bench_pool DIR N SEED [--varied|--light]: N 4000x3000 acta-gen photos with their QR code, two
# at a time. --varied spreads quality (88-96) and noise (6-12): 3-6 MB, as phones send; --light
# quality 86-90 and noise 4-6: 1.5-3 MB, as phones that compress harder send.
bench_pool() {
    local dir=$1 n=$2 seed=$3 q=92 noise=8 i pids=()
    mkdir -p "$dir"
    for i in $(seq "$n"); do
        case ${4-} in
        --varied) q=$((88 + (i * 5) % 9)) noise=$((6 + (i * 7) % 7)) ;;
        --light) q=$((86 + (i * 3) % 5)) noise=$((4 + (i * 2) % 3)) ;;
        esac
        build/fixtures/acta-gen --out "$dir/acta-$(printf %04d "$i").jpg" --width 4000 \
            --height 3000 --quality "$q" --noise "$noise" --qr --seed $((seed + i)) \
            >/dev/null 2>&1 &
        pids+=($!)
        if [ ${#pids[@]} = 2 ]; then
            wait "${pids[@]}"
            pids=()
        fi
    done
    [ ${#pids[@]} = 0 ] || wait "${pids[@]}"
}

# bench_wait_processed: prints the seconds until no photo waits for processing, from now.
bench_wait_processed() {
    local start
    start=$(date +%s.%N)
    for _ in $(seq 36000); do
        [ "$(bench_sql "SELECT count(*) FROM photos WHERE status IN ('received','processing')")" = 0 ] &&
            break
        sleep 0.1
    done
    awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}'
}

# bench_to_queued LIKE: receipt to `queued` of the photos whose clave is LIKE the pattern, ms:
# "p50 p99 max".
bench_to_queued() {
    bench_sql "SELECT array_to_string(array(SELECT round(1000 * v) FROM unnest(percentile_cont(
        ARRAY[0.5, 0.99, 1.0]) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at -
        received_at))) v), ' ') FROM photos WHERE clave_acta LIKE '$1' AND status = 'queued'"
}

# bench_hwm: the gateway's peak RSS (VmHWM), KiB.
bench_hwm() { awk '/VmHWM/{print $2}' "/proc/$gw_pid/status"; }

# bench_cpu PID: user + system CPU seconds of PID and its reaped children.
bench_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15 + $16 + $17) / hz}' "/proc/$1/stat"
}

# bench_cpu_by_nice PID: "user sys user sys", CPU seconds of PID's live threads at nice 0, then
# of those at nice > 0 (the gateway's intake, then its processing threads).
bench_cpu_by_nice() {
    sed 's/^.*) //' /proc/"$1"/task/*/stat 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '
        { if ($17 > 0) { u1 += $12; s1 += $13 } else { u0 += $12; s0 += $13 } }
        END { printf "%.2f %.2f %.2f %.2f\n", u0 / hz, s0 / hz, u1 / hz, s1 / hz }'
}

# bench_touch GIB: write GIB GiB of fresh memory and free it, so that what runs next writes into
# recently used pages (on this VM the first write to a page the host took back costs about 2 ms
# a MB: docs/capacity.md, "Later bursts"). Nothing when GIB is empty or 0; at most half the
# memory available, so that a small machine does not swap or kill for it.
bench_touch() {
    local g=${1:-0} avail
    [ "$g" -gt 0 ] || return 0
    avail=$(awk '/^MemAvailable:/ {print int($2 / 1048576)}' /proc/meminfo)
    if [ $((g * 2)) -gt "$avail" ]; then
        g=$((avail / 2))
        prep_log "--touch $1: $avail GiB of memory available, touching $g GiB"
    fi
    [ "$g" -gt 0 ] || return 0
    python3 -c "b = b'\\x01' * ($g << 30)"
}

# bench_cpu_tree PID: CPU seconds of PID, its exited children and its live ones (a server's
# master and its workers).
bench_cpu_tree() {
    local sum c
    sum=$(bench_cpu "$1")
    for c in $(pgrep -P "$1"); do
        sum=$(awk -v a="$sum" -v b="$(bench_cpu "$c" 2>/dev/null || echo 0)" 'BEGIN{print a + b}')
    done
    echo "$sum"
}

# bench_cpu_pg DATADIR: CPU seconds of a PostgreSQL cluster: the postmaster, its exited
# backends and the live ones.
bench_cpu_pg() { bench_cpu_tree "$(head -1 "$1/postmaster.pid")"; }

# bench_start_gateway [SERVE-OPTION...]: a throwaway PostgreSQL cluster under $scratch on
# $pg_port (database "bench", migrated), a self-signed certificate, and a release gateway on
# random ports with these extra options. Sets db, h2c, tls (the ports) and gw_pid; returns once
# /healthz answers. $bench_gateway, when set, is the gateway binary (default: build/'s).
bench_start_gateway() {
    local gw=${bench_gateway:-build/gateway/prep-gateway}
    prep_pg_start "$scratch/pg" "$scratch/run" "$pg_port"
    prep_createdb "$scratch/run" "$pg_port" bench
    db=$(prep_conninfo "$scratch/run" "$pg_port" bench)
    "$gw" migrate --db "$db" --schema schema >/dev/null
    prep_tls_cert "$scratch/tls"
    h2c=$((20000 + RANDOM % 20000)) tls=$((h2c + 1))
    "$gw" serve --h2c "127.0.0.1:$h2c" --tls "127.0.0.1:$tls" \
        --cert "$scratch/tls/cert.pem" --key "$scratch/tls/key.pem" --db "$db" \
        --data "$scratch/data" "$@" 2>"$scratch/gateway.log" &
    gw_pid=$!
    for _ in $(seq 100); do
        curl -fsS --http2-prior-knowledge "http://127.0.0.1:$h2c/healthz" >/dev/null 2>&1 &&
            return 0
        sleep 0.1
    done
    prep_die "the gateway did not start: see $scratch/gateway.log"
}

# bench_enrol N: N phones enrolled through the gateway's real enrolment, in $scratch/devices.
bench_enrol() {
    bench/enrol-devices.sh --db "$db" --server "http://127.0.0.1:$h2c" --dir "$scratch/devices" \
        -n "$1" --actas '1*' >/dev/null
    sleep 0.5 # the device records reach the gateway's copy
}
