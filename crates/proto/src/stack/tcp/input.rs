//! Segment arrival, RFC 9293 section 3.10.7, hardened per RFC 5961.

use super::config::{CloseReason, State};
use super::output::send_reset;
use super::recovery::AckEvent;
use super::sack::BlockVerdict;
use super::seq::{between_inclusive, segment_acceptable, SeqNumber};
use super::tcb::Owner;
use super::timer_table::Timer;
use super::{SegmentSink, Tcp};
use crate::drop_reason::DropReason;
use crate::time::Instant;
use crate::wire::tcp::{Control, TcpRepr};

impl Tcp {
    pub(crate) fn segment_for_conn(
        &mut self,
        now: Instant,
        idx: u32,
        repr: &TcpRepr,
        out: &mut impl SegmentSink,
    ) -> Result<(), DropReason> {
        let Some(t) = self.tcb_mut(idx) else {
            return Err(DropReason::TcpStateClosed);
        };
        t.segs_in += 1;
        if self.in_order_data_fast_path(now, idx, repr) {
            self.output(now, idx, out);
            return Ok(());
        }
        let Some(t) = self.tcb_mut(idx) else {
            return Err(DropReason::TcpStateClosed);
        };
        match t.state {
            State::SynSent => self.syn_sent_segment(now, idx, repr, out),
            State::TimeWait => self.time_wait_segment(now, idx, repr, out),
            _ => {
                let r = self.synchronized_segment(now, idx, repr, out);
                self.output(now, idx, out);
                r
            }
        }
    }

    // RFC 9293 section 3.10.7.3.
    fn syn_sent_segment(
        &mut self,
        now: Instant,
        idx: u32,
        repr: &TcpRepr,
        out: &mut impl SegmentSink,
    ) -> Result<(), DropReason> {
        let cfg = self.cfg.clone();
        let Some(t) = self.tcb_mut(idx) else {
            return Err(DropReason::TcpStateClosed);
        };
        let (local, remote) = (t.local, t.remote);
        let mut ack_ok = false;
        if let Some(ack) = repr.ack {
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.3
            //# If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless
            //# the RST bit is set, if so drop the segment and return)
            if ack - t.iss == 0 || ack.diff(t.snd_nxt) > 0 {
                if repr.control != Control::Rst {
                    send_reset(out, &mut self.counters, local, remote, ack, None);
                }
                return Err(DropReason::TcpAckOutOfWindow);
            }
            ack_ok = true;
        }
        if repr.control == Control::Rst {
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.3
            //# If the ACK was acceptable, then signal to the user "error:
            //# connection reset", drop the segment, enter CLOSED state
            if !ack_ok {
                return Err(DropReason::TcpRstInvalid);
            }
            self.counters.in_rsts += 1;
            self.counters.attempt_fails += 1;
            self.close_conn(idx, Some(CloseReason::Refused));
            return Ok(());
        }
        if repr.control != Control::Syn {
            return Err(DropReason::TcpBadFlags);
        }
        t.irs = repr.seq;
        t.rcv_nxt = repr.seq + 1u32;
        t.rcv_adv = t.rcv_nxt;
        t.negotiate(&cfg, repr);
        t.snd_wl1 = repr.seq;
        // Window fields in SYN segments are never scaled (RFC 7323 2.2).
        t.snd_wnd = u32::from(repr.window_len);
        t.max_snd_wnd = t.max_snd_wnd.max(t.snd_wnd);
        t.last_rx = now;
        match repr.ack {
            Some(ack) => {
                t.snd_una = ack;
                t.snd_wl2 = ack;
                t.state = State::Established;
                t.syn_pending = false;
                t.timers[Timer::Retransmit] = None;
                t.backoff = 0;
                t.retries = 0;
                t.unacked_since = None;
                if t.retransmits == 0 {
                    t.rtt.sample(now.saturating_since(t.created));
                }
                t.cc_established();
                t.ack_pending = true;
                if t.fin_queued {
                    t.state = State::FinWait1;
                }
            }
            None => {
                //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.3
                //# Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment
                // Simultaneous open.
                t.state = State::SynReceived;
                t.syn_pending = true;
                t.timers[Timer::Retransmit] = None;
            }
        }
        t.needs_output = true;
        self.output(now, idx, out);
        Ok(())
    }

    fn challenge_ack(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        let per_sec = self.cfg.challenge_ack_per_sec;
        let Some(t) = self.tcb_mut(idx) else { return };
        //= https://www.rfc-editor.org/rfc/rfc5961#section-7
        //# An implementation SHOULD include an ACK throttling mechanism to be
        //# conservative.
        if t.allow_challenge_ack(now, per_sec) {
            self.counters.challenge_acks += 1;
            self.send_ack_now(now, idx, out);
        } else {
            self.counters.challenge_acks_suppressed += 1;
        }
    }

    // RFC 9293 section 3.10.7.4.
    pub(crate) fn synchronized_segment(
        &mut self,
        now: Instant,
        idx: u32,
        repr: &TcpRepr,
        out: &mut impl SegmentSink,
    ) -> Result<(), DropReason> {
        let fw2 = self.cfg.fin_wait2_timeout;
        let Some(t) = self.tcb_mut(idx) else {
            return Err(DropReason::TcpStateClosed);
        };
        let seg_len = repr.segment_len() as u32;
        if t.state == State::SynReceived && repr.control == Control::Syn {
            if repr.ack.is_none() && repr.seq == t.irs {
                // The peer retransmitted its SYN: our SYN-ACK was lost.
                t.syn_pending = true;
                t.needs_output = true;
                return Ok(());
            }
            if !t.passive && repr.seq + 1u32 == t.rcv_nxt && repr.ack == Some(t.snd_nxt) {
                // Simultaneous open: the peer's SYN-ACK completes ours
                // (treated as an ACK, as Linux does).
                return self.syn_received_ack(now, idx, repr, out);
            }
        }
        //= https://www.rfc-editor.org/rfc/rfc5961#section-4.2
        //# If the SYN bit is set, irrespective of the sequence number, TCP
        //# MUST send an ACK (also referred to as challenge ACK) to the remote
        //# peer
        if repr.control == Control::Syn {
            self.challenge_ack(now, idx, out);
            return Err(DropReason::TcpOutOfWindow);
        }
        let Some(t) = self.tcb_mut(idx) else {
            return Err(DropReason::TcpStateClosed);
        };
        if let (true, Some((tsval, _)), false) =
            (t.ts_ok, repr.timestamp, repr.control == Control::Rst)
        {
            //= https://www.rfc-editor.org/rfc/rfc7323#section-5.3
            //# If SEG.TSval < TS.Recent and the RST bit is off, then the
            //# segment is not acceptable; follow the steps below for an
            //# unacceptable segment.
            if (tsval.wrapping_sub(t.ts_recent) as i32) < 0 && t.state.is_synchronized() {
                t.ack_pending = true;
                t.needs_output = true;
                return Err(DropReason::TcpPawsRejected);
            }
        }
        let mut acceptable = segment_acceptable(repr.seq, seg_len, t.rcv_nxt, t.rcv_wnd);
        if !acceptable && t.rcv_wnd == 0 && repr.seq == t.rcv_nxt && repr.control != Control::Rst {
            //= https://www.rfc-editor.org/rfc/rfc7323#section-5.3
            //# If the RCV.WND is zero, no segments will be acceptable, but
            //# special allowance should be made to accept valid ACKs, URGs,
            //# and RSTs.
            acceptable = true;
        }
        if !acceptable {
            if repr.control == Control::Rst {
                return Err(DropReason::TcpRstInvalid);
            }
            //= https://www.rfc-editor.org/rfc/rfc7323#section-5.3
            //# If an incoming segment is not acceptable, an acknowledgment
            //# should be sent in reply (unless the RST bit is set)
            let end = repr.seq + repr.payload.len();
            if !repr.payload.is_empty() && end.diff(t.rcv_nxt) <= 0 {
                // Data we already have (its ACK was lost, or the peer's
                // retransmission was spurious): say so (D-SACK).
                if t.sack_ok {
                    t.dsack = Some((repr.seq, end));
                }
                self.counters.duplicate_data_segs += 1;
            }
            let Some(t) = self.tcb_mut(idx) else {
                return Err(DropReason::TcpStateClosed);
            };
            if repr.payload.is_empty() && repr.control == Control::None {
                // A bare ACK out of window answered by an ACK can loop
                // between two confused peers (an "ACK war"): throttle it.
                self.challenge_ack(now, idx, out);
            } else {
                t.ack_pending = true;
                t.needs_output = true;
            }
            return Err(DropReason::TcpOutOfWindow);
        }
        t.last_rx = now;
        t.keepalive_probes = 0;
        if t.state == State::FinWait2 {
            t.timers[Timer::State] = Some(now + fw2);
        }
        if repr.control == Control::Rst {
            //= https://www.rfc-editor.org/rfc/rfc5961#section-3.2
            //# 1) If the RST bit is set and the sequence number is outside the
            //# current receive window, silently drop the segment.
            //# 2) If the RST bit is set and the sequence number exactly
            //# matches the next expected sequence number (RCV.NXT), then TCP
            //# MUST reset the connection.
            //# 3) If the RST bit is set and the sequence number does not
            //# exactly match the next expected sequence value, yet is within
            //# the current receive window, TCP MUST send an acknowledgment
            //# (challenge ACK)
            if repr.seq != t.rcv_nxt {
                self.challenge_ack(now, idx, out);
                return Err(DropReason::TcpRstInvalid);
            }
            let state = t.state;
            let passive = t.passive;
            self.counters.in_rsts += 1;
            let reason = match state {
                State::SynReceived if passive => None,
                State::SynReceived => Some(CloseReason::Refused),
                State::Established | State::CloseWait => {
                    self.counters.estab_resets += 1;
                    Some(CloseReason::Reset)
                }
                State::FinWait1 | State::FinWait2 => Some(CloseReason::Reset),
                _ => None,
            };
            self.close_conn(idx, reason);
            return Ok(());
        }
        let Some(ack) = repr.ack else {
            //= https://www.rfc-editor.org/rfc/rfc5961#section-3.2
            //# if the ACK bit is off, drop the segment and return
            return Err(DropReason::TcpBadFlags);
        };
        if t.state == State::SynReceived {
            return self.syn_received_ack(now, idx, repr, out);
        }
        //= https://www.rfc-editor.org/rfc/rfc5961#section-5.2
        //# All incoming segments whose ACK value doesn't satisfy the above
        //# condition MUST be discarded and an ACK sent back.
        let lo = t.snd_una - t.max_snd_wnd;
        if !between_inclusive(lo, ack, t.snd_max) {
            self.challenge_ack(now, idx, out);
            return Err(DropReason::TcpAckOutOfWindow);
        }
        self.process_ack(now, idx, repr, ack);
        self.process_text_and_fin(now, idx, repr, out)
    }

    /// The ACK that completes a passive (or simultaneous) open.
    fn syn_received_ack(
        &mut self,
        now: Instant,
        idx: u32,
        repr: &TcpRepr,
        out: &mut impl SegmentSink,
    ) -> Result<(), DropReason> {
        let accept_cap = self.cfg.accept_queue;
        let Some(t) = self.tcb_mut(idx) else {
            return Err(DropReason::TcpStateClosed);
        };
        let ack = repr.ack.unwrap_or(t.snd_una);
        //= https://www.rfc-editor.org/rfc/rfc5961#section-5.2
        //# If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state
        //= https://www.rfc-editor.org/rfc/rfc5961#section-5.2
        //# If the segment acknowledgment is not acceptable, form a reset
        //# segment <SEQ=SEG.ACK><CTL=RST> and send it.
        if !(ack.diff(t.snd_una) > 0 && ack.diff(t.snd_nxt) <= 0) {
            let (l, r, passive) = (t.local, t.remote, t.passive);
            if passive && self.pass_on(repr) {
                // Our SYN-ACK crossed a sibling's for the same tuple (the
                // peer's SYN was retransmitted onto another queue): the
                // ACK may be for the sibling's, so let it look first.
                return Ok(());
            }
            send_reset(out, &mut self.counters, l, r, ack, None);
            return Err(DropReason::TcpAckOutOfWindow);
        }
        let owner = t.owner;
        if let Owner::Listener(l) = owner {
            let full = self
                .listener_mut(l)
                .is_some_and(|lis| lis.accept.len() >= accept_cap);
            if full {
                // Stay in SYN-RECEIVED; the peer's retransmission retries.
                self.counters.listen_overflows += 1;
                return Err(DropReason::TcpAcceptQueueFull);
            }
        }
        let id = self.id_of(idx);
        let rings = match self.tcb(idx) {
            Some(t) if t.recv_buf.capacity() == 0 => Some(self.take_buffers()),
            _ => None,
        };
        let Some(t) = self.tcb_mut(idx) else {
            return Err(DropReason::TcpStateClosed);
        };
        if let Some((send, recv)) = rings {
            t.send_buf = send;
            t.recv_buf = recv;
        }
        t.state = if t.fin_queued {
            State::FinWait1
        } else {
            State::Established
        };
        t.syn_pending = false;
        t.cc_established();
        t.snd_wl1 = repr.seq.max(t.snd_wl1);
        t.snd_wl2 = ack;
        if let Owner::Listener(l) = owner {
            if let Some(lis) = self.listener_mut(l) {
                lis.syn_count = lis.syn_count.saturating_sub(1);
                lis.accept.push_back(id);
            }
        }
        self.process_ack(now, idx, repr, ack);
        if let Some(t) = self.tcb_mut(idx) {
            // The window of this segment is scaled now (RFC 7323 2.2).
            t.snd_wnd = u32::from(repr.window_len) << t.snd_wscale;
            t.max_snd_wnd = t.max_snd_wnd.max(t.snd_wnd);
        }
        self.process_text_and_fin(now, idx, repr, out)
    }

    fn process_ack(&mut self, now: Instant, idx: u32, repr: &TcpRepr, ack: SeqNumber) {
        let fw2 = self.cfg.fin_wait2_timeout;
        let rto_max = self.cfg.rto_max;
        let Some(t) = self.tcb_mut(idx) else { return };
        if ack.diff(t.snd_nxt) > 0 {
            // Acknowledges data sent before an RTO rewound SND.NXT.
            t.snd_nxt = ack;
        }
        let seg_wnd = u32::from(repr.window_len) << t.snd_wscale;
        let mut event = AckEvent::None;
        let mut verdicts = [0u64; 3];
        let mut rtt_sample = None;
        let (fack_before, una_before) = (t.scoreboard.highest(), t.snd_una);
        let was_in_recovery = t.in_recovery;
        if t.sack_ok && repr.sack_ranges[0].is_some() {
            let sacked_before = t.scoreboard.sacked_bytes();
            let una = if ack.diff(t.snd_una) > 0 {
                ack
            } else {
                t.snd_una
            };
            let max = t.snd_max;
            for (l, r) in repr.sack_ranges.iter().flatten().copied() {
                match t.scoreboard.offer(l, r, una, max) {
                    BlockVerdict::Added => {}
                    BlockVerdict::Dsack => verdicts[0] += 1,
                    BlockVerdict::Bogus => verdicts[1] += 1,
                    BlockVerdict::Full => verdicts[2] += 1,
                }
            }
            // Newly SACKed data was delivered: the probes were answered.
            // (A block repeated in every ACK is not an answer.)
            if t.scoreboard.sacked_bytes() > sacked_before {
                t.tlp_count = 0;
            }
        }
        if ack.diff(t.snd_una) > 0 {
            let flight = t.outstanding();
            let mut acked = ack - t.snd_una;
            if t.snd_una == t.iss {
                acked -= 1; // our SYN
            }
            let data = (acked as usize).min(t.send_buf.len());
            t.send_buf.consume(data);
            t.snd_una = ack;
            rtt_sample = t.take_rtt_sample(now, ack, repr.timestamp, rto_max);
            t.scoreboard.on_cumulative_ack(ack);
            event = t.on_new_ack(now, ack, acked, flight);
            t.tlp_count = 0;
            t.backoff = 0;
            t.retries = 0;
            //= https://www.rfc-editor.org/rfc/rfc6298#section-5
            //# (5.3) When an ACK is received that acknowledges new data, restart
            //# the retransmission timer so that it will expire after RTO seconds
            if t.outstanding() > 0 {
                t.timers[Timer::Retransmit] = Some(now + t.rtt.rto());
                t.unacked_since = Some(now);
            } else {
                t.timers[Timer::Retransmit] = None;
                t.unacked_since = None;
            }
            t.needs_output = true;
        } else if ack == t.snd_una
            && repr.payload.is_empty()
            && repr.control == Control::None
            && t.outstanding() > 0
            && seg_wnd == t.snd_wnd
            && t.state.is_synchronized()
        {
            //= https://www.rfc-editor.org/rfc/rfc5681#section-2
            //# DUPLICATE ACKNOWLEDGMENT: An acknowledgment is considered a
            //# "duplicate" in the following algorithms when (a) the receiver of
            //# the ACK has outstanding data, (b) the incoming acknowledgment
            //# carries no data, (c) the SYN and FIN bits are both off, (d) the
            //# acknowledgment number is equal to the greatest acknowledgment
            //# received on the given connection (TCP.UNA from [RFC793]) and (e)
            //# the advertised window in the incoming acknowledgment equals the
            //# advertised window in the last incoming acknowledgment.
            event = t.on_dup_ack(now);
        }
        t.rack_on_ack(now, fack_before, una_before, was_in_recovery);
        if event == AckEvent::None {
            event = t.check_sack_loss(now);
        }
        t.rack_mark();
        if t.detect_lost_retransmission() {
            self.counters.lost_retransmits += 1;
        }
        if let Some(r) = rtt_sample {
            self.rtt_sink.push(r);
        }
        self.counters.sack_blocks_dsack += verdicts[0];
        self.counters.sack_blocks_bogus += verdicts[1];
        self.counters.sack_blocks_dropped += verdicts[2];
        match event {
            AckEvent::FastRetransmit => self.counters.fast_retransmits += 1,
            AckEvent::PartialAck => self.counters.partial_ack_retransmits += 1,
            AckEvent::None => {}
        }
        let Some(t) = self.tcb_mut(idx) else { return };
        let acked_new = t.snd_una.diff(una_before) > 0;
        t.update_send_window(now, repr, ack, acked_new);
        let fin_acked = t.fin_acked();
        match t.state {
            State::FinWait1 if fin_acked => {
                // Reaped after fin_wait2_timeout without a segment from the
                // peer (refreshed on each one), owner or orphan alike: a
                // half-closed peer that keeps talking is left alone, a
                // vanished one does not pin the slot.
                t.state = State::FinWait2;
                t.timers[Timer::State] = Some(now + fw2);
            }
            State::Closing if fin_acked => self.enter_time_wait(now, idx),
            State::LastAck if fin_acked => self.close_conn(idx, None),
            _ => {}
        }
    }
}
