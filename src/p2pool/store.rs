//! The share chain on disk: RocksDB, one writer (the chain's task), every change an atomic
//! batch. Column families:
//!
//! - `shares`: share id → the kept [`Entry`] (height, chain work, work, block work, credits,
//!   then the share's wire form);
//! - `heights`: height (big-endian) ‖ id → nothing, so pruning and loading walk by height;
//! - `meta`: `chain` → the chain id the store was made for, `spec` → its spec (JSON, so the
//!   store can be read without being told the spec), `tip` → the tip when the last batch
//!   was written.
//!
//! A batch holds the new shares and the tip they give together, so a node killed at any
//! moment (`kill -9`) finds on restart a set of shares and the tip they give; the chain is
//! rebuilt from the shares alone ([`Chain::restore`]) and must agree with the stored tip.
//! Writes are not fsynced one by one: RocksDB's write-ahead log survives the process dying;
//! on power loss the newest writes may go, and the store is still a consistent prefix
//! (RocksDB's point-in-time recovery), which peers refill.

use std::path::{Path, PathBuf};

use bitcoin::ScriptBuf;
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, DB};
use ruint::aliases::U256;

use super::chain::{Chain, Entry};
use super::open_stores::OpenStore;
use super::share::{Share, ShareId};
use super::spec::{ChainId, ChainSpec};

const SHARES: &str = "shares";
const HEIGHTS: &str = "heights";
const META: &str = "meta";
const KEY_CHAIN: &[u8] = b"chain";
const KEY_TIP: &[u8] = b"tip";
const KEY_SPEC: &[u8] = b"spec";
/// The record format's version (first byte of every `shares` value).
const RECORD_VERSION: u8 = 3;

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed (open, read or write).
    #[error("share chain store {path}: {source}")]
    Db {
        /// The store's folder.
        path: PathBuf,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// The store was made for another chain spec.
    #[error("share chain store {path} holds chain {found}, not {expected} (another chain spec): use another folder")]
    OtherChain {
        /// The store's folder.
        path: PathBuf,
        /// The chain it holds.
        found: String,
        /// The chain of the spec in use.
        expected: ChainId,
    },
    /// A record does not read.
    #[error("share chain store {path}: record {what} is corrupt")]
    Corrupt {
        /// The store's folder.
        path: PathBuf,
        /// Which record.
        what: String,
    },
    /// The store was written by a build with another record format.
    #[error("share chain store {path} has records of format {found}, this build reads {RECORD_VERSION}: move the folder away (peers refill it)")]
    OldFormat {
        /// The store's folder.
        path: PathBuf,
        /// The format found.
        found: u8,
    },
    /// The tip rebuilt from the stored shares is not the stored tip.
    #[error("share chain store {path}: stored tip {stored}, the shares give {rebuilt}")]
    TipMismatch {
        /// The store's folder.
        path: PathBuf,
        /// The tip written with the last batch.
        stored: ShareId,
        /// The tip of the shares read back.
        rebuilt: ShareId,
    },
}

/// The open store of one chain.
pub struct Store {
    db: DB,
    path: PathBuf,
    /// Shares below this height were pruned by this process.
    pruned_below: u64,
    /// Last, so that it drops after `db`: the binary waits for every store to close.
    _open: OpenStore,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the store in `path` for the chain of `spec`; a store of another
    /// chain is refused.
    pub fn open(path: &Path, spec: &ChainSpec) -> Result<Store, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // A node's chain is small (two windows): keep RocksDB's footprint small too.
        opts.set_max_open_files(64);
        opts.set_keep_log_file_num(2);
        let cfs = [SHARES, HEIGHTS, META]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|source| StoreError::Db {
            path: path.to_path_buf(),
            source,
        })?;
        let store = Store {
            db,
            path: path.to_path_buf(),
            pruned_below: 0,
            _open: OpenStore::new(),
        };
        let id = spec.id();
        match store.get(META, KEY_CHAIN)? {
            Some(found) if found != id.0 => {
                return Err(StoreError::OtherChain {
                    path: store.path.clone(),
                    found: hex::encode(found),
                    expected: id,
                })
            }
            Some(_) => {}
            None => {
                let mut batch = WriteBatch::default();
                batch.put_cf(store.cf(META)?, KEY_CHAIN, id.0);
                batch.put_cf(store.cf(META)?, KEY_SPEC, spec.to_json().to_string());
                store.write(batch)?;
            }
        }
        Ok(store)
    }

    /// Opens a store read-only, also while its node runs (what it had written when opened),
    /// with the spec it was made for.
    pub fn open_read_only(path: &Path) -> Result<(Store, ChainSpec), StoreError> {
        let opts = Options::default();
        let db = DB::open_cf_for_read_only(&opts, path, [SHARES, HEIGHTS, META], false).map_err(
            |source| StoreError::Db {
                path: path.to_path_buf(),
                source,
            },
        )?;
        let store = Store {
            db,
            path: path.to_path_buf(),
            pruned_below: 0,
            _open: OpenStore::new(),
        };
        let spec = store
            .get(META, KEY_SPEC)?
            .and_then(|bytes| serde_json::from_slice::<ChainSpec>(&bytes).ok())
            .filter(|spec| spec.validate().is_ok())
            .ok_or_else(|| store.corrupt("spec"))?;
        let id = store.get(META, KEY_CHAIN)?;
        if id.as_deref() != Some(&spec.id().0[..]) {
            return Err(store.corrupt("chain id (not the spec's)"));
        }
        Ok((store, spec))
    }

    /// The store's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db_error(&self, source: rocksdb::Error) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, what: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what: what.into(),
        }
    }

    fn cf(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| self.corrupt(format!("column family {name}")))
    }

    fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get_cf(self.cf(cf)?, key)
            .map_err(|e| self.db_error(e))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.db.write(batch).map_err(|e| self.db_error(e))
    }

    /// The tip written with the last batch (`None` for a new store).
    pub fn stored_tip(&self) -> Result<Option<ShareId>, StoreError> {
        match self.get(META, KEY_TIP)? {
            None => Ok(None),
            Some(bytes) => {
                let id: [u8; 32] = bytes.try_into().map_err(|_| self.corrupt("tip"))?;
                Ok(Some(ShareId(id)))
            }
        }
    }

    /// One stored share's entry.
    pub fn entry(&self, id: &ShareId) -> Result<Option<Entry>, StoreError> {
        match self.get(SHARES, &id.0)? {
            None => Ok(None),
            Some(bytes) if bytes.first().is_some_and(|v| *v != RECORD_VERSION) => {
                Err(StoreError::OldFormat {
                    path: self.path.clone(),
                    found: bytes[0],
                })
            }
            Some(bytes) => decode_entry(&bytes)
                .map(Some)
                .ok_or_else(|| self.corrupt(id.to_string())),
        }
    }

    /// Every stored entry, lowest height first.
    pub fn entries(&self) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(HEIGHTS)?, IteratorMode::Start) {
            let (key, _) = item.map_err(|e| self.db_error(e))?;
            let id: [u8; 32] = key
                .get(8..)
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| self.corrupt("height index"))?;
            let id = ShareId(id);
            let entry = self
                .entry(&id)?
                .ok_or_else(|| self.corrupt(format!("{id} (indexed, not stored)")))?;
            out.push(entry);
        }
        Ok(out)
    }

    /// The chain of `spec` as stored: its shares, and the tip they give, checked against
    /// the tip written with them.
    pub fn load(&self, spec: ChainSpec) -> Result<Chain, StoreError> {
        let chain = Chain::restore(spec, self.entries()?);
        if let Some(stored) = self.stored_tip()? {
            if stored != chain.tip() {
                return Err(StoreError::TipMismatch {
                    path: self.path.clone(),
                    stored,
                    rebuilt: chain.tip(),
                });
            }
        }
        Ok(chain)
    }

    /// Writes the shares `chain` kept since the last call and its tip, in one batch; then
    /// prunes (chain and store, in another batch) shares more than `keep` below the tip.
    pub fn save(&mut self, chain: &mut Chain, keep: u64) -> Result<usize, StoreError> {
        let kept = chain.take_kept();
        if kept.is_empty() {
            return Ok(0);
        }
        let mut batch = WriteBatch::default();
        let (shares, heights, meta) = (self.cf(SHARES)?, self.cf(HEIGHTS)?, self.cf(META)?);
        let mut record = Vec::with_capacity(1024);
        for id in &kept {
            let Some(entry) = chain.get(id) else { continue };
            record.clear();
            encode_entry(entry, &mut record);
            batch.put_cf(shares, id.0, &record);
            batch.put_cf(heights, height_key(entry.height, id), []);
        }
        batch.put_cf(meta, KEY_TIP, chain.tip().0);
        if let Err(e) = self.write(batch) {
            // Written with the next batch: a hole in the stored chain would cut the window
            // of every share above it.
            chain.return_kept(kept);
            return Err(e);
        }
        let below = chain.tip_height().saturating_sub(keep);
        // Prune in steps of a tenth of what is kept, not on every share.
        if below >= self.pruned_below + (keep / 10).max(1) {
            self.prune(chain, below)?;
            self.pruned_below = below;
        }
        Ok(kept.len())
    }

    /// Forgets the shares below `height` in `chain` and the store.
    fn prune(&self, chain: &mut Chain, height: u64) -> Result<(), StoreError> {
        chain.prune_below(height);
        let mut batch = WriteBatch::default();
        let (shares, heights) = (self.cf(SHARES)?, self.cf(HEIGHTS)?);
        for item in self.db.iterator_cf(heights, IteratorMode::Start) {
            let (key, _) = item.map_err(|e| self.db_error(e))?;
            let h = key
                .get(..8)
                .and_then(|k| <[u8; 8]>::try_from(k).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| self.corrupt("height index"))?;
            if h >= height {
                break;
            }
            if let Some(id) = key.get(8..) {
                batch.delete_cf(shares, id);
            }
            batch.delete_cf(heights, &key);
        }
        self.write(batch)
    }
}

fn height_key(height: u64, id: &ShareId) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..8].copy_from_slice(&height.to_be_bytes());
    key[8..].copy_from_slice(&id.0);
    key
}

/// The record of a kept share: version, height, chain work, work, block work, credits
/// (count, then script length, script, weight each), then the share's wire form.
fn encode_entry(e: &Entry, out: &mut Vec<u8>) {
    out.push(RECORD_VERSION);
    out.extend_from_slice(&e.height.to_le_bytes());
    out.extend_from_slice(&e.chain_work.to_le_bytes::<32>());
    out.extend_from_slice(&e.work.to_le_bytes());
    out.extend_from_slice(&e.block_work.to_le_bytes());
    out.push(e.credits.len() as u8);
    for (script, weight) in &e.credits {
        out.push(script.len() as u8);
        out.extend_from_slice(script.as_bytes());
        out.extend_from_slice(&weight.to_le_bytes());
    }
    out.extend_from_slice(&e.share.encode());
}

fn decode_entry(bytes: &[u8]) -> Option<Entry> {
    let mut r = bytes;
    let mut take = |n: usize| -> Option<&[u8]> {
        if r.len() < n {
            return None;
        }
        let (head, rest) = r.split_at(n);
        r = rest;
        Some(head)
    };
    if take(1)?[0] != RECORD_VERSION {
        return None;
    }
    let height = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let chain_work = U256::from_le_bytes::<32>(take(32)?.try_into().ok()?);
    let work = u128::from_le_bytes(take(16)?.try_into().ok()?);
    let block_work = u128::from_le_bytes(take(16)?.try_into().ok()?);
    let count = take(1)?[0] as usize;
    let mut credits = Vec::with_capacity(count);
    for _ in 0..count {
        let len = take(1)?[0] as usize;
        let script = ScriptBuf::from_bytes(take(len)?.to_vec());
        let weight = u128::from_le_bytes(take(16)?.try_into().ok()?);
        credits.push((script, weight));
    }
    let share = Share::decode(r).ok()?;
    Some(Entry {
        share,
        height,
        chain_work,
        work,
        block_work,
        credits,
    })
}
