//! Share-chain shares from the wire: decoded as a peer's gossip is, then offered, in order,
//! to a regtest share chain the way a peer's shares reach it. The input is a series of
//! shares, each behind a little-endian `u16` length.
//!
//! Checked: nothing panics; a share that decodes re-encodes to the very bytes it came from
//! (one wire form per share, so its id and commitment cannot be malleated); and the chain
//! never holds more than genesis plus the shares it called valid or set aside to wait.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stratumd::p2pool::chain::{Chain, Verdict};
use stratumd::p2pool::share::Share;
use stratumd::p2pool::spec::ChainSpec;

const NOW: u64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = ChainSpec::preset("regtest") else {
        return;
    };
    let mut chain = Chain::new(spec);
    let before = chain.len();
    let mut valid = 0;
    let mut rest = data;
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
        let (bytes, tail) = tail.split_at(len);
        rest = tail;
        if let Ok(share) = Share::decode(bytes) {
            assert_eq!(share.encode(), bytes, "a second wire form of one share");
            assert!(
                share.check_bounds().is_ok(),
                "decoded a share out of bounds"
            );
        }
        // A share set aside (missing its parent, or from the future) may be kept later,
        // when what it waits for arrives.
        if matches!(
            chain.offer_bytes(bytes, NOW),
            Verdict::Valid | Verdict::Missing(_) | Verdict::Future
        ) {
            valid += 1;
        }
    }
    assert!(
        chain.len() <= before + valid,
        "kept {} of {valid} valid",
        chain.len() - before
    );
});
