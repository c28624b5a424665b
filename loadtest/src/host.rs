//! How fast the host was around a run: fixed work timed before and after it, and the share
//! of the machine's time the hypervisor took. A shared or throttled host shows up as larger
//! numbers, so runs on a slower machine are recognised as such instead of blamed on the switch.
//!
//! Two kinds of work, because different neighbours slow them: `cpu` is an integer loop in
//! registers, `memory` a chase through an 8 MiB random cycle (past the per-core caches: the
//! shared cache and memory latency the switch's tables depend on). Reads `/proc/stat` (Linux).

use crate::workload::Rng;

/// Steps of the integer loop: about 38 ms on a quiet core of the benchmark machine.
pub const CPU_STEPS: u64 = 20_000_000;

/// Entries of the memory cycle (8 MiB of `u32`) and steps taken through it.
pub const MEMORY: (usize, usize) = (1 << 21, 1 << 20);

/// The fixed work, ready to time.
#[derive(Debug)]
pub struct Calibration {
    cycle: Vec<u32>,
}

impl Calibration {
    /// Build the random cycle (Sattolo's shuffle: one cycle through every entry).
    pub fn new() -> Calibration {
        let n = MEMORY.0;
        let mut cycle: Vec<u32> = (0..n as u32).collect();
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
        for i in (1..n).rev() {
            cycle.swap(i, (rng.next_u64() % i as u64) as usize);
        }
        Calibration { cycle }
    }

    /// Milliseconds of the integer loop (xorshift steps, each one waiting for the last).
    pub fn cpu_ms(&self) -> f64 {
        let t = std::time::Instant::now();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..CPU_STEPS {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x = std::hint::black_box(x);
        }
        std::hint::black_box(x);
        t.elapsed().as_secs_f64() * 1e3
    }

    /// Milliseconds of the chase through the cycle.
    pub fn memory_ms(&self) -> f64 {
        let t = std::time::Instant::now();
        let mut at = 0usize;
        for _ in 0..MEMORY.1 {
            at = self.cycle.get(at).map_or(0, |&n| n as usize);
        }
        std::hint::black_box(at);
        t.elapsed().as_secs_f64() * 1e3
    }
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration::new()
    }
}

/// Ticks the whole machine has spent, and of them stolen by the hypervisor (`/proc/stat`).
pub fn machine_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = cpu.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    Some((v.iter().sum(), *v.get(7)?))
}

/// The host around one step: started before it, read after it.
#[derive(Debug)]
pub struct Host {
    calibration: Calibration,
    before: (f64, f64),
    ticks: Option<(u64, u64)>,
}

impl Host {
    /// Time the work now.
    pub fn start() -> Host {
        let calibration = Calibration::new();
        let before = (calibration.cpu_ms(), calibration.memory_ms());
        Host { calibration, before, ticks: machine_ticks() }
    }

    /// Time it again: the `loadtest-host:` line.
    pub fn line(&self) -> String {
        let steal = match (self.ticks, machine_ticks()) {
            (Some((t0, s0)), Some((t1, s1))) if t1 > t0 => {
                format!("{:.1}", 100.0 * s1.saturating_sub(s0) as f64 / (t1 - t0) as f64)
            }
            _ => "-".to_string(),
        };
        let after = (self.calibration.cpu_ms(), self.calibration.memory_ms());
        format!(
            "loadtest-host: cpu_ms_before={:.1} cpu_ms_after={:.1} memory_ms_before={:.1} \
             memory_ms_after={:.1} steal_pct={steal}",
            self.before.0, after.0, self.before.1, after.1
        )
    }
}
