#!/usr/bin/env bash
# The demo: simnet, stratumd and two built-in CPU miners in one process, until 20 blocks
# are accepted by simnet (Ctrl-C stops it earlier with a summary). `--p2pool` runs it in
# p2pool mode. Built in the test profile (dependencies optimised, our crates at -O1), so
# one build serves the demo and the tests: an optimised RocksDB alone takes ~25 minutes
# to build on 2 cores. DEMO_RELEASE=1 builds and runs the release binary instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
profile=()
[ "${DEMO_RELEASE:-0}" = 1 ] && profile=(--release)
cargo run -j2 "${profile[@]}" --bin stratumd -- --demo --demo-blocks "${DEMO_BLOCKS:-20}" "$@"
