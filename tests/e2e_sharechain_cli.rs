//! `stratumd sharechain spec`, the real binary: a preset's spec and id as JSON, the same
//! for a spec file, and a clear refusal of an unknown preset or an invalid file.

use std::process::Command;

use stratumd::p2pool::spec::{ChainSpec, PRESETS};

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stratumd"))
        .args(args)
        .output()
        .expect("stratumd runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_preset_prints_its_spec_and_the_id_of_that_spec() {
    for preset in PRESETS {
        let (ok, out, err) = run(&["sharechain", "spec", "--preset", preset, "--json"]);
        assert!(ok, "{preset}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let spec: ChainSpec = serde_json::from_value(v["spec"].clone()).unwrap();
        assert_eq!(spec, ChainSpec::preset(preset).unwrap());
        assert_eq!(v["id"], spec.id().to_string(), "{preset}");
    }
}

#[test]
fn a_spec_file_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.json");
    let mut spec = ChainSpec::preset("regtest").unwrap();
    spec.name = "my-private-chain".into();
    std::fs::write(&path, serde_json::to_string(&spec.to_json()).unwrap()).unwrap();
    let file = path.display().to_string();
    let (ok, out, err) = run(&["sharechain", "spec", "--file", &file]);
    assert!(ok, "{err}");
    assert!(out.starts_with(&format!("chain id {}", spec.id())), "{out}");
    assert!(out.contains("my-private-chain"), "{out}");

    let mut bad = spec.to_json();
    bad["uncle_penalty_bps"] = serde_json::json!(20_000);
    std::fs::write(&path, bad.to_string()).unwrap();
    let (ok, _, err) = run(&["sharechain", "spec", "--file", &file]);
    assert!(!ok && err.contains("uncle_penalty_bps"), "{err}");
    let (ok, _, err) = run(&["sharechain", "spec", "--preset", "mainnet"]);
    assert!(!ok && err.contains("presets are"), "{err}");
}
