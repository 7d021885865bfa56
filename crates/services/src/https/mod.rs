//! HTTPS: the HTTP/1.1 object store over TLS 1.3 (and 1.2), with rustls
//! driven sans-IO inside each worker. Received TCP bytes go into the
//! connection's `rustls::ServerConnection`; plaintext goes into the same
//! `http::Connection` state machine the plain service runs; its output goes
//! back through rustls into the TCP send buffer. No thread, no kernel
//! socket, no lock per record (the shared session cache locks once per
//! handshake).
//!
//! - `config`: the shared `rustls::ServerConfig`, counters, failure reasons.
//! - `cert`: PEM loading and the throwaway self-signed certificate.
//! - `tls`: one connection as a pure state machine (`TlsHttp`).
//! - `section`: the `[https]` config section.
//! - this file: the glue to `Tcp`.
//!
//! Crypto provider: *ring*. It builds with only a C compiler, about 4x
//! faster than aws-lc-rs's C build on two cores, and its TLS 1.3 handshake
//! cost measured within noise of aws-lc-rs's (numbers in the README).

pub mod cert;
pub mod clock;
pub mod config;
pub mod section;
pub mod tls;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_records;
#[cfg(test)]
mod tests_service;

use hdrhistogram::Histogram;

pub use config::{FailReason, HttpsConfig, HttpsSetup, HttpsSetupError, TlsCounters, TlsOptions};
pub use section::{HttpsSection, MAX_SESSION_CACHE};
pub use tls::{TlsCtx, TlsHttp};

use crate::conn_set::{ConnMap, Schedule};
use crate::http::date::DateCache;
use crate::http::{turn_clock, Clock, Ctx, HttpConfig, HttpCounters, SharedStore};
use crate::stack::tcp::{ConnId, ListenerId, State, Tcp, TcpApiError};
use crate::time::Instant;

/// Request service times and handshake times up to an hour, 3 digits.
const HIST_MAX_NS: u64 = 3_600_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("listening: {0}")]
    Listen(#[from] TcpApiError),
    #[error("histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
}

/// What the control plane reads from one worker's HTTPS service.
#[derive(Clone, Debug)]
pub struct HttpsStats {
    pub tls: TlsCounters,
    /// The HTTP layer over TLS (same meaning as the plain service's).
    pub http: HttpCounters,
    /// Accept to handshake complete, ns.
    pub handshake_time_ns: Histogram<u64>,
    /// Rx-ring pickup of the segment that completed a request head to the
    /// last TLS record of its response handed to TCP, ns.
    pub service_time_ns: Histogram<u64>,
    pub connections: usize,
    /// Connections still in their handshake.
    pub handshaking: usize,
}

struct Slot {
    conn: TlsHttp,
    /// Our FIN is queued; unread input is discarded until this instant.
    linger_until: Option<Instant>,
}

pub struct HttpsService {
    listener: ListenerId,
    conns: ConnMap<Slot>,
    /// `shutdown` ran: the listener is gone.
    stopping: bool,
    schedule: Schedule,
    max_conns: usize,
    scratch: Box<[u8]>,
    /// Where a connection's HTTP output is gathered into records (`TlsCtx`).
    gather: Box<[u8]>,
    store: SharedStore,
    cfg: HttpConfig,
    tls_cfg: HttpsConfig,
    counters: HttpCounters,
    tls_counters: TlsCounters,
    service_time: Histogram<u64>,
    handshake_time: Histogram<u64>,
    date: DateCache,
    clock: Clock,
}

impl HttpsService {
    pub fn new(
        tcp: &mut Tcp,
        port: u16,
        store: SharedStore,
        cfg: HttpConfig,
        tls_cfg: HttpsConfig,
    ) -> Result<Self, HttpsError> {
        let service_time = Histogram::new_with_bounds(1, HIST_MAX_NS, 3)?;
        let handshake_time = Histogram::new_with_bounds(1, HIST_MAX_NS, 3)?;
        let listener = tcp.listen(port)?;
        let max_conns = cfg.max_conns.min(tcp.config().max_conns);
        Ok(HttpsService {
            listener,
            conns: ConnMap::with_capacity(tcp.config().max_conns),
            stopping: false,
            schedule: Schedule::with_capacity(max_conns),
            max_conns,
            scratch: vec![0; tls::CIPHER_CHUNK].into_boxed_slice(),
            gather: vec![0; tls::GATHER].into_boxed_slice(),
            store,
            cfg,
            tls_cfg: tls_cfg.for_worker(),
            counters: HttpCounters::default(),
            tls_counters: TlsCounters::default(),
            service_time,
            handshake_time,
            date: DateCache::default(),
            clock: turn_clock,
        })
    }

    /// Where response end times come from (tests with a fake clock).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    pub fn port(&self) -> u16 {
        self.listener.port()
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    pub fn tls_counters(&self) -> &TlsCounters {
        &self.tls_counters
    }

    pub fn http_counters(&self) -> &HttpCounters {
        &self.counters
    }

    /// Graceful stop: no new connections. One still in its handshake is
    /// closed (no request was made on it); an established one finishes the
    /// response it is writing, then close_notify and FIN, as
    /// `HttpService::shutdown` does for plain HTTP.
    pub fn shutdown(&mut self, tcp: &mut Tcp) {
        let _ = tcp.unlisten(self.listener);
        self.max_conns = 0;
        self.stopping = true;
        let mut handshaking = Vec::new();
        for (id, slot) in self.conns.iter_mut() {
            if slot.conn.is_handshaking() {
                handshaking.push(id);
            } else {
                slot.conn.stop();
            }
        }
        for id in handshaking {
            self.conns.remove(id);
            self.counters.connections_closed += 1;
            let _ = tcp.close(id);
        }
        // Serve every connection on the next poll (idle ones have no event).
        self.schedule.keep(Some(Instant::ZERO));
    }

    pub fn stats(&self) -> HttpsStats {
        HttpsStats {
            tls: self.tls_counters.clone(),
            http: self.counters.clone(),
            handshake_time_ns: self.handshake_time.clone(),
            service_time_ns: self.service_time.clone(),
            connections: self.conns.len(),
            handshaking: self
                .conns
                .values()
                .filter(|s| s.conn.is_handshaking())
                .count(),
        }
    }

    /// The next instant `poll` must run even if no segment arrives.
    pub fn poll_at(&self) -> Option<Instant> {
        self.schedule.poll_at()
    }

    pub fn poll(&mut self, now: Instant, tcp: &mut Tcp) {
        self.tls_cfg.clock.set(now);
        while self.conns.len() < self.max_conns {
            let Some(id) = tcp.accept(self.listener) else {
                break;
            };
            self.counters.connections_accepted += 1;
            match TlsHttp::new(now, &self.tls_cfg, &self.cfg) {
                Ok(conn) => {
                    let _ = tcp.set_nodelay(id, true);
                    let _ = self.conns.insert(
                        id,
                        Slot {
                            conn,
                            linger_until: None,
                        },
                    );
                }
                Err(_) => {
                    self.tls_counters.count_failure(FailReason::Other, true);
                    let _ = tcp.abort(id);
                }
            }
        }
        // Only connections with events, unless a deadline (timeout,
        // linger) passed somewhere: then all, and the bound is recomputed.
        let mut ready = self
            .schedule
            .begin(&mut self.conns, tcp, self.listener, now);
        if self.stopping {
            // The listener is gone, and its readiness list with it: serve
            // every connection left (a few, for a drain's seconds).
            ready.clear();
            ready.extend(self.conns.iter_mut().map(|(id, _)| id));
        }
        for &id in &ready {
            if !self.conns.contains(id) {
                continue;
            }
            if self.serve(now, tcp, id) {
                let d = self
                    .conns
                    .get(id)
                    .and_then(|s| s.linger_until.or_else(|| s.conn.deadline(&self.cfg)));
                self.schedule.keep(d);
            } else {
                self.counters.connections_closed += 1;
                self.conns.remove(id);
            }
        }
        self.schedule.end(ready);
    }

    /// Run one connection as far as it goes; false when it is finished.
    fn serve(&mut self, now: Instant, tcp: &mut Tcp, id: ConnId) -> bool {
        let HttpsService {
            conns,
            scratch,
            gather,
            store,
            cfg,
            counters,
            tls_counters,
            service_time,
            handshake_time,
            date,
            clock,
            ..
        } = self;
        let Some(slot) = conns.get_mut(id) else {
            return false;
        };
        let mut ctx = Ctx {
            cfg,
            store,
            counters,
            service_time,
            date,
            clock: *clock,
            tls: true,
        };
        let mut t = TlsCtx {
            counters: tls_counters,
            handshake_time,
            gather,
        };
        let conn = &mut slot.conn;
        if slot.linger_until.is_some() {
            // close_notify and FIN are out: read and drop until the peer's FIN.
            loop {
                match tcp.recv(id, scratch) {
                    Ok(0) => {
                        let _ = tcp.close(id);
                        return false;
                    }
                    Ok(_) => {}
                    Err(TcpApiError::WouldBlock) => break,
                    Err(_) => {
                        let _ = tcp.close(id);
                        return false;
                    }
                }
            }
        }
        loop {
            let mut progress = false;
            if conn.write_out(now, &mut ctx, &mut t, |b| tcp.send(id, b).unwrap_or(0)) > 0 {
                progress = true;
            }
            let room = conn.input_room().min(scratch.len());
            if room > 0 && slot.linger_until.is_none() {
                match tcp.recv(id, &mut scratch[..room]) {
                    Ok(0) => {
                        conn.on_tcp_eof(now, &mut ctx, &mut t);
                        progress = true;
                    }
                    Ok(n) => {
                        conn.on_ciphertext(now, &scratch[..n], &mut ctx, &mut t);
                        progress = true;
                    }
                    Err(TcpApiError::WouldBlock) => {}
                    Err(_) => {
                        conn.on_reset(&mut ctx, &mut t);
                        let _ = tcp.close(id);
                        return false;
                    }
                }
            }
            if !progress {
                break;
            }
        }
        conn.on_timer(now, &mut ctx, &mut t);
        conn.write_out(now, &mut ctx, &mut t, |b| tcp.send(id, b).unwrap_or(0));
        if conn.should_abort() {
            let _ = tcp.abort(id);
            return false;
        }
        if matches!(tcp.state(id), None | Some(State::Closed)) {
            let _ = tcp.close(id);
            return false;
        }
        if conn.failed().is_some() {
            // The alert (if rustls queued one) is in the send buffer: FIN after it.
            let _ = tcp.close(id);
            return false;
        }
        if !conn.finished() {
            return true;
        }
        match slot.linger_until {
            None if conn.peer_closed() => {
                let _ = tcp.close(id);
                false
            }
            None => {
                //= https://www.rfc-editor.org/rfc/rfc9112#section-9.6
                //# the server SHOULD initiate closure of the connection by first
                //# closing the connection in the write direction only
                let _ = tcp.shutdown_write(id);
                slot.linger_until = Some(now + ctx.cfg.linger);
                true
            }
            Some(until) if now >= until => {
                let _ = tcp.close(id);
                false
            }
            Some(_) => true,
        }
    }
}
