#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time: FUZZ_SECONDS each (default 20;
# .ci/run uses the default, docs/BENCHMARKS.md's longer runs set it higher). Each target
# starts from its committed seeds (fuzz/seeds/<target>, see fuzz/make_seeds.py) and the
# corpus earlier runs on this machine grew (fuzz/corpus/<target>, not committed). A crash,
# a panic, a timeout (10 s for one input) or running out of memory fails the run and leaves
# the input in fuzz/artifacts/<target>/; make it a regression test, then fix it.
#
#   bash scripts/fuzz.sh                 # all targets, 20 s each
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh session_lines
#
# Built with --dev (fuzz/Cargo.toml's profile: -O1, overflow checks and debug assertions on)
# and no sanitizer: the code under test has no unsafe (the crate's only unsafe blocks are
# libc calls on the process's own rlimit, pid and group and one libzmq socket option set at
# start-up, none of them reachable from these inputs), so AddressSanitizer would find
# nothing that Rust does not check already.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-20}"
bash scripts/setup.sh
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz from crates.io"
    cargo install -j2 --locked cargo-fuzz --version 0.13.2
fi
# cargo fuzz builds with nightly-only flags; the stable toolchain takes them this way.
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS=2
# RocksDB's C++ takes over ten minutes to compile: the fuzz build links the library the main
# build made (target/debug/build/librocksdb-sys-*/out) instead of compiling it again.
find_rocksdb() {
    find target/debug/build -path '*librocksdb-sys-*/out/librocksdb.a' -printf '%h\n' 2>/dev/null | head -1
}
lib="$(find_rocksdb)"
if [ -z "$lib" ]; then
    echo "fuzz.sh: building RocksDB once in the main workspace"
    cargo build -j2 -p librocksdb-sys
    lib="$(find_rocksdb)"
fi
export ROCKSDB_LIB_DIR="$PWD/$lib" ROCKSDB_STATIC=1
if [ "$#" -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi
start=$(date +%s)
cargo fuzz build --dev -s none
echo "fuzz.sh: built ${#targets[@]} targets in $(( $(date +%s) - start )) s"
failed=()
report=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    log="fuzz/target/$t.log"
    echo "fuzz.sh: $t for ${secs} s"
    if cargo fuzz run --dev -s none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$t")
        grep -E "panicked|ERROR|SUMMARY|Test unit written|artifact_prefix" "$log" | head -20 || true
    fi
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)"
    cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)"
    ft="$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)"
    corp="$(find "fuzz/corpus/$t" -type f | wc -l || true)"
    report+=("$(printf '%-15s %-7s %12s execs  cov %6s  ft %6s  corpus %5s' "$t" "$status" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp")")
done
printf '%s\n' "${report[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: failed: ${failed[*]} (inputs under fuzz/artifacts/, logs under fuzz/target/)" >&2
    exit 1
fi
