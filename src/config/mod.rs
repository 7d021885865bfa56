//! The TOML configuration: schema (serde), defaults, and validation whose
//! errors name the key and the fix.

mod error;
mod https;
mod tcp;
mod validate;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use error::ConfigError;
pub use tcp::TcpSection;
pub use xskd_datapath::config::{UmemConfig, XdpMode, ZeroCopy};
pub use xskd_datapath::impair::ImpairConfig;
pub use xskd_services::https::HttpsSection;

/// The whole file. Every section has defaults except `interface.name` and
/// `address.ipv4`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub interface: InterfaceConfig,
    pub address: AddressConfig,
    #[serde(default)]
    pub umem: UmemConfig,
    #[serde(default)]
    pub worker: WorkerConfig,
    #[serde(default)]
    pub services: ServicesConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub tcp: TcpSection,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub http: HttpSection,
    /// HTTPS on the bypass stack (same object store); absent = off.
    #[serde(default)]
    pub https: Option<HttpsSection>,
    /// The authoritative DNS responder; absent = off.
    #[serde(default)]
    pub dns: Option<crate::service::dns::DnsConfig>,
    /// Seeded link impairment for chaos testing; present (even empty) =
    /// every queue's socket is wrapped in `datapath::impair::Impaired`.
    #[serde(default)]
    pub impair: Option<ImpairConfig>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter ("info", "warn", "xskd=debug"); `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceConfig {
    /// The NIC (or veth) to serve.
    pub name: String,
    /// One worker per entry: the NIC rx queue it serves and the core it is pinned to.
    #[serde(default = "default_queues")]
    pub queues: Vec<QueueConfig>,
    #[serde(default)]
    pub xdp_mode: XdpMode,
    #[serde(default)]
    pub zero_copy: ZeroCopy,
    /// Ask the driver to tell us when it needs a wakeup syscall (XDP_USE_NEED_WAKEUP).
    #[serde(default = "yes")]
    pub need_wakeup: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub queue: u32,
    /// CPU core to pin this queue's worker to; absent = not pinned.
    #[serde(default)]
    pub core: Option<usize>,
}

fn default_queues() -> Vec<QueueConfig> {
    vec![QueueConfig {
        queue: 0,
        core: None,
    }]
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddressConfig {
    /// Our address and prefix, e.g. "198.18.0.1/24".
    pub ipv4: String,
    /// Our MAC; absent = the interface's own.
    #[serde(default)]
    pub mac: Option<String>,
    /// Next hop for destinations off our prefix.
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    #[serde(default = "default_mtu")]
    pub mtu: usize,
}

fn default_mtu() -> usize {
    1500
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    pub poll: PollMode,
    /// On SIGTERM: seconds open TCP connections get to close (our FIN)
    /// before the rest are reset.
    pub drain_secs: u64,
    /// What the workers run: the protocol stack, or a bare reflector that
    /// swaps addresses and sends UDP frames straight back (benchmarks).
    pub processor: ProcessorKind,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            poll: PollMode::default(),
            drain_secs: 5,
            processor: ProcessorKind::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProcessorKind {
    #[default]
    Stack,
    Reflector,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PollMode {
    /// Spin on the rings: lowest latency, one core at 100%.
    #[default]
    Busy,
    /// Spin briefly, then back off with short sleeps when idle.
    Backoff,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServicesConfig {
    /// UDP echo (RFC 862); 0 = off.
    pub udp_echo_port: u16,
    /// TCP echo (RFC 862); 0 = off.
    pub tcp_echo_port: u16,
    /// TCP discard (RFC 863); 0 = off.
    pub discard_port: u16,
    /// HTTP/1.1 object store; 0 = off.
    pub http_port: u16,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            udp_echo_port: 7,
            tcp_echo_port: 7,
            discard_port: 9,
            http_port: 80,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Management address on the kernel stack (never the bypass path).
    pub listen: Option<SocketAddr>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 9100))),
        }
    }
}

/// `[http]`: limits of the HTTP service and its object store.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Sum of all stored bodies; past it PUT/POST get 507 (reads go on).
    pub store_max_bytes: u64,
    pub store_max_objects: u64,
    /// Largest request body: past it 413.
    pub max_body_bytes: usize,
    /// Largest request head: past it 431.
    pub max_header_bytes: usize,
    /// A request head must arrive within this (slowloris): 408.
    pub header_timeout_ms: u64,
    /// A body must make progress this often: 408.
    pub body_timeout_ms: u64,
    /// Idle keep-alive connections are closed after this.
    pub idle_timeout_ms: u64,
    /// Serve the files under this directory at start (like a static server).
    pub preload_dir: Option<std::path::PathBuf>,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            store_max_bytes: 256 << 20,
            store_max_objects: 100_000,
            max_body_bytes: 64 << 20,
            max_header_bytes: 16 << 10,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            preload_dir: None,
        }
    }
}

/// `address.ipv4` split into its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
}

impl Config {
    /// Parse and validate TOML text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(ConfigError::from_toml)?;
        config.validate()?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_toml(&text)
    }

    /// Our address; valid after `validate`.
    pub fn ipv4(&self) -> Ipv4Cidr {
        validate::parse_cidr(&self.address.ipv4).expect("validated address.ipv4")
    }
}

#[cfg(test)]
mod tests;

/// Parse "aa:bb:cc:dd:ee:ff".
pub fn parse_mac_str(s: &str) -> Option<[u8; 6]> {
    validate::parse_mac(s)
}
