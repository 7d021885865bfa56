//! CUBIC (RFC 9438): window growth as a cubic function of the time since
//! the last reduction, with a Reno-friendly floor. Windows are kept in
//! segments as `f64` like the RFC's formulas; `cwnd()` reports bytes.

use std::time::Duration;

use super::{initial_window, CongestionControl};
use crate::time::Instant;

//= https://www.rfc-editor.org/rfc/rfc9438#section-4.1.2
//# C: Constant that determines the aggressiveness of CUBIC in competing
//# with other congestion control algorithms in high-BDP networks.
//= https://www.rfc-editor.org/rfc/rfc9438#section-4.1.2
//# C SHOULD be set to 0.4.
const C: f64 = 0.4;
//= https://www.rfc-editor.org/rfc/rfc9438#section-4.1.2
//# beta_cubic: CUBIC multiplicative decrease factor
//= https://www.rfc-editor.org/rfc/rfc9438#section-4.1.2
//# SHOULD be set to 0.7
const BETA: f64 = 0.7;
/// Ceiling in segments, far from any float or u32 trouble.
const MAX_SEGS: f64 = 1_000_000.0;

#[derive(Debug, Clone, Copy)]
pub struct Cubic {
    mss: u32,
    cwnd: f64,
    ssthresh: f64,
    /// W_max: the window just before the last reduction.
    w_max: f64,
    /// cwnd_prior: the window when ssthresh was last set.
    cwnd_prior: f64,
    /// Start of the current congestion avoidance stage.
    epoch: Option<Instant>,
    cwnd_epoch: f64,
    k: f64,
    /// W_est: the Reno-friendly estimate.
    w_est: f64,
    /// The next congestion avoidance stage follows an RTO (RFC 9438 4.8).
    after_rto: bool,
}

impl Cubic {
    pub fn new(mss: u32) -> Self {
        let mss = mss.max(1);
        let iw = f64::from(initial_window(mss)) / f64::from(mss);
        Cubic {
            mss,
            cwnd: iw,
            ssthresh: f64::INFINITY,
            w_max: iw,
            cwnd_prior: iw,
            epoch: None,
            cwnd_epoch: iw,
            k: 0.0,
            w_est: iw,
            after_rto: false,
        }
    }

    fn w_cubic(&self, t: f64) -> f64 {
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.2
        //# W_cubic(t) = C * (t - K)^3 + W_max
        C * (t - self.k).powi(3) + self.w_max
    }

    fn reduce(&mut self) {
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.7
        //# if cwnd < W_max and fast convergence enabled, further reduce W_max
        //#   W_max = cwnd * (1 + beta_cubic) / 2
        //# else, remember cwnd before reduction
        //#   W_max = cwnd
        self.w_max = if self.cwnd < self.w_max {
            self.cwnd * (1.0 + BETA) / 2.0
        } else {
            self.cwnd
        };
        self.cwnd_prior = self.cwnd;
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.6
        //# ssthresh = cwnd * beta_cubic
        //# ssthresh = max(ssthresh, 2)
        self.ssthresh = (self.cwnd * BETA).max(2.0);
        self.epoch = None;
    }

    fn congestion_avoidance(&mut self, now: Instant, segs: f64, rtt: Option<Duration>) {
        let epoch = match self.epoch {
            Some(e) => e,
            None => {
                self.epoch = Some(now);
                self.cwnd_epoch = self.cwnd;
                self.w_est = self.cwnd;
                if self.after_rto {
                    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.8
                    //# During the first congestion avoidance stage after a
                    //# timeout, CUBIC increases its congestion window size
                    //# using Figure 1, where t is the elapsed time since the
                    //# beginning of the current congestion avoidance stage, K
                    //# is set to 0, and W_max is set to the congestion window
                    //# size at the beginning of the current congestion
                    //# avoidance stage.
                    self.after_rto = false;
                    self.w_max = self.cwnd;
                    self.k = 0.0;
                } else {
                    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.8
                    //# K = cubic_root((W_max - cwnd_epoch) / C)
                    self.k = ((self.w_max - self.cwnd_epoch).max(0.0) / C).cbrt();
                }
                now
            }
        };
        let t = now.saturating_since(epoch).as_secs_f64();
        let rtt = rtt.map_or(0.0, |r| r.as_secs_f64());
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.2
        //# target = cwnd            if W_cubic(t + RTT) < cwnd
        //#          1.5 * cwnd      if W_cubic(t + RTT) > 1.5 * cwnd
        //#          W_cubic(t + RTT) otherwise
        let target = self.w_cubic(t + rtt).clamp(self.cwnd, 1.5 * self.cwnd);
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.3
        //# W_est = W_est + alpha_cubic * segments_acked / cwnd
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.3
        //# Once W_est has grown to reach the cwnd at the time of most
        //# recently setting ssthresh -- that is, W_est >= cwnd_prior -- the
        //# sender SHOULD set alpha_cubic to 1
        let alpha = if self.w_est >= self.cwnd_prior {
            1.0
        } else {
            3.0 * (1.0 - BETA) / (1.0 + BETA)
        };
        self.w_est += alpha * segs / self.cwnd;
        if self.w_cubic(t) < self.w_est {
            // RFC 9438 4.3 (paraphrased): below W_est, CUBIC is in the
            // Reno-friendly region and sets cwnd to W_est.
            self.cwnd = self.cwnd.max(self.w_est);
        } else {
            //= https://www.rfc-editor.org/rfc/rfc9438#section-4.4
            //# cwnd SHOULD be incremented by (target - cwnd) / cwnd for each
            //# received new ACK
            self.cwnd += (target - self.cwnd) / self.cwnd * segs;
        }
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }
    fn cwnd(&self) -> u32 {
        (self.cwnd * f64::from(self.mss)) as u32
    }
    fn ssthresh(&self) -> u32 {
        if self.ssthresh.is_finite() {
            (self.ssthresh * f64::from(self.mss)) as u32
        } else {
            u32::MAX
        }
    }
    fn on_ack(&mut self, now: Instant, acked: u32, _flight: u32, rtt: Option<Duration>) {
        // One ACK credits at most one window (see NewReno).
        let segs = (f64::from(acked) / f64::from(self.mss)).min(self.cwnd);
        if self.cwnd < self.ssthresh {
            // RFC 9438 4.10 leaves slow start to the implementation:
            // Reno's, with RFC 3465 L = 2, capped at ssthresh.
            self.cwnd = (self.cwnd + segs.min(2.0)).min(self.ssthresh.max(self.cwnd));
        } else {
            self.congestion_avoidance(now, segs, rtt);
        }
        self.cwnd = self.cwnd.min(MAX_SEGS);
    }
    fn on_loss(&mut self, _now: Instant, _flight: u32) {
        self.reduce();
        self.cwnd = self.ssthresh;
    }
    fn on_rto(&mut self, _now: Instant, _flight: u32, repeated: bool) {
        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.8
        //# In the case of a timeout, CUBIC follows Reno to reduce cwnd
        //# [RFC5681] but sets ssthresh using beta_cubic (same as in
        //# Section 4.6) in a way that is similar to the setting of ssthresh
        //# at the detection of congestion by duplicate ACKs
        if !repeated {
            self.reduce();
        }
        self.cwnd = 1.0;
        self.epoch = None;
        self.after_rto = true;
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = (f64::from(cwnd) / f64::from(self.mss)).clamp(1.0, MAX_SEGS);
    }
    fn set_ssthresh(&mut self, ssthresh: u32) {
        self.ssthresh = (f64::from(ssthresh) / f64::from(self.mss)).max(2.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    /// Acknowledge `rounds` windows, one RTT each, SMSS per ACK.
    fn run(c: &mut Cubic, now: &mut Instant, rtt: Duration, rounds: u32) {
        for _ in 0..rounds {
            let segs = c.cwnd() / MSS;
            for _ in 0..segs.max(1) {
                c.on_ack(*now, MSS, 0, Some(rtt));
            }
            *now += rtt;
        }
    }

    fn at(c: &Cubic) -> f64 {
        c.cwnd
    }

    #[test]
    fn cubic_loss_reduces_by_beta_and_fast_convergence_lowers_w_max() {
        let mut c = Cubic::new(MSS);
        c.set_cwnd(100 * MSS);
        c.on_loss(Instant::ZERO, 0);
        assert_eq!(c.ssthresh(), 70 * MSS);
        assert_eq!(c.cwnd(), 70 * MSS);
        assert_eq!(c.w_max, 100.0);
        // A loss before regaining W_max: W_max = 70 * 1.7 / 2.
        c.on_loss(Instant::ZERO, 0);
        assert!((c.w_max - 59.5).abs() < 1e-9);
        assert_eq!(c.cwnd(), 49 * MSS);
    }

    #[test]
    fn cubic_concave_growth_plateaus_at_w_max_after_k() {
        let mut c = Cubic::new(MSS);
        c.set_cwnd(100 * MSS);
        c.on_loss(Instant::ZERO, 0);
        // K = cbrt((100 - 70) / 0.4) = cbrt(75) = 4.217 s.
        let rtt = Duration::from_millis(100);
        let mut now = Instant::from_secs(1);
        run(&mut c, &mut now, rtt, 1);
        assert!((c.k - 75f64.cbrt()).abs() < 1e-9);
        // Half-way to K: well above 70, still below W_max (concave).
        run(&mut c, &mut now, rtt, 20);
        assert!(at(&c) > 90.0 && at(&c) < 100.0, "{}", at(&c));
        // Around K: at the plateau.
        run(&mut c, &mut now, rtt, 22);
        assert!((at(&c) - 100.0).abs() < 2.0, "{}", at(&c));
        // Well after K: convex growth beyond W_max.
        run(&mut c, &mut now, rtt, 30);
        assert!(at(&c) > 105.0, "{}", at(&c));
    }

    #[test]
    fn cubic_short_rtt_follows_the_reno_friendly_estimate() {
        let mut c = Cubic::new(MSS);
        c.set_cwnd(20 * MSS);
        c.on_loss(Instant::ZERO, 0);
        let mut now = Instant::from_secs(1);
        let start = now;
        // 1 ms RTT: Reno grows far faster per second than the cubic curve.
        run(&mut c, &mut now, Duration::from_millis(1), 200);
        let t = now.saturating_since(start).as_secs_f64();
        let cubic_only = c.w_cubic(t);
        assert!(at(&c) > cubic_only + 10.0, "{} vs {}", at(&c), cubic_only);
        // alpha_cubic = 3 * 0.3 / 1.7 until W_est reaches cwnd_prior (20),
        // then 1: about 6 segments to get from 14 to 20, then +1 per RTT.
        assert!(at(&c) > 150.0 && at(&c) < 230.0, "{}", at(&c));
    }

    #[test]
    fn cubic_rto_collapses_and_restarts_with_k_zero() {
        let mut c = Cubic::new(MSS);
        c.set_cwnd(50 * MSS);
        c.on_rto(Instant::ZERO, 0, false);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 35 * MSS));
        c.on_rto(Instant::ZERO, 0, true);
        assert_eq!(c.ssthresh(), 35 * MSS);
        let mut now = Instant::from_secs(1);
        run(&mut c, &mut now, Duration::from_millis(50), 10);
        assert!(c.cwnd() >= 35 * MSS);
        assert_eq!(c.k, 0.0);
    }
}
