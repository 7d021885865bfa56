//! Retransmission timeout per RFC 6298, with Karn's algorithm applied by the
//! caller (samples only from segments never retransmitted).

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub(crate) struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    /// The smallest sample seen (RACK's reordering window is a quarter of it).
    min_rtt: Option<Duration>,
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
            min_rtt: None,
            min,
            max,
        }
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    pub fn rto(&self) -> Duration {
        self.rto
    }

    pub fn sample(&mut self, r: Duration) {
        self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        match self.srtt {
            None => {
                //= https://www.rfc-editor.org/rfc/rfc6298#section-2
                //# (2.2) When the first RTT measurement R is made, the host MUST set
                //# SRTT <- R, RTTVAR <- R/2
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                //= https://www.rfc-editor.org/rfc/rfc6298#section-2
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

/// RTT samples for the worker's histogram, bounded: when full the oldest
/// is overwritten (and counted), never grown.
#[derive(Debug)]
pub(crate) struct RttSink {
    ring: Box<[u64]>,
    head: usize,
    len: usize,
    pub overwritten: u64,
}

pub(crate) const RTT_SINK_CAPACITY: usize = 1024;

impl RttSink {
    pub fn new() -> Self {
        RttSink {
            ring: vec![0; RTT_SINK_CAPACITY].into_boxed_slice(),
            head: 0,
            len: 0,
            overwritten: 0,
        }
    }

    pub fn push(&mut self, rtt: Duration) {
        let ns = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
        let cap = self.ring.len();
        let tail = (self.head + self.len) % cap;
        self.ring[tail] = ns;
        if self.len == cap {
            self.head = (self.head + 1) % cap;
            self.overwritten += 1;
        } else {
            self.len += 1;
        }
    }

    pub fn drain(&mut self, mut f: impl FnMut(u64)) {
        let cap = self.ring.len();
        while self.len > 0 {
            f(self.ring[self.head]);
            self.head = (self.head + 1) % cap;
            self.len -= 1;
        }
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
    fn rtt_sink_is_bounded_and_keeps_the_newest() {
        let mut s = RttSink::new();
        for i in 0..(RTT_SINK_CAPACITY as u64 + 5) {
            s.push(Duration::from_nanos(i));
        }
        assert_eq!(s.overwritten, 5);
        let mut got = Vec::new();
        s.drain(|ns| got.push(ns));
        assert_eq!(got.len(), RTT_SINK_CAPACITY);
        assert_eq!(got[0], 5);
        s.drain(|_| panic!("drained twice"));
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
