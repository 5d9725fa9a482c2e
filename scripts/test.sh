#!/usr/bin/env bash
# The whole test suite: unit tests, fixture tests against captured ckpool data, and the
# end-to-end tests that drive the real stratumd binary on simnet.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Build every binary first: the end-to-end tests run target/debug/stratumd.
cargo build -j2 --workspace --bins
cargo test -j2 --workspace --no-fail-fast
