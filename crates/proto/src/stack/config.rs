//! Stack configuration: addresses and every bound, with defaults.

use std::net::Ipv4Addr;
use std::time::Duration;

pub use super::ipv4_frag::FragConfig;
use crate::wire::EthernetAddress;

/// ARP cache and resolution bounds.
#[derive(Clone, Debug)]
pub struct ArpConfig {
    /// Most entries in the cache.
    pub cache_size: usize,
    /// How long a learned entry lives without being confirmed again.
    pub entry_ttl: Duration,
    /// Frames held per address being resolved.
    pub pending_per_addr: usize,
    /// Addresses being resolved at once.
    pub max_pending_addrs: usize,
    /// Gap between requests for one address (also the refresh probe rate).
    pub retry_interval: Duration,
    /// Requests sent for one address before its held frames are dropped.
    pub max_retries: u32,
    /// Key for the cache's hash; the worker should pass a random value.
    pub hash_key: u64,
}

impl Default for ArpConfig {
    fn default() -> Self {
        ArpConfig {
            cache_size: 1024,
            entry_ttl: Duration::from_secs(60),
            pending_per_addr: 4,
            max_pending_addrs: 32,
            //= https://www.rfc-editor.org/rfc/rfc1122#section-2.3.2.1
            //# A mechanism to prevent ARP flooding (repeatedly sending an
            //# ARP Request for the same IP address, at a high rate) MUST be
            //# included.  The recommended maximum rate is 1 per second per
            //# destination.
            retry_interval: Duration::from_secs(1),
            max_retries: 3,
            hash_key: 0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StackConfig {
    pub mac: EthernetAddress,
    pub ipv4: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    /// IP MTU: the largest IPv4 packet (header included) we put in a frame.
    pub mtu: usize,
    pub arp: ArpConfig,
    pub frag: FragConfig,
    /// ICMP error token bucket.
    pub icmp_rate_per_sec: u32,
    pub icmp_burst: u32,
    /// First IPv4 identification used for fragmented datagrams. Give each
    /// worker a different seed (e.g. random, or worker index << 12) so
    /// workers sharing the address do not reuse IDs towards one peer.
    pub ident_seed: u16,
    /// TCP settings; `mss` is clamped to what the MTU carries.
    pub tcp: super::tcp::TcpConfig,
    /// Keys TCP ISNs (RFC 6528) and SYN cookies (RFC 4987): the worker
    /// draws it at start; tests pass a fixed one to replay runs.
    pub tcp_secret: [u8; 32],
    /// Seeds the ephemeral port search (RFC 6056).
    pub tcp_seed: u64,
    /// This worker's place among the workers of the address (`shard.rs`).
    pub shard: super::shard::Shard,
}

impl StackConfig {
    pub fn new(mac: EthernetAddress, ipv4: Ipv4Addr, prefix_len: u8) -> Self {
        StackConfig {
            mac,
            ipv4,
            prefix_len,
            gateway: None,
            mtu: 1500,
            arp: ArpConfig::default(),
            frag: FragConfig::default(),
            icmp_rate_per_sec: 100,
            icmp_burst: 50,
            ident_seed: 1,
            tcp: super::tcp::TcpConfig::default(),
            tcp_secret: [0; 32],
            tcp_seed: 0,
            shard: super::shard::Shard::ALONE,
        }
    }

    /// The network mask as a u32 (prefix lengths over 32 act as 32).
    pub fn netmask(&self) -> u32 {
        match self.prefix_len {
            0 => 0,
            n => u32::MAX << (32 - u32::from(n.min(32))),
        }
    }

    /// True if `addr` is in our prefix (on-link).
    pub fn is_on_link(&self, addr: Ipv4Addr) -> bool {
        let m = self.netmask();
        u32::from(addr) & m == u32::from(self.ipv4) & m
    }

    /// The directed broadcast of our subnet, if the prefix has one
    /// (/31 and /32 do not, RFC 3021).
    pub fn subnet_broadcast(&self) -> Option<Ipv4Addr> {
        (self.prefix_len < 31).then(|| Ipv4Addr::from(u32::from(self.ipv4) | !self.netmask()))
    }

    /// Limited broadcast or our subnet's broadcast.
    pub fn is_broadcast(&self, addr: Ipv4Addr) -> bool {
        addr.is_broadcast() || Some(addr) == self.subnet_broadcast()
    }
}
