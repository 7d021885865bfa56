//! The production processor of a worker: the stack with its services.

use serde_json::json;

use super::{FrameProcessor, SharedEvent};
use crate::control::metrics::MetricSet;
use crate::control::state::StatsExport;
use crate::datapath::TxSink;
use crate::stack::{DropReason, Stack, StackCounters};
use crate::time::Instant;

pub struct Node {
    stack: Stack,
    /// Service name per bound UDP port, for the `service` label.
    udp_services: Vec<(u16, &'static str)>,
}

impl Node {
    pub fn new(stack: Stack, udp_services: Vec<(u16, &'static str)>) -> Self {
        Node {
            stack,
            udp_services,
        }
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }
}

#[derive(Clone, Debug)]
pub struct NodeStats {
    pub stack: StackCounters,
    pub arp_cache_entries: usize,
    pub arp_held_frames: usize,
    pub reassembly_in_use: usize,
    pub udp_services: Vec<(u16, &'static str)>,
}

impl FrameProcessor for Node {
    type Stats = NodeStats;

    fn start(&mut self, now: Instant, tx: &mut impl TxSink) {
        self.stack.start(now, tx);
    }

    fn process_frame(&mut self, now: Instant, frame: &[u8], tx: &mut impl TxSink) {
        self.stack.process_frame(now, frame, tx);
    }

    fn poll(&mut self, now: Instant, tx: &mut impl TxSink) {
        self.stack.poll(now, tx);
    }

    fn poll_at(&self) -> Option<Instant> {
        self.stack.poll_at()
    }

    fn drain_shared(&mut self, out: &mut dyn FnMut(SharedEvent)) {
        self.stack
            .drain_arp_shared(|ip, mac| out(SharedEvent::ArpLearned { ip, mac }));
    }

    fn apply_shared(&mut self, now: Instant, event: SharedEvent, tx: &mut impl TxSink) {
        match event {
            SharedEvent::ArpLearned { ip, mac } => {
                self.stack.learn_arp_from_sibling(now, ip, mac, tx)
            }
        }
    }

    fn stats(&self) -> NodeStats {
        NodeStats {
            stack: self.stack.counters().clone(),
            arp_cache_entries: self.stack.arp_cache_len(),
            arp_held_frames: self.stack.arp_held_frames(),
            reassembly_in_use: self.stack.reassembly_in_use(),
            udp_services: self.udp_services.clone(),
        }
    }
}

impl NodeStats {
    fn service(&self, port: u16) -> &'static str {
        self.udp_services
            .iter()
            .find(|(p, _)| *p == port)
            .map_or("unknown", |(_, s)| s)
    }
}

impl StatsExport for NodeStats {
    fn export_metrics(&self, m: &mut MetricSet, l: &[(&str, &str)]) {
        let c = &self.stack;
        m.counter(
            "stack_rx_frames_total",
            "Frames handed to the stack.",
            l,
            c.rx_frames,
        );
        m.counter(
            "stack_tx_frames_total",
            "Frames the stack sent.",
            l,
            c.tx_frames,
        );
        for (dir, op, v) in [
            ("rx", "request", c.arp_requests_rx),
            ("rx", "reply", c.arp_replies_rx),
            ("tx", "request", c.arp_requests_tx),
            ("tx", "reply", c.arp_replies_tx),
        ] {
            let mut ll = l.to_vec();
            ll.extend_from_slice(&[("direction", dir), ("op", op)]);
            m.counter(
                "arp_packets_total",
                "ARP packets by direction and operation.",
                &ll,
                v,
            );
        }
        m.gauge(
            "arp_cache_entries",
            "Entries in the ARP cache.",
            l,
            self.arp_cache_entries as f64,
        );
        m.gauge(
            "arp_held_frames",
            "Frames waiting for ARP resolution.",
            l,
            self.arp_held_frames as f64,
        );
        m.counter(
            "arp_resolution_failures_total",
            "Addresses given up on after the last ARP retry.",
            l,
            c.arp_resolution_failures,
        );
        m.counter(
            "ipv4_rx_packets_total",
            "IPv4 packets received.",
            l,
            c.ipv4_rx,
        );
        m.counter("ipv4_tx_packets_total", "IPv4 packets sent.", l, c.ipv4_tx);
        m.counter(
            "ipv4_fragments_rx_total",
            "IPv4 fragments received.",
            l,
            c.ipv4_fragments_rx,
        );
        m.counter(
            "ipv4_fragments_tx_total",
            "IPv4 fragments sent.",
            l,
            c.ipv4_fragments_tx,
        );
        m.counter(
            "ipv4_reassembled_total",
            "IPv4 datagrams reassembled.",
            l,
            c.ipv4_reassembled,
        );
        m.gauge(
            "ipv4_reassembly_slots_used",
            "Reassembly slots in use.",
            l,
            self.reassembly_in_use as f64,
        );
        m.counter(
            "icmp_echo_requests_total",
            "ICMP echo requests received.",
            l,
            c.icmp_echo_requests_rx,
        );
        m.counter(
            "icmp_echo_replies_total",
            "ICMP echo replies sent.",
            l,
            c.icmp_echo_replies_tx,
        );
        m.counter(
            "icmp_errors_received_total",
            "ICMP error messages received.",
            l,
            c.icmp_errors_rx,
        );
        m.counter(
            "icmp_errors_sent_total",
            "ICMP error messages sent.",
            l,
            c.icmp_errors_tx,
        );
        m.counter(
            "udp_rx_datagrams_total",
            "UDP datagrams received.",
            l,
            c.udp_rx_datagrams,
        );
        m.counter(
            "udp_tx_datagrams_total",
            "UDP datagrams sent.",
            l,
            c.udp_tx_datagrams,
        );
        for p in &c.udp_ports {
            let port = p.port.to_string();
            let mut ll = l.to_vec();
            ll.extend_from_slice(&[("service", self.service(p.port)), ("port", &port)]);
            m.counter(
                "udp_service_rx_datagrams_total",
                "UDP datagrams received per service.",
                &ll,
                p.rx_datagrams,
            );
            m.counter(
                "udp_service_tx_datagrams_total",
                "UDP datagrams sent per service.",
                &ll,
                p.tx_datagrams,
            );
        }
        // Every reason, zeros included, so dashboards see the full set.
        for &r in DropReason::ALL {
            let mut ll = l.to_vec();
            ll.push(("reason", r.as_str()));
            m.counter(
                "drops_total",
                "Frames dropped, by reason.",
                &ll,
                c.drops.get(r),
            );
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let c = &self.stack;
        let drops: serde_json::Map<String, serde_json::Value> = c
            .drops
            .nonzero()
            .map(|(r, n)| (r.as_str().to_string(), json!(n)))
            .collect();
        json!({
            "rx_frames": c.rx_frames,
            "tx_frames": c.tx_frames,
            "arp_requests_rx": c.arp_requests_rx,
            "arp_replies_rx": c.arp_replies_rx,
            "arp_requests_tx": c.arp_requests_tx,
            "arp_replies_tx": c.arp_replies_tx,
            "arp_cache_entries": self.arp_cache_entries,
            "arp_resolution_failures": c.arp_resolution_failures,
            "ipv4_rx": c.ipv4_rx,
            "ipv4_tx": c.ipv4_tx,
            "ipv4_fragments_rx": c.ipv4_fragments_rx,
            "ipv4_fragments_tx": c.ipv4_fragments_tx,
            "ipv4_reassembled": c.ipv4_reassembled,
            "icmp_echo_requests_rx": c.icmp_echo_requests_rx,
            "icmp_echo_replies_tx": c.icmp_echo_replies_tx,
            "icmp_errors_rx": c.icmp_errors_rx,
            "icmp_errors_sent": c.icmp_errors_tx,
            "udp_rx_datagrams": c.udp_rx_datagrams,
            "udp_tx_datagrams": c.udp_tx_datagrams,
            "drops": drops,
        })
    }
}
