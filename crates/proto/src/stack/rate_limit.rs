//! Token bucket, used to rate-limit ICMP errors (RFC 1812 4.3.2.8 and
//! RFC 1122 3.2.2) and anything else the stack must not emit at line rate.

use crate::time::Instant;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// A token bucket refilled continuously at `rate_per_sec`, holding at most
/// `burst` tokens. Tokens are kept in nano-token fixed point so slow rates
/// and short intervals do not lose refill to rounding.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate_per_sec: u32,
    burst: u32,
    /// Tokens times 10^9.
    nano_tokens: u128,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket. `rate_per_sec == 0` means "never refill": only the
    /// initial burst is ever granted.
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        TokenBucket {
            rate_per_sec,
            burst,
            nano_tokens: u128::from(burst) * NANOS_PER_SEC,
            last: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let elapsed = u128::from(now.as_nanos().saturating_sub(last.as_nanos()));
            let cap = u128::from(self.burst) * NANOS_PER_SEC;
            let add = elapsed.saturating_mul(u128::from(self.rate_per_sec));
            self.nano_tokens = self.nano_tokens.saturating_add(add).min(cap);
        }
        // A clock that steps back must not refill the bucket twice.
        if self.last.is_none_or(|l| now > l) {
            self.last = Some(now);
        }
    }

    /// Take one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.nano_tokens >= NANOS_PER_SEC {
            self.nano_tokens -= NANOS_PER_SEC;
            true
        } else {
            false
        }
    }

    /// Whole tokens available at `now` (refills as a side effect).
    pub fn available(&mut self, now: Instant) -> u32 {
        self.refill(now);
        u32::try_from(self.nano_tokens / NANOS_PER_SEC).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn full_bucket_grants_burst_then_refuses() {
        let mut b = TokenBucket::new(100, 50);
        let t = Instant::from_secs(1);
        let granted = (0..1000).filter(|_| b.try_take(t)).count();
        assert_eq!(granted, 50);
    }

    #[test]
    fn empty_bucket_refills_at_rate() {
        let mut b = TokenBucket::new(100, 50);
        let t = Instant::from_secs(1);
        while b.try_take(t) {}
        // 10 ms at 100/s is exactly one token.
        assert!(!b.try_take(t + Duration::from_millis(9)));
        assert!(b.try_take(t + Duration::from_millis(10)));
        assert!(!b.try_take(t + Duration::from_millis(10)));
        // A long pause refills only up to the burst.
        assert_eq!(b.available(t + Duration::from_secs(3600)), 50);
    }

    #[test]
    fn clock_stepping_back_does_not_refill() {
        let mut b = TokenBucket::new(1, 1);
        let t = Instant::from_secs(10);
        assert!(b.try_take(t));
        assert!(!b.try_take(Instant::from_secs(5)));
        assert!(!b.try_take(t));
        assert!(b.try_take(t + Duration::from_secs(1)));
    }

    #[test]
    fn zero_rate_grants_only_the_burst() {
        let mut b = TokenBucket::new(0, 2);
        let t = Instant::ZERO;
        assert!(b.try_take(t));
        assert!(b.try_take(t));
        assert!(!b.try_take(t + Duration::from_secs(1_000_000)));
    }
}
