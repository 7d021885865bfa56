//! Output under a full transmit ring: TCP builds no segment the link
//! cannot take, resumes when room returns (nothing lost, nothing
//! retransmitted), and shares the room round-robin so one bulk flow cannot
//! keep another connection off the ring.

use super::recovery_tests::{parse, seg_from, PEER, SMSS, US};
use super::*;
use crate::testkit::{Limited, Segments};
use crate::wire::tcp::Control;

/// One passive connection, the peer at `port`.
struct Conn {
    id: ConnId,
    port: u16,
    isn: u32,
    /// Our data acknowledged so far (relative sequence).
    acked: u32,
}

/// The one listener (a listener is known by its port).
const LISTENER: ListenerId = ListenerId(80);

fn tcp(output_budget: u32) -> Tcp {
    let cfg = TcpConfig {
        mss: SMSS as u16,
        send_buffer: 1 << 20,
        timestamps: false,
        delayed_ack: None,
        output_budget,
        ..TcpConfig::default()
    };
    let mut tcp = Tcp::new(cfg, US, [3; 32], 9);
    assert_eq!(tcp.listen(80).unwrap(), LISTENER);
    tcp
}

fn open(tcp: &mut Tcp, now: Instant, port: u16) -> Conn {
    let mut out = Segments::new();
    let syn = seg_from(port, 0, 0, 65535, Control::Syn, &[]);
    tcp.on_segment(now, PEER, US, &syn, &mut out).unwrap();
    let isn = parse(&out[0].2).seq.0;
    let ack = seg_from(port, 1, isn.wrapping_add(1), 65535, Control::None, &[]);
    tcp.on_segment(now, PEER, US, &ack, &mut out).unwrap();
    let id = tcp.accept(LISTENER).unwrap();
    Conn {
        id,
        port,
        isn,
        acked: 1,
    }
}

fn write(tcp: &mut Tcp, c: &Conn, n: usize) {
    let data = vec![7u8; n];
    let mut off = 0;
    while off < n {
        off += tcp.send(c.id, &data[off..]).unwrap();
    }
}

/// The data segments to `port` among `out`: (relative seq, length).
fn data_to(out: &Segments, c: &Conn) -> Vec<(u32, usize)> {
    out.iter()
        .filter(|(_, dst, _)| dst.port() == c.port)
        .map(|(_, _, b)| parse(b))
        .filter(|r| !r.payload.is_empty())
        .map(|r| (r.seq.0.wrapping_sub(c.isn), r.payload.len()))
        .collect()
}

/// The peer acknowledges everything sent to it in `sent`, inline through
/// `link` (the segments that answer go there).
fn ack_all(
    tcp: &mut Tcp,
    now: Instant,
    c: &mut Conn,
    sent: &[(u32, usize)],
    link: &mut Limited<Segments>,
) {
    if let Some(&(seq, len)) = sent.iter().max() {
        c.acked = c.acked.max(seq + len as u32);
    }
    let b = seg_from(
        c.port,
        1,
        c.isn.wrapping_add(c.acked),
        65535,
        Control::None,
        &[],
    );
    let _ = tcp.on_segment(now, PEER, US, &b, link);
}

fn contiguous_from(start: u32, segs: &[(u32, usize)]) -> bool {
    let mut next = start;
    for &(seq, len) in segs {
        if seq != next || len != SMSS as usize {
            return false;
        }
        next += len as u32;
    }
    true
}

#[test]
fn established_bulk_output_stops_at_the_link_room_and_resumes_without_loss() {
    let now = Instant::from_secs(10);
    let mut tcp = tcp(64);
    let c = open(&mut tcp, now, 5000);
    write(&mut tcp, &c, 100_000);
    // The initial window is ten segments; the ring takes three per turn.
    let mut sent = Vec::new();
    for turn in 1..=4 {
        let mut link = Limited::new(Segments::new(), 3);
        tcp.poll(now, &mut link);
        assert_eq!(
            link.refused, 0,
            "turn {turn}: a segment was built for a full ring"
        );
        let got = data_to(&link.inner, &c);
        assert_eq!(
            got.len(),
            if turn < 4 { 3 } else { 1 },
            "turn {turn}: {got:?}"
        );
        sent.extend(got);
        // Waiting for room is "output due now", not a timer.
        let waiting = tcp.poll_at() == Some(Instant::ZERO);
        assert_eq!(waiting, turn < 4, "turn {turn}");
    }
    assert!(contiguous_from(1, &sent), "{sent:?}");
    assert_eq!(sent.len(), 10);
    assert_eq!(tcp.counters().retrans_segs, 0);
    assert_eq!(tcp.counters().output_link_full, 3);
    assert_eq!(
        tcp.counters().out_segs as usize,
        1 + sent.len(),
        "SYN-ACK + data"
    );
}

#[test]
fn established_ack_and_new_data_wait_while_the_ring_is_full() {
    let now = Instant::from_secs(10);
    let mut tcp = tcp(64);
    let mut c = open(&mut tcp, now, 5000);
    write(&mut tcp, &c, 100_000);
    let mut out = Segments::new();
    tcp.poll(now, &mut out);
    let first = data_to(&out, &c);
    assert_eq!(first.len(), 10);
    // The ACK of the initial window and a request from the peer arrive
    // with no room on the ring: nothing is built.
    let mut full = Limited::new(Segments::new(), 0);
    ack_all(&mut tcp, now, &mut c, &first, &mut full);
    let req = seg_from(
        5000,
        1,
        c.isn.wrapping_add(c.acked),
        65535,
        Control::None,
        &[1; 100],
    );
    let _ = tcp.on_segment(now, PEER, US, &req, &mut full);
    assert!(full.inner.is_empty());
    assert_eq!(full.refused, 0);
    assert_eq!(tcp.poll_at(), Some(Instant::ZERO));
    // Room again: the released data and the ACK of the request go out.
    let mut link = Limited::new(Segments::new(), 1000);
    tcp.poll(now, &mut link);
    let next = data_to(&link.inner, &c);
    assert!(next.len() > 10, "slow start after the ACK: {next:?}");
    assert!(contiguous_from(10 * SMSS + 1, &next), "{next:?}");
    let acked = link
        .inner
        .iter()
        .map(|(_, _, b)| parse(b).ack.unwrap().0)
        .max();
    assert_eq!(acked, Some(101), "the request is acknowledged");
    assert_eq!(tcp.counters().retrans_segs, 0);
}

#[test]
fn established_bulk_flow_cannot_keep_another_connection_off_a_full_ring() {
    let now = Instant::from_secs(10);
    // A share larger than the room: only the queue order keeps B served.
    let mut tcp = tcp(64);
    let mut a = open(&mut tcp, now, 5000);
    let b = open(&mut tcp, now, 5001);
    write(&mut tcp, &a, 1 << 20);
    let mut out = Segments::new();
    tcp.poll(now, &mut out);
    let mut a_sent = data_to(&out, &a);
    let mut b_served = None;
    for turn in 1..=10 {
        // Four frames complete per turn. A's peer ACKs all A sent (A's
        // window keeps growing); B's application answers in turn 1.
        let mut link = Limited::new(Segments::new(), 4);
        ack_all(&mut tcp, now, &mut a, &a_sent, &mut link);
        if turn == 1 {
            write(&mut tcp, &b, 500);
        }
        tcp.poll(now, &mut link);
        assert_eq!(link.refused, 0);
        a_sent = data_to(&link.inner, &a);
        if !data_to(&link.inner, &b).is_empty() && b_served.is_none() {
            b_served = Some(turn);
        }
        assert_eq!(
            link.inner.len(),
            4,
            "turn {turn}: the ring is used to the full"
        );
    }
    // A stalled on the ring ahead of B's write in turn 1, so A has the
    // first place in turn 2 and B the next; A's ACK-clocked data waits
    // behind B from then on.
    assert_eq!(b_served, Some(3));
}

#[test]
fn established_bulk_flows_share_each_round_by_their_budget() {
    let now = Instant::from_secs(10);
    let mut tcp = tcp(2);
    let a = open(&mut tcp, now, 5000);
    let b = open(&mut tcp, now, 5001);
    write(&mut tcp, &a, 100_000);
    write(&mut tcp, &b, 100_000);
    let (mut all_a, mut all_b) = (Vec::new(), Vec::new());
    for turn in 1..=5 {
        let mut link = Limited::new(Segments::new(), 4);
        tcp.poll(now, &mut link);
        let (sa, sb) = (data_to(&link.inner, &a), data_to(&link.inner, &b));
        assert_eq!((sa.len(), sb.len()), (2, 2), "turn {turn}");
        all_a.extend(sa);
        all_b.extend(sb);
    }
    // Each initial window, in order, without a loss.
    assert!(contiguous_from(1, &all_a) && contiguous_from(1, &all_b));
    assert_eq!((all_a.len(), all_b.len()), (10, 10));
}

#[test]
fn established_budget_never_idles_a_link_with_room() {
    let now = Instant::from_secs(10);
    let mut tcp = tcp(2);
    let a = open(&mut tcp, now, 5000);
    let b = open(&mut tcp, now, 5001);
    write(&mut tcp, &a, 100_000);
    write(&mut tcp, &b, 100_000);
    // Rounds of two segments each go on while the ring has room.
    let mut link = Limited::new(Segments::new(), 100);
    tcp.poll(now, &mut link);
    assert_eq!(data_to(&link.inner, &a).len(), 10);
    assert_eq!(data_to(&link.inner, &b).len(), 10);
    assert_ne!(tcp.poll_at(), Some(Instant::ZERO), "nothing left waiting");
}
