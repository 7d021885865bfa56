//! TCP echo (RFC 862): every byte received is sent back; when the client
//! half-closes, the echo finishes and the server closes too.
//!
//! Bounded: a connection is only read as far as its send buffer has room,
//! so the service holds no queue of its own (a client that does not read
//! simply stops being read: TCP flow control pushes back).

use super::conn_set::ConnSet;
use crate::stack::tcp::{ConnId, Tcp, TcpApiError};
use crate::time::Instant;

const SCRATCH: usize = 16 * 1024;

pub struct TcpEcho {
    conns: ConnSet,
    scratch: Box<[u8]>,
    bytes_echoed: u64,
}

impl TcpEcho {
    pub fn new(tcp: &mut Tcp, port: u16) -> Result<Self, TcpApiError> {
        Ok(TcpEcho {
            // Echo is interactive: each chunk goes back at once.
            conns: ConnSet::listen(tcp, port, true)?,
            scratch: vec![0; SCRATCH].into_boxed_slice(),
            bytes_echoed: 0,
        })
    }

    pub fn shutdown(&mut self, tcp: &mut Tcp) {
        self.conns.shutdown(tcp);
    }

    pub fn port(&self) -> u16 {
        self.conns.port()
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    pub fn bytes_echoed(&self) -> u64 {
        self.bytes_echoed
    }

    pub fn poll(&mut self, _now: Instant, tcp: &mut Tcp) {
        self.conns.accept_all(tcp);
        let (scratch, total) = (&mut self.scratch, &mut self.bytes_echoed);
        // Finished connections (EOF echoed, reset or gone) are closed.
        self.conns
            .serve_each(tcp, |tcp, c| serve(tcp, c, scratch, total));
    }
}

/// Echo what fits; false when the connection is finished.
fn serve(tcp: &mut Tcp, c: ConnId, scratch: &mut [u8], total: &mut u64) -> bool {
    loop {
        let room = tcp.send_capacity(c).min(scratch.len());
        if room == 0 {
            // Send buffer full (or closed): wait for the peer to ACK.
            return tcp
                .state(c)
                .is_some_and(|s| s != crate::stack::tcp::State::Closed);
        }
        match tcp.recv(c, &mut scratch[..room]) {
            Ok(0) => return false,
            Ok(n) => match tcp.send(c, &scratch[..n]) {
                Ok(sent) => {
                    debug_assert_eq!(sent, n, "send_capacity promised room");
                    *total += sent as u64;
                }
                Err(_) => return false,
            },
            Err(TcpApiError::WouldBlock) => return true,
            Err(_) => return false,
        }
    }
}
