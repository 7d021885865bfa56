//! Unit tests of the TCP layer through its public API, with a fake clock.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::*;
use crate::wire::tcp::{Control, TcpPacket, TcpRepr};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

type Sink = Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>;

fn parse(seg: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> TcpRepr<'_> {
    let p = TcpPacket::new_checked(seg).unwrap();
    TcpRepr::parse(&p, src, dst).unwrap()
}

fn syn(src_port: u16, dst_port: u16, seq: u32, mss: Option<u16>, ws: Option<u8>) -> Vec<u8> {
    let mut r = output::bare_repr(
        SocketAddrV4::new(A, src_port),
        SocketAddrV4::new(B, dst_port),
    );
    r.seq = SeqNumber(seq);
    r.control = Control::Syn;
    r.window_len = 65535;
    r.mss = mss;
    r.window_scale = ws;
    let mut b = vec![0; r.buffer_len()];
    r.emit(&mut TcpPacket::new_unchecked(&mut b[..]), A, B);
    b
}

fn ack(src_port: u16, dst_port: u16, seq: u32, ackn: u32) -> Vec<u8> {
    let mut r = output::bare_repr(
        SocketAddrV4::new(A, src_port),
        SocketAddrV4::new(B, dst_port),
    );
    r.seq = SeqNumber(seq);
    r.ack = Some(SeqNumber(ackn));
    r.window_len = 65535;
    let mut b = vec![0; r.buffer_len()];
    r.emit(&mut TcpPacket::new_unchecked(&mut b[..]), A, B);
    b
}

fn server(cfg: TcpConfig) -> Tcp {
    Tcp::new(cfg, B, [9; 32], 3)
}

/// Move segments between two stacks until both are quiet; the apps run in `app`.
fn shuttle(
    a: &mut Tcp,
    b: &mut Tcp,
    now: &mut Instant,
    mut pending_ab: Sink,
    mut app: impl FnMut(&mut Tcp, &mut Tcp) -> bool,
) {
    for _ in 0..100_000 {
        let busy = app(a, b);
        let (mut ab, mut ba) = (std::mem::take(&mut pending_ab), Sink::new());
        a.poll(*now, &mut ab);
        b.poll(*now, &mut ba);
        let quiet = ab.is_empty() && ba.is_empty();
        while !ab.is_empty() || !ba.is_empty() {
            let (mut ab2, mut ba2) = (Sink::new(), Sink::new());
            for (_, _, s) in ab.drain(..) {
                let _ = b.on_segment(*now, A, B, &s, &mut ba2);
            }
            for (_, _, s) in ba.drain(..) {
                let _ = a.on_segment(*now, B, A, &s, &mut ab2);
            }
            ab = ab2;
            ba = ba2;
        }
        *now += Duration::from_micros(50);
        if quiet && !busy {
            return;
        }
    }
    panic!("no quiescence");
}

#[test]
fn connection_across_sequence_wrap_moves_data_both_ways() {
    let start = Instant::from_secs(10);
    let remote = SocketAddrV4::new(B, 80);
    // Learn the ephemeral port this seed picks, then choose a clock reading
    // that puts the client's ISN 3000 bytes below 2^32.
    let probe_port = {
        let mut t = Tcp::new(TcpConfig::default(), A, [5; 32], 11);
        let mut s = Sink::new();
        t.connect(start, remote, &mut s).unwrap();
        s[0].0.port()
    };
    let mut key = [0u8; 16];
    key.copy_from_slice(&[5u8; 32][..16]);
    let local = SocketAddrV4::new(A, probe_port);
    let h = syncookies::isn(&key, Instant::ZERO, local, remote).0;
    let m = (u32::MAX - 3000).wrapping_sub(h);
    let mut now = Instant::from_micros(u64::from(m) * 4);
    let mut a = Tcp::new(TcpConfig::default(), A, [5; 32], 11);
    let mut b = server(TcpConfig::default());
    let l = b.listen(80).unwrap();
    let mut s = Sink::new();
    let c = a.connect(now, remote, &mut s).unwrap();
    let isn = parse(&s[0].2, A, B).seq;
    assert_eq!(isn.0, u32::MAX - 3000);
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got, mut back, mut sc) = (0, Vec::new(), Vec::new(), None);
    let mut buf = [0u8; 4096];
    shuttle(&mut a, &mut b, &mut now, s, |a, b| {
        let mut busy = false;
        if sc.is_none() {
            sc = b.accept(l);
        }
        if sent < data.len() {
            if let Ok(n) = a.send(c, &data[sent..]) {
                sent += n;
                busy = true;
            }
        }
        if let Some(sc) = sc {
            while let Ok(n) = b.recv(sc, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let _ = b.send(sc, &buf[..n.min(b.send_capacity(sc))]);
                busy = true;
            }
        }
        while let Ok(n) = a.recv(c, &mut buf) {
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
            busy = true;
        }
        busy || sent < data.len()
    });
    assert!(got == data, "server got {} of {}", got.len(), data.len());
    assert!(back == data, "echo back {} of {}", back.len(), data.len());
    let info = a.connections().next().unwrap();
    assert!(
        info.snd_nxt < 100_000,
        "sequence space wrapped: {}",
        info.snd_nxt
    );
    assert_eq!(info.retransmits, 0);
}

#[test]
fn land_segment_from_own_address_is_dropped() {
    let mut t = server(TcpConfig::default());
    t.listen(80).unwrap();
    let mut r = output::bare_repr(SocketAddrV4::new(B, 80), SocketAddrV4::new(B, 80));
    r.control = Control::Syn;
    let mut b = vec![0; r.buffer_len()];
    r.emit(&mut TcpPacket::new_unchecked(&mut b[..]), B, B);
    let mut out = Sink::new();
    assert_eq!(
        t.on_segment(Instant::ZERO, B, B, &b, &mut out),
        Err(DropReason::TcpLand)
    );
    assert!(out.is_empty());
}

#[test]
fn bad_checksum_and_truncation_are_dropped_with_reasons() {
    let mut t = server(TcpConfig::default());
    t.listen(80).unwrap();
    let mut s = syn(4000, 80, 1, Some(1460), None);
    let mut out = Sink::new();
    assert_eq!(
        t.on_segment(Instant::ZERO, A, B, &s[..10], &mut out),
        Err(DropReason::TcpTruncated)
    );
    s[4] ^= 1;
    assert_eq!(
        t.on_segment(Instant::ZERO, A, B, &s, &mut out),
        Err(DropReason::TcpBadChecksum)
    );
    assert!(out.is_empty());
}

#[test]
fn syn_peer_mss_zero_and_tiny_are_floored_and_wscale_capped() {
    let mut t = server(TcpConfig::default());
    t.listen(80).unwrap();
    let mut out = Sink::new();
    t.on_segment(
        Instant::ZERO,
        A,
        B,
        &syn(1, 80, 0, Some(0), Some(20)),
        &mut out,
    )
    .unwrap();
    t.on_segment(
        Instant::ZERO,
        A,
        B,
        &syn(2, 80, 0, Some(100), None),
        &mut out,
    )
    .unwrap();
    let infos: Vec<_> = t.connections().collect();
    assert_eq!(infos.len(), 2);
    for i in &infos {
        assert_eq!(i.mss, 536);
    }
    let ws: Vec<u8> = infos.iter().map(|i| i.snd_wscale).collect();
    assert!(ws.contains(&14) && ws.contains(&0));
}

#[test]
fn conn_table_full_drops_syn_without_cookie_and_existing_connections_survive() {
    let cfg = TcpConfig {
        max_conns: 2,
        ..TcpConfig::default()
    };
    let mut t = server(cfg);
    let l = t.listen(80).unwrap();
    let now = Instant::from_secs(100);
    let mut out = Sink::new();
    t.on_segment(now, A, B, &syn(1, 80, 0, Some(1460), None), &mut out)
        .unwrap();
    let synack = parse(&out[0].2, B, A);
    t.on_segment(now, A, B, &ack(1, 80, 1, synack.seq.0 + 1), &mut out)
        .unwrap();
    let first = t.accept(l).unwrap();
    t.on_segment(now, A, B, &syn(2, 80, 0, Some(1460), None), &mut out)
        .unwrap();
    out.clear();
    // Table full: a cookie would promise a connection there is no slot
    // for (its ACK dropped, the client's next segment reset), so the SYN
    // is dropped and the client's retransmission tries again.
    assert_eq!(
        t.on_segment(now, A, B, &syn(3, 80, 500, Some(1460), None), &mut out),
        Err(DropReason::TcpConnTableFull)
    );
    assert!(out.is_empty(), "no SYN-ACK: {out:?}");
    assert_eq!(t.counters().syncookies_sent, 0);
    assert_eq!(t.connections().count(), 2);
    assert_eq!(t.state(first), Some(State::Established));
    // Once a slot frees, the retransmitted SYN is answered.
    // (The RST goes out at the next poll, which frees the slot.)
    t.abort(first).unwrap();
    t.poll(now, &mut out);
    out.clear();
    t.on_segment(now, A, B, &syn(3, 80, 500, Some(1460), None), &mut out)
        .unwrap();
    assert_eq!(parse(&out[0].2, B, A).control, Control::Syn);
}

#[test]
fn accept_queue_full_drops_new_syns() {
    let cfg = TcpConfig {
        accept_queue: 1,
        ..TcpConfig::default()
    };
    let mut t = server(cfg);
    t.listen(80).unwrap();
    let now = Instant::from_secs(1);
    let mut out = Sink::new();
    t.on_segment(now, A, B, &syn(1, 80, 0, None, None), &mut out)
        .unwrap();
    let sa = parse(&out[0].2, B, A).seq;
    t.on_segment(now, A, B, &ack(1, 80, 1, sa.0 + 1), &mut out)
        .unwrap();
    out.clear();
    assert_eq!(
        t.on_segment(now, A, B, &syn(2, 80, 0, None, None), &mut out),
        Err(DropReason::TcpAcceptQueueFull)
    );
    assert!(out.is_empty());
    assert_eq!(t.counters().listen_drops, 1);
}

#[test]
fn stale_handle_after_close_is_rejected() {
    let mut t = Tcp::new(TcpConfig::default(), A, [1; 32], 1);
    let mut out = Sink::new();
    let c = t
        .connect(Instant::ZERO, SocketAddrV4::new(B, 80), &mut out)
        .unwrap();
    t.close(c).unwrap();
    assert_eq!(t.state(c), None);
    assert_eq!(t.send(c, b"x"), Err(TcpApiError::InvalidHandle));
    let c2 = t
        .connect(Instant::ZERO, SocketAddrV4::new(B, 80), &mut out)
        .unwrap();
    assert_ne!(c, c2);
    assert_eq!(t.state(c), None);
    assert_eq!(t.state(c2), Some(State::SynSent));
}

#[test]
fn ephemeral_ports_are_in_range_distinct_and_seed_dependent() {
    let mut ports = Vec::new();
    let mut t = Tcp::new(TcpConfig::default(), A, [1; 32], 1);
    let mut out = Sink::new();
    for _ in 0..50 {
        t.connect(Instant::ZERO, SocketAddrV4::new(B, 80), &mut out)
            .unwrap();
    }
    for (src, _, _) in &out {
        assert!(src.port() >= 49152);
        ports.push(src.port());
    }
    let mut d = ports.clone();
    d.sort();
    d.dedup();
    assert_eq!(d.len(), 50);
    let mut t2 = Tcp::new(TcpConfig::default(), A, [1; 32], 2);
    let mut out2 = Sink::new();
    t2.connect(Instant::ZERO, SocketAddrV4::new(B, 80), &mut out2)
        .unwrap();
    assert_ne!(out2[0].0.port(), ports[0]);
}

#[test]
fn connect_to_self_or_broadcast_is_refused() {
    let mut t = Tcp::new(TcpConfig::default(), A, [1; 32], 1);
    let mut out = Sink::new();
    for bad in [
        SocketAddrV4::new(A, 80),
        SocketAddrV4::new(Ipv4Addr::BROADCAST, 80),
        SocketAddrV4::new(B, 0),
    ] {
        assert_eq!(
            t.connect(Instant::ZERO, bad, &mut out),
            Err(TcpApiError::InvalidAddress)
        );
    }
}

#[test]
fn idle_stack_has_no_deadline() {
    let mut t = server(TcpConfig::default());
    t.listen(80).unwrap();
    assert_eq!(t.poll_at(), None);
    let mut out = Sink::new();
    t.on_segment(Instant::ZERO, A, B, &syn(1, 80, 0, None, None), &mut out)
        .unwrap();
    // SYN-ACK retransmission timer at the initial RTO.
    assert_eq!(t.poll_at(), Some(Instant::from_secs(1)));
}

#[test]
fn listen_twice_on_a_port_is_addr_in_use() {
    let mut t = server(TcpConfig::default());
    t.listen(80).unwrap();
    assert_eq!(t.listen(80), Err(TcpApiError::AddrInUse));
    assert_eq!(t.listen(0), Err(TcpApiError::InvalidAddress));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// A well-formed (checksummed) segment with arbitrary fields, so the
    /// state machine, not the parser, sees the garbage.
    fn segment(
        port: u16,
        seq: u32,
        ackn: u32,
        flags: u16,
        win: u16,
        opts: &[u8],
        payload: &[u8],
    ) -> Vec<u8> {
        let mut o = opts.to_vec();
        o.truncate(40);
        while o.len() % 4 != 0 {
            o.push(0);
        }
        let hl = 20 + o.len();
        let mut b = vec![0u8; hl + payload.len()];
        let mut p = TcpPacket::new_unchecked(&mut b[..]);
        p.set_src_port(port);
        p.set_dst_port(80);
        p.set_seq_number(SeqNumber(seq));
        p.set_ack_number(SeqNumber(ackn));
        p.set_header_len_and_flags(hl, flags);
        p.set_window_len(win);
        p.options_mut().copy_from_slice(&o);
        p.payload_mut().copy_from_slice(payload);
        p.fill_checksum(A, B);
        b
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn random_segments_and_calls_never_panic(
            events in proptest::collection::vec(
                (
                    0u8..8,
                    any::<(u32, u32, u16, u16)>(),
                    proptest::collection::vec(any::<u8>(), 0..12),
                    proptest::collection::vec(any::<u8>(), 0..40),
                    0u64..3000,
                ),
                1..60,
            )
        ) {
            let cfg = TcpConfig {
                syn_queue: 2,
                accept_queue: 2,
                max_conns: 4,
                send_buffer: 256,
                recv_buffer: 256,
                keepalive: Some(config::KeepaliveConfig {
                    idle: Duration::from_secs(1),
                    interval: Duration::from_secs(1),
                    count: 2,
                }),
                ..TcpConfig::default()
            };
            let mut t = server(cfg);
            let l = t.listen(80).unwrap();
            let mut now = Instant::from_secs(1);
            let mut out = Sink::new();
            let mut conns = Vec::new();
            // Real handshakes keep some connections synchronized.
            for port in [1000u16, 1001] {
                t.on_segment(now, A, B, &syn(port, 80, 7, Some(1460), Some(3)), &mut out).unwrap();
                let sa = parse(&out.last().unwrap().2, B, A).seq;
                let _ = t.on_segment(now, A, B, &ack(port, 80, 8, sa.0 + 1), &mut out);
            }
            for (kind, (seq, ackn, flags, win), opts, payload, dt) in events {
                now += Duration::from_millis(dt);
                match kind {
                    0..=4 => {
                        let port = 1000 + u16::from(kind % 3);
                        let seg = segment(port, seq % 4096, ackn, flags & 0x1ff, win, &opts, &payload);
                        let _ = t.on_segment(now, A, B, &seg, &mut out);
                    }
                    5 => {
                        if let Some(c) = t.accept(l) {
                            conns.push(c);
                        }
                        for &c in &conns {
                            let _ = t.send(c, &payload);
                            let _ = t.recv(c, &mut [0u8; 64]);
                            let _ = t.readiness(c);
                        }
                    }
                    6 => {
                        if let Some(c) = conns.pop() {
                            let _ = match flags % 3 {
                                0 => t.close(c),
                                1 => t.shutdown_write(c),
                                _ => t.abort(c),
                            };
                        }
                    }
                    _ => {
                        let _ = t.connect(now, SocketAddrV4::new(A, 80 + (win % 3)), &mut out);
                    }
                }
                t.poll(now, &mut out);
                if let Some(at) = t.poll_at() {
                    if at > now && at - now < Duration::from_secs(5) {
                        now = at;
                        t.poll(now, &mut out);
                    }
                }
                prop_assert!(t.connections().count() <= 4);
            }
            for (_, _, seg) in &out {
                let p = TcpPacket::new_checked(&seg[..]).unwrap();
                prop_assert!(TcpRepr::parse(&p, B, A).is_ok(), "we emitted an invalid segment");
            }
        }
    }
}

#[test]
fn freed_connection_buffers_are_recycled_not_reallocated() {
    let mut t = Tcp::new(TcpConfig::default(), A, [1; 32], 1);
    let mut out = Sink::new();
    let c = t
        .connect(Instant::ZERO, SocketAddrV4::new(B, 80), &mut out)
        .unwrap();
    assert_eq!(t.spare.len(), 0);
    t.close(c).unwrap();
    assert_eq!(t.spare.len(), 1);
    t.connect(Instant::ZERO, SocketAddrV4::new(B, 80), &mut out)
        .unwrap();
    assert_eq!(t.spare.len(), 0, "the new connection took the spare rings");
}

#[test]
fn icmp_port_unreachable_aborts_syn_sent_only_with_matching_seq() {
    let mut t = Tcp::new(TcpConfig::default(), A, [1; 32], 1);
    let mut out = Sink::new();
    let remote = SocketAddrV4::new(B, 80);
    let c = t.connect(Instant::ZERO, remote, &mut out).unwrap();
    let syn = parse(&out[0].2, A, B);
    let local = SocketAddrV4::new(A, syn.src_port);
    let wrong = Some(syn.seq + 1000u32);
    assert_eq!(
        t.on_icmp_error(Instant::ZERO, local, remote, wrong, IcmpTcpError::Hard),
        Err(DropReason::IcmpIgnored)
    );
    assert_eq!(t.state(c), Some(State::SynSent));
    t.on_icmp_error(
        Instant::ZERO,
        local,
        remote,
        Some(syn.seq),
        IcmpTcpError::Hard,
    )
    .unwrap();
    assert_eq!(t.state(c), Some(State::Closed));
    assert_eq!(t.recv(c, &mut [0; 4]), Err(TcpApiError::Refused));
}

#[test]
fn icmp_frag_needed_shrinks_mss_and_resends() {
    let mut t = server(TcpConfig::default());
    let l = t.listen(80).unwrap();
    let now = Instant::from_secs(1);
    let mut out = Sink::new();
    t.on_segment(now, A, B, &syn(7, 80, 0, Some(1460), None), &mut out)
        .unwrap();
    let sa = parse(&out[0].2, B, A).seq;
    t.on_segment(now, A, B, &ack(7, 80, 1, sa.0 + 1), &mut out)
        .unwrap();
    let c = t.accept(l).unwrap();
    // Without Nagle the 80-byte tail goes out with the rest.
    t.set_nodelay(c, true).unwrap();
    t.send(c, &[9u8; 3000]).unwrap();
    out.clear();
    t.poll(now, &mut out);
    assert_eq!(out.len(), 3, "1460 + 1460 + 80");
    let (local, remote) = (SocketAddrV4::new(B, 80), SocketAddrV4::new(A, 7));
    t.on_icmp_error(
        now,
        local,
        remote,
        Some(sa + 1u32),
        IcmpTcpError::FragNeeded { mtu: 1000 },
    )
    .unwrap();
    out.clear();
    t.poll(now, &mut out);
    let lens: Vec<usize> = out
        .iter()
        .map(|(_, _, s)| parse(s, B, A).payload.len())
        .collect();
    assert_eq!(lens, vec![960, 960, 960, 120]);
}

#[test]
fn syn_flood_is_answered_with_cookies_and_established_connection_keeps_working() {
    let cfg = TcpConfig {
        syn_queue: 4,
        ..TcpConfig::default()
    };
    let mut t = server(cfg);
    let l = t.listen(80).unwrap();
    let now = Instant::from_secs(10);
    let mut out = Sink::new();
    t.on_segment(now, A, B, &syn(1, 80, 0, Some(1460), None), &mut out)
        .unwrap();
    let sa = parse(&out[0].2, B, A).seq;
    t.on_segment(now, A, B, &ack(1, 80, 1, sa.0 + 1), &mut out)
        .unwrap();
    let c = t.accept(l).unwrap();
    for port in 2000..3000u16 {
        let _ = t.on_segment(now, A, B, &syn(port, 80, 77, Some(1460), None), &mut out);
    }
    assert_eq!(t.counters().syncookies_sent, 1000 - 4);
    assert_eq!(
        t.connections().count(),
        1 + 4,
        "flood holds only the SYN queue"
    );
    // The established connection is untouched and still moves data.
    let mut r = output::bare_repr(SocketAddrV4::new(A, 1), SocketAddrV4::new(B, 80));
    r.seq = SeqNumber(1);
    r.ack = Some(sa + 1u32);
    r.window_len = 65535;
    r.psh = true;
    r.payload = b"hello";
    let mut b = vec![0; r.buffer_len()];
    r.emit(&mut TcpPacket::new_unchecked(&mut b[..]), A, B);
    t.on_segment(now, A, B, &b, &mut out).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(t.recv(c, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(t.state(c), Some(State::Established));
}

#[test]
fn half_open_connection_holds_no_rings_until_the_handshake_completes() {
    let mut t = server(TcpConfig::default());
    let l = t.listen(80).unwrap();
    let now = Instant::from_secs(100);
    let mut out = Sink::new();
    t.on_segment(now, A, B, &syn(1, 80, 0, Some(1460), None), &mut out)
        .unwrap();
    let synack = parse(&out[0].2, B, A);
    // The SYN-ACK promises the window of the ring it will get.
    assert_eq!(
        usize::from(synack.window_len),
        TcpConfig::default().recv_buffer.min(0xffff)
    );
    let rings = |t: &Tcp| {
        t.slots
            .iter()
            .filter_map(|s| s.tcb.as_ref())
            .map(|c| c.recv_buf.capacity() + c.send_buf.capacity())
            .sum::<usize>()
    };
    assert_eq!(rings(&t), 0, "SYN-RECEIVED: a TCB, no rings");
    t.on_segment(now, A, B, &ack(1, 80, 1, synack.seq.0 + 1), &mut out)
        .unwrap();
    let c = t.accept(l).unwrap();
    let cfg = TcpConfig::default();
    assert_eq!(rings(&t), cfg.recv_buffer + cfg.send_buffer);
    assert_eq!(t.send(c, b"hello"), Ok(5));
}
