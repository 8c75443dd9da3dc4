#!/usr/bin/env bash
# Runs the cargo-fuzz targets of newswatch. Not part of CI.
#
#   fuzz/run.sh TARGET SECONDS     one target (parse, clean, extract, topics_query, opml, config)
#   fuzz/run.sh all SECONDS        every target in turn, SECONDS each
#   fuzz/run.sh build              build the targets only
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The sanitizer flags are nightly-only rustc
# options: on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks them (set here).
# The corpus of each target (fuzz/corpus/TARGET, not committed) starts from fuzz/seeds/TARGET and
# the files under tests/fixtures/ (config also from config.toml). Extra read-only corpus
# directories can be given in EXTRA_CORPUS (space-separated); new inputs go to fuzz/corpus only.
# Crashes and hangs land in fuzz/artifacts/TARGET/; the run's log in fuzz/logs/.
# Runs under `nice -n 19`: the fuzzers are a background load.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$here"
export RUSTC_BOOTSTRAP=1

targets=(parse clean extract topics_query opml config)

# Per-target input size cap: large enough for quadratic behaviour to show within the timeout.
max_len() {
    case "$1" in
        extract) echo 262144 ;;
        parse | clean) echo 131072 ;;
        *) echo 16384 ;;
    esac
}

build() {
    nice -n 19 cargo fuzz build -O "$@"
}

seed() {
    local t=$1 dir=$here/corpus/$1
    mkdir -p "$dir" "$here/artifacts/$t" "$here/logs"
    # Seeds are copied under their content hash so reseeding never duplicates them.
    local f
    while IFS= read -r -d '' f; do
        cp -n "$f" "$dir/seed-$(sha1sum "$f" | cut -c1-16)"
    done < <(find "$here/seeds/$t" "$root/tests/fixtures" -type f -print0)
    if [ "$t" = config ]; then
        cp -n "$root/config.toml" "$dir/seed-config.toml"
    fi
}

run() {
    local t=$1 secs=$2
    seed "$t"
    local log
    log=$here/logs/$t-$(date -u +%Y%m%dT%H%M%S).log
    echo "fuzzing $t for ${secs}s (log: $log)"
    # shellcheck disable=SC2086
    nice -n 19 cargo fuzz run -O "$t" "$here/corpus/$t" ${EXTRA_CORPUS:-} -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
        -print_final_stats=1 -artifact_prefix="$here/artifacts/$t/" 2>&1 | tee "$log" | grep -v '^#[0-9]' || true
    grep -E 'stat::number_of_executed_units|SUMMARY|Done' "$log" || true
}

case "${1:-}" in
    build) build ;;
    all)
        build
        for t in "${targets[@]}"; do run "$t" "${2:?SECONDS}"; done
        ;;
    parse | clean | extract | topics_query | opml | config)
        run "$1" "${2:?SECONDS}"
        ;;
    *)
        echo "usage: $0 {TARGET|all} SECONDS | build   (targets: ${targets[*]})" >&2
        exit 2
        ;;
esac
