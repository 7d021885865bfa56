//! Congestion control and loss recovery against the RFC text, driven
//! through the public API with a fake clock: cwnd and ssthresh after each
//! event of scripted loss patterns.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::*;
use crate::wire::tcp::{Control, TcpPacket, TcpRepr};

pub(super) const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub(super) const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub(super) const SMSS: u32 = 1000;

type Sink = Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>;

/// One passive connection whose peer we play by hand. Our ISN is learned;
/// `ack(n)` acknowledges `n` bytes of our data.
pub(super) struct Harness {
    pub tcp: Tcp,
    pub now: Instant,
    pub conn: ConnId,
    pub isn: u32,
    pub peer_seq: u32,
    pub wnd: u16,
}

pub(super) fn seg(seq: u32, ack: u32, wnd: u16, control: Control, payload: &[u8]) -> Vec<u8> {
    seg_from(5000, seq, ack, wnd, control, payload)
}

/// As `seg`, from the peer's port `port`.
pub(super) fn seg_from(
    port: u16,
    seq: u32,
    ack: u32,
    wnd: u16,
    control: Control,
    payload: &[u8],
) -> Vec<u8> {
    let mut r = output::bare_repr(SocketAddrV4::new(PEER, port), SocketAddrV4::new(US, 80));
    r.seq = SeqNumber(seq);
    r.ack = (control != Control::Syn).then_some(SeqNumber(ack));
    r.control = control;
    r.window_len = wnd;
    r.payload = payload;
    if control == Control::Syn {
        r.mss = Some(SMSS as u16);
        // Ignored unless the config enables timestamps.
        r.timestamp = Some((1, 0));
    }
    let mut b = vec![0; r.buffer_len()];
    r.emit(&mut TcpPacket::new_unchecked(&mut b[..]), PEER, US);
    b
}

pub(super) fn parse(b: &[u8]) -> TcpRepr<'_> {
    TcpRepr::parse(&TcpPacket::new_checked(b).unwrap(), US, PEER).unwrap()
}

impl Harness {
    pub fn new(cfg: TcpConfig) -> Self {
        Harness::with(TcpConfig {
            timestamps: false,
            ..cfg
        })
    }

    /// As `new`, but the config's `timestamps` is used as given.
    pub fn with(cfg: TcpConfig) -> Self {
        Harness::exactly(TcpConfig {
            mss: SMSS as u16,
            send_buffer: 1 << 20,
            ..cfg
        })
    }

    /// An accepted connection with the config exactly as given.
    pub fn exactly(cfg: TcpConfig) -> Self {
        let mut tcp = Tcp::new(cfg, US, [3; 32], 9);
        let l = tcp.listen(80).unwrap();
        let now = Instant::from_secs(100);
        let mut out = Sink::new();
        tcp.on_segment(
            now,
            PEER,
            US,
            &seg(0, 0, 65535, Control::Syn, &[]),
            &mut out,
        )
        .unwrap();
        let isn = parse(&out[0].2).seq.0;
        let mut out = Sink::new();
        let ack = seg(1, isn.wrapping_add(1), 65535, Control::None, &[]);
        tcp.on_segment(now, PEER, US, &ack, &mut out).unwrap();
        let conn = tcp.accept(l).unwrap();
        Harness {
            tcp,
            now,
            conn,
            isn,
            peer_seq: 1,
            wnd: 65535,
        }
    }

    pub fn info(&self) -> ConnInfo {
        self.tcp.connections().next().unwrap()
    }

    pub fn cw(&self) -> (u32, u32) {
        let i = self.info();
        (i.cwnd, i.ssthresh)
    }

    /// Queue `n` bytes and poll: the segments sent, as (relative seq, len).
    pub fn write(&mut self, n: usize) -> Vec<(u32, usize)> {
        let data = vec![7u8; n];
        let mut off = 0;
        while off < n {
            off += self.tcp.send(self.conn, &data[off..]).unwrap();
        }
        self.poll()
    }

    pub fn poll(&mut self) -> Vec<(u32, usize)> {
        let mut out = Sink::new();
        self.tcp.poll(self.now, &mut out);
        self.sent(&out)
    }

    fn sent(&self, out: &Sink) -> Vec<(u32, usize)> {
        out.iter()
            .map(|(_, _, b)| {
                let r = parse(b);
                (r.seq.0.wrapping_sub(self.isn), r.payload.len())
            })
            .filter(|&(_, l)| l > 0)
            .collect()
    }

    /// The peer acknowledges up to our relative sequence `rel`; returns
    /// the data segments we sent in answer.
    pub fn ack(&mut self, rel: u32) -> Vec<(u32, usize)> {
        let b = seg(
            self.peer_seq,
            self.isn.wrapping_add(rel),
            self.wnd,
            Control::None,
            &[],
        );
        let mut out = Sink::new();
        let _ = self.tcp.on_segment(self.now, PEER, US, &b, &mut out);
        let mut sent = self.sent(&out);
        sent.extend(self.poll());
        sent
    }

    /// Run timers until `d` from now.
    pub fn advance(&mut self, d: Duration) -> Vec<(u32, usize)> {
        let end = self.now + d;
        let mut sent = Vec::new();
        while let Some(t) = self.tcp.poll_at().filter(|&t| t <= end) {
            self.now = self.now.max(t);
            sent.extend(self.poll());
        }
        self.now = end;
        sent
    }

    pub fn peer_data(&mut self, payload: &[u8]) -> Sink {
        let b = seg(
            self.peer_seq,
            self.isn.wrapping_add(1),
            self.wnd,
            Control::None,
            payload,
        );
        self.peer_seq += payload.len() as u32;
        let mut out = Sink::new();
        let _ = self.tcp.on_segment(self.now, PEER, US, &b, &mut out);
        out
    }
}

fn ten_segments() -> Harness {
    let mut h = Harness::new(TcpConfig::default());
    assert_eq!(h.cw(), (10 * SMSS, u32::MAX));
    let sent = h.write(100_000);
    // The initial window (RFC 6928): ten segments, no more.
    assert_eq!(sent.len(), 10, "{sent:?}");
    assert_eq!(sent[0], (1, SMSS as usize));
    h
}

/// Segment 1 of the initial window lost, the other nine each bring a
/// duplicate ACK: fast recovery, with the Limited Transmit and inflated
/// segments out.
fn recovering_from_one_loss() -> Harness {
    let mut h = ten_segments();
    for _ in 0..9 {
        h.ack(1);
    }
    assert_eq!(h.info().ca_state, "recovery");
    h
}

#[test]
fn newreno_one_loss_fast_retransmit_then_full_ack_deflates() {
    let mut h = ten_segments();
    // Segment 1 lost; 2..10 each bring a duplicate ACK. The first two
    // release one new segment each (Limited Transmit, RFC 3042), cwnd
    // unchanged.
    assert_eq!(h.ack(1), vec![(10 * SMSS + 1, SMSS as usize)]);
    assert_eq!(h.ack(1), vec![(11 * SMSS + 1, SMSS as usize)]);
    assert_eq!(h.cw(), (10 * SMSS, u32::MAX));
    assert_eq!(h.info().ca_state, "slow_start");
    // Third duplicate ACK: fast retransmit, ssthresh = FlightSize/2,
    // cwnd = ssthresh + 3*SMSS.
    let sent = h.ack(1);
    assert_eq!(sent, vec![(1, SMSS as usize)]);
    assert_eq!(h.cw(), (9 * SMSS, 6 * SMSS));
    assert_eq!(h.info().ca_state, "recovery");
    assert_eq!(h.tcp.counters().fast_retransmits, 1);
    // Each further duplicate inflates by SMSS; new data goes out once
    // cwnd exceeds the 12 segments in flight.
    let mut new = Vec::new();
    for _ in 0..6 {
        new.extend(h.ack(1));
    }
    assert_eq!(h.cw(), (15 * SMSS, 6 * SMSS));
    assert_eq!(new.len(), 3, "{new:?}");
    assert_eq!(new[0].0, 12 * SMSS + 1);
    // The retransmission fills the hole: a full ACK (covers recover).
    h.ack(12 * SMSS + 1);
    // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) = min(6, 3+1).
    assert_eq!(h.cw(), (4 * SMSS, 6 * SMSS));
    assert_eq!(h.info().ca_state, "slow_start");
}

#[test]
fn newreno_loss_right_after_a_full_ack_at_recover_is_fast_retransmitted() {
    let mut h = recovering_from_one_loss();
    // The full ACK lands exactly on `recover` (12 segments were out when
    // recovery began); three sent during recovery are still in flight.
    h.ack(12 * SMSS + 1);
    assert_eq!(h.info().ca_state, "slow_start");
    let (_, ssthresh) = h.cw();
    // The first of them is lost. The duplicate ACKs sit at SND.UNA ==
    // recover + 1 in RFC 6582 terms: they cover more than recover, so a
    // new loss episode starts (section 3.2 step 1) rather than waiting a
    // whole RTO.
    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.extend(h.ack(12 * SMSS + 1));
    }
    assert!(sent.contains(&(12 * SMSS + 1, SMSS as usize)), "{sent:?}");
    assert_eq!(h.tcp.counters().fast_retransmits, 2);
    assert_eq!(h.info().ca_state, "recovery");
    assert!(h.cw().1 < ssthresh, "{:?}", h.cw());
    assert_eq!(h.tcp.counters().rto_expirations, 0);
}

#[test]
fn newreno_two_losses_in_a_window_partial_ack_retransmits_next_hole() {
    let mut h = ten_segments();
    // Segments 1 and 4 lost: 8 duplicate ACKs, and 2 more for the two
    // Limited Transmit segments.
    for _ in 0..3 {
        h.ack(1);
    }
    assert_eq!(h.cw(), (9 * SMSS, 6 * SMSS));
    for _ in 0..5 {
        h.ack(1);
    }
    assert_eq!(h.cw(), (14 * SMSS, 6 * SMSS));
    // The retransmitted segment 1 arrives: ACK 3001 is partial (recover
    // is 12001). Retransmit the next hole at once, deflate by the 3000
    // acknowledged and add back one SMSS.
    let sent = h.ack(3 * SMSS + 1);
    assert_eq!(sent.first(), Some(&(3 * SMSS + 1, SMSS as usize)));
    assert_eq!(h.cw(), (12 * SMSS, 6 * SMSS));
    assert_eq!(h.info().ca_state, "recovery");
    assert_eq!(h.tcp.counters().partial_ack_retransmits, 1);
    // Only one fast retransmit for the whole window.
    assert_eq!(h.tcp.counters().fast_retransmits, 1);
    // Full ACK with one segment (sent during recovery) still in flight:
    // cwnd = min(ssthresh, 1 + 1) SMSS, so slow start climbs back.
    h.ack(14 * SMSS + 1);
    assert_eq!(h.cw(), (2 * SMSS, 6 * SMSS));
    assert_eq!(h.info().ca_state, "slow_start");
}

#[test]
fn newreno_lost_retransmission_rto_collapses_to_loss_window() {
    let mut h = recovering_from_one_loss();
    let flight = h.info().bytes_in_flight;
    assert_eq!(flight, 15 * SMSS);
    // The fast retransmission is lost too: the RTO fires (initial 1 s).
    let sent = h.advance(Duration::from_millis(1100));
    // Go-back-N from SND.UNA, but only what cwnd = 1 SMSS allows. The
    // recovery already set ssthresh for this loss episode (FlightSize
    // 12 -> 6): the timeout keeps it rather than recomputing from the 15
    // segments now outstanding.
    assert_eq!(sent, vec![(1, SMSS as usize)]);
    assert_eq!(h.cw(), (SMSS, 6 * SMSS));
    assert_eq!(h.info().ca_state, "loss");
    assert_eq!(h.tcp.counters().rto_expirations, 1);
    assert_eq!(h.tcp.counters().rto_in_recovery, 1);
    // It is lost again: second RTO, ssthresh held (RFC 5681 3.1). That
    // one no longer hit a recovery.
    let sent = h.advance(Duration::from_millis(2100));
    assert_eq!(sent, vec![(1, SMSS as usize)]);
    assert_eq!(h.cw(), (SMSS, 6 * SMSS));
    assert_eq!(h.tcp.counters().rto_in_recovery, 1);
    assert_eq!(h.tcp.counters().rto_after_tlp, 0);
    // Now it arrives: slow start from 1 SMSS, resending what was lost.
    let sent = h.ack(SMSS + 1);
    assert_eq!(h.cw(), (2 * SMSS, 6 * SMSS));
    assert_eq!(sent, vec![(SMSS + 1, 1000), (2 * SMSS + 1, 1000)]);
    // Duplicate ACKs below `recover` after an RTO do not start fast
    // retransmit again (RFC 6582 3.2 step 2).
    for _ in 0..4 {
        h.ack(SMSS + 1);
    }
    assert_eq!(h.tcp.counters().fast_retransmits, 1);
}

#[test]
fn newreno_rto_during_recovery_leaves_recovery() {
    let mut h = ten_segments();
    for _ in 0..3 {
        h.ack(1);
    }
    assert_eq!(h.info().ca_state, "recovery");
    h.advance(Duration::from_millis(1100));
    let i = h.info();
    assert_eq!(i.ca_state, "loss");
    // FlightSize was the twelve segments: ssthresh 6, cwnd the loss window.
    assert_eq!((i.cwnd, i.ssthresh), (SMSS, 6 * SMSS));
    // An ACK covering everything ends the loss episode.
    h.ack(12 * SMSS + 1);
    assert_ne!(h.info().ca_state, "recovery");
}

#[test]
fn newreno_window_update_is_not_a_duplicate_ack() {
    let mut h = ten_segments();
    for w in [60000u16, 50000, 40000, 30000] {
        h.wnd = w;
        h.ack(1);
    }
    assert_eq!(h.tcp.counters().fast_retransmits, 0);
    assert_eq!(h.info().ca_state, "slow_start");
}

#[test]
fn newreno_slow_start_then_avoidance_without_loss() {
    let mut h = ten_segments();
    // Each ACK of one segment grows cwnd by one SMSS in slow start.
    h.ack(SMSS + 1);
    assert_eq!(h.cw().0, 11 * SMSS);
    h.ack(3 * SMSS + 1);
    assert_eq!(h.cw().0, 13 * SMSS);
    assert_eq!(h.info().congestion, "newreno");
    assert_eq!(
        h.info().bytes_in_flight,
        h.info().snd_nxt.wrapping_sub(h.info().snd_una)
    );
}

#[test]
fn cubic_chosen_globally_or_per_listener() {
    let mut h = Harness::new(TcpConfig {
        congestion: CongestionAlgorithm::Cubic,
        ..TcpConfig::default()
    });
    assert_eq!(h.info().congestion, "cubic");
    // Same recovery machinery: the third duplicate ACK, beta = 0.7.
    h.write(100_000);
    for _ in 0..3 {
        h.ack(1);
    }
    assert_eq!(h.info().ca_state, "recovery");
    assert_eq!(h.info().ssthresh, 7 * SMSS);
    // A listener may pick its own algorithm.
    let mut t = Tcp::new(TcpConfig::default(), US, [3; 32], 9);
    t.listen_with(81, CongestionAlgorithm::Cubic).unwrap();
    t.listen(82).unwrap();
    let mut out = Sink::new();
    for port in [81u16, 82] {
        let mut r = output::bare_repr(SocketAddrV4::new(PEER, 6000), SocketAddrV4::new(US, port));
        r.control = Control::Syn;
        r.window_len = 65535;
        let mut b = vec![0; r.buffer_len()];
        r.emit(&mut TcpPacket::new_unchecked(&mut b[..]), PEER, US);
        t.on_segment(h.now, PEER, US, &b, &mut out).unwrap();
    }
    let mut algos: Vec<_> = t
        .connections()
        .map(|i| (i.local.port(), i.congestion))
        .collect();
    algos.sort();
    assert_eq!(algos, vec![(81, "cubic"), (82, "newreno")]);
}

#[test]
fn established_rtt_sample_goes_to_the_sink_in_nanoseconds() {
    let mut h = Harness::new(TcpConfig::default());
    h.write(1000);
    h.now += Duration::from_micros(30_250);
    h.ack(1001);
    let mut got = Vec::new();
    h.tcp.drain_rtt_samples(|ns| got.push(ns));
    assert_eq!(got, vec![30_250_000]);
    assert_eq!(h.info().srtt, Some(Duration::from_micros(30_250)));
    assert_eq!(h.info().rttvar, Duration::from_micros(15_125));
}

#[test]
fn established_retransmitted_segment_is_timed_by_its_timestamp() {
    for ts in [false, true] {
        let mut h = Harness::with(TcpConfig {
            timestamps: ts,
            ..TcpConfig::default()
        });
        let mut out = Sink::new();
        h.tcp.send(h.conn, &[1; 500]).unwrap();
        h.tcp.poll(h.now, &mut out);
        // Lost; the RTO resends it.
        let at = h.tcp.poll_at().unwrap();
        h.now = at;
        out.clear();
        h.tcp.poll(h.now, &mut out);
        let rexmit = parse(&out[0].2);
        assert_eq!(rexmit.payload.len(), 500);
        h.now += Duration::from_millis(70);
        let mut r = output::bare_repr(SocketAddrV4::new(PEER, 5000), SocketAddrV4::new(US, 80));
        r.seq = SeqNumber(1);
        r.ack = Some(SeqNumber(h.isn.wrapping_add(501)));
        r.window_len = 65535;
        r.timestamp = rexmit.timestamp.map(|(val, _)| (2, val));
        let mut b = vec![0; r.buffer_len()];
        r.emit(&mut TcpPacket::new_unchecked(&mut b[..]), PEER, US);
        h.tcp
            .on_segment(h.now, PEER, US, &b, &mut Sink::new())
            .unwrap();
        let mut got = Vec::new();
        h.tcp.drain_rtt_samples(|ns| got.push(ns));
        if ts {
            // Karn's rule voids the timed segment; TSecr is unambiguous.
            assert_eq!(got, vec![70_000_000]);
            assert_eq!(h.info().srtt, Some(Duration::from_millis(70)));
        } else {
            assert!(got.is_empty(), "{got:?}");
            assert_eq!(h.info().srtt, None);
        }
    }
}
