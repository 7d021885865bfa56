//! TCP discard (RFC 863): read and throw away; close when the client does.

use super::conn_set::ConnSet;
use crate::stack::tcp::{Tcp, TcpApiError};
use crate::time::Instant;

const SCRATCH: usize = 16 * 1024;

pub struct Discard {
    conns: ConnSet,
    scratch: Box<[u8]>,
    bytes_discarded: u64,
}

impl Discard {
    pub fn new(tcp: &mut Tcp, port: u16) -> Result<Self, TcpApiError> {
        Ok(Discard {
            conns: ConnSet::listen(tcp, port, false)?,
            scratch: vec![0; SCRATCH].into_boxed_slice(),
            bytes_discarded: 0,
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

    pub fn bytes_discarded(&self) -> u64 {
        self.bytes_discarded
    }

    pub fn poll(&mut self, _now: Instant, tcp: &mut Tcp) {
        let (scratch, total) = (&mut self.scratch, &mut self.bytes_discarded);
        // Only new connections and those with events; read until the
        // peer's FIN (or an error) ends the connection.
        self.conns.serve_ready(tcp, |tcp, c| loop {
            match tcp.recv(c, scratch) {
                Ok(0) => break false,
                Ok(n) => *total += n as u64,
                Err(TcpApiError::WouldBlock) => break true,
                Err(_) => break false,
            }
        });
    }
}
