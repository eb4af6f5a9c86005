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
  PREP_OPEN_UPLOADS  0: only uploads signed by an enrolled device       (default 0)
                     1: also unsigned uploads (plain curl), for a local demo; the gateway
                        runs with --insecure-open-uploads and logs a warning

Signed uploads only (the default): on first start the script enrols a demo device for the actas
14* (state in $PREP_VAR/demo-device, enrolled again when the database no longer knows it or it
was revoked) and prints a ready `prep-upload send` line.

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
open_uploads=${PREP_OPEN_UPLOADS:-0}
case $open_uploads in
0 | 1) ;;
*) prep_die "PREP_OPEN_UPLOADS must be 0 or 1, not '$open_uploads'" ;;
esac

# One ./run.sh per state folder: a second one would share (and at its exit stop) the cluster.
mkdir -p "$var"
owner=$(cat "$var/run.pid" 2>/dev/null || true)
if [[ $owner =~ ^[0-9]+$ ]] && [ "$owner" != $$ ] &&
    tr '\0' ' ' 2>/dev/null <"/proc/$owner/cmdline" | grep -q 'run\.sh'; then
    prep_die "another ./run.sh (pid $owner) uses $var: stop it first, or set PREP_VAR"
fi
echo $$ >"$var/run.pid"

prep_deps
prep_build build -Dbuildtype=release
prep_app_vendor build || prep_log "warning: the officials' app has no Ed25519 fallback (npm)"
[ -x "$gateway" ] || prep_die "the build did not produce $gateway"

# Something else answering on our port would take our requests (the demo enrolment among them)
# while our gateway fails to listen: say so before starting anything.
if curl -fsS --max-time 2 --http2-prior-knowledge "http://127.0.0.1:$h2c_port/healthz" \
    >/dev/null 2>&1; then
    prep_die "a server already answers on 127.0.0.1:$h2c_port: stop it, or set PREP_H2C_PORT"
fi

pg_started=0
gw_pid=

# Stops what this script started, gateway first so that it never outlives its database.
# shellcheck disable=SC2317 # called by the EXIT trap
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
    [ "$(cat "$var/run.pid" 2>/dev/null)" = $$ ] && rm -f "$var/run.pid"
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

# demo_device_usable DIR: DIR holds an enrolled device that the database knows and has not revoked.
demo_device_usable() {
    local id
    [ -f "$1/device.json" ] || return 1
    id=$(jq -r '.device_id // empty' "$1/device.json" 2>/dev/null) || return 1
    [ -n "$id" ] || return 1
    "$gateway" device list --db "$conninfo" --json |
        jq -e --arg id "$id" 'any(.devices[]; .device_id == $id and .revoked_at == null)' >/dev/null
}

# In the background so that the traps run as soon as a signal arrives (bash defers traps while a
# foreground child runs); `wait` returns early on a trapped signal.
# Secure by default: only signed uploads from enrolled devices (prep-upload). PREP_OPEN_UPLOADS=1
# adds --insecure-open-uploads, so that plain curl uploads work too; the gateway logs a warning.
open_flag=()
[ "$open_uploads" = 1 ] && open_flag=(--insecure-open-uploads)
"$gateway" serve --h2c "127.0.0.1:$h2c_port" --tls "127.0.0.1:$tls_port" \
    --cert "$var/tls/cert.pem" --key "$var/tls/key.pem" \
    --db "$conninfo" --data "$var/data" "${open_flag[@]}" &
gw_pid=$!
# The lines below are printed once the gateway answers, so that they work when pasted at once.
for _ in $(seq 100); do
    curl -fsS --http2-prior-knowledge "http://127.0.0.1:$h2c_port/healthz" >/dev/null 2>&1 && break
    kill -0 "$gw_pid" 2>/dev/null || prep_die "the gateway exited at start"
    sleep 0.1
done

if [ "$open_uploads" = 1 ]; then
    # The curl lines stay whole (no line breaks) so that they can be pasted as they are.
    cat >&2 <<EOF
run.sh: gateway running (open uploads: unsigned uploads accepted); first upload, from another terminal:
  curl --http2-prior-knowledge $upload http://127.0.0.1:$h2c_port$path
run.sh: the same over TLS:
  curl --http2 -k $upload https://127.0.0.1:$tls_port$path
run.sh: Ctrl-C stops the gateway and PostgreSQL
EOF
else
    # Signed uploads only: enrol a demo device for the demo actas (again when the database does
    # not know it, or it was revoked), then show how it sends.
    client=$PREP_ROOT/build/client/prep-upload
    demo=$var/demo-device
    if ! demo_device_usable "$demo"; then
        rm -rf "$demo"
        code=$("$gateway" device code --db "$conninfo" --label demo --actas '14*' --expires 10m \
            --json | jq -r .code)
        "$client" enrol --code "$code" --server "http://127.0.0.1:$h2c_port" --label demo \
            --state "$demo" >/dev/null
        prep_log "enrolled a demo device for the actas 14* (state in $demo)"
    fi
    rel_demo=${demo#"$PREP_ROOT"/}
    cat >&2 <<EOF
run.sh: gateway running (signed uploads only); first upload, from another terminal:
  build/client/prep-upload send --state $rel_demo --server http://127.0.0.1:$h2c_port --clave 140338B010002 $sample
run.sh: the same over TLS:
  build/client/prep-upload send --state $rel_demo --server https://127.0.0.1:$tls_port --cacert ${var#"$PREP_ROOT"/}/tls/cert.pem --clave 140338B010002 $sample
run.sh: unsigned uploads (plain curl) get 401 signature-required; PREP_OPEN_UPLOADS=1 ./run.sh accepts them
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
