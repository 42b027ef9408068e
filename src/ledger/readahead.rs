//! verify_ledger's readahead: asks the kernel for revos.events' heap blocks ahead of the pass.
//!
//! The pass reads the heap in the primary key's order (about the order the rows were added) one
//! synchronous 8 kB read at a time. Cold, with the kernel's own readahead alone, about a quarter
//! of the passes over 1M events spent 1.0–1.4 s of CPU on the backend's thread instead of 0.7
//! (bench/FINDINGS.md, P4' cold). Here the blocks up to [`Readahead::DISTANCE`] past the row being
//! read are asked for with `posix_fadvise(WILLNEED)` on the table's files, 512 kB per call, from
//! verify_ledger's hashing thread when it runs (the advice's own cost off the scan's thread).
//!
//! Only advice: nothing is read through it, a file that cannot be opened is read as before, and
//! it never calls PostgreSQL after [`Readahead::of`] (so the hashing thread may own it).

use pgrx::pg_sys;
use std::fs::File;

use crate::ledger::event_hash::text_bytes;

pub(crate) struct Readahead {
    /// the main fork's path, relative to the data directory (the backend's working directory)
    path: String,
    blocks: u32,
    /// the first block not asked for yet
    next: u32,
    /// the segments opened so far (None: could not be opened)
    files: Vec<Option<File>>,
}

impl Readahead {
    /// How far ahead of the row being read: 4 MB.
    pub(crate) const DISTANCE: u32 = 512;
    /// Asked for this many blocks at a time at least (512 kB).
    pub(crate) const STEP: u32 = 64;
    /// Blocks per segment file (1 GB at 8 kB).
    const SEGMENT: u32 = pg_sys::RELSEG_SIZE;

    /// For the main fork of `rel`, as long as it is now.
    pub(crate) unsafe fn of(rel: pg_sys::Relation) -> Readahead {
        let blocks = pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM);
        let path = pgrx::fcinfo::direct_function_call_as_datum(
            pg_sys::pg_relation_filepath,
            &[Some(pg_sys::Datum::from((*rel).rd_id))],
        )
        .map(|d| String::from_utf8_lossy(text_bytes(d)).into_owned())
        .unwrap_or_default();
        Readahead::new(path, blocks)
    }

    fn new(path: String, blocks: u32) -> Readahead {
        Readahead {
            path,
            blocks,
            next: 0,
            files: Vec::new(),
        }
    }

    /// The pass is at `block`: the blocks up to DISTANCE past it are asked for, once each.
    pub(crate) fn at(&mut self, block: u32) {
        for (seg, first, count) in self.ranges(block) {
            self.advise(seg, first, count);
        }
    }

    /// What [`at`](Self::at) asks for: (segment, first block in it, blocks), and the frontier
    /// moved past them.
    fn ranges(&mut self, block: u32) -> Vec<(usize, u32, u32)> {
        let want = block.saturating_add(Self::DISTANCE).min(self.blocks);
        if self.next > block && want < self.next.saturating_add(Self::STEP) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut from = self.next.max(block.saturating_add(1));
        while from < want {
            let seg = from / Self::SEGMENT;
            // one call never crosses a segment's end
            let to = want.min((seg + 1).saturating_mul(Self::SEGMENT));
            out.push((seg as usize, from % Self::SEGMENT, to - from));
            from = to;
        }
        self.next = self.next.max(want);
        out
    }

    fn advise(&mut self, seg: usize, first: u32, count: u32) {
        use std::os::fd::AsRawFd;
        while self.files.len() <= seg {
            let name = match self.files.len() {
                0 => self.path.clone(),
                n => format!("{}.{n}", self.path),
            };
            let file = (!self.path.is_empty())
                .then(|| File::open(name).ok())
                .flatten();
            self.files.push(file);
        }
        if let Some(f) = &self.files[seg] {
            let block = pg_sys::BLCKSZ as libc::off_t;
            // SAFETY: advice on a descriptor this struct owns; its result is ignored (advice)
            unsafe {
                libc::posix_fadvise(
                    f.as_raw_fd(),
                    libc::off_t::from(first) * block,
                    libc::off_t::from(count) * block,
                    libc::POSIX_FADV_WILLNEED,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_for_each_block_once_and_ahead_of_the_pass() {
        let mut r = Readahead::new(String::new(), 10_000);
        assert_eq!(r.ranges(0), vec![(0, 1, Readahead::DISTANCE - 1)]);
        // within STEP of the frontier: nothing new
        assert!(r.ranges(1).is_empty());
        assert!(r.ranges(Readahead::STEP - 1).is_empty());
        let got = r.ranges(Readahead::STEP);
        assert_eq!(
            got,
            vec![(0, Readahead::DISTANCE, Readahead::STEP)],
            "only what was not asked for"
        );
        // a row a little behind (rows come about in block order): nothing
        assert!(r.ranges(3).is_empty());
        // a jump: from the row on, never what was asked already
        assert_eq!(r.ranges(5_000), vec![(0, 5_001, Readahead::DISTANCE - 1)]);
        // the end of the table
        assert_eq!(r.ranges(9_900), vec![(0, 9_901, 99)]);
        assert!(r.ranges(9_999).is_empty());
    }

    #[test]
    fn never_crosses_a_segment() {
        let seg = Readahead::SEGMENT;
        let mut r = Readahead::new(String::new(), 3 * seg);
        let got = r.ranges(seg - 10);
        assert_eq!(got, vec![(0, seg - 9, 9), (1, 0, Readahead::DISTANCE - 10)]);
    }

    #[test]
    fn a_missing_file_is_no_error() {
        let mut r = Readahead::new("no/such/file".into(), 1_000);
        r.at(0);
        r.at(700);
        assert_eq!(r.files.len(), 1);
        assert!(r.files[0].is_none());
    }
}
