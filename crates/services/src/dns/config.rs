//! The `[dns]` configuration section and its validation errors.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

fn default_ttl() -> u32 {
    60
}
fn default_max_amplification() -> f64 {
    3.0
}
fn default_port() -> u16 {
    53
}
fn yes() -> bool {
    true
}
fn default_tcp_idle_timeout_ms() -> u64 {
    10_000
}

/// The `[dns]` section of the daemon configuration.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// The zone we are authoritative for, e.g. `"xskd.test."`.
    pub zone: String,
    /// A records. Names follow zone-file rules: `"www"` is relative to the
    /// zone, `"www.xskd.test."` (trailing dot) is absolute, `"@"` is the apex.
    #[serde(default)]
    pub records: Vec<DnsRecord>,
    /// A response larger than this many times the query is replaced by a
    /// truncated one unless the query carries a valid server cookie.
    #[serde(default = "default_max_amplification")]
    pub max_amplification: f64,
    /// Port the service binds, UDP and (with `tcp`) TCP.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Also serve DNS over TCP on `port` (RFC 7766), where clients retry
    /// after a truncated (TC) answer.
    #[serde(default = "yes")]
    pub tcp: bool,
    /// A DNS-over-TCP connection with no query for this long is closed
    /// (RFC 7766 section 6.2.3: idle timeouts "on the order of seconds").
    #[serde(default = "default_tcp_idle_timeout_ms")]
    pub tcp_idle_timeout_ms: u64,
}

/// One A record.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    pub name: String,
    pub ipv4: Ipv4Addr,
    #[serde(default = "default_ttl")]
    pub ttl: u32,
}

/// The demo zone: `www.xskd.test.` -> 198.18.0.1.
pub fn example_config() -> DnsConfig {
    DnsConfig {
        zone: "xskd.test.".to_owned(),
        records: vec![DnsRecord {
            name: "www".to_owned(),
            ipv4: Ipv4Addr::new(198, 18, 0, 1),
            ttl: default_ttl(),
        }],
        max_amplification: default_max_amplification(),
        port: default_port(),
        tcp: true,
        tcp_idle_timeout_ms: default_tcp_idle_timeout_ms(),
    }
}

/// A `[dns]` section that cannot be served, naming the key and the fix.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DnsConfigError {
    #[error("dns.zone = {zone:?} is not a usable zone ({reason}); set it to a fully qualified name such as \"xskd.test.\"")]
    BadZone { zone: String, reason: String },
    #[error("dns.records[{index}].name = {name:?} is not a valid name ({reason}); use a label such as \"www\", \"@\" for the apex, or an absolute name ending in the zone and a dot such as \"www.xskd.test.\"")]
    BadRecordName {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("dns.records[{index}].name = {name:?} is outside dns.zone {zone:?}; only names at or below the zone can be served, so fix the name or the zone")]
    OutsideZone {
        index: usize,
        name: String,
        zone: String,
    },
    #[error("dns.records[{index}].name = {name:?} ends in the zone but has no trailing dot, so it would be read as relative to the zone; write it as {name:?} plus \".\" or as the relative label only")]
    MissingTrailingDot { index: usize, name: String },
    #[error("dns.records[{index}] repeats {name} -> {ipv4}; remove the duplicate")]
    DuplicateRecord {
        index: usize,
        name: String,
        ipv4: Ipv4Addr,
    },
    #[error("dns.records[{index}].ttl = {ttl} for {name} differs from ttl = {first_ttl} of dns.records[{first_index}] with the same name; give every record of one name the same ttl (RFC 2181 section 5.2)")]
    TtlMismatch {
        index: usize,
        name: String,
        ttl: u32,
        first_index: usize,
        first_ttl: u32,
    },
    #[error("dns.records[{index}].ttl = {ttl} is above the maximum 2147483647 (RFC 2181 section 8); use a smaller ttl such as 60")]
    TtlTooLarge { index: usize, ttl: u32 },
    #[error("dns.max_amplification = {value} must be a finite number of at least 1.0 (a response may never be smaller than required to echo the query); the default is 3.0")]
    BadAmplification { value: f64 },
    #[error("dns.port = 0 cannot be bound; use a port such as 53 (the default)")]
    BadPort,
    #[error("dns.tcp_idle_timeout_ms = 0 would close every DNS-over-TCP connection at once; use a few seconds such as 10000 (the default)")]
    BadTcpIdleTimeout,
}
