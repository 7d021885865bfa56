//! The `xskd` binary: the daemon, config checking, the demo lab and probes.
//! The benchmark and its load generators are a separate binary, `xskd-bench`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "xskd",
    version,
    about = "Kernel-bypass packet processing daemon (AF_XDP + userspace TCP/IP)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon on the interface and queues named in the config.
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config file and print what it means.
    CheckConfig { file: PathBuf },
    /// Build a veth lab, run xskd in it, show ping / arping / UDP echo from
    /// the kernel peer, print the counters, tear everything down.
    Demo,
    /// Print the headline counters of a running daemon.
    Stats {
        /// The daemon's admin endpoint.
        #[arg(long, default_value = "127.0.0.1:9100")]
        admin: std::net::SocketAddr,
    },
    /// List TCP connections of a running daemon, like `ss -tin`.
    Ss {
        #[arg(long, default_value = "127.0.0.1:9100")]
        admin: std::net::SocketAddr,
        /// Only this state (e.g. established, time-wait).
        #[arg(long)]
        state: Option<String>,
        /// Only connections with this local or remote port.
        #[arg(long)]
        port: Option<u16>,
    },
    /// Ask the running daemon to connect out over the bypass stack: send a
    /// message, half-close, print the answer (JSON).
    TcpProbe {
        target: std::net::SocketAddrV4,
        #[arg(long, default_value = "")]
        send: String,
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
        /// Which worker connects (its position in interface.queues).
        #[arg(long, default_value_t = 0)]
        worker: usize,
        #[arg(long, default_value = "127.0.0.1:9100")]
        admin: std::net::SocketAddr,
    },
    /// Client-side checks used by the demo and the tests (run them in the
    /// peer namespace).
    #[command(subcommand)]
    Probe(cli::probe::Probe),
}

/// Logs go to stderr (journald picks them up under systemd), without colour
/// unless stderr is a terminal. `RUST_LOG` overrides the configured level.
fn init_logging(level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match &cli.command {
        Command::Run { config } => xskd::config::Config::load(config)
            .map(|c| c.log.level)
            .unwrap_or_else(|_| "info".into()),
        _ => "info".into(),
    };
    init_logging(&level);
    let result: Result<()> = match cli.command {
        Command::Run { config } => cli::run::run(&config),
        Command::CheckConfig { file } => cli::check_config(&file),
        Command::Demo => cli::demo::demo(),
        Command::Probe(p) => cli::probe::probe(p),
        Command::Stats { admin } => cli::admin_client::stats(admin, &mut std::io::stdout().lock()),
        Command::TcpProbe {
            target,
            send,
            timeout_ms,
            worker,
            admin,
        } => cli::admin_client::tcp_probe(
            admin,
            target,
            &send,
            timeout_ms,
            worker,
            &mut std::io::stdout().lock(),
        ),
        Command::Ss { admin, state, port } => {
            cli::admin_client::ss(admin, state.as_deref(), port, &mut std::io::stdout().lock())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our stdout went away (`xskd ss | head`): not an error.
        Err(e) if cli::admin_client::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xskd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
