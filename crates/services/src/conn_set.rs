//! The connections a TCP service holds, and which of them to serve.
//!
//! Serving is driven by the stack's readiness list (`Tcp::take_ready`):
//! each poll serves the connections just accepted and those with new
//! events, not every connection held, so 10 000 idle connections cost
//! nothing per rx batch. A `serve` must do all it can each time it runs
//! (read until `WouldBlock`, write until the send buffer is full): the
//! connection is offered again only after its next event.
//!
//! - [`ConnMap<T>`]: per-connection state `T` by handle, O(1) by
//!   `ConnId::slot`, plus the "serve these now" list (for services with
//!   state and timers, e.g. HTTP).
//! - [`ConnSet`]: a listener and a `ConnMap<()>`, for stateless services
//!   (echo, discard).

use crate::stack::tcp::{ConnId, ListenerId, Tcp, TcpApiError};
use crate::time::Instant;

/// Marks a slot of `ConnMap::pos` that holds none of our connections.
const NOT_HELD: u32 = u32::MAX;

/// Per-connection state by handle, bounded by the stack's `max_conns`,
/// allocated once.
pub struct ConnMap<T> {
    entries: Vec<(ConnId, T)>,
    /// Position in `entries` by `ConnId::slot`, `NOT_HELD` if none.
    pos: Vec<u32>,
    /// Handles to serve on the next `take_ready`: inserted since.
    fresh: Vec<ConnId>,
}

impl<T> ConnMap<T> {
    /// Room for `max_conns` connections: the stack's `max_conns` (handles'
    /// slots are below it).
    pub fn with_capacity(max_conns: usize) -> Self {
        ConnMap {
            entries: Vec::with_capacity(max_conns),
            pos: vec![NOT_HELD; max_conns],
            fresh: Vec::with_capacity(max_conns),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, c: ConnId) -> Option<usize> {
        let p = *self.pos.get(c.slot())?;
        (p != NOT_HELD && self.entries.get(p as usize).is_some_and(|e| e.0 == c))
            .then_some(p as usize)
    }

    pub fn contains(&self, c: ConnId) -> bool {
        self.position(c).is_some()
    }

    /// Hold `c` (just accepted) with its state; it is served on the next
    /// `take_ready`. Gives the value back if `c` is already held or its
    /// slot is beyond the capacity (not possible with the stack's own
    /// `max_conns`).
    pub fn insert(&mut self, c: ConnId, value: T) -> Result<(), T> {
        if self.contains(c) {
            return Err(value);
        }
        let Some(p) = self.pos.get_mut(c.slot()) else {
            return Err(value);
        };
        *p = self.entries.len() as u32;
        self.entries.push((c, value));
        self.fresh.push(c);
        Ok(())
    }

    pub fn get(&self, c: ConnId) -> Option<&T> {
        let p = self.position(c)?;
        Some(&self.entries[p].1)
    }

    /// Every connection held, read-only (gauges).
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, c: ConnId) -> Option<&mut T> {
        let p = self.position(c)?;
        Some(&mut self.entries[p].1)
    }

    pub fn remove(&mut self, c: ConnId) -> Option<T> {
        let p = self.position(c)?;
        let (_, v) = self.entries.swap_remove(p);
        self.pos[c.slot()] = NOT_HELD;
        if let Some(&(moved, _)) = self.entries.get(p) {
            self.pos[moved.slot()] = p as u32;
        }
        Some(v)
    }

    /// Every connection held (for deadline scans, shutdown).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ConnId, &mut T)> {
        self.entries.iter_mut().map(|(c, v)| (*c, v))
    }

    /// Append to `out` what to serve now: connections inserted since the
    /// last call, then those of listener `l` with events
    /// (`Tcp::take_ready`). A handle can appear twice (inserted and listed):
    /// serving it again only finds `WouldBlock`. Skip handles `get_mut`
    /// no longer finds (removed meanwhile).
    pub fn take_ready(&mut self, tcp: &mut Tcp, l: ListenerId, out: &mut Vec<ConnId>) {
        out.append(&mut self.fresh);
        tcp.take_ready(l, out);
    }

    /// Forget every connection (returned for closing).
    pub fn drain(&mut self) -> impl Iterator<Item = (ConnId, T)> + '_ {
        for (c, _) in &self.entries {
            if let Some(p) = self.pos.get_mut(c.slot()) {
                *p = NOT_HELD;
            }
        }
        self.fresh.clear();
        self.entries.drain(..)
    }
}

/// What a service with per-connection timers (HTTP, HTTPS) serves each
/// poll: the connections with events, or all of them once one of their
/// deadlines passed; and the earliest such deadline (`poll_at`).
pub struct Schedule {
    ready: Vec<ConnId>,
    next: Option<Instant>,
}

impl Schedule {
    pub fn with_capacity(max_conns: usize) -> Self {
        Schedule {
            ready: Vec::with_capacity(max_conns),
            next: None,
        }
    }

    /// When the service must poll without an event (a lower bound: a
    /// connection's deadline may have moved later since).
    pub fn poll_at(&self) -> Option<Instant> {
        self.next
    }

    /// Start a poll: the handles to serve now (new ones and those with
    /// events, or every one held when a deadline passed, which also resets
    /// the bound for `keep` to rebuild). Give the list back with `end`.
    pub fn begin<T>(
        &mut self,
        conns: &mut ConnMap<T>,
        tcp: &mut Tcp,
        l: ListenerId,
        now: Instant,
    ) -> Vec<ConnId> {
        let due = self.next.is_some_and(|d| d <= now);
        let mut ready = std::mem::take(&mut self.ready);
        conns.take_ready(tcp, l, &mut ready);
        if due {
            ready.clear();
            ready.extend(conns.entries.iter().map(|(c, _)| *c));
            self.next = None;
        }
        ready
    }

    /// A served connection stays, with this next deadline of its own.
    pub fn keep(&mut self, deadline: Option<Instant>) {
        self.next = match (self.next, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    pub fn end(&mut self, mut ready: Vec<ConnId>) {
        ready.clear();
        self.ready = ready;
    }
}

pub struct ConnSet {
    listener: ListenerId,
    conns: ConnMap<()>,
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
            conns: ConnMap::with_capacity(max_conns),
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

    /// Take every connection waiting in the accept queue, up to the bound;
    /// each is served on the next `serve_ready` (data may already have
    /// arrived).
    pub fn accept_all(&mut self, tcp: &mut Tcp) {
        while self.conns.len() < self.max_conns {
            let Some(c) = tcp.accept(self.listener) else {
                break;
            };
            if self.nodelay {
                let _ = tcp.set_nodelay(c, true);
            }
            if self.conns.insert(c, ()).is_err() {
                // Not possible (slots stay below max_conns); refuse cleanly.
                let _ = tcp.abort(c);
            }
        }
    }

    /// Accept, then serve the connections that are new or have events;
    /// those `serve` reports finished (false) are closed and forgotten
    /// (the stack completes the close). Idle connections cost nothing.
    pub fn serve_ready(&mut self, tcp: &mut Tcp, mut serve: impl FnMut(&mut Tcp, ConnId) -> bool) {
        self.accept_all(tcp);
        let mut ready = std::mem::take(&mut self.ready);
        self.conns.take_ready(tcp, self.listener, &mut ready);
        for &c in &ready {
            if !self.conns.contains(c) {
                continue;
            }
            self.served += 1;
            if !serve(tcp, c) {
                let _ = tcp.close(c);
                self.conns.remove(c);
            }
        }
        ready.clear();
        self.ready = ready;
    }

    /// Graceful stop: take no new connections and close every one held
    /// (our FIN after the data already queued).
    pub fn shutdown(&mut self, tcp: &mut Tcp) {
        let _ = tcp.unlisten(self.listener);
        for (c, ()) in self.conns.drain() {
            let _ = tcp.close(c);
        }
        self.ready.clear();
        self.max_conns = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::tcp::TcpConfig;
    use crate::time::Instant;
    use std::net::{Ipv4Addr, SocketAddrV4};

    type Sink = Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>;

    /// `n` accepted handles from a real stack (SYN, SYN-ACK, ACK by hand).
    fn handles(n: u16) -> (Tcp, ListenerId, Vec<ConnId>) {
        let ours = Ipv4Addr::new(198, 18, 0, 1);
        let peer = Ipv4Addr::new(198, 18, 0, 2);
        let mut server = Tcp::new(TcpConfig::default(), ours, [3; 32], 1);
        let mut client = Tcp::new(TcpConfig::default(), peer, [4; 32], 2);
        let l = server.listen(9).unwrap();
        let now = Instant::from_secs(1);
        let mut ids = Vec::new();
        for _ in 0..n {
            let mut to_server = Sink::new();
            client
                .connect(now, SocketAddrV4::new(ours, 9), &mut to_server)
                .unwrap();
            let mut to_client = Sink::new();
            for (_, _, s) in to_server.drain(..) {
                let _ = server.on_segment(now, peer, ours, &s, &mut to_client);
            }
            for (_, _, s) in to_client {
                let _ = client.on_segment(now, ours, peer, &s, &mut to_server);
            }
            for (_, _, s) in to_server {
                let _ = server.on_segment(now, peer, ours, &s, &mut Sink::new());
            }
            ids.push(server.accept(l).expect("accepted"));
        }
        (server, l, ids)
    }

    #[test]
    fn conn_map_insert_get_remove_keep_positions_consistent() {
        let (mut tcp, l, ids) = handles(5);
        let mut m = ConnMap::with_capacity(tcp.config().max_conns);
        for (i, &c) in ids.iter().enumerate() {
            assert!(m.insert(c, i).is_ok());
        }
        assert_eq!(m.insert(ids[0], 99), Err(99), "no duplicates");
        assert_eq!(m.remove(ids[1]), Some(1));
        assert_eq!(m.remove(ids[1]), None);
        // The entry moved into the hole is still found.
        for (i, &c) in ids.iter().enumerate().filter(|(i, _)| *i != 1) {
            assert_eq!(m.get_mut(c).copied(), Some(i));
        }
        assert_eq!(m.len(), 4);
        let mut out = Vec::new();
        m.take_ready(&mut tcp, l, &mut out);
        assert_eq!(out, ids, "every insert is served once");
        out.clear();
        m.take_ready(&mut tcp, l, &mut out);
        assert!(out.is_empty(), "no events since");
        let drained: Vec<usize> = m.drain().map(|(_, v)| v).collect();
        assert_eq!(drained.len(), 4);
        assert!(m.is_empty() && !m.contains(ids[0]));
    }

    #[test]
    fn conn_map_refuses_slots_beyond_its_capacity() {
        let (_tcp, _l, ids) = handles(3);
        let mut m = ConnMap::with_capacity(1);
        assert!(m.insert(ids[0], ()).is_ok());
        assert!(m.insert(ids[2], ()).is_err());
        assert_eq!(m.len(), 1);
    }
}
