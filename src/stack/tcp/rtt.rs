//! Retransmission timeout per RFC 6298, with Karn's algorithm applied by the
//! caller (samples only from segments never retransmitted).

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub(crate) struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    min: Duration,
    max: Duration,
}

/// Clock granularity G: our clock is nanoseconds, but timers run at the
/// worker's poll cadence; 1 ms is an honest bound.
const GRANULARITY: Duration = Duration::from_millis(1);

impl RttEstimator {
    pub fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        //= https://www.rfc-editor.org/rfc/rfc6298#section-2
        //# Until a round-trip time (RTT) measurement has been made for a
        //# segment sent between the sender and receiver, the sender SHOULD
        //# set RTO <- 1 second
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min, max),
            min,
            max,
        }
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    pub fn rto(&self) -> Duration {
        self.rto
    }

    pub fn sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                //# (2.2) When the first RTT measurement R is made, the host MUST set
                //# SRTT <- R, RTTVAR <- R/2
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                //# (2.3) RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
                //# SRTT <- (1 - alpha) * SRTT + alpha * R'
                let delta = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        self.rto = (srtt + GRANULARITY.max(self.rttvar * 4)).clamp(self.min, self.max);
    }

    /// The timeout for the `backoff`-th retransmission (RFC 6298 5.5).
    pub fn backed_off(&self, backoff: u32) -> Duration {
        self.rto
            .checked_mul(1u32 << backoff.min(16))
            .unwrap_or(self.max)
            .min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn rto_first_sample_is_srtt_plus_four_rttvar() {
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100));
        // 100 + 4*50 = 300 ms
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn rto_is_clamped_to_min_and_backoff_to_max() {
        let mut e = est();
        for _ in 0..20 {
            e.sample(Duration::from_millis(1));
        }
        assert_eq!(e.rto(), Duration::from_millis(200));
        assert_eq!(e.backed_off(3), Duration::from_millis(1600));
        assert_eq!(e.backed_off(30), Duration::from_secs(60));
    }
}
