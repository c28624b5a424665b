//! Runs the directory benchmark ([`directory::bench::run`]) and prints its line, with the
//! extra figures on a second line. Usage: `cargo run --release -p directory --example bench
//! -- [ENTRIES [PASSES]]` (default 1,000,000 and 5), or `-- snapshot [ENTRIES [PASSES]]` to time
//! a snapshot's encoding and decoding instead (default 2,000,000 and 3), or `-- tune [ENTRIES
//! [ROUNDS [PASSES [BATCH]]]]` to compare ways of resolving in one process
//! ([`directory::bench::run_tune`]; default 2,000,000, 5, 2, 64). With
//! `DIRECTORY_HUGE_PAGES=0` the store's large arrays get no huge-page advice (A/B runs).
//! Allocates about 150 bytes per entry plus one batch of entries. Guarantees nothing beyond
//! printing; must not write files.

fn main() {
    // `DIRECTORY_HUGE_PAGES=0`: the same build without huge-page advice, for A/B runs.
    if std::env::var("DIRECTORY_HUGE_PAGES").as_deref() == Ok("0") {
        directory::hugemem::set_huge_pages(false);
    }
    if std::env::args().nth(1).as_deref() == Some("snapshot") {
        let entries = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
        let passes = std::env::args().nth(3).and_then(|a| a.parse().ok()).unwrap_or(3);
        println!("{}", directory::bench::run_snapshot(entries, passes));
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("tune") {
        let arg = |i: usize| std::env::args().nth(i).and_then(|a| a.parse().ok());
        let entries = arg(2).unwrap_or(2_000_000);
        let rounds = arg(3).unwrap_or(5);
        let passes = arg(4).unwrap_or(2);
        let batch = arg(5).unwrap_or(directory::bench::RESOLVE_BATCH);
        for line in directory::bench::run_tune(entries, rounds, passes, batch) {
            println!("{line}");
        }
        return;
    }
    let entries = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let passes = std::env::args().nth(2).and_then(|a| a.parse().ok());
    let passes = passes.unwrap_or(directory::bench::RESOLVE_PASSES);
    let r = directory::bench::run_with(entries, passes);
    println!("{r}");
    println!(
        "directory: resolve_single_per_s={:.0} resolve_per_cpu_s={:.0} \
         resolve_single_per_cpu_s={:.0} register_per_cpu_s={:.0} store_bytes_per_entry={} \
         refused={} found={} of {}",
        r.resolve_single_per_s,
        r.resolve_per_cpu_s,
        r.resolve_single_per_cpu_s,
        r.register_per_cpu_s,
        r.store_bytes_per_entry,
        r.refused,
        r.found,
        r.sample
    );
}
