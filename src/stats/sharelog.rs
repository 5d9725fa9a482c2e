//! ckpool's `-L` share log: one JSON line per submitted share, accepted or rejected,
//! appended to `<logdir>/<height as %08x>/<workinfoid as %016x>.sharelog`.
//!
//! The layout is ckpool's (`src/stratifier.c`): `add_base` sets a workbase's `logdir` to
//! `"%s%08x/%s"` of the pool logdir, the block height and the workbase's `idstring`
//! (`"%016lx"` of its id), creating the height directory when the block changes;
//! `parse_submit` appends the share's JSON to `"%s.sharelog"` of that `logdir`, opening and
//! closing the file for each share. A share naming an unknown job is logged under the
//! current job, with ckpool's `sdiff` of -1 and an empty hash. Lines are
//! [`SharelogEntry::to_line`] (ckpool's field order, jansson's formatting).

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};

use ckpool_compat::sharelog::{sharelog_file_name, SharelogEntry};
use tokio::sync::mpsc;

use crate::events::{Event, Interest, ShareRecord};
use crate::pow::hash::display_hex;
use crate::share::Reject;
use crate::work::JobId;

/// The events the share log needs.
pub const INTEREST: Interest = Interest {
    jobs: true,
    user_notifies: false,
    accepted_shares: true,
    rejected_shares: true,
    sessions: false,
    block_verdicts: false,
};

/// Jobs remembered for their block height.
const JOBS_KEPT: usize = 1024;

/// Block heights of recent jobs, and the newest job.
#[derive(Debug, Default)]
pub struct JobHeights {
    heights: HashMap<u64, u32>,
    order: VecDeque<u64>,
    current: Option<(JobId, u32)>,
}

impl JobHeights {
    /// Records a new job.
    pub fn add(&mut self, id: JobId, height: u32) {
        if self.heights.insert(id.0, height).is_none() {
            self.order.push_back(id.0);
            while self.order.len() > JOBS_KEPT {
                if let Some(old) = self.order.pop_front() {
                    self.heights.remove(&old);
                }
            }
        }
        self.current = Some((id, height));
    }

    /// The height of job `id`, if remembered.
    pub fn height(&self, id: JobId) -> Option<u32> {
        self.heights.get(&id.0).copied()
    }

    /// The newest job and its height.
    pub fn current(&self) -> Option<(JobId, u32)> {
        self.current
    }
}

/// ckpool's `errn` for a reject (its `enum share_err`; 0 = accepted).
pub fn errn(result: Result<(), Reject>) -> i64 {
    match result {
        Ok(()) => 0,
        Err(Reject::InvalidJobId) => 1,
        Err(Reject::Stale) => 2,
        Err(Reject::NtimeOutOfRange) => 3,
        Err(Reject::Duplicate) => 4,
        Err(Reject::AboveTarget) => 5,
    }
}

/// Writes the share log under one pool logdir.
#[derive(Debug)]
pub struct ShareLog {
    dir: PathBuf,
    jobs: JobHeights,
    made: HashSet<u32>,
}

impl ShareLog {
    /// A share log under `logdir`.
    pub fn new(logdir: &Path) -> Self {
        ShareLog {
            dir: logdir.to_path_buf(),
            jobs: JobHeights::default(),
            made: HashSet::new(),
        }
    }

    /// Records a job's height.
    pub fn on_job(&mut self, id: JobId, height: u32) {
        self.jobs.add(id, height);
    }

    /// The file and line for a share.
    pub fn entry(&self, rec: &ShareRecord) -> (PathBuf, u32, SharelogEntry) {
        let unknown =
            rec.result == Err(Reject::InvalidJobId) || self.jobs.height(rec.job_id).is_none();
        let (job, height) = match (unknown, self.jobs.current()) {
            (true, Some(current)) => current,
            _ => (rec.job_id, self.jobs.height(rec.job_id).unwrap_or(0)),
        };
        let hashed = rec.result != Err(Reject::InvalidJobId);
        let at = rec
            .at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let entry = SharelogEntry {
            workinfoid: job.0,
            clientid: rec.client_id,
            enonce1: hex::encode(rec.extranonce1.as_slice()),
            secondaryuserid: None,
            nonce2: hex::encode(rec.extranonce2.as_slice()),
            nonce: format!("{:08x}", rec.nonce),
            ntime: format!("{:08x}", rec.ntime),
            diff: rec.diff,
            sdiff: if hashed { rec.sdiff } else { -1.0 },
            hash: if hashed {
                display_hex(&rec.hash)
            } else {
                String::new()
            },
            result: rec.result.is_ok(),
            reject_reason: rec.result.err().map(|r| r.reason().to_string()),
            error: None,
            errn: errn(rec.result),
            createdate: ckpool_compat::zmq::createdate(at.as_secs(), at.subsec_nanos()),
            createby: "code".into(),
            createcode: "parse_submit".into(),
            createinet: rec.listener.to_string(),
            workername: rec.worker.to_string(),
            username: rec.username.to_string(),
            address: Some(rec.peer.ip().to_string()),
            agent: Some(rec.agent.to_string()),
        };
        let path = self
            .dir
            .join(format!("{height:08x}"))
            .join(sharelog_file_name(job.0));
        (path, height, entry)
    }

    /// Appends one share's line.
    pub fn append(&mut self, rec: &ShareRecord) -> std::io::Result<()> {
        let (path, height, entry) = self.entry(rec);
        if !self.made.contains(&height) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            self.made.insert(height);
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        f.write_all(entry.to_line().as_bytes())
    }

    /// Handles one event.
    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::Job(job) => self.on_job(job.id, job.template.height),
            Event::Share(rec) => {
                if let Err(e) = self.append(rec) {
                    tracing::error!(dir = %self.dir.display(), "cannot write the share log: {e}");
                }
            }
            _ => {}
        }
    }
}

/// Runs the share log on its own thread (file appends never block the runtime) until the
/// event fan-out is dropped.
pub fn spawn(mut rx: mpsc::Receiver<Event>, logdir: PathBuf) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("sharelog".into())
        .spawn(move || {
            let mut log = ShareLog::new(&logdir);
            while let Some(event) = rx.blocking_recv() {
                log.on_event(&event);
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::short_bytes::ShortBytes;
    use ckpool_compat::sharelog::parse_sharelog;

    fn rec(job: u64, result: Result<(), Reject>) -> ShareRecord {
        let mut hash = [0u8; 32];
        hash[0] = 0xab;
        ShareRecord {
            job_id: JobId(job),
            client_id: 7,
            extranonce1: ShortBytes::new(&[1, 2, 3, 4]).unwrap(),
            extranonce2: ShortBytes::new(&[0xee; 8]).unwrap(),
            nonce: 0x1234abcd,
            ntime: 0x6500_0000,
            diff: 0.5,
            sdiff: 1.25,
            hash,
            result,
            version: None,
            work: None,
            is_block: false,
            at: std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 42),
            listener: "0.0.0.0:3333".parse().unwrap(),
            worker: "u.w".into(),
            username: "u".into(),
            peer: "10.1.2.3:5555".parse().unwrap(),
            agent: "cpuminer".into(),
        }
    }

    #[test]
    fn lines_go_to_ckpool_layout() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ShareLog::new(dir.path());
        log.on_job(JobId(0x10), 0x1a2);
        log.on_job(JobId(0x11), 0x1a3);
        log.append(&rec(0x10, Ok(()))).unwrap();
        log.append(&rec(0x10, Err(Reject::Duplicate))).unwrap();
        log.append(&rec(0x99, Err(Reject::InvalidJobId))).unwrap();
        let old = dir
            .path()
            .join("000001a2")
            .join("0000000000000010.sharelog");
        let entries = parse_sharelog(&std::fs::read_to_string(&old).unwrap()).unwrap();
        assert_eq!(entries.len(), 2);
        let e = &entries[0];
        assert_eq!((e.workinfoid, e.clientid, e.errn), (0x10, 7, 0));
        assert_eq!(
            (e.enonce1.as_str(), e.nonce.as_str()),
            ("01020304", "1234abcd")
        );
        assert_eq!(e.nonce2, "eeeeeeeeeeeeeeee");
        assert_eq!(e.ntime, "65000000");
        assert!(e.hash.ends_with("ab") && e.hash.len() == 64);
        assert_eq!(e.createdate, "1700000000,42");
        assert_eq!(e.createinet, "0.0.0.0:3333");
        assert_eq!(e.address.as_deref(), Some("10.1.2.3"));
        assert!(e.result && e.reject_reason.is_none());
        let d = &entries[1];
        assert_eq!((d.result, d.errn), (false, 4));
        assert_eq!(d.reject_reason.as_deref(), Some("Duplicate"));
        // An unknown job is logged under the current one.
        let cur = dir
            .path()
            .join("000001a3")
            .join("0000000000000011.sharelog");
        let entries = parse_sharelog(&std::fs::read_to_string(&cur).unwrap()).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].workinfoid, entries[0].sdiff), (0x11, -1.0));
        assert_eq!(entries[0].hash, "");
        // Each line survives ckpool-compat's parser and writer unchanged (its own tests hold
        // the layout against ckpool's).
        let text = std::fs::read_to_string(&old).unwrap();
        assert_eq!(text.lines().next().unwrap(), entries_line(&old));
    }

    fn entries_line(path: &Path) -> String {
        let text = std::fs::read_to_string(path).unwrap();
        let e = &parse_sharelog(&text).unwrap()[0];
        e.to_line().trim_end().to_string()
    }
}
