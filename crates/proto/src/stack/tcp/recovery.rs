//! Loss recovery: duplicate ACK counting, fast retransmit and NewReno fast
//! recovery (RFC 5681 3.2, RFC 6582), and the congestion response to an
//! RTO. The window arithmetic belongs to the algorithm (`congestion`).

use super::congestion::{Cc, CongestionControl};
use super::seq::SeqNumber;
use super::tcb::Tcb;
use super::timer_table::Timer;
use crate::time::Instant;

/// What an ACK did to loss recovery, for counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckEvent {
    None,
    FastRetransmit,
    PartialAck,
}

impl Tcb {
    /// SMSS for congestion control: payload per full segment.
    pub(crate) fn smss(&self) -> u32 {
        self.payload_mss() as u32
    }

    /// (Re)start the congestion controller once the MSS is known.
    pub(crate) fn init_cc(&mut self) {
        self.cc = Cc::new(self.cc_algo, self.smss());
    }

    /// The handshake completed: the initial window applies, unless our SYN
    /// or SYN-ACK had to be retransmitted.
    pub(crate) fn cc_established(&mut self) {
        self.init_cc();
        if self.retransmits > 0 {
            //= https://www.rfc-editor.org/rfc/rfc5681#section-3.1
            //# if the SYN or SYN/ACK is lost, the initial window used by a
            //# sender after a correctly transmitted SYN MUST be one segment
            //# consisting of at most SMSS bytes.
            let one = self.smss();
            self.cc.set_cwnd(one);
        }
    }

    pub(crate) fn ca_state(&self) -> &'static str {
        if self.in_recovery {
            "recovery"
        } else if self.snd_nxt.diff(self.snd_max) < 0 {
            "loss"
        } else if self.cc.cwnd() < self.cc.ssthresh() {
            "slow_start"
        } else {
            "congestion_avoidance"
        }
    }

    /// Bytes beyond cwnd that may be outstanding for Limited Transmit.
    //= https://www.rfc-editor.org/rfc/rfc3042#section-2
    //# When a TCP sender has previously unsent data queued for transmission
    //# it SHOULD use the Limited Transmit algorithm, which calls for a TCP
    //# sender to transmit new data upon the arrival of the first two
    //# consecutive duplicate ACKs when the following conditions are
    //# satisfied:
    //#
    //#    * The receiver's advertised window allows the transmission of the
    //#      segment.
    //#
    //#    * The amount of outstanding data would remain less than or equal
    //#      to the congestion window plus 2 segments.  In other words, the
    //#      sender can only send two segments beyond the congestion window
    //#      (cwnd).
    // Only new data goes out this way: a resend after an RTO (SND.NXT
    // behind SND.MAX) is not "previously unsent".
    pub(crate) fn limited_transmit_allowance(&self) -> u32 {
        if self.in_recovery || self.snd_nxt != self.snd_max {
            return 0;
        }
        self.dupacks.min(2) * self.smss()
    }

    /// A duplicate ACK in the sense of RFC 5681 section 2 arrived.
    pub(crate) fn on_dup_ack(&mut self, now: Instant) -> AckEvent {
        self.dupacks = self.dupacks.saturating_add(1);
        let smss = self.smss();
        if self.in_recovery && self.sack_ok {
            // RFC 6675 counts the pipe instead of inflating cwnd.
            self.needs_output = true;
            return AckEvent::None;
        }
        if self.in_recovery {
            //= https://www.rfc-editor.org/rfc/rfc5681#section-3.2
            //# 4.  For each additional duplicate ACK received (after the third),
            //# cwnd MUST be incremented by SMSS.
            let c = self.cc.cwnd().saturating_add(smss);
            self.cc.set_cwnd(c);
            self.needs_output = true;
            return AckEvent::None;
        }
        if self.dupacks != 3 {
            return AckEvent::None;
        }
        self.enter_recovery(now)
    }

    /// RFC 6675 5 (b): enough SACKed above SND.UNA means it is lost, even
    /// before three duplicate ACKs (some may have been lost).
    pub(crate) fn check_sack_loss(&mut self, now: Instant) -> AckEvent {
        if self.in_recovery || !self.sack_ok || self.outstanding() == 0 {
            return AckEvent::None;
        }
        if !(self.scoreboard.is_lost(self.snd_una, self.smss())
            || self.early_retransmit_due()
            || self.rack_head_lost(now))
        {
            return AckEvent::None;
        }
        self.enter_recovery(now)
    }

    fn enter_recovery(&mut self, now: Instant) -> AckEvent {
        let smss = self.smss();
        //= https://www.rfc-editor.org/rfc/rfc6582#section-3.2
        //# If the Cumulative Acknowledgment field didn't cover more than
        //# "recover", check to see if the congestion window is greater than
        //# SMSS bytes and the difference between highest_ack and
        //# CumulativeACK is at most 4*SMSS bytes.  If true, duplicate ACKs
        //# indicate a lost segment (enter fast retransmit).  Otherwise, exit
        //# the procedure.
        // `recover` is stored one past RFC 6582's value (SND.MAX, not the
        // highest sequence number sent), so "covers more than recover" is
        // SND.UNA >= our `recover`: a loss just after a full ACK that
        // landed on `recover` is a new episode, not one for the RTO. We
        // take the simple exit (no highest_ack heuristic).
        if self.snd_una.diff(self.recover) < 0 {
            return AckEvent::None;
        }
        //= https://www.rfc-editor.org/rfc/rfc6582#section-3.2
        //# set ssthresh to no more than the value given in Equation 4
        //= https://www.rfc-editor.org/rfc/rfc6582#section-3.2
        //# record the highest sequence number transmitted in the variable
        //# recover
        self.recover = self.snd_max;
        let flight = self.outstanding();
        self.cc.on_loss(now, flight);
        //= https://www.rfc-editor.org/rfc/rfc5681#section-3.2
        //# 3.  The lost segment starting at SND.UNA MUST be retransmitted and
        //# cwnd set to ssthresh plus 3*SMSS.
        // With SACK (RFC 6675 5 step 4.2) cwnd = ssthresh and the pipe
        // estimate decides what may be sent.
        let inflate = if self.sack_ok { 0 } else { 3 * smss };
        let c = self.cc.ssthresh().saturating_add(inflate);
        self.cc.set_cwnd(c);
        self.high_rxt = self.snd_una;
        self.timers[Timer::Reorder] = None;
        self.in_recovery = true;
        self.fast_rtx_pending = true;
        self.needs_output = true;
        AckEvent::FastRetransmit
    }

    /// New data was acknowledged (SND.UNA already moved to `ack`).
    /// `flight` is what was outstanding before the ACK.
    pub(crate) fn on_new_ack(
        &mut self,
        now: Instant,
        ack: SeqNumber,
        acked: u32,
        flight: u32,
    ) -> AckEvent {
        let smss = self.smss();
        if !self.in_recovery {
            self.dupacks = 0;
            let srtt = self.rtt.srtt();
            self.cc.on_ack(now, acked, flight, srtt);
            return AckEvent::None;
        }
        if ack.diff(self.recover) >= 0 {
            //= https://www.rfc-editor.org/rfc/rfc6582#section-3.2
            //# Full acknowledgments:
            //# If this ACK acknowledges all of the data up to and including
            //# recover, then the ACK acknowledges all the intermediate segments
            //# sent between the original transmission of the lost segment and
            //# the receipt of the third duplicate ACK.  Set cwnd to either (1)
            //# min (ssthresh, max(FlightSize, SMSS) + SMSS) or (2) ssthresh
            // Option (1): no burst when little is left in flight.
            let c = self
                .cc
                .ssthresh()
                .min(self.outstanding().max(smss).saturating_add(smss));
            self.cc.set_cwnd(c);
            self.in_recovery = false;
            self.dupacks = 0;
            return AckEvent::None;
        }
        if self.sack_ok {
            //= https://www.rfc-editor.org/rfc/rfc6675#section-5
            //# (C) If cwnd - pipe >= 1 SMSS the sender SHOULD transmit one or
            //# more segments
            // Partial ACKs need no cwnd arithmetic: the scoreboard picks
            // the next hole.
            self.needs_output = true;
            return AckEvent::None;
        }
        //= https://www.rfc-editor.org/rfc/rfc6582#section-3.2
        //# Partial acknowledgments:
        //# If this ACK does *not* acknowledge all of the data up to and
        //# including recover, then this is a partial ACK.  In this case,
        //# retransmit the first unacknowledged segment.  Deflate the
        //# congestion window by the amount of new data acknowledged by the
        //# Cumulative Acknowledgment field.  If the partial ACK acknowledges
        //# at least one SMSS of new data, then add back SMSS bytes to the
        //# congestion window.
        let mut c = self.cc.cwnd().saturating_sub(acked);
        if acked >= smss {
            c = c.saturating_add(smss);
        }
        self.cc.set_cwnd(c);
        self.fast_rtx_pending = true;
        self.needs_output = true;
        AckEvent::PartialAck
    }

    /// An ACK of new data: take at most one RTT sample per flight. The
    /// timed segment (nanosecond precision) is preferred; when Karn's rule
    /// voided it (a retransmission), the echoed timestamp still gives an
    /// unambiguous sample (RFC 7323 4).
    pub(crate) fn take_rtt_sample(
        &mut self,
        now: Instant,
        ack: SeqNumber,
        timestamp: Option<(u32, u32)>,
        rto_max: std::time::Duration,
    ) -> Option<std::time::Duration> {
        let mut sample = None;
        if let Some((end, sent)) = self.rtt_probe {
            if ack.diff(end) >= 0 {
                sample = Some(now.saturating_since(sent));
                self.rtt_probe = None;
            }
        }
        if sample.is_none() && self.ts_ok && ack.diff(self.ts_sample_edge) > 0 {
            if let Some((_, tsecr)) = timestamp {
                // RFC 7323 4 (RTTM, paraphrased): the RTT is the current
                // timestamp clock minus the echoed TSecr; it is unambiguous
                // even for retransmitted data.
                let ms = self.ts_val(now).wrapping_sub(tsecr);
                let d = std::time::Duration::from_millis(u64::from(ms));
                // A TSecr from the future or absurdly old is not a sample.
                if (ms as i32) >= 0 && d <= rto_max {
                    sample = Some(d);
                }
            }
        }
        if let Some(r) = sample {
            // RFC 7323 appendix G (paraphrased): many samples per window
            // shorten the RTO estimator's memory. Hence one sample per
            // flight: the next only once the ACK passes today's SND.MAX.
            self.ts_sample_edge = self.snd_max;
            self.rtt.sample(r);
        }
        sample
    }

    /// The retransmission timer fired with data outstanding.
    pub(crate) fn cc_on_rto(&mut self, now: Instant) {
        // `backoff` counts timer retransmissions not yet answered by an ACK
        // of new data: past the first, the same segment is being resent.
        let repeated = self.backoff > 1;
        // FlightSize is data in the network: what the peer SACKed is not.
        let flight = self
            .outstanding()
            .saturating_sub(self.scoreboard.sacked_bytes());
        let before = self.cc.ssthresh();
        self.cc.on_rto(now, flight, repeated);
        if self.in_recovery {
            // The timeout hit a fast recovery that already set ssthresh
            // for this loss episode: keep it. Recomputing from FlightSize
            // now would either undo the reduction (with SACK far more than
            // the old window can be outstanding) or, counting SACKed data
            // out, collapse it to 2*SMSS because the network drained.
            self.cc.set_ssthresh(before);
        }
        //= https://www.rfc-editor.org/rfc/rfc6582#section-3.2
        //# After a retransmit timeout, record the highest sequence number
        //# transmitted in the variable recover, and exit the fast recovery
        //# procedure if applicable.
        self.recover = self.snd_max;
        self.in_recovery = false;
        self.dupacks = 0;
        self.fast_rtx_pending = false;
        // RFC 6675 5.1 (paraphrased): after an RTO the sender falls back to
        // RFC 5681 retransmission; the receiver may also have reneged on
        // what it SACKed (RFC 2018 8), so the scoreboard starts afresh.
        self.scoreboard.clear();
        self.rack_reset();
        self.high_rxt = self.snd_una;
    }

    /// In SACK recovery: were our retransmissions lost too? Every byte
    /// retransmitted so far went out before SND.MAX reached `rxt_mark`, so
    /// when data above the mark is SACKed as strongly as IsLost asks
    /// (DupThresh segments, the same reordering allowance) while
    /// retransmitted data below HighRxt is still unacknowledged, those
    /// retransmissions were lost. RFC 6675 alone would wait for the RTO;
    /// like Linux (and RACK, RFC 8985 6.2) we send them again: HighRxt
    /// goes back to SND.UNA, so NextSeg picks those holes once more and
    /// the pipe stops counting them. Returns whether it fired.
    pub(crate) fn detect_lost_retransmission(&mut self) -> bool {
        if !self.in_recovery
            || !self.sack_ok
            || self.high_rxt.diff(self.snd_una) <= 0
            || self.rxt_mark.diff(self.snd_una) <= 0
            || !self.retransmissions_overtaken()
        {
            return false;
        }
        self.high_rxt = self.snd_una;
        // Fires once per round of retransmissions: the next needs data
        // SACKed above the SND.MAX of its own resends.
        self.rxt_mark = self.snd_max;
        self.needs_output = true;
        true
    }

    /// A rescue retransmission is due: not yet sent in this recovery, no
    /// new data to send, and the top of the flight is not SACKed.
    pub(crate) fn rescue_due(&self) -> bool {
        self.rescue_rxt != Some(self.recover)
            && self.data_sent() >= self.send_buf.len()
            && self
                .scoreboard
                .highest()
                .is_some_and(|h| self.snd_max.diff(h) > 0)
    }

    /// Bytes RFC 6675 believes are in the network (SND.NXT - SND.UNA
    /// without SACK information).
    pub(crate) fn pipe(&self) -> u32 {
        self.scoreboard
            .pipe(self.snd_una, self.snd_nxt, self.high_rxt, self.smss())
    }

    /// RFC 6675 NextSeg rules (1) (`lost_only`) and (3): the next hole
    /// above HighRxt to retransmit, as (seq, len).
    pub(crate) fn next_hole(&self, lost_only: bool) -> Option<(SeqNumber, u32)> {
        let from = self.high_rxt.max(self.snd_una);
        let smss = self.smss();
        self.scoreboard
            .holes(from)
            .find(|&(s, _)| !lost_only || self.scoreboard.is_lost(s, smss))
            .map(|(s, e)| (s, (e - s).min(smss)))
    }
}
