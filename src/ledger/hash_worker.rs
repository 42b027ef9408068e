//! verify_ledger's second thread: encodes and hashes the events the scan copied out, and finds
//! the first whose stored hash is not its hash.
//!
//! ```text
//! backend (scan)                                   hash worker (plain Rust, no PostgreSQL)
//!   index scan, deform, copy the fields ─ Batch ─>   encode (event_hash::encode), sha256,
//!   link check (stored / prev hashes)  <─ Batch ─    compare with the stored hash; the smallest
//!   ...                                              id that differs
//!   end: join ─────────────────────────────────────> Option<id>
//! ```
//!
//! Only bytes cross: the worker never calls PostgreSQL (no palloc, no elog, no fmgr) and runs
//! with every signal blocked, so that PostgreSQL's handlers (cancel, termination, timeouts) keep
//! running on the backend's own thread. If the backend leaves the scan (an error, a cancel), the
//! channel closes and the worker ends on its own. The hash is one CPU's work that the scan does
//! not need: on two CPUs the pass takes about as long as the scan alone. The readahead's advice
//! (`ledger::readahead`: system calls only) is given here too, before each batch is hashed.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::ledger::event_hash::{digest_hex, encode, Kind};
use crate::ledger::readahead::Readahead;

/// Rows per batch handed to the worker.
pub(crate) const BATCH: usize = 1024;

/// Events copied out of the ledger: per row its id, its stored hash (None: NULL or not 64
/// bytes, which no hash equals) and its fields, whose bytes are in `bytes`.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) rows: Vec<(i64, Option<[u8; 64]>, [Kind; 12])>,
    pub(crate) bytes: Vec<u8>,
    /// the heap block of the batch's last row (for the readahead, when the worker has it)
    pub(crate) at_block: Option<u32>,
    /// the readahead, handed over with the first batch (the worker keeps it)
    pub(crate) ahead: Option<Readahead>,
}

impl Batch {
    pub(crate) fn clear(&mut self) {
        self.rows.clear();
        self.bytes.clear();
        self.at_block = None;
    }
}

/// The hashing thread ended before its work was done (it panicked): the pass has no answer.
#[derive(Debug)]
pub(crate) struct Stopped;

pub(crate) struct Worker {
    to: Option<SyncSender<Batch>>,
    back: Receiver<Batch>,
    handle: Option<JoinHandle<Option<i64>>>,
}

impl Worker {
    /// Starts the thread (None when it cannot be started: the caller hashes on its own).
    pub(crate) fn start() -> Option<Worker> {
        let (to, from) = sync_channel::<Batch>(2);
        let (back_to, back) = sync_channel::<Batch>(4);
        let handle = spawn_without_signals(move || work(from, back_to))?;
        Some(Worker {
            to: Some(to),
            back,
            handle: Some(handle),
        })
    }

    /// Hands a full batch over; returns an empty one to fill (a used one when available). Err:
    /// the thread is gone (it panicked).
    pub(crate) fn send(&mut self, batch: Batch) -> Result<Batch, Stopped> {
        if let Some(to) = &self.to {
            to.send(batch).map_err(|_| Stopped)?;
        }
        let mut next = self.back.try_recv().unwrap_or_default();
        next.clear();
        Ok(next)
    }

    /// The smallest id whose stored hash is not its hash, over every batch sent.
    pub(crate) fn finish(mut self) -> Result<Option<i64>, Stopped> {
        self.to = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(first_bad)) => Ok(first_bad),
            _ => Err(Stopped),
        }
    }
}

fn work(from: Receiver<Batch>, back: SyncSender<Batch>) -> Option<i64> {
    let mut out = Vec::with_capacity(1024);
    let mut first_bad = None;
    let mut ahead: Option<Readahead> = None;
    for mut batch in from {
        if let Some(a) = batch.ahead.take() {
            ahead = Some(a);
        }
        if let (Some(a), Some(block)) = (&mut ahead, batch.at_block) {
            a.at(block);
        }
        // rows come in id order: once a row failed, no later one can be the first
        if first_bad.is_none() {
            for (id, stored, kinds) in &batch.rows {
                encode(kinds, &batch.bytes, &mut out);
                if stored.as_ref() != Some(&digest_hex(&out)) {
                    first_bad = Some(*id);
                    break;
                }
            }
        }
        let _ = back.try_send(batch);
    }
    first_bad
}

/// A thread with every signal blocked (it inherits the mask in force when it is created; the
/// backend's own mask is put back at once).
#[cfg(target_os = "linux")]
fn spawn_without_signals<F>(f: F) -> Option<JoinHandle<Option<i64>>>
where
    F: FnOnce() -> Option<i64> + Send + 'static,
{
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        if libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) != 0 {
            return None;
        }
        let h = std::thread::Builder::new()
            .name("revos verify".into())
            .spawn(f)
            .ok();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        h
    }
}

#[cfg(not(target_os = "linux"))]
fn spawn_without_signals<F>(_f: F) -> Option<JoinHandle<Option<i64>>>
where
    F: FnOnce() -> Option<i64> + Send + 'static,
{
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(batch: &mut Batch, id: i64, text: &[u8], stored: Option<[u8; 64]>) {
        let start = batch.bytes.len() as u32;
        batch.bytes.extend_from_slice(text);
        let mut kinds = [Kind::Null; 12];
        kinds[0] = Kind::Int(id);
        kinds[3] = Kind::Text(start, text.len() as u32);
        batch.rows.push((id, stored, kinds));
    }

    fn hash_of(id: i64, text: &[u8]) -> [u8; 64] {
        let mut b = Batch::default();
        row(&mut b, id, text, None);
        let mut out = vec![];
        encode(&b.rows[0].2, &b.bytes, &mut out);
        digest_hex(&out)
    }

    #[test]
    fn finds_the_first_row_whose_hash_differs() {
        let mut w = Worker::start().expect("a thread");
        let mut b = Batch::default();
        for id in 1..=3000 {
            let text = format!("event {id}");
            let mut h = hash_of(id, text.as_bytes());
            if id == 2100 || id == 2500 {
                h[0] ^= 1;
            }
            row(&mut b, id, text.as_bytes(), Some(h));
            if b.rows.len() == BATCH {
                b = w.send(b).unwrap();
            }
        }
        w.send(b).unwrap();
        assert_eq!(w.finish().unwrap(), Some(2100));
    }

    #[test]
    fn all_good_and_missing_hashes() {
        let mut w = Worker::start().expect("a thread");
        let mut b = Batch::default();
        row(&mut b, 1, b"a", Some(hash_of(1, b"a")));
        w.send(b).unwrap();
        assert_eq!(w.finish().unwrap(), None);
        let mut w = Worker::start().expect("a thread");
        let mut b = Batch::default();
        row(&mut b, 1, b"a", Some(hash_of(1, b"a")));
        row(&mut b, 2, b"b", None);
        w.send(b).unwrap();
        assert_eq!(w.finish().unwrap(), Some(2));
    }
}
