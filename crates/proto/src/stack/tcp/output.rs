//! Building and emitting segments: SYN, SYN-ACK, data, FIN, ACK, RST.

use std::net::SocketAddrV4;

use super::config::{State, TcpConfig, TcpCounters};
use super::congestion::CongestionControl;
use super::seq::SeqNumber;
use super::tcb::Tcb;
use super::timer_table::Timer;
use super::{SegmentSink, Tcp};
use crate::time::Instant;
use crate::wire::tcp::{Control, TcpPacket, TcpRepr};

pub(crate) fn bare_repr(local: SocketAddrV4, remote: SocketAddrV4) -> TcpRepr<'static> {
    TcpRepr {
        src_port: local.port(),
        dst_port: remote.port(),
        seq: SeqNumber(0),
        ack: None,
        control: Control::None,
        psh: false,
        window_len: 0,
        mss: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload: &[],
    }
}

/// What one call of `output` may still send: the link's room, and for
/// data (new or resent) the connection's share: its budget for the round
/// when `poll` serves the queue, none while others wait for room, else
/// unbounded. A refusal
/// leaves what was due in place (flags, SND.NXT) and marks the connection
/// stalled, so it is queued and resumes on a later round or turn: no
/// segment is built for a ring that cannot take it.
struct Gate {
    budget: u32,
    stalled: bool,
    link_full: bool,
}

impl Gate {
    /// One data segment (new data or a retransmission).
    fn data(&mut self, out: &impl SegmentSink) -> bool {
        if !self.control(out) {
            return false;
        }
        if self.budget == 0 {
            self.stalled = true;
            return false;
        }
        self.budget -= 1;
        true
    }

    /// A segment without data (SYN, FIN, ACK, RST): the link's room only.
    fn control(&mut self, out: &impl SegmentSink) -> bool {
        if out.room() == 0 {
            self.stalled = true;
            self.link_full = true;
            return false;
        }
        true
    }
}

/// Emit `repr` plus `data_len` payload bytes taken from the send buffer at
/// `data_off`.
fn emit(
    out: &mut impl SegmentSink,
    counters: &mut TcpCounters,
    tcb: &mut Tcb,
    repr: &TcpRepr,
    data_off: usize,
    data_len: usize,
) -> bool {
    let hl = repr.header_len();
    // Every segment fits the path MTU as it is: IP never fragments TCP.
    debug_assert!(
        repr.control == Control::Syn || hl + data_len <= usize::from(tcb.mss) + 20,
        "segment of {hl} + {data_len} over MSS {}",
        tcb.mss
    );
    let (src, dst) = (*tcb.local.ip(), *tcb.remote.ip());
    let send_buf = &tcb.send_buf;
    let ok = out
        .send_segment(tcb.local, tcb.remote, hl + data_len, |buf| {
            let mut p = TcpPacket::new_unchecked(buf);
            repr.emit_header(&mut p);
            send_buf.peek(data_off, &mut p.payload_mut()[..data_len]);
            p.fill_checksum(src, dst);
        })
        .is_ok();
    if ok {
        counters.out_segs += 1;
        tcb.segs_out += 1;
        if repr.control == Control::Rst {
            counters.out_rsts += 1;
        }
    }
    ok
}

/// Resend up to `max` bytes at `seq` (>= SND.UNA, within what was sent)
/// without disturbing SND.NXT: fast retransmit, partial ACK, SACK holes.
/// Returns the sequence space covered.
fn retransmit_at(
    now: Instant,
    out: &mut impl SegmentSink,
    counters: &mut TcpCounters,
    t: &mut Tcb,
    seq: SeqNumber,
    max: usize,
) -> u32 {
    let off = seq.diff(t.snd_una).max(0) as usize;
    let n = t
        .send_buf
        .len()
        .saturating_sub(off)
        .min(max)
        .min(t.data_room());
    let fin = t.fin_seq.is_some_and(|f| f == seq + n);
    if n == 0 && !fin {
        return 0;
    }
    let mut r = t.repr(now, seq, if fin { Control::Fin } else { Control::None });
    r.psh = off + n == t.send_buf.len();
    emit(out, counters, t, &r, off, n);
    counters.retrans_segs += 1;
    t.retransmits += 1;
    //= https://www.rfc-editor.org/rfc/rfc6298#section-3
    //# RTT samples MUST NOT be made using segments that were
    //# retransmitted (and thus for which it is ambiguous whether the reply
    //# was for the first instance of the packet or a later instance).
    t.rtt_probe = None;
    let end = seq + n + u32::from(fin);
    if t.snd_nxt.diff(end) < 0 {
        t.snd_nxt = end;
    }
    if t.high_rxt.diff(end) < 0 {
        t.high_rxt = end;
    }
    t.rxt_mark = t.snd_max;
    t.arm_rtx(now);
    end - seq
}

/// A RST not tied to a connection (RFC 9293 3.10.7.1).
pub(crate) fn send_reset(
    out: &mut impl SegmentSink,
    counters: &mut TcpCounters,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    seq: SeqNumber,
    ack: Option<SeqNumber>,
) {
    let mut r = bare_repr(local, remote);
    r.seq = seq;
    r.ack = ack;
    r.control = Control::Rst;
    let len = r.buffer_len();
    let (src, dst) = (*local.ip(), *remote.ip());
    if out
        .send_segment(local, remote, len, |buf| {
            r.emit(&mut TcpPacket::new_unchecked(buf), src, dst)
        })
        .is_ok()
    {
        counters.out_segs += 1;
        counters.out_rsts += 1;
    }
}

impl Tcb {
    /// An ACK-bearing segment at `seq` with the current window and timestamp.
    fn repr(&mut self, now: Instant, seq: SeqNumber, control: Control) -> TcpRepr<'static> {
        let mut r = bare_repr(self.local, self.remote);
        r.seq = seq;
        r.ack = Some(self.rcv_nxt);
        r.control = control;
        r.window_len = self.window_field();
        if self.ts_ok {
            r.timestamp = Some((self.ts_val(now), self.ts_recent));
        }
        if let (true, Some(dup)) = (self.sack_ok, self.dsack.take()) {
            // RFC 2883 section 4 (paraphrased): the first block reports the
            // duplicate that triggered this ACK, the SACK blocks follow;
            // each duplicate is reported once. A Linux sender uses it to
            // undo a reduction its retransmission did not need.
            let [a, b, c, _] = self.reassembly.ranges_most_recent_first();
            r.sack_ranges = [Some(dup), a, b, c];
        } else if self.sack_ok && !self.reassembly.is_empty() {
            //= https://www.rfc-editor.org/rfc/rfc2018#section-4
            //# If sent at all, SACK options SHOULD be included in all ACKs
            //# which do not ACK the highest sequence number in the data
            //# receiver's queue.
            //# The first SACK block (i.e., the one immediately following the
            //# kind and length fields in the option) MUST specify the
            //# contiguous block of data containing the segment which triggered
            //# this ACK
            r.sack_ranges = self.reassembly.ranges_most_recent_first();
        }
        self.ack_pending = false;
        self.timers[Timer::DelayedAck] = None;
        self.unacked_segs = 0;
        r
    }

    fn syn_repr(&mut self, cfg: &TcpConfig, now: Instant) -> TcpRepr<'static> {
        let mut r = bare_repr(self.local, self.remote);
        r.seq = self.iss;
        r.control = Control::Syn;
        r.window_len = self.syn_window_field(cfg.recv_buffer);
        r.mss = Some(cfg.mss);
        if self.state == State::SynSent {
            // Active open: offer everything the config enables.
            r.window_scale = cfg.window_scaling.then(|| cfg.rcv_wscale());
            r.sack_permitted = cfg.sack;
            r.timestamp = cfg.timestamps.then(|| (self.ts_val(now), 0));
        } else {
            r.ack = Some(self.rcv_nxt);
            r.window_scale = self.wscale_negotiated.then_some(self.rcv_wscale);
            r.sack_permitted = self.sack_ok;
            r.timestamp = self.ts_ok.then(|| (self.ts_val(now), self.ts_recent));
            self.ack_pending = false;
        }
        r
    }

    pub(crate) fn arm_rtx(&mut self, now: Instant) {
        if self.timers[Timer::Retransmit].is_none() {
            self.timers[Timer::Retransmit] = Some(now + self.rtt.backed_off(self.backoff));
        }
        if self.unacked_since.is_none() {
            self.unacked_since = Some(now);
        }
    }
}

impl Tcp {
    /// Send whatever this connection has pending, as far as the link's
    /// room allows; what is left waits in `pending` (see `poll`).
    pub(crate) fn output(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        let budget = if self.serving {
            self.cfg.output_budget
        } else if self.starved {
            // Connections wait for room: new data joins the back of the
            // queue instead of taking what the ring just freed ahead of them.
            0
        } else {
            u32::MAX
        };
        let mut gate = Gate {
            budget,
            stalled: false,
            link_full: false,
        };
        self.output_gated(now, idx, out, &mut gate);
        if gate.stalled {
            if gate.link_full {
                self.counters.output_link_full += 1;
            }
            if let Some(t) = self.tcb_mut(idx) {
                t.needs_output = true;
            }
            self.queue_output(idx);
        }
    }

    fn output_gated(
        &mut self,
        now: Instant,
        idx: u32,
        out: &mut impl SegmentSink,
        gate: &mut Gate,
    ) {
        let Tcp {
            slots,
            counters,
            cfg,
            ..
        } = self;
        let Some(t) = slots.get_mut(idx as usize).and_then(|s| s.tcb.as_mut()) else {
            return;
        };
        t.needs_output = false;
        if t.rst_pending {
            if !gate.control(out) {
                return;
            }
            t.rst_pending = false;
            let r = t.repr(now, t.snd_max, Control::Rst);
            emit(out, counters, t, &r, 0, 0);
            self.close_conn(idx, Some(super::config::CloseReason::Aborted));
            return;
        }
        match t.state {
            State::SynSent | State::SynReceived => {
                if t.syn_pending {
                    if !gate.control(out) {
                        return;
                    }
                    t.syn_pending = false;
                    let r = t.syn_repr(cfg, now);
                    emit(out, counters, t, &r, 0, 0);
                    t.arm_rtx(now);
                } else if t.ack_pending && t.state == State::SynReceived {
                    if !gate.control(out) {
                        return;
                    }
                    let r = t.repr(now, t.snd_nxt, Control::None);
                    emit(out, counters, t, &r, 0, 0);
                }
                return;
            }
            State::Closed | State::Listen => return,
            _ => {}
        }
        let mss = t.payload_mss();
        if t.fast_rtx_pending && gate.data(out) {
            t.fast_rtx_pending = false;
            let una = t.snd_una;
            if retransmit_at(now, out, counters, t, una, mss) > 0 {
                // The timer has been running since the last cumulative ACK,
                // about an RTT before the duplicates that triggered this:
                // give the resent head a full RTO to come back (as Linux
                // does), or a deep queue turns every recovery into an RTO.
                t.timers[Timer::Retransmit] = Some(now + t.rtt.backed_off(t.backoff));
            }
        }
        if t.tail_probe_pending && gate.data(out) {
            t.tail_probe_pending = false;
            let data_end = t.fin_seq.unwrap_or(t.snd_max);
            let len = (data_end.diff(t.snd_una).max(0) as u32).min(t.data_room() as u32);
            // A probe is not the recovery's retransmission: HighRxt stays,
            // or NextSeg would skip every hole below the tail.
            let high_rxt = t.high_rxt;
            retransmit_at(now, out, counters, t, data_end - len, len as usize);
            t.high_rxt = high_rxt;
        }
        let sack_recovery = t.in_recovery && t.sack_ok;
        if sack_recovery {
            //= https://www.rfc-editor.org/rfc/rfc6675#section-5
            //# (C.1) The scoreboard MUST be queried via NextSeg () for the
            //# sequence number range of the next segment to transmit (if
            //# any), and the given segment sent.
            // Rule (1) here: lost holes first; new data (rule 2) below.
            while t.cc.cwnd().saturating_sub(t.pipe()) >= t.smss() {
                let Some((seq, len)) = t.next_hole(true) else {
                    break;
                };
                if !gate.data(out) {
                    break;
                }
                if retransmit_at(now, out, counters, t, seq, len as usize) == 0 {
                    break;
                }
                counters.sack_retransmits += 1;
            }
        }
        // A tail loss probe may send one segment of new data beyond cwnd.
        let mut tlp_room = if std::mem::take(&mut t.tlp_new_data) {
            t.smss()
        } else {
            0
        };
        loop {
            let sent = t.data_sent();
            let avail = t.send_buf.len().saturating_sub(sent);
            if avail == 0 {
                // Nothing to send (the common case of a receiver's ACK):
                // skip the window arithmetic; a pending probe has nothing
                // to carry either.
                t.probe_pending = false;
                break;
            }
            let in_flight = t.in_flight();
            let cc_room = if sack_recovery {
                t.cc.cwnd().saturating_sub(t.pipe())
            } else {
                t.cc.cwnd()
                    .saturating_add(t.limited_transmit_allowance())
                    .saturating_add(tlp_room)
                    .saturating_sub(in_flight)
            };
            let usable = t.snd_wnd.saturating_sub(in_flight).min(cc_room) as usize;
            // The persist timer fired with some window open: send what
            // fits even if it is small (the SWS override timeout).
            let probing = t.probe_pending;
            // A full segment is what fits with this segment's options.
            let room = t.data_room();
            let n = avail.min(usable).min(room);
            if n == 0 {
                t.probe_pending = false;
                break;
            }
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.2.1
            //# Send data:
            //# (1) if a maximum-sized segment can be sent, i.e., if:
            //#     min(D,U) >= Eff.snd.MSS;
            //# (2) or if the data is pushed and all queued data can be sent
            //#     now, i.e., if:
            //#     [SND.NXT = SND.UNA and] PUSHed and D <= U
            //#     (the bracketed condition is imposed by the Nagle algorithm);
            //# (3) or if at least a fraction Fs of the maximum window can be
            //#     sent, i.e., if:
            //#     [SND.NXT = SND.UNA and]
            //#     min(D,U) >= Fs * Max(SND.WND);
            // Every write counts as pushed; a queued FIN pushes the tail
            // (nothing more will come); resends after an RTO are not held.
            // No override timer: the ACK that empties the pipe releases
            // the held tail, which is what Nagle means.
            let nagle_ok = t.nodelay || t.in_flight() == 0 || t.fin_queued;
            let resending = t.snd_nxt.diff(t.snd_max) < 0;
            let send = n == room
                || (n == avail && nagle_ok)
                || (n as u32 >= t.max_snd_wnd / 2 && nagle_ok)
                || probing
                || resending;
            if !send {
                t.probe_pending = false;
                break;
            }
            if !gate.data(out) {
                // The probe and the TLP's extra segment wait with the data.
                t.tlp_new_data = tlp_room > 0;
                break;
            }
            t.probe_pending = false;
            let fin = t.fin_queued && n == avail;
            let seq = t.snd_nxt;
            let mut r = t.repr(now, seq, if fin { Control::Fin } else { Control::None });
            r.psh = n == avail;
            if emit(out, counters, t, &r, sent, n) {
                t.bytes_out += n as u64;
            }
            tlp_room = 0;
            t.snd_nxt += n;
            if fin {
                t.fin_seq = Some(t.snd_nxt);
                t.snd_nxt += 1u32;
            }
            t.snd_max = t.snd_max.max(t.snd_nxt);
            // Karn: never time a resend (go-back-N after an RTO).
            if t.rtt_probe.is_none() && !resending {
                t.rtt_probe = Some((t.snd_nxt, now));
            }
            t.arm_rtx(now);
        }
        if sack_recovery && t.cc.cwnd().saturating_sub(t.pipe()) >= t.smss() && !gate.stalled {
            //= https://www.rfc-editor.org/rfc/rfc6675#section-4
            //# (3) If the conditions for rules (1) and (2)
            //# fail, but there exists an unSACKed sequence number 'S3' that
            //# meets the criteria for detecting loss given in steps (1.a) and
            //# (1.b) above (specifically excluding step (1.c)), then one
            //# segment of up to SMSS octets starting with S3 SHOULD be
            //# returned.
            if let Some((seq, len)) = t.next_hole(false) {
                if gate.data(out) && retransmit_at(now, out, counters, t, seq, len as usize) > 0 {
                    counters.sack_retransmits += 1;
                }
            } else if t.rescue_due() && gate.data(out) {
                // RFC 6675 4 NextSeg rule (4), paraphrased: when rules (1)
                // to (3) fail, one rescue retransmission per recovery of a
                // segment holding the highest unSACKed sequence number,
                // without moving HighRxt. It repairs a lost tail that no
                // SACK will ever report.
                let high_rxt = t.high_rxt;
                let data_end = t.fin_seq.unwrap_or(t.snd_max);
                let len = (data_end.diff(t.snd_una).max(0) as u32).min(t.data_room() as u32);
                if retransmit_at(now, out, counters, t, data_end - len, len as usize) > 0 {
                    counters.rescue_retransmits += 1;
                }
                t.high_rxt = high_rxt;
                t.rescue_rxt = Some(t.recover);
            }
        }
        if t.outstanding() == 0 && t.data_sent() < t.send_buf.len() && !gate.stalled {
            // Data waits behind a zero window: the persist timer (the RTO
            // timer with nothing outstanding) will probe it.
            t.arm_rtx(now);
        }
        let fin_due = match t.fin_seq {
            None => t.fin_queued,
            // Resend after an RTO rewound SND.NXT onto it.
            Some(f) => f == t.snd_nxt,
        };
        if fin_due && t.data_sent() == t.send_buf.len() && gate.control(out) {
            let seq = t.snd_nxt;
            let r = t.repr(now, seq, Control::Fin);
            emit(out, counters, t, &r, 0, 0);
            t.fin_seq = Some(seq);
            t.snd_nxt += 1u32;
            t.snd_max = t.snd_max.max(t.snd_nxt);
            t.arm_rtx(now);
        }
        if t.old_ack_pending && gate.control(out) {
            t.old_ack_pending = false;
            // Outside the peer's window: it takes no data and draws an ACK
            // with the current window.
            let r = t.repr(now, t.snd_una - 1, Control::None);
            emit(out, counters, t, &r, 0, 0);
        }
        if t.ack_pending && gate.control(out) {
            // SND.MAX, not a rewound SND.NXT: the peer's SND.WL1 must not see
            // our sequence go backwards or it ignores our window updates.
            let r = t.repr(now, t.snd_max, Control::None);
            emit(out, counters, t, &r, 0, 0);
        }
        t.arm_tlp(now);
    }

    /// Resend the highest-sequence segment sent (a tail loss probe).
    pub(crate) fn retransmit_tail(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        let Some(t) = self.tcb_mut(idx) else { return };
        t.tail_probe_pending = true;
        self.output(now, idx, out);
    }

    /// Retransmit the oldest unacknowledged segment (SYN, data, or FIN).
    pub(crate) fn retransmit(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        let Tcp {
            slots, counters, ..
        } = self;
        let Some(t) = slots.get_mut(idx as usize).and_then(|s| s.tcb.as_mut()) else {
            return;
        };
        counters.retrans_segs += 1;
        t.retransmits += 1;
        t.rtt_probe = None;
        match t.state {
            State::SynSent | State::SynReceived => {
                t.syn_pending = true;
                t.needs_output = true;
                self.output(now, idx, out);
                return;
            }
            _ => {}
        }
        //= https://www.rfc-editor.org/rfc/rfc6298#section-5
        //# (5.4) Retransmit the earliest segment that has not been
        //# acknowledged by the TCP receiver.
        // Go back to SND.UNA: output() resends from there as the window
        // allows (issue 4's congestion control limits this to cwnd).
        t.snd_nxt = t.snd_una;
        // Resends after an RTO are not held by Nagle or SWS avoidance.
        t.probe_pending = true;
        t.needs_output = true;
    }

    /// A bare ACK at SND.UNA-1: outside the peer's window, so it takes no
    /// data and draws an ACK with the current window (keepalive, RFC 9293
    /// 3.8.4, and zero-window probes as Linux sends them).
    pub(crate) fn send_old_seq_ack(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        let Some(t) = self.tcb_mut(idx) else { return };
        t.old_ack_pending = true;
        self.output(now, idx, out);
    }

    /// An ACK for this connection right now (duplicate ACK, challenge ACK,
    /// answer to an unacceptable segment).
    pub(crate) fn send_ack_now(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        if let Some(t) = self.tcb_mut(idx) {
            t.ack_pending = true;
        }
        self.output(now, idx, out);
    }
}
