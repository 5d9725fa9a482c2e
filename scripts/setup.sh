#!/usr/bin/env bash
# Installs the system packages the build needs, if missing: a C and C++ compiler (libzmq is
# built from source by the zmq crate's zeromq-src, RocksDB by librocksdb-sys) and libclang
# for librocksdb-sys's bindgen. With --browser (scripts/test.sh), also what the dashboard's
# browser test (tests/e2e_dashboard.rs) needs: Debian's chromium, Node.js 20 or later and,
# from the npm registry, playwright-core as pinned in tests/browser/package-lock.json.
set -euo pipefail
browser=0
[ "${1:-}" = --browser ] && browser=1
dir="$(cd "$(dirname "$0")/../tests/browser" && pwd)"
# Refuses a Node.js older than playwright-core's minimum.
node_ok() {
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    if [ "$major" -lt 20 ]; then
        echo "setup.sh: playwright-core needs Node.js 20 or later; this node is $(node --version)" >&2
        exit 1
    fi
}
need=()
pkgs=(gcc g++ make pkg-config libclang-dev)
[ "$browser" = 1 ] && pkgs+=(chromium)
for pkg in "${pkgs[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "$browser" = 1 ]; then
    # Before installing anything: an old node would only be refused afterwards.
    if command -v node >/dev/null 2>&1; then node_ok; else need+=(nodejs); fi
    command -v npm >/dev/null 2>&1 || need+=(npm)
fi
if [ "${#need[@]}" -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
[ "$browser" = 1 ] || exit 0
node_ok
# (Re)installed when missing or not the version the lock file pins.
want="$(node -p "require('$dir/package-lock.json').packages['node_modules/playwright-core'].version")"
have="$(node -p "try { require('$dir/node_modules/playwright-core/package.json').version } catch { '' }")"
if [ "$have" != "$want" ]; then
    echo "installing playwright-core $want under tests/browser"
    (cd "$dir" && npm ci --no-audit --no-fund)
fi
