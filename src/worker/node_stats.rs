//! What a worker's stack reports: plain copies of its counters, histograms
//! and connection rows, and how they become metrics, JSON and rows.

use hdrhistogram::Histogram;
use serde_json::json;

use crate::control::metrics::MetricSet;
use crate::control::state::StatsExport;
use crate::service::http::{HttpStats, Method, TimeoutKind};
use crate::service::https::HttpsStats;
use crate::stack::tcp::{ConnInfo, State, TcpCounters};
use crate::stack::{DropReason, HandoffKind, ServiceMetric, StackCounters};
use crate::worker::https_metrics::HttpsExport;

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
    /// Services' own metrics, with their port and transport.
    pub service_metrics: Vec<(u16, Transport, ServiceMetric)>,
    /// The HTTP service, when configured.
    pub http: Option<HttpStats>,
    /// The HTTPS service, when configured.
    pub https: Option<HttpsStats>,
    pub arp_cache_entries: usize,
    pub arp_held_frames: usize,
    pub reassembly_in_use: usize,
    pub udp_services: Vec<(u16, &'static str)>,
}

/// Which stack a service's metric comes from: DNS answers on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
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

/// Handoffs to and from sibling workers, by kind.
fn handoff_json(c: &StackCounters) -> serde_json::Value {
    let by_kind = |f: &dyn Fn(HandoffKind) -> u64| {
        HandoffKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), json!(f(*k))))
            .collect::<serde_json::Map<_, _>>()
    };
    json!({
        "sent": by_kind(&|k| c.handoff.sent(k)),
        "received": by_kind(&|k| c.handoff.received(k)),
    })
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
        for kind in HandoffKind::ALL {
            let mut ll = l.to_vec();
            ll.push(("kind", kind.as_str()));
            m.counter(
                "handoffs_sent_total",
                "Packets handed to the sibling worker they belong to (several queues): TCP segments by port owner or search, fragments, ICMP errors for TCP.",
                &ll,
                c.handoff.sent(kind),
            );
            m.counter(
                "handoffs_received_total",
                "Packets taken up from sibling workers, by kind.",
                &ll,
                c.handoff.received(kind),
            );
        }
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
        super::tcp_metrics::export_tcp_counters(&self.tcp, m, l);
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
        if let Some(h) = &self.https {
            h.export_metrics(m, l);
        }
        for (port, transport, (name, help, label, value)) in &self.service_metrics {
            let port = port.to_string();
            let mut ll = l.to_vec();
            ll.push(("port", &port));
            ll.push(("transport", transport.as_str()));
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
        let mut v = json!({
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
            "tcp": super::tcp_metrics::tcp_json(&self.tcp, &self.tcp_states),
            "drops": drops,
            "http": self.http.as_ref().map(|h| json!({
                "requests": h.counters.requests.iter().sum::<u64>(),
                "2xx": h.counters.status_class(2),
                "4xx": h.counters.status_class(4),
                "5xx": h.counters.status_class(5),
                "continues": h.counters.continues,
                "store_objects": h.store_objects,
            })),
            "https": self.https.as_ref().map(HttpsExport::to_json),
            "services": self
                .service_metrics
                .iter()
                .filter(|(_, _, (_, _, _, v))| *v > 0)
                .map(|(port, transport, (name, _, label, v))| {
                    let key = match label {
                        Some((_, value)) => format!("{name}:{value}"),
                        None => name.to_string(),
                    };
                    // UDP keys keep their historical form `53/name`.
                    let port = match transport {
                        Transport::Udp => port.to_string(),
                        Transport::Tcp => format!("{port}/tcp"),
                    };
                    (format!("{port}/{key}"), json!(v))
                })
                .collect::<serde_json::Map<_, _>>(),
        });
        v["handoff"] = handoff_json(c);
        v
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
                "HTTP request service time: rx pickup of the segment completing the request head to the last response byte handed to TCP.",
                &h.service_time_ns,
            ));
        }
        if let Some(h) = &self.https {
            v.extend(h.histograms());
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
                    "recv_queue": c.recv_queue,
                    "send_queue": c.send_queue,
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
