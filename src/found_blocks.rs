//! The consumer of the lossless share sink (`share::found`): every block solution is
//! assembled and handed to the block submitter, in the order found, and in p2pool mode
//! every share-chain share goes to the share chain's thread. It runs until every session
//! and listener is gone.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::node::submitter::{BlockSubmitter, SolvedBlock};
use crate::share::found::InFlight;
use crate::share::FoundShare;
use crate::sharechain::{ChainRequest, Offered};

/// Takes found shares from `rx` until every sender is gone; each is done (`in_flight`)
/// once its block is archived (or could not be assembled) and its share-chain share is
/// stored (`chain`: p2pool mode's share chain).
pub async fn run(
    mut rx: mpsc::Receiver<FoundShare>,
    submitter: Arc<BlockSubmitter>,
    in_flight: Arc<InFlight>,
    chain: Option<mpsc::Sender<ChainRequest>>,
) {
    while let Some(found) = rx.recv().await {
        // Taken before the block goes: the block is submitted first, and only then may
        // this wait for room in the chain's queue.
        // Counted in flight now, before the found share's own count can reach zero.
        let for_chain = match (&chain, found.is_chain_share()) {
            (Some(_), true) => match found.chain_share() {
                Some(share) => Some(Offered::new(share, found.worker.clone(), in_flight.clone())),
                None => {
                    tracing::error!(hash = %found.hash_hex(), "a share-chain share without share metadata; not kept");
                    None
                }
            },
            _ => None,
        };
        if found.solves_block() {
            submit_block(found, &submitter, &in_flight).await;
        } else {
            in_flight.done();
        }
        if let (Some(chain), Some(offered)) = (&chain, for_chain) {
            // Counted apart from the block: done once stored (or dropped unstored).
            if chain
                .send(ChainRequest::Mined(Box::new(offered)))
                .await
                .is_err()
            {
                tracing::error!("the share chain is gone; share not kept");
            }
        }
    }
}

/// Assembles a block solution and hands it to the submitter; done (`in_flight`) once it is
/// archived or could not be assembled.
async fn submit_block(
    found: FoundShare,
    submitter: &Arc<BlockSubmitter>,
    in_flight: &Arc<InFlight>,
) {
    let hash = found.hash_hex();
    let height = found.job.template.height;
    let worker = found.worker.to_string();
    // Serializing a full block with its transactions takes milliseconds: not on the
    // runtime's workers, beside the miners' sessions.
    let assembled =
        tokio::task::spawn_blocking(move || found.assemble_block().map(hex::encode)).await;
    match assembled {
        Ok(Ok(hex)) => {
            let archived = submitter.submit(SolvedBlock {
                height,
                hash,
                hex,
                worker,
            });
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                let _ = archived.await;
                in_flight.done();
            });
        }
        Ok(Err(e)) => {
            tracing::error!(height, %hash, "cannot assemble block: {e}");
            submitter.not_assembled(height, &hash, &worker, format!("cannot assemble: {e}"));
            in_flight.done();
        }
        Err(e) => {
            tracing::error!(height, %hash, "block assembly failed: {e}");
            submitter.not_assembled(height, &hash, &worker, format!("assembly failed: {e}"));
            in_flight.done();
        }
    }
}
