//! The DNS responder on a TCP port of the stack (RFC 7766): where a client
//! goes after a truncated (TC) UDP answer.
//!
//! Each message is framed by a two-byte length (RFC 1035 4.2.2). Queries on
//! one connection are answered in order, one at a time: the next query is
//! read only once the previous response has entered the send buffer, so a
//! connection holds at most one query and one response. Connections with no
//! query for `tcp_idle_timeout_ms` are closed by us.

use std::time::Duration;

use super::dns::{DnsConfig, DnsConfigError, DnsCounters, DnsResponder};
use crate::stack::tcp::{ConnId, ListenerId, State, Tcp, TcpApiError};
use crate::stack::ServiceMetric;
use crate::time::Instant;

/// Largest query read over TCP. Queries are a question plus an OPT record
/// (a few hundred bytes); a longer one is abuse, not DNS.
pub const MAX_TCP_QUERY: usize = 4096;
/// The length prefix plus the largest DNS message.
const MAX_FRAMED: usize = 2 + u16::MAX as usize;

#[derive(Debug, thiserror::Error)]
pub enum DnsTcpError {
    #[error(transparent)]
    Config(#[from] DnsConfigError),
    #[error("listening on dns.port: {0}")]
    Listen(#[from] TcpApiError),
}

/// Per-connection outcomes, for `xskd_dns_tcp_*` metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsTcpCounters {
    pub connections_accepted: u64,
    /// Closed by us after `tcp_idle_timeout_ms` without a query.
    pub idle_timeouts: u64,
    /// Closed because a length prefix announced more than `MAX_TCP_QUERY`.
    pub oversize_queries: u64,
    /// Closed because a message could not even carry a DNS header (no ID
    /// to answer with).
    pub unanswerable: u64,
}

struct Slot {
    id: ConnId,
    /// A partial query (length prefix included).
    inbuf: Vec<u8>,
    /// The unsent tail of the current response (length prefix included).
    pending: Vec<u8>,
    last_query: Instant,
    /// The peer half-closed: answer what is buffered, then close.
    peer_eof: bool,
}

pub struct DnsTcp {
    listener: ListenerId,
    responder: DnsResponder,
    conns: Vec<Slot>,
    max_conns: usize,
    idle_timeout: Duration,
    /// One response at a time is encoded here before it is sent.
    scratch: Box<[u8]>,
    counters: DnsTcpCounters,
    next_deadline: Option<Instant>,
}

/// What one pass over a connection decided.
enum Verdict {
    Keep,
    /// Close with our FIN after what is queued.
    Close,
}

impl DnsTcp {
    pub fn new(tcp: &mut Tcp, cfg: &DnsConfig) -> Result<Self, DnsTcpError> {
        // TCP peers completed a handshake: cookies play no part, so the
        // secret only needs to be valid, not shared.
        let responder = DnsResponder::with_cookie_secret(cfg, rand::random())?;
        let listener = tcp.listen(cfg.port)?;
        let max_conns = tcp.config().max_conns;
        Ok(DnsTcp {
            listener,
            responder,
            conns: Vec::new(),
            max_conns,
            idle_timeout: Duration::from_millis(cfg.tcp_idle_timeout_ms),
            scratch: vec![0; MAX_FRAMED].into_boxed_slice(),
            counters: DnsTcpCounters::default(),
            next_deadline: None,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.port()
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    pub fn counters(&self) -> &DnsTcpCounters {
        &self.counters
    }

    pub fn dns_counters(&self) -> &DnsCounters {
        self.responder.counters()
    }

    /// The next instant `poll` must run without traffic (idle timeouts).
    pub fn poll_at(&self) -> Option<Instant> {
        self.next_deadline
    }

    pub fn shutdown(&mut self, tcp: &mut Tcp) {
        let _ = tcp.unlisten(self.listener);
        for slot in self.conns.drain(..) {
            let _ = tcp.close(slot.id);
        }
        self.max_conns = 0;
    }

    pub fn poll(&mut self, now: Instant, tcp: &mut Tcp) {
        while self.conns.len() < self.max_conns {
            let Some(id) = tcp.accept(self.listener) else {
                break;
            };
            self.counters.connections_accepted += 1;
            // A response is written whole; Nagle would hold its tail.
            let _ = tcp.set_nodelay(id, true);
            self.conns.push(Slot {
                id,
                inbuf: Vec::new(),
                pending: Vec::new(),
                last_query: now,
                peer_eof: false,
            });
        }
        let mut next: Option<Instant> = None;
        let mut i = 0;
        while i < self.conns.len() {
            match self.serve(now, tcp, i) {
                Verdict::Keep => {
                    let d = self.conns[i].last_query + self.idle_timeout;
                    next = Some(next.map_or(d, |n| n.min(d)));
                    i += 1;
                }
                Verdict::Close => {
                    let _ = tcp.close(self.conns[i].id);
                    self.conns.swap_remove(i);
                }
            }
        }
        self.next_deadline = next;
    }

    fn serve(&mut self, now: Instant, tcp: &mut Tcp, i: usize) -> Verdict {
        let DnsTcp {
            responder,
            conns,
            scratch,
            counters,
            idle_timeout,
            ..
        } = self;
        let slot = &mut conns[i];
        let id = slot.id;
        if matches!(tcp.state(id), None | Some(State::Closed)) {
            return Verdict::Close;
        }
        loop {
            if !slot.pending.is_empty() {
                match tcp.send(id, &slot.pending) {
                    Ok(n) => drop(slot.pending.drain(..n)),
                    Err(TcpApiError::WouldBlock) => {}
                    Err(_) => return Verdict::Close,
                }
                if !slot.pending.is_empty() {
                    // Wait for the peer to read; no new query meanwhile.
                    break;
                }
            }
            match next_query(&slot.inbuf) {
                Framed::Query(len) => {
                    slot.last_query = now;
                    let query = &slot.inbuf[2..2 + len];
                    let answered = responder.respond_tcp(query, &mut scratch[2..]);
                    slot.inbuf.drain(..2 + len);
                    let Some(n) = answered else {
                        counters.unanswerable += 1;
                        return Verdict::Close;
                    };
                    scratch[..2].copy_from_slice(&(n as u16).to_be_bytes());
                    let sent = match tcp.send(id, &scratch[..2 + n]) {
                        Ok(sent) => sent,
                        Err(TcpApiError::WouldBlock) => 0,
                        Err(_) => return Verdict::Close,
                    };
                    slot.pending.extend_from_slice(&scratch[sent..2 + n]);
                    continue;
                }
                Framed::TooLong => {
                    counters.oversize_queries += 1;
                    return Verdict::Close;
                }
                Framed::Partial => {}
            }
            if slot.peer_eof {
                // Everything answered that can be; a partial query left
                // behind by a half-close can never complete.
                return Verdict::Close;
            }
            // At most the rest of one query: the scratch holds no response
            // now (an unsent tail lives in `pending`).
            let room = (2 + MAX_TCP_QUERY) - slot.inbuf.len();
            match tcp.recv(id, &mut scratch[..room]) {
                Ok(0) => slot.peer_eof = true,
                Ok(n) => slot.inbuf.extend_from_slice(&scratch[..n]),
                Err(TcpApiError::WouldBlock) => break,
                Err(_) => return Verdict::Close,
            }
        }
        //= https://www.rfc-editor.org/rfc/rfc7766#section-6.2.3
        //# DNS servers SHOULD use an idle timeout
        //= https://www.rfc-editor.org/rfc/rfc7766#section-6.2.3
        //# to close TCP
        //# connections when they become idle
        if now >= slot.last_query + *idle_timeout {
            counters.idle_timeouts += 1;
            return Verdict::Close;
        }
        Verdict::Keep
    }

    /// Metrics with the same names as the UDP responder's (the transport
    /// label tells them apart) plus the connection outcomes.
    pub fn metrics(&self, out: &mut dyn FnMut(ServiceMetric)) {
        super::dns_udp::query_metrics(self.responder.counters(), out);
        let t = &self.counters;
        out((
            "dns_tcp_connections_total",
            "DNS-over-TCP connections accepted.",
            None,
            t.connections_accepted,
        ));
        for (why, n) in [
            ("idle_timeout", t.idle_timeouts),
            ("oversize_query", t.oversize_queries),
            ("unanswerable", t.unanswerable),
        ] {
            out((
                "dns_tcp_server_closes_total",
                "DNS-over-TCP connections we closed, by reason.",
                Some(("reason", why)),
                n,
            ));
        }
    }
}

enum Framed {
    /// A whole query of this many bytes follows the length prefix.
    Query(usize),
    /// The length prefix announces more than `MAX_TCP_QUERY`.
    TooLong,
    /// More bytes needed.
    Partial,
}

fn next_query(buf: &[u8]) -> Framed {
    let Some(prefix) = buf.get(..2) else {
        return Framed::Partial;
    };
    let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
    if len > MAX_TCP_QUERY {
        Framed::TooLong
    } else if buf.len() >= 2 + len {
        Framed::Query(len)
    } else {
        Framed::Partial
    }
}

#[cfg(test)]
mod tests;
