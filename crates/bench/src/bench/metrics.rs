//! The metrics of the report: what each table row reads from a sample,
//! and issue 7's goals.

use super::{Load, Sample};

/// A goal on `subject / peer` (issue 7's "goals the report holds the
/// project to").
#[derive(Clone, Copy)]
pub(super) enum Goal {
    AtMost(f64),
    AtLeast(f64),
}

impl Goal {
    pub(super) fn text(self) -> String {
        match self {
            Goal::AtMost(r) => format!("<= {r}x"),
            Goal::AtLeast(r) => format!(">= {r}x"),
        }
    }

    pub(super) fn met(self, ratio: f64) -> bool {
        match self {
            Goal::AtMost(r) => ratio <= r,
            Goal::AtLeast(r) => ratio >= r,
        }
    }
}

/// One metric of one load, read from a sample.
pub(super) struct Metric {
    pub(super) label: String,
    pub(super) load: Load,
    pub(super) read: fn(&Sample) -> Option<f64>,
    pub(super) goal: Option<Goal>,
    /// Digits after the point.
    pub(super) digits: usize,
}

impl Metric {
    /// Counts of losses are shown side by side but not divided: a ratio
    /// of two small counts says nothing.
    pub(super) fn has_ratio(&self) -> bool {
        !self.label.contains("lost")
            && !self.label.contains("loss")
            && !self.label.contains("errors")
    }
}

pub(super) fn latency_metrics() -> Vec<Metric> {
    let lat = |label: &str, read, goal, digits| Metric {
        label: label.into(),
        load: Load::UdpLatency,
        read,
        goal,
        digits,
    };
    vec![
        lat(
            "UDP echo RTT p50 (us)",
            |s| s.latency.as_ref().map(|l| l.p50_us),
            Some(Goal::AtMost(0.5)),
            1,
        ),
        lat(
            "UDP echo RTT p99 (us)",
            |s| s.latency.as_ref().map(|l| l.p99_us),
            Some(Goal::AtMost(0.5)),
            1,
        ),
        lat(
            "UDP echo RTT p99.9 (us)",
            |s| s.latency.as_ref().map(|l| l.p999_us),
            None,
            1,
        ),
        lat(
            "UDP echo round trips lost",
            |s| s.latency.as_ref().map(|l| l.lost as f64),
            None,
            0,
        ),
        lat(
            "server CPU per round trip (us, process)",
            |s| Some(s.cpu_us_per_op()),
            None,
            2,
        ),
        lat(
            "server core busy per round trip (us)",
            |s| Some(s.core_us_per_op()),
            None,
            2,
        ),
    ]
}

pub(super) fn throughput_metrics(load: Load, rate_goal: Option<Goal>) -> Vec<Metric> {
    let thr = |label: &str, read, goal, digits| Metric {
        label: label.into(),
        load,
        read,
        goal,
        digits,
    };
    vec![
        thr(
            "UDP echoed datagrams/s",
            |s| s.throughput.as_ref().map(|t| t.echoed_per_sec),
            rate_goal,
            0,
        ),
        thr(
            "UDP loss (%)",
            |s| s.throughput.as_ref().map(|t| t.loss_ratio * 100.0),
            None,
            3,
        ),
        thr(
            "server CPU per datagram (us, process)",
            |s| Some(s.cpu_us_per_op()),
            None,
            3,
        ),
        thr(
            "server core busy per datagram (us)",
            |s| Some(s.core_us_per_op()),
            None,
            3,
        ),
    ]
}

pub(super) fn tcp_metrics() -> Vec<Metric> {
    let rr = |label: &str, read, digits| Metric {
        label: label.into(),
        load: Load::TcpRr,
        read,
        goal: None,
        digits,
    };
    vec![
        rr(
            "TCP RR RTT p50 (us)",
            |s| s.latency.as_ref().map(|l| l.p50_us),
            1,
        ),
        rr(
            "TCP RR RTT p99 (us)",
            |s| s.latency.as_ref().map(|l| l.p99_us),
            1,
        ),
        rr(
            "TCP RR RTT p99.9 (us)",
            |s| s.latency.as_ref().map(|l| l.p999_us),
            1,
        ),
        rr(
            "TCP round trips/s",
            |s| {
                s.latency
                    .as_ref()
                    .filter(|l| l.seconds > 0.0)
                    .map(|l| l.round_trips as f64 / l.seconds)
            },
            0,
        ),
        rr(
            "server CPU per TCP round trip (us, process)",
            |s| Some(s.cpu_us_per_op()),
            2,
        ),
        rr(
            "server core busy per TCP round trip (us)",
            |s| Some(s.core_us_per_op()),
            2,
        ),
    ]
}

pub(super) fn http_metrics() -> Vec<Metric> {
    let mut v = Vec::new();
    for (load, name) in [
        (Load::HttpKeepAliveSmall, "keep-alive 64 B"),
        (Load::HttpKeepAliveLarge, "keep-alive 16 KB"),
        (Load::HttpCloseSmall, "close 64 B"),
        (Load::HttpCloseLarge, "close 16 KB"),
    ] {
        let m = |label: String, read, goal, digits| Metric {
            label,
            load,
            read,
            goal,
            digits,
        };
        v.push(m(
            format!("HTTP {name} requests/s"),
            |s| s.http.as_ref().map(|h| h.rps),
            Some(Goal::AtLeast(2.0)),
            0,
        ));
        v.push(m(
            format!("HTTP {name} p50 (us)"),
            |s| s.http.as_ref().map(|h| h.p50_us),
            None,
            1,
        ));
        // "p99 no worse" than nginx's.
        v.push(m(
            format!("HTTP {name} p99 (us)"),
            |s| s.http.as_ref().map(|h| h.p99_us),
            Some(Goal::AtMost(1.0)),
            1,
        ));
        v.push(m(
            format!("HTTP {name} errors"),
            |s| {
                s.http
                    .as_ref()
                    .map(|h| (h.socket_errors + h.non_2xx) as f64)
            },
            None,
            0,
        ));
        v.push(m(
            format!("server CPU per request, {name} (us, process)"),
            |s| Some(s.cpu_us_per_op()),
            None,
            2,
        ));
    }
    v
}

pub(super) fn bulk_metrics(offloads: bool, goal: Option<Goal>) -> Vec<Metric> {
    let state = if offloads { "on" } else { "off" };
    vec![
        Metric {
            label: format!("GET Gbit/s (nginx with tso/gso/gro {state})"),
            load: Load::Bulk,
            read: |s| s.bulk.as_ref().map(|b| b.gbit_per_s),
            goal,
            digits: 2,
        },
        Metric {
            label: format!("server CPU per GB (s, process; nginx offloads {state})"),
            load: Load::Bulk,
            read: |s| {
                s.bulk
                    .as_ref()
                    .filter(|b| b.bytes > 0)
                    .map(|b| s.server_cpu_s / (b.bytes as f64 / 1e9))
            },
            goal: None,
            digits: 3,
        },
    ]
}

/// The `tls` part's rows (issue 10): full handshakes/s at least nginx's,
/// HTTPS keep-alive requests/s at least 1.5x nginx's.
pub(super) fn tls_metrics(clients: u32, conns: u32) -> Vec<Metric> {
    let m = |label: String, load, read, goal, digits| Metric {
        label,
        load,
        read,
        goal,
        digits,
    };
    let hs = Load::TlsFullHandshake;
    let close = Load::HttpsCloseSmall;
    let ka = Load::HttpsKeepAliveSmall;
    vec![
        m(
            format!("TLS full handshakes/s (s_time -new x{clients})"),
            hs,
            |s| s.handshakes.as_ref().map(|h| h.per_sec),
            Some(Goal::AtLeast(1.0)),
            0,
        ),
        m(
            "server CPU per full handshake (us, process)".into(),
            hs,
            |s| Some(s.cpu_us_per_op()),
            None,
            1,
        ),
        m(
            "server core busy per full handshake (us)".into(),
            hs,
            |s| Some(s.core_us_per_op()),
            None,
            1,
        ),
        m(
            "server process CPU during handshakes (% of a core)".into(),
            hs,
            |s| (s.wall_s > 0.0).then(|| s.server_cpu_s / s.wall_s * 100.0),
            None,
            0,
        ),
        m(
            format!("HTTPS close 64 B requests/s (wrk -c{conns}, full handshake each)"),
            close,
            |s| s.http.as_ref().map(|h| h.rps),
            Some(Goal::AtLeast(1.0)),
            0,
        ),
        m(
            "HTTPS close 64 B errors".into(),
            close,
            |s| {
                s.http
                    .as_ref()
                    .map(|h| (h.socket_errors + h.non_2xx) as f64)
            },
            None,
            0,
        ),
        m(
            "server CPU per HTTPS close request (us, process)".into(),
            close,
            |s| Some(s.cpu_us_per_op()),
            None,
            1,
        ),
        m(
            format!("HTTPS keep-alive 64 B requests/s (wrk -c{conns})"),
            ka,
            |s| s.http.as_ref().map(|h| h.rps),
            Some(Goal::AtLeast(1.5)),
            0,
        ),
        m(
            "HTTPS keep-alive 64 B p50 (us)".into(),
            ka,
            |s| s.http.as_ref().map(|h| h.p50_us),
            None,
            1,
        ),
        m(
            "HTTPS keep-alive 64 B p99 (us)".into(),
            ka,
            |s| s.http.as_ref().map(|h| h.p99_us),
            None,
            1,
        ),
        m(
            "HTTPS keep-alive 64 B errors".into(),
            ka,
            |s| {
                s.http
                    .as_ref()
                    .map(|h| (h.socket_errors + h.non_2xx) as f64)
            },
            None,
            0,
        ),
        m(
            "server CPU per HTTPS keep-alive request (us, process)".into(),
            ka,
            |s| Some(s.cpu_us_per_op()),
            None,
            2,
        ),
    ]
}
