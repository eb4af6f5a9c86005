#!/usr/bin/env bash
# bench/make-pool.sh: a pool of photos for prep-bench --photos: N generated 4000x3000 acta JPEGs
# with their QR code (acta-gen, two at a time), the pool the bench scripts make for themselves.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: bench/make-pool.sh DIR [-n N=24] [--seed S=1000] [--varied | --light]

Writes DIR/acta-0001.jpg ... (4000x3000, quality 92, noise 8: about 4 MB each), building
acta-gen first when build/ lacks it.
  --varied  quality 88-96 and noise 6-12, spread over the pool, as phones send (bench/peak.sh's
            pool)
  --light   quality 86-90 and noise 4-6, as phones that compress harder send
  --seed S  the first photo's seed (photo i has S + i): the same options give the same bytes
USAGE
}

dir='' n=24 seed=1000 kind=''
while [ $# -gt 0 ]; do
    case $1 in
    -n) n=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --varied | --light) kind=$1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) [ -z "$dir" ] || { usage >&2; exit 2; }; dir=$(realpath -m "$1"); shift ;;
    esac
done
if [ -z "$dir" ] || ! [ "$n" -gt 0 ] 2>/dev/null; then
    usage >&2
    exit 2
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREP_LOG_PREFIX=bench/make-pool.sh
# shellcheck source=../scripts/lib.sh
. scripts/lib.sh
# shellcheck source=lib.sh
. bench/lib.sh
if [ ! -x build/fixtures/acta-gen ]; then
    prep_deps
    prep_build build -Dbuildtype=release
fi
prep_log "generating $n photos of 4000x3000 in $dir"
bench_pool "$dir" "$n" "$seed" ${kind:+"$kind"}
prep_log "$(find "$dir" -name 'acta-*.jpg' | wc -l) photos, $(du -sm "$dir" | cut -f1) MB"
