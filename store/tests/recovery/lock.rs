//! Scenario: two writers on one journal directory. The directory's `LOCK` file is held with
//! `flock` while a journal is open, so a second open, from this process or another one, is
//! refused with `JournalError::Locked` naming the directory; the lock goes with the holder
//! (dropped handle, or process killed with SIGKILL).
//!
//! The cross-process holder is this same test binary run with `--ignored --exact
//! lock::child_holder` and `STORE_LOCK_DIR` set; it prints `open` once it holds the journal,
//! then waits for its standard input to close.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use store::{FileJournal, Journal, JournalError, JournalOptions, LOCK_FILE_NAME};

fn open(dir: &Path) -> Result<FileJournal, JournalError> {
    FileJournal::open_with(dir, JournalOptions::default(), |_| Ok(())).map(|(j, _)| j)
}

fn assert_locked(dir: &Path) {
    match open(dir) {
        Err(e @ JournalError::Locked { .. }) => {
            let JournalError::Locked { dir: named } = &e else { unreachable!() };
            assert_eq!(named, &dir.display().to_string());
            assert!(e.to_string().contains(&dir.display().to_string()), "{e}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[test]
fn a_second_open_in_the_same_process_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = open(dir.path()).unwrap();
    first.append(b"one").unwrap();
    first.sync().unwrap();
    assert!(dir.path().join(LOCK_FILE_NAME).is_file());
    assert_locked(dir.path());
    assert!(matches!(
        FileJournal::open(dir.path(), |_, _| Ok(())),
        Err(JournalError::Locked { .. })
    ));
    // The refused opens changed nothing: the first journal goes on.
    first.append(b"two").unwrap();
    first.sync().unwrap();
    drop(first);
    let mut seen = Vec::new();
    let (second, last) = FileJournal::open(dir.path(), |_, r| {
        seen.push(r.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(last, 2);
    assert_eq!(seen, vec![b"one".to_vec(), b"two".to_vec()]);
    drop(second);
    // Read-only replay (audits) takes no lock and works beside a live journal.
    let live = open(dir.path()).unwrap();
    let rec = FileJournal::replay_read_only(dir.path(), &JournalOptions::default(), |_| Ok(()));
    assert_eq!(rec.unwrap().last_seq, 2);
    drop(live);
}

/// Runs only as the child of `another_process_holding_the_journal_locks_it_out`.
#[test]
#[ignore = "child process of the lock scenario"]
fn child_holder() {
    let Ok(dir) = std::env::var("STORE_LOCK_DIR") else { return };
    let mut j = open(Path::new(&dir)).unwrap();
    j.append(b"child").unwrap();
    j.sync().unwrap();
    println!("open");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
}

#[test]
fn another_process_holding_the_journal_locks_it_out_until_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(&exe)
        .args(["--ignored", "--exact", "lock::child_holder", "--nocapture"])
        .env("STORE_LOCK_DIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let opened = out.lines().map_while(Result::ok).any(|l| l == "open");
    assert!(opened, "child never opened the journal");
    assert_locked(dir.path());
    child.kill().unwrap(); // SIGKILL: the kernel releases the lock with the process
    child.wait().unwrap();
    let (j, last) =
        FileJournal::open_with(dir.path(), JournalOptions::default(), |_| Ok(())).unwrap();
    assert_eq!(last, 1);
    drop(j);
}
