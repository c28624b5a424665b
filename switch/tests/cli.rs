//! `switchctl iso check` over the real sample corpus: one line per file, exit status 1 when
//! any file is invalid.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/iso20022").join(dir);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            for f in std::fs::read_dir(&p).unwrap() {
                out.push(f.unwrap().path());
            }
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn iso_check_accepts_every_sample_and_names_what_is_wrong_in_the_invalid_ones() {
    let valid = files("samples");
    let out = Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(["iso", "check"])
        .args(&valid)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert_eq!(text.lines().count(), valid.len());
    assert!(text.lines().all(|l| l.starts_with("OK ")), "{text}");
    assert!(text.contains("OK pacs.008.001.08 ") && text.contains("OK pain.001.001.09 "), "{text}");

    let invalid = files("samples-invalid");
    let out = Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(["iso", "check"])
        .args(&invalid)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.lines().count(), invalid.len());
    for line in text.lines() {
        assert!(line.starts_with("ERR ") && line.matches(": ").count() >= 2, "{line}");
    }
    assert!(text.contains("/Document/BkToCstmrStmt/GrpHdr: mandatory element missing"), "{text}");
}

#[test]
fn bench_ledger_prints_its_fixed_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(["bench", "ledger", "--pairs", "3000", "--dir"])
        .arg(dir.path().join("j"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let line = text.lines().last().unwrap();
    let fields: Vec<(&str, f64)> = line
        .trim_start_matches("ledger: ")
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k, v.parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, ["in_memory_tps", "durable_tps", "replay_rps"]);
    assert!(fields.iter().all(|(_, v)| *v > 0.0), "{line}");
    assert!(!dir.path().join("j").exists(), "the scratch journal is removed");
}

#[test]
fn bench_directory_prints_its_fixed_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(["bench", "directory", "--entries", "20000"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let line = text.lines().last().unwrap();
    let fields: Vec<(&str, f64)> = line
        .strip_prefix("directory: ")
        .unwrap()
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k, v.parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, ["resolve_per_s", "register_per_s", "bytes_per_entry", "entries"]);
    assert!(fields.iter().all(|(_, v)| *v > 0.0), "{line}");
    assert_eq!(fields[3].1, 20_000.0);
}

#[test]
fn iso_roundtrip_prints_the_same_message_again() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/iso20022/samples/pacs.008/fednow-participant.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(["iso", "roundtrip"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let limits = iso20022::Limits::default();
    let again = iso20022::decode(&out.stdout, &limits).unwrap();
    let original = iso20022::decode(&std::fs::read(&file).unwrap(), &limits).unwrap();
    assert_eq!(again, original);
    let bad = Command::new(env!("CARGO_BIN_EXE_switchctl"))
        .args(["iso", "roundtrip"])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../schemas/iso20022/samples-invalid/pacs.008-missing-lt.xml"),
        )
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not well-formed"));
}
