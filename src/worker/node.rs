//! The production processor of a worker: the stack with its services.

use crossbeam::channel::Sender;
use hdrhistogram::Histogram;

use super::clock;
pub use super::node_stats::{NodeStats, Transport};
use super::{ControlCommand, FrameProcessor, SharedEvent};
use crate::control::state::{new_latency_histogram, MAX_CONNECTION_ROWS};
use crate::datapath::TxSink;
use crate::service::connect_probe::{ConnectProbe, ProbeError, ProbeOutcome};
use crate::service::discard::Discard;
use crate::service::dns_tcp::DnsTcp;
use crate::service::http::HttpService;
use crate::service::https::HttpsService;
use crate::service::tcp_echo::TcpEcho;
use crate::stack::tcp::Tcp;
use crate::stack::{Handoff, ServiceMetric, Siblings, Stack};
use crate::time::Instant;

/// Operator probes one worker runs at once.
const MAX_PROBES: usize = 16;

/// A TCP application run to completion inside the worker.
pub enum TcpApp {
    Echo(TcpEcho),
    Discard(Discard),
    Http(Box<HttpService>),
    Dns(Box<DnsTcp>),
    Https(Box<HttpsService>),
}

impl TcpApp {
    fn poll(&mut self, now: Instant, tcp: &mut Tcp) {
        match self {
            TcpApp::Echo(s) => s.poll(now, tcp),
            TcpApp::Discard(s) => s.poll(now, tcp),
            TcpApp::Http(s) => s.poll(now, tcp),
            TcpApp::Dns(s) => s.poll(now, tcp),
            TcpApp::Https(s) => s.poll(now, tcp),
        }
    }

    /// The application's own next timer (HTTP timeouts, linger).
    fn poll_at(&self) -> Option<Instant> {
        match self {
            TcpApp::Http(s) => s.poll_at(),
            TcpApp::Dns(s) => s.poll_at(),
            TcpApp::Https(s) => s.poll_at(),
            _ => None,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            TcpApp::Echo(_) => "tcp_echo",
            TcpApp::Discard(_) => "discard",
            TcpApp::Http(_) => "http",
            TcpApp::Https(_) => "https",
            TcpApp::Dns(_) => "dns",
        }
    }

    /// The application's own metrics, like `UdpService::metrics`.
    fn metrics(&self, out: &mut dyn FnMut(ServiceMetric)) {
        if let TcpApp::Dns(s) = self {
            s.metrics(out)
        }
    }

    fn shutdown(&mut self, tcp: &mut Tcp) {
        match self {
            TcpApp::Echo(s) => s.shutdown(tcp),
            TcpApp::Discard(s) => s.shutdown(tcp),
            TcpApp::Http(s) => s.shutdown(tcp),
            TcpApp::Dns(s) => s.shutdown(tcp),
            TcpApp::Https(s) => s.shutdown(tcp),
        }
    }

    fn port(&self) -> u16 {
        match self {
            TcpApp::Echo(s) => s.port(),
            TcpApp::Discard(s) => s.port(),
            TcpApp::Http(s) => s.port(),
            TcpApp::Dns(s) => s.port(),
            TcpApp::Https(s) => s.port(),
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
}

impl FrameProcessor for Node {
    type Stats = NodeStats;

    fn start(&mut self, now: Instant, tx: &mut impl TxSink) {
        self.stack.start(now, tx);
    }

    fn process_frame(
        &mut self,
        now: Instant,
        frame: &[u8],
        tx: &mut impl TxSink,
        sib: &mut impl Siblings,
    ) {
        let echo = self.udp_echo_port.is_some_and(|p| is_udp_to(frame, p));
        let sent_before = self.stack.counters().udp_tx_datagrams;
        self.stack.process_frame_with(now, frame, tx, sib);
        self.apps_due = true;
        if echo && self.stack.counters().udp_tx_datagrams > sent_before {
            // `now` is when this batch came off the rx ring.
            let ns = clock::monotonic().saturating_since(now).as_nanos() as u64;
            let _ = self.udp_echo_turnaround.record(ns.max(1));
        }
    }

    fn process_handoff(
        &mut self,
        now: Instant,
        how: Handoff,
        bytes: &[u8],
        tx: &mut impl TxSink,
        sib: &mut impl Siblings,
    ) {
        self.stack.process_handoff(now, how, bytes, tx, sib);
        self.apps_due = true;
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
            https: self.tcp_apps.iter().find_map(|a| match a {
                TcpApp::Https(h) => Some(h.stats()),
                _ => None,
            }),
            service_metrics: {
                let mut v = Vec::new();
                self.stack
                    .udp_service_metrics(|port, m| v.push((port, Transport::Udp, m)));
                for app in &self.tcp_apps {
                    let port = app.port();
                    app.metrics(&mut |m| v.push((port, Transport::Tcp, m)));
                }
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
