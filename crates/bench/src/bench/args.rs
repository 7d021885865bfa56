//! `xskd-bench`'s command line: the options, the parts a run measures, and
//! the choices of load generator and polling.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

#[derive(Args, Clone, Debug, Serialize)]
pub struct BenchArgs {
    /// Rounds per pair; each round measures every subject once, in turn.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Length of each measurement (latency and throughput each).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Where the JSON and markdown results go.
    #[arg(long, default_value = "bench-out")]
    pub out: PathBuf,
    /// Only these parts (comma-separated); default all.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Part>,
    /// xskd's polling: busy (one core at 100% whatever the load), backoff
    /// (sleeps when idle), or both, each measured against the same kernel.
    #[arg(long, value_enum, default_value_t = PollArg::Both)]
    pub poll: PollArg,
    /// The core the server under test runs on.
    #[arg(long, default_value_t = 0)]
    pub server_core: usize,
    /// The core the load generator runs on.
    #[arg(long, default_value_t = 1)]
    pub load_core: usize,
    /// Datagrams in flight in the throughput load.
    #[arg(long, default_value_t = 1024)]
    pub window: u64,
    /// UDP payload bytes (18 makes 64-byte frames).
    #[arg(long, default_value_t = 18)]
    pub size: usize,
    /// Size of the bulk GET's object in MB (it is held in xskd's store).
    #[arg(long, default_value_t = 1024)]
    pub bulk_mb: u64,
    /// xskd's per-connection TCP send buffer (`[tcp] send_buffer`) in
    /// bytes; 0 (the default) runs xskd's own configuration, where the
    /// rings start at 64 KB and autotune up to 4 MiB send / 6 MiB receive
    /// as the kernel's do. A size sets where the send ring starts; at
    /// 4194304 (`send_buffer_max`) it has no room left to grow.
    #[arg(long, default_value_t = 0)]
    pub xskd_send_buffer: usize,
    /// wrk connections in the HTTP loads.
    #[arg(long, default_value_t = 16)]
    pub http_conns: u32,
    /// Concurrent `openssl s_time -new` processes in the TLS handshake load.
    #[arg(long, default_value_t = 4)]
    pub tls_clients: u32,
    /// The ceiling part's load generator: `xdp` sends and counts through
    /// an AF_XDP socket in the peer namespace (pushes harder), `socket`
    /// reuses the UDP part's kernel-socket load.
    #[arg(long, value_enum, default_value_t = Generator::Xdp)]
    pub generator: Generator,
    /// The `loss` part's loss levels: percent of TCP frames dropped at
    /// random each way (steps of 0.1).
    #[arg(long, value_delimiter = ',', default_values_t = [0.0, 1.0, 2.0, 5.0])]
    pub loss_levels: Vec<f64>,
    /// Size of each download and upload of the `loss` part, in MB.
    #[arg(long, default_value_t = 20)]
    pub loss_mb: u64,
    /// Seconds one transfer of the `loss` part may take; past that it is
    /// reported as incomplete.
    #[arg(long, default_value_t = 120.0)]
    pub loss_timeout: f64,
    /// The `loss` part: congestion control of the kernel's TCP in both
    /// namespaces (nginx's and the kernel client's), e.g. `cubic`; by
    /// default the kernel's own default (`net.ipv4.tcp_congestion_control`,
    /// which the report names).
    #[arg(long)]
    pub loss_kernel_cc: Option<String>,
    /// Do not draw the PNG plots (benches/plot.py) at the end.
    #[arg(long)]
    pub no_plot: bool,
    /// The xskd daemon binary under test; default: the `xskd` next to this
    /// binary (target/release/ after `cargo build --release`), else PATH.
    #[arg(long)]
    pub xskd: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// UDP echo: latency and datagrams/s, xskd vs the kernel.
    Udp,
    /// Datapath ceiling: the bare reflector vs xskd's stack echo.
    Ceiling,
    /// TCP request/response (64 bytes, one connection), xskd vs the kernel.
    Tcp,
    /// HTTP GETs of small and 16 KB objects (wrk), xskd vs nginx.
    Http,
    /// One large GET, xskd vs nginx with offloads off and on.
    Bulk,
    /// Full TLS 1.3 handshakes/s and HTTPS requests/s, xskd vs nginx with
    /// the same certificate, suite and group.
    Tls,
    /// Download and upload goodput through the same random loss (nftables
    /// on a bridge in the peer namespace), xskd vs nginx / a kernel discard
    /// server. Not in the default set; run it alone (`--only loss`).
    Loss,
    /// The AF_XDP transmit ceiling for 1514-byte frames on xskd's veth
    /// end, and the bulk GET as a fraction of it.
    Txceiling,
}

/// Every part, in the order they are reported.
pub const ALL_PARTS: [Part; 7] = [
    Part::Udp,
    Part::Ceiling,
    Part::Tcp,
    Part::Http,
    Part::Bulk,
    Part::Txceiling,
    Part::Tls,
];

/// The parts this run measures.
pub fn parts_of(args: &BenchArgs) -> Vec<Part> {
    if args.only.is_empty() {
        ALL_PARTS.to_vec()
    } else {
        args.only.clone()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Generator {
    Socket,
    Xdp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PollArg {
    Busy,
    Backoff,
    Both,
}
