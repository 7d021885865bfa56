//! `xskd-bench`: side-by-side benchmarks in a veth lab, xskd against the
//! kernel stack (and nginx), plus the load generators and kernel baseline
//! servers it runs inside the lab's namespaces. A tool beside the daemon:
//! none of this is compiled into `xskd`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod bench;
mod kernel_servers;

#[derive(Parser)]
#[command(
    name = "xskd-bench",
    version,
    about = "Side-by-side benchmarks in a veth lab: xskd vs the kernel stack",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    bench: bench::BenchArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Load generators the benchmark runs in the peer namespace.
    #[command(subcommand)]
    Client(bench::client::BenchClient),
    /// Kernel-socket servers, the baselines the benchmark compares against.
    #[command(subcommand)]
    KernelServer(kernel_servers::KernelServer),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        None => bench::bench(cli.bench),
        Some(Command::Client(c)) => bench::client::bench_client(c),
        Some(Command::KernelServer(s)) => kernel_servers::kernel_server(s),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xskd-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
