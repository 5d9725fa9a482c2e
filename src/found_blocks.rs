//! The consumer of the lossless share sink (`share::found`): every block solution is
//! assembled and handed to the block submitter, in the order found. (The share chain will
//! take its shares from the same sink.) It runs until every session and listener is gone.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::node::submitter::{BlockSubmitter, SolvedBlock};
use crate::share::found::InFlight;
use crate::share::FoundShare;

/// Takes found shares from `rx` until every sender is gone; each is done (`in_flight`)
/// once its block is archived (or could not be assembled).
pub async fn run(
    mut rx: mpsc::Receiver<FoundShare>,
    submitter: Arc<BlockSubmitter>,
    in_flight: Arc<InFlight>,
) {
    while let Some(found) = rx.recv().await {
        let hash = found.hash_hex();
        let height = found.job.template.height;
        // Serializing a full block with its transactions takes milliseconds: not on the
        // runtime's workers, beside the miners' sessions.
        let assembled =
            tokio::task::spawn_blocking(move || found.assemble_block().map(hex::encode)).await;
        match assembled {
            Ok(Ok(hex)) => {
                let archived = submitter.submit(SolvedBlock { height, hash, hex });
                let in_flight = in_flight.clone();
                tokio::spawn(async move {
                    let _ = archived.await;
                    in_flight.done();
                });
            }
            Ok(Err(e)) => {
                tracing::error!(height, %hash, "cannot assemble block: {e}");
                submitter.not_assembled(hash, format!("cannot assemble: {e}"));
                in_flight.done();
            }
            Err(e) => {
                tracing::error!(height, %hash, "block assembly failed: {e}");
                submitter.not_assembled(hash, format!("assembly failed: {e}"));
                in_flight.done();
            }
        }
    }
}
