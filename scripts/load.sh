#!/usr/bin/env bash
# One load scenario against a release stratumd on its in-process simnet (loopback only,
# bounded in time). Usage: scripts/load.sh a|b|c|d|e   (see docs/BENCHMARKS.md)
# Prints stratum-load's JSON report on stdout and its summary on stderr (then the server's
# fan-out log lines); the report is also
# written to target/load/<scenario>.json. STRATUMD_BIN runs another stratumd binary (an
# older build, for a side-by-side comparison); STRATUMD_THREADS sets its worker threads.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:?usage: scripts/load.sh a|b|c|d|e|b-floor|c-p2pool|c-p2pool-distinct}"
cargo build -q -j2 --release -p stratumd --bin stratumd --example seed_sharechain -p stratum-tests --bin stratum-load --bin fanout-floor --bin stratum-echo
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
addr=bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080
case "$scenario" in
  e) diff=1 ;;          # ckpool's minimum: submits miss the target, the validation path is loaded
  *) diff=1e-10 ;;      # every hash is a share: accepted-share throughput
esac
# simnet's block difficulty: high, so shares never solve blocks; low for the fan-out
# scenario, whose block simnet mines itself (generatetoaddress).
netdiff=1
case "$scenario" in c|c-p2pool*) netdiff=0.0001 ;; esac
# p2pool mode (miners authorize with their address, each coinbase commits to its share)
# for the fan-out with one address or one per miner; ckpool's solo mode (-B) otherwise.
mode_flag=-B
case "$scenario" in c-p2pool*) mode_flag=--p2pool ;; esac
p2pool_key=""
case "$scenario" in
  c-p2pool*)
    # A share chain whose window pays 500 miners, 500 outputs per coinbase: the simnet
    # preset with its output cap raised, seeded with 1,000 generated shares.
    ./target/release/stratumd sharechain spec --preset simnet --json \
      | python3 -c 'import json,sys; s=json.load(sys.stdin)["spec"]; s["name"]="load-500-outputs"; s["max_outputs"]=500; print(json.dumps(s))' \
      > "$work/spec.json"
    ./target/release/examples/seed_sharechain "$work/logs/sharechain" "$work/spec.json" 1000 500 >&2
    p2pool_key=", \"p2pool\": { \"chain\": \"$work/spec.json\", \"listen\": \"127.0.0.1:0\" }"
    ;;
esac
cat > "$work/ckpool.conf" <<CONF
{ "serverurl": "127.0.0.1:$port", "logdir": "$work/logs", "sockdir": "$work/sock",
  "mindiff": $diff, "startdiff": $diff, "maxdiff": $diff, "update_interval": 30 $p2pool_key }
CONF
if [ "$scenario" = b-floor ]; then
  # (b) against stratum-echo, which answers every submit "true" unread: the floor of the
  # share path on this machine, to run beside (b) and compare.
  ./target/release/stratum-echo "127.0.0.1:$port" 2> "$work/stratumd.log" &
else
  TOKIO_WORKER_THREADS="${STRATUMD_THREADS:-2}" "${STRATUMD_BIN:-./target/release/stratumd}" $mode_flag -c "$work/ckpool.conf" --simnet --simnet-difficulty "$netdiff" -l 5 2> "$work/stratumd.log" &
fi
server=$!
# `|| true`: a server killed by the signal exits non-zero, and with -e that would end the
# trap before the clean-up.
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -qE "stratum listening|stratum-echo listening" "$work/stratumd.log" 2>/dev/null && break; sleep 0.1; done
# simnet's RPC address and cookie, for the fan-out block.
rpc=$(grep -o 'JSON-RPC on http://[0-9.:]*' "$work/stratumd.log" | head -1 | sed 's/JSON-RPC on //' || true)
cookie=$(grep -o 'cookie [^,]*' "$work/stratumd.log" | head -1 | sed 's/cookie //' || true)
zmq=$(grep -o 'ZMQ hashblock on [^ ]*' "$work/stratumd.log" | head -1 | sed 's/ZMQ hashblock on //' || true)
common=(--targets "127.0.0.1:$port" --user "$addr" --server-pid "$server" --source-ips 8 --max-runtime 240)
mkdir -p target/load
case "$scenario" in
  a) args=(--connections 19500 --ramp-per-sec 4000 --shares-per-sec 0 --duration 60) ;;
  b|b-floor) args=(--connections 10000 --ramp-per-sec 4000 --shares-per-sec 50000 --duration 30) ;;
  c|c-p2pool) args=(--connections 10000 --ramp-per-sec 4000 --shares-per-sec 0 --duration 10 --fanout-rpc "$rpc" --fanout-cookie "$cookie" --fanout-zmq "$zmq" --fanout-blocks 5) ;;
  c-p2pool-distinct) args=(--connections 10000 --ramp-per-sec 4000 --shares-per-sec 0 --duration 10 --fanout-rpc "$rpc" --fanout-cookie "$cookie" --fanout-zmq "$zmq" --fanout-blocks 5 --distinct-users) ;;
  d) args=(--connections 10000 --ramp-per-sec 10000 --shares-per-sec 0 --duration 5) ;;
  e) args=(--connections 10000 --ramp-per-sec 4000 --shares-per-sec 50000 --mode miss --duration 30) ;;
  *) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac
./target/release/stratum-load "${common[@]}" "${args[@]}" --report "target/load/$scenario.json" --quiet "${@:2}"
# The server's own view of each new block's fan-out (publish to the last session's write).
grep -o "new block's job .*" "$work/stratumd.log" >&2 || true
