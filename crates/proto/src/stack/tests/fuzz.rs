use super::*;
use proptest::prelude::*;

/// Valid frames of every kind, for mutation.
fn templates() -> Vec<Vec<u8>> {
    let ip = Ip::new(IpProtocol::Icmp);
    let msg = echo_request(&[9u8; 3000]);
    let mut t = vec![
        arp_request(PEER_MAC, PEER_IP, OUR_IP),
        arp_reply(PEER_MAC, PEER_IP),
        ip.frame(&echo_request(b"ping")),
        Ip::new(IpProtocol::Udp).frame(&udp_bytes(PEER_IP, OUR_IP, 1, 7, b"echo")),
        Ip::new(IpProtocol::Udp).frame(&udp_bytes(PEER_IP, OUR_IP, 1, 9, b"closed")),
        Ip::new(IpProtocol::Unknown(99)).frame(b"what"),
    ];
    t.extend(ip.fragments(&msg, 1480));
    t
}

fn check_bounds(s: &Stack) -> std::result::Result<(), TestCaseError> {
    prop_assert!(s.reassembly_in_use() <= 4);
    prop_assert!(s.arp_cache_len() <= 1024);
    prop_assert!(s.arp_held_frames() <= 32 * 4);
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_frames_never_panic_and_pools_stay_bounded(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1600), 1..20),
        steps in proptest::collection::vec(0u64..40_000, 20),
    ) {
        let mut s = learned_stack();
        s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
        let mut out = Vec::new();
        let mut now = T0;
        let rx_before = s.counters().rx_frames;
        for (i, f) in frames.iter().enumerate() {
            now += ms(steps[i % steps.len()]);
            s.process_frame(now, f, &mut out);
            s.poll(now, &mut out);
            check_bounds(&s)?;
        }
        prop_assert_eq!(s.counters().rx_frames - rx_before, frames.len() as u64);
    }

    #[test]
    fn mutated_valid_frames_never_panic_and_pools_stay_bounded(
        picks in proptest::collection::vec(
            (0usize..64, proptest::collection::vec((0usize..1600, any::<u8>()), 0..4), 0usize..1600),
            1..40,
        ),
    ) {
        let t = templates();
        let mut s = learned_stack();
        s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
        let mut out = Vec::new();
        let mut now = T0;
        for (which, flips, cut) in picks {
            let mut f = t[which % t.len()].clone();
            for (at, v) in flips {
                if !f.is_empty() {
                    let n = f.len();
                    f[at % n] = v;
                }
            }
            if cut < f.len() && cut % 3 == 0 {
                f.truncate(cut);
            }
            now += ms(700);
            s.process_frame(now, &f, &mut out);
            s.poll(now, &mut out);
            check_bounds(&s)?;
            // Every frame we send is well formed.
            for o in out.drain(..) {
                let eth = EthernetFrame::new_checked(&o[..]).unwrap();
                if eth.ethertype() == EtherType::Ipv4 {
                    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
                    prop_assert!(ip.verify_checksum());
                    prop_assert!(ip.total_len() as usize <= 1500);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ping_fragments_in_any_order_get_the_same_reply(
        len in 0usize..9000,
        chunk8 in 1usize..186,
        keys in proptest::collection::vec(any::<u32>(), 64),
    ) {
        let d: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
        let msg = echo_request(&d);
        // At most MAX_PIECES fragments: more could leave more disjoint
        // pieces than reassembly tolerates, which is policy, not a bug.
        let chunk8 = chunk8.max(msg.len().div_ceil(8 * ipv4_frag::MAX_PIECES));
        let mut frags = Ip::new(IpProtocol::Icmp).fragments(&msg, chunk8 * 8);
        for i in (1..frags.len()).rev() {
            let j = keys[i % keys.len()] as usize % (i + 1);
            frags.swap(i, j);
        }
        let mut s = learned_stack();
        let mut out = Vec::new();
        for f in &frags {
            s.process_frame(T0, f, &mut out);
        }
        let sent = reassemble_out(&out, 1500);
        let reply = IcmpRepr::parse(&IcmpPacket::new_checked(&sent.payload[..]).unwrap()).unwrap();
        prop_assert_eq!(reply, IcmpRepr::EchoReply { ident: 0xbeef, seq_no: 7, data: &d });
        prop_assert_eq!(s.reassembly_in_use(), 0);
        prop_assert_eq!(s.counters().drops.total(), 0);
    }
}
