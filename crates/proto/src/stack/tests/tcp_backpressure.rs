//! TCP through IPv4 onto a transmit ring with little room: the stack asks
//! the link for room before each segment, so nothing TCP sends is dropped
//! at a full ring (`tx_ring_full` stays 0) and the rest goes out on later
//! polls, while a UDP datagram meeting the same full ring is dropped and
//! counted, as a datagram may be.

use super::tcp_mtu::{ip_of, segment};
use super::*;
use crate::testkit::Limited;
use crate::wire::tcp::{Control, TcpPacket};

#[test]
fn tcp_waits_for_ring_room_and_udp_at_a_full_ring_is_dropped_and_counted() {
    let mut s = learned_stack();
    let l = s.tcp_mut().listen(80).unwrap();
    let mut out = Vec::new();
    s.process_frame(T0, &segment(1000, None, Control::Syn, &[]), &mut out);
    let isn = TcpPacket::new_checked(ip_of(&out[0]).payload())
        .unwrap()
        .seq_number()
        .0;
    let ack = Some(isn.wrapping_add(1));
    s.process_frame(T0, &segment(1001, ack, Control::None, &[]), &mut out);
    let c = s.tcp_mut().accept(l).unwrap();
    assert_eq!(s.tcp_mut().send(c, &[5u8; 30_000]).unwrap(), 30_000);
    let mut seqs = Vec::new();
    for turn in 0..10 {
        let mut ring = Limited::new(Vec::new(), 2);
        s.poll(T0 + ms(turn), &mut ring);
        assert_eq!(ring.refused, 0, "a frame was built for a full ring");
        for f in &ring.inner {
            let ip = ip_of(f);
            let p = TcpPacket::new_checked(ip.payload()).unwrap();
            seqs.push(p.seq_number().0.wrapping_sub(isn));
        }
        if turn == 0 {
            assert_eq!(ring.inner.len(), 2);
        }
    }
    // The initial window, ten segments, in order, each once (1448 bytes:
    // MSS 1460 less the timestamps option).
    let want: Vec<u32> = (0..10).map(|i| 1 + i * 1448).collect();
    assert_eq!(seqs, want);
    assert_eq!(drops(&s, DropReason::TxRingFull), 0);
    assert_eq!(s.tcp().counters().retrans_segs, 0);
    assert!(s.tcp().counters().output_link_full > 0);
    // A datagram has no one to wait for it: at a full ring it is dropped.
    let mut full = Limited::new(Vec::new(), 0);
    let dst = std::net::SocketAddrV4::new(PEER_IP, 9);
    assert_eq!(
        s.send_udp(T0, 1234, dst, b"x", &mut full),
        Err(DropReason::TxRingFull)
    );
    assert_eq!(drops(&s, DropReason::TxRingFull), 1);
}
