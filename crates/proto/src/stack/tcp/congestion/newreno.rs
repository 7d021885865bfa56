//! NewReno's window arithmetic: RFC 5681 slow start and congestion
//! avoidance with RFC 3465 byte counting. Fast recovery (RFC 6582) is the
//! recovery state machine's, in `recovery`.

use std::time::Duration;

use super::{half_flight, initial_window, CongestionControl, CWND_MAX};
use crate::time::Instant;

/// NewReno's window (RFC 5681 slow start and congestion avoidance with
/// RFC 3465 byte counting). Fast recovery is in `recovery`.
#[derive(Debug, Clone, Copy)]
pub struct NewReno {
    mss: u32,
    cwnd: u32,
    ssthresh: u32,
    /// RFC 3465 2.1: bytes acknowledged in congestion avoidance since cwnd
    /// last grew.
    bytes_acked: u32,
}

impl NewReno {
    pub fn new(mss: u32) -> Self {
        let mss = mss.max(1);
        NewReno {
            mss,
            cwnd: initial_window(mss),
            //= https://www.rfc-editor.org/rfc/rfc5681#section-3.1
            //# The initial value of ssthresh SHOULD be set arbitrarily high
            ssthresh: u32::MAX,
            bytes_acked: 0,
        }
    }
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        "newreno"
    }
    fn cwnd(&self) -> u32 {
        self.cwnd
    }
    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
    fn on_ack(&mut self, _now: Instant, acked: u32, _flight: u32, _rtt: Option<Duration>) {
        if self.cwnd < self.ssthresh {
            //= https://www.rfc-editor.org/rfc/rfc3465#section-2.2
            //# A TCP SHOULD increase cwnd by min(N, L*SMSS) per ACK received
            //# during slow start
            //= https://www.rfc-editor.org/rfc/rfc3465#section-2.2
            //# L=2*SMSS bytes
            // Not past ssthresh in one step (RFC 5681 3.1 switches to
            // congestion avoidance there).
            let inc = acked.min(2 * self.mss);
            self.cwnd = self
                .cwnd
                .saturating_add(inc)
                .min(self.ssthresh.max(self.cwnd));
            if self.cwnd == self.ssthresh {
                self.bytes_acked = 0;
            }
        } else {
            //= https://www.rfc-editor.org/rfc/rfc3465#section-2.1
            //# When bytes_acked becomes greater than or equal to the value of
            //# the congestion window, bytes_acked is reduced by the value of
            //# cwnd.  Next, cwnd is incremented by a full-sized segment (SMSS).
            // One ACK credits at most one window: a stretch ACK covering
            // data SACKed long ago (after an RTO) must not turn into a
            // burst of increments.
            self.bytes_acked = self.bytes_acked.saturating_add(acked.min(self.cwnd));
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd += self.mss;
            }
        }
        self.cwnd = self.cwnd.min(CWND_MAX);
    }
    fn on_loss(&mut self, _now: Instant, flight: u32) {
        self.ssthresh = half_flight(flight, self.mss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }
    fn on_rto(&mut self, _now: Instant, flight: u32, repeated: bool) {
        //= https://www.rfc-editor.org/rfc/rfc5681#section-3.1
        //# when a TCP sender detects segment loss using the retransmission
        //# timer and the given segment has already been retransmitted by way
        //# of the retransmission timer at least once, the value of ssthresh is
        //# held constant.
        if !repeated {
            self.ssthresh = half_flight(flight, self.mss);
        }
        //= https://www.rfc-editor.org/rfc/rfc5681#section-3.1
        //# Furthermore, upon a timeout (as specified in [RFC2988]) cwnd MUST be
        //# set to no more than the loss window, LW, which equals 1 full-sized
        //# segment
        self.cwnd = self.mss;
        self.bytes_acked = 0;
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd.clamp(self.mss, CWND_MAX);
    }
    fn set_ssthresh(&mut self, ssthresh: u32) {
        self.ssthresh = ssthresh.max(2 * self.mss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1460;

    #[test]
    fn newreno_slow_start_grows_by_at_most_two_mss_per_ack() {
        let mut c = NewReno::new(MSS);
        let now = Instant::ZERO;
        c.on_ack(now, MSS, 0, None);
        assert_eq!(c.cwnd(), 10 * MSS + MSS);
        // A stretch ACK of 4 segments counts as L=2 (RFC 3465).
        c.on_ack(now, 4 * MSS, 0, None);
        assert_eq!(c.cwnd(), 13 * MSS);
    }

    #[test]
    fn newreno_congestion_avoidance_adds_one_mss_per_window() {
        let mut c = NewReno::new(MSS);
        let now = Instant::ZERO;
        c.on_loss(now, 20 * MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (10 * MSS, 10 * MSS));
        for _ in 0..9 {
            c.on_ack(now, MSS, 0, None);
        }
        assert_eq!(c.cwnd(), 10 * MSS);
        c.on_ack(now, MSS, 0, None);
        assert_eq!(c.cwnd(), 11 * MSS);
    }

    #[test]
    fn newreno_slow_start_stops_at_ssthresh() {
        let mut c = NewReno::new(MSS);
        let now = Instant::ZERO;
        c.on_rto(now, 24 * MSS, false);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 12 * MSS));
        for _ in 0..20 {
            c.on_ack(now, 2 * MSS, 0, None);
        }
        // 1 + 2*5 = 11, then the step to 12 is capped, then linear.
        assert!(c.cwnd() >= 12 * MSS && c.cwnd() <= 14 * MSS, "{}", c.cwnd());
    }

    #[test]
    fn newreno_repeated_rto_holds_ssthresh() {
        let mut c = NewReno::new(MSS);
        let now = Instant::ZERO;
        c.on_rto(now, 40 * MSS, false);
        assert_eq!(c.ssthresh(), 20 * MSS);
        c.on_rto(now, 40 * MSS, true);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 20 * MSS));
        // A tiny flight still leaves 2*SMSS.
        c.on_rto(now, MSS, false);
        assert_eq!(c.ssthresh(), 2 * MSS);
    }
}
