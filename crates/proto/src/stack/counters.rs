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

    pub drops: DropCounters,
}

impl StackCounters {
    pub fn udp_port(&self, port: u16) -> Option<&UdpPortCounters> {
        self.udp_ports.iter().find(|p| p.port == port)
    }
}
