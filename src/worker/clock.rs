//! The one place the daemon reads the clock: CLOCK_MONOTONIC, once per loop
//! turn, handed to the sans-IO layers as `now`. The protocol crate has no
//! way to read a clock, so everything below the worker runs on whatever
//! time it is given (tests give it virtual time).

use nix::time::{clock_gettime, ClockId};

use crate::time::Instant;

/// The CLOCK_MONOTONIC reading as an [`Instant`].
pub fn monotonic() -> Instant {
    // CLOCK_MONOTONIC exists on every Linux: the call cannot fail there.
    let ts = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC is always readable");
    Instant::from_nanos(ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_does_not_go_backwards() {
        let a = monotonic();
        let b = monotonic();
        assert!(b >= a);
        assert!(a > Instant::ZERO);
    }
}
