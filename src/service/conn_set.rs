//! The connections a simple TCP service holds: its listener, the accepted
//! connections (bounded by the stack's `max_conns`), and the graceful stop.

use crate::stack::tcp::{ConnId, ListenerId, Tcp, TcpApiError};

pub struct ConnSet {
    listener: ListenerId,
    conns: Vec<ConnId>,
    max_conns: usize,
    nodelay: bool,
}

impl ConnSet {
    /// Listen on `port`; accepted connections get Nagle off when `nodelay`.
    pub fn listen(tcp: &mut Tcp, port: u16, nodelay: bool) -> Result<Self, TcpApiError> {
        let listener = tcp.listen(port)?;
        let max_conns = tcp.config().max_conns;
        Ok(ConnSet {
            listener,
            conns: Vec::with_capacity(max_conns),
            max_conns,
            nodelay,
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

    /// Take every connection waiting in the accept queue, up to the bound.
    pub fn accept_all(&mut self, tcp: &mut Tcp) {
        while self.conns.len() < self.max_conns {
            let Some(c) = tcp.accept(self.listener) else {
                break;
            };
            if self.nodelay {
                let _ = tcp.set_nodelay(c, true);
            }
            self.conns.push(c);
        }
    }

    /// Serve each connection; those `serve` reports finished (false) are
    /// closed and forgotten (the stack completes the close).
    pub fn serve_each(&mut self, tcp: &mut Tcp, mut serve: impl FnMut(&mut Tcp, ConnId) -> bool) {
        let mut i = 0;
        while i < self.conns.len() {
            let c = self.conns[i];
            if serve(tcp, c) {
                i += 1;
            } else {
                let _ = tcp.close(c);
                self.conns.swap_remove(i);
            }
        }
    }

    /// Graceful stop: take no new connections and close every one held
    /// (our FIN after the data already queued).
    pub fn shutdown(&mut self, tcp: &mut Tcp) {
        let _ = tcp.unlisten(self.listener);
        for c in self.conns.drain(..) {
            let _ = tcp.close(c);
        }
        self.max_conns = 0;
    }
}
