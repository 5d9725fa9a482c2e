#!/usr/bin/env bash
# Installs the system packages the build needs, if missing. Today the build needs only a C
# and C++ compiler (libzmq is built from source by the zmq crate's zeromq-src); rocksdb's
# bindgen will add libclang-dev when the share chain lands.
set -euo pipefail
need=()
for pkg in gcc g++ make pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
