//! End-to-end runs of the built `loadtest` binary against real `switchd` processes: a short
//! low-rate run on its own child switch (summary line and acknowledgement log agree), and a
//! run against a switch that is killed and restarted mid-run (the banks reconnect and carry
//! on; failed sends are counted, not dropped).
//!
//! They need the `switchd` binary of the same profile next to `loadtest` (target/<profile>/):
//! `cargo test --workspace` builds it; with `cargo test -p loadtest` alone, build it first with
//! `cargo build -p switch --bin switchd`. A missing binary fails with that instruction. The
//! tests assert outcomes, never timings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn loadtest() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_loadtest"))
}

fn switchd() -> PathBuf {
    let p = loadtest().parent().unwrap().join("switchd");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build -p switch --bin switchd` (same profile and target dir) \
         or `cargo test --workspace`, then run this test again",
        p.display()
    );
    p
}

/// Run to completion, killing it after `limit`.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// The `key=value` fields of the line starting with `prefix`.
fn fields(stdout: &str, prefix: &str) -> HashMap<String, String> {
    let line = stdout.lines().rev().find(|l| l.starts_with(prefix)).unwrap_or_else(|| {
        panic!("no line starting with {prefix:?} in:\n{stdout}");
    });
    line[prefix.len()..]
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn num(f: &HashMap<String, String>, k: &str) -> f64 {
    f.get(k).unwrap_or_else(|| panic!("no {k} in {f:?}")).parse().unwrap()
}

/// Checks every line of the acknowledgement log; returns the number of lines.
fn check_ack_log(path: &Path, bics: &[&str]) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let mut seen = HashSet::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 4, "{line:?}");
        assert!(bics.contains(&parts[0]), "{line:?}");
        assert!(seen.insert(parts[1].to_string()), "EndToEndId twice: {line:?}");
        match parts[2] {
            "ACSC" => assert_eq!(parts[3], "-", "{line:?}"),
            "RJCT" => assert_eq!(parts[3].len(), 4, "{line:?}"),
            other => panic!("status {other:?} in {line:?}"),
        }
    }
    seen.len()
}

#[test]
fn a_short_run_on_its_own_switch_answers_every_payment_and_logs_each_answer() {
    let sw = switchd();
    let dir = tempfile::tempdir().unwrap();
    let ack = dir.path().join("acks.log");
    let out = run_bounded(
        Command::new(loadtest())
            .args(["--rate", "150", "--duration", "2", "--banks", "4", "--customers", "20"])
            .args(["--reject-share", "0.1", "--wait-s", "20", "--warmup", "1", "--timeline"])
            .arg("--switchd")
            .arg(&sw)
            .arg("--data")
            .arg(dir.path().join("switch"))
            .arg("--ack-log")
            .arg(&ack),
        Duration::from_secs(240),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("loadtest: offered_tps="), "{last}");
    let s = fields(&stdout, "loadtest: ");
    let d = fields(&stdout, "loadtest-detail: ");
    let (accepted, rejected) = (num(&s, "accepted"), num(&s, "rejected"));
    assert!(accepted > 0.0, "{last}");
    // The 10% sent to unknown aliases came back rejected, and nothing else did.
    assert!(rejected > 0.0, "{last}");
    assert_eq!(num(&d, "rejected_unexpected"), 0.0, "{stdout}");
    assert_eq!(num(&d, "accepted_unexpected"), 0.0, "{stdout}");
    assert_eq!(accepted + rejected, num(&d, "offered"), "{stdout}");
    assert_eq!(num(&d, "send_errors") + num(&d, "timeouts") + num(&d, "shed"), 0.0, "{stdout}");
    // The banks' stream reads (the default) delivered the forwarded transfers and answers.
    assert!(num(&d, "pulls") > 0.0 && num(&d, "messages_per_pull") >= 1.0, "{stdout}");
    assert!(num(&s, "p50_ms") > 0.0 && num(&s, "p99_ms") >= num(&s, "p50_ms"), "{last}");
    // The warm-up's payments are answered and logged too, but left out of the summary.
    let w = fields(&stdout, "loadtest-warmup: ");
    let warm = num(&w, "accepted") + num(&w, "rejected");
    assert!(warm > 100.0, "{stdout}");
    let lines = check_ack_log(&ack, &["BKAABRSP", "BKBBBRSP", "BKCCBRSP", "BKDDBRSP"]);
    assert_eq!(lines as f64, accepted + rejected + warm);
    // The host's speed around the run: two timings of the same loop, and the stolen share.
    let h = fields(&stdout, "loadtest-host: ");
    for k in ["cpu_ms_before", "cpu_ms_after", "memory_ms_before", "memory_ms_after"] {
        assert!(num(&h, k) > 0.0, "{stdout}");
    }
    assert!((0.0..=100.0).contains(&num(&h, "steal_pct")), "{stdout}");
    // One timeline line per second of the measured run, together holding every answer.
    let seconds: Vec<_> = stdout.lines().filter(|l| l.starts_with("loadtest-second: ")).collect();
    assert!((2..=3).contains(&seconds.len()), "{stdout}");
    let per_second: f64 =
        seconds.iter().map(|l| num(&fields(l, "loadtest-second: "), "answers")).sum();
    assert_eq!(per_second, accepted + rejected, "{stdout}");
    // The child's data directory is kept with its journal, for `switchctl transfers verify`.
    assert!(dir.path().join("switch/journal").is_dir());
}

/// Payers put up to 10 payments in one pacs.008 and payees answer up to 10 transfers in one
/// pacs.002: every payment still gets exactly its own answer, and every logged answer is in the
/// switch's journal with the same outcome (`switchctl transfers verify`).
/// Run the load test on its own switch of three banks with `extra` options, check that every
/// payment got its planned outcome, once, and that `switchctl transfers verify` agrees with
/// the acknowledgement log; the summary and detail fields.
fn checked_run(extra: &[&str]) -> (HashMap<String, String>, HashMap<String, String>, String) {
    let sw = switchd();
    let switchctl = sw.with_file_name("switchctl");
    let dir = tempfile::tempdir().unwrap();
    let ack = dir.path().join("acks.log");
    let data = dir.path().join("switch");
    let out = run_bounded(
        Command::new(loadtest())
            .args(["--rate", "400", "--duration", "2", "--banks", "3", "--customers", "20"])
            .args(["--reject-share", "0.1", "--wait-s", "20"])
            .args(extra)
            .arg("--switchd")
            .arg(&sw)
            .arg("--data")
            .arg(&data)
            .arg("--ack-log")
            .arg(&ack),
        Duration::from_secs(240),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let s = fields(&stdout, "loadtest: ");
    let d = fields(&stdout, "loadtest-detail: ");
    let (accepted, rejected) = (num(&s, "accepted"), num(&s, "rejected"));
    assert!(accepted > 0.0 && rejected > 0.0, "{stdout}");
    assert_eq!(accepted + rejected, num(&d, "offered"), "{stdout}");
    assert_eq!(num(&d, "rejected_unexpected") + num(&d, "accepted_unexpected"), 0.0, "{stdout}");
    assert_eq!(num(&d, "send_errors") + num(&d, "timeouts") + num(&d, "shed"), 0.0, "{stdout}");
    let lines = check_ack_log(&ack, &["BKAABRSP", "BKBBBRSP", "BKCCBRSP"]);
    assert_eq!(lines as f64, accepted + rejected);
    assert!(num(&d, "pulls") > 0.0 && num(&d, "messages_per_pull") >= 1.0, "{stdout}");
    if !switchctl.is_file() {
        panic!("{} is missing: build the switch crate's binaries", switchctl.display());
    }
    let verify = run_bounded(
        Command::new(&switchctl)
            .args(["transfers", "verify", "--data"])
            .arg(&data)
            .arg("--config")
            .arg(data.join("switchd.toml"))
            .arg("--ack-log")
            .arg(&ack),
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{text}{}", String::from_utf8_lossy(&verify.stderr));
    let v = fields(&text, "verify: ");
    assert_eq!(num(&v, "checked"), accepted + rejected, "{text}");
    assert_eq!(num(&v, "missing") + num(&v, "mismatched"), 0.0, "{text}");
    (s, d, stdout)
}

/// Several payments per pacs.008 and several answers per pacs.002, the banks pulling (the
/// first test uses the stream).
#[test]
fn batched_payments_and_answers_keep_one_outcome_per_payment() {
    checked_run(&["--batch", "10", "--batch-window-ms", "20", "--answer-batch", "10", "--pulls"]);
}

/// The switch pushes every message to the banks' callback endpoints; nothing else delivers.
#[test]
fn pushed_to_the_banks_every_payment_gets_its_outcome() {
    let (_, _, stdout) = checked_run(&["--push"]);
    assert!(stdout.contains("delivery=push"), "{stdout}");
}

#[test]
fn the_banks_ride_out_a_switch_crash_and_count_what_failed() {
    let sw = switchd();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("switch");
    let cfg = loadtest::child::config(&data, 3, 20).unwrap();
    let first = loadtest::child::start(&sw, &cfg).unwrap();
    let addr = first.addr;
    let ack = dir.path().join("acks.log");
    let mut run = Command::new(loadtest());
    run.args(["--rate", "100", "--duration", "6", "--banks", "3", "--wait-s", "20"])
        .arg("--target")
        .arg(addr.to_string())
        .arg("--data")
        .arg(&data)
        .arg("--config")
        .arg(data.join("switchd.toml"))
        .arg("--ack-log")
        .arg(&ack)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = run.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    drop(first); // SIGKILL: a crash, not a shutdown.
    std::thread::sleep(Duration::from_millis(800));
    let second = loadtest::child::start_listening(&sw, &cfg, addr).unwrap();
    let start = Instant::now();
    let mut child = child;
    while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    drop(second);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let s = fields(&stdout, "loadtest: ");
    let d = fields(&stdout, "loadtest-detail: ");
    let (accepted, rejected) = (num(&s, "accepted"), num(&s, "rejected"));
    assert!(num(&d, "reconnects") >= 1.0, "{stdout}");
    // Payments were sent and answered after the restart.
    assert!(accepted > 0.0, "{stdout}");
    // Every planned payment is accounted for: answered, failed or timed out, or shed.
    let accounted =
        accepted + rejected + num(&d, "send_errors") + num(&d, "timeouts") + num(&d, "shed");
    assert_eq!(accounted, num(&d, "offered"), "{stdout}");
    assert!(num(&d, "send_errors") + num(&d, "timeouts") > 0.0, "{stdout}");
    let lines = check_ack_log(&ack, &["BKAABRSP", "BKBBBRSP", "BKCCBRSP"]);
    assert_eq!(lines as f64, accepted + rejected + num(&d, "late_answers"), "{stdout}");
}
