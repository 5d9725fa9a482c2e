#!/usr/bin/env bash
# Installs the system packages the build needs, if missing: a C and C++ compiler (libzmq is
# built from source by the zmq crate's zeromq-src, RocksDB by librocksdb-sys) and libclang
# for librocksdb-sys's bindgen.
set -euo pipefail
need=()
for pkg in gcc g++ make pkg-config libclang-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
