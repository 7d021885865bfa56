use super::*;

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

fn parse_icmp(payload: &[u8]) -> IcmpRepr<'_> {
    IcmpRepr::parse(&IcmpPacket::new_checked(payload).unwrap()).unwrap()
}

/// Ping with `n` data bytes, fragmented like Linux does at MTU 1500.
fn ping(n: usize) {
    let mut s = learned_stack();
    let d = data(n);
    let msg = echo_request(&d);
    let mut out = Vec::new();
    let frags = Ip::new(IpProtocol::Icmp).fragments(&msg, 1480);
    for f in &frags {
        s.process_frame(T0, f, &mut out);
    }
    let sent = reassemble_out(&out, 1500);
    assert_eq!(
        (sent.src, sent.dst, sent.eth_dst),
        (OUR_IP, PEER_IP, PEER_MAC)
    );
    assert_eq!(sent.protocol, IpProtocol::Icmp);
    assert_eq!(sent.fragments, frags.len(), "{n} bytes");
    let reply = parse_icmp(&sent.payload);
    assert_eq!(
        reply,
        IcmpRepr::EchoReply {
            ident: 0xbeef,
            seq_no: 7,
            data: &d
        }
    );
    assert_eq!(s.counters().icmp_echo_requests_rx, 1);
    assert_eq!(s.counters().icmp_echo_replies_tx, 1);
    assert_eq!(s.counters().drops.total(), 0, "{:?}", s.counters().drops);
    assert_eq!(s.reassembly_in_use(), 0);
}

#[test]
fn ping_0_bytes_echoed() {
    ping(0);
}

#[test]
fn ping_56_bytes_echoed() {
    ping(56);
}

#[test]
fn ping_1472_bytes_echoed_in_one_frame() {
    ping(1472);
}

#[test]
fn ping_4000_bytes_fragmented_both_ways() {
    ping(4000);
}

#[test]
fn ping_65000_bytes_fragmented_both_ways() {
    ping(65000);
}

#[test]
fn ping_largest_possible_echoed() {
    ping(65535 - 20 - 8);
}

#[test]
fn fragmented_reply_to_unresolved_peer_held_then_released() {
    let mut s = stack();
    let msg = echo_request(&data(3000));
    let mut out = Vec::new();
    for f in Ip::new(IpProtocol::Icmp).fragments(&msg, 1480) {
        s.process_frame(T0, &f, &mut out);
    }
    assert_eq!(out.len(), 1, "an ARP request, the reply is held");
    assert_eq!(s.arp_held_frames(), 3);
    out.clear();
    s.process_frame(T0, &arp_reply(PEER_MAC, PEER_IP), &mut out);
    let sent = reassemble_out(&out, 1500);
    assert_eq!(sent.eth_dst, PEER_MAC);
    assert!(
        matches!(parse_icmp(&sent.payload), IcmpRepr::EchoReply { data: d, .. } if d == &data(3000)[..])
    );
}

#[test]
fn smaller_mtu_fragments_replies_smaller() {
    let mut c = config();
    c.mtu = 576;
    let mut s = Stack::new(c);
    let mut out = Vec::new();
    s.process_frame(T0, &arp_request(PEER_MAC, PEER_IP, OUR_IP), &mut out);
    out.clear();
    let msg = echo_request(&data(1000));
    for f in Ip::new(IpProtocol::Icmp).fragments(&msg, 1480) {
        s.process_frame(T0, &f, &mut out);
    }
    let sent = reassemble_out(&out, 576);
    assert_eq!(sent.fragments, 2);
    assert!(matches!(
        parse_icmp(&sent.payload),
        IcmpRepr::EchoReply { .. }
    ));
}

#[test]
fn echo_to_broadcast_ignored() {
    let mut s = learned_stack();
    let mut out = Vec::new();
    for dst in [Ipv4Addr::BROADCAST, Ipv4Addr::new(198, 18, 0, 255)] {
        let ip = Ip {
            dst,
            ..Ip::new(IpProtocol::Icmp)
        };
        let f = eth_frame(
            EthernetAddress::BROADCAST,
            PEER_MAC,
            EtherType::Ipv4,
            &ip.packet(&echo_request(b"x")),
        );
        s.process_frame(T0, &f, &mut out);
    }
    assert!(out.is_empty());
    assert_eq!(drops(&s, DropReason::IcmpIgnored), 2);
}

#[test]
fn icmp_bad_checksum_and_truncated_counted() {
    let mut s = learned_stack();
    let mut out = Vec::new();
    let mut msg = echo_request(b"hello");
    msg[9] ^= 1;
    s.process_frame(T0, &Ip::new(IpProtocol::Icmp).frame(&msg), &mut out);
    s.process_frame(T0, &Ip::new(IpProtocol::Icmp).frame(&msg[..7]), &mut out);
    assert!(out.is_empty());
    assert_eq!(drops(&s, DropReason::IcmpBadChecksum), 1);
    assert_eq!(drops(&s, DropReason::IcmpTruncated), 1);
}

#[test]
fn redirects_replies_and_errors_ignored() {
    let mut s = learned_stack();
    let mut out = Vec::new();
    let quoted = Ip::new(IpProtocol::Udp).packet(&[0; 8]);
    for repr in [
        IcmpRepr::Other {
            msg_type: 5,
            code: 1,
        },
        IcmpRepr::EchoReply {
            ident: 1,
            seq_no: 1,
            data: b"x",
        },
        IcmpRepr::DstUnreachable {
            code: IcmpUnreachable::PortUnreachable,
            invoking: &quoted,
        },
    ] {
        s.process_frame(
            T0,
            &Ip::new(IpProtocol::Icmp).frame(&icmp_bytes(&repr)),
            &mut out,
        );
    }
    assert!(out.is_empty());
    assert_eq!(drops(&s, DropReason::IcmpIgnored), 3);
    assert_eq!(s.counters().icmp_errors_rx, 1);
}

#[test]
fn unknown_protocol_gets_protocol_unreachable_quoting_header() {
    let mut s = learned_stack();
    let mut out = Vec::new();
    let pkt = Ip::new(IpProtocol::Unknown(253)).packet(&data(1000));
    s.process_frame(
        T0,
        &eth_frame(OUR_MAC, PEER_MAC, EtherType::Ipv4, &pkt),
        &mut out,
    );
    assert_eq!(drops(&s, DropReason::Ipv4UnknownProtocol), 1);
    let sent = reassemble_out(&out, 1500);
    assert_eq!(sent.dst, PEER_IP);
    let IcmpRepr::DstUnreachable { code, invoking } = parse_icmp(&sent.payload) else {
        panic!()
    };
    assert_eq!(code, IcmpUnreachable::ProtocolUnreachable);
    // Header plus as much data as fits in 576 bytes.
    assert_eq!(invoking, &pkt[..MAX_QUOTE]);
    assert_eq!(sent.payload.len() + 20, 576);
    assert_eq!(s.counters().icmp_errors_tx, 1);
}

/// Send the first fragment of `msg` and let its reassembly time out.
fn time_out_first_fragment(msg: &[u8]) -> Vec<Vec<u8>> {
    let mut s = learned_stack();
    let mut out = Vec::new();
    let first = Ip {
        more: true,
        ..Ip::new(IpProtocol::Icmp)
    }
    .frame(&msg[..32]);
    s.process_frame(T0, &first, &mut out);
    s.poll(T0 + Duration::from_secs(30), &mut out);
    assert_eq!(drops(&s, DropReason::FragTimeout), 1);
    ipv4_only(&out)
}

#[test]
fn no_icmp_error_about_an_icmp_error() {
    let quoted = Ip::new(IpProtocol::Udp).packet(&[0; 40]);
    let err = icmp_bytes(&IcmpRepr::DstUnreachable {
        code: IcmpUnreachable::PortUnreachable,
        invoking: &quoted,
    });
    assert!(time_out_first_fragment(&err).is_empty());
    // The same for an echo request does get its time exceeded.
    let out = time_out_first_fragment(&echo_request(&[0; 40]));
    assert_eq!(out.len(), 1);
    let sent = reassemble_out(&out, 1500);
    assert!(matches!(
        parse_icmp(&sent.payload),
        IcmpRepr::TimeExceeded { code: 1, .. }
    ));
}

#[test]
fn icmp_errors_rate_limited_under_a_flood() {
    let mut s = learned_stack();
    let mut out = Vec::new();
    let f = Ip::new(IpProtocol::Udp).frame(&udp_bytes(PEER_IP, OUR_IP, 5000, 9, b"x"));
    for _ in 0..1000 {
        s.process_frame(T0, &f, &mut out);
    }
    assert_eq!(out.len(), 50, "the burst, no more");
    assert_eq!(drops(&s, DropReason::UdpNoListener), 1000);
    assert_eq!(drops(&s, DropReason::IcmpRateLimited), 950);
    // 100/s refills one token every 10 ms.
    out.clear();
    for _ in 0..10 {
        s.process_frame(T0 + ms(10), &f, &mut out);
    }
    assert_eq!(out.len(), 1);
}

#[test]
fn fragmented_replies_use_distinct_idents_from_the_seed() {
    let mut c = config();
    c.ident_seed = 0x4000;
    let mut s = Stack::new(c);
    let mut out = Vec::new();
    s.process_frame(T0, &arp_request(PEER_MAC, PEER_IP, OUR_IP), &mut out);
    let mut idents = Vec::new();
    for _ in 0..2 {
        out.clear();
        for f in Ip::new(IpProtocol::Icmp).fragments(&echo_request(&data(2000)), 1480) {
            s.process_frame(T0, &f, &mut out);
        }
        let eth = EthernetFrame::new_checked(&out[0][..]).unwrap();
        idents.push(Ipv4Packet::new_checked(eth.payload()).unwrap().ident());
    }
    assert_eq!(idents, vec![0x4000, 0x4001]);
}
