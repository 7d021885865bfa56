//! The connections a simple TCP service holds: its listener, the accepted
//! connections (bounded by the stack's `max_conns`), and the graceful stop.
//!
//! Serving is driven by the stack's readiness list (`Tcp::take_ready`):
//! each poll serves the connections just accepted and those with new
//! events, not every connection held, so 10 000 idle connections cost
//! nothing per rx batch. `serve` must do all it can each time it runs
//! (read until `WouldBlock`, write until the send buffer is full): the
//! connection is offered again only after its next event.

use crate::stack::tcp::{ConnId, ListenerId, Tcp, TcpApiError};

/// Marks a slot of `ConnSet::pos` that holds none of our connections.
const NOT_HELD: u32 = u32::MAX;

pub struct ConnSet {
    listener: ListenerId,
    conns: Vec<ConnId>,
    /// Position in `conns` by `ConnId::slot`, `NOT_HELD` if none: O(1)
    /// membership and removal for the handles the ready list returns.
    pos: Vec<u32>,
    /// Scratch for `take_ready`, kept between polls (no allocation).
    ready: Vec<ConnId>,
    max_conns: usize,
    nodelay: bool,
    /// Times `serve` ran (for tests and a gauge of the work per poll).
    served: u64,
}

impl ConnSet {
    /// Listen on `port`; accepted connections get Nagle off when `nodelay`.
    pub fn listen(tcp: &mut Tcp, port: u16, nodelay: bool) -> Result<Self, TcpApiError> {
        let listener = tcp.listen(port)?;
        let max_conns = tcp.config().max_conns;
        Ok(ConnSet {
            listener,
            conns: Vec::with_capacity(max_conns),
            pos: vec![NOT_HELD; max_conns],
            ready: Vec::with_capacity(max_conns),
            max_conns,
            nodelay,
            served: 0,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.port()
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// How many times a connection was served so far.
    pub fn served(&self) -> u64 {
        self.served
    }

    fn held(&self, c: ConnId) -> Option<usize> {
        let p = *self.pos.get(c.slot())?;
        (p != NOT_HELD && self.conns.get(p as usize) == Some(&c)).then_some(p as usize)
    }

    fn forget(&mut self, c: ConnId) {
        let Some(p) = self.held(c) else { return };
        self.conns.swap_remove(p);
        self.pos[c.slot()] = NOT_HELD;
        if let Some(&moved) = self.conns.get(p) {
            self.pos[moved.slot()] = p as u32;
        }
    }

    /// Take every connection waiting in the accept queue, up to the bound;
    /// each is also queued to be served on this poll (data may already
    /// have arrived).
    pub fn accept_all(&mut self, tcp: &mut Tcp) {
        while self.conns.len() < self.max_conns {
            let Some(c) = tcp.accept(self.listener) else {
                break;
            };
            if self.nodelay {
                let _ = tcp.set_nodelay(c, true);
            }
            let Some(slot) = self.pos.get_mut(c.slot()) else {
                // Not possible (slots stay below max_conns); refuse cleanly.
                let _ = tcp.abort(c);
                continue;
            };
            *slot = self.conns.len() as u32;
            self.conns.push(c);
            self.ready.push(c);
        }
    }

    /// Accept, then serve the connections that are new or have events;
    /// those `serve` reports finished (false) are closed and forgotten
    /// (the stack completes the close). Idle connections cost nothing.
    pub fn serve_ready(&mut self, tcp: &mut Tcp, mut serve: impl FnMut(&mut Tcp, ConnId) -> bool) {
        self.accept_all(tcp);
        tcp.take_ready(self.listener, &mut self.ready);
        let mut ready = std::mem::take(&mut self.ready);
        for &c in &ready {
            // A handle can appear twice (just accepted and listed, or a
            // stale one sharing a slot): serving again only finds
            // `WouldBlock`; `held` skips handles already forgotten.
            if self.held(c).is_none() {
                continue;
            }
            self.served += 1;
            if !serve(tcp, c) {
                let _ = tcp.close(c);
                self.forget(c);
            }
        }
        ready.clear();
        self.ready = ready;
    }

    /// Serve every connection held (the walk `serve_ready` avoids); for
    /// services that must look at idle connections too.
    pub fn serve_each(&mut self, tcp: &mut Tcp, mut serve: impl FnMut(&mut Tcp, ConnId) -> bool) {
        let mut i = 0;
        while i < self.conns.len() {
            let c = self.conns[i];
            self.served += 1;
            if serve(tcp, c) {
                i += 1;
            } else {
                let _ = tcp.close(c);
                self.forget(c);
            }
        }
    }

    /// Graceful stop: take no new connections and close every one held
    /// (our FIN after the data already queued).
    pub fn shutdown(&mut self, tcp: &mut Tcp) {
        let _ = tcp.unlisten(self.listener);
        for c in self.conns.drain(..) {
            let _ = tcp.close(c);
            if let Some(p) = self.pos.get_mut(c.slot()) {
                *p = NOT_HELD;
            }
        }
        self.ready.clear();
        self.max_conns = 0;
    }
}
