//! verify_ledger's readahead: asks the kernel for revos.events' heap blocks ahead of the pass.
//!
//! The pass reads the heap in the primary key's order (about the order the rows were added) one
//! synchronous 8 kB read at a time. Cold, with the kernel's own readahead alone, about a quarter
//! of the passes over 1M events spent 1.0–1.4 s of CPU on the backend's thread instead of 0.7
//! (bench/FINDINGS.md, P4' cold). Here the blocks up to [`Readahead::DISTANCE`] past the row being
//! read are asked for with `posix_fadvise(WILLNEED)` on the table's files, 512 kB per call, from
//! verify_ledger's hashing thread when it runs (the advice's own cost off the scan's thread).
//!
//! Only advice: nothing is read through it; a file that cannot be opened (or is not a regular
//! file, or is a link) gets none and is read as before; one segment's descriptor is open at a
//! time; `effective_io_concurrency = 0` turns it off, as it turns off PostgreSQL's own
//! prefetching. It never calls PostgreSQL after [`Readahead::of`] (so the hashing thread may own
//! it, handed over with the first batch). The review of e3b5052 (read-only) found the descriptors
//! of every segment held to the pass's end, an open that could block on a FIFO, and a readahead
//! that one row far ahead stopped for the rest of the pass: fixed, with unit tests below.

use pgrx::pg_sys;
use std::fs::File;

use crate::ledger::event_hash::text_bytes;

pub(crate) struct Readahead {
    /// the main fork's path, relative to the data directory (the backend's working directory)
    path: String,
    blocks: u32,
    /// blocks per segment file
    segment: u32,
    /// the first block not asked for yet
    next: u32,
    /// the segment file open now (None inside: it could not be opened); the one before it is
    /// closed when the pass moves on (one descriptor at a time, outside fd.c's count)
    file: Option<(u32, Option<File>)>,
}

impl Readahead {
    /// How far ahead of the row being read: 4 MB.
    pub(crate) const DISTANCE: u32 = 512;
    /// Asked for this many blocks at a time at least (512 kB).
    pub(crate) const STEP: u32 = 64;

    /// For the main fork of `rel`, as long as it is now; None when `effective_io_concurrency`
    /// is 0 (PostgreSQL's own switch for prefetching: off there, off here too).
    pub(crate) unsafe fn of(rel: pg_sys::Relation) -> Option<Readahead> {
        if pg_sys::effective_io_concurrency <= 0 {
            return None;
        }
        let blocks = pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM);
        let path = pgrx::fcinfo::direct_function_call_as_datum(
            pg_sys::pg_relation_filepath,
            &[Some(pg_sys::Datum::from((*rel).rd_id))],
        )
        .map(|d| String::from_utf8_lossy(text_bytes(d)).into_owned())
        .unwrap_or_default();
        Some(Readahead::new(path, blocks, pg_sys::RELSEG_SIZE))
    }

    fn new(path: String, blocks: u32, segment: u32) -> Readahead {
        Readahead {
            path,
            blocks,
            segment,
            next: 0,
            file: None,
        }
    }

    /// The pass is at `block`: the blocks up to DISTANCE past it are asked for, once each.
    pub(crate) fn at(&mut self, block: u32) {
        for (seg, first, count) in self.ranges(block) {
            self.advise(seg, first, count);
        }
    }

    /// What [`at`](Self::at) asks for: (segment, first block in it, blocks), and the frontier
    /// moved past them. A row far behind the frontier (a version out of place sent the pass
    /// ahead) starts it again from there.
    fn ranges(&mut self, block: u32) -> Vec<(u32, u32, u32)> {
        if block.saturating_add(2 * Self::DISTANCE) < self.next {
            self.next = block.saturating_add(1);
        }
        let want = block.saturating_add(Self::DISTANCE).min(self.blocks);
        if self.next > block && want < self.next.saturating_add(Self::STEP) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut from = self.next.max(block.saturating_add(1));
        while from < want {
            let seg = from / self.segment;
            // one call never crosses a segment's end
            let to = want.min((seg + 1).saturating_mul(self.segment));
            out.push((seg, from % self.segment, to - from));
            from = to;
        }
        self.next = self.next.max(want);
        out
    }

    fn advise(&mut self, seg: u32, first: u32, count: u32) {
        use std::os::fd::AsRawFd;
        if self.file.as_ref().map(|f| f.0) != Some(seg) {
            // the previous segment's descriptor is closed here
            self.file = Some((seg, self.open(seg)));
        }
        if let Some((_, Some(f))) = &self.file {
            let block = pg_sys::BLCKSZ as i64;
            // SAFETY: advice on a descriptor this struct owns; its result is ignored (advice)
            unsafe {
                libc::posix_fadvise64(
                    f.as_raw_fd(),
                    i64::from(first) * block,
                    i64::from(count) * block,
                    libc::POSIX_FADV_WILLNEED,
                );
            }
        }
    }

    /// Segment `seg`'s file, read-only, when it is a regular file: not following a link in its
    /// last component and without blocking on a FIFO (the data directory's files are never
    /// either; whatever else stands there gets no advice).
    fn open(&self, seg: u32) -> Option<File> {
        use std::os::unix::fs::OpenOptionsExt;
        if self.path.is_empty() {
            return None;
        }
        let name = match seg {
            0 => self.path.clone(),
            n => format!("{}.{n}", self.path),
        };
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(name)
            .ok()?;
        f.metadata().ok()?.is_file().then_some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEG: u32 = 131_072;

    #[test]
    fn asks_for_each_block_once_and_ahead_of_the_pass() {
        let mut r = Readahead::new(String::new(), 10_000, SEG);
        assert_eq!(r.ranges(0), vec![(0, 1, Readahead::DISTANCE - 1)]);
        // within STEP of the frontier: nothing new
        assert!(r.ranges(1).is_empty());
        assert!(r.ranges(Readahead::STEP - 1).is_empty());
        assert_eq!(
            r.ranges(Readahead::STEP),
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
    fn a_row_far_behind_starts_the_readahead_again_from_it() {
        // one version out of place (at the heap's end) must not end the readahead for the rest
        let mut r = Readahead::new(String::new(), 10_000, SEG);
        r.ranges(0);
        r.ranges(9_000);
        assert_eq!(r.ranges(100), vec![(0, 101, Readahead::DISTANCE - 1)]);
        assert_eq!(
            r.ranges(100 + Readahead::STEP),
            vec![(0, 100 + Readahead::DISTANCE, Readahead::STEP)]
        );
    }

    #[test]
    fn never_crosses_a_segment() {
        let mut r = Readahead::new(String::new(), 3 * SEG, SEG);
        assert_eq!(
            r.ranges(SEG - 10),
            vec![(0, SEG - 9, 9), (1, 0, Readahead::DISTANCE - 10)]
        );
    }

    /// A directory holding `rel` (segment 0) and `rel.1`, but no `rel.2`: 4-block segments.
    fn segments(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("revos-readahead-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rel"), vec![0u8; 4 * 8192]).unwrap();
        std::fs::write(dir.join("rel.1"), vec![0u8; 4 * 8192]).unwrap();
        dir
    }

    #[test]
    fn one_segment_open_at_a_time_and_none_that_is_missing() {
        let dir = segments("open");
        let path = dir.join("rel").to_string_lossy().into_owned();
        let mut r = Readahead::new(path, 12, 4);
        r.advise(0, 0, 4);
        assert!(matches!(r.file, Some((0, Some(_)))));
        r.advise(1, 0, 4);
        assert!(
            matches!(r.file, Some((1, Some(_)))),
            "rel.1 opened, rel closed"
        );
        r.advise(2, 0, 4);
        assert!(
            matches!(r.file, Some((2, None))),
            "no rel.2: no advice, no error"
        );
        // the whole pass over the three segments, through `at`
        let mut r = Readahead::new(dir.join("rel").to_string_lossy().into_owned(), 12, 4);
        for b in 0..12 {
            r.at(b);
        }
        assert!(matches!(r.file, Some((2, None))));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn no_advice_through_a_link_or_to_what_is_not_a_file() {
        let dir = segments("link");
        std::os::unix::fs::symlink(dir.join("rel"), dir.join("link")).unwrap();
        let r = Readahead::new(dir.join("link").to_string_lossy().into_owned(), 4, 4);
        assert!(r.open(0).is_none(), "a symbolic link is not followed");
        let r = Readahead::new(dir.to_string_lossy().into_owned(), 4, 4);
        assert!(r.open(0).is_none(), "a directory is not a file");
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let r = Readahead::new(fifo.to_string_lossy().into_owned(), 4, 4);
        assert!(
            r.open(0).is_none(),
            "a FIFO: no advice, and the open does not block"
        );
        let r = Readahead::new(String::new(), 4, 4);
        assert!(r.open(0).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
