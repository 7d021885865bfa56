//! Two `Tcp`s back to back with the echo and discard services.

use std::net::SocketAddrV4;
use std::time::Duration;

use xskd::stack::tcp::{CongestionAlgorithm, ConnId, Tcp, TcpConfig};
use xskd::time::Instant;

use crate::runner::{Sink, LOCAL, REMOTE};

// ---------------------------------------------------------------------------
// Two `Tcp`s wired back to back, with the echo and discard services (compiled
// here from src/service until the library exports `service`).

use crate::{discard, tcp_echo};

/// Client at REMOTE, server at LOCAL; `lose(n)` decides whether the n-th
/// segment on the wire is dropped.
struct Pair {
    client: Tcp,
    server: Tcp,
    /// Answers produced while receiving, delivered next round.
    to_server: Sink,
    to_client: Sink,
    now: Instant,
    wire_count: u64,
    lose: fn(u64) -> bool,
    /// Seeded random impairment: (rng state, loss %, duplicate %, reorder %).
    chaos: Option<(u64, u64, u64, u64)>,
    /// Segments held back one round (reordering): (to server?, bytes).
    held: Vec<(bool, Vec<u8>)>,
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

enum Fate {
    Drop,
    Deliver,
    Twice,
    Hold,
}

impl Pair {
    fn new(lose: fn(u64) -> bool) -> Self {
        Pair::with_config(lose, TcpConfig::default())
    }

    fn with_config(lose: fn(u64) -> bool, cfg: TcpConfig) -> Self {
        Pair {
            client: Tcp::new(cfg.clone(), REMOTE, [1u8; 32], 1),
            server: Tcp::new(cfg, LOCAL, [2u8; 32], 2),
            to_server: Sink::new(),
            to_client: Sink::new(),
            now: Instant::from_secs(5),
            wire_count: 0,
            lose,
            chaos: None,
            held: Vec::new(),
        }
    }

    fn fate(&mut self) -> Fate {
        self.wire_count += 1;
        if (self.lose)(self.wire_count) {
            return Fate::Drop;
        }
        let Some((rng, loss, dup, reorder)) = self.chaos.as_mut() else {
            return Fate::Deliver;
        };
        let r = splitmix(rng) % 100;
        if r < *loss {
            Fate::Drop
        } else if r < *loss + *dup {
            Fate::Twice
        } else if r < *loss + *dup + *reorder {
            Fate::Hold
        } else {
            Fate::Deliver
        }
    }

    fn deliver(&mut self, to_server: bool, seg: &[u8]) {
        let r = if to_server {
            self.server
                .on_segment(self.now, REMOTE, LOCAL, seg, &mut self.to_client)
        } else {
            self.client
                .on_segment(self.now, LOCAL, REMOTE, seg, &mut self.to_server)
        };
        if std::env::var("DEBUG_WIRE").is_ok() {
            let (s, d) = if to_server {
                (REMOTE, LOCAL)
            } else {
                (LOCAL, REMOTE)
            };
            let p = xskd::wire::tcp::TcpPacket::new_checked(seg).unwrap();
            let t = xskd::wire::tcp::TcpRepr::parse(&p, s, d).unwrap();
            eprintln!(
                "{:?} {} {:?} seq {} ack {:?} len {} win {} -> {:?}",
                self.now,
                if to_server { "c>s" } else { "s>c" },
                t.control,
                t.seq,
                t.ack,
                t.payload.len(),
                t.window_len,
                r
            );
        }
    }

    /// Deliver everything in flight, run services, poll; advance the clock to
    /// the next deadline when idle. One call = one round.
    fn step(&mut self, services: &mut dyn FnMut(Instant, &mut Tcp)) {
        self.step_jump(services, true)
    }

    /// `jump`: the applications are idle too, so the clock may skip ahead.
    fn step_jump(&mut self, services: &mut dyn FnMut(Instant, &mut Tcp), jump: bool) {
        let mut c2s = std::mem::take(&mut self.to_server);
        let mut s2c = std::mem::take(&mut self.to_client);
        self.client.poll(self.now, &mut c2s);
        services(self.now, &mut self.server);
        self.server.poll(self.now, &mut s2c);
        let idle = c2s.is_empty() && s2c.is_empty();
        let idle =
            idle && self.to_client.is_empty() && self.to_server.is_empty() && self.held.is_empty();
        let held = std::mem::take(&mut self.held);
        let fresh = c2s
            .into_iter()
            .map(|(_, _, b)| (true, b))
            .chain(s2c.into_iter().map(|(_, _, b)| (false, b)));
        for (to_server, seg) in fresh {
            match self.fate() {
                Fate::Drop => {}
                Fate::Deliver => self.deliver(to_server, &seg),
                Fate::Twice => {
                    self.deliver(to_server, &seg);
                    self.deliver(to_server, &seg);
                }
                Fate::Hold => self.held.push((to_server, seg)),
            }
        }
        // Held segments arrive after the ones sent after them.
        for (to_server, seg) in held {
            self.deliver(to_server, &seg);
        }
        self.now += Duration::from_micros(100);
        if idle && jump {
            // Jump to the earliest deadline (never past one already due).
            let next = [self.client.poll_at(), self.server.poll_at()]
                .into_iter()
                .flatten()
                .min();
            if let Some(t) = next {
                self.now = self.now.max(t);
            }
        }
    }
}

/// Send `data` through the echo service and read it back; returns the echo.
fn echo_roundtrip(lose: fn(u64) -> bool, data: &[u8]) -> (Vec<u8>, Pair, ConnId) {
    echo_roundtrip_with(Pair::new(lose), data)
}

fn echo_roundtrip_with(mut p: Pair, data: &[u8]) -> (Vec<u8>, Pair, ConnId) {
    let mut echo = tcp_echo::TcpEcho::new(&mut p.server, 7).unwrap();
    let mut out = Sink::new();
    let c = p
        .client
        .connect(p.now, SocketAddrV4::new(LOCAL, 7), &mut out)
        .unwrap();
    for (_, _, seg) in out {
        let _ = p
            .server
            .on_segment(p.now, REMOTE, LOCAL, &seg, &mut p.to_client);
    }
    let (mut sent, mut got, mut shut) = (0, Vec::new(), false);
    let mut buf = vec![0u8; 8192];
    for _ in 0..200_000 {
        let mut busy = false;
        if sent < data.len() {
            if let Ok(n) = p.client.send(c, &data[sent..]) {
                sent += n;
                busy = n > 0;
            }
        } else if !shut {
            p.client.shutdown_write(c).unwrap();
            shut = true;
        }
        let r = p.client.recv(c, &mut buf);
        busy |= matches!(r, Ok(n) if n > 0);
        match r {
            Ok(0) => {
                if std::env::var("DEBUG_PAIR").is_ok() {
                    eprintln!("EOF at {:?} got {}", p.now, got.len());
                }
                break;
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        p.step_jump(&mut |now, tcp| echo.poll(now, tcp), !busy);
    }
    if std::env::var("DEBUG_PAIR").is_ok() {
        for i in p.client.connections().chain(p.server.connections()) {
            eprintln!("{i:?}");
        }
        eprintln!("{:?}\n{:?}", p.client.counters(), p.server.counters());
    }
    (got, p, c)
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn echo_service_echoes_bytes_exactly_and_both_sides_close() {
    let data = pattern(300_000);
    let (got, mut p, c) = echo_roundtrip(|_| false, &data);
    assert_eq!(got.len(), data.len());
    assert!(got == data, "echo differs");
    for _ in 0..100 {
        if p.server.connections().count() == 0 {
            break;
        }
        p.step(&mut |_, _| {});
    }
    // We closed first: TIME-WAIT on our side, nothing left on the server.
    assert_eq!(p.client.state(c).map(|s| s.as_str()), Some("TIME-WAIT"));
    assert_eq!(p.server.connections().count(), 0);
    assert_eq!(p.server.counters().retrans_segs, 0);
    assert_eq!(p.server.counters().out_rsts, 0);
    assert_eq!(p.client.counters().out_rsts, 0);
}

#[test]
fn echo_service_survives_loss_with_retransmission() {
    let data = pattern(100_000);
    let (got, mut p, _) = echo_roundtrip(|n| n % 13 == 5, &data);
    assert!(
        got == data,
        "echo differs under loss ({} of {})",
        got.len(),
        data.len()
    );
    assert!(p.client.counters().retrans_segs + p.server.counters().retrans_segs > 0);
    // Congestion control reacted: losses were repaired by fast retransmit
    // (duplicate ACKs), not only by timeouts.
    let fr = p.client.counters().fast_retransmits + p.server.counters().fast_retransmits;
    assert!(fr > 0, "no fast retransmit under 1-in-13 loss");
    for _ in 0..100 {
        p.step(&mut |_, _| {});
    }
    assert_eq!(p.server.connections().count(), 0);
}

#[test]
fn discard_service_reads_everything_and_closes_on_peer_close() {
    let mut p = Pair::new(|_| false);
    let mut d = discard::Discard::new(&mut p.server, 9).unwrap();
    let mut out = Sink::new();
    let c = p
        .client
        .connect(p.now, SocketAddrV4::new(LOCAL, 9), &mut out)
        .unwrap();
    for (_, _, seg) in out {
        let _ = p
            .server
            .on_segment(p.now, REMOTE, LOCAL, &seg, &mut p.to_client);
    }
    let data = pattern(200_000);
    let mut sent = 0;
    for _ in 0..100_000 {
        if sent < data.len() {
            if let Ok(n) = p.client.send(c, &data[sent..]) {
                sent += n;
            }
        } else {
            let _ = p.client.close(c);
        }
        p.step(&mut |now, tcp| d.poll(now, tcp));
        if sent == data.len() && p.server.connections().count() == 0 {
            break;
        }
    }
    assert_eq!(d.bytes_discarded(), 200_000);
    assert_eq!(d.connections(), 0);
    assert_eq!(p.server.connections().count(), 0);
}

mod chaos {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn echo_is_byte_exact_under_loss_duplication_and_reordering(
            seed in any::<u64>(),
            loss in 0u64..15,
            dup in 0u64..5,
            reorder in 0u64..10,
            len in 1usize..40_000,
            cubic in any::<bool>(),
            sack in any::<bool>(),
        ) {
            let cfg = TcpConfig {
                congestion: if cubic { CongestionAlgorithm::Cubic } else { CongestionAlgorithm::NewReno },
                sack,
                ..TcpConfig::default()
            };
            let mut p = Pair::with_config(|_| false, cfg);
            p.chaos = Some((seed, loss, dup, reorder));
            let data = pattern(len);
            let (got, _, _) = echo_roundtrip_with(p, &data);
            prop_assert!(got == data, "echo {} of {} bytes", got.len(), data.len());
        }
    }
}
