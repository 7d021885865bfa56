//! The production processor of a worker: the stack with its services.

use serde_json::json;

use super::{ControlCommand, FrameProcessor, SharedEvent};
use crate::service::connect_probe::{ConnectProbe, ProbeError, ProbeOutcome};
use crossbeam::channel::Sender;

/// Operator probes one worker runs at once.
const MAX_PROBES: usize = 16;
use crate::control::metrics::MetricSet;
use crate::control::state::StatsExport;
use crate::control::state::{new_latency_histogram, MAX_CONNECTION_ROWS};
use crate::datapath::TxSink;
use crate::service::discard::Discard;
use crate::service::http::{HttpService, HttpStats, Method, TimeoutKind};
use crate::service::tcp_echo::TcpEcho;
use crate::stack::tcp::{ConnInfo, State, Tcp, TcpCounters};
use crate::stack::{DropReason, ServiceMetric, Stack, StackCounters};
use crate::time::Instant;
use hdrhistogram::Histogram;

/// A TCP application run to completion inside the worker.
pub enum TcpApp {
    Echo(TcpEcho),
    Discard(Discard),
    Http(Box<HttpService>),
}

impl TcpApp {
    fn poll(&mut self, now: Instant, tcp: &mut Tcp) {
        match self {
            TcpApp::Echo(s) => s.poll(now, tcp),
            TcpApp::Discard(s) => s.poll(now, tcp),
            TcpApp::Http(s) => s.poll(now, tcp),
        }
    }

    /// The application's own next timer (HTTP timeouts, linger).
    fn poll_at(&self) -> Option<Instant> {
        match self {
            TcpApp::Http(s) => s.poll_at(),
            _ => None,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            TcpApp::Echo(_) => "tcp_echo",
            TcpApp::Discard(_) => "discard",
            TcpApp::Http(_) => "http",
        }
    }

    fn shutdown(&mut self, tcp: &mut Tcp) {
        match self {
            TcpApp::Echo(s) => s.shutdown(tcp),
            TcpApp::Discard(s) => s.shutdown(tcp),
            TcpApp::Http(s) => s.shutdown(tcp),
        }
    }

    fn port(&self) -> u16 {
        match self {
            TcpApp::Echo(s) => s.port(),
            TcpApp::Discard(s) => s.port(),
            TcpApp::Http(s) => s.port(),
        }
    }
}

pub struct Node {
    stack: Stack,
    /// Service name per bound UDP port, for the `service` label.
    udp_services: Vec<(u16, &'static str)>,
    tcp_apps: Vec<TcpApp>,
    /// Frames arrived since the applications last ran.
    apps_due: bool,
    udp_echo_port: Option<u16>,
    /// Operator probes in flight, each with where to send its outcome.
    probes: Vec<(ConnectProbe, Sender<Result<ProbeOutcome, ProbeError>>)>,
    /// Rx-ring pickup to reply queued, for UDP echo datagrams (ns).
    udp_echo_turnaround: Histogram<u64>,
    /// TCP RTT samples (ns), drained from the stack after each poll.
    tcp_rtt: Histogram<u64>,
}

impl Node {
    pub fn new(
        stack: Stack,
        udp_services: Vec<(u16, &'static str)>,
        tcp_apps: Vec<TcpApp>,
    ) -> Self {
        Node {
            stack,
            udp_echo_port: udp_services
                .iter()
                .find(|(_, n)| *n == "udp_echo")
                .map(|(p, _)| *p),
            udp_services,
            tcp_apps,
            apps_due: true,
            probes: Vec::new(),
            udp_echo_turnaround: new_latency_histogram(),
            tcp_rtt: new_latency_histogram(),
        }
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }
}

#[derive(Clone, Debug)]
pub struct NodeStats {
    pub stack: StackCounters,
    pub tcp: TcpCounters,
    /// Connection rows, capped per worker.
    pub connections: Vec<ConnInfo>,
    /// Connections by state, before the cap.
    pub tcp_states: Vec<(&'static str, u64)>,
    pub tcp_apps: Vec<(u16, &'static str)>,
    pub udp_echo_turnaround: Histogram<u64>,
    pub tcp_rtt: Histogram<u64>,
    /// UDP services' own metrics, with their port.
    pub service_metrics: Vec<(u16, ServiceMetric)>,
    /// The HTTP service, when configured.
    pub http: Option<HttpStats>,
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
        let echo = self.udp_echo_port.is_some_and(|p| is_udp_to(frame, p));
        let sent_before = self.stack.counters().udp_tx_datagrams;
        self.stack.process_frame(now, frame, tx);
        self.apps_due = true;
        if echo && self.stack.counters().udp_tx_datagrams > sent_before {
            // `now` is when this batch came off the rx ring.
            let ns = Instant::monotonic().saturating_since(now).as_nanos() as u64;
            let _ = self.udp_echo_turnaround.record(ns.max(1));
        }
    }

    fn poll(&mut self, now: Instant, tx: &mut impl TxSink) {
        // Applications first, so what they write goes out in this turn.
        let app_timer_due = self
            .tcp_apps
            .iter()
            .filter_map(TcpApp::poll_at)
            .min()
            .is_some_and(|t| t <= now);
        if self.apps_due || app_timer_due {
            self.apps_due = false;
            for app in &mut self.tcp_apps {
                app.poll(now, self.stack.tcp_mut());
            }
        }
        let mut i = 0;
        while i < self.probes.len() {
            match self.probes[i].0.poll(now, self.stack.tcp_mut()) {
                Some(outcome) => {
                    let (_, reply) = self.probes.swap_remove(i);
                    let _ = reply.send(outcome);
                }
                None => i += 1,
            }
        }
        self.stack.poll(now, tx);
        // RTTs are measured by the stack against the rx-ring pickup time
        // it was given as `now`; the ring inside it is bounded (1024).
        let rtt = &mut self.tcp_rtt;
        self.stack.tcp_mut().drain_rtt_samples(|ns| {
            let _ = rtt.record(ns.max(1));
        });
    }

    fn poll_at(&self) -> Option<Instant> {
        if self.apps_due && (!self.tcp_apps.is_empty() || !self.probes.is_empty()) {
            return Some(Instant::ZERO);
        }
        let probe_deadline = self.probes.iter().map(|(p, _)| p.deadline()).min();
        [self.stack.poll_at(), probe_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    fn begin_shutdown(&mut self, _now: Instant, _tx: &mut impl TxSink) {
        for app in &mut self.tcp_apps {
            app.shutdown(self.stack.tcp_mut());
        }
        for (probe, reply) in self.probes.drain(..) {
            let _ = self.stack.tcp_mut().abort(probe.conn());
            let _ = reply.send(Err(ProbeError::Connect("xskd is stopping".into())));
        }
    }

    fn drained(&self) -> bool {
        self.stack.tcp().draining() == 0
    }

    fn abort_all(&mut self, now: Instant, tx: &mut impl TxSink) {
        let n = self.stack.tcp_mut().abort_all();
        if n > 0 {
            tracing::info!(
                connections = n,
                "reset connections left after the drain time"
            );
        }
        self.stack.poll(now, tx);
    }

    fn apply_command(&mut self, now: Instant, command: ControlCommand, tx: &mut impl TxSink) {
        match command {
            ControlCommand::TcpProbe {
                target,
                payload,
                timeout,
                reply,
            } => {
                if self.probes.len() >= MAX_PROBES {
                    let _ =
                        reply.send(Err(ProbeError::Connect("too many probes in flight".into())));
                    return;
                }
                match self.stack.tcp_connect(now, target, tx) {
                    Ok(conn) => {
                        self.probes.push((
                            ConnectProbe::new(conn, target, payload, now, timeout),
                            reply,
                        ));
                        self.apps_due = true;
                    }
                    Err(e) => {
                        let _ = reply.send(Err(ProbeError::Connect(e.to_string())));
                    }
                }
            }
            ControlCommand::Stall { duration } => std::thread::sleep(duration),
        }
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
        let tcp = self.stack.tcp();
        let mut states: Vec<(&'static str, u64)> = Vec::new();
        let mut connections = Vec::new();
        for c in tcp.connections() {
            match states.iter_mut().find(|(s, _)| *s == c.state.as_str()) {
                Some(e) => e.1 += 1,
                None => states.push((c.state.as_str(), 1)),
            }
            if connections.len() < MAX_CONNECTION_ROWS {
                connections.push(c);
            }
        }
        NodeStats {
            stack: self.stack.counters().clone(),
            tcp: tcp.counters().clone(),
            connections,
            tcp_states: states,
            tcp_apps: self.tcp_apps.iter().map(|a| (a.port(), a.name())).collect(),
            udp_echo_turnaround: self.udp_echo_turnaround.clone(),
            tcp_rtt: self.tcp_rtt.clone(),
            http: self.tcp_apps.iter().find_map(|a| match a {
                TcpApp::Http(h) => Some(h.stats()),
                _ => None,
            }),
            service_metrics: {
                let mut v = Vec::new();
                self.stack.udp_service_metrics(|port, m| v.push((port, m)));
                v
            },
            arp_cache_entries: self.stack.arp_cache_len(),
            arp_held_frames: self.stack.arp_held_frames(),
            reassembly_in_use: self.stack.reassembly_in_use(),
            udp_services: self.udp_services.clone(),
        }
    }
}

/// Is `frame` an untagged Ethernet/IPv4/UDP frame to destination `port`?
/// A cheap look for the histogram only; the stack does the real parsing.
fn is_udp_to(frame: &[u8], port: u16) -> bool {
    frame.len() >= 14 + 20 + 8 && frame[12..14] == [0x08, 0x00] && frame[14 + 9] == 17 && {
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        frame.len() >= 14 + ihl + 4 && frame[14 + ihl + 2..14 + ihl + 4] == port.to_be_bytes()
    }
}

const ALL_STATES: [State; 10] = [
    State::SynSent,
    State::SynReceived,
    State::Established,
    State::FinWait1,
    State::FinWait2,
    State::CloseWait,
    State::Closing,
    State::LastAck,
    State::TimeWait,
    State::Listen,
];

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
        let t = &self.tcp;
        m.counter(
            "tcp_active_opens_total",
            "TCP active opens (connect).",
            l,
            t.active_opens,
        );
        m.counter(
            "tcp_passive_opens_total",
            "TCP passive opens (accepted SYNs).",
            l,
            t.passive_opens,
        );
        m.counter(
            "tcp_attempt_fails_total",
            "TCP opens that failed.",
            l,
            t.attempt_fails,
        );
        m.counter(
            "tcp_estab_resets_total",
            "Established TCP connections reset.",
            l,
            t.estab_resets,
        );
        m.counter(
            "tcp_segments_received_total",
            "TCP segments received.",
            l,
            t.in_segs,
        );
        m.counter(
            "tcp_segments_sent_total",
            "TCP segments sent.",
            l,
            t.out_segs,
        );
        m.counter(
            "tcp_retransmitted_segments_total",
            "TCP segments retransmitted.",
            l,
            t.retrans_segs,
        );
        m.counter(
            "tcp_fast_retransmits_total",
            "TCP fast retransmits (third duplicate ACK or SACK loss, RFC 5681/6675).",
            l,
            t.fast_retransmits,
        );
        m.counter(
            "tcp_partial_ack_retransmits_total",
            "TCP retransmissions on NewReno partial ACKs (RFC 6582).",
            l,
            t.partial_ack_retransmits,
        );
        m.counter(
            "tcp_sack_retransmits_total",
            "TCP retransmissions chosen from the SACK scoreboard (RFC 6675).",
            l,
            t.sack_retransmits,
        );
        m.counter(
            "tcp_rto_expirations_total",
            "TCP retransmission timeouts of data.",
            l,
            t.rto_expirations,
        );
        m.counter(
            "tcp_sack_blocks_ignored_total",
            "Received SACK blocks ignored as invalid (reversed, outside SND.UNA..SND.MAX).",
            l,
            t.sack_blocks_bogus,
        );
        m.counter(
            "tcp_dsack_blocks_total",
            "Received D-SACK blocks (RFC 2883), tolerated.",
            l,
            t.sack_blocks_dsack,
        );
        m.counter(
            "tcp_sack_blocks_dropped_total",
            "Valid SACK blocks not kept: scoreboard full (32 ranges).",
            l,
            t.sack_blocks_dropped,
        );
        m.counter("tcp_resets_sent_total", "TCP RSTs sent.", l, t.out_rsts);
        m.counter(
            "tcp_resets_received_total",
            "TCP RSTs received.",
            l,
            t.in_rsts,
        );
        m.counter(
            "tcp_syncookies_sent_total",
            "SYN cookies sent (SYN queue full).",
            l,
            t.syncookies_sent,
        );
        m.counter(
            "tcp_syncookies_validated_total",
            "SYN cookies that built a connection.",
            l,
            t.syncookies_validated,
        );
        m.counter(
            "tcp_syncookies_failed_total",
            "ACKs with a bad SYN cookie.",
            l,
            t.syncookies_failed,
        );
        m.counter(
            "tcp_challenge_acks_total",
            "RFC 5961 challenge ACKs sent.",
            l,
            t.challenge_acks,
        );
        m.counter(
            "tcp_challenge_acks_suppressed_total",
            "Challenge ACKs withheld by the per-connection limit.",
            l,
            t.challenge_acks_suppressed,
        );
        m.counter(
            "tcp_timeouts_total",
            "Connections dropped by retransmission timeout.",
            l,
            t.timeouts,
        );
        m.counter(
            "tcp_keepalive_drops_total",
            "Connections dropped by keepalive.",
            l,
            t.keepalive_drops,
        );
        m.counter(
            "tcp_fin_wait2_reaped_total",
            "FIN-WAIT-2 connections reaped.",
            l,
            t.fin_wait2_reaped,
        );
        m.counter(
            "tcp_close_wait_reaped_total",
            "CLOSE-WAIT connections reaped.",
            l,
            t.close_wait_reaped,
        );
        m.counter(
            "tcp_time_wait_reused_total",
            "TIME-WAIT connections reused by a new SYN.",
            l,
            t.time_wait_reused,
        );
        m.counter(
            "tcp_listen_overflows_total",
            "Listener queue overflows.",
            l,
            t.listen_overflows,
        );
        for st in ALL_STATES {
            let n = self
                .tcp_states
                .iter()
                .find(|(s, _)| *s == st.as_str())
                .map_or(0, |e| e.1);
            let mut ll = l.to_vec();
            ll.push(("state", st.as_str()));
            m.gauge(
                "tcp_connections",
                "TCP connections by state.",
                &ll,
                n as f64,
            );
        }
        if let Some(h) = &self.http {
            let c = &h.counters;
            for mth in Method::ALL {
                let mut ll = l.to_vec();
                ll.push(("method", mth.as_str()));
                m.counter(
                    "http_requests_total",
                    "HTTP requests by method.",
                    &ll,
                    c.requests_of(mth),
                );
            }
            for (class, label) in [(1, "1xx"), (2, "2xx"), (3, "3xx"), (4, "4xx"), (5, "5xx")] {
                let mut ll = l.to_vec();
                ll.push(("class", label));
                m.counter(
                    "http_responses_total",
                    "HTTP responses by status class.",
                    &ll,
                    c.status_class(class),
                );
            }
            for t in TimeoutKind::ALL {
                let mut ll = l.to_vec();
                ll.push(("reason", t.as_str()));
                m.counter(
                    "http_timeouts_total",
                    "HTTP connections timed out, by phase.",
                    &ll,
                    c.timeouts_of(t),
                );
            }
            for e in crate::service::http::ErrorKind::ALL {
                let mut ll = l.to_vec();
                ll.push(("reason", e.as_str()));
                m.counter(
                    "http_errors_total",
                    "HTTP requests refused, by reason.",
                    &ll,
                    c.errors_of(e),
                );
            }
            m.counter(
                "http_continues_total",
                "100 Continue responses sent.",
                l,
                c.continues,
            );
            m.counter(
                "http_received_bytes_total",
                "HTTP bytes read.",
                l,
                c.bytes_in,
            );
            m.counter(
                "http_sent_bytes_total",
                "HTTP bytes written.",
                l,
                c.bytes_out,
            );
            m.gauge(
                "http_connections",
                "HTTP connections open.",
                l,
                h.connections as f64,
            );
            m.gauge(
                "http_store_bytes",
                "Bytes in the object store (shared).",
                &[],
                h.store_bytes as f64,
            );
            m.gauge(
                "http_store_objects",
                "Objects in the object store (shared).",
                &[],
                h.store_objects as f64,
            );
        }
        for (port, (name, help, label, value)) in &self.service_metrics {
            let port = port.to_string();
            let mut ll = l.to_vec();
            ll.push(("port", &port));
            if let Some(kv) = label {
                ll.push(*kv);
            }
            m.counter(name, help, &ll, *value);
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
            "tcp": {
                "active_opens": self.tcp.active_opens,
                "passive_opens": self.tcp.passive_opens,
                "estab_resets": self.tcp.estab_resets,
                "in_segs": self.tcp.in_segs,
                "out_segs": self.tcp.out_segs,
                "retrans_segs": self.tcp.retrans_segs,
                "out_rsts": self.tcp.out_rsts,
                "in_rsts": self.tcp.in_rsts,
                "syncookies_sent": self.tcp.syncookies_sent,
                "syncookies_validated": self.tcp.syncookies_validated,
                "challenge_acks": self.tcp.challenge_acks,
                "window_probes": self.tcp.window_probes,
                "states": self.tcp_states.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            },
            "drops": drops,
            "http": self.http.as_ref().map(|h| json!({
                "requests": h.counters.requests.iter().sum::<u64>(),
                "2xx": h.counters.status_class(2),
                "4xx": h.counters.status_class(4),
                "5xx": h.counters.status_class(5),
                "continues": h.counters.continues,
                "store_objects": h.store_objects,
            })),
            "services": self
                .service_metrics
                .iter()
                .filter(|(_, (_, _, _, v))| *v > 0)
                .map(|(port, (name, _, label, v))| {
                    let key = match label {
                        Some((_, value)) => format!("{name}:{value}"),
                        None => name.to_string(),
                    };
                    (format!("{port}/{key}"), json!(v))
                })
                .collect::<serde_json::Map<_, _>>(),
        })
    }

    fn histograms(&self) -> Vec<(&'static str, &'static str, &Histogram<u64>)> {
        let mut v = vec![
            (
                "udp_echo_turnaround_seconds",
                "UDP echo: rx-ring pickup to reply queued on the tx ring.",
                &self.udp_echo_turnaround,
            ),
            (
                "tcp_rtt_seconds",
                "TCP RTT samples: send to ACK at rx-ring pickup (or TSecr echo).",
                &self.tcp_rtt,
            ),
        ];
        if let Some(h) = &self.http {
            v.push((
                "http_request_seconds",
                "HTTP request service time: first request byte read to last response byte written.",
                &h.service_time_ns,
            ));
        }
        v
    }

    fn connections(&self) -> Vec<serde_json::Value> {
        let service = |port: u16| {
            self.tcp_apps
                .iter()
                .find(|(p, _)| *p == port)
                .map_or("", |(_, n)| n)
        };
        self.connections
            .iter()
            .map(|c| {
                json!({
                    "local_addr": c.local.ip().to_string(),
                    "local_port": c.local.port(),
                    "remote_addr": c.remote.ip().to_string(),
                    "remote_port": c.remote.port(),
                    "state": c.state.as_str(),
                    "snd_una": c.snd_una,
                    "snd_nxt": c.snd_nxt,
                    "rcv_nxt": c.rcv_nxt,
                    "snd_wnd": c.snd_wnd,
                    "rcv_wnd": c.rcv_wnd,
                    "snd_wscale": c.snd_wscale,
                    "rcv_wscale": c.rcv_wscale,
                    "mss": c.mss,
                    "srtt_us": c.srtt.map(|d| d.as_micros() as u64),
                    "rto_ms": c.rto.as_millis() as u64,
                    "rttvar_us": c.rttvar.as_micros() as u64,
                    "cwnd": c.cwnd,
                    "ssthresh": (c.ssthresh != u32::MAX).then_some(c.ssthresh),
                    "bytes_in_flight": c.bytes_in_flight,
                    "congestion": c.congestion,
                    "ca_state": c.ca_state,
                    "bytes_in": c.bytes_in,
                    "bytes_out": c.bytes_out,
                    "segs_in": c.segs_in,
                    "segs_out": c.segs_out,
                    "retransmits": c.retransmits,
                    "age_ms": c.age.as_millis() as u64,
                    "service": service(c.local.port()),
                })
            })
            .collect()
    }
}
