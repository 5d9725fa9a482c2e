//! The handshake each firmware performs: which requests, in which order, and whether it waits
//! for each reply before the next (Antminer, cgminer) or writes them back to back (bitaxe).

use super::config::Firmware;
use serde_json::{json, Value};

/// What a handshake request is, so its reply can be interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `mining.configure` (BIP310 version rolling).
    Configure,
    /// `mining.subscribe`.
    Subscribe,
    /// `mining.authorize`.
    Authorize,
}

/// First id used for submits; handshake requests use 1, 2, 3.
pub const FIRST_SUBMIT_ID: u64 = 100;

/// The handshake of one firmware for one username.
#[derive(Debug)]
pub struct Handshake {
    /// Requests in order: (id, step, line with trailing newline).
    pub requests: Vec<(u64, Step, String)>,
    /// Whether all requests are written at once.
    pub pipelined: bool,
}

impl Firmware {
    /// The version-rolling mask requested in `mining.configure`, if this firmware rolls.
    pub fn requested_mask(self) -> Option<u32> {
        match self {
            Firmware::Bitaxe => Some(0xffff_ffff),
            Firmware::Antminer => Some(0x1fff_e000),
            Firmware::Cgminer => None,
        }
    }

    /// Whether submits carry the 6th (version bits) param, which bitaxe always sends.
    pub fn always_six_params(self) -> bool {
        matches!(self, Firmware::Bitaxe)
    }

    fn subscribe_params(self) -> Value {
        match self {
            Firmware::Bitaxe => json!(["bitaxe/BM1370/v2.6.0"]),
            Firmware::Antminer => json!(["GodMiner/2.0.0", null]),
            Firmware::Cgminer => json!(["cgminer/4.12.0"]),
        }
    }

    /// The request lines of this firmware's handshake.
    pub fn handshake(self, user: &str, pass: &str) -> Handshake {
        let mut reqs = Vec::new();
        let mut push = |step: Step, method: &str, params: Value| {
            let id = reqs.len() as u64 + 1;
            let line = format!(
                "{}\n",
                json!({"id": id, "method": method, "params": params})
            );
            reqs.push((id, step, line));
        };
        if let Some(mask) = self.requested_mask() {
            push(
                Step::Configure,
                "mining.configure",
                json!([["version-rolling"], {
                    "version-rolling.mask": format!("{mask:08x}"),
                    "version-rolling.min-bit-count": if mask == 0xffff_ffff { 16 } else { 2 }
                }]),
            );
        }
        push(Step::Subscribe, "mining.subscribe", self.subscribe_params());
        push(Step::Authorize, "mining.authorize", json!([user, pass]));
        Handshake {
            requests: reqs,
            pipelined: matches!(self, Firmware::Bitaxe),
        }
    }

    /// The line answering a server's `mining.ping` with id `id`.
    pub fn ping_answer(self, id: &Value) -> String {
        match self {
            // AxeOS answers with a request named "pong".
            Firmware::Bitaxe => format!("{}\n", json!({"id": id, "method": "pong", "params": []})),
            _ => format!("{}\n", json!({"id": id, "result": "pong", "error": null})),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshakes_per_firmware() {
        let b = Firmware::Bitaxe.handshake("u.w1", "x");
        assert!(b.pipelined);
        assert_eq!(b.requests.len(), 3);
        assert!(b.requests[0].2.contains("ffffffff"));
        let a = Firmware::Antminer.handshake("u.w1", "x");
        assert!(!a.pipelined);
        assert!(a.requests[1].2.contains("GodMiner/2.0.0"));
        let c = Firmware::Cgminer.handshake("u.w1", "x");
        assert_eq!(c.requests.len(), 2);
        assert_eq!(c.requests[0].1, Step::Subscribe);
        for (_, _, line) in b.requests.iter().chain(&a.requests).chain(&c.requests) {
            assert!(line.ends_with('\n'));
            assert!(serde_json::from_str::<Value>(line.trim()).is_ok());
        }
    }
}
