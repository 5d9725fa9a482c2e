#!/usr/bin/env bash
# Three stratumd p2pool nodes, each in its own network namespace with a CPU miner, on one
# simnet, with DELAY_MS (default 100) of one-way delay between every two nodes. After SECS
# seconds (default 120) it reports, per node, the shares kept and where they ended up: on
# the best chain, uncles (off it but credited by a share on it, so paid) and orphans
# (neither): the uncle and orphan rates against latency / share period (simnet's period is
# 1 s). Needs root (ip netns, veth, a bridge).
#
# The delay is `tc netem` where the kernel has it (sch_netem); where it does not (this
# project's machines: "Specified qdisc kind is unknown"), each link between nodes goes
# through a delaying TCP relay on the bridge instead (DELAY=relay, automatic), which holds
# every chunk DELAY_MS before passing it on, both ways.
#   bash scripts/netem.sh             # 100 ms between nodes
#   DELAY_MS=0 bash scripts/netem.sh  # no delay, for comparison
set -euo pipefail
cd "$(dirname "$0")/.."
delay=${DELAY_MS:-100}
secs=${SECS:-120}
# The binaries as the test suite builds them (no second build in another profile).
cargo test -j2 -q --workspace --no-run >/dev/null 2>&1 || cargo test -j2 --workspace --no-run
bin=$PWD/target/debug/stratumd
miner=$PWD/target/debug/stratum-miner
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for k in 1 2 3; do ip netns del "snet$k" 2>/dev/null || true; done
  ip link del snbr0 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip link add snbr0 type bridge
ip addr add 10.77.0.254/24 dev snbr0
ip link set snbr0 up
for k in 1 2 3; do
  ip netns add "snet$k"
  ip link add "snv$k" type veth peer name eth0 netns "snet$k"
  ip link set "snv$k" master snbr0 up
  ip -n "snet$k" addr add "10.77.0.$k/24" dev eth0
  ip -n "snet$k" link set eth0 up
  ip -n "snet$k" link set lo up
done
mode=none
if [ "$delay" -gt 0 ]; then
  half=$((delay / 2))
  if tc -n snet1 qdisc add dev eth0 root netem delay "${half}ms" 2>/dev/null; then
    mode=netem
    tc qdisc add dev snv1 root netem delay "${half}ms"
    for k in 2 3; do
      tc -n "snet$k" qdisc add dev eth0 root netem delay "${half}ms"
      tc qdisc add dev "snv$k" root netem delay "${half}ms"
    done
  else
    mode=relay
  fi
fi
cat >"$work/relay.py" <<'PY'
# A TCP relay that holds every chunk DELAY ms before passing it on, in both directions.
import asyncio, sys, time
listen_host, listen_port, to_host, to_port, delay = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]) / 1000
async def pipe(reader, writer):
    queue = asyncio.Queue()
    async def pump():
        while True:
            at, data = await queue.get()
            if data is None:
                break
            wait = at + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()
    task = asyncio.create_task(pump())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic(), data))
    finally:
        queue.put_nowait((0, None))
        await task
async def handle(r1, w1):
    try:
        r2, w2 = await asyncio.open_connection(to_host, to_port)
    except OSError:
        w1.close()
        return
    await asyncio.gather(pipe(r1, w2), pipe(r2, w1), return_exceptions=True)
async def main():
    server = await asyncio.start_server(handle, listen_host, listen_port)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
# simnet on the bridge (the nodes' bitcoind), blocks rare enough that the run is about shares.
"$bin" simnet --rpc 10.77.0.254:18443 --zmq tcp://10.77.0.254:28332 --difficulty 1 \
  --user simnet --password simnet >"$work/simnet.log" 2>&1 &
pids+=($!)
sleep 1
for k in 1 2 3; do
  peers=""
  for j in 1 2 3; do
    [ "$j" -lt "$k" ] || continue
    if [ "$mode" = relay ]; then
      port=$((20000 + 10 * k + j))
      python3 "$work/relay.py" 10.77.0.254 "$port" "10.77.0.$j" 9339 "$delay" &
      pids+=($!)
      peers="$peers\"10.77.0.254:$port\","
    else
      peers="$peers\"10.77.0.$j:9339\","
    fi
  done
  peers="[${peers%,}]"
  mkdir -p "$work/n$k"
  cat >"$work/n$k/ckpool.conf" <<CONF
{ "btcd": [{ "url": "10.77.0.254:18443", "auth": "simnet", "pass": "simnet" }],
  "zmqblock": "tcp://10.77.0.254:28332", "serverurl": "127.0.0.1:3333",
  "logdir": "$work/n$k/logs", "sockdir": "$work/n$k/sock",
  "mindiff": 0.00001, "startdiff": 0.00005,
  "p2pool": { "chain": "simnet", "listen": "10.77.0.$k:9339", "peers": $peers } }
CONF
  ip netns exec "snet$k" "$bin" -c "$work/n$k/ckpool.conf" >"$work/n$k/stderr.log" 2>&1 &
  pids+=($!)
  sleep 1
done
sleep 2
for k in 1 2 3; do
  ip netns exec "snet$k" "$miner" --url 127.0.0.1:3333 \
    --user "bcrt1q9y5jj2ff9y5jj2ff9y5jj2ff9y5jj2ffwea96u.n$k" --seconds "$secs" \
    >"$work/n$k/miner.log" 2>&1 &
  pids+=($!)
done
sleep "$secs"
sleep 5
echo "delay: ${delay} ms one way between nodes (by $mode), ${secs} s, simnet share period 1 s"
for k in 1 2 3; do
  status="$work/n$k/logs/pool/p2pool.json"
  python3 - "$status" "$k" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
c, n = v["chain"], v["network"]
shares, uncles, orphans = c["shares"], c["uncles"], c["orphans"]
pct = lambda x: f"{x / shares:.1%}" if shares else "-"
print(f"node {sys.argv[2]}: {len(n['peers'])} peers, tip {c['tip'][:16]}… height {c['height']}, "
      f"{shares} shares kept, {shares - uncles - orphans} on the best chain, "
      f"{uncles} uncles ({pct(uncles)}, paid), {orphans} orphans ({pct(orphans)}, unpaid): "
      f"stale rate {pct(uncles + orphans)}")
PY
done
