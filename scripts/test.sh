#!/usr/bin/env bash
# The whole test suite: unit tests, fixture tests against captured ckpool data, and the
# end-to-end tests that drive the real stratumd binary on simnet (cargo builds that binary for
# them: they are integration tests of the stratumd package and run CARGO_BIN_EXE_stratumd).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
cargo test -j2 --workspace --no-fail-fast
