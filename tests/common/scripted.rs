//! A scripted stratum session for end-to-end tests: subscribe and authorize, find nonces
//! that meet or miss a difficulty (hashed with `stratum-miner`'s code, not the server's),
//! submit them, and check the replies.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use stratum_miner::client::StratumClient;
use stratum_miner::work::{difficulty_of, meets, u32_hex, Job};

/// Bound for a reply.
const T: Duration = Duration::from_secs(10);

/// Finds a nonce whose share hash meets `diff` (with a small margin) but stays below
/// `below` (so a share is never accidentally a block).
pub fn find_share(job: &Job, en1: &[u8], en2: &[u8], ntime: u32, diff: f64, below: f64) -> u32 {
    (0..=u32::MAX)
        .find(|&n| {
            let h = job.share_hash(en1, en2, ntime, n, job.version);
            meets(&h, diff * 1.01) && difficulty_of(&h) < below
        })
        .expect("a nonce")
}

/// Finds a nonce whose share hash clearly misses `diff`.
pub fn find_miss(job: &Job, en1: &[u8], en2: &[u8], ntime: u32, diff: f64) -> u32 {
    (0..=u32::MAX)
        .find(|&n| difficulty_of(&job.share_hash(en1, en2, ntime, n, job.version)) < diff / 2.0)
        .expect("a nonce")
}

/// [`find_share`] off the async runtime.
pub async fn find_share_async(
    job: &Job,
    en1: &[u8],
    en2: &[u8],
    ntime: u32,
    diff: f64,
    below: f64,
) -> u32 {
    let (job, en1, en2) = (job.clone(), en1.to_vec(), en2.to_vec());
    tokio::task::spawn_blocking(move || find_share(&job, &en1, &en2, ntime, diff, below))
        .await
        .unwrap()
}

/// Sends a `mining.submit` and returns the reply.
pub async fn submit(
    c: &mut StratumClient,
    user: &str,
    job_id: &str,
    en2: &[u8],
    ntime: u32,
    nonce: u32,
) -> Value {
    let id = c
        .request(
            "mining.submit",
            json!([
                user,
                job_id,
                hex::encode(en2),
                u32_hex(ntime),
                u32_hex(nonce)
            ]),
        )
        .await
        .unwrap();
    c.wait_reply(id, T).await.unwrap()
}

/// The reply rejects the share for `reason` with stratum error `code`.
pub fn assert_rejected(reply: &Value, reason: &str, code: i64) {
    assert_eq!(reply["result"], false, "expected {reason:?}: {reply}");
    assert_eq!(reply["reject-reason"], reason, "{reply}");
    assert_eq!(reply["error"][0], code, "{reply}");
    assert_eq!(reply["error"][1], reason, "{reply}");
}

/// The reply accepts the share.
pub fn assert_accepted(reply: &Value) {
    assert_eq!(reply["result"], true, "{reply}");
    assert!(reply["error"].is_null(), "{reply}");
}

/// A miner at `stratum` subscribed as `agent` (resuming `session` unless it is null) and
/// authorized as `user`: the client, the extranonce1 the server gave (hex) and the
/// extranonce2 length.
pub async fn authorized(
    stratum: SocketAddr,
    agent: &str,
    session: Value,
    user: &str,
) -> (StratumClient, String, usize) {
    let mut c = StratumClient::connect(stratum).await.unwrap();
    let id = c
        .request("mining.subscribe", json!([agent, session]))
        .await
        .unwrap();
    let sub = c.wait_reply(id, T).await.unwrap();
    let en1 = sub["result"][1].as_str().unwrap().to_string();
    let en2_len = sub["result"][2].as_u64().unwrap() as usize;
    let id = c
        .request("mining.authorize", json!([user, "x"]))
        .await
        .unwrap();
    assert_eq!(c.wait_reply(id, T).await.unwrap()["result"], true);
    (c, en1, en2_len)
}

/// Authorizes `user` on `stratum` and submits one share that solves a block at
/// `block_diff` on the first job; checks it is accepted. The session, for what follows.
pub async fn solve_a_block(
    stratum: SocketAddr,
    agent: &str,
    user: &str,
    block_diff: f64,
) -> StratumClient {
    let (mut c, en1, en2_len) = authorized(stratum, agent, Value::Null, user).await;
    let en1 = hex::decode(en1).unwrap();
    let notify = c.wait_method("mining.notify", T).await.unwrap();
    let job = Job::from_notify_params(&notify["params"]).unwrap();
    let en2 = vec![0u8; en2_len];
    let nonce = find_share_async(&job, &en1, &en2, job.ntime, block_diff, f64::INFINITY).await;
    let reply = submit(&mut c, user, &job.job_id, &en2, job.ntime, nonce).await;
    assert_accepted(&reply);
    c
}
