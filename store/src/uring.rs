//! The `uring` feature: a batch's bytes and its `fdatasync` handed to the kernel through
//! io_uring as one linked pair (write, then fdatasync only if the write was whole), one
//! `io_uring_enter` per batch instead of a `write` and an `fdatasync` system call.
//! PERFORMANCE CRITICAL PATH: runs at every sync of a [`crate::FileJournal`] opened with
//! `JournalOptions::io_uring`.
//!
//! Guarantees: `write_and_sync` returns `Ok` only once every byte is written at the offset
//! given and the file's data is durable (the same promise as `write_all_at` + `sync_data`);
//! a short write is continued until the bytes are all written; the kernel never holds a
//! pointer into a buffer after `write_and_sync` returns, except after a hard error, where the
//! buffer is leaked (never freed nor reused) and the caller must poison the journal.
//! Must not: be used by more than one thread at a time (it takes `&mut self`), or keep any
//! request in flight across calls in the normal case.
//!
//! Measured (BENCHMARKS.md, section store, batch by batch alternation on the development
//! machine): 0 to 25% slower than `write` + `fdatasync`, the device flush being the whole
//! cost and io_uring running the fdatasync on a kernel worker thread (one more wake-up on a
//! busy 2-core machine); so the feature stays off by default.
#![allow(unsafe_code)] // pushing submission entries is `unsafe` in the io-uring crate

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{cqueue, opcode, squeue, types, IoUring};

/// Submission queue entries: one write and one fdatasync in flight at most.
const RING_ENTRIES: u32 = 4;
/// `io_uring_enter` interrupted (EINTR) or short of kernel memory (EAGAIN) this many times in
/// one call is reported as an error rather than retried for ever.
const ENTER_RETRIES_MAX: u32 = 1_000;
/// Parts a short-written batch may be split into before the sync is reported as failed.
const WRITE_PARTS_MAX: u32 = 1_000;
/// The kernel writes at most this much in one request (`MAX_RW_COUNT`).
const WRITE_REQUEST_BYTES_MAX: usize = 0x7fff_f000;

const TAG_WRITE: u64 = 1;
const TAG_SYNC: u64 = 2;

/// An io_uring instance owned by one journal.
pub(crate) struct SyncRing {
    ring: IoUring,
}

impl std::fmt::Debug for SyncRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncRing")
    }
}

/// Results of one linked submission: the write's (if any) and the fdatasync's.
struct Completions {
    write: Option<i32>,
    sync: Option<i32>,
}

impl SyncRing {
    /// A ring for one journal; fails if the kernel refuses io_uring (too old, disabled by
    /// `kernel.io_uring_disabled`, or filtered by seccomp).
    pub(crate) fn new() -> io::Result<SyncRing> {
        let ring = IoUring::new(RING_ENTRIES).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "io_uring unavailable ({e}); open the journal with \
                     JournalOptions {{ io_uring: false, .. }}"
                ),
            )
        })?;
        Ok(SyncRing { ring })
    }

    /// Write all of `buf` at `offset` in `file`, then make the file's data durable.
    /// On `Err` the caller must poison the journal; `buf` may then have been leaked (taken,
    /// left empty) because the kernel could still read it.
    pub(crate) fn write_and_sync(
        &mut self,
        file: &File,
        buf: &mut Vec<u8>,
        offset: u64,
    ) -> io::Result<()> {
        let fd = types::Fd(file.as_raw_fd());
        let mut done = 0usize;
        for _ in 0..WRITE_PARTS_MAX {
            let rest = buf.get(done..).unwrap_or_default();
            let part = rest.len().min(WRITE_REQUEST_BYTES_MAX);
            let sync = opcode::Fsync::new(fd)
                .flags(types::FsyncFlags::DATASYNC)
                .build()
                .user_data(TAG_SYNC);
            let got = if part == 0 {
                self.submit(&[sync], buf)?
            } else {
                let at = offset + done as u64;
                let write = opcode::Write::new(fd, rest.as_ptr(), part as u32)
                    .offset(at)
                    .build()
                    .flags(squeue::Flags::IO_LINK)
                    .user_data(TAG_WRITE);
                self.submit(&[write, sync], buf)?
            };
            if let Some(w) = got.write {
                match usize::try_from(w) {
                    Err(_) => return Err(io::Error::from_raw_os_error(-w)),
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => done += n,
                }
            }
            match got.sync {
                Some(0) if done >= buf.len() => return Ok(()),
                // A short write breaks the link: the fdatasync comes back cancelled.
                Some(r) if r == -libc::ECANCELED && done < buf.len() => continue,
                Some(r) if r < 0 => return Err(io::Error::from_raw_os_error(-r)),
                _ => {}
            }
        }
        Err(io::Error::other(format!(
            "batch of {} bytes still not written after {WRITE_PARTS_MAX} short writes",
            buf.len()
        )))
    }

    /// Push `entries`, enter the kernel until each has completed, and return their results.
    fn submit(&mut self, entries: &[squeue::Entry], buf: &mut Vec<u8>) -> io::Result<Completions> {
        // SAFETY: the write entry points into `buf`, which stays alive and unmoved until both
        // completions are reaped below; on any error before that, `leak` makes sure the memory
        // is never freed or reused, so the kernel can only ever read our bytes.
        let pushed = unsafe { self.ring.submission().push_multiple(entries) };
        if pushed.is_err() {
            // Only possible if an earlier call left entries queued: it returned an error.
            return Err(io::Error::other("io_uring submission queue unexpectedly full"));
        }
        let mut got = Completions { write: None, sync: None };
        let mut reaped = 0usize;
        let mut retries = 0u32;
        while reaped < entries.len() {
            if let Err(e) = self.ring.submit_and_wait(entries.len() - reaped) {
                let again = matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN));
                retries += 1;
                if !again || retries > ENTER_RETRIES_MAX {
                    leak(buf);
                    return Err(e);
                }
            }
            for cqe in self.ring.completion() {
                reaped += 1;
                record(&mut got, &cqe);
            }
        }
        Ok(got)
    }
}

fn record(got: &mut Completions, cqe: &cqueue::Entry) {
    match cqe.user_data() {
        TAG_WRITE => got.write = Some(cqe.result()),
        _ => got.sync = Some(cqe.result()),
    }
}

/// Give up `buf`'s memory for good: the kernel may still hold a request reading it.
fn leak(buf: &mut Vec<u8>) {
    std::mem::forget(std::mem::take(buf));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn bytes_land_at_the_offset_and_an_empty_batch_only_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .unwrap();
        file.write_all_at(b"head", 0).unwrap();
        let mut ring = SyncRing::new().unwrap();
        let mut buf = b"tail bytes".to_vec();
        ring.write_and_sync(&file, &mut buf, 4).unwrap();
        ring.write_and_sync(&file, &mut Vec::new(), 14).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"headtail bytes");
        assert_eq!(buf, b"tail bytes", "the buffer is the caller's again");
    }

    #[test]
    fn a_write_error_comes_back_as_the_kernel_gave_it() {
        let file = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let mut ring = SyncRing::new().unwrap();
        let err = ring.write_and_sync(&file, &mut vec![1u8; 100], 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
    }

    #[test]
    fn a_read_only_file_is_refused_with_ebadf() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let file = File::open(&path).unwrap();
        let mut ring = SyncRing::new().unwrap();
        let err = ring.write_and_sync(&file, &mut vec![1u8; 10], 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }
}
