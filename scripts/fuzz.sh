#!/usr/bin/env bash
# scripts/fuzz.sh: every libFuzzer target for a bounded time, one after the other.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/fuzz.sh [SECONDS] [TARGET...]

Builds build-fuzz/ (clang, ASan+UBSan, libFuzzer) when needed and runs each fuzz target for
SECONDS (default 60) on a scratch copy of its seed corpus (the committed corpus is not changed),
under nice. TARGETs are names such as imaging_exif or gateway_fields (default: all). A finding
stops that target, leaves its crash-* file in the scratch folder and makes the exit status 1;
the last line says how many targets ran and how many found something.
USAGE
}

case ${1:-} in -h | --help) usage; exit 0 ;; esac
secs=${1:-60}
[ $# -gt 0 ] && shift
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# target name -> corpus folder and input size limit
declare -A corpus=(
    [imaging_jpeg_scan]=imaging/fuzz/corpus/jpeg [imaging_exif]=imaging/fuzz/corpus/exif
    [imaging_process]=imaging/fuzz/corpus/jpeg [imaging_dup]=imaging/fuzz/corpus/dup
    [imaging_qr]=imaging/fuzz/corpus/qr [gateway_sig]=gateway/fuzz/corpus/sig
    [gateway_receipt]=gateway/fuzz/corpus/receipt [gateway_review]=gateway/fuzz/corpus/review
    [gateway_h2]=gateway/fuzz/corpus/h2 [gateway_fields]=gateway/fuzz/corpus/fields
    [gateway_bundle]=gateway/fuzz/corpus/bundle [gateway_relay]=gateway/fuzz/corpus/relay)
declare -A maxlen=(
    [imaging_jpeg_scan]=65536 [imaging_exif]=8192 [imaging_process]=65536 [imaging_dup]=4096
    [imaging_qr]=8192 [gateway_sig]=4096 [gateway_receipt]=8192 [gateway_review]=4096
    [gateway_h2]=16384 [gateway_fields]=256 [gateway_bundle]=65536 [gateway_relay]=1024)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(imaging_jpeg_scan imaging_exif imaging_process imaging_dup
    imaging_qr gateway_sig gateway_receipt gateway_review gateway_h2 gateway_fields gateway_bundle
    gateway_relay)

if [ ! -d build-fuzz ]; then
    CC=clang meson setup build-fuzz -Db_sanitize=address,undefined \
        -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
bins=()
for t in "${targets[@]}"; do
    [ -n "${corpus[$t]:-}" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
    bins+=("${t%%_*}/fuzz/fuzz_$t")
done
nice ninja -C build-fuzz "${bins[@]}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
scratch=$(mktemp -d /tmp/prep-fuzz.XXXXXX)
found=0
for t in "${targets[@]}"; do
    dir=$scratch/$t
    mkdir -p "$dir/corpus"
    cp -r "${corpus[$t]}/." "$dir/corpus/"
    printf 'fuzz.sh: %s for %s s ... ' "$t" "$secs"
    if (cd "$dir" && nice -n 15 "$OLDPWD/build-fuzz/${t%%_*}/fuzz/fuzz_$t" \
        -max_total_time="$secs" -max_len="${maxlen[$t]}" corpus >log 2>&1); then
        echo "no finding ($(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$dir/log") inputs)"
    else
        found=$((found + 1))
        echo "FINDING: see $dir/log"
    fi
done
echo "fuzz.sh: ${#targets[@]} targets, $found with findings (scratch: $scratch)"
[ $found -eq 0 ]
