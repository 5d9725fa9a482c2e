#!/usr/bin/env bash
# Installs the system packages the build needs, if missing: a C and C++ compiler (libzmq is
# built from source by the zmq crate's zeromq-src, RocksDB by librocksdb-sys) and libclang
# for librocksdb-sys's bindgen; Debian's chromium and, from the npm registry, playwright-core
# for the dashboard's browser test (tests/e2e_dashboard.rs).
set -euo pipefail
need=()
for pkg in gcc g++ make pkg-config libclang-dev chromium; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
browser="$(dirname "$0")/../tests/browser"
if [ ! -d "$browser/node_modules/playwright-core" ]; then
    echo "installing playwright-core under tests/browser"
    (cd "$browser" && npm ci --no-audit --no-fund --silent)
fi
