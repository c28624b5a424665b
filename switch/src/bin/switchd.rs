//! `switchd`: the switch server.
//!
//! - `switchd demo [--data DIR] [--transfers N]`: the whole switch with three simulated banks.
//! - `switchd serve [--config FILE] [--data DIR] [--listen ADDR]`: the long-running server.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// mimalloc: the switch allocates a string or two per message field on many threads; glibc's
/// allocator was a third of the CPU profile (BENCHMARKS.md, switch section).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "switchd", about = "Real-time instant-payment switch")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the switch with three simulated banks paying each other by alias, then summarize.
    Demo {
        /// Data directory (journal, development certificates).
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// Number of transfers.
        #[arg(long, default_value_t = 10_000)]
        transfers: u64,
        /// Payments in flight at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Workload seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Run the switch as a server until interrupted.
    Serve {
        /// Config file (TOML; see ops/switchd.toml). Without it: the embedded default.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data directory (overrides the config).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Listen address (overrides the config).
        #[arg(long)]
        listen: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    switch::memory::keep_memory();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.cmd {
            Cmd::Demo { data, transfers, concurrency, seed } => {
                demo(data, transfers, concurrency, seed).await
            }
            Cmd::Serve { config, data, listen } => serve(config, data, listen).await,
        }
    })
}

async fn demo(data: PathBuf, transfers: u64, concurrency: usize, seed: u64) -> anyhow::Result<()> {
    let opts =
        switch::demo::DemoOptions { data, transfers, concurrency, seed, ..Default::default() };
    println!(
        "switchd demo: {} transfers by alias between 3 simulated banks over mTLS (data in {})",
        transfers,
        opts.data.display()
    );
    let r = switch::demo::run(&opts).await?;
    if r.replayed > 0 {
        println!("recovered {} journal events from an earlier run", r.replayed);
    }
    println!("settled:  {}", r.accepted);
    println!("rejected: {}", r.rejected);
    for (code, n) in &r.reasons {
        let name = iso20022::codes::StatusReason::from_code(code).map_or("", |c| c.name());
        println!("  {code} {name}: {n}");
    }
    if r.unanswered > 0 {
        println!("UNANSWERED: {} (no final status within 30 s)", r.unanswered);
    }
    println!(
        "latency send -> final status: p50 {:.2} ms, p99 {:.2} ms; {:.0} transfers/s",
        r.p50_ms, r.p99_ms, r.tps
    );
    println!("settlement positions:");
    for (bic, bal) in &r.positions {
        println!("  {bic}  {}.{:02}", bal / 100, (bal % 100).abs());
    }
    println!("{}", r.summary_line());
    if !r.conserved {
        anyhow::bail!("conservation check failed");
    }
    Ok(())
}

async fn serve(
    config: Option<PathBuf>,
    data: Option<PathBuf>,
    listen: Option<String>,
) -> anyhow::Result<()> {
    let mut cfg = match &config {
        Some(path) => switch::config::Config::load(path)?,
        None => {
            switch::config::Config::dev(&data.clone().unwrap_or_else(|| PathBuf::from("./data")))
        }
    };
    if let Some(d) = data {
        cfg.data = d;
    }
    if let Some(l) = listen {
        cfg.listen = l;
    }
    let node = switch::node::Node::start(&cfg).await?;
    println!(
        "switchd listening on {} (data {}; {} journal events replayed)",
        node.addr,
        cfg.data.display(),
        node.replayed
    );
    println!("certificates: {}", node.pki.dir.display());
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                if node.core_stopped() {
                    anyhow::bail!("core stopped after a journal failure; restart to recover from disk");
                }
            }
        }
    }
    println!("switchd stopping");
    let _ = node.stop();
    Ok(())
}
