use super::*;

fn parse_arp(frame: &[u8]) -> (EthernetAddress, ArpRepr) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(eth.ethertype(), EtherType::Arp);
    assert_eq!(eth.src_addr(), OUR_MAC);
    let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    (eth.dst_addr(), arp)
}

const IP3: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);

#[test]
fn arp_request_for_our_ip_answered_with_our_mac() {
    let mut s = stack();
    let mut out = Vec::new();
    s.process_frame(T0, &arp_request(PEER_MAC, PEER_IP, OUR_IP), &mut out);
    assert_eq!(out.len(), 1);
    let (dst, arp) = parse_arp(&out[0]);
    assert_eq!(dst, PEER_MAC);
    assert_eq!(
        arp,
        ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: OUR_MAC,
            source_protocol_addr: OUR_IP,
            target_hardware_addr: PEER_MAC,
            target_protocol_addr: PEER_IP,
        }
    );
    assert_eq!(s.counters().arp_requests_rx, 1);
    assert_eq!(s.counters().arp_replies_tx, 1);
    // The requester was learned (it concerns us).
    assert_eq!(s.arp_lookup(T0, PEER_IP), Some(PEER_MAC));
    assert_eq!(s.counters().arp_cache_size, 1);
    assert_eq!(s.counters().drops.total(), 0);
}

#[test]
fn arp_request_for_other_ip_ignored_and_counted() {
    let mut s = stack();
    let mut out = Vec::new();
    s.process_frame(T0, &arp_request(PEER_MAC, PEER_IP, IP3), &mut out);
    assert!(out.is_empty());
    assert_eq!(drops(&s, DropReason::ArpNotForUs), 1);
    assert_eq!(s.arp_cache_len(), 0, "not learned: it does not concern us");
}

#[test]
fn start_sends_gratuitous_arp() {
    let mut s = stack();
    let mut out = Vec::new();
    s.start(T0, &mut out);
    assert_eq!(out.len(), 1);
    let (dst, arp) = parse_arp(&out[0]);
    assert_eq!(dst, EthernetAddress::BROADCAST);
    assert_eq!(arp.operation, ArpOperation::Request);
    assert_eq!(arp.source_protocol_addr, OUR_IP);
    assert_eq!(arp.target_protocol_addr, OUR_IP);
    assert_eq!(s.counters().arp_requests_tx, 1);
    // Hearing our own announcement back is not a conflict.
    s.process_frame(T0, &out[0].clone(), &mut out);
    assert_eq!(drops(&s, DropReason::ArpConflict), 0);
    assert_eq!(drops(&s, DropReason::ArpNotForUs), 1);
}

#[test]
fn stale_entry_refreshed_by_unicast_probe_then_expires() {
    let mut s = learned_stack();
    let mut out = Vec::new();
    // Fresh: straight out.
    s.send_ipv4(
        T0 + ms(1000),
        PEER_IP,
        IpProtocol::Udp,
        10,
        |_| {},
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    out.clear();
    // Past half the TTL: a unicast request to the known MAC, and the datagram.
    let t = T0 + Duration::from_secs(31);
    s.send_ipv4(t, PEER_IP, IpProtocol::Udp, 10, |_| {}, &mut out)
        .unwrap();
    assert_eq!(out.len(), 2);
    let (dst, probe) = parse_arp(&out[0]);
    assert_eq!((dst, probe.operation), (PEER_MAC, ArpOperation::Request));
    assert_eq!(probe.target_protocol_addr, PEER_IP);
    // The probe's reply refreshes the entry: alive past the original TTL.
    s.process_frame(t, &arp_reply(PEER_MAC, PEER_IP), &mut out);
    assert_eq!(
        s.arp_lookup(T0 + Duration::from_secs(80), PEER_IP),
        Some(PEER_MAC)
    );
    // Without further confirmation it expires and poll removes it.
    let late = t + Duration::from_secs(60);
    s.poll(late, &mut out);
    assert_eq!(s.arp_cache_len(), 0);
    assert_eq!(s.counters().arp_cache_size, 0);
}

#[test]
fn unresolved_destination_holds_bounded_frames_retries_then_gives_up() {
    let mut s = stack();
    let mut out = Vec::new();
    for i in 0..5u8 {
        let r = s.send_ipv4(T0, IP3, IpProtocol::Udp, 10, |b| b.fill(i), &mut out);
        assert_eq!(r.is_ok(), i < 4, "frame {i}");
    }
    assert_eq!(s.arp_held_frames(), 4);
    assert_eq!(drops(&s, DropReason::ArpPendingFull), 1);
    // One broadcast request, not one per frame.
    assert_eq!(out.len(), 1);
    let (dst, req) = parse_arp(&out[0]);
    assert_eq!(dst, EthernetAddress::BROADCAST);
    assert_eq!(req.target_protocol_addr, IP3);
    out.clear();
    assert_eq!(s.poll_at(), Some(T0 + ms(1000)));
    s.poll(T0 + ms(999), &mut out);
    assert!(out.is_empty(), "at most one request per second");
    s.poll(T0 + ms(1000), &mut out);
    s.poll(T0 + ms(1500), &mut out);
    s.poll(T0 + ms(2000), &mut out);
    assert_eq!(out.len(), 2, "retries at 1 s and 2 s");
    s.poll(T0 + ms(3000), &mut out);
    assert_eq!(out.len(), 2, "three requests in all, then give up");
    assert_eq!(s.arp_held_frames(), 0);
    assert_eq!(drops(&s, DropReason::ArpUnresolved), 4);
    assert_eq!(s.counters().arp_resolution_failures, 1);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn reply_releases_held_frames_in_order_with_resolved_mac() {
    let mut s = stack();
    let mut out = Vec::new();
    for i in 0..3u8 {
        s.send_ipv4(T0, IP3, IpProtocol::Udp, 10, |b| b.fill(i), &mut out)
            .unwrap();
    }
    out.clear();
    s.process_frame(T0 + ms(5), &arp_reply(OTHER_MAC, IP3), &mut out);
    assert_eq!(out.len(), 3);
    for (i, f) in out.iter().enumerate() {
        let sent = reassemble_out(std::slice::from_ref(f), 1500);
        assert_eq!(sent.eth_dst, OTHER_MAC);
        assert_eq!(sent.dst, IP3);
        assert_eq!(sent.payload, vec![i as u8; 10]);
    }
    assert_eq!(s.arp_held_frames(), 0);
    assert_eq!(s.arp_lookup(T0, IP3), Some(OTHER_MAC));
    assert_eq!(s.counters().drops.total(), 0);
}

#[test]
fn unsolicited_reply_does_not_overwrite_live_entry() {
    let mut s = learned_stack();
    let mut out = Vec::new();
    s.process_frame(T0 + ms(10), &arp_reply(OTHER_MAC, PEER_IP), &mut out);
    assert!(out.is_empty());
    assert_eq!(drops(&s, DropReason::ArpUnsolicitedIgnored), 1);
    assert_eq!(s.arp_lookup(T0 + ms(10), PEER_IP), Some(PEER_MAC));
}

#[test]
fn unsolicited_reply_not_targeting_us_is_not_learned() {
    let mut s = stack();
    let mut out = Vec::new();
    let frame = arp_frame(
        EthernetAddress::BROADCAST,
        OTHER_MAC,
        ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: OTHER_MAC,
            source_protocol_addr: IP3,
            target_hardware_addr: OTHER_MAC,
            target_protocol_addr: IP3,
        },
    );
    s.process_frame(T0, &frame, &mut out);
    assert_eq!(s.arp_cache_len(), 0);
    assert_eq!(drops(&s, DropReason::ArpNotForUs), 1);
}

#[test]
fn sender_claiming_our_ip_is_a_conflict_and_we_defend_at_most_every_10s() {
    let mut s = stack();
    let mut out = Vec::new();
    s.process_frame(T0, &arp_request(OTHER_MAC, OUR_IP, OUR_IP), &mut out);
    s.process_frame(T0 + ms(9_999), &arp_reply(OTHER_MAC, OUR_IP), &mut out);
    assert_eq!(drops(&s, DropReason::ArpConflict), 2);
    assert_eq!(s.arp_cache_len(), 0);
    // One announcement of our own binding, not one per conflict.
    assert_eq!(out.len(), 1);
    let (dst, ann) = parse_arp(&out[0]);
    assert_eq!(dst, EthernetAddress::BROADCAST);
    assert_eq!(
        (
            ann.source_hardware_addr,
            ann.source_protocol_addr,
            ann.target_protocol_addr
        ),
        (OUR_MAC, OUR_IP, OUR_IP)
    );
    s.process_frame(T0 + ms(10_000), &arp_reply(OTHER_MAC, OUR_IP), &mut out);
    assert_eq!(out.len(), 2);
}

#[test]
fn malformed_and_unsupported_arp_counted() {
    let mut s = stack();
    let mut out = Vec::new();
    let good = arp_request(PEER_MAC, PEER_IP, OUR_IP);
    s.process_frame(T0, &good[..good.len() - 1], &mut out);
    assert_eq!(drops(&s, DropReason::ArpMalformed), 1);
    let mut bad_htype = good.clone();
    bad_htype[ETHERNET_HEADER_LEN + 1] = 6;
    s.process_frame(T0, &bad_htype, &mut out);
    assert_eq!(drops(&s, DropReason::ArpUnsupported), 1);
    // A broadcast sender hardware address would poison the cache.
    let poison = arp_frame(
        EthernetAddress::BROADCAST,
        PEER_MAC,
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress::BROADCAST,
            source_protocol_addr: PEER_IP,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: OUR_IP,
        },
    );
    s.process_frame(T0, &poison, &mut out);
    assert_eq!(drops(&s, DropReason::ArpMalformed), 2);
    assert!(out.is_empty());
}

#[test]
fn ethernet_filtering_counts_each_reason() {
    let mut s = stack();
    let mut out = Vec::new();
    s.process_frame(T0, &[0u8; 13], &mut out);
    let req = arp_request(PEER_MAC, PEER_IP, OUR_IP);
    let mut other_dst = req.clone();
    other_dst[..6].copy_from_slice(&OTHER_MAC.0);
    s.process_frame(T0, &other_dst, &mut out);
    let mut mcast_src = req.clone();
    mcast_src[6] = 0x01;
    s.process_frame(T0, &mcast_src, &mut out);
    let mut ipv6 = req.clone();
    ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
    s.process_frame(T0, &ipv6, &mut out);
    assert!(out.is_empty());
    for r in [
        DropReason::EthTruncated,
        DropReason::EthNotForUs,
        DropReason::EthSourceMulticast,
        DropReason::EthUnknownType,
    ] {
        assert_eq!(drops(&s, r), 1, "{r}");
    }
    assert_eq!(s.counters().rx_frames, 4);
}

#[test]
fn off_link_destination_goes_via_gateway_or_has_no_route() {
    let mut s = stack();
    let mut out = Vec::new();
    let far = Ipv4Addr::new(198, 19, 5, 5);
    assert_eq!(
        s.send_ipv4(T0, far, IpProtocol::Udp, 4, |_| {}, &mut out),
        Err(DropReason::Ipv4NoRoute)
    );
    assert_eq!(drops(&s, DropReason::Ipv4NoRoute), 1);
    let gw = Ipv4Addr::new(198, 18, 0, 254);
    let mut c = config();
    c.gateway = Some(gw);
    let mut s = Stack::new(c);
    s.send_ipv4(T0, far, IpProtocol::Udp, 4, |_| {}, &mut out)
        .unwrap();
    let (_, req) = parse_arp(&out[0]);
    assert_eq!(req.target_protocol_addr, gw);
    out.clear();
    s.process_frame(T0, &arp_reply(OTHER_MAC, gw), &mut out);
    let sent = reassemble_out(&out, 1500);
    assert_eq!((sent.eth_dst, sent.dst), (OTHER_MAC, far));
}

#[test]
fn full_cache_counts_cache_full_but_still_answers() {
    let mut c = config();
    c.arp.cache_size = 1;
    let mut s = Stack::new(c);
    let mut out = Vec::new();
    s.process_frame(T0, &arp_request(PEER_MAC, PEER_IP, OUR_IP), &mut out);
    s.process_frame(T0, &arp_request(OTHER_MAC, IP3, OUR_IP), &mut out);
    assert_eq!(out.len(), 2, "both answered");
    assert_eq!(drops(&s, DropReason::ArpCacheFull), 1);
    assert_eq!(s.arp_cache_len(), 1);
}

#[test]
fn probe_and_off_link_requests_answered_but_not_learned() {
    let mut s = stack();
    let mut out = Vec::new();
    // RFC 5227 probe: sender address 0.0.0.0.
    s.process_frame(
        T0,
        &arp_request(PEER_MAC, Ipv4Addr::UNSPECIFIED, OUR_IP),
        &mut out,
    );
    s.process_frame(
        T0,
        &arp_request(OTHER_MAC, Ipv4Addr::new(203, 0, 113, 5), OUR_IP),
        &mut out,
    );
    assert_eq!(out.len(), 2);
    assert_eq!(s.arp_cache_len(), 0);
    assert_eq!(s.counters().drops.total(), 0);
}

#[test]
fn poll_at_tracks_the_earliest_timer() {
    let mut s = stack();
    let mut out = Vec::new();
    assert_eq!(s.poll_at(), None, "nothing armed");
    s.process_frame(T0, &arp_request(PEER_MAC, PEER_IP, OUR_IP), &mut out);
    // The cache sweep is due.
    assert!(s.poll_at().is_some_and(|t| t <= T0));
    s.poll(T0, &mut out);
    assert_eq!(s.poll_at(), Some(T0 + ms(1000)));
    // A pending resolution at T0 + 500 ms retries at T0 + 1500 ms.
    let ip3 = Ipv4Addr::new(198, 18, 0, 3);
    s.send_ipv4(T0 + ms(500), ip3, IpProtocol::Udp, 1, |_| {}, &mut out)
        .unwrap();
    assert_eq!(s.poll_at(), Some(T0 + ms(1000)));
    s.poll(T0 + ms(1000), &mut out);
    assert_eq!(s.poll_at(), Some(T0 + ms(1500)));
}

#[test]
fn reply_on_a_sibling_queue_releases_frames_held_by_this_worker() {
    // Worker A resolves IP3; the reply lands on worker B's queue.
    let (mut a, mut b) = (stack(), stack());
    let mut out = Vec::new();
    a.send_ipv4(T0, IP3, IpProtocol::Udp, 10, |buf| buf.fill(7), &mut out)
        .unwrap();
    out.clear();
    b.process_frame(T0 + ms(1), &arp_reply(OTHER_MAC, IP3), &mut out);
    let mut shared = Vec::new();
    b.drain_arp_shared(|ip, mac| shared.push((ip, mac)));
    assert_eq!(shared, vec![(IP3, OTHER_MAC)]);
    b.drain_arp_shared(|_, _| panic!("drained once"));
    for (ip, mac) in shared {
        a.learn_arp_from_sibling(T0 + ms(2), ip, mac, &mut out);
    }
    assert_eq!(out.len(), 1, "the held frame goes out");
    assert_eq!(reassemble_out(&out, 1500).eth_dst, OTHER_MAC);
    assert_eq!(a.arp_held_frames(), 0);
}

#[test]
fn sibling_news_never_overwrites_a_live_entry_unless_solicited() {
    let mut s = learned_stack();
    let mut out = Vec::new();
    s.learn_arp_from_sibling(T0 + ms(1), PEER_IP, OTHER_MAC, &mut out);
    assert_eq!(s.arp_lookup(T0 + ms(1), PEER_IP), Some(PEER_MAC));
    // Nor is a broadcast MAC or an off-link address ever learned.
    s.learn_arp_from_sibling(T0, IP3, EthernetAddress::BROADCAST, &mut out);
    s.learn_arp_from_sibling(T0, Ipv4Addr::new(203, 0, 113, 9), OTHER_MAC, &mut out);
    assert_eq!(s.arp_lookup(T0, IP3), None);
    assert_eq!(s.arp_cache_len(), 1);
}

#[test]
fn shared_queue_is_bounded() {
    let mut s = stack();
    let mut out = Vec::new();
    for i in 0..200u8 {
        let ip = Ipv4Addr::new(198, 18, 0, 10 + (i % 200));
        s.process_frame(T0, &arp_request(OTHER_MAC, ip, OUR_IP), &mut out);
    }
    let mut n = 0;
    s.drain_arp_shared(|_, _| n += 1);
    assert_eq!(n, crate::stack::net::ARP_SHARE_QUEUE);
}
