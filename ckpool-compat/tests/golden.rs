//! Golden tests against files captured from ckpool (see tests/fixtures/README.md).

use ckpool_compat::sharelog::{parse_sharelog, sharelog_file_name, SharelogEntry};
use ckpool_compat::stats::{
    parse_pool_status, parse_suffixed, parse_user_stats, pool_status_text, suffix_hashrate,
    user_stats_text,
};
use ckpool_compat::zmq::{createdate, to_json_line, workinfoid, Share, ZmqMessage};
use serde_json::Value;

const ZMQ_FILES: &[&str] = &[
    "shares.json",
    "shares_only.json",
    "userworkbases.json",
    "workbases.json",
    "workbases_only.json",
];

fn fixture(rel: &str) -> String {
    let path = format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The raw text with whitespace outside strings removed: keeps every number's original
/// digits, so it is the sample's own bytes in compact form.
fn compact_raw(text: &str) -> String {
    let mut out = String::new();
    let (mut in_str, mut escaped) = (false, false);
    for c in text.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if !c.is_whitespace() {
            if c == '"' {
                in_str = true;
            }
            out.push(c);
        }
    }
    out
}

#[test]
fn every_zmq_sample_round_trips_value_and_key_order() {
    let mut count = 0;
    for file in ZMQ_FILES {
        let text = fixture(&format!("zmq/{file}"));
        let elements: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert!(!elements.is_empty(), "{file}");
        for original in elements {
            let msg: ZmqMessage =
                serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
            let back = serde_json::to_value(&msg).unwrap();
            assert_eq!(back, original, "{file}: value differs");
            assert_eq!(
                serde_json::to_string(&msg).unwrap(),
                serde_json::to_string(&original).unwrap(),
                "{file}: key order differs"
            );
            count += 1;
        }
    }
    assert!(count >= 7);
}

#[test]
fn to_json_line_reproduces_sample_bytes() {
    for file in ZMQ_FILES {
        let text = fixture(&format!("zmq/{file}"));
        let msgs: Vec<ZmqMessage> = serde_json::from_str(&text).unwrap();
        let lines: Vec<String> = msgs.iter().map(to_json_line).collect();
        assert_eq!(
            format!("[{}]", lines.join(",")),
            compact_raw(&text),
            "{file}"
        );
    }
}

fn sample_share_from_parts() -> Share {
    Share {
        workinfoid: workinfoid(0x67b6f8fc, 3),
        clientid: 1,
        enonce1: "fdf8b667".into(),
        nonce2: "0000000000000000".into(),
        nonce: "f15f1590".into(),
        ntime: "67b6f938".into(),
        diff: 1.0,
        sdiff: 31.46584759492855, // prints as 31.465847594928551 (%.17g)
        hash: "000000000822bbfaf34d53fc43d0c1382054d3aafe31893020c315db8b0a19f9".into(),
        result: true,
        errn: 0,
        createdate: createdate(1740044611, 331134621),
        createby: "code".into(),
        createcode: "parse_submit".into(),
        createinet: "0.0.0.0:3333".into(),
        workername: "tb1q3udk7r26qs32ltf9nmqrjaaa7tr55qmkk30q5d".into(),
        username: "tb1q3udk7r26qs32ltf9nmqrjaaa7tr55qmkk30q5d".into(),
        address: "127.0.0.1".into(),
        agent: "cpuminer/2.5.1".into(),
    }
}

#[test]
fn share_built_from_parts_matches_sample_text() {
    let msg = ZmqMessage::Share(sample_share_from_parts());
    let text = fixture("zmq/shares.json");
    let expected = compact_raw(&text);
    let expected = &expected[1..expected.len() - 1]; // the single element
    assert_eq!(to_json_line(&msg), expected);
    let parsed: Vec<ZmqMessage> = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed[0], msg);
}

#[test]
fn userworkbase_job_id_is_workinfoid_hex() {
    let msgs: Vec<ZmqMessage> = serde_json::from_str(&fixture("zmq/userworkbases.json")).unwrap();
    let ZmqMessage::UserWorkbase(uwb) = &msgs[0] else {
        panic!("not a UserWorkbase")
    };
    assert_eq!(uwb.params.len(), 9);
    assert_eq!(uwb.params[0], format!("{:016x}", uwb.workinfoid));
    assert_eq!(uwb.method, "mining.notify");
    assert!(uwb.id.is_null());
}

#[test]
fn pool_status_reproduced_byte_for_byte() {
    let text = fixture("stats/pool.status");
    let status = parse_pool_status(&text).unwrap();
    assert_eq!(status.counts.runtime, 540);
    assert_eq!(status.counts.disconnected, 8);
    assert_eq!(status.shares.sps1m, 1.54e-5);
    assert_eq!(
        pool_status_text(&status.counts, &status.hashrates, &status.shares),
        text
    );
}

#[test]
fn user_stats_reproduced_byte_for_byte() {
    let text = fixture("stats/users/bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080");
    let stats = parse_user_stats(&text).unwrap();
    assert_eq!(stats.worker.len(), 2);
    assert_eq!(stats.worker[1].bestshare, 3.174475678840051);
    assert_eq!(user_stats_text(&stats), text);
}

#[test]
fn every_sample_hashrate_is_reproduced_by_suffix_hashrate() {
    let status = parse_pool_status(&fixture("stats/pool.status")).unwrap();
    let user = parse_user_stats(&fixture(
        "stats/users/bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
    ))
    .unwrap();
    let h = &status.hashrates;
    let mut samples = vec![
        &h.hashrate1m,
        &h.hashrate5m,
        &h.hashrate15m,
        &h.hashrate1hr,
        &h.hashrate6hr,
        &h.hashrate1d,
        &h.hashrate7d,
        &user.hashrate1m,
        &user.hashrate5m,
        &user.hashrate1hr,
        &user.hashrate1d,
        &user.hashrate7d,
    ];
    for w in &user.worker {
        samples.extend([
            &w.hashrate1m,
            &w.hashrate5m,
            &w.hashrate1hr,
            &w.hashrate1d,
            &w.hashrate7d,
        ]);
    }
    assert_eq!(samples.len(), 22);
    for s in samples {
        let v = parse_suffixed(s).unwrap_or_else(|| panic!("unparseable {s}"));
        assert_eq!(&suffix_hashrate(v), s, "exact value");
        // Anything that rounds to the same 3 digits prints the same.
        assert_eq!(&suffix_hashrate(v * 1.0004), s, "slightly above");
        assert_eq!(&suffix_hashrate(v * 0.9996), s, "slightly below");
    }
}

#[test]
fn sharelog_line_from_a_sample_share() {
    let entry = SharelogEntry::from(sample_share_from_parts());
    let line = entry.to_line();
    assert_eq!(
        line,
        concat!(
            r#"{"workinfoid": 7473434392883363843, "clientid": 1, "enonce1": "fdf8b667", "#,
            r#""nonce2": "0000000000000000", "nonce": "f15f1590", "ntime": "67b6f938", "#,
            r#""diff": 1.0, "sdiff": 31.465847594928551, "#,
            r#""hash": "000000000822bbfaf34d53fc43d0c1382054d3aafe31893020c315db8b0a19f9", "#,
            r#""result": true, "errn": 0, "createdate": "1740044611,331134621", "#,
            r#""createby": "code", "createcode": "parse_submit", "createinet": "0.0.0.0:3333", "#,
            r#""workername": "tb1q3udk7r26qs32ltf9nmqrjaaa7tr55qmkk30q5d", "#,
            r#""username": "tb1q3udk7r26qs32ltf9nmqrjaaa7tr55qmkk30q5d", "#,
            r#""address": "127.0.0.1", "agent": "cpuminer/2.5.1"}"#,
            "\n"
        )
    );
    let parsed = parse_sharelog(&format!("{line}{line}")).unwrap();
    assert_eq!(parsed, vec![entry.clone(), entry]);
    assert_eq!(
        sharelog_file_name(7473434392883363843),
        "67b6f8fc00000003.sharelog"
    );
}

#[test]
fn rejected_sharelog_line_carries_reason_after_result() {
    let mut entry = SharelogEntry::from(sample_share_from_parts());
    entry.result = false;
    entry.errn = 8;
    entry.reject_reason = Some("Duplicate".into());
    entry.error = Some(Value::String("Duplicate share".into()));
    let line = entry.to_line();
    assert!(line.contains(
        r#""result": false, "reject-reason": "Duplicate", "error": "Duplicate share", "errn": 8,"#
    ));
    assert_eq!(parse_sharelog(&line).unwrap(), vec![entry]);
}
