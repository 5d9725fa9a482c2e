//! The consumer of the lossless share sink (`share::found`): every block solution is
//! assembled and handed to the block submitter, in the order found, and in p2pool mode
//! every share-chain share goes to the share chain's thread. It runs until every session
//! and listener is gone.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::node::submitter::{BlockSubmitter, SolvedBlock};
use crate::share::found::InFlight;
use crate::share::FoundShare;
use crate::sharechain::Offered;

/// Takes found shares from `rx` until every sender is gone; each is done (`in_flight`)
/// once its block is archived (or could not be assembled) and its share-chain share is
/// stored (`chain`: p2pool mode's share chain).
pub async fn run(
    mut rx: mpsc::Receiver<FoundShare>,
    submitter: Arc<BlockSubmitter>,
    in_flight: Arc<InFlight>,
    chain: Option<mpsc::Sender<Offered>>,
) {
    while let Some(found) = rx.recv().await {
        if let Some(chain) = &chain {
            if let Some(share) = found
                .is_chain_share()
                .then(|| found.chain_share())
                .flatten()
            {
                // Counted apart from the block: each is done on its own path.
                in_flight.add();
                let offered = Offered {
                    share,
                    worker: found.worker.clone(),
                    in_flight: in_flight.clone(),
                };
                if chain.send(offered).await.is_err() {
                    in_flight.done();
                    tracing::error!(hash = %found.hash_hex(), "the share chain is gone; share not kept");
                }
            }
        }
        if !found.solves_block() {
            in_flight.done();
            continue;
        }
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
