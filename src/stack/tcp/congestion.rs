//! The congestion control seam. Issue 4 brings NewReno and CUBIC behind this
//! trait; the lifecycle work only needs a window that never blocks beyond
//! the peer's receive window.

use std::time::Duration;

use crate::time::Instant;

pub trait CongestionControl: std::fmt::Debug + Send {
    /// Bytes that may be in flight (the peer's window applies on top).
    fn window(&self) -> u32;
    /// New data acknowledged.
    fn on_ack(&mut self, now: Instant, acked: u32, rtt: Option<Duration>);
    /// A retransmission timeout fired.
    fn on_rto(&mut self, now: Instant);
    /// A duplicate ACK arrived.
    fn on_dup_ack(&mut self, _now: Instant) {}
}

/// No congestion window at all: flow control only. Zero-sized.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

impl CongestionControl for Unlimited {
    fn window(&self) -> u32 {
        u32::MAX
    }
    fn on_ack(&mut self, _now: Instant, _acked: u32, _rtt: Option<Duration>) {}
    fn on_rto(&mut self, _now: Instant) {}
}

/// A fixed window: flow control only.
#[derive(Debug, Clone, Copy)]
pub struct FixedWindow(pub u32);

impl CongestionControl for FixedWindow {
    fn window(&self) -> u32 {
        self.0
    }
    fn on_ack(&mut self, _now: Instant, _acked: u32, _rtt: Option<Duration>) {}
    fn on_rto(&mut self, _now: Instant) {}
}
