//! The timer queue under deadlines that keep moving: bounded, and timers
//! still fire at their real deadlines.

use std::time::Duration;

use super::recovery_tests::Harness;
use super::*;

fn harness() -> Harness {
    Harness::new(TcpConfig {
        delayed_ack: Some(Duration::from_millis(1)),
        max_conns: 4,
        ..TcpConfig::default()
    })
}

#[test]
fn timer_queue_stays_bounded_while_deadlines_move_and_timers_still_fire() {
    let mut h = harness();
    // A small bound so the rebuild is exercised (the real one is
    // 4 x max_conns).
    h.tcp.timers = timer_queue::TimerQueue::with_limit(8);
    let mut next = 1u32;
    let mut high = 0;
    // Each round arms the RTO, lowers the deadline for a delayed ACK, lets
    // that fire (re-arming the RTO: a stale duplicate) and cancels the
    // RTO with an ACK: about 100 stale entries (RTO / 2 ms) would be pending.
    for round in 0..500 {
        assert_eq!(h.write(10).len(), 1, "round {round}");
        h.peer_data(&[1; 10]);
        h.advance(Duration::from_millis(2));
        next += 10;
        h.ack(next);
        high = high.max(h.tcp.timers.len());
    }
    assert!(high <= 8 + 1, "queue grew to {high}");
    // The RTO of unacknowledged data still fires on time.
    assert_eq!(h.write(10), vec![(next, 10)]);
    let rto = h.info().rto;
    let resent = h.advance(rto + Duration::from_millis(1));
    assert_eq!(resent, vec![(next, 10)], "retransmitted after the RTO");
}

#[test]
fn entries_of_a_freed_connection_come_due_silently() {
    let mut h = harness();
    h.peer_data(&[1; 10]);
    // The delayed ACK's entry is in the queue; the connection goes away.
    h.tcp.abort(h.conn).unwrap();
    let mut out = Vec::new();
    h.tcp.poll(h.now, &mut out);
    assert!(h.tcp.connections().next().is_none());
    // Its entries (delayed ACK, the handshake's RTO) come due and are
    // dropped without sending anything.
    let mut out = Vec::new();
    while let Some(at) = h.tcp.poll_at() {
        assert!(at <= h.now + Duration::from_secs(2), "{at:?}");
        h.tcp.poll(at, &mut out);
    }
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(h.tcp.timers.len(), 0);
}
