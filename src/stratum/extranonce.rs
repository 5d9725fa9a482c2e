//! extranonce1 allocation: unique among live sessions (a random value can collide), and
//! resumable by the session id a reconnecting miner (cgminer) sends back in subscribe.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::short_bytes::ShortBytes;

/// How long a disconnected, authorized session can be resumed.
pub const RESUME_WINDOW: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy)]
enum Slot {
    Live,
    Resumable(Instant),
}

/// Hands out extranonce1 values of a fixed length.
#[derive(Debug)]
pub struct ExtranonceAllocator {
    len: usize,
    mask: u64,
    next: AtomicU64,
    slots: DashMap<u64, Slot>,
    /// Parked (resumable) values in the order they were parked, so expired ones are freed
    /// without scanning the map. Only touched when a session ends or starts. Entries whose
    /// value was resumed since stay until they reach the front; they do not count.
    parked: Mutex<VecDeque<(Instant, u64)>>,
    /// Values parked now (the entries of `parked` that still hold their value).
    parked_count: AtomicU64,
    /// Most values parked at once: half the space, so new sessions always find room.
    max_parked: usize,
}

/// An allocated extranonce1; its bytes are the big-endian low `len` bytes of `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extranonce1 {
    value: u64,
    len: usize,
}

impl Extranonce1 {
    /// The bytes miners put after coinb1.
    pub fn bytes(&self) -> ShortBytes<8> {
        ShortBytes::suffix_of(self.value.to_be_bytes(), self.len)
    }

    /// Hex form, also used as the subscription (session) id.
    pub fn hex(&self) -> String {
        hex::encode(self.bytes().as_slice())
    }
}

impl ExtranonceAllocator {
    /// An allocator for `len`-byte values (2..=8).
    pub fn new(len: usize, seed: u64) -> Self {
        let len = len.clamp(1, 8);
        let mask = if len == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * len)) - 1
        };
        ExtranonceAllocator {
            len,
            mask,
            next: AtomicU64::new(seed),
            slots: DashMap::new(),
            parked: Mutex::new(VecDeque::new()),
            parked_count: AtomicU64::new(0),
            max_parked: usize::try_from(mask / 2).unwrap_or(usize::MAX).min(1 << 20),
        }
    }

    /// Frees parked values older than the resume window (and the oldest beyond the cap).
    fn expire_parked(&self, now: Instant) {
        let mut parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(&(since, value)) = parked.front() {
            let expired = now.saturating_duration_since(since) > RESUME_WINDOW;
            let over_cap = self.parked_count.load(Ordering::Relaxed) > self.max_parked as u64;
            if !expired && !over_cap {
                break;
            }
            parked.pop_front();
            // Only if still parked from that time (not resumed, not re-parked since).
            let freed = self.slots.remove_if(
                &value,
                |_, slot| matches!(slot, Slot::Resumable(t) if *t == since),
            );
            if freed.is_some() {
                self.parked_count.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// A value no live session holds, or `None` if the space is exhausted.
    pub fn allocate(&self) -> Option<Extranonce1> {
        self.expire_parked(Instant::now());
        // Bounded: the space has at least 65536 values and is rarely crowded.
        for _ in 0..65_536 {
            let value = self.next.fetch_add(1, Ordering::Relaxed) & self.mask;
            let mut taken = false;
            self.slots
                .entry(value)
                .and_modify(|slot| match slot {
                    Slot::Resumable(since) if since.elapsed() > RESUME_WINDOW => {
                        *slot = Slot::Live;
                        self.parked_count.fetch_sub(1, Ordering::Relaxed);
                    }
                    _ => taken = true,
                })
                .or_insert(Slot::Live);
            if !taken {
                return Some(Extranonce1 {
                    value,
                    len: self.len,
                });
            }
        }
        None
    }

    /// Takes back the extranonce1 of an earlier session (its hex id), if it may be resumed.
    pub fn resume(&self, session_id: &str) -> Option<Extranonce1> {
        if session_id.len() != self.len * 2 {
            return None;
        }
        let value = u64::from_str_radix(session_id, 16).ok()?;
        let mut slot = self.slots.get_mut(&value)?;
        match *slot {
            Slot::Resumable(since) if since.elapsed() <= RESUME_WINDOW => {
                *slot = Slot::Live;
                self.parked_count.fetch_sub(1, Ordering::Relaxed);
                Some(Extranonce1 {
                    value,
                    len: self.len,
                })
            }
            _ => None,
        }
    }

    /// Sessions that ended and may still be resumed (ckpool's disconnected sessions).
    pub fn resumable(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s.value(), Slot::Resumable(t) if t.elapsed() <= RESUME_WINDOW))
            .count()
    }

    /// Ends a session: its value becomes resumable if it had authorized, free otherwise.
    pub fn release(&self, e: Extranonce1, resumable: bool) {
        if resumable {
            let now = Instant::now();
            if !matches!(
                self.slots.insert(e.value, Slot::Resumable(now)),
                Some(Slot::Resumable(_))
            ) {
                self.parked_count.fetch_add(1, Ordering::Relaxed);
            }
            self.parked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_back((now, e.value));
            self.expire_parked(now);
        } else if let Some((_, Slot::Resumable(_))) = self.slots.remove(&e.value) {
            self.parked_count.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_while_live_even_across_wraparound() {
        let a = ExtranonceAllocator::new(2, 65_530);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let e = a.allocate().unwrap();
            assert_eq!(e.bytes().len(), 2);
            assert!(seen.insert(e), "duplicate {e:?}");
        }
        // the space wraps: released values come back, live ones never do
        let first = *seen.iter().next().unwrap();
        a.release(first, false);
        let again: Vec<_> = std::iter::from_fn(|| a.allocate()).take(70_000).collect();
        assert_eq!(
            again.len(),
            65_536 - 1000 + 1,
            "every free value once, then none"
        );
        assert!(again.contains(&first));
        assert!(again.iter().all(|e| !seen.contains(e) || *e == first));
    }

    #[test]
    fn parked_values_are_capped_and_freed() {
        // 2-byte space: at most 32767 parked; parking more frees the oldest.
        let a = ExtranonceAllocator::new(2, 0);
        let all: Vec<_> = std::iter::from_fn(|| a.allocate()).take(70_000).collect();
        assert_eq!(all.len(), 65_536);
        for e in &all {
            a.release(*e, true);
        }
        assert!(a.slots.len() <= 32_768, "{} held", a.slots.len());
        // New sessions find room again.
        assert!(a.allocate().is_some());
        // The most recently parked can still be resumed; the oldest cannot.
        assert!(a.resume(&all[65_535].hex()).is_some());
        assert!(a.resume(&all[0].hex()).is_none());
    }

    #[test]
    fn resumed_values_do_not_count_against_the_cap() {
        // 2-byte space: at most 32767 parked. A is parked first; then 40,000 sessions are
        // parked and resumed (their old queue entries linger behind A); then B is parked.
        let a = ExtranonceAllocator::new(2, 0);
        let first = a.allocate().unwrap();
        a.release(first, true);
        for _ in 0..40_000 {
            let e = a.allocate().unwrap();
            a.release(e, true);
            assert_eq!(a.resume(&e.hex()), Some(e));
            a.release(e, false);
        }
        let second = a.allocate().unwrap();
        a.release(second, true);
        assert_eq!(a.resumable(), 2);
        assert_eq!(a.resume(&first.hex()), Some(first), "A was evicted early");
        assert_eq!(a.resume(&second.hex()), Some(second));
    }

    #[test]
    fn resume_only_released_authorized_sessions() {
        let a = ExtranonceAllocator::new(4, 7);
        let e = a.allocate().unwrap();
        assert_eq!(e.hex(), "00000007");
        assert!(
            a.resume(&e.hex()).is_none(),
            "live sessions cannot be taken over"
        );
        a.release(e, true);
        assert_eq!(a.resume("00000007"), Some(e));
        a.release(e, false);
        assert!(a.resume("00000007").is_none());
        assert!(a.resume("zz").is_none());
    }
}
