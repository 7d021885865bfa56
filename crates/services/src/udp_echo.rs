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

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use xskd_proto::stack::Stack;
    use xskd_proto::testkit::frames::*;
    use xskd_proto::wire::{EtherType, EthernetAddress, IpProtocol};

    use super::UdpEcho;

    fn echo_stack() -> Stack {
        let mut s = learned_stack();
        s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
        s
    }

    #[test]
    fn echoes_the_datagram_to_its_source() {
        let mut s = echo_stack();
        let mut out = Vec::new();
        let f = Ip::new(IpProtocol::Udp).frame(&udp_bytes(PEER_IP, OUR_IP, 40000, 7, b"ping"));
        s.process_frame(T0, &f, &mut out);
        let sent = reassemble_out(&out, 1500);
        assert_eq!((sent.src, sent.dst), (OUR_IP, PEER_IP));
        assert_eq!(&sent.payload[8..], b"ping");
        assert_eq!(s.counters().udp_tx_datagrams, 1);
    }

    #[test]
    fn echo_ignores_broadcast_and_looping_source_ports() {
        let mut s = echo_stack();
        let mut out = Vec::new();
        let ip = Ip {
            dst: Ipv4Addr::BROADCAST,
            ..Ip::new(IpProtocol::Udp)
        };
        let pkt = ip.packet(&udp_bytes(PEER_IP, Ipv4Addr::BROADCAST, 40000, 7, b"x"));
        s.process_frame(
            T0,
            &eth_frame(EthernetAddress::BROADCAST, PEER_MAC, EtherType::Ipv4, &pkt),
            &mut out,
        );
        let f = Ip::new(IpProtocol::Udp).frame(&udp_bytes(PEER_IP, OUR_IP, 19, 7, b"x"));
        s.process_frame(T0, &f, &mut out);
        assert!(out.is_empty());
        assert_eq!(s.counters().udp_rx_datagrams, 2);
    }
}
