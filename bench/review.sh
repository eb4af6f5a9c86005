#!/usr/bin/env bash
# bench/review.sh: 20 API clerks drain 10,000 queued photos (see bench/review.py).
# BENCH_PHOTOS, BENCH_CLERKS, BENCH_ABANDON override the sizes; BENCH_THINK_MS (default 500) is
# how long a clerk looks at a photo before deciding (0: as fast as the API answers, saturation).
# Uses build/ (release).
set -euo pipefail
unset ASAN_OPTIONS
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREP_LOG_PREFIX=bench/review.sh; . scripts/lib.sh
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
nice ninja -C build gateway/prep-gateway bench/review-clerks >&2
scratch=$(mktemp -d ${TMPDIR:-/tmp}/bench-review.XXXXXX); chmod 755 "$scratch"; mkdir -p "$scratch/tmp"
trap 'prep_pg_stop "$scratch/pg"; rm -rf "$scratch"' EXIT
prep_pg_start --fast "$scratch/pg" "$scratch/sock" 5492
prep_tls_cert "$scratch/tls"
export PREP_FIXTURES=$PWD/fixtures PREP_SCHEMA=$PWD/schema PREP_GATEWAY=$PWD/build/gateway/prep-gateway
export PREP_ACTA_GEN=$(ls $PWD/build/fixtures/acta-gen 2>/dev/null || ls $PWD/build-asan/fixtures/acta-gen)
export PREP_PG_SOCKDIR=$(prep_pg_place "$scratch/sock" sock) PREP_PG_PORT=5492 PREP_TMP=$scratch/tmp
export PREP_TLS_CERT=$scratch/tls/cert.pem PREP_TLS_KEY=$scratch/tls/key.pem

/usr/bin/python3 -u bench/review.py
