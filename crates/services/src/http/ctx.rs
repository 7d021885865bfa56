//! What a connection borrows from its service while it runs, and the
//! injected clock it asks when a response is done.

use hdrhistogram::Histogram;

use super::config::{HttpConfig, HttpCounters};
use super::date::DateCache;
use super::store::Store;
use crate::time::Instant;

/// When a response's last byte was handed to TCP, given the turn's `now`.
/// Injected: the daemon passes one that reads its monotonic clock (the
/// services never read a clock themselves); the default and the fake-clock
/// tests use the turn's `now`.
pub type Clock = fn(Instant) -> Instant;

/// The default [`Clock`]: the loop turn's `now`.
pub fn turn(now: Instant) -> Instant {
    now
}

/// Everything a connection needs from its service while it runs.
pub struct Ctx<'a> {
    pub cfg: &'a HttpConfig,
    pub store: &'a Store,
    pub counters: &'a mut HttpCounters,
    pub service_time: &'a mut Histogram<u64>,
    pub date: &'a mut DateCache,
    /// When a response's last byte reached TCP (the injected [`Clock`]).
    pub clock: Clock,
    /// Output goes through TLS: a response is done once TLS flushed it.
    pub tls: bool,
}
