//! Why a frame was dropped. One enum for the whole stack: it is both the
//! return value of every drop path and the `reason` label in Prometheus, so
//! an operator can always see why a frame went nowhere.

macro_rules! drop_reasons {
    ($($variant:ident => $label:literal,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum DropReason {
            $($variant,)*
        }

        impl DropReason {
            /// Every reason, in declaration order (index == `as usize`).
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];
            pub const COUNT: usize = Self::ALL.len();

            /// The Prometheus label value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $label,)*
                }
            }
        }
    };
}

drop_reasons! {
    // Ethernet
    EthTruncated => "eth_truncated",
    EthNotForUs => "eth_not_for_us",
    EthUnknownType => "eth_unknown_ethertype",
    EthSourceMulticast => "eth_source_multicast",
    // ARP
    ArpMalformed => "arp_malformed",
    ArpUnsupported => "arp_unsupported",
    ArpNotForUs => "arp_not_for_us",
    ArpConflict => "arp_conflict",
    ArpPendingFull => "arp_pending_full",
    ArpUnresolved => "arp_unresolved",
    ArpCacheFull => "arp_cache_full",
    ArpUnsolicitedIgnored => "arp_unsolicited_ignored",
    // IPv4
    Ipv4Truncated => "ipv4_truncated",
    Ipv4BadVersion => "ipv4_bad_version",
    Ipv4BadHeaderLen => "ipv4_bad_header_len",
    Ipv4BadTotalLen => "ipv4_bad_total_len",
    Ipv4BadChecksum => "ipv4_bad_checksum",
    Ipv4TtlExpired => "ipv4_ttl_expired",
    Ipv4SourceRoute => "ipv4_source_route",
    Ipv4BadOptions => "ipv4_bad_options",
    Ipv4NotForUs => "ipv4_not_for_us",
    Ipv4BadSource => "ipv4_bad_source",
    Ipv4UnknownProtocol => "ipv4_unknown_protocol",
    Ipv4NoRoute => "ipv4_no_route",
    FragOverlap => "frag_overlap",
    FragDuplicate => "frag_duplicate",
    FragTooBig => "frag_too_big",
    FragTimeout => "frag_timeout",
    FragTableFull => "frag_table_full",
    FragMalformed => "frag_malformed",
    // ICMP
    IcmpTruncated => "icmp_truncated",
    IcmpBadChecksum => "icmp_bad_checksum",
    IcmpIgnored => "icmp_ignored",
    IcmpRateLimited => "icmp_rate_limited",
    // UDP
    UdpTruncated => "udp_truncated",
    UdpBadLength => "udp_bad_length",
    UdpBadChecksum => "udp_bad_checksum",
    UdpNoListener => "udp_no_listener",
    UdpBadPort => "udp_bad_port",
    // TCP
    TcpTruncated => "tcp_truncated",
    TcpBadChecksum => "tcp_bad_checksum",
    TcpBadHeaderLen => "tcp_bad_header_len",
    TcpBadOptions => "tcp_bad_options",
    TcpBadFlags => "tcp_bad_flags",
    TcpLand => "tcp_land",
    TcpBadSourceAddr => "tcp_bad_source_addr",
    TcpNoListener => "tcp_no_listener",
    TcpOutOfWindow => "tcp_out_of_window",
    TcpAckOutOfWindow => "tcp_ack_out_of_window",
    TcpPawsRejected => "tcp_paws_rejected",
    TcpRstInvalid => "tcp_rst_invalid",
    TcpSynQueueFull => "tcp_syn_queue_full",
    TcpAcceptQueueFull => "tcp_accept_queue_full",
    TcpConnTableFull => "tcp_conn_table_full",
    TcpBadCookie => "tcp_bad_cookie",
    TcpReassemblyFull => "tcp_reassembly_full",
    TcpRecvBufferFull => "tcp_recv_buffer_full",
    TcpStateClosed => "tcp_state_closed",
    TcpUnsupported => "tcp_unsupported",
    // Several workers: a sibling's queue or its buffer pool was full.
    HandoffFull => "handoff_full",
    // Transmit side
    TxRingFull => "tx_ring_full",
    TxNoFrame => "tx_no_frame",
    TxFrameTooBig => "tx_frame_too_big",
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-reason drop counters; one per worker, no atomics (the worker owns it
/// and hands copies to the control plane).
#[derive(Clone, Debug)]
pub struct DropCounters([u64; DropReason::COUNT]);

impl Default for DropCounters {
    fn default() -> Self {
        DropCounters([0; DropReason::COUNT])
    }
}

impl DropCounters {
    pub fn count(&mut self, reason: DropReason) {
        self.0[reason as usize] += 1;
    }

    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// (reason, count) for every reason with a non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }

    pub fn merge(&mut self, other: &DropCounters) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += *b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn labels_are_unique_snake_case_and_indexed_in_order() {
        let mut seen = HashSet::new();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            let l = r.as_str();
            assert!(seen.insert(l), "duplicate label {l}");
            assert!(l
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
        }
    }

    #[test]
    fn counters_count_per_reason_and_merge() {
        let mut a = DropCounters::default();
        a.count(DropReason::UdpNoListener);
        a.count(DropReason::UdpNoListener);
        let mut b = DropCounters::default();
        b.count(DropReason::Ipv4BadChecksum);
        a.merge(&b);
        assert_eq!(a.get(DropReason::UdpNoListener), 2);
        assert_eq!(a.get(DropReason::Ipv4BadChecksum), 1);
        assert_eq!(a.total(), 3);
        assert_eq!(a.nonzero().count(), 2);
    }
}
