//! How one worker's HTTPS stats become metrics (prefix `xskd_` is added by
//! `MetricSet`; base units; bounded labels). Lives with the daemon, which
//! owns the export format; the service only counts.

use hdrhistogram::Histogram;
use serde_json::json;

use crate::control::metrics::MetricSet;
use crate::service::http::Method;
use crate::service::https::{FailReason, HttpsStats};

/// The export of [`HttpsStats`] (a foreign type, hence a trait).
pub trait HttpsExport {
    fn export_metrics(&self, m: &mut MetricSet, l: &[(&str, &str)]);
    fn histograms(&self) -> [(&'static str, &'static str, &Histogram<u64>); 2];
    fn to_json(&self) -> serde_json::Value;
}

impl HttpsExport for HttpsStats {
    fn export_metrics(&self, m: &mut MetricSet, l: &[(&str, &str)]) {
        let c = &self.tls;
        let help = "TLS handshakes: ok (full or resumed) or failed (by reason).";
        for (reason, v) in [
            ("full", c.handshakes_full),
            ("resumed", c.handshakes_resumed),
        ] {
            let mut ll = l.to_vec();
            ll.extend_from_slice(&[("result", "ok"), ("reason", reason)]);
            m.counter("tls_handshakes_total", help, &ll, v);
        }
        for r in FailReason::ALL {
            let mut ll = l.to_vec();
            ll.extend_from_slice(&[("result", "failed"), ("reason", r.as_str())]);
            m.counter("tls_handshakes_total", help, &ll, c.handshake_failed_of(r));
        }
        for r in FailReason::ALL {
            let mut ll = l.to_vec();
            ll.push(("reason", r.as_str()));
            m.counter(
                "tls_connection_errors_total",
                "Established TLS connections closed on an error, by reason.",
                &ll,
                c.errors_of(r),
            );
        }
        for (version, v) in [("1.3", c.tls13), ("1.2", c.tls12)] {
            let mut ll = l.to_vec();
            ll.push(("version", version));
            m.counter(
                "tls_sessions_total",
                "Completed TLS handshakes by protocol version.",
                &ll,
                v,
            );
        }
        m.counter(
            "tls_alerts_sent_total",
            "Fatal TLS alerts sent before closing.",
            l,
            c.alerts_sent,
        );
        m.counter(
            "tls_decrypted_bytes_total",
            "Application bytes decrypted from TLS clients.",
            l,
            c.bytes_decrypted,
        );
        m.counter(
            "tls_encrypted_bytes_total",
            "Application bytes encrypted to TLS clients.",
            l,
            c.bytes_encrypted,
        );
        m.gauge(
            "tls_connections",
            "HTTPS connections open.",
            l,
            self.connections as f64,
        );
        m.gauge(
            "tls_handshakes_in_progress",
            "HTTPS connections still in their TLS handshake.",
            l,
            self.handshaking as f64,
        );
        let h = &self.http;
        for mth in Method::ALL {
            let mut ll = l.to_vec();
            ll.push(("method", mth.as_str()));
            m.counter(
                "https_requests_total",
                "HTTPS requests by method.",
                &ll,
                h.requests_of(mth),
            );
        }
        for (class, label) in [(1, "1xx"), (2, "2xx"), (3, "3xx"), (4, "4xx"), (5, "5xx")] {
            let mut ll = l.to_vec();
            ll.push(("class", label));
            m.counter(
                "https_responses_total",
                "HTTPS responses by status class.",
                &ll,
                h.status_class(class),
            );
        }
    }

    fn histograms(&self) -> [(&'static str, &'static str, &Histogram<u64>); 2] {
        [
            (
                "tls_handshake_seconds",
                "TLS handshake time: TCP accept to handshake complete.",
                &self.handshake_time_ns,
            ),
            (
                "https_request_seconds",
                "HTTPS request service time: rx pickup of the segment completing the request head to the last TLS record of the response handed to TCP.",
                &self.service_time_ns,
            ),
        ]
    }

    fn to_json(&self) -> serde_json::Value {
        let c = &self.tls;
        json!({
            "handshakes_full": c.handshakes_full,
            "handshakes_resumed": c.handshakes_resumed,
            "handshakes_failed": c.handshakes_failed(),
            "tls13": c.tls13,
            "tls12": c.tls12,
            "alerts_sent": c.alerts_sent,
            "requests": self.http.requests.iter().sum::<u64>(),
            "2xx": self.http.status_class(2),
        })
    }
}
