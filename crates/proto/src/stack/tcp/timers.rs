//! Per-connection timers: retransmission (RFC 6298), user timeout,
//! keepalive (RFC 9293 3.8.4), TIME-WAIT expiry and the FIN-WAIT-2 /
//! CLOSE-WAIT reapers.

use super::config::{CloseReason, State};
use super::tcb::Tcb;
use super::timer_table::Timer;
use super::{SegmentSink, Tcp};
use crate::time::Instant;

impl Tcp {
    #[inline]
    pub(crate) fn keepalive_deadline(&self, t: &Tcb) -> Option<Instant> {
        let k = self.cfg.keepalive?;
        if !matches!(t.state, State::Established | State::CloseWait) || t.outstanding() > 0 {
            return None;
        }
        let backoff = k.interval.saturating_mul(t.keepalive_probes);
        Some(t.last_rx + k.idle.saturating_add(backoff))
    }

    pub(crate) fn on_timers(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        let Some(t) = self.tcb(idx) else { return };
        let keepalive = self.keepalive_deadline(t);
        if t.timers.due(Timer::State, now) {
            match t.state {
                State::TimeWait => self.close_conn(idx, None),
                State::FinWait2 => {
                    self.counters.fin_wait2_reaped += 1;
                    self.close_conn(idx, Some(CloseReason::TimedOut));
                }
                State::CloseWait if t.outstanding() > 0 || !t.send_buf.is_empty() => {
                    // Still sending: the application is alive, look again later.
                    let d = now + self.cfg.close_wait_timeout;
                    if let Some(t) = self.tcb_mut(idx) {
                        t.timers[Timer::State] = Some(d);
                    }
                }
                State::CloseWait => {
                    // The application never closed: abort (RST) to free memory.
                    self.counters.close_wait_reaped += 1;
                    if let Some(t) = self.tcb_mut(idx) {
                        t.rst_pending = true;
                        t.timers[Timer::State] = None;
                    }
                    self.output(now, idx, out);
                }
                _ => {
                    if let Some(t) = self.tcb_mut(idx) {
                        t.timers[Timer::State] = None;
                    }
                }
            }
            return;
        }
        if t.timers.due(Timer::DelayedAck, now) {
            if let Some(t) = self.tcb_mut(idx) {
                t.timers[Timer::DelayedAck] = None;
                t.ack_pending = true;
            }
            self.output(now, idx, out);
        }
        let Some(t) = self.tcb(idx) else { return };
        if t.timers.due(Timer::Retransmit, now) {
            self.on_rto(now, idx, out);
            return;
        }
        if t.timers.due(Timer::Reorder, now) {
            self.on_rack_timer(now, idx, out);
            return;
        }
        if t.timers.due(Timer::LossProbe, now) {
            self.on_tlp(now, idx, out);
            return;
        }
        if keepalive.is_some_and(|d| d <= now) {
            let count = self.cfg.keepalive.map_or(0, |k| k.count);
            if t.keepalive_probes >= count {
                self.counters.keepalive_drops += 1;
                self.close_conn(idx, Some(CloseReason::TimedOut));
                return;
            }
            if let Some(t) = self.tcb_mut(idx) {
                t.keepalive_probes += 1;
            }
            self.send_keepalive(now, idx, out);
        }
    }

    fn on_rto(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        let cfg = &self.cfg;
        let (limit, user_timeout) = (cfg.max_retries, cfg.user_timeout);
        let (syn_retries, synack_retries) = (cfg.syn_retries, cfg.synack_retries);
        let Some(t) = self.tcb_mut(idx) else { return };
        let limit = match t.state {
            State::SynSent => syn_retries,
            State::SynReceived => synack_retries,
            _ => limit,
        };
        let probing = t.outstanding() == 0;
        let timed_out = t.retries >= limit
            || (!probing
                && t.unacked_since
                    .is_some_and(|s| now.saturating_since(s) >= user_timeout));
        if timed_out {
            let state = t.state;
            self.counters.timeouts += 1;
            if state == State::SynSent {
                self.counters.attempt_fails += 1;
            }
            self.close_conn(idx, Some(CloseReason::TimedOut));
            return;
        }
        t.retries += 1;
        t.backoff += 1;
        if !probing && t.state.is_synchronized() {
            let (in_recovery, after_tlp) = (t.in_recovery, t.tlp_count > 0);
            t.cc_on_rto(now);
            self.counters.rto_expirations += 1;
            self.counters.rto_in_recovery += u64::from(in_recovery);
            self.counters.rto_after_tlp += u64::from(!in_recovery && after_tlp);
        }
        let Some(t) = self.tcb_mut(idx) else { return };
        //= https://www.rfc-editor.org/rfc/rfc6298#section-5
        //# (5.5) The host MUST set RTO <- RTO * 2 ("back off the timer").
        t.timers[Timer::Retransmit] = Some(now + t.rtt.backed_off(t.backoff));
        if probing && t.state.is_synchronized() {
            self.persist_probe(now, idx, out);
            return;
        }
        self.retransmit(now, idx, out);
        if self.tcb(idx).is_some_and(|t| t.needs_output) {
            self.output(now, idx, out);
        }
    }

    /// RFC 8985 6.3 reordering timer: the window a SACK opened above the
    /// hole at SND.UNA has passed with no ACK for it.
    fn on_rack_timer(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        let Some(t) = self.tcb_mut(idx) else { return };
        t.timers[Timer::Reorder] = None;
        if t.check_sack_loss(now) == super::recovery::AckEvent::FastRetransmit {
            self.counters.fast_retransmits += 1;
            self.counters.rack_timer_recoveries += 1;
            self.output(now, idx, out);
        }
    }

    /// The persist timer fired: data waits and nothing is outstanding.
    fn persist_probe(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        self.counters.window_probes += 1;
        let Some(t) = self.tcb_mut(idx) else { return };
        if t.snd_wnd > 0 {
            // A window too small for SWS avoidance: send what fits.
            t.probe_pending = true;
            t.needs_output = true;
            self.output(now, idx, out);
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc1122#section-4.2.2.17
        //# The transmitting host SHOULD send the first zero-window
        //# probe when a zero window has existed for the retransmission
        //# timeout period (see Section 4.2.2.15), and SHOULD increase
        //# exponentially the interval between successive probes.
        // Like Linux, the probe carries no data: an ACK at SND.UNA-1 is
        // outside the peer's window and draws an ACK with its window,
        // without using sequence space. A one-byte probe would become
        // data in flight, so its loss would look like congestion (an RTO
        // collapsing cwnd) and a window update that does not ACK it would
        // leave the sender waiting for the next timer.
        self.send_old_seq_ack(now, idx, out);
    }

    fn send_keepalive(&mut self, now: Instant, idx: u32, out: &mut impl SegmentSink) {
        //= https://www.rfc-editor.org/rfc/rfc9293#section-3.8.4
        //# Such a segment generally contains SEG.SEQ = SND.NXT-1
        self.send_old_seq_ack(now, idx, out);
    }
}
