//! Scenario: the process is killed with SIGKILL at arbitrary moments while it appends and
//! syncs (with the plain journal and with the group committer, segments rolling often, snapshots
//! written and segments compacted away now and then). After each kill the journal must reopen,
//! hold every record acknowledged before the kill with its exact payload (or a snapshot that
//! covers it), and keep its sequence numbers contiguous.
//!
//! The child is this same test binary run with `--ignored --exact sigkill::child_writer` and
//! `STORE_SIGKILL_DIR` set; it prints `acked <seq> <tag>` after each record is durable.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use store::group::{GroupCommitter, GroupOptions};
use store::{FileJournal, Journal, JournalOptions};

use super::reopen;

const KILLS: u64 = 20;
const CHILD_RECORDS_MAX: u64 = 200_000;

fn opts() -> JournalOptions {
    JournalOptions { segment_bytes_max: 32 << 10, ..JournalOptions::default() }
}

fn payload(tag: &str) -> Vec<u8> {
    let mut v = tag.as_bytes().to_vec();
    v.resize(120, b'.');
    v
}

fn snapshot(seq: u64) -> String {
    format!("snapshot covering 1..={seq}")
}

/// Runs only as the child of `sigkill_at_twenty_moments_loses_no_acknowledged_record`.
#[test]
#[ignore = "child process of the SIGKILL scenario"]
fn child_writer() {
    let Ok(dir) = std::env::var("STORE_SIGKILL_DIR") else { return };
    let run: u64 = std::env::var("STORE_SIGKILL_RUN").unwrap().parse().unwrap();
    let dir = Path::new(&dir);
    let (mut j, _) = FileJournal::open_with(dir, opts(), |_| Ok(())).unwrap();
    let stdout = std::io::stdout();
    if run % 2 == 0 {
        let mut i = 0u64;
        while i < CHILD_RECORDS_MAX {
            let batch = 1 + (i * 7 + run) % 40;
            let mut tags = Vec::new();
            for _ in 0..batch {
                let tag = format!("r{run}-{i}");
                tags.push((j.append(&payload(&tag)).unwrap(), tag));
                i += 1;
            }
            j.sync().unwrap();
            let mut out = stdout.lock();
            for (seq, tag) in tags {
                writeln!(out, "acked {seq} {tag}").unwrap();
            }
            out.flush().unwrap();
            if i % 300 < batch {
                let last = j.last_seq();
                j.write_snapshot(last, snapshot(last).as_bytes()).unwrap();
            }
        }
    } else {
        let g = GroupCommitter::start(j, GroupOptions::default()).unwrap();
        let threads: Vec<_> = (0..3)
            .map(|p| {
                let h = g.handle();
                std::thread::spawn(move || {
                    for i in 0..CHILD_RECORDS_MAX / 3 {
                        let tag = format!("r{run}-p{p}-{i}");
                        let seq = h.append_durable(payload(&tag)).unwrap();
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "acked {seq} {tag}").unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}

#[test]
fn sigkill_at_twenty_moments_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut snapshots_seen = 0;
    for run in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["--ignored", "--exact", "sigkill::child_writer", "--nocapture"])
            .env("STORE_SIGKILL_DIR", dir.path())
            .env("STORE_SIGKILL_RUN", run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        // Kill after a different number of acknowledgements each run: the child is then in the
        // middle of appending, syncing or rolling a segment.
        let kill_after = 50 + run * 97 % 700;
        let mut seen = 0;
        for line in out.lines() {
            let line = line.unwrap();
            let Some(rest) = line.strip_prefix("acked ") else { continue };
            let (seq, tag) = rest.split_once(' ').unwrap();
            assert!(acked.insert(seq.parse().unwrap(), tag.to_string()).is_none());
            seen += 1;
            if seen == kill_after {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
        let status = child.wait().unwrap();
        assert_eq!(seen, kill_after, "child ended early: {status}");
        let (_, got) = reopen(dir.path(), &opts()).unwrap();
        let covered = match got.snapshot {
            Some((s, data)) => {
                assert_eq!(data, snapshot(s).into_bytes());
                s
            }
            None => 0,
        };
        let records: BTreeMap<u64, Vec<u8>> = got.records.into_iter().collect();
        let last = records.keys().next_back().copied().unwrap_or(covered);
        assert_eq!(records.len() as u64, last - covered, "contiguous after the snapshot");
        for (seq, tag) in acked.range(covered + 1..) {
            assert_eq!(records.get(seq), Some(&payload(tag)), "acknowledged record {seq}");
        }
        assert!(acked.keys().next_back().is_none_or(|&max| max <= last));
        snapshots_seen += u64::from(covered > 0);
    }
    assert!(acked.len() as u64 >= KILLS * 50);
    assert!(snapshots_seen > 0, "recovery started from a snapshot at least once");
}
