//! HTTP/1.1 object store (RFC 9110 semantics, RFC 9112 syntax) on the
//! bypass TCP stack, run to completion inside each worker like `TcpEcho`.
//!
//! - `store`: the daemon-wide object store (`SharedStore`), shared by all workers.
//! - `conn`: one connection as a pure state machine (bytes in, bytes out).
//! - `head`, `chunked`, `response`, `date`: the protocol pieces it uses;
//!   `precond` (conditional requests) and `range` (byte ranges) decide
//!   what a GET of a stored object answers; `target` makes the store key
//!   of a request-target (one name per object, RFC 3986 6.2.2).
//! - this file: the glue to `Tcp` (accept, recv, send as room appears,
//!   half-close and linger, timeouts) and the per-worker statistics.
//!
//! Method policy: `GET`/`HEAD`/`PUT`/`DELETE` act on an object at the path;
//! `POST` adds a member to the collection at the path, so `POST` to a path
//! that holds an object is 405 with `Allow: GET, HEAD, PUT, DELETE, OPTIONS`.
//! `OPTIONS` (a path, or `*` for the server) is 200 with `Allow`. Any other
//! method is 501. HTTP/1.2 and later 1.x minors are served as 1.1.

mod arrivals;
mod chunked;
pub mod config;
mod conn;
mod ctx;
pub mod date;
mod head;
mod output;
mod precond;
mod range;
mod response;
pub mod store;
mod target;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cond;
#[cfg(test)]
mod tests_service;
#[cfg(test)]
mod tests_stop;
#[cfg(test)]
mod tests_target;
#[cfg(test)]
mod tests_timing;

use hdrhistogram::Histogram;

pub use config::{ErrorKind, HttpConfig, HttpCounters, Method, TimeoutKind};
pub use conn::{Connection, Ctx};
pub use ctx::{turn as turn_clock, Clock};
pub use store::{Object, PutOutcome, SharedStore, Store, StoreConfig, StoreError};

use crate::conn_set::{ConnMap, Schedule};
use crate::stack::tcp::{ConnId, ListenerId, State, Tcp, TcpApiError};
use crate::time::Instant;
use date::DateCache;

/// How much is read from TCP per call.
const SCRATCH: usize = 16 * 1024;
/// Service times up to an hour, 3 significant digits.
const HIST_MAX_NS: u64 = 3_600_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("listening: {0}")]
    Listen(#[from] TcpApiError),
    #[error("service-time histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
}

/// What the control plane reads from one worker's HTTP service.
#[derive(Clone, Debug)]
pub struct HttpStats {
    pub counters: HttpCounters,
    /// Request service time in ns: rx-ring pickup of the segment that
    /// completed the request head to the last byte of its response handed
    /// to TCP (see `output.rs`).
    pub service_time_ns: Histogram<u64>,
    pub connections: usize,
    /// The shared store (the same numbers on every worker).
    pub store_bytes: u64,
    pub store_objects: u64,
}

struct Slot {
    conn: Connection,
    /// Our FIN is queued; unread input is discarded until this instant.
    linger_until: Option<Instant>,
}

pub struct HttpService {
    listener: ListenerId,
    conns: ConnMap<Slot>,
    /// `shutdown` ran: the listener is gone.
    stopping: bool,
    schedule: Schedule,
    /// Connections served so far, summed over polls (idle ones are not).
    serves: u64,
    max_conns: usize,
    scratch: Box<[u8]>,
    store: SharedStore,
    cfg: HttpConfig,
    counters: HttpCounters,
    service_time: Histogram<u64>,
    date: DateCache,
    clock: Clock,
}

impl HttpService {
    pub fn new(
        tcp: &mut Tcp,
        port: u16,
        store: SharedStore,
        cfg: HttpConfig,
    ) -> Result<Self, HttpError> {
        let service_time = Histogram::new_with_bounds(1, HIST_MAX_NS, 3)?;
        let listener = tcp.listen(port)?;
        let max_conns = cfg.max_conns.min(tcp.config().max_conns);
        Ok(HttpService {
            listener,
            conns: ConnMap::with_capacity(tcp.config().max_conns),
            stopping: false,
            schedule: Schedule::with_capacity(max_conns),
            serves: 0,
            max_conns,
            scratch: vec![0; SCRATCH].into_boxed_slice(),
            store,
            cfg,
            counters: HttpCounters::default(),
            service_time,
            date: DateCache::default(),
            clock: ctx::turn,
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

    /// How many times a connection was served: the work per poll is the
    /// connections with events, not all those held.
    pub fn serves(&self) -> u64 {
        self.serves
    }

    pub fn counters(&self) -> &HttpCounters {
        &self.counters
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Graceful stop: take no new connections; idle ones get our FIN on
    /// the next poll, the others once the response they are being sent (or
    /// the request they are sending) is answered whole. Until then they are
    /// served as usual, so the TCP connection stays open and the worker's
    /// drain waits for it; what is left at the end of the drain time is
    /// reset by the worker, never closed cleanly after a short body.
    pub fn shutdown(&mut self, tcp: &mut Tcp) {
        let _ = tcp.unlisten(self.listener);
        self.max_conns = 0;
        self.stopping = true;
        for (_, slot) in self.conns.iter_mut() {
            slot.conn.stop();
        }
        // Serve every connection on the next poll (idle ones have no event).
        self.schedule.keep(Some(Instant::ZERO));
    }

    pub fn stats(&self) -> HttpStats {
        HttpStats {
            counters: self.counters.clone(),
            service_time_ns: self.service_time.clone(),
            connections: self.conns.len(),
            store_bytes: self.store.bytes(),
            store_objects: self.store.objects(),
        }
    }

    /// The next instant `poll` must run even if no segment arrives
    /// (timeouts, linger).
    pub fn poll_at(&self) -> Option<Instant> {
        self.schedule.poll_at()
    }

    pub fn poll(&mut self, now: Instant, tcp: &mut Tcp) {
        while self.conns.len() < self.max_conns {
            match tcp.accept(self.listener) {
                Some(id) => {
                    self.counters.connections_accepted += 1;
                    // Responses are written whole: Nagle would only hold
                    // back their last partial segment (as nginx, nodelay).
                    let _ = tcp.set_nodelay(id, true);
                    let _ = self.conns.insert(
                        id,
                        Slot {
                            conn: Connection::new(now, &self.cfg),
                            linger_until: None,
                        },
                    );
                }
                None => break,
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
            self.serves += 1;
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

    /// Run one connection as far as it goes; false when it is finished
    /// (its handle is released).
    fn serve(&mut self, now: Instant, tcp: &mut Tcp, id: ConnId) -> bool {
        let HttpService {
            conns,
            scratch,
            store,
            cfg,
            counters,
            service_time,
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
            tls: false,
        };
        let conn = &mut slot.conn;
        loop {
            let mut progress = false;
            let wrote = conn.write_out(now, &mut ctx, |b| tcp.send(id, b).unwrap_or(0));
            if wrote > 0 {
                progress = true;
                // Output drained: pipelined requests may go on.
                conn.advance(now, &mut ctx);
            }
            let room = conn.input_room().min(scratch.len());
            if room > 0 && !conn.peer_eof() {
                match tcp.recv(id, &mut scratch[..room]) {
                    Ok(0) => {
                        conn.on_eof(now, &mut ctx);
                        progress = true;
                    }
                    Ok(n) => {
                        conn.on_input(now, &scratch[..n], &mut ctx);
                        progress = true;
                    }
                    Err(TcpApiError::WouldBlock) => {}
                    Err(_) => {
                        // Reset, timed out, or gone: nothing more to say.
                        conn.on_reset(&mut ctx);
                        let _ = tcp.close(id);
                        return false;
                    }
                }
            }
            if !progress {
                break;
            }
        }
        conn.on_timer(now, &mut ctx);
        conn.write_out(now, &mut ctx, |b| tcp.send(id, b).unwrap_or(0));
        if conn.should_abort() {
            let _ = tcp.abort(id);
            return false;
        }
        if matches!(tcp.state(id), None | Some(State::Closed)) {
            let _ = tcp.close(id);
            return false;
        }
        if !conn.finished() {
            return true;
        }
        match slot.linger_until {
            None if conn.peer_eof() => {
                let _ = tcp.close(id);
                false
            }
            None => {
                //= https://www.rfc-editor.org/rfc/rfc9112#section-9.6
                //# the server SHOULD initiate closure of the connection by first
                //# closing the connection in the write direction only
                //= https://www.rfc-editor.org/rfc/rfc9112#section-9.6
                //# then
                //# wait
                //= https://www.rfc-editor.org/rfc/rfc9112#section-9.6
                //# continue to read from the connection
                let _ = tcp.shutdown_write(id);
                slot.linger_until = Some(now + ctx.cfg.linger);
                true
            }
            Some(t) if now >= t || conn.peer_eof() => {
                let _ = tcp.close(id);
                false
            }
            Some(_) => true,
        }
    }
}
