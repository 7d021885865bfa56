//! Flow control against the RFC text with a fake clock: delayed ACK,
//! Nagle, sender and receiver silly window syndrome avoidance, and the
//! Nagle + delayed ACK interaction between two stacks.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::recovery_tests::{parse, seg, Harness};
use super::*;
use crate::wire::tcp::Control;

type Sink = Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>;

fn acks(out: &Sink) -> Vec<(u32, u16)> {
    out.iter()
        .map(|(_, _, b)| parse(b))
        .filter(|r| r.payload.is_empty())
        .map(|r| (r.ack.map_or(0, |a| a.0), r.window_len))
        .collect()
}

fn delayed() -> Harness {
    Harness::new(TcpConfig {
        delayed_ack: Some(Duration::from_millis(40)),
        ..TcpConfig::default()
    })
}

#[test]
fn established_second_full_segment_is_acked_at_once() {
    let mut h = delayed();
    assert!(h.peer_data(&[1; 1000]).is_empty());
    let mut out = Sink::new();
    h.tcp.poll(h.now, &mut out);
    assert!(out.is_empty(), "first segment's ACK is delayed");
    let out = h.peer_data(&[2; 1000]);
    assert_eq!(acks(&out).len(), 1);
    assert_eq!(acks(&out)[0].0, 2001);
}

#[test]
fn established_lone_segment_is_acked_within_the_delay_bound() {
    let mut h = delayed();
    let start = h.now;
    assert!(h.peer_data(&[1; 100]).is_empty());
    let mut out = Sink::new();
    h.tcp.poll(h.now + Duration::from_millis(39), &mut out);
    assert!(out.is_empty());
    let at = h.tcp.poll_at().unwrap();
    assert_eq!(at, start + Duration::from_millis(40));
    h.tcp.poll(at, &mut out);
    assert_eq!(acks(&out), vec![(101, acks(&out)[0].1)]);
}

#[test]
fn established_out_of_order_segment_is_acked_immediately() {
    let mut h = delayed();
    h.peer_seq += 1000; // a hole
    let out = h.peer_data(&[1; 100]);
    assert_eq!(acks(&out).len(), 1, "immediate duplicate ACK");
    assert_eq!(acks(&out)[0].0, 1);
    // The segment filling the hole is acknowledged at once too.
    h.peer_seq = 1;
    let out = h.peer_data(&[2; 1000]);
    assert_eq!(acks(&out)[0].0, 1101);
}

#[test]
fn established_delayed_ack_off_acks_every_segment() {
    let mut h = Harness::new(TcpConfig {
        delayed_ack: None,
        ..TcpConfig::default()
    });
    assert_eq!(acks(&h.peer_data(&[1; 10])).len(), 1);
    assert_eq!(acks(&h.peer_data(&[1; 10])).len(), 1);
}

#[test]
fn established_nagle_holds_small_tail_until_ack() {
    let mut h = Harness::new(TcpConfig::default());
    let sent = h.write(1500);
    assert_eq!(sent, vec![(1, 1000)]);
    // More small writes coalesce behind the held tail.
    assert!(h.write(200).is_empty());
    assert_eq!(h.ack(1001), vec![(1001, 700)]);
}

#[test]
fn established_nodelay_sends_small_tail_at_once() {
    let mut h = Harness::new(TcpConfig::default());
    h.tcp.set_nodelay(h.conn, true).unwrap();
    assert_eq!(h.write(1500), vec![(1, 1000), (1001, 500)]);
    assert_eq!(h.write(10), vec![(1501, 10)]);
}

#[test]
fn established_sender_sws_waits_for_a_useful_window() {
    let mut h = Harness::new(TcpConfig::default());
    h.tcp.set_nodelay(h.conn, true).unwrap();
    // The peer's window was 65535 (max); now it offers 300 bytes.
    assert_eq!(h.write(5000).len(), 5);
    h.wnd = 300;
    assert!(h.ack(5001).is_empty());
    // 300 < Fs * max window and less than what is queued: no tinygram.
    let sent = h.write(1000);
    assert!(sent.is_empty(), "{sent:?}");
    h.wnd = 40000;
    assert_eq!(h.ack(5001), vec![(5001, 1000)]);
}

#[test]
fn established_receiver_sws_does_not_open_window_by_a_sliver() {
    let mut h = Harness::new(TcpConfig {
        recv_buffer: 4000,
        window_scaling: false,
        ..TcpConfig::default()
    });
    for _ in 0..4 {
        h.peer_data(&[1; 1000]);
    }
    let mut buf = [0u8; 4000];
    // The window is shut; the application reads 100 bytes.
    assert_eq!(h.tcp.recv(h.conn, &mut buf[..100]), Ok(100));
    let mut out = Sink::new();
    h.tcp.poll(h.now, &mut out);
    assert!(out.is_empty(), "no window update for 100 bytes");
    // A segment beyond the window is answered with the window still shut.
    let b = seg(h.peer_seq + 5000, h.isn + 1, 65535, Control::None, &[9]);
    let mut out = Sink::new();
    let r = h.tcp.on_segment(
        h.now,
        Ipv4Addr::new(198, 18, 0, 2),
        h.tcp.local_addr(),
        &b,
        &mut out,
    );
    assert!(!out.is_empty(), "{r:?}");
    assert_eq!(acks(&out)[0].1, 0);
    // Reading up to one MSS opens it by a full segment.
    assert_eq!(h.tcp.recv(h.conn, &mut buf[..900]), Ok(900));
    let mut out = Sink::new();
    h.tcp.poll(h.now, &mut out);
    assert_eq!(acks(&out), vec![(4001, 1000)]);
}

/// Two stacks back to back, delivering at once; returns when quiet.
fn exchange(a: &mut Tcp, b: &mut Tcp, now: Instant, log: &mut Vec<(Instant, bool, usize)>) {
    let (ia, ib) = (a.local_addr(), b.local_addr());
    let mut ab = Sink::new();
    let mut ba = Sink::new();
    a.poll(now, &mut ab);
    b.poll(now, &mut ba);
    while !ab.is_empty() || !ba.is_empty() {
        let (mut ab2, mut ba2) = (Sink::new(), Sink::new());
        for (_, _, s) in ab.drain(..) {
            log.push((now, true, parse_len(&s, ia, ib)));
            let _ = b.on_segment(now, ia, ib, &s, &mut ba2);
        }
        for (_, _, s) in ba.drain(..) {
            log.push((now, false, parse_len(&s, ib, ia)));
            let _ = a.on_segment(now, ib, ia, &s, &mut ab2);
        }
        a.poll(now, &mut ab2);
        b.poll(now, &mut ba2);
        ab = ab2;
        ba = ba2;
    }
}

fn parse_len(s: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> usize {
    let p = crate::wire::tcp::TcpPacket::new_checked(s).unwrap();
    crate::wire::tcp::TcpRepr::parse(&p, src, dst)
        .unwrap()
        .payload
        .len()
}

#[test]
fn established_nagle_and_delayed_ack_stall_is_bounded_by_the_ack_delay() {
    let a_ip = Ipv4Addr::new(198, 18, 0, 2);
    let b_ip = Ipv4Addr::new(198, 18, 0, 1);
    let cfg = TcpConfig {
        delayed_ack: Some(Duration::from_millis(40)),
        ..TcpConfig::default()
    };
    let mut a = Tcp::new(cfg.clone(), a_ip, [1; 32], 1);
    let mut b = Tcp::new(cfg, b_ip, [2; 32], 2);
    let l = b.listen(80).unwrap();
    let mut now = Instant::from_secs(1);
    let mut log = Vec::new();
    let mut out = Sink::new();
    let c = a
        .connect(now, SocketAddrV4::new(b_ip, 80), &mut out)
        .unwrap();
    let mut synack = Sink::new();
    for (_, _, s) in out {
        let _ = b.on_segment(now, a_ip, b_ip, &s, &mut synack);
    }
    let mut third = Sink::new();
    for (_, _, s) in synack {
        let _ = a.on_segment(now, b_ip, a_ip, &s, &mut third);
    }
    for (_, _, s) in third {
        let _ = b.on_segment(now, a_ip, b_ip, &s, &mut Sink::new());
    }
    exchange(&mut a, &mut b, now, &mut log);
    let mss = a.connections().next().unwrap().mss as usize;
    assert!(b.accept(l).is_some());
    // A full segment and a small tail: the tail waits for the ACK of the
    // first, which the receiver delays: the classic stall, 40 ms here.
    a.send(c, &vec![5u8; mss - 12 + 100]).unwrap();
    log.clear();
    exchange(&mut a, &mut b, now, &mut log);
    let data: Vec<_> = log.iter().filter(|e| e.1 && e.2 > 0).collect();
    assert_eq!(data.len(), 1, "{log:?}");
    let t0 = now;
    while let Some(t) = [a.poll_at(), b.poll_at()].into_iter().flatten().min() {
        if t > t0 + Duration::from_secs(1) {
            break;
        }
        now = t;
        exchange(&mut a, &mut b, now, &mut log);
        if log.iter().filter(|e| e.1 && e.2 > 0).count() == 2 {
            break;
        }
    }
    let tail = log.iter().filter(|e| e.1 && e.2 > 0).nth(1).unwrap();
    assert_eq!(tail.2, 100);
    assert_eq!(tail.0 - t0, Duration::from_millis(40));
}

#[test]
fn established_zero_window_is_probed_with_backoff_then_cut_off() {
    let mut h = Harness::new(TcpConfig {
        max_retries: 4,
        ..TcpConfig::default()
    });
    // The peer shuts its window before we have anything to send.
    h.wnd = 0;
    h.ack(1);
    let start = h.now;
    assert!(h.write(100).is_empty(), "nothing into a zero window");
    // Zero-length probes at SND.UNA-1, each RTO doubled (1 s initial):
    // 1, 2, 4, 8 s.
    let mut at = Vec::new();
    for _ in 0..4 {
        let t = h.tcp.poll_at().unwrap();
        h.now = t;
        let mut out = Sink::new();
        h.tcp.poll(h.now, &mut out);
        let sent: Vec<(u32, usize)> = out
            .iter()
            .map(|(_, _, b)| parse(b))
            .map(|r| (r.seq.0.wrapping_sub(h.isn), r.payload.len()))
            .collect();
        assert_eq!(sent, vec![(0, 0)], "a zero-length probe at SND.UNA-1");
        at.push((t - start).as_secs());
        // The peer answers each probe, still with a zero window.
        h.ack(1);
    }
    assert_eq!(at, vec![1, 3, 7, 15]);
    // A window closed for good is not kept forever (sockstress): after
    // max_retries probes the connection is dropped.
    let t = h.tcp.poll_at().unwrap();
    assert_eq!((t - start).as_secs(), 31);
    h.now = t;
    h.poll();
    assert_eq!(h.tcp.state(h.conn), Some(State::Closed));
    assert_eq!(h.tcp.recv(h.conn, &mut [0; 4]), Err(TcpApiError::TimedOut));
}

#[test]
fn established_old_timestamp_is_dropped_by_paws_and_acked() {
    let mut h = Harness::with(TcpConfig::default());
    let mk = |tsval: u32, seq: u32, isn: u32| {
        let mut r = output::bare_repr(
            SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 5000),
            SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 80),
        );
        r.seq = SeqNumber(seq);
        r.ack = Some(SeqNumber(isn.wrapping_add(1)));
        r.window_len = 65535;
        r.timestamp = Some((tsval, 0));
        r.payload = b"abcd";
        let mut b = vec![0; r.buffer_len()];
        r.emit(
            &mut crate::wire::tcp::TcpPacket::new_unchecked(&mut b[..]),
            Ipv4Addr::new(198, 18, 0, 2),
            Ipv4Addr::new(198, 18, 0, 1),
        );
        b
    };
    let (peer, us) = (Ipv4Addr::new(198, 18, 0, 2), h.tcp.local_addr());
    let mut out = Sink::new();
    h.tcp
        .on_segment(h.now, peer, us, &mk(1000, 1, h.isn), &mut out)
        .unwrap();
    // TSval went backwards: RFC 7323 5.3 drops it and answers with an ACK.
    let mut out = Sink::new();
    let r = h
        .tcp
        .on_segment(h.now, peer, us, &mk(999, 5, h.isn), &mut out);
    assert_eq!(r, Err(DropReason::TcpPawsRejected));
    assert_eq!(acks(&out).len(), 1);
    assert_eq!(acks(&out)[0].0, 5, "RCV.NXT did not move");
    let mut buf = [0u8; 16];
    assert_eq!(h.tcp.recv(h.conn, &mut buf), Ok(4));
}
