#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora under seeds/ (committed; rerun after a wire change).

session_lines: the firmware transcripts of tests/e2e_firmware.rs and PROTOCOL.md's quirk
table, one file per firmware, `$JOB` standing for the current job's id; gbt_template: the
captured templates in tests/fixtures/ckpool; the rest hand-made from each format's spec.
"""
import json, os, struct, shutil

os.chdir(os.path.dirname(os.path.abspath(__file__)))


def w(target, name, data):
    d = f"seeds/{target}"
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(f"{d}/{name}", "wb") as f:
        f.write(data)


A = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def L(*objs):
    return "\n".join(o if isinstance(o, str) else json.dumps(o, separators=(",", ":")) for o in objs) + "\n"


w("session_lines", "bitaxe", L(
    {"id": 1, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "ffffffff", "version-rolling.min-bit-count": 16}]},
    {"id": 2, "method": "mining.subscribe", "params": ["bitaxe/BM1370/v2.4.0"]},
    {"id": 3, "method": "mining.authorize", "params": [A + ".bitaxe", "x"]},
    {"id": 4, "method": "mining.suggest_difficulty", "params": [1000]},
    {"id": 5, "method": "mining.submit", "params": [A + ".bitaxe", "$JOB", "0000000000000000", "6553f100", "1a2b3c4d", "00002000"]},
    {"id": 6, "method": "mining.submit", "params": [A + ".bitaxe", "$JOB", "0000000000000001", "6553f100", "1a2b3c4d", "1fffe000"]},
    {"id": None, "result": "pong", "error": None}))
w("session_lines", "antminer", L(
    {"id": 1, "method": "mining.subscribe", "params": ["bmminer/2.0.0"]},
    {"id": 2, "method": "mining.authorize", "params": [A + ".s19", "123"]},
    {"id": 3, "method": "mining.submit", "params": [A + ".s19", "$JOB", "00000000000000ab", "6553f100", "deadbeef"]},
    {"id": 4, "method": "mining.submit", "params": [A + ".s19", "$JOB", "00000000000000ab", "6553f100", "deadbeef"]}))
w("session_lines", "luxos", L(
    {"id": 1, "method": "mining.subscribe", "params": ["LUXminer/1.0", None, None, None]},
    {"id": 2, "method": "mining.configure", "params": [["version-rolling", "minimum-difficulty"], {"version-rolling.mask": "1fffe000", "minimum-difficulty.value": 2048}]},
    {"id": 3, "method": "mining.authorize", "params": [A, None]},
    {"id": 4, "method": "mining.extranonce.subscribe", "params": []},
    {"id": 5, "method": "mining.submit", "params": [A, "$JOB", "0000000000000002", "6553f101", "00000001", None]}))
w("session_lines", "nerdminer", L(
    {"id": 1, "method": "mining.suggest_difficulty", "params": [0.0001]},
    {"id": 2, "method": "mining.subscribe", "params": ["NerdMinerV2"]},
    {"id": 3, "method": "mining.authorize", "params": [A + ".nerd", "x"]},
    {"id": 4, "method": "mining.suggest_difficulty", "params": [1.5e-5]},
    {"id": 5, "method": "mining.submit", "params": [A + ".nerd", "$JOB", "ffffffffffffffff", "6553f100", "00000000"]}))
w("session_lines", "cgminer_resume", L(
    {"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.12.1", "01000000"]},
    {"id": 2, "method": "mining.authorize", "params": [A + ".cg", "x"]},
    "!newjob",
    {"id": 3, "method": "mining.submit", "params": [A + ".cg", "$JOB", "0100000000000000", "6553f102", "00ff00ff"]},
    "!reconnect"))
w("session_lines", "cpuminer_ids", L(
    {"id": "a", "method": "mining.subscribe", "params": []},
    {"id": None, "method": "mining.authorize", "params": [A + ".cpu", "x"]},
    {"id": [1], "method": "mining.get_transactions", "params": ["$JOB"]},
    {"id": 7, "method": "mining.unknown", "params": []},
    {"id": 8, "method": "mining.multi_version", "params": [1]},
    '{"id":9,"method":"mining.submit","params":["' + A + '.cpu","$JOB","00","6553f100","00000000"]}',
    "[1,2,3]", "not json", '{"id":10}'))
w("session_lines", "authorize_first", L(
    {"id": 1, "method": "mining.authorize", "params": [A + ".x", "x"]},
    {"id": 2, "method": "mining.subscribe", "params": ["split/1", None]},
    {"id": 3, "method": "mining.authorize", "params": [A + ".y", "d=0.5"]},
    {"id": 4, "method": "mining.submit", "params": [A + ".y", "$JOB", "0000000000000003", "6553f100", "12345678"]}))

for i, p in enumerate([
        [A + ".w", "0000000000000001", "0000000000000000", "6553f100", "1a2b3c4d"],
        [A + ".w", "00000000000000ff", "00000000000000ab", "6553f100", "deadbeef", "1fffe000"],
        ["w\\u0041", "+1", "0011", None, 5, "x", True, [1]],
        [], ["a"] * 9]):
    w("submit_params", f"p{i}", json.dumps(p))
w("submit_params", "escapes", '["\\ud83d\\ude00","\\"quoted\\"","0011",  null ,"FFFFFFFF"]')

# ckpool_conf: the first byte picks pool (0), solo (1) or p2pool (2) mode.
w("ckpool_conf", "readme_pool", b"\x00" + json.dumps({
    "btcd": [{"url": "127.0.0.1:8332", "auth": "stratumd", "pass": "p", "notify": True},
             {"url": "10.0.0.2:8332", "cookie": "/var/lib/bitcoind/.cookie"}],
    "btcaddress": A, "btcsig": "/mined by me/", "serverurl": ["0.0.0.0:3333"], "mindiff": 1,
    "startdiff": 42, "zmqblock": "tcp://127.0.0.1:28332", "logdir": "logs"}, indent=1).encode())
w("ckpool_conf", "solo", b"\x01" + json.dumps({
    "btcd": {"url": "127.0.0.1:18443", "auth": "u", "pass": "p"},
    "serverurl": ["127.0.0.1:3333", "127.0.0.1:4334"], "mindiff": 0.001, "maxdiff": 0,
    "highdiff": 1000000, "version_mask": "1fffe000", "nonce1length": 4, "nonce2length": 8,
    "donation": 2.0, "donaddress": A, "network": "regtest", "maxclients": 100,
    "handshake_timeout": 5, "zmqpub": "tcp://127.0.0.1:28000", "zmqpub_mindiff": 1,
    "update_interval": 30, "blockpoll": 100, "stats_interval": 60,
    "api": "127.0.0.1:9090"}).encode() + b"\n# trailing text ckpool ignores")
w("ckpool_conf", "p2pool", b"\x02" + json.dumps({
    "btcd": [{"url": "http://127.0.0.1:18443", "auth": "u", "pass": "p"}], "network": "regtest",
    "serverurl": "127.0.0.1:3333",
    "p2pool": {"chain": "regtest", "listen": "/ip4/127.0.0.1/tcp/0",
               "peers": ["/ip4/127.0.0.1/tcp/9000"], "datadir": "sharechain"},
    "payouts": [{"address": A, "weight": 3}]}).encode())

os.makedirs("seeds/gbt_template", exist_ok=True)
for case in ["one-txn", "two-txns", "three-txns"]:
    shutil.copy(f"../tests/fixtures/ckpool/gbt-notify/{case}/gbt.json", f"seeds/gbt_template/{case}.json")
shutil.copy("../tests/fixtures/ckpool/gbt-signet-no-transactions.json", "seeds/gbt_template/signet-no-transactions.json")

GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
reqs = {
    "gbt": {"jsonrpc": "1.0", "id": "stratumd", "method": "getblocktemplate", "params": [{"rules": ["segwit"]}]},
    "gbt_named": {"jsonrpc": "2.0", "id": 1, "method": "getblocktemplate", "params": {"template_request": {"rules": ["segwit"], "capabilities": ["coinbasetxn"]}}},
    "chaininfo": {"id": 2, "method": "getblockchaininfo", "params": []},
    "best": {"id": 3, "method": "getbestblockhash"},
    "hash0": {"id": 4, "method": "getblockhash", "params": [0]},
    "generate": {"id": 5, "method": "generatetoaddress", "params": [2, A]},
    "validate": {"id": 6, "method": "validateaddress", "params": [A]},
    "submit_bad": {"id": 7, "method": "submitblock", "params": ["00"]},
    "notification": {"jsonrpc": "2.0", "method": "ping"},
    "mempool": {"id": 8, "method": "getrawmempool", "params": [True]},
    "header": {"id": 9, "method": "getblockheader", "params": [GENESIS, True]},
}
for k, v in reqs.items():
    w("simnet_rpc", k, json.dumps(v))
w("simnet_rpc", "batch", json.dumps([reqs["best"], reqs["hash0"], {"id": 10, "method": "getblock", "params": [GENESIS, 2]}, reqs["notification"], {"id": 11, "method": "nosuch"}]))


def share(branch=1, uncles=0, witness=True):
    """A share in the wire form of src/p2pool/share.rs behind its u16 length."""
    b = bytes(80)
    b += bytes([4]) + b"\x03\x01\x02\x03"
    b += struct.pack("<Q", 5_000_000_000)
    wc = bytes.fromhex("6a24aa21a9ed") + bytes(32) if witness else b""
    b += bytes([len(wc)]) + wc
    b += bytes([branch]) + bytes(32) * branch
    b += bytes(32) + bytes(32)
    b += bytes([uncles]) + bytes(32) * uncles
    spk = bytes.fromhex("0014") + bytes(20)
    b += bytes([len(spk)]) + spk
    b += struct.pack("<I", 0x207FFFFF) + bytes(32)
    return struct.pack("<H", len(b)) + b


w("share_decode", "one", share())
w("share_decode", "two", share(2, 1) + share(0, 0, False))

id32 = bytes(range(32))
w("sync_wire", "locate", b"\x00" + struct.pack("<H", 2) + id32 + id32)
w("sync_wire", "get", b"\x01" + struct.pack("<H", 1) + id32)
w("sync_wire", "ids", b"\x00" + struct.pack("<Q", 42) + struct.pack("<H", 1) + id32)
s1 = share()[2:]
w("sync_wire", "shares", b"\x01" + struct.pack("<H", 1) + struct.pack("<H", len(s1)) + s1)
