//! Per-worker stack counters. Plain integers: the worker owns them and
//! hands copies to the control plane, so no atomics.

use super::DropCounters;

/// Per bound UDP port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UdpPortCounters {
    pub port: u16,
    pub rx_datagrams: u64,
    pub rx_bytes: u64,
    pub tx_datagrams: u64,
    pub tx_bytes: u64,
}

#[derive(Clone, Debug, Default)]
pub struct StackCounters {
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,

    pub arp_requests_rx: u64,
    pub arp_replies_rx: u64,
    pub arp_requests_tx: u64,
    pub arp_replies_tx: u64,
    /// Gauge: entries in the ARP cache.
    pub arp_cache_size: u64,
    /// Addresses given up on after the last retry.
    pub arp_resolution_failures: u64,

    pub ipv4_rx: u64,
    pub ipv4_fragments_rx: u64,
    pub ipv4_reassembled: u64,
    pub ipv4_tx: u64,
    pub ipv4_fragments_tx: u64,

    pub icmp_echo_requests_rx: u64,
    pub icmp_echo_replies_tx: u64,
    pub icmp_errors_rx: u64,
    pub icmp_errors_tx: u64,

    pub udp_rx_datagrams: u64,
    pub udp_tx_datagrams: u64,
    /// One entry per bound port, in bind order.
    pub udp_ports: Vec<UdpPortCounters>,

    /// Packets handed to and taken from sibling workers (`shard.rs`).
    pub handoff: HandoffCounters,

    pub drops: DropCounters,
}

impl StackCounters {
    pub fn udp_port(&self, port: u16) -> Option<&UdpPortCounters> {
        self.udp_ports.iter().find(|p| p.port == port)
    }
}

/// The handoff kinds, for counters and metric labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandoffKind {
    TcpOwner,
    TcpSearch,
    Fragment,
    TcpIcmpError,
}

impl HandoffKind {
    pub const ALL: [HandoffKind; 4] = [
        HandoffKind::TcpOwner,
        HandoffKind::TcpSearch,
        HandoffKind::Fragment,
        HandoffKind::TcpIcmpError,
    ];

    /// The Prometheus label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            HandoffKind::TcpOwner => "tcp_owner",
            HandoffKind::TcpSearch => "tcp_search",
            HandoffKind::Fragment => "fragment",
            HandoffKind::TcpIcmpError => "tcp_icmp_error",
        }
    }
}

/// Handoffs sent and taken, per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandoffCounters {
    pub sent: [u64; 4],
    pub received: [u64; 4],
}

impl HandoffCounters {
    pub(crate) fn count_sent(&mut self, kind: HandoffKind) {
        self.sent[kind as usize] += 1;
    }

    pub(crate) fn count_received(&mut self, kind: HandoffKind) {
        self.received[kind as usize] += 1;
    }

    pub fn sent(&self, kind: HandoffKind) -> u64 {
        self.sent[kind as usize]
    }

    pub fn received(&self, kind: HandoffKind) -> u64 {
        self.received[kind as usize]
    }
}
