//! Pure conversion of server [`Event`]s into ckpool-solo's ZMQ messages, kept apart from the
//! socket so that every field can be checked against the captured samples without a network.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use ckpool_compat::zmq::{createdate, Gbt, Merkle, Share, Txn, UserWorkbase, Workbase, ZmqMessage};
use serde_json::{Map, Value};

use crate::events::{Event, ShareRecord};
use crate::pow::hash::display_hex;
use crate::work::{Job, JobId, UserWork};

/// Jobs remembered for workbase dedupe and for user workbases built at share time: as many
/// as a session accepts shares on, so this holds no template the sessions do not.
const RECENT_JOBS: usize = 16;
/// (job, user) pairs remembered so each user's notify is published once per job.
const USER_WORKBASES_KEPT: usize = 65_536;
/// The newest jobs replayed to a subscriber that joins late: the current one and the one
/// before it, on which shares still arrive for a moment after a new job.
pub const REPLAYED_JOBS: usize = 2;

/// ckpool's `Workbase` for `job`: the template as bitcoind sent it plus ckpool's additions,
/// so a subscriber can rebuild the header of any share on this job.
pub fn workbase(job: &Job) -> Workbase {
    let (coinb2, coinb3) = job.ckpool_coinb2_coinb3();
    let t = &job.template;
    let mut template: Map<String, Value> = match &t.raw {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    // The four keys ckpool appends come last, as in its output.
    for k in ["diff", "ntime", "bbversion", "nbit"] {
        template.remove(k);
    }
    // A template fitted beside a large coinbase lost its last transactions: republish what
    // the job really holds, so `gbt` agrees with `txns` and `merkles`.
    let raw_txs = template
        .get("transactions")
        .and_then(Value::as_array)
        .map(Vec::len);
    if raw_txs.is_some_and(|n| n != t.transactions.len()) {
        if let Some(Value::Array(txs)) = template.get_mut("transactions") {
            txs.truncate(t.transactions.len());
        }
        template.insert("coinbasevalue".into(), Value::from(t.coinbase_value));
        if let Some(wc) = &t.witness_commitment {
            template.insert(
                "default_witness_commitment".into(),
                Value::from(hex::encode(wc.as_bytes())),
            );
        }
    }
    Workbase {
        gbt: Gbt {
            template,
            diff: job.network_difficulty,
            ntime: format!("{:08x}", job.ntime),
            bbversion: format!("{:08x}", job.version),
            nbit: format!("{:08x}", job.bits),
        },
        workinfoid: job.id.0,
        txns: t
            .transactions
            .iter()
            .map(|tx| Txn {
                txid: tx.txid.to_string(),
                data: hex::encode(&tx.data),
            })
            .collect(),
        merkles: job
            .merkle_branch
            .iter()
            .map(|m| Merkle {
                merkle: hex::encode(m),
            })
            .collect(),
        coinb1: hex::encode(&job.coinb1),
        coinb2: hex::encode(coinb2),
        coinb3: hex::encode(coinb3),
        header: job.ckpool_header_hex(),
    }
}

/// ckpool's `UserWorkbase` from the exact `mining.notify` line a user was sent; `None` when
/// the line is not a notify with 9 params (it always is: we serialized it).
pub fn user_workbase(job_id: JobId, notify_line: &[u8]) -> Option<UserWorkbase> {
    let v: Value = serde_json::from_slice(notify_line).ok()?;
    let params = v.get("params")?.as_array()?.clone();
    if params.len() != 9 {
        return None;
    }
    Some(UserWorkbase {
        params,
        id: Value::Null,
        method: "mining.notify".into(),
        workinfoid: job_id.0,
    })
}

/// ckpool's `Share` for an accepted share record.
pub fn share(rec: &ShareRecord) -> Share {
    let since = rec
        .at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Share {
        workinfoid: rec.job_id.0,
        clientid: rec.client_id,
        enonce1: hex::encode(rec.extranonce1.as_slice()),
        nonce2: hex::encode(rec.extranonce2.as_slice()),
        nonce: format!("{:08x}", rec.nonce),
        ntime: format!("{:08x}", rec.ntime),
        diff: rec.diff,
        sdiff: rec.sdiff,
        hash: display_hex(&rec.hash),
        result: rec.result.is_ok(),
        errn: 0,
        createdate: createdate(since.as_secs(), since.subsec_nanos()),
        createby: "code".into(),
        createcode: "parse_submit".into(),
        createinet: rec.listener.to_string(),
        workername: rec.worker.to_string(),
        username: rec.username.to_string(),
        address: rec.peer.ip().to_string(),
        agent: rec.agent.to_string(),
    }
}

/// Turns the event stream into the message stream, with ckpool's ordering guarantees: a
/// job's `Workbase` precedes its `UserWorkbase`s, a user's `UserWorkbase` precedes that
/// user's `Share`s on the job, and each is published once.
#[derive(Debug)]
pub struct Converter {
    mindiff: f64,
    jobs: VecDeque<Arc<Job>>,
    users: HashSet<(JobId, Arc<str>)>,
    users_order: VecDeque<(JobId, Arc<str>)>,
    /// The newest jobs and each user's work on them, oldest first, for [`Converter::replay`].
    /// The works are the job board's own (shared, not copied).
    replay: VecDeque<Replayed>,
}

/// A job as a late subscriber is sent it again: its `Workbase`, then every `UserWorkbase`
/// published for it, in the order they were.
#[derive(Debug)]
struct Replayed {
    job: Arc<Job>,
    users: Vec<(Arc<UserWork>, bool)>,
}

impl Converter {
    /// A converter publishing shares of difficulty `mindiff` and above (`zmqpub_mindiff`).
    pub fn new(mindiff: f64) -> Self {
        Converter {
            mindiff,
            jobs: VecDeque::with_capacity(RECENT_JOBS),
            users: HashSet::new(),
            users_order: VecDeque::new(),
            replay: VecDeque::with_capacity(REPLAYED_JOBS),
        }
    }

    /// The messages a subscriber that joins now needs so that none of the shares it will
    /// see is orphaned: the newest jobs' `Workbase`s, each followed by its `UserWorkbase`s.
    /// ckpool-solo sends a workbase once, so a consumer that (re)connects mid-job misses it
    /// and fails the job's shares with "Missing workbase"; the publisher calls this when its
    /// XPUB socket sees a subscription. Subscribers already there get the messages again
    /// (a PUB socket cannot address one subscriber): the same ids with the same content.
    pub fn replay(&self, out: &mut Vec<ZmqMessage>) {
        for r in &self.replay {
            out.push(ZmqMessage::Workbase(workbase(&r.job)));
            for (work, clean) in &r.users {
                let line = if *clean {
                    &work.notify_clean
                } else {
                    &work.notify
                };
                if let Some(uwb) = user_workbase(r.job.id, &line.to_vec()) {
                    out.push(ZmqMessage::UserWorkbase(uwb));
                }
            }
        }
    }

    /// Appends the messages `event` produces to `out` (none, one, or several).
    pub fn on_event(&mut self, event: Event, out: &mut Vec<ZmqMessage>) {
        match event {
            Event::Job(job) => self.on_job(&job, out),
            Event::UserNotify {
                job,
                work,
                clean,
                username,
            } => {
                self.on_job(&job, out);
                self.on_user(&job, &work, clean, username, out);
            }
            Event::Share(rec) => self.on_share(&rec, out),
            Event::Authorized { .. } | Event::Disconnected { .. } | Event::BlockVerdict(_) => {}
        }
    }

    fn on_job(&mut self, job: &Arc<Job>, out: &mut Vec<ZmqMessage>) {
        if self.jobs.iter().any(|j| j.id == job.id) {
            return;
        }
        if self.jobs.len() == RECENT_JOBS {
            self.jobs.pop_front();
        }
        self.jobs.push_back(job.clone());
        if self.replay.len() == REPLAYED_JOBS {
            self.replay.pop_front();
        }
        self.replay.push_back(Replayed {
            job: job.clone(),
            users: Vec::new(),
        });
        out.push(ZmqMessage::Workbase(workbase(job)));
    }

    fn on_user(
        &mut self,
        job: &Job,
        work: &Arc<UserWork>,
        clean: bool,
        username: Arc<str>,
        out: &mut Vec<ZmqMessage>,
    ) {
        let key = (job.id, username);
        if self.users.contains(&key) {
            return;
        }
        if self.users_order.len() == USER_WORKBASES_KEPT {
            if let Some(old) = self.users_order.pop_front() {
                self.users.remove(&old);
            }
        }
        self.users.insert(key.clone());
        self.users_order.push_back(key);
        let line = if clean {
            &work.notify_clean
        } else {
            &work.notify
        };
        match user_workbase(job.id, &line.to_vec()) {
            Some(uwb) => {
                out.push(ZmqMessage::UserWorkbase(uwb));
                if let Some(r) = self.replay.iter_mut().find(|r| r.job.id == job.id) {
                    r.users.push((work.clone(), clean));
                }
            }
            None => tracing::error!(job = %job.id, "zmqpub: unreadable notify line"),
        }
    }

    fn on_share(&mut self, rec: &ShareRecord, out: &mut Vec<ZmqMessage>) {
        if rec.result.is_err() || rec.diff < self.mindiff {
            return;
        }
        // A user whose notify was not announced (no UserNotify event reached us) gets it
        // now, before the share that needs it: the work the share was judged on.
        if !self.users.contains(&(rec.job_id, rec.username.clone())) {
            let job = self.jobs.iter().find(|j| j.id == rec.job_id).cloned();
            if let (Some(job), Some(work)) = (job, &rec.work) {
                self.on_user(&job, work, false, rec.username.clone(), out);
            }
        }
        out.push(ZmqMessage::Share(share(rec)));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bitcoin::consensus::Decodable;
    use bitcoin::{TxOut, VarInt};
    use ckpool_compat::zmq::to_json_line;

    use super::*;
    use crate::node::template::Template;
    use crate::short_bytes::ShortBytes;
    use crate::work::payout::{Donation, PayoutPlan};
    use crate::work::Payee;
    use crate::work::{BuildContext, JobBuilder, JobConfig};

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/ckpool/zmq/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// The (seconds, nanoseconds) pushes after height and flags in ckpool's coinb1.
    fn time_pushes(coinb1: &[u8]) -> (u32, u32) {
        let mut i = 4 + 1 + 32 + 4 + 1;
        let mut push = || {
            let len = coinb1[i] as usize;
            let v = coinb1[i + 1..i + 1 + len]
                .iter()
                .rev()
                .fold(0u32, |a, x| (a << 8) | u32::from(*x));
            i += 1 + len;
            v
        };
        let (_height, _flags) = (push(), push());
        (push(), push())
    }

    /// The captured Workbase's template built our way for the captured payee (solo, the
    /// capture's donation), at the capture's coinbase time, as a non-clean job.
    fn captured_job() -> (Arc<Job>, Payee, Value, Value) {
        let wb = fixture("workbases.json")[0]["Workbase"].clone();
        let uwb = fixture("userworkbases.json")[0]["UserWorkbase"].clone();
        let ck_coinb2 = hex::decode(uwb["params"][3].as_str().unwrap()).unwrap();
        let mut r = &ck_coinb2[22..];
        let n = VarInt::consensus_decode(&mut r).unwrap().0;
        let outputs: Vec<TxOut> = (0..n)
            .map(|_| TxOut::consensus_decode(&mut r).unwrap())
            .collect();
        let mut gbt = wb["gbt"].clone();
        for k in ["diff", "ntime", "bbversion", "nbit"] {
            gbt.as_object_mut().unwrap().remove(k);
        }
        let template = Arc::new(Template::from_json(gbt).unwrap());
        let value = template.coinbase_value as f64;
        let builder = JobBuilder::new(JobConfig {
            nonce1_len: 4,
            nonce2_len: 8,
            btcsig: b"/p2poolv2/".to_vec(),
        });
        let plan = Arc::new(PayoutPlan::solo(Some(Donation {
            script: outputs[1].script_pubkey.clone(),
            percent: outputs[1].value.to_sat() as f64 * 100.0 / value,
        })));
        let (secs, nanos) = time_pushes(&hex::decode(wb["coinb1"].as_str().unwrap()).unwrap());
        let at = BuildContext {
            clean: false,
            generation: 1,
            now: SystemTime::UNIX_EPOCH + Duration::new(u64::from(secs), nanos),
        };
        let job = Arc::new(builder.build(&template, &plan, at).unwrap());
        (job, Payee::Miner(outputs[0].script_pubkey.clone()), wb, uwb)
    }

    /// Our Workbase matches the captured one field by field; the only differences are the
    /// ones that come from the clock (workinfoid) and from float rounding of `diff`.
    #[test]
    fn workbase_matches_capture() {
        let (job, _, ck, _) = captured_job();
        let ours = serde_json::to_value(workbase(&job)).unwrap();
        for k in ["txns", "merkles", "coinb1", "coinb2", "coinb3", "header"] {
            assert_eq!(ours[k], ck[k], "{k}");
        }
        assert_eq!(ours["workinfoid"].as_u64(), Some(job.id.0));
        let (o, c) = (
            ours["gbt"].as_object().unwrap(),
            ck["gbt"].as_object().unwrap(),
        );
        assert_eq!(
            o.keys().collect::<Vec<_>>(),
            c.keys().collect::<Vec<_>>(),
            "gbt keys and their order"
        );
        for (k, v) in c {
            if k == "diff" {
                let (a, b) = (o[k].as_f64().unwrap(), v.as_f64().unwrap());
                assert!((a - b).abs() <= b * 1e-12, "diff {a} vs {b}");
            } else {
                assert_eq!(&o[k], v, "gbt.{k}");
            }
        }
        // Parses back as the typed message.
        let line = to_json_line(&ZmqMessage::Workbase(workbase(&job)));
        assert!(line.starts_with(r#"{"Workbase":{"gbt":{"capabilities":["proposal"]"#));
        assert!(serde_json::from_str::<ZmqMessage>(&line).is_ok());
    }

    /// The UserWorkbase is the user's notify verbatim: byte-identical to the capture once
    /// the workinfoid (a clock value) is the capture's.
    #[test]
    fn user_workbase_is_the_users_notify() {
        let (job, payee, _, ck) = captured_job();
        let work = job.work_for(&payee).unwrap();
        let ck_id = ck["workinfoid"].as_u64().unwrap();
        let mut uwb = user_workbase(job.id, &work.notify.to_vec()).unwrap();
        assert_eq!(uwb.params[0], Value::from(job.id.to_string()));
        assert_eq!(uwb.workinfoid, job.id.0);
        uwb.params[0] = ck["params"][0].clone();
        uwb.workinfoid = ck_id;
        let expected = serde_json::json!({ "UserWorkbase": ck });
        assert_eq!(
            to_json_line(&ZmqMessage::UserWorkbase(uwb)),
            ckpool_compat::jansson::dumps(&expected, &ckpool_compat::jansson::DumpFormat::COMPACT)
        );
        assert!(user_workbase(job.id, b"{\"params\":[1,2]}").is_none());
        assert!(user_workbase(job.id, b"not json").is_none());
    }

    fn captured_share_record() -> ShareRecord {
        let s = &fixture("shares.json")[0]["Share"];
        let hex_str = |k: &str| s[k].as_str().unwrap().to_string();
        let e1 = hex::decode(hex_str("enonce1")).unwrap();
        let e2 = hex::decode(hex_str("nonce2")).unwrap();
        let mut hash: [u8; 32] = hex::decode(hex_str("hash")).unwrap().try_into().unwrap();
        hash.reverse();
        let (secs, nanos) = hex_str("createdate")
            .split_once(',')
            .map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap()))
            .unwrap();
        ShareRecord {
            job_id: JobId(s["workinfoid"].as_u64().unwrap()),
            client_id: s["clientid"].as_u64().unwrap(),
            extranonce1: ShortBytes::new(&e1).unwrap(),
            extranonce2: ShortBytes::new(&e2).unwrap(),
            nonce: u32::from_str_radix(&hex_str("nonce"), 16).unwrap(),
            ntime: u32::from_str_radix(&hex_str("ntime"), 16).unwrap(),
            diff: s["diff"].as_f64().unwrap(),
            sdiff: s["sdiff"].as_f64().unwrap(),
            hash,
            result: Ok(()),
            version: None,
            work: None,
            is_block: false,
            at: SystemTime::UNIX_EPOCH + Duration::new(secs, nanos),
            listener: hex_str("createinet").parse().unwrap(),
            worker: hex_str("workername").into(),
            username: hex_str("username").into(),
            peer: format!("{}:40000", hex_str("address")).parse().unwrap(),
            agent: hex_str("agent").into(),
        }
    }

    /// A share record with the captured share's values prints byte for byte as ckpool did.
    #[test]
    fn share_is_byte_identical_to_capture() {
        let expected = fixture("shares.json");
        let line = to_json_line(&ZmqMessage::Share(share(&captured_share_record())));
        assert_eq!(
            line,
            ckpool_compat::jansson::dumps(
                &expected[0],
                &ckpool_compat::jansson::DumpFormat::COMPACT
            )
        );
    }

    fn kinds(out: &[ZmqMessage]) -> Vec<&'static str> {
        out.iter()
            .map(|m| match m {
                ZmqMessage::Workbase(_) => "W",
                ZmqMessage::UserWorkbase(_) => "U",
                ZmqMessage::Share(_) => "S",
            })
            .collect()
    }

    /// Each job's Workbase once, each (job, user) UserWorkbase once and before the user's
    /// shares, shares below `zmqpub_mindiff` and rejected shares not at all.
    #[test]
    fn ordering_dedupe_and_mindiff() {
        let (job, payee, _, uwb) = captured_job();
        let work = job.work_for(&payee).unwrap();
        let user: Arc<str> = Arc::from("alice");
        let mut c = Converter::new(0.5);
        let mut out = Vec::new();
        // A session's notify may overtake the job event: the Workbase still comes first.
        for _ in 0..3 {
            c.on_event(
                Event::UserNotify {
                    job: job.clone(),
                    work: work.clone(),
                    clean: false,
                    username: user.clone(),
                },
                &mut out,
            );
        }
        c.on_event(Event::Job(job.clone()), &mut out);
        assert_eq!(kinds(&out), ["W", "U"]);

        // The captured user, never announced: their UserWorkbase, from the work their share
        // was judged on, comes before their first share.
        let mut rec = captured_share_record();
        rec.job_id = job.id;
        rec.work = Some(work.clone());
        out.clear();
        c.on_event(Event::Share(rec.clone()), &mut out);
        c.on_event(Event::Share(rec.clone()), &mut out);
        assert_eq!(kinds(&out), ["U", "S", "S"]);
        match &out[0] {
            ZmqMessage::UserWorkbase(u) => {
                assert_eq!(u.params[1..], uwb["params"].as_array().unwrap()[1..])
            }
            _ => unreachable!(),
        }

        out.clear();
        let mut low = rec.clone();
        low.diff = 0.25;
        c.on_event(Event::Share(low), &mut out);
        let mut rejected = rec;
        rejected.result = Err(crate::share::Reject::Stale);
        c.on_event(Event::Share(rejected), &mut out);
        assert!(out.is_empty());
    }

    /// A late subscriber's replay: the job's Workbase, then each UserWorkbase published for
    /// it, in order, byte for byte as first sent; nothing before the first job.
    #[test]
    fn replay_is_what_was_published_for_the_newest_jobs() {
        let (job, payee, _, _) = captured_job();
        let work = job.work_for(&payee).unwrap();
        let mut c = Converter::new(0.0);
        let mut replay = Vec::new();
        c.replay(&mut replay);
        assert!(replay.is_empty());
        let mut sent = Vec::new();
        for (user, clean) in [("alice", true), ("bob", false), ("alice", false)] {
            c.on_event(
                Event::UserNotify {
                    job: job.clone(),
                    work: work.clone(),
                    clean,
                    username: Arc::from(user),
                },
                &mut sent,
            );
        }
        let mut rec = captured_share_record();
        rec.job_id = job.id;
        rec.work = Some(work.clone());
        c.on_event(Event::Share(rec), &mut sent);
        // Workbase, alice's (clean) and bob's UserWorkbases, the captured user's, the share.
        assert_eq!(kinds(&sent), ["W", "U", "U", "U", "S"]);
        c.replay(&mut replay);
        let lines = |m: &[ZmqMessage]| m.iter().map(to_json_line).collect::<Vec<_>>();
        assert_eq!(lines(&replay), lines(&sent[..4]));
    }
}
