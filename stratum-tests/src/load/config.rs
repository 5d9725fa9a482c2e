//! Command-line options of `stratum-load` (also built directly by tests with
//! [`clap::Parser::parse_from`]).

use clap::{Parser, ValueEnum};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// Which firmware's handshake each connection performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// AxeOS: configure (mask ffffffff) + subscribe + authorize written back to back, always
    /// 6 submit params, answers `mining.ping` with a `pong` request.
    Bitaxe,
    /// Stock Antminer: configure, then subscribe `["GodMiner/2.0.0", null]`, then authorize,
    /// each waiting for its reply; 6 submit params.
    Antminer,
    /// cgminer: subscribe, then authorize, each waiting; no version rolling, 5 submit params.
    Cgminer,
}

/// How shares are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Submit shares that meet the server-set difficulty (free when every hash meets it,
    /// otherwise hashed with a bounded number of attempts).
    Mine,
    /// Submit well-formed shares with unsearched nonces: at difficulty ≥ 1 they almost surely
    /// miss, which still costs the server a full validation (how ckpool is loaded).
    Miss,
}

/// Options of one load run.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "stratum-load",
    about = "A stratum v1 load generator: many miner connections, real shares, one JSON report"
)]
pub struct LoadConfig {
    /// Servers, host:port[,host:port…]; connections are spread over them round-robin.
    #[arg(long, default_value = "127.0.0.1:3333", value_delimiter = ',')]
    pub targets: Vec<String>,
    /// Number of miner connections to open.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub connections: u64,
    /// Connections opened per second during the ramp.
    #[arg(long, default_value_t = 1000.0)]
    pub ramp_per_sec: f64,
    /// Bind sockets to 127.0.0.2 … 127.0.0.(1+K), round-robin (0 = let the OS choose; only
    /// for loopback targets).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(0..=250))]
    pub source_ips: u8,
    /// Firmware handshake style.
    #[arg(long, value_enum, default_value_t = Firmware::Bitaxe)]
    pub handshake: Firmware,
    /// Username (a payout address for solo-mode servers); `.w<i>` is appended per connection.
    #[arg(long, default_value = "stratum-load")]
    pub user: String,
    /// Password for mining.authorize.
    #[arg(long, default_value = "x")]
    pub pass: String,
    /// Each connection authorizes as its own regtest address (P2WPKH of its index) instead
    /// of `--user`: a p2pool- or solo-mode server then serializes a notify per connection.
    #[arg(long)]
    pub distinct_users: bool,
    /// Aggregate target of submitted shares per second once all connections are up (0 = idle).
    #[arg(long, default_value_t = 0.0)]
    pub shares_per_sec: f64,
    /// How shares are made.
    #[arg(long, value_enum, default_value_t = Mode::Mine)]
    pub mode: Mode,
    /// In mine mode, hashes tried per share before giving up on it.
    #[arg(long, default_value_t = 100_000)]
    pub max_hashes_per_share: u64,
    /// Submits one connection may have unanswered before it skips its next ones.
    #[arg(long, default_value_t = 16)]
    pub max_in_flight: usize,
    /// Seconds to hold the connections (and submit) after the ramp.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds a handshake may take before the connection counts as failed.
    #[arg(long, default_value_t = 30.0)]
    pub handshake_timeout: f64,
    /// Seconds after which an unanswered submit counts as timed out.
    #[arg(long, default_value_t = 10.0)]
    pub submit_timeout: f64,
    /// The server's process id: its RSS and CPU time are read from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// bitcoind/simnet JSON-RPC URL (http://host:port): after the ramp, mine blocks with
    /// generatetoaddress and measure the clean-job fan-out.
    #[arg(long)]
    pub fanout_rpc: Option<String>,
    /// How many blocks to mine for the fan-out, one after the other.
    #[arg(long, default_value_t = 1)]
    pub fanout_blocks: u32,
    /// The node's ZMQ hashblock endpoint (tcp://host:port): the fan-out is also measured from
    /// the block's announcement there.
    #[arg(long)]
    pub fanout_zmq: Option<String>,
    /// Cookie file for --fanout-rpc.
    #[arg(long)]
    pub fanout_cookie: Option<PathBuf>,
    /// RPC user for --fanout-rpc (instead of a cookie).
    #[arg(long)]
    pub fanout_user: Option<String>,
    /// RPC password for --fanout-rpc.
    #[arg(long)]
    pub fanout_pass: Option<String>,
    /// Address for generatetoaddress (default: --user up to its first '.').
    #[arg(long)]
    pub fanout_address: Option<String>,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Hard stop after this many seconds, whatever the phase.
    #[arg(long, default_value_t = 300.0)]
    pub max_runtime: f64,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Runtime worker threads of the generator (it shares the machine with the server).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

impl LoadConfig {
    /// Resolves the targets and checks the numbers, with a message an operator can act on.
    pub fn validate(&self) -> Result<Vec<SocketAddr>, String> {
        let mut out = Vec::new();
        for t in &self.targets {
            let hostport = t.trim().trim_start_matches("stratum+tcp://");
            let addr = hostport
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve target {hostport}: {e}"))?
                .next()
                .ok_or_else(|| format!("target {hostport} resolved to no address"))?;
            if self.source_ips > 0 && !addr.ip().is_loopback() {
                return Err(format!(
                    "target {addr} is not loopback: --source-ips binds to 127.0.0.x, pass --source-ips 0"
                ));
            }
            if self.source_ips > 0 && !matches!(addr.ip(), IpAddr::V4(_)) {
                return Err(format!("target {addr}: --source-ips needs an IPv4 target"));
            }
            out.push(addr);
        }
        if out.is_empty() {
            return Err("no --targets".into());
        }
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("--{name} must be a positive number, got {v}"))
            }
        };
        positive("ramp-per-sec", self.ramp_per_sec)?;
        positive("max-runtime", self.max_runtime)?;
        positive("handshake-timeout", self.handshake_timeout)?;
        positive("submit-timeout", self.submit_timeout)?;
        if !(self.duration.is_finite() && self.duration >= 0.0) {
            return Err(format!("--duration must be ≥ 0, got {}", self.duration));
        }
        if !(self.shares_per_sec.is_finite() && self.shares_per_sec >= 0.0) {
            return Err(format!(
                "--shares-per-sec must be ≥ 0, got {}",
                self.shares_per_sec
            ));
        }
        if self.max_in_flight == 0 {
            return Err("--max-in-flight must be ≥ 1".into());
        }
        if self.fanout_rpc.is_some()
            && self.fanout_cookie.is_none()
            && (self.fanout_user.is_none() || self.fanout_pass.is_none())
        {
            return Err("--fanout-rpc needs --fanout-cookie or --fanout-user/--fanout-pass".into());
        }
        Ok(out)
    }

    /// The username connection `i` authorizes and submits with.
    pub fn username(&self, i: u64) -> String {
        if self.distinct_users {
            return format!("{}.w{i}", distinct_address(i));
        }
        format!("{}.w{i}", self.user)
    }
}

/// The regtest P2WPKH address of connection `i` (program: `i` little-endian, then 0x5c).
pub fn distinct_address(i: u64) -> String {
    use bitcoin::{Address, KnownHrp, WitnessProgram, WitnessVersion};
    let mut program = [0x5cu8; 20];
    program[..8].copy_from_slice(&i.to_le_bytes());
    match WitnessProgram::new(WitnessVersion::V0, &program) {
        Ok(p) => Address::from_witness_program(p, KnownHrp::Regtest).to_string(),
        Err(_) => String::new(),
    }
}
