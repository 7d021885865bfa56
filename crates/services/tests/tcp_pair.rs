//! Two `Tcp`s back to back with the echo and discard services.

use std::net::SocketAddrV4;
use std::time::Duration;

use xskd_proto::stack::tcp::{CongestionAlgorithm, ConnId, Tcp, TcpConfig};
use xskd_proto::time::Instant;

use xskd_proto::testkit::{Segments as Sink, CLIENT as REMOTE, SERVER as LOCAL};

// ---------------------------------------------------------------------------
// Two `Tcp`s wired back to back, with the echo and discard services (compiled
// here from src/service until the library exports `service`).

use xskd_services::{discard, tcp_echo};

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
    /// Virtual time per round (about the RTT of the pair).
    round_time: Duration,
    /// A drop-tail bottleneck toward the server: at most `rate` frames
    /// per round leave a queue of at most `cap` frames.
    bottleneck: Option<(usize, usize)>,
    queue: std::collections::VecDeque<Vec<u8>>,
    /// Everything on the wire is lost during [from, to).
    outage: Option<(Instant, Instant)>,
    /// Frames the outage swallowed.
    outage_drops: u64,
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
            round_time: Duration::from_micros(100),
            bottleneck: None,
            queue: std::collections::VecDeque::new(),
            outage: None,
            outage_drops: 0,
        }
    }

    /// A discard service on the server (port 9) and a client connection
    /// to it, its SYN delivered.
    fn connect_to_discard(&mut self) -> (discard::Discard, ConnId) {
        let d = discard::Discard::new(&mut self.server, 9).unwrap();
        let mut out = Sink::new();
        let c = self
            .client
            .connect(self.now, SocketAddrV4::new(LOCAL, 9), &mut out)
            .unwrap();
        for (_, _, seg) in out {
            let _ = self
                .server
                .on_segment(self.now, REMOTE, LOCAL, &seg, &mut self.to_client);
        }
        (d, c)
    }

    /// Queue up to `left` bytes of repeated `chunk` on the client's `c`,
    /// as much as its send ring takes; returns the bytes queued.
    fn client_send_up_to(&mut self, c: ConnId, chunk: &[u8], left: usize) -> usize {
        let mut sent = 0;
        while sent < left {
            let n = (left - sent).min(chunk.len());
            match self.client.send(c, &chunk[..n]) {
                Ok(k) => sent += k,
                Err(_) => break,
            }
        }
        sent
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
            let p = xskd_proto::wire::tcp::TcpPacket::new_checked(seg).unwrap();
            let t = xskd_proto::wire::tcp::TcpRepr::parse(&p, s, d).unwrap();
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
        let idle = idle
            && self.to_client.is_empty()
            && self.to_server.is_empty()
            && self.held.is_empty()
            && self.queue.is_empty();
        let held = std::mem::take(&mut self.held);
        let fresh = c2s
            .into_iter()
            .map(|(_, _, b)| (true, b))
            .chain(s2c.into_iter().map(|(_, _, b)| (false, b)));
        let dark = self
            .outage
            .is_some_and(|(from, to)| from <= self.now && self.now < to);
        for (to_server, seg) in fresh {
            if dark {
                self.outage_drops += 1;
                continue;
            }
            match self.fate() {
                Fate::Drop => {}
                Fate::Deliver if to_server && self.bottleneck.is_some() => {
                    let cap = self.bottleneck.map_or(0, |b| b.1);
                    if self.queue.len() < cap {
                        self.queue.push_back(seg);
                    }
                }
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
        if let Some((rate, _)) = self.bottleneck {
            for _ in 0..rate {
                let Some(seg) = self.queue.pop_front() else {
                    break;
                };
                self.deliver(true, &seg);
            }
        }
        self.now += self.round_time;
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
    let (mut d, c) = p.connect_to_discard();
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

/// 0.3% loss, the same segments every run (the short run adds a burst as
/// a short outage, see `Link`).
fn trace_loss(n: u64) -> bool {
    let mut x = n ^ 0x5eed;
    splitmix(&mut x) % 1000 < 3
}

/// One bulk transfer client -> discard under seeded loss, sampling the
/// sender's congestion state every round: rows (round, ms, cwnd,
/// ssthresh, in_flight, state, event). A round is one exchange; an idle
/// wait for a timer is one round too, so RTO backoff does not swamp the
/// x axis.
/// The long trace for the plot: a 400-frame-per-round bottleneck with a
/// 400-frame drop-tail queue (losses come from congestion, as on a real
/// path), a 50 ms round (a BDP large enough for CUBIC to leave its
/// Reno-friendly region), and a 300 ms outage after 15 s that only the
/// RTO repairs. The short run's burst is an outage of two rounds while
/// data flows: a burst in time, so a probe sent after the wire went quiet
/// is not part of it.
struct Link {
    round_time: Duration,
    bottleneck: Option<(usize, usize)>,
    /// (when, how long) everything on the wire is lost.
    outage: Option<(Duration, Duration)>,
}

fn cwnd_trace(
    algo: CongestionAlgorithm,
    bytes: usize,
    lose: fn(u64) -> bool,
    link: &Link,
) -> Vec<String> {
    let cfg = TcpConfig {
        congestion: algo,
        send_buffer: 4 << 20,
        recv_buffer: 4 << 20,
        ..TcpConfig::default()
    };
    let mut p = Pair::with_config(lose, cfg);
    p.round_time = link.round_time;
    p.bottleneck = link.bottleneck;
    p.outage = link.outage.map(|(at, len)| (p.now + at, p.now + at + len));
    let (mut d, c) = p.connect_to_discard();
    let chunk = vec![0x5au8; 64 * 1024];
    let start = p.now;
    let (mut sent, mut rows, mut last) = (0usize, Vec::new(), None);
    let (mut fr, mut rto) = (0u64, 0u64);
    for round in 0..2_000_000u64 {
        sent += p.client_send_up_to(c, &chunk, bytes - sent);
        p.step(&mut |now, tcp| d.poll(now, tcp));
        let Some(i) = p.client.connections().next() else {
            break;
        };
        let k = p.client.counters();
        let event = if k.rto_expirations > rto {
            "rto"
        } else if k.fast_retransmits > fr {
            "fast_retransmit"
        } else {
            ""
        };
        (fr, rto) = (k.fast_retransmits, k.rto_expirations);
        let key = (i.cwnd, i.ssthresh, i.ca_state);
        if last != Some(key) || !event.is_empty() {
            let ms = (p.now - start).as_secs_f64() * 1e3;
            let ssthresh = if i.ssthresh == u32::MAX {
                String::new()
            } else {
                i.ssthresh.to_string()
            };
            rows.push(format!(
                "{round},{ms:.3},{},{ssthresh},{},{},{event}",
                i.cwnd, i.bytes_in_flight, i.ca_state
            ));
            last = Some(key);
        }
        if d.bytes_discarded() == bytes as u64 {
            break;
        }
    }
    assert_eq!(d.bytes_discarded(), bytes as u64, "transfer incomplete");
    // The outage fell inside the transfer, in both directions' traffic.
    if link.outage.is_some() {
        assert!(p.outage_drops >= 8, "outage lost {} frames", p.outage_drops);
    }
    rows
}

/// The cwnd trace for `benches/cwnd_trace.py`: set CWND_TRACE_OUT to a CSV
/// path to write it (a longer run through a bottleneck, see `Link`, so
/// CUBIC's curve shows). Always checks the shape of a short run: slow
/// start first, then losses answered by fast recovery, with additive
/// increase in between, and an RTO after an outage.
#[test]
fn cwnd_trace_shows_slow_start_sawtooth_and_recovery() {
    let out = std::env::var("CWND_TRACE_OUT").ok();
    let (bytes, lose, link): (usize, fn(u64) -> bool, Link) = if out.is_some() {
        let link = Link {
            round_time: Duration::from_millis(50),
            bottleneck: Some((400, 400)),
            outage: Some((Duration::from_secs(15), Duration::from_millis(300))),
        };
        (400 << 20, |_| false, link)
    } else {
        let link = Link {
            round_time: Duration::from_micros(100),
            bottleneck: None,
            outage: Some((Duration::from_millis(5), Duration::from_micros(200))),
        };
        (6 << 20, trace_loss, link)
    };
    let mut csv = String::from("algo,round,ms,cwnd,ssthresh,in_flight,state,event\n");
    for algo in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
        let rows = cwnd_trace(algo, bytes, lose, &link);
        for r in &rows {
            csv += &format!("{},{r}\n", algo.as_str());
        }
        if let Some(path) = &out {
            std::fs::write(path, &csv).unwrap();
        }
        let states: Vec<&str> = rows.iter().map(|r| r.split(',').nth(5).unwrap()).collect();
        assert_eq!(states[0], "slow_start", "{algo:?}");
        let recoveries = rows
            .iter()
            .filter(|r| r.ends_with(",fast_retransmit"))
            .count();
        assert!(recoveries >= 3, "{algo:?}: {recoveries} recoveries");
        // Growth in congestion avoidance between losses: the sawtooth.
        let ca: Vec<u32> = rows
            .iter()
            .filter(|r| r.split(',').nth(5) == Some("congestion_avoidance"))
            .map(|r| r.split(',').nth(2).unwrap().parse().unwrap())
            .collect();
        assert!(
            ca.windows(2).filter(|w| w[1] > w[0]).count() > 10,
            "{algo:?}"
        );
        // The two-round burst is repaired by the ACK clock (SACK
        // recovery, Limited Transmit, lost-retransmission detection, tail
        // loss probes): no RTO, for either algorithm.
        if out.is_none() {
            assert!(
                !rows.iter().any(|r| r.ends_with(",rto")),
                "{algo:?}: an RTO"
            );
        }
    }
}

/// A bulk upload under 5% seeded random loss each way (data and ACKs):
/// the transfer completes, and the flights whose ACKs were all lost are
/// repaired by loss probes, not by the RTO. Before probes ran in fast
/// recovery and backed off, every such flight cost a 200 ms timeout.
#[test]
fn bulk_under_random_loss_is_repaired_by_probes_not_timeouts() {
    let bytes = 2usize << 20;
    let mut p = Pair::with_config(
        |_| false,
        TcpConfig {
            send_buffer: 1 << 20,
            recv_buffer: 1 << 20,
            ..TcpConfig::default()
        },
    );
    p.chaos = Some((0x10e5, 5, 0, 0));
    let (mut d, c) = p.connect_to_discard();
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut sent = 0usize;
    for _ in 0..2_000_000u64 {
        sent += p.client_send_up_to(c, &chunk, bytes - sent);
        p.step(&mut |now, tcp| d.poll(now, tcp));
        if d.bytes_discarded() == bytes as u64 {
            break;
        }
    }
    assert_eq!(d.bytes_discarded(), bytes as u64, "transfer incomplete");
    let k = p.client.counters();
    assert!(k.fast_retransmits > 20, "{k:?}");
    assert!(k.tlp_probes > 0, "{k:?}");
    assert!(k.recovery_probes > 0, "{k:?}");
    assert_eq!(k.rto_expirations, 0, "{k:?}");
}
