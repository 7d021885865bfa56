//! Time-based loss marking in the spirit of RACK (RFC 8985 6), on top of
//! the SACK scoreboard. RFC 6675 calls a hole lost only once DupThresh
//! segments are SACKed above it; with a small congestion window (the
//! normal state on a lossy path) three never arrive and every loss ends in
//! a timeout. RACK's rule needs one: a segment is lost once a segment sent
//! after it was delivered and a reordering window has passed.
//!
//! We keep no per-segment send times. Original transmissions go out in
//! sequence order, so "sent after" is "above"; a hole below a SACKed block
//! was sent before that block, whose RTT is the time from its send to the
//! ACK, so the hole is lost once `reo_wnd` has passed since that ACK
//! (RFC 8985 6.2 step 5 with the hole's send time bounded by the block's).
//! Retransmissions went out before SND.MAX passed `rxt_mark`, so anything
//! SACKed above the mark overtook all of them.
//!
//! The reordering window follows RFC 8985 6.2 step 4: zero in recovery
//! while no reordering has been seen, else a quarter of the minimum RTT
//! (capped by SRTT). A hole at SND.UNA filled outside recovery (where we
//! retransmitted nothing) is reordering: from then on marking waits the
//! window everywhere, and in recovery the RFC 6675 rules alone apply.

use std::time::Duration;

use super::seq::SeqNumber;
use super::tcb::Tcb;
use super::timer_table::Timer;
use crate::time::Instant;

/// The smallest reordering window outside recovery (about Linux's timer
/// granularity for the same timer, one jiffy, and our clock's 1 ms).
const REO_WND_MIN: Duration = Duration::from_millis(1);

impl Tcb {
    /// RFC 8985 6.2 step 4, simplified (no DSACK-driven multiplier).
    fn rack_reo_wnd(&self) -> Duration {
        if self.in_recovery && !self.rack_reord {
            return Duration::ZERO;
        }
        let quarter = self.rtt.min_rtt().unwrap_or_default() / 4;
        let wnd = self.rtt.srtt().map_or(quarter, |s| quarter.min(s));
        // The timer cannot be finer than the poll cadence, and a window
        // of zero outside recovery would make every reordering a loss.
        wnd.max(REO_WND_MIN)
    }

    /// After the SACK blocks and the cumulative ACK of one segment were
    /// applied: note reordering, and when the newest SACK above a hole
    /// arrived. `fack_before` / `una_before` are the highest SACKed byte
    /// and SND.UNA before this ACK, `was_in_recovery` the state before it.
    pub(crate) fn rack_on_ack(
        &mut self,
        now: Instant,
        fack_before: Option<SeqNumber>,
        una_before: SeqNumber,
        was_in_recovery: bool,
    ) {
        if !self.sack_ok {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc8985#section-6.2
        //# If the segment is delivered
        //# and has a sequence number below RACK.fack, the sender
        //# considers the segment to be delivered out of order
        // Outside recovery we resent nothing below the SACKed data, so a
        // cumulative ACK into the hole is an original arriving late.
        // (HighRxt at or below the old SND.UNA: nothing there was resent,
        // not even by a recovery that ended with SACKed data left over.)
        if !was_in_recovery
            && fack_before.is_some()
            && self.snd_una.diff(una_before) > 0
            && self.high_rxt.diff(una_before) <= 0
        {
            self.rack_reord = true;
        }
        match self.scoreboard.highest() {
            None => {
                self.rack_sack_at = None;
                self.timers[Timer::Reorder] = None;
            }
            Some(h) => {
                let stale = self.rack_fack.diff(self.snd_una) <= 0;
                if self.rack_sack_at.is_none() || stale {
                    self.rack_sack_at = Some(now);
                    self.rack_fack = h;
                }
            }
        }
    }

    /// Outside recovery: is the hole at SND.UNA lost by time? When it
    /// will be, the reordering timer is set for that moment.
    pub(crate) fn rack_head_lost(&mut self, now: Instant) -> bool {
        let Some(at) = self.rack_sack_at else {
            return false;
        };
        if self.scoreboard.is_empty() {
            return false;
        }
        let due = at + self.rack_reo_wnd();
        if now < due {
            self.timers[Timer::Reorder] = Some(due);
            return false;
        }
        self.timers[Timer::Reorder] = None;
        self.scoreboard.mark_lost_below(self.rack_fack);
        true
    }

    /// In recovery with no reordering seen (window zero): every hole below
    /// the highest SACKed byte was sent before it and is lost.
    pub(crate) fn rack_mark(&mut self) {
        if !self.sack_ok || !self.in_recovery || self.rack_reord {
            return;
        }
        if let Some(h) = self.scoreboard.highest() {
            self.scoreboard.mark_lost_below(h);
        }
    }

    /// Was data sent after every retransmission so far delivered?
    pub(crate) fn retransmissions_overtaken(&self) -> bool {
        if self.rack_reord {
            return self.scoreboard.is_lost(self.rxt_mark, self.smss());
        }
        self.scoreboard
            .highest()
            .is_some_and(|h| h.diff(self.rxt_mark) > 0)
    }

    /// Recovery began or an RTO cleared the scoreboard: nothing pending.
    pub(crate) fn rack_reset(&mut self) {
        self.rack_sack_at = None;
        self.timers[Timer::Reorder] = None;
    }
}
