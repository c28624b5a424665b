//! The switch under test when no `--target` is given: a generated configuration with N
//! development banks, written as TOML, and a child `switchd serve` on a temporary data
//! directory listening on a free loopback port.
//!
//! Guarantees: the child listens on 127.0.0.1 only; waiting for it is bounded
//! ([`START_TIMEOUT`]); it is killed and reaped when the [`Child`] is dropped, and its output goes
//! to files in the data directory that are quoted when it fails to start. It must not touch any
//! directory but its own temporary one.

use anyhow::{anyhow, bail, Context};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use switch::config::{Config, ParticipantConfig};

/// Longest wait for the child to listen (it creates certificates and registers aliases first).
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Banks a generated configuration holds at most.
pub const BANKS_MAX: usize = 26 + 26 * 25;
/// Development funding of every generated bank, minor units.
pub const FUNDING_MINOR: u64 = 1_000_000_000_000;

/// BIC of generated bank `i`: `BK` + two letters + `BRSP`; the first three are the embedded
/// default's BKAABRSP, BKBBBRSP and BKCCBRSP.
pub fn bic(i: usize) -> Option<String> {
    let letter = |n: usize| u8::try_from(n).ok().map(|n| char::from(b'A' + n));
    let (a, b) = if i < 26 {
        (i, i)
    } else if i < BANKS_MAX {
        let j = i - 26;
        let (a, b) = (j / 25, j % 25);
        (a, if b >= a { b + 1 } else { b })
    } else {
        return None;
    };
    Some(format!("BK{}{}BRSP", letter(a)?, letter(b)?))
}

/// A configuration with `banks` funded development banks, `customers` customers each.
pub fn config(data: &Path, banks: usize, customers: u32) -> anyhow::Result<Config> {
    if !(2..=BANKS_MAX).contains(&banks) {
        bail!("--banks {banks}: expected 2 to {BANKS_MAX}");
    }
    let mut cfg = Config::dev(data);
    cfg.listen = "127.0.0.1:0".into();
    cfg.participants = (0..banks)
        .map(|i| {
            let bic = bic(i).ok_or_else(|| anyhow!("no BIC for bank {i}"))?;
            Ok(ParticipantConfig {
                name: format!("Load test bank {i}"),
                member_id: Some(format!("{:08}", 20_000_000 + i)),
                bic,
                initial_funding_minor: FUNDING_MINOR,
                dev_customers: customers,
                ..ParticipantConfig::default()
            })
        })
        .collect::<anyhow::Result<_>>()?;
    cfg.dev_aliases = true;
    cfg.check()?;
    Ok(cfg)
}

/// A running child switch.
#[derive(Debug)]
pub struct Child {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory.
    pub data: PathBuf,
    process: std::process::Child,
}

impl Child {
    /// Process id of the child.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}

/// CPU time (user + system) a process has used so far, seconds; `None` for this process.
/// Reads `/proc/<pid>/stat` (Linux; clock ticks taken as 100 per second, the Linux default).
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = text.get(text.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The `switchd` binary: `explicit` if given, else next to this executable.
pub fn switchd_path(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let exe = std::env::current_exe().context("locating the loadtest executable")?;
    let dir = exe.parent().ok_or_else(|| anyhow!("{} has no directory", exe.display()))?;
    let mut candidates = vec![dir.join("switchd")];
    // Integration tests run from target/<profile>/deps.
    if let Some(up) = dir.parent() {
        candidates.push(up.join("switchd"));
    }
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        anyhow!(
            "no switchd next to {} (build it: cargo build -p switch --bin switchd, same profile), \
             or pass --switchd PATH",
            exe.display()
        )
    })
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(2_000);
    text.get(start..).unwrap_or("").to_string()
}

/// Write `cfg` into `data/switchd.toml` and start `switchd serve` on it on a free loopback
/// port; returns once it listens.
pub fn start(switchd: &Path, cfg: &Config) -> anyhow::Result<Child> {
    start_listening(switchd, cfg, SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// [`start`] on a given loopback address (a restart on the address of a killed child).
pub fn start_listening(switchd: &Path, cfg: &Config, listen: SocketAddr) -> anyhow::Result<Child> {
    if !listen.ip().is_loopback() {
        bail!("{listen}: the child switch listens on loopback addresses only");
    }
    let data = cfg.data.clone();
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let cfg_path = data.join("switchd.toml");
    std::fs::write(&cfg_path, toml::to_string(cfg)?)
        .with_context(|| format!("writing {}", cfg_path.display()))?;
    let err_path = data.join("switchd.stderr");
    let stderr = std::fs::File::create(&err_path)?;
    let mut process = Command::new(switchd)
        .arg("serve")
        .arg("--config")
        .arg(&cfg_path)
        .arg("--listen")
        .arg(listen.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .with_context(|| format!("starting {}", switchd.display()))?;
    let stdout = process.stdout.take().ok_or_else(|| anyhow!("child has no stdout"))?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<SocketAddr>(1);
    // Reads the child's output until it ends (bounded by the child's life); the first
    // "listening" line gives the address.
    std::thread::spawn(move || {
        let mut told = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if told {
                continue;
            }
            let addr = line
                .strip_prefix("switchd listening on ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|a| a.parse::<SocketAddr>().ok());
            if let Some(a) = addr {
                told = tx.send(a).is_ok();
            }
        }
    });
    let mut child = Child { addr: SocketAddr::from(([127, 0, 0, 1], 0)), data, process };
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(addr) if addr.ip().is_loopback() => {
            child.addr = addr;
            Ok(child)
        }
        Ok(addr) => bail!("switchd listens on {addr}, not a loopback address"),
        Err(_) => {
            let status = child.process.try_wait().ok().flatten();
            bail!(
                "switchd did not start listening within {:?} (exit: {status:?}); its stderr:\n{}",
                START_TIMEOUT,
                tail(&err_path)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn cpu_time_of_this_process_is_readable_and_grows() {
        let before = cpu_seconds(None).unwrap();
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_seconds(None).unwrap() >= before);
        assert_eq!(cpu_seconds(Some(u32::MAX)), None);
    }

    #[test]
    fn generated_bics_are_distinct_valid_and_start_with_the_dev_banks() {
        let all: Vec<String> = (0..BANKS_MAX).map(|i| bic(i).unwrap()).collect();
        assert_eq!(&all[..3], ["BKAABRSP", "BKBBBRSP", "BKCCBRSP"]);
        assert!(all.iter().all(|b| iso20022::common::is_bic(b)));
        let set: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(set.len(), BANKS_MAX);
        assert_eq!(bic(BANKS_MAX), None);
    }

    #[test]
    fn a_generated_config_round_trips_through_toml_and_passes_the_switch_checks() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 16, 100).unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
        let back = Config::load(&path).unwrap();
        assert_eq!(back.participants.len(), 16);
        assert!(back.dev_aliases);
        // Every development key of every bank is a key the directory accepts.
        for (i, p) in back.participants.iter().enumerate() {
            for c in switch::devnet::customers(i as u32, p.dev_customers) {
                for k in &c.keys {
                    directory::Key::parse(k).unwrap();
                }
            }
        }
        assert!(config(dir.path(), 1, 1).is_err());
    }
}
