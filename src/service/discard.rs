//! TCP discard (RFC 863): read and throw away; close when the client does.

use crate::stack::tcp::{ConnId, ListenerId, Tcp, TcpApiError};
use crate::time::Instant;

const SCRATCH: usize = 16 * 1024;

pub struct Discard {
    listener: ListenerId,
    conns: Vec<ConnId>,
    max_conns: usize,
    scratch: Box<[u8]>,
    bytes_discarded: u64,
}

impl Discard {
    pub fn new(tcp: &mut Tcp, port: u16) -> Result<Self, TcpApiError> {
        let listener = tcp.listen(port)?;
        let max_conns = tcp.config().max_conns;
        Ok(Discard {
            listener,
            conns: Vec::with_capacity(max_conns),
            max_conns,
            scratch: vec![0; SCRATCH].into_boxed_slice(),
            bytes_discarded: 0,
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

    pub fn bytes_discarded(&self) -> u64 {
        self.bytes_discarded
    }

    pub fn poll(&mut self, _now: Instant, tcp: &mut Tcp) {
        while self.conns.len() < self.max_conns {
            match tcp.accept(self.listener) {
                Some(c) => self.conns.push(c),
                None => break,
            }
        }
        let mut i = 0;
        while i < self.conns.len() {
            let c = self.conns[i];
            let done = loop {
                match tcp.recv(c, &mut self.scratch) {
                    Ok(0) => break true,
                    Ok(n) => self.bytes_discarded += n as u64,
                    Err(TcpApiError::WouldBlock) => break false,
                    Err(_) => break true,
                }
            };
            if done {
                let _ = tcp.close(c);
                self.conns.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
}
