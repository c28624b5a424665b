//! Shared by the codec's integration tests: the schema folder, its sample files, and XSD
//! validation with xmllint.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `schemas/iso20022` of this repository.
pub fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/iso20022")
}

/// The sample files of one message type, sorted; at least one.
pub fn files(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(schemas().join("samples").join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no samples for {kind}");
    v
}

/// Validate `xml` against the official XSD with xmllint; panics with its output if invalid.
pub fn assert_xsd_valid(xml: &str, xsd: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("msg.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schemas().join("xsd").join(xsd))
        .arg(&file)
        .output()
        .expect("xmllint must be installed (apt-get install libxml2-utils)");
    assert!(out.status.success(), "{xsd}: {}\n{xml}", String::from_utf8_lossy(&out.stderr));
}
