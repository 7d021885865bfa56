//! TCP through IPv4: every segment fits the MTU with all its options (SACK
//! blocks and timestamps included) and goes out as one atomic datagram with
//! DF set, never as fragments.

use super::*;
use crate::wire::tcp::{Control, SeqNumber, TcpPacket, TcpRepr};

pub(super) fn segment(seq: u32, ack: Option<u32>, control: Control, payload: &[u8]) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: SeqNumber(seq),
        ack: ack.map(SeqNumber),
        control,
        psh: false,
        window_len: 65535,
        mss: (control == Control::Syn).then_some(1460),
        window_scale: None,
        sack_permitted: control == Control::Syn,
        sack_ranges: [None; 4],
        timestamp: Some((1000, 0)),
        payload,
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), PEER_IP, OUR_IP);
    Ip::new(IpProtocol::Tcp).frame(&b)
}

pub(super) fn ip_of(frame: &[u8]) -> Ipv4Packet<&[u8]> {
    Ipv4Packet::new_checked(&frame[ETHERNET_HEADER_LEN..]).unwrap()
}

#[test]
fn tcp_data_with_sack_blocks_is_never_fragmented_and_carries_df() {
    let mut s = learned_stack();
    let l = s.tcp_mut().listen(80).unwrap();
    let mut out = Vec::new();
    s.process_frame(T0, &segment(1000, None, Control::Syn, &[]), &mut out);
    let synack = ip_of(&out[0]).payload().to_vec();
    let isn = TcpPacket::new_checked(&synack[..]).unwrap().seq_number().0;
    let mut out = Vec::new();
    let ack = Some(isn.wrapping_add(1));
    s.process_frame(T0, &segment(1001, ack, Control::None, &[]), &mut out);
    let c = s.tcp_mut().accept(l).unwrap();
    // Out-of-order data from the peer (holes at 1001 and 1301): every
    // segment we send now carries SACK blocks next to the timestamps.
    for seq in [1101, 1401, 1701] {
        s.process_frame(T0, &segment(seq, ack, Control::None, &[7; 100]), &mut out);
    }
    let data = vec![5u8; 30_000];
    assert_eq!(s.tcp_mut().send(c, &data).unwrap(), data.len());
    let mut sent = 0usize;
    let mut batch = Vec::new();
    s.poll(T0, &mut batch);
    while !batch.is_empty() {
        for f in &batch {
            sent += TcpPacket::new_checked(ip_of(f).payload())
                .unwrap()
                .payload()
                .len();
        }
        out.append(&mut batch);
        // Acknowledge what went out so the window keeps moving.
        let una = Some(isn.wrapping_add(1).wrapping_add(sent as u32));
        s.process_frame(T0, &segment(1001, una, Control::None, &[]), &mut batch);
        s.poll(T0, &mut batch);
    }
    let mut carried = 0;
    let mut with_sack = 0;
    for f in &out {
        let ip = ip_of(f);
        assert_eq!(ip.protocol(), IpProtocol::Tcp);
        assert!(ip.dont_frag(), "DF on every TCP segment");
        assert!(!ip.more_frags() && ip.frag_offset() == 0, "not a fragment");
        assert!(
            usize::from(ip.total_len()) <= 1500,
            "{} over the MTU",
            ip.total_len()
        );
        let p = TcpPacket::new_checked(ip.payload()).unwrap();
        let r = TcpRepr::parse(&p, OUR_IP, PEER_IP).unwrap();
        if !r.payload.is_empty() && r.sack_ranges[0].is_some() {
            with_sack += 1;
        }
        carried += r.payload.len();
    }
    assert!(
        with_sack > 20,
        "data segments carried SACK blocks: {with_sack}"
    );
    assert!(carried >= data.len());
    assert_eq!(s.counters().ipv4_fragments_tx, 0);
}
