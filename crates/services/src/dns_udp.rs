//! The DNS responder bound to a UDP port of the stack.

use std::net::{IpAddr, SocketAddrV4};

use super::dns::{DnsConfig, DnsConfigError, DnsCounters, DnsResponder, QueryContext};
use crate::stack::{ServiceMetric, UdpReply, UdpService};
use crate::time::Instant;

/// Largest UDP response: the EDNS payload size xskd ever offers (RFC 9715's
/// 1232 bytes) fits with room to spare.
const MAX_RESPONSE: usize = 1500;

pub struct DnsUdp {
    responder: DnsResponder,
    out: Box<[u8]>,
    /// Wall-clock seconds at `Instant::ZERO`: cookies carry Unix time, the
    /// stack only sees the monotonic clock.
    unix_at_zero: u64,
}

impl DnsUdp {
    /// `cookie_secret` must be the same for every worker (a client's next
    /// query may land on another queue).
    pub fn new(
        cfg: &DnsConfig,
        cookie_secret: [u8; 16],
        unix_at_zero: u64,
    ) -> Result<Self, DnsConfigError> {
        Ok(DnsUdp {
            responder: DnsResponder::with_cookie_secret(cfg, cookie_secret)?,
            out: vec![0; MAX_RESPONSE].into_boxed_slice(),
            unix_at_zero,
        })
    }

    pub fn port(&self) -> u16 {
        self.responder.port()
    }
}

impl UdpService for DnsUdp {
    fn on_datagram(
        &mut self,
        now: Instant,
        src: SocketAddrV4,
        _dst: SocketAddrV4,
        payload: &[u8],
        reply: &mut UdpReply<'_>,
    ) {
        // A broadcast query has no single asker to answer.
        if reply.to_broadcast() {
            return;
        }
        let ctx = QueryContext {
            client: IpAddr::V4(*src.ip()),
            now_unix_secs: (self.unix_at_zero + now.as_nanos() / 1_000_000_000) as u32,
        };
        if let Some(n) = self.responder.respond_with(&ctx, payload, &mut self.out) {
            let _ = reply.send(&self.out[..n]);
        }
    }

    fn metrics(&self, out: &mut dyn FnMut(ServiceMetric)) {
        let c = self.responder.counters();
        query_metrics(c, out);
        for (reason, n) in c.dropped_by_reason() {
            out((
                "dns_dropped_total",
                "DNS queries not answered, by reason.",
                Some(("reason", reason)),
                n,
            ));
        }
        out((
            "dns_truncated_total",
            "DNS responses sent with TC (size or amplification cap).",
            None,
            c.truncated(),
        ));
    }
}

/// Queries and responses by rcode: the same names over UDP and TCP (the
/// `transport` label tells them apart).
pub(super) fn query_metrics(c: &DnsCounters, out: &mut dyn FnMut(ServiceMetric)) {
    out((
        "dns_queries_total",
        "DNS queries received.",
        None,
        c.queries,
    ));
    for (rcode, n) in c.responses_by_rcode() {
        out((
            "dns_responses_total",
            "DNS responses by rcode.",
            Some(("rcode", rcode)),
            n,
        ));
    }
}
