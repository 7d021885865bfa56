//! TCP echo (RFC 862): every byte received is sent back; when the client
//! half-closes, the echo finishes and the server closes too.
//!
//! Bounded: a connection is only read as far as its send buffer has room,
//! so the service holds no queue of its own (a client that does not read
//! simply stops being read: TCP flow control pushes back).

use crate::stack::tcp::{ConnId, ListenerId, Tcp, TcpApiError};
use crate::time::Instant;

const SCRATCH: usize = 16 * 1024;

pub struct TcpEcho {
    listener: ListenerId,
    conns: Vec<ConnId>,
    max_conns: usize,
    scratch: Box<[u8]>,
    bytes_echoed: u64,
}

impl TcpEcho {
    pub fn new(tcp: &mut Tcp, port: u16) -> Result<Self, TcpApiError> {
        let listener = tcp.listen(port)?;
        let max_conns = tcp.config().max_conns;
        Ok(TcpEcho {
            listener,
            conns: Vec::with_capacity(max_conns),
            max_conns,
            scratch: vec![0; SCRATCH].into_boxed_slice(),
            bytes_echoed: 0,
        })
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

    pub fn port(&self) -> u16 {
        self.listener.port()
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    pub fn bytes_echoed(&self) -> u64 {
        self.bytes_echoed
    }

    pub fn poll(&mut self, _now: Instant, tcp: &mut Tcp) {
        while self.conns.len() < self.max_conns {
            match tcp.accept(self.listener) {
                Some(c) => {
                    // Echo is interactive: each chunk goes back at once.
                    let _ = tcp.set_nodelay(c, true);
                    self.conns.push(c)
                }
                None => break,
            }
        }
        let mut i = 0;
        while i < self.conns.len() {
            let c = self.conns[i];
            if self.serve(tcp, c) {
                i += 1;
            } else {
                // Done (EOF echoed, reset or gone): the stack finishes the close.
                let _ = tcp.close(c);
                self.conns.swap_remove(i);
            }
        }
    }

    /// Echo what fits; false when the connection is finished.
    fn serve(&mut self, tcp: &mut Tcp, c: ConnId) -> bool {
        loop {
            let room = tcp.send_capacity(c).min(self.scratch.len());
            if room == 0 {
                // Send buffer full (or closed): wait for the peer to ACK.
                return tcp
                    .state(c)
                    .is_some_and(|s| s != crate::stack::tcp::State::Closed);
            }
            match tcp.recv(c, &mut self.scratch[..room]) {
                Ok(0) => return false,
                Ok(n) => match tcp.send(c, &self.scratch[..n]) {
                    Ok(sent) => {
                        debug_assert_eq!(sent, n, "send_capacity promised room");
                        self.bytes_echoed += sent as u64;
                    }
                    Err(_) => return false,
                },
                Err(TcpApiError::WouldBlock) => return true,
                Err(_) => return false,
            }
        }
    }
}
