# shellcheck shell=bash
# Shared helpers for run.sh and test.sh: Debian packages, meson builds, a private PostgreSQL
# cluster and a self-signed TLS certificate. Sourced, never executed; it sets no shell options of
# its own so the caller's `set -euo pipefail` stays in charge.
#
# Every helper is idempotent: running it twice does no extra work and leaves the same state.
# Progress goes to stderr prefixed with $PREP_LOG_PREFIX (the calling script's name).

PREP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREP_LOG_PREFIX=${PREP_LOG_PREFIX:-lib.sh}

# What a fresh Debian 12 lacks to build, run and test the project.
PREP_PACKAGES=(
    meson ninja-build pkg-config gcc
    libnghttp2-dev libssl-dev libpq-dev libjpeg62-turbo-dev libturbojpeg0-dev libwebp-dev
    libevent-dev libjansson-dev libexif-dev libzbar-dev libqrencode-dev
    webp libjpeg-turbo-progs nghttp2-client curl jq openssl postgresql-15 python3 procps
    libargon2-dev chromium libsystemd-dev systemd prometheus haproxy clang-format
)
# The browser test drives chromium with npm's playwright-core: Debian's nodejs and npm, unless a
# node with its own npm (NodeSource) is installed already.
command -v npm >/dev/null 2>&1 || PREP_PACKAGES+=(nodejs npm)
PREP_PLAYWRIGHT_VERSION=1.49.1
# The officials' app's Ed25519 for browsers without WebCrypto Ed25519 (docs/app.md): npm's
# @noble/ed25519 (audited, no dependencies), pinned by version and by the SHA-256 of its one file.
PREP_NOBLE_ED25519_VERSION=2.1.0
PREP_NOBLE_ED25519_SHA256=39fb70069dd6668828313d76f40229c1d771609cff786192e2868b68ca7b492f

prep_log() { printf '%s: %s\n' "$PREP_LOG_PREFIX" "$*" >&2; }
prep_die() {
    prep_log "error: $*"
    return 1
}

# Runs a command as root: directly when we are root, through sudo otherwise.
prep_as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# prep_deps: installs the packages of PREP_PACKAGES that are not installed yet. apt-get runs only
# when something is missing, so a provisioned machine (or a second run) touches no registry.
prep_deps() {
    local p missing=()
    for p in "${PREP_PACKAGES[@]}"; do
        case $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) in
        ii*) ;;
        *) missing+=("$p") ;;
        esac
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    prep_log "installing missing packages: ${missing[*]}"
    prep_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    prep_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# prep_build DIR [-Dname=value...]: configures DIR (meson setup the first time; again with
# --reconfigure when the options differ from the ones it was last given, kept in
# DIR/.prep-options) and builds it. Both steps run under `nice` because the build machines are
# shared.
prep_build() {
    local dir=$1 stamp
    shift
    case $dir in /*) ;; *) dir=$PREP_ROOT/$dir ;; esac
    stamp=$dir/.prep-options
    if [ ! -f "$dir/build.ninja" ]; then
        # A setup that failed half-way leaves meson-private/ behind and makes the next plain
        # `meson setup` refuse the directory: start that one over.
        if [ -d "$dir/meson-private" ]; then
            prep_log "$dir holds a failed configuration: wiping it"
            rm -rf "$dir"
        fi
        prep_log "meson setup $dir $*"
        nice -n 10 meson setup "$dir" "$PREP_ROOT" "$@" >&2 || return 1
        printf '%s\n' "$*" >"$stamp"
    elif [ "$(cat "$stamp" 2>/dev/null)" != "$*" ]; then
        prep_log "meson setup --reconfigure $dir $*"
        nice -n 10 meson setup --reconfigure "$dir" "$PREP_ROOT" "$@" >&2 || return 1
        printf '%s\n' "$*" >"$stamp"
    fi
    prep_log "building $dir"
    nice -n 10 ninja -C "$dir" >&2
}

# prep_playwright DIR: npm's playwright-core, pinned to PREP_PLAYWRIGHT_VERSION, in DIR (inside a
# build folder); npm runs only when it is missing or another version. No browser is downloaded:
# the tests use Debian's /usr/bin/chromium.
prep_playwright() {
    local dir=$1 have=
    have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' \
        "$dir/node_modules/playwright-core/package.json" 2>/dev/null || true)
    [ "$have" = "$PREP_PLAYWRIGHT_VERSION" ] && return 0
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"name":"prep-e2e","private":true}' >"$dir/package.json"
    prep_log "npm install playwright-core@$PREP_PLAYWRIGHT_VERSION in $dir"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 nice npm install --no-audit --no-fund \
        --silent "playwright-core@$PREP_PLAYWRIGHT_VERSION") >&2
}

# prep_app_vendor BUILD_DIR: bundles @noble/ed25519 into web/app/vendor/ (not in git), installed
# with npm in BUILD_DIR/app-vendor; npm runs only when the bundled file is missing or differs
# from the pinned hash, and a download with another hash is refused.
prep_app_vendor() {
    local dir=$1/app-vendor out=$PREP_ROOT/web/app/vendor/noble-ed25519.js src
    [ -f "$out" ] && [ "$(sha256sum "$out" | cut -d' ' -f1)" = "$PREP_NOBLE_ED25519_SHA256" ] &&
        return 0
    src=$dir/node_modules/@noble/ed25519/index.js
    if ! [ -f "$src" ] ||
        [ "$(sha256sum "$src" | cut -d' ' -f1)" != "$PREP_NOBLE_ED25519_SHA256" ]; then
        mkdir -p "$dir"
        [ -f "$dir/package.json" ] || echo '{"name":"prep-app-vendor","private":true}' >"$dir/package.json"
        prep_log "npm install @noble/ed25519@$PREP_NOBLE_ED25519_VERSION in $dir"
        (cd "$dir" && nice npm install --no-audit --no-fund --silent \
            "@noble/ed25519@$PREP_NOBLE_ED25519_VERSION") >&2 || return 1
    fi
    [ "$(sha256sum "$src" | cut -d' ' -f1)" = "$PREP_NOBLE_ED25519_SHA256" ] ||
        prep_die "@noble/ed25519 $PREP_NOBLE_ED25519_VERSION: unexpected SHA-256 of index.js" ||
        return 1
    mkdir -p "$(dirname "$out")"
    cp "$src" "$out.tmp" && mv "$out.tmp" "$out"
}

# --- PostgreSQL --------------------------------------------------------------------------------

prep_pg_bindir() {
    local d
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        printf '%s\n' "$d"
    elif [ -x /usr/lib/postgresql/15/bin/initdb ]; then
        printf '%s\n' /usr/lib/postgresql/15/bin
    else
        prep_die "no PostgreSQL server binaries (initdb) found; is postgresql-15 installed?"
    fi
}

# initdb and postgres refuse to run as root. As root we run them as `postgres` (created by the
# postgresql-15 package) or, failing that, a system user `prep-pg` made for the purpose.
prep_pg_user() {
    if [ "$(id -u)" -ne 0 ]; then
        id -un
    elif id -u postgres >/dev/null 2>&1; then
        echo postgres
    else
        id -u prep-pg >/dev/null 2>&1 ||
            useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin prep-pg
        echo prep-pg
    fi
}

# Runs a server-side command as the cluster's owner, from `/` so that an unreadable working
# directory (a repo under /root) does not bother it.
prep_pg_run() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u "$(prep_pg_user)" -- "$@")
    else
        (cd / && "$@")
    fi
}

prep_abspath() {
    case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$PWD/$1" ;;
    esac
}

# prep_pg_place PATH [sock]: prints where the cluster really keeps PATH (a data directory, or
# with `sock` a socket directory). Normally PATH itself. As root the server runs as another user,
# who must be able to reach PATH's parent: a repository under /root (mode 700) is out of its
# reach. Such paths, and socket directories too long for a unix socket name (107 bytes), move to
# /var/tmp/prep-pg-<hash of the repository path>/<PATH relative to the repository, / as _>.
# Deterministic, so prep_pg_stop and prep_conninfo find the same place later.
prep_pg_place() {
    local path parent rel hash max=4000
    path=$(prep_abspath "$1")
    path=${path%/}
    parent=$(dirname "$path")
    # "<dir>/.s.PGSQL.<port>" must fit in sun_path (108 bytes with its NUL).
    [ "${2-}" = sock ] && max=88
    if [ ${#path} -le $max ]; then
        [ "$(id -u)" -ne 0 ] && {
            printf '%s\n' "$path"
            return 0
        }
        # Create the parent first so the check is about permissions, not existence.
        mkdir -p "$parent"
        if runuser -u "$(prep_pg_user)" -- test -x "$parent"; then
            printf '%s\n' "$path"
            return 0
        fi
    fi
    hash=$(printf '%s' "$PREP_ROOT" | sha256sum | cut -c1-12)
    case $path in
    "$PREP_ROOT"/*) rel=${path#"$PREP_ROOT"/} ;;
    *) rel=$(printf '%s' "$path" | sha256sum | cut -c1-12) ;;
    esac
    printf '/var/tmp/prep-pg-%s/%s\n' "$hash" "${rel//\//_}"
}

prep_pg_mkdir() {
    local dir=$1 user
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        user=$(prep_pg_user)
        chown "$user:" "$dir"
        # The fallback's parent is shared by all our clusters: reachable, not listable by others.
        case $dir in /var/tmp/prep-pg-*) chmod 711 "$(dirname "$dir")" ;; esac
    fi
    chmod 700 "$dir"
}

# prep_pid_is PID COMM: true when PID is a live (not zombie) process named COMM.
prep_pid_is() {
    local stat
    [[ ${1-} =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
    # Field 3, after the parenthesised name, is the state.
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# Prints the PID of the postmaster running on DATADIR, or nothing. A postmaster.pid whose PID is
# gone or belongs to another program (reused after a reboot) is stale: it is removed, so that
# postgres does not refuse to start with "lock file already exists".
prep_pg_running_pid() {
    local data=$1 pid
    [ -f "$data/postmaster.pid" ] || return 0
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    if prep_pid_is "$pid" postgres; then
        printf '%s\n' "$pid"
    else
        prep_log "removing stale $data/postmaster.pid (pid ${pid:-?} is not a postmaster)"
        rm -f "$data/postmaster.pid"
    fi
}

# prep_pg_start [--fast] DATADIR SOCKDIR PORT: starts (creating it if needed) a private cluster
# owned by superuser `prep` with trust authentication, reachable only through a unix socket in
# SOCKDIR (listen_addresses is empty, so PORT only names the socket and clashes with nothing).
# --fast is for throwaway test clusters: initdb --no-sync and fsync=off. A postmaster already
# serving DATADIR on SOCKDIR/PORT is reused; one with other settings, or not answering, is
# restarted.
prep_pg_start() {
    local fast=0
    if [ "${1-}" = --fast ]; then
        fast=1
        shift
    fi
    [ $# -eq 3 ] || {
        prep_die "usage: prep_pg_start [--fast] DATADIR SOCKDIR PORT"
        return 1
    }
    local data sock port=$3 bindir pid log opts
    data=$(prep_pg_place "$1") || return 1
    sock=$(prep_pg_place "$2" sock) || return 1
    bindir=$(prep_pg_bindir) || return 1
    [ "$data" = "$(prep_abspath "$1")" ] ||
        prep_log "the server user cannot reach $1: cluster kept in $data"
    [ "$sock" = "$(prep_abspath "$2")" ] ||
        prep_log "socket directory $2 unusable (unreachable or too long): using $sock"
    prep_pg_mkdir "$sock"
    log=$data.log

    if [ ! -f "$data/PG_VERSION" ]; then
        if [ -d "$data" ] && [ -n "$(ls -A "$data")" ]; then
            prep_die "$data is not empty and holds no cluster (no PG_VERSION): refusing to initdb"
            return 1
        fi
        prep_pg_mkdir "$data"
        prep_log "initdb $data"
        local initdb_opts=(-D "$data" -U prep -A trust -E UTF8 --locale=C)
        [ $fast -eq 1 ] && initdb_opts+=(--no-sync)
        prep_pg_run "$bindir/initdb" "${initdb_opts[@]}" >"$data.initdb.log" 2>&1 || {
            cat "$data.initdb.log" >&2
            prep_die "initdb failed (log: $data.initdb.log)"
            return 1
        }
    fi
    # The server may have been created by another user (or before a fallback): keep it ours.
    [ "$(id -u)" -eq 0 ] && chown -R "$(prep_pg_user):" "$data"

    pid=$(prep_pg_running_pid "$data")
    if [ -n "$pid" ]; then
        # postmaster.pid line 4 is the port, line 5 the socket directory.
        if [ "$(sed -n 4p "$data/postmaster.pid")" = "$port" ] &&
            [ "$(sed -n 5p "$data/postmaster.pid")" = "$sock" ] &&
            "$bindir/pg_isready" -q -h "$sock" -p "$port" -t 5; then
            prep_log "reusing the cluster already running on $data (pid $pid)"
            return 0
        fi
        prep_log "cluster on $data runs with other settings or does not answer: restarting it"
        prep_pg_stop "$1" || return 1
    fi

    # Quoted for the shell that pg_ctl starts postgres with.
    opts="-c listen_addresses='' -c unix_socket_directories='$sock' -p $port"
    opts+=" -c unix_socket_permissions=0777"
    [ $fast -eq 1 ] && opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    touch "$log"
    [ "$(id -u)" -eq 0 ] && chown "$(prep_pg_user):" "$log"
    prep_log "starting PostgreSQL on $sock port $port (log: $log)"
    prep_pg_run "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "$opts" start >/dev/null || {
        tail -n 20 "$log" >&2
        prep_die "PostgreSQL did not start (log: $log)"
        return 1
    }
}

# prep_pg_stop DATADIR: fast shutdown (clients disconnected, no crash recovery needed next time);
# nothing to do when no postmaster runs there.
prep_pg_stop() {
    local data bindir
    data=$(prep_pg_place "$1") || return 1
    [ -f "$data/PG_VERSION" ] || return 0
    [ -n "$(prep_pg_running_pid "$data")" ] || return 0
    bindir=$(prep_pg_bindir) || return 1
    prep_log "stopping PostgreSQL on $data"
    prep_pg_run "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null && return 0
    # A postmaster that died between the check and the stop leaves only its pid file behind.
    [ -z "$(prep_pg_running_pid "$data")" ] && return 0
    prep_die "PostgreSQL on $data did not stop"
}

# prep_conninfo SOCKDIR PORT DBNAME: the libpq conninfo for the cluster's `prep` superuser.
prep_conninfo() {
    local sock
    sock=$(prep_pg_place "$1" sock) || return 1
    printf 'host=%s port=%s user=prep dbname=%s\n' "$sock" "$2" "$3"
}

# prep_createdb SOCKDIR PORT DBNAME: creates DBNAME unless it exists.
prep_createdb() {
    local sock bindir
    sock=$(prep_pg_place "$1" sock) || return 1
    bindir=$(prep_pg_bindir) || return 1
    if [ "$("$bindir/psql" -h "$sock" -p "$2" -U prep -d postgres -XAtq \
        -c "SELECT 1 FROM pg_database WHERE datname = '$3'")" != 1 ]; then
        prep_log "creating database $3"
        "$bindir/createdb" -h "$sock" -p "$2" -U prep "$3"
    fi
}

# --- TLS ---------------------------------------------------------------------------------------

# prep_tls_cert DIR: DIR/cert.pem and DIR/key.pem, a self-signed EC P-256 certificate for
# localhost and 127.0.0.1, made only when one of them is missing. The key is mode 0600.
prep_tls_cert() {
    local dir=$1
    if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ]; then
        chmod 600 "$dir/key.pem"
        return 0
    fi
    mkdir -p "$dir"
    prep_log "creating a self-signed certificate in $dir"
    (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
            -days 825 -subj /CN=localhost \
            -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
            -keyout "$dir/key.pem.tmp" -out "$dir/cert.pem.tmp" 2>/dev/null
    ) || {
        prep_die "openssl could not create the certificate"
        return 1
    }
    chmod 644 "$dir/cert.pem.tmp"
    chmod 600 "$dir/key.pem.tmp"
    mv -f "$dir/key.pem.tmp" "$dir/key.pem"
    mv -f "$dir/cert.pem.tmp" "$dir/cert.pem"
}
