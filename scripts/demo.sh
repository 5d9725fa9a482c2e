#!/usr/bin/env bash
# The demo: simnet, stratumd and two built-in CPU miners in one process, until 20 blocks
# are accepted by simnet (Ctrl-C stops it earlier with a summary).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run -j2 --release --bin stratumd -- --demo --demo-blocks "${DEMO_BLOCKS:-20}" "$@"
