//! rustls's clock, fed from the worker's `now`: ticket and session expiry
//! run on the same time as everything else in the worker, so tests drive
//! them on virtual time and nothing in the service reads the system clock.
//!
//! rustls asks for wall time (`UnixTime`); the worker's clock is
//! monotonic. The daemon measures once, at startup, which UNIX time the
//! monotonic zero corresponds to (`epoch`); from then on wall time is
//! `epoch + now`, so a wall-clock step (NTP, an operator) never moves TLS
//! expiry backwards or forwards.
//!
//! rustls's own ticketer reads the system clock (for key rotation), so
//! [`TimedTickets`] wraps it: every ticket carries its issue time on the
//! worker's clock and is refused once older than the ticket lifetime.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::UnixTime;
use rustls::server::ProducesTickets;
use rustls::time_provider::TimeProvider;

use crate::time::Instant;

/// One per worker (each worker's `ServerConfig` clone points at its own).
#[derive(Debug)]
pub struct TlsClock {
    /// UNIX time at `Instant::ZERO`, in nanoseconds.
    epoch_ns: u64,
    /// The worker's `now` at its last poll, in nanoseconds.
    now_ns: AtomicU64,
}

impl TlsClock {
    /// `epoch`: the UNIX time at `Instant::ZERO` (the daemon measures it;
    /// tests pick any).
    pub fn new(epoch: Duration) -> Arc<Self> {
        Arc::new(TlsClock {
            epoch_ns: u64::try_from(epoch.as_nanos()).unwrap_or(u64::MAX),
            now_ns: AtomicU64::new(0),
        })
    }

    /// The worker's time for this loop turn; rustls reads it until the next.
    pub fn set(&self, now: Instant) {
        // One writer (the worker), readers on the same thread: ordering
        // against other memory does not matter.
        self.now_ns.store(now.as_nanos(), Ordering::Relaxed);
    }

    pub fn epoch(&self) -> Duration {
        Duration::from_nanos(self.epoch_ns)
    }
}

impl TimeProvider for TlsClock {
    fn current_time(&self) -> Option<UnixTime> {
        let ns = self
            .epoch_ns
            .saturating_add(self.now_ns.load(Ordering::Relaxed));
        Some(UnixTime::since_unix_epoch(Duration::from_nanos(ns)))
    }
}

/// A worker's view of the shared ticketer: the same keys (so a ticket from
/// one worker resumes on any other), the lifetime enforced on this
/// worker's clock.
#[derive(Debug)]
pub struct TimedTickets {
    inner: Arc<dyn ProducesTickets>,
    clock: Arc<TlsClock>,
}

impl TimedTickets {
    pub fn new(inner: Arc<dyn ProducesTickets>, clock: Arc<TlsClock>) -> Self {
        TimedTickets { inner, clock }
    }

    fn now_secs(&self) -> u64 {
        self.clock.current_time().map_or(0, |t| t.as_secs())
    }
}

impl ProducesTickets for TimedTickets {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.inner.lifetime()
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        // Once per issued ticket (after a handshake), not per record.
        let mut stamped = Vec::with_capacity(8 + plain.len());
        stamped.extend_from_slice(&self.now_secs().to_be_bytes());
        stamped.extend_from_slice(plain);
        self.inner.encrypt(&stamped)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let stamped = self.inner.decrypt(cipher)?;
        let issued = u64::from_be_bytes(stamped.get(..8)?.try_into().ok()?);
        //= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.1
        //# Servers MAY treat a ticket as valid for a shorter period of time
        //# than what is stated in the ticket_lifetime.
        // We hold it to exactly the advertised lifetime, on our clock.
        let age = self.now_secs().checked_sub(issued)?;
        if age > u64::from(self.inner.lifetime()) {
            return None;
        }
        Some(stamped[8..].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_is_the_epoch_plus_the_worker_now() {
        let c = TlsClock::new(Duration::from_secs(1_700_000_000));
        c.set(Instant::from_secs(90));
        let t = c.current_time().unwrap();
        assert_eq!(t.as_secs(), 1_700_000_090);
        c.set(Instant::from_millis(100_500));
        assert_eq!(c.current_time().unwrap().as_secs(), 1_700_000_100);
    }
}
