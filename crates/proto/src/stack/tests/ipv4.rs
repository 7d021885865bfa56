use super::*;

fn ping_frame(ip: Ip) -> Vec<u8> {
    ip.frame(&echo_request(b"abcdefgh"))
}

/// Feed one frame; return what went out.
fn feed(s: &mut Stack, frame: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    s.process_frame(T0, frame, &mut out);
    out
}

#[test]
fn valid_ping_is_answered_baseline() {
    let mut s = learned_stack();
    assert_eq!(
        feed(&mut s, &ping_frame(Ip::new(IpProtocol::Icmp))).len(),
        1
    );
    assert_eq!(s.counters().drops.total(), 0);
}

#[test]
fn header_errors_each_counted_under_their_reason() {
    let mut s = learned_stack();
    let good = ping_frame(Ip::new(IpProtocol::Icmp));
    let ip_at = ETHERNET_HEADER_LEN;
    let cases: Vec<(DropReason, Vec<u8>)> = vec![
        (DropReason::Ipv4Truncated, good[..ip_at + 19].to_vec()),
        (DropReason::Ipv4BadVersion, {
            let mut f = good.clone();
            f[ip_at] = 0x65;
            f
        }),
        (DropReason::Ipv4BadHeaderLen, {
            let mut f = good.clone();
            f[ip_at] = 0x44;
            f
        }),
        (DropReason::Ipv4BadHeaderLen, {
            // IHL 15 = 60 bytes, past a 36-byte packet.
            let mut f = good[..ip_at + 36].to_vec();
            f[ip_at] = 0x4f;
            f
        }),
        (DropReason::Ipv4BadTotalLen, {
            let mut f = good.clone();
            f[ip_at + 2..ip_at + 4].copy_from_slice(&(200u16).to_be_bytes());
            f
        }),
        (DropReason::Ipv4BadTotalLen, {
            let mut f = good.clone();
            f[ip_at + 2..ip_at + 4].copy_from_slice(&(19u16).to_be_bytes());
            f
        }),
        (DropReason::Ipv4BadChecksum, {
            let mut f = good.clone();
            f[ip_at + 10] ^= 0x40;
            f
        }),
    ];
    for (reason, frame) in &cases {
        let before = drops(&s, *reason);
        assert!(feed(&mut s, frame).is_empty(), "{reason}");
        assert_eq!(drops(&s, *reason), before + 1, "{reason}");
    }
    assert_eq!(s.counters().drops.total(), cases.len() as u64);
}

#[test]
fn source_routed_datagram_dropped() {
    let mut s = learned_stack();
    let ip = Ip::new(IpProtocol::Icmp);
    // LSRR with one address, padded with EOL to a 4-byte multiple.
    let lsrr = [131, 7, 4, 198, 18, 0, 9, 0];
    let pkt = ip.packet_with_options(&lsrr, &echo_request(b"x"));
    let out = feed(&mut s, &eth_frame(OUR_MAC, PEER_MAC, EtherType::Ipv4, &pkt));
    assert!(out.is_empty());
    assert_eq!(drops(&s, DropReason::Ipv4SourceRoute), 1);
    // A broken option walk is its own reason.
    let bad = ip.packet_with_options(&[7, 9, 0, 0], &echo_request(b"x"));
    feed(&mut s, &eth_frame(OUR_MAC, PEER_MAC, EtherType::Ipv4, &bad));
    assert_eq!(drops(&s, DropReason::Ipv4BadOptions), 1);
    // Harmless options (NOPs) are fine.
    let nops = ip.packet_with_options(&[1, 1, 1, 0], &echo_request(b"x"));
    assert_eq!(
        feed(
            &mut s,
            &eth_frame(OUR_MAC, PEER_MAC, EtherType::Ipv4, &nops)
        )
        .len(),
        1
    );
}

#[test]
fn bad_sources_dropped() {
    let mut s = learned_stack();
    for src in [
        OUR_IP,
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(198, 18, 0, 255),
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::LOCALHOST,
    ] {
        let ip = Ip {
            src,
            ..Ip::new(IpProtocol::Icmp)
        };
        assert!(feed(&mut s, &ping_frame(ip)).is_empty(), "{src}");
    }
    assert_eq!(drops(&s, DropReason::Ipv4BadSource), 6);
}

#[test]
fn destination_not_ours_dropped() {
    let mut s = learned_stack();
    let ip = Ip {
        dst: Ipv4Addr::new(198, 18, 0, 3),
        ..Ip::new(IpProtocol::Icmp)
    };
    assert!(feed(&mut s, &ping_frame(ip)).is_empty());
    // Our IP in a link-layer broadcast frame (RFC 1122 3.3.6).
    let pkt = Ip::new(IpProtocol::Icmp).packet(&echo_request(b"x"));
    let f = eth_frame(EthernetAddress::BROADCAST, PEER_MAC, EtherType::Ipv4, &pkt);
    assert!(feed(&mut s, &f).is_empty());
    // TCP to a broadcast address.
    let ip = Ip {
        dst: Ipv4Addr::BROADCAST,
        ..Ip::new(IpProtocol::Tcp)
    };
    assert!(feed(&mut s, &ip.frame(&[0; 20])).is_empty());
    assert_eq!(drops(&s, DropReason::Ipv4NotForUs), 3);
}

#[test]
fn ethernet_padding_trimmed_by_total_length() {
    let mut s = learned_stack();
    // A 1-byte echo is under the 60-byte Ethernet minimum: pad with junk.
    let mut f = ping_frame(Ip::new(IpProtocol::Icmp));
    let n = f.len();
    f.resize(n + 20, 0xa5);
    let out = feed(&mut s, &f);
    assert_eq!(out.len(), 1, "padding must not break the ICMP checksum");
    let sent = reassemble_out(&out, 1500);
    let reply = IcmpRepr::parse(&IcmpPacket::new_checked(&sent.payload[..]).unwrap()).unwrap();
    assert!(matches!(
        reply,
        IcmpRepr::EchoReply {
            data: b"abcdefgh",
            ..
        }
    ));
}

#[test]
fn ttl_zero_and_one_accepted_as_final_destination() {
    let mut s = learned_stack();
    for ttl in [0, 1] {
        let ip = Ip {
            ttl,
            ..Ip::new(IpProtocol::Icmp)
        };
        assert_eq!(feed(&mut s, &ping_frame(ip)).len(), 1, "ttl {ttl}");
    }
    assert_eq!(drops(&s, DropReason::Ipv4TtlExpired), 0);
}

fn syn_segment(dst_port: u16, corrupt: bool) -> Vec<u8> {
    syn_segment_to(OUR_IP, dst_port, corrupt)
}

fn syn_segment_to(dst: Ipv4Addr, dst_port: u16, corrupt: bool) -> Vec<u8> {
    use crate::wire::tcp::{Control, SeqNumber, TcpPacket, TcpRepr};
    let repr = TcpRepr {
        src_port: 40000,
        dst_port,
        seq: SeqNumber(1000),
        ack: None,
        control: Control::Syn,
        psh: false,
        window_len: 65535,
        mss: Some(1460),
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload: &[],
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), PEER_IP, dst);
    if corrupt {
        b[16] ^= 0xff;
    }
    b
}

#[test]
fn tcp_syn_to_closed_port_answered_with_rst_through_ipv4() {
    use crate::wire::tcp::{TcpPacket, TcpRepr};
    let mut s = learned_stack();
    let out = feed(
        &mut s,
        &Ip::new(IpProtocol::Tcp).frame(&syn_segment(81, false)),
    );
    let sent = reassemble_out(&out, 1500);
    assert_eq!(
        (sent.eth_dst, sent.dst, sent.protocol),
        (PEER_MAC, PEER_IP, IpProtocol::Tcp)
    );
    let seg = TcpRepr::parse(
        &TcpPacket::new_checked(&sent.payload[..]).unwrap(),
        OUR_IP,
        PEER_IP,
    )
    .unwrap();
    //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.1
    //# If the ACK bit is off, sequence number zero is used,
    //# <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    assert_eq!(seg.control, crate::wire::tcp::Control::Rst);
    assert_eq!(seg.ack.map(|a| a.0), Some(1001));
    assert_eq!((seg.src_port, seg.dst_port), (81, 40000));
}

#[test]
fn tcp_bad_checksum_and_broadcast_destination_are_dropped_silently() {
    let mut s = learned_stack();
    assert!(feed(
        &mut s,
        &Ip::new(IpProtocol::Tcp).frame(&syn_segment(81, true))
    )
    .is_empty());
    assert_eq!(drops(&s, DropReason::TcpBadChecksum), 1);
    let bcast = Ip {
        dst: Ipv4Addr::new(198, 18, 0, 255),
        ..Ip::new(IpProtocol::Tcp)
    };
    let frame = eth_frame(
        EthernetAddress::BROADCAST,
        PEER_MAC,
        EtherType::Ipv4,
        &bcast.packet(&syn_segment_to(bcast.dst, 81, false)),
    );
    assert!(feed(&mut s, &frame).is_empty(), "no RST to a broadcast SYN");
    // IPv4 takes broadcast only for ICMP and UDP, so TCP never sees it.
    assert_eq!(drops(&s, DropReason::Ipv4NotForUs), 1);
}

fn frag_ip(ident: u16) -> Ip {
    Ip {
        ident,
        ..Ip::new(IpProtocol::Icmp)
    }
}

#[test]
fn overlapping_fragments_drop_whole_datagram() {
    let mut s = learned_stack();
    let msg = echo_request(&[7u8; 100]);
    let ip = frag_ip(1);
    let a = Ip { more: true, ..ip }.frame(&msg[..56]);
    let b = Ip { offset: 48, ..ip }.frame(&msg[48..]);
    assert!(feed(&mut s, &a).is_empty());
    assert!(feed(&mut s, &b).is_empty());
    assert_eq!(drops(&s, DropReason::FragOverlap), 1);
    assert_eq!(s.reassembly_in_use(), 0);
}

#[test]
fn reassembly_timeout_frees_slot_and_sends_time_exceeded() {
    let mut s = learned_stack();
    let msg = echo_request(&[7u8; 100]);
    let first = Ip {
        more: true,
        ..frag_ip(1)
    }
    .frame(&msg[..64]);
    assert!(feed(&mut s, &first).is_empty());
    assert_eq!(s.reassembly_in_use(), 1);
    let deadline = T0 + Duration::from_secs(30);
    assert_eq!(s.poll_at().map(|t| t <= deadline), Some(true));
    let mut out = Vec::new();
    s.poll(deadline - ms(1), &mut out);
    assert_eq!(s.reassembly_in_use(), 1);
    s.poll(deadline, &mut out);
    assert_eq!(s.reassembly_in_use(), 0);
    assert_eq!(drops(&s, DropReason::FragTimeout), 1);
    // (Besides a unicast ARP probe: the peer's entry is stale by now.)
    let out = ipv4_only(&out);
    assert_eq!(out.len(), 1);
    let sent = reassemble_out(&out, 1500);
    let icmp = IcmpRepr::parse(&IcmpPacket::new_checked(&sent.payload[..]).unwrap()).unwrap();
    let IcmpRepr::TimeExceeded { code: 1, invoking } = icmp else {
        panic!("{icmp:?}")
    };
    // The first fragment's header and data, as received.
    assert_eq!(invoking, &first[ETHERNET_HEADER_LEN..]);
}

#[test]
fn reassembly_timeout_without_first_fragment_sends_nothing() {
    let mut s = learned_stack();
    let msg = echo_request(&[7u8; 100]);
    let last = Ip {
        offset: 64,
        ..frag_ip(1)
    }
    .frame(&msg[64..]);
    feed(&mut s, &last);
    let mut out = Vec::new();
    s.poll(T0 + Duration::from_secs(31), &mut out);
    assert!(
        ipv4_only(&out).is_empty(),
        "no ICMP error about a non-initial fragment"
    );
    assert_eq!(drops(&s, DropReason::FragTimeout), 1);
}

#[test]
fn reassembly_table_full_counted() {
    let mut s = learned_stack(); // 4 slots
    let msg = echo_request(&[7u8; 100]);
    for ident in 0..5 {
        let f = Ip {
            more: true,
            ..frag_ip(ident)
        }
        .frame(&msg[..64]);
        feed(&mut s, &f);
    }
    assert_eq!(s.reassembly_in_use(), 4);
    assert_eq!(drops(&s, DropReason::FragTableFull), 1);
}

#[test]
fn datagram_over_65535_bytes_dropped() {
    let mut s = learned_stack();
    let msg = echo_request(&[7u8; 100]);
    let first = Ip {
        more: true,
        ..frag_ip(1)
    }
    .frame(&msg[..64]);
    feed(&mut s, &first);
    let last = Ip {
        offset: 65528,
        ..frag_ip(1)
    }
    .frame(&[0u8; 100]);
    feed(&mut s, &last);
    assert_eq!(drops(&s, DropReason::FragTooBig), 1);
    assert_eq!(s.reassembly_in_use(), 0);
}

/// An ICMP destination unreachable from the peer quoting `ip_packet`.
fn unreachable_quoting(code: IcmpUnreachable, ip_packet: &[u8]) -> Vec<u8> {
    let quote = &ip_packet[..ip_packet.len().min(28)];
    let icmp = IcmpRepr::DstUnreachable {
        code,
        invoking: quote,
    };
    let mut b = vec![0u8; icmp.buffer_len()];
    icmp.emit(&mut IcmpPacket::new_unchecked(&mut b[..]));
    Ip::new(IpProtocol::Icmp).frame(&b)
}

#[test]
fn icmp_port_unreachable_quoting_our_syn_fails_the_connect() {
    let mut s = learned_stack();
    let mut out = Vec::new();
    let c = s
        .tcp_connect(T0, std::net::SocketAddrV4::new(PEER_IP, 9000), &mut out)
        .unwrap();
    assert_eq!(out.len(), 1, "the SYN");
    let syn_ip = EthernetFrame::new_checked(&out[0][..])
        .unwrap()
        .payload()
        .to_vec();
    // A quote with the wrong sequence number is a blind attack: ignored.
    let mut forged = syn_ip.clone();
    forged[20 + 4] ^= 0x55;
    feed(
        &mut s,
        &unreachable_quoting(IcmpUnreachable::PortUnreachable, &forged),
    );
    assert!(s
        .tcp()
        .state(c)
        .is_some_and(|st| st != crate::stack::tcp::State::Closed));
    assert_eq!(drops(&s, DropReason::IcmpIgnored), 1);
    // The real one aborts the attempt (RFC 5461 4.1).
    feed(
        &mut s,
        &unreachable_quoting(IcmpUnreachable::PortUnreachable, &syn_ip),
    );
    assert!(s.tcp().readiness(c).closed, "connect failed");
    assert_eq!(s.tcp().counters().attempt_fails, 1);
}
