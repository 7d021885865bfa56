//! The echo service over UDP (RFC 862).

use std::net::SocketAddrV4;

use crate::stack::{UdpReply, UdpService};
use crate::time::Instant;

/// Ports of services that answer whatever they receive: echoing to them
/// would start a packet loop between two servers (the echo/chargen loop,
/// CVE-1999-0103).
const LOOPING_PORTS: [u16; 5] = [7, 13, 17, 19, 37];

/// Sends every datagram back to where it came from.
#[derive(Debug, Default)]
pub struct UdpEcho {
    /// Datagrams echoed.
    pub echoed: u64,
    /// Datagrams not answered (broadcast destination, looping source
    /// port, or a send the stack refused and counted).
    pub ignored: u64,
}

impl UdpEcho {
    pub fn new() -> Self {
        Self::default()
    }
}

impl UdpService for UdpEcho {
    fn on_datagram(
        &mut self,
        _now: Instant,
        src: SocketAddrV4,
        _dst: SocketAddrV4,
        payload: &[u8],
        reply: &mut UdpReply<'_>,
    ) {
        //= https://www.rfc-editor.org/rfc/rfc862
        //# When a datagram is received, the data from it is sent back in an
        //# answering datagram.
        // Not for datagrams sent to a broadcast address: every host on the
        // link would answer a spoofed victim (the "fraggle" attack).
        if reply.to_broadcast() || LOOPING_PORTS.contains(&src.port()) {
            self.ignored += 1;
            return;
        }
        match reply.send(payload) {
            Ok(()) => self.echoed += 1,
            Err(_) => self.ignored += 1,
        }
    }
}
