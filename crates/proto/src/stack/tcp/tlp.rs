//! Loss probes (RFC 8985 section 7) and early retransmit (RFC 5827):
//! losses at the end of a flight, where too few segments follow to bring
//! three duplicate ACKs, repaired by the ACK clock instead of the RTO.
//!
//! The probe timer (PTO, about two round trips) runs while data is
//! outstanding. When it fires, one segment goes out: new data if there is
//! some (one segment beyond cwnd), else the last segment again. Its ACK
//! brings a SACK for the tail; with fewer than four segments outstanding
//! and nothing new to send, early retransmit lowers the duplicate
//! threshold so that SACK starts fast recovery.
//!
//! Two departures from RFC 8985 7, both for the case where every ACK of
//! a flight was lost (a small window, a receiver that coalesces its ACKs,
//! and random loss on the return path make that common): the probe also
//! runs in fast recovery, and a probe that draws no ACK is followed by
//! another after twice the wait, up to `MAX_PROBES`, before the RTO. A
//! probe after the first, and any in recovery, resends the last segment:
//! old data draws an immediate ACK (RFC 9293 3.10.7.4) where new data may
//! sit behind the peer's delayed-ACK timer. The RTO stays the last resort
//! for a path that answers nothing; a probe never changes cwnd.

use std::time::Duration;

use super::config::State;
use super::tcb::Tcb;
use super::timer_table::Timer;
use super::{SegmentSink, Tcp};
use crate::time::Instant;

/// RFC 8985 7.2 WCDelAckT: the peer may hold the ACK of a lone segment.
const WORST_CASE_DELAYED_ACK: Duration = Duration::from_millis(200);
/// Added to 2 * SRTT, so a tiny RTT does not probe a receiver that is
/// merely slow to answer (Linux adds two jiffies the same way).
const PTO_SLACK: Duration = Duration::from_millis(2);
/// Probes without an answer before only the RTO is left.
const MAX_PROBES: u8 = 4;

impl Tcb {
    fn tlp_allowed(&self) -> bool {
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        ) && self.sack_ok
            && self.tlp_count < MAX_PROBES
            && self.backoff == 0
            && self.snd_nxt == self.snd_max
            && self.outstanding() > 0
    }

    /// After output or an ACK: (re)start the probe timer when the flight
    /// changed, stop it when a probe is not allowed.
    // RFC 8985 7.2 (paraphrased): the PTO is restarted by new data sent or
    // new data acknowledged; here also by newly SACKed data, which in
    // recovery is the ACK clock.
    pub(crate) fn arm_tlp(&mut self, now: Instant) {
        let srtt = self.rtt.srtt();
        if !self.tlp_allowed() || srtt.is_none() {
            self.timers[Timer::LossProbe] = None;
            return;
        }
        let key = (self.snd_una, self.snd_max, self.scoreboard.sacked_bytes());
        if self.timers[Timer::LossProbe].is_some() && self.tlp_key == key {
            return;
        }
        self.tlp_key = key;
        //= https://www.rfc-editor.org/rfc/rfc8985#section-7.2
        //# If FlightSize is equal to one segment, add WCDelAckT to the PTO.
        let mut pto = srtt.unwrap_or_default() * 2 + PTO_SLACK;
        if self.outstanding() <= self.smss() {
            pto += WORST_CASE_DELAYED_ACK;
        }
        // Unanswered probes back off like the RTO does.
        let at = now + pto * (1u32 << self.tlp_count);
        // A probe no earlier than the RTO is pointless: the RTO does it.
        self.timers[Timer::LossProbe] = match self.timers[Timer::Retransmit] {
            Some(rto) if at >= rto => None,
            _ => Some(at),
        };
    }

    // RFC 5827 (paraphrased): with SACK and fewer than four segments
    // outstanding, the duplicate threshold becomes oseg - 1.
    /// Early retransmit: with fewer than four segments outstanding and no
    /// new data to send, SND.UNA is lost once the other outstanding
    /// segments (all but one) are SACKed.
    pub(crate) fn early_retransmit_due(&self) -> bool {
        let smss = self.smss();
        let oseg = self.outstanding().div_ceil(smss);
        if !(2..4).contains(&oseg) || self.data_sent() < self.send_buf.len() {
            return false;
        }
        self.scoreboard.sacked_bytes().div_ceil(smss) >= oseg - 1
    }
}

impl Tcp {
    pub(crate) fn on_tlp(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        let Some(t) = self.tcb_mut(idx) else { return };
        t.timers[Timer::LossProbe] = None;
        if !t.tlp_allowed() {
            return;
        }
        let first = t.tlp_count == 0 && !t.in_recovery;
        t.tlp_count += 1;
        self.counters.tlp_probes += 1;
        let Some(t) = self.tcb_mut(idx) else { return };
        if t.in_recovery {
            self.counters.recovery_probes += 1;
        }
        let Some(t) = self.tcb_mut(idx) else { return };
        let unsent = t.send_buf.len() > t.data_sent();
        // RFC 8985 7.3 (paraphrased): send new data if the windows allow,
        // else retransmit the highest-sequence segment sent.
        if first && unsent && t.snd_wnd > t.in_flight() {
            t.tlp_new_data = true;
            t.probe_pending = true;
            t.needs_output = true;
            self.output(now, idx, out);
        } else {
            self.retransmit_tail(now, idx, out);
        }
        if let Some(t) = self.tcb_mut(idx) {
            //= https://www.rfc-editor.org/rfc/rfc8985#section-7.3
            //# After attempting to send a loss probe, regardless of whether a
            //# loss probe was sent, the sender MUST re-arm the RTO timer, not
            //# the PTO timer, if the FlightSize is not zero.
            // Only the first probe of a silence moves the RTO: later ones
            // must not postpone the last resort forever.
            if t.outstanding() > 0 && t.tlp_count == 1 {
                t.timers[Timer::Retransmit] = Some(now + t.rtt.backed_off(t.backoff));
            }
            // The next probe, armed by the output above against the old
            // RTO, is weighed against the new one.
            t.timers[Timer::LossProbe] = None;
            t.arm_tlp(now);
        }
    }
}
