//! The one place the daemon reads the clock: CLOCK_MONOTONIC, once per loop
//! turn, handed to the sans-IO layers as `now`. The protocol crate has no
//! way to read a clock, so everything below the worker runs on whatever
//! time it is given (tests give it virtual time).

use std::time::Duration;

use nix::time::{clock_gettime, ClockId};

use crate::time::Instant;

/// The CLOCK_MONOTONIC reading as an [`Instant`].
pub fn monotonic() -> Instant {
    // CLOCK_MONOTONIC exists on every Linux: the call cannot fail there.
    let ts = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC is always readable");
    Instant::from_nanos(ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64)
}

/// [`monotonic`] in the shape of the services' injected clock
/// (`http::Clock`): the services ask it when a response's last byte is
/// handed to TCP, so request time is measured, not the loop turn's `now`.
pub fn monotonic_at(_turn_now: Instant) -> Instant {
    monotonic()
}

/// The UNIX time at `Instant::ZERO` of [`monotonic`], measured now: what
/// wall-clock consumers inside the workers (rustls's ticket expiry) add the
/// worker's `now` to. Measured once at startup, so a later wall-clock step
/// does not move them.
pub fn unix_epoch() -> Duration {
    let wall = clock_gettime(ClockId::CLOCK_REALTIME).expect("CLOCK_REALTIME is always readable");
    let wall = Duration::new(wall.tv_sec() as u64, wall.tv_nsec() as u32);
    wall.saturating_sub(Duration::from_nanos(monotonic().as_nanos()))
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

    #[test]
    fn unix_epoch_plus_now_is_the_wall_clock() {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let derived = unix_epoch() + Duration::from_nanos(monotonic().as_nanos());
        let diff = derived.abs_diff(wall);
        assert!(diff < Duration::from_secs(5), "{diff:?}");
    }
}
