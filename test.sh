#!/usr/bin/env bash
# test.sh: every test of the project, as CI runs it; the last line is "N passed, N failed".
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./test.sh [-k PATTERN]... [--help]

Installs what is missing, builds build/ (release) and build-asan/ (ASan+UBSan, with the test
hooks of meson_options.txt: fault injection, never in build/), then runs
  1. the unit tests: meson test -C build-asan (all suites), and
  2. the integration suites gateway/tests/integration/test_*.py against the ASan gateway, with a
     throwaway PostgreSQL cluster of its own (fsync off) in a temporary directory, so it can run
     next to ./run.sh.
Each unit test and each integration test method counts once; a skipped test counts as failed.
The last line is "N passed, N failed"; the exit status is non-zero on any failure.

  -k PATTERN   run only the integration tests whose module.Class.method contains PATTERN (or
               matches it as a glob); the unit tests are not run then. May be repeated.

Environment:
  PREP_TEST_PG_PORT  port naming the test cluster's socket (default 5433; no TCP listener)
  PREP_KEEP_TMP=1    keep the scratch directory (gateway logs, databases) for a post-mortem
  PREP_ALLOW_SKIP    space-separated unit test names whose skip (exit 77) is expected
EOF
}

patterns=()
while [ $# -gt 0 ]; do
    case $1 in
    -k)
        [ $# -ge 2 ] || {
            usage >&2
            exit 2
        }
        patterns+=("$2")
        shift 2
        ;;
    -k?*)
        patterns+=("${1#-k}")
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")"
PREP_LOG_PREFIX=test.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
PY=/usr/bin/python3

passed=0
failed=0
finished=0
scratch=
pg_started=0

# Runs on every exit: stops what we started, then prints the one line CI reads.
on_exit() {
    local rc=$? pid
    trap - EXIT INT TERM
    if [ -n "$scratch" ] && [ -f "$scratch/tmp/gateway.pids" ]; then
        while read -r pid; do
            if prep_pid_is "$pid" prep-gateway; then
                prep_log "stopping leftover gateway $pid"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$scratch/tmp/gateway.pids"
    fi
    [ $pg_started -eq 1 ] && { prep_pg_stop "$scratch/pg" || true; }
    if [ -n "$scratch" ]; then
        if [ "${PREP_KEEP_TMP:-0}" = 1 ]; then
            prep_log "scratch directory kept: $scratch"
        else
            rm -rf "$scratch"
        fi
    fi
    if [ $finished -eq 0 ]; then
        prep_log "aborted (status $rc) before all tests ran: counted as one failure"
        failed=$((failed + 1))
    fi
    printf '%d passed, %d failed\n' "$passed" "$failed"
    [ $failed -eq 0 ] && [ $passed -gt 0 ] && exit 0
    exit 1
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

prep_deps
if ! prep_build build -Dbuildtype=release; then
    prep_log "FAIL release build"
    failed=$((failed + 1))
fi
if ! prep_build build-asan -Db_sanitize=address,undefined -Dbuildtype=debug -Dtest_hooks=true; then
    prep_log "FAIL sanitizer build"
    failed=$((failed + 1))
fi
if ! prep_app_vendor build; then
    prep_log "FAIL bundling the app's Ed25519 fallback"
    failed=$((failed + 1))
fi
if [ $failed -gt 0 ]; then
    finished=1
    exit 1
fi

export PREP_FIXTURES=$PREP_ROOT/fixtures
export PREP_SCHEMA=$PREP_ROOT/schema

# --- 1. unit tests -------------------------------------------------------------------------------

# Counts build-asan/meson-logs/testlog.json (one JSON object per test): OK and EXPECTEDFAIL pass,
# everything else (FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, SKIP unless in PREP_ALLOW_SKIP) fails.
count_unit_results() {
    "$PY" - "$1" <<'EOF'
import json, os, sys
allowed = set(os.environ.get("PREP_ALLOW_SKIP", "").split())
ok = bad = 0
with open(sys.argv[1]) as f:
    for line in f:
        if not line.strip():
            continue
        t = json.loads(line)
        name, result = t.get("name", "?"), t.get("result", "?")
        if result in ("OK", "EXPECTEDFAIL") or (result == "SKIP" and name in allowed):
            ok += 1
        else:
            bad += 1
            why = " (skips count as failures)" if result == "SKIP" else ""
            print(f"test.sh: unit test {name}: {result}{why}", file=sys.stderr)
print(ok, bad)
EOF
}

if [ ${#patterns[@]} -eq 0 ]; then
    testlog=build-asan/meson-logs/testlog.json
    rm -f "$testlog"
    prep_log "unit tests: meson test -C build-asan"
    set +e
    nice -n 10 meson test -C build-asan --print-errorlogs --timeout-multiplier 3
    meson_rc=$?
    set -e
    if [ -f "$testlog" ]; then
        read -r ok bad < <(count_unit_results "$testlog")
    else
        ok=0 bad=0
    fi
    if [ "$meson_rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        prep_log "meson test exited with $meson_rc without a failing test: counted as one failure"
        bad=1
    fi
    [ $((ok + bad)) -eq 0 ] && prep_log "warning: meson defines no unit tests"
    prep_log "unit tests: $ok passed, $bad failed"
    passed=$((passed + ok))
    failed=$((failed + bad))
else
    prep_log "-k given: unit tests not run"
fi

# --- 2. integration tests ------------------------------------------------------------------------

scratch=$(mktemp -d "${TMPDIR:-/tmp}/prep-test.XXXXXX")
# The cluster runs as another user when we are root: it must reach its directories.
chmod 755 "$scratch"
mkdir -p "$scratch/tmp"
pg_port=${PREP_TEST_PG_PORT:-5433}
prep_pg_start --fast "$scratch/pg" "$scratch/sock" "$pg_port"
pg_started=1
prep_tls_cert "$scratch/tls"

acta_gen=${PREP_ACTA_GEN:-}
if [ -z "$acta_gen" ]; then
    for c in build/fixtures/acta-gen build/fixtures/gen/acta-gen build/fixtures/acta_gen \
        build-asan/fixtures/acta-gen build-asan/fixtures/gen/acta-gen; do
        [ -x "$c" ] && {
            acta_gen=$PREP_ROOT/$c
            break
        }
    done
fi
[ -n "$acta_gen" ] || prep_log "warning: no acta-gen binary found; tests that need it will fail"

export PREP_GATEWAY=$PREP_ROOT/build-asan/gateway/prep-gateway
export PREP_UPLOAD=$PREP_ROOT/build-asan/client/prep-upload
export PREP_SIGN_REQUEST=$PREP_ROOT/build-asan/gateway/tests/sign-request
export PREP_ACTA_GEN=$acta_gen
export PREP_PG_SOCKDIR
PREP_PG_SOCKDIR=$(prep_pg_place "$scratch/sock" sock)
export PREP_PG_PORT=$pg_port
export PREP_TMP=$scratch/tmp
export PREP_TLS_CERT=$scratch/tls/cert.pem
export PREP_TLS_KEY=$scratch/tls/key.pem
# The browser test (test_review_browser.py) fails, never skips, without it.
export PREP_PLAYWRIGHT_DIR=$PREP_ROOT/build/e2e
prep_playwright "$PREP_PLAYWRIGHT_DIR" || prep_log "warning: could not install playwright-core"

kargs=()
for p in "${patterns[@]}"; do kargs+=(-k "$p"); done
prep_log "integration tests against $PREP_GATEWAY"
set +e
"$PY" -u gateway/tests/integration/harness.py "${kargs[@]}" | tee -i "$scratch/integration.log"
py_rc=${PIPESTATUS[0]}
set -e
summary=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed$' "$scratch/integration.log" |
    tail -n 1 || true)
if [ -n "$summary" ]; then
    read -r ok bad <<<"$(sed -E 's/^integration: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/' \
        <<<"$summary")"
else
    prep_log "the integration runner printed no summary (exit $py_rc): counted as one failure"
    ok=0 bad=1
fi
if [ "$py_rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
    bad=1
fi
passed=$((passed + ok))
failed=$((failed + bad))
finished=1
