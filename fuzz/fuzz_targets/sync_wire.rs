//! The share chain's sync protocol bodies (`SyncRequest`, `SyncResponse`) from a peer.
//!
//! Checked: nothing panics, and a body that decodes re-encodes to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stratumd::p2p::wire::{SyncRequest, SyncResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = SyncRequest::decode(data) {
        assert_eq!(request.encode(), data, "request re-encoded differently");
    }
    if let Ok(response) = SyncResponse::decode(data) {
        assert_eq!(response.encode(), data, "response re-encoded differently");
    }
});
