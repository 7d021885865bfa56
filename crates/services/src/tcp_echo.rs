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

    /// Connections served so far (each poll serves only those with events).
    pub fn served(&self) -> u64 {
        self.conns.served()
    }

    pub fn poll(&mut self, _now: Instant, tcp: &mut Tcp) {
        let (scratch, total) = (&mut self.scratch, &mut self.bytes_echoed);
        // Only new connections and those with events (data, ACKed room,
        // FIN, reset); finished ones (EOF echoed, reset, gone) are closed.
        self.conns
            .serve_ready(tcp, |tcp, c| serve(tcp, c, scratch, total));
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

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::time::Duration;

    use super::*;
    use crate::stack::tcp::TcpConfig;

    const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    type Sink = Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>;

    /// Client and server stacks with the echo on the server; `settle` runs
    /// the echo after every delivery, as the worker does after a batch.
    struct Lab {
        client: Tcp,
        server: Tcp,
        echo: TcpEcho,
        now: Instant,
        to_server: Sink,
    }

    impl Lab {
        fn new() -> Lab {
            let mut server = Tcp::new(TcpConfig::default(), SERVER, [3; 32], 1);
            let echo = TcpEcho::new(&mut server, 7).unwrap();
            Lab {
                client: Tcp::new(TcpConfig::default(), CLIENT, [4; 32], 2),
                server,
                echo,
                now: Instant::from_secs(100),
                to_server: Sink::new(),
            }
        }

        fn settle(&mut self) {
            for _ in 0..1000 {
                let mut to_client = Sink::new();
                self.echo.poll(self.now, &mut self.server);
                self.client.poll(self.now, &mut self.to_server);
                self.server.poll(self.now, &mut to_client);
                if self.to_server.is_empty() && to_client.is_empty() {
                    return;
                }
                for (_, _, s) in std::mem::take(&mut self.to_server) {
                    let _ = self
                        .server
                        .on_segment(self.now, CLIENT, SERVER, &s, &mut to_client);
                }
                for (_, _, s) in to_client {
                    let _ =
                        self.client
                            .on_segment(self.now, SERVER, CLIENT, &s, &mut self.to_server);
                }
                self.now += Duration::from_millis(50);
            }
            panic!("no quiescence");
        }

        fn connect(&mut self) -> ConnId {
            let c = self
                .client
                .connect(self.now, SocketAddrV4::new(SERVER, 7), &mut self.to_server)
                .unwrap();
            self.settle();
            c
        }
    }

    #[test]
    fn echo_with_idle_connections_serves_only_the_active_one() {
        let mut lab = Lab::new();
        let idle: Vec<ConnId> = (0..20).map(|_| lab.connect()).collect();
        let active = lab.connect();
        assert_eq!(lab.echo.connections(), 21);
        let before = lab.echo.served();
        lab.client.send(active, b"ping").unwrap();
        lab.settle();
        let mut buf = [0u8; 16];
        assert_eq!(lab.client.recv(active, &mut buf), Ok(4));
        assert_eq!(&buf[..4], b"ping");
        let served = lab.echo.served() - before;
        // The data, and the ACK of the echo (room opened): never the idle ones.
        assert!((1..=3).contains(&served), "served {served}");
        for c in idle {
            assert_eq!(lab.client.recv(c, &mut buf), Err(TcpApiError::WouldBlock));
        }
    }

    #[test]
    fn echo_client_half_close_finishes_and_server_closes() {
        let mut lab = Lab::new();
        let c = lab.connect();
        lab.client.send(c, b"last words").unwrap();
        lab.client.shutdown_write(c).unwrap();
        lab.settle();
        let mut buf = [0u8; 32];
        assert_eq!(lab.client.recv(c, &mut buf), Ok(10));
        assert_eq!(lab.client.recv(c, &mut buf), Ok(0), "the server closed too");
        assert_eq!(lab.echo.connections(), 0);
        assert_eq!(lab.echo.bytes_echoed(), 10);
    }

    #[test]
    fn echo_larger_than_send_buffer_resumes_on_acks() {
        let mut lab = Lab::new();
        let c = lab.connect();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let (mut sent, mut got) = (0, Vec::new());
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..10_000 {
            if sent < data.len() {
                sent += lab.client.send(c, &data[sent..]).unwrap_or(0);
            }
            lab.settle();
            while let Ok(n) = lab.client.recv(c, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            if got.len() == data.len() {
                break;
            }
        }
        assert_eq!(got.len(), data.len());
        assert!(got == data);
    }
}
