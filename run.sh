#!/usr/bin/env bash
# run.sh: the gateway on this machine, from a fresh clone to serving uploads, in one command.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./run.sh [--help]

Installs what is missing (Debian packages), builds the release gateway (build/), starts a private
PostgreSQL cluster under $PREP_VAR/pg, creates and migrates the database `prep`, makes a
self-signed certificate under $PREP_VAR/tls and runs `prep-gateway serve` in the foreground with
its data under $PREP_VAR/data. Ctrl-C (or SIGTERM) stops the gateway, then the cluster.
Running it again reuses the cluster, the database, the certificate and the received photos.

Environment:
  PREP_H2C_PORT   cleartext HTTP/2 (prior knowledge) port on 127.0.0.1   (default 8080)
  PREP_TLS_PORT   HTTP/2 over TLS port on 127.0.0.1                       (default 8443)
  PREP_PG_PORT    port naming the cluster's unix socket (no TCP listener)  (default 5432)
  PREP_VAR        state directory                                         (default var)
  PREP_OPEN_UPLOADS  1: accept unsigned uploads (curl) for this demo     (default 1)
                     0: only signed uploads from enrolled devices

As root, PostgreSQL runs as the `postgres` user; when that user cannot reach $PREP_VAR (a clone
under /root, say) the cluster lives in /var/tmp/prep-pg-<hash>/ instead, and this script says so.
EOF
}

case ${1-} in
-h | --help)
    usage
    exit 0
    ;;
"") ;;
*)
    usage >&2
    exit 2
    ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")"
PREP_LOG_PREFIX=run.sh
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

h2c_port=${PREP_H2C_PORT:-8080}
tls_port=${PREP_TLS_PORT:-8443}
pg_port=${PREP_PG_PORT:-5432}
var=$(prep_abspath "${PREP_VAR:-var}")
gateway=$PREP_ROOT/build/gateway/prep-gateway

prep_deps
prep_build build --buildtype=release
[ -x "$gateway" ] || prep_die "the build did not produce $gateway"

mkdir -p "$var"
pg_started=0
gw_pid=

# Stops what this script started, gateway first so that it never outlives its database.
cleanup() {
    local rc=$? _
    trap - INT TERM EXIT
    if [ -n "$gw_pid" ] && kill -0 "$gw_pid" 2>/dev/null; then
        prep_log "stopping the gateway (pid $gw_pid)"
        kill -TERM "$gw_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$gw_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$gw_pid" 2>/dev/null; then
            prep_log "the gateway ignored SIGTERM for 10 s: killing it"
            kill -KILL "$gw_pid" 2>/dev/null || true
        fi
        wait "$gw_pid" 2>/dev/null || true
    fi
    if [ "$pg_started" -eq 1 ]; then prep_pg_stop "$var/pg" || true; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

prep_pg_start "$var/pg" "$var/pg-sock" "$pg_port"
pg_started=1
prep_createdb "$var/pg-sock" "$pg_port" prep
conninfo=$(prep_conninfo "$var/pg-sock" "$pg_port" prep)
# The admin commands (prep-gateway device|ledger|audit ...) read it from here by default.
printf '%s\n' "$conninfo" >"$var/conninfo"
prep_log "migrating: $conninfo"
"$gateway" migrate --db "$conninfo" --schema "$PREP_ROOT/schema"
prep_tls_cert "$var/tls"
mkdir -p "$var/data"

sample=fixtures/small/ok_o1.jpg
[ -f "$sample" ] || sample=$(find fixtures -name '*.jpg' -print -quit 2>/dev/null || true)
[ -n "$sample" ] || sample=PHOTO.jpg
upload="-sS -X POST --data-binary @$sample -H 'Content-Type: image/jpeg'"
path=/v1/actas/140338B010002/photos
open_uploads=${PREP_OPEN_UPLOADS:-1}

# In the background so that the traps run as soon as a signal arrives (bash defers traps while a
# foreground child runs); `wait` returns early on a trapped signal.
# Unsigned uploads (curl) are accepted only with --insecure-open-uploads, which
# PREP_OPEN_UPLOADS=1 (for now the default of this demo script) turns on; the gateway logs a
# warning. PREP_OPEN_UPLOADS=0 requires signed uploads from enrolled devices (prep-upload).
open_flag=()
[ "$open_uploads" = 1 ] && open_flag=(--insecure-open-uploads)
"$gateway" serve --h2c "127.0.0.1:$h2c_port" --tls "127.0.0.1:$tls_port" \
    --cert "$var/tls/cert.pem" --key "$var/tls/key.pem" \
    --db "$conninfo" --data "$var/data" "${open_flag[@]}" &
gw_pid=$!

if [ "$open_uploads" = 1 ]; then
    # The curl lines stay whole (no line breaks) so that they can be pasted as they are.
    cat >&2 <<EOF
run.sh: gateway starting (open uploads: unsigned uploads accepted); first upload, from another terminal:
  curl --http2-prior-knowledge $upload http://127.0.0.1:$h2c_port$path
run.sh: the same over TLS:
  curl --http2 -k $upload https://127.0.0.1:$tls_port$path
run.sh: Ctrl-C stops the gateway and PostgreSQL
EOF
else
    # Signed uploads only: enrol a demo device for the demo actas once, then show how it sends.
    client=$PREP_ROOT/build/client/prep-upload
    demo=$var/demo-device
    for _ in $(seq 100); do
        curl -fsS --http2-prior-knowledge "http://127.0.0.1:$h2c_port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    if [ ! -f "$demo/device.json" ]; then
        code=$("$gateway" device code --db "$conninfo" --label demo --actas '14*' --expires 1h \
            --json | sed -n 's/.*"code": *"\([^"]*\)".*/\1/p')
        "$client" enrol --code "$code" --server "http://127.0.0.1:$h2c_port" --label demo \
            --state "$demo" >/dev/null
        prep_log "enrolled a demo device for the actas 14* (state in $demo)"
    fi
    cat >&2 <<EOF
run.sh: gateway running (signed uploads only); first upload, from another terminal:
  build/client/prep-upload send --state $demo --server http://127.0.0.1:$h2c_port --clave 140338B010002 $sample
run.sh: Ctrl-C stops the gateway and PostgreSQL
EOF
fi
set +e
wait "$gw_pid"
rc=$?
set -e
gw_pid=
prep_log "the gateway exited with status $rc"
exit "$rc"
