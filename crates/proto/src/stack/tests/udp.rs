use super::*;

fn echo_stack() -> Stack {
    let mut s = learned_stack();
    s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
    s
}

fn parse_udp(sent: &Sent) -> (u16, u16, Vec<u8>) {
    let p = UdpPacket::new_checked(&sent.payload[..]).unwrap();
    UdpRepr::parse(&p, sent.src, sent.dst).unwrap();
    assert_ne!(p.checksum(), 0, "we always send a checksum");
    (p.src_port(), p.dst_port(), p.payload().to_vec())
}

#[test]
fn udp_echo_returns_exact_bytes() {
    let mut s = echo_stack();
    let mut out = Vec::new();
    let payload: Vec<u8> = (0..=255u8).collect();
    let f = Ip::new(IpProtocol::Udp).frame(&udp_bytes(PEER_IP, OUR_IP, 40000, 7, &payload));
    s.process_frame(T0, &f, &mut out);
    let sent = reassemble_out(&out, 1500);
    assert_eq!((sent.src, sent.dst), (OUR_IP, PEER_IP));
    assert_eq!(parse_udp(&sent), (7, 40000, payload.clone()));
    let c = s.counters();
    assert_eq!((c.udp_rx_datagrams, c.udp_tx_datagrams), (1, 1));
    let port = c.udp_port(7).unwrap();
    assert_eq!((port.rx_datagrams, port.tx_datagrams), (1, 1));
    assert_eq!((port.rx_bytes, port.tx_bytes), (256, 256));
    assert_eq!(c.drops.total(), 0);
}

#[test]
fn udp_echo_large_datagram_fragmented_both_ways() {
    let mut s = echo_stack();
    let mut out = Vec::new();
    let payload: Vec<u8> = (0..8000).map(|i| (i % 251) as u8).collect();
    let dgram = udp_bytes(PEER_IP, OUR_IP, 40000, 7, &payload);
    for f in Ip::new(IpProtocol::Udp).fragments(&dgram, 1480) {
        s.process_frame(T0, &f, &mut out);
    }
    let sent = reassemble_out(&out, 1500);
    assert_eq!(sent.fragments, 6);
    assert_eq!(parse_udp(&sent), (7, 40000, payload));
}

#[test]
fn udp_zero_checksum_accepted() {
    let mut s = echo_stack();
    let mut out = Vec::new();
    let mut d = udp_bytes(PEER_IP, OUR_IP, 40000, 7, b"no checksum");
    d[6..8].copy_from_slice(&[0, 0]);
    s.process_frame(T0, &Ip::new(IpProtocol::Udp).frame(&d), &mut out);
    assert_eq!(parse_udp(&reassemble_out(&out, 1500)).2, b"no checksum");
}

#[test]
fn udp_bad_checksum_and_bad_length_dropped() {
    let mut s = echo_stack();
    let mut out = Vec::new();
    let good = udp_bytes(PEER_IP, OUR_IP, 40000, 7, b"payload");
    let mut bad_sum = good.clone();
    bad_sum[9] ^= 1;
    s.process_frame(T0, &Ip::new(IpProtocol::Udp).frame(&bad_sum), &mut out);
    let mut too_long = good.clone();
    too_long[4..6].copy_from_slice(&100u16.to_be_bytes());
    s.process_frame(T0, &Ip::new(IpProtocol::Udp).frame(&too_long), &mut out);
    let mut too_short = good.clone();
    too_short[4..6].copy_from_slice(&7u16.to_be_bytes());
    s.process_frame(T0, &Ip::new(IpProtocol::Udp).frame(&too_short), &mut out);
    s.process_frame(T0, &Ip::new(IpProtocol::Udp).frame(&good[..5]), &mut out);
    assert!(out.is_empty());
    assert_eq!(drops(&s, DropReason::UdpBadChecksum), 1);
    assert_eq!(drops(&s, DropReason::UdpBadLength), 2);
    assert_eq!(drops(&s, DropReason::UdpTruncated), 1);
}

#[test]
fn udp_to_port_zero_dropped() {
    let mut s = echo_stack();
    let mut out = Vec::new();
    let d = udp_bytes(PEER_IP, OUR_IP, 40000, 0, b"x");
    s.process_frame(T0, &Ip::new(IpProtocol::Udp).frame(&d), &mut out);
    assert!(out.is_empty());
    assert_eq!(drops(&s, DropReason::UdpBadPort), 1);
}

#[test]
fn closed_port_gets_port_unreachable_quoting_the_datagram() {
    let mut s = echo_stack();
    let mut out = Vec::new();
    let pkt = Ip::new(IpProtocol::Udp).packet(&udp_bytes(PEER_IP, OUR_IP, 40000, 9, b"hello"));
    s.process_frame(
        T0,
        &eth_frame(OUR_MAC, PEER_MAC, EtherType::Ipv4, &pkt),
        &mut out,
    );
    assert_eq!(drops(&s, DropReason::UdpNoListener), 1);
    let sent = reassemble_out(&out, 1500);
    assert_eq!(sent.dst, PEER_IP);
    let icmp = IcmpRepr::parse(&IcmpPacket::new_checked(&sent.payload[..]).unwrap()).unwrap();
    assert_eq!(
        icmp,
        IcmpRepr::DstUnreachable {
            code: IcmpUnreachable::PortUnreachable,
            invoking: &pkt,
        }
    );
}

#[test]
fn closed_port_on_broadcast_gets_no_error() {
    let mut s = echo_stack();
    let mut out = Vec::new();
    for dst in [Ipv4Addr::BROADCAST, Ipv4Addr::new(198, 18, 0, 255)] {
        let ip = Ip {
            dst,
            ..Ip::new(IpProtocol::Udp)
        };
        let pkt = ip.packet(&udp_bytes(PEER_IP, dst, 40000, 9, b"x"));
        let f = eth_frame(EthernetAddress::BROADCAST, PEER_MAC, EtherType::Ipv4, &pkt);
        s.process_frame(T0, &f, &mut out);
    }
    assert!(out.is_empty());
    assert_eq!(drops(&s, DropReason::UdpNoListener), 2);
}

#[test]
fn bind_rejects_port_zero_and_duplicates() {
    let mut s = stack();
    assert_eq!(
        s.bind_udp(0, Box::new(UdpEcho::new())),
        Err(StackError::PortZero)
    );
    s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
    assert_eq!(
        s.bind_udp(7, Box::new(UdpEcho::new())),
        Err(StackError::PortInUse(7))
    );
}

/// A service that answers twice, once built in place.
struct Twice;

impl UdpService for Twice {
    fn on_datagram(
        &mut self,
        _now: Instant,
        src: std::net::SocketAddrV4,
        _dst: std::net::SocketAddrV4,
        payload: &[u8],
        reply: &mut UdpReply<'_>,
    ) {
        assert_eq!(reply.remote(), src);
        reply.send(payload).unwrap();
        reply.send_with(3, |b| b.copy_from_slice(b"abc")).unwrap();
    }
}

#[test]
fn service_may_reply_several_times() {
    let mut s = learned_stack();
    s.bind_udp(5555, Box::new(Twice)).unwrap();
    let mut out = Vec::new();
    let f = Ip::new(IpProtocol::Udp).frame(&udp_bytes(PEER_IP, OUR_IP, 1234, 5555, b"hi"));
    s.process_frame(T0, &f, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(parse_udp(&reassemble_out(&out[..1], 1500)).2, b"hi");
    assert_eq!(parse_udp(&reassemble_out(&out[1..], 1500)).2, b"abc");
    assert_eq!(s.counters().udp_port(5555).unwrap().tx_datagrams, 2);
}

/// A transmit ring that is always full.
struct FullRing;

impl TxSink for FullRing {
    fn transmit<F: FnOnce(&mut [u8])>(
        &mut self,
        _: usize,
        _: F,
    ) -> std::result::Result<(), DropReason> {
        Err(DropReason::TxRingFull)
    }

    fn room(&self) -> usize {
        0
    }
}

#[test]
fn full_tx_ring_counted_once_per_frame() {
    let mut s = echo_stack();
    let f = Ip::new(IpProtocol::Udp).frame(&udp_bytes(PEER_IP, OUR_IP, 40000, 7, b"x"));
    s.process_frame(T0, &f, &mut FullRing);
    assert_eq!(drops(&s, DropReason::TxRingFull), 1);
    assert_eq!(s.counters().drops.total(), 1);
    assert_eq!(
        s.counters().tx_frames,
        1,
        "only the ARP reply of learned_stack"
    );
    assert_eq!(s.counters().udp_tx_datagrams, 0);
}

#[test]
fn send_udp_originates_datagrams_and_refuses_oversize() {
    let mut s = echo_stack();
    let mut out = Vec::new();
    let dst = std::net::SocketAddrV4::new(PEER_IP, 53);
    s.send_udp(T0, 7, dst, b"query", &mut out).unwrap();
    let sent = reassemble_out(&out, 1500);
    assert_eq!(parse_udp(&sent), (7, 53, b"query".to_vec()));
    assert_eq!(s.counters().udp_port(7).unwrap().tx_datagrams, 1);
    let big = vec![0u8; MAX_UDP_PAYLOAD + 1];
    assert_eq!(
        s.send_udp(T0, 7, dst, &big, &mut out),
        Err(DropReason::TxFrameTooBig)
    );
    assert_eq!(
        s.send_ipv4(
            T0,
            PEER_IP,
            IpProtocol::Udp,
            MAX_IPV4_PAYLOAD + 1,
            |_| {},
            &mut out
        ),
        Err(DropReason::TxFrameTooBig)
    );
    assert_eq!(drops(&s, DropReason::TxFrameTooBig), 2);
    // The largest datagram goes out, in 45 fragments.
    out.clear();
    let max = vec![0x5a; MAX_UDP_PAYLOAD];
    s.send_udp(T0, 7, dst, &max, &mut out).unwrap();
    let sent = reassemble_out(&out, 1500);
    assert_eq!(sent.fragments, 45);
    assert_eq!(parse_udp(&sent).2, max);
}

type Seen = std::sync::Arc<std::sync::Mutex<Vec<(SocketAddrV4, SocketAddrV4, IcmpErrorKind)>>>;

/// Records the ICMP errors it is told about.
struct ErrorRecorder(Seen);

impl UdpService for ErrorRecorder {
    fn on_datagram(
        &mut self,
        _: Instant,
        _: SocketAddrV4,
        _: SocketAddrV4,
        _: &[u8],
        _: &mut UdpReply<'_>,
    ) {
    }

    fn on_icmp_error(
        &mut self,
        _now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        error: IcmpErrorKind,
    ) {
        self.0.lock().unwrap().push((local, remote, error));
    }
}

fn icmp_error_about(src: Ipv4Addr, protocol: IpProtocol, sport: u16, dport: u16) -> Vec<u8> {
    let quoted_ip = Ip {
        src,
        dst: PEER_IP,
        ..Ip::new(protocol)
    };
    let quoted = quoted_ip.packet(&udp_bytes(src, PEER_IP, sport, dport, b"query"));
    let err = icmp_bytes(&IcmpRepr::DstUnreachable {
        code: IcmpUnreachable::PortUnreachable,
        invoking: &quoted[..28],
    });
    Ip::new(IpProtocol::Icmp).frame(&err)
}

use std::net::SocketAddrV4;

#[test]
fn icmp_error_about_our_datagram_reaches_the_service() {
    let seen = Seen::default();
    let mut s = learned_stack();
    s.bind_udp(5353, Box::new(ErrorRecorder(seen.clone())))
        .unwrap();
    let mut out = Vec::new();
    s.process_frame(
        T0,
        &icmp_error_about(OUR_IP, IpProtocol::Udp, 5353, 53),
        &mut out,
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(
            SocketAddrV4::new(OUR_IP, 5353),
            SocketAddrV4::new(PEER_IP, 53),
            IcmpErrorKind::DstUnreachable(IcmpUnreachable::PortUnreachable)
        )]
    );
    assert_eq!(s.counters().icmp_errors_rx, 1);
    assert_eq!(s.counters().drops.total(), 0);
    // Not ours, not bound, or for TCP (not plugged in yet): ignored.
    for f in [
        icmp_error_about(PEER_IP, IpProtocol::Udp, 5353, 53),
        icmp_error_about(OUR_IP, IpProtocol::Udp, 9999, 53),
        icmp_error_about(OUR_IP, IpProtocol::Tcp, 5353, 53),
    ] {
        s.process_frame(T0, &f, &mut out);
    }
    assert!(out.is_empty(), "never an error about an error");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(drops(&s, DropReason::IcmpIgnored), 3);
}
