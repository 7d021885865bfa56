//! Congestion control: the window arithmetic of each algorithm behind one
//! trait. Loss *detection* and the recovery state machine (duplicate ACKs,
//! RFC 6582 `recover`, partial ACKs, RTO) live in `recovery`; like Linux's
//! `tcp_congestion_ops`, an algorithm only answers "how big is cwnd now".
//!
//! Connections hold a [`Cc`] enum rather than a `Box<dyn ..>`: no
//! allocation per connection, and the choice is a config value.

use std::time::Duration;

use crate::time::Instant;

pub mod cubic;
mod newreno;

pub use newreno::NewReno;

/// Which algorithm a connection runs (globally in `TcpConfig::congestion`,
/// or per listener with `Tcp::listen_with`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CongestionAlgorithm {
    /// RFC 5681 + RFC 6582.
    #[default]
    NewReno,
    /// RFC 9438.
    Cubic,
}

impl CongestionAlgorithm {
    pub const fn as_str(self) -> &'static str {
        match self {
            CongestionAlgorithm::NewReno => "newreno",
            CongestionAlgorithm::Cubic => "cubic",
        }
    }
}

pub trait CongestionControl: std::fmt::Debug + Send {
    fn name(&self) -> &'static str;
    /// Bytes that may be in flight (the peer's window applies on top).
    fn cwnd(&self) -> u32;
    fn ssthresh(&self) -> u32;
    /// New data acknowledged outside loss recovery: grow the window.
    /// `flight` is what was outstanding before this ACK.
    fn on_ack(&mut self, now: Instant, acked: u32, flight: u32, rtt: Option<Duration>);
    /// Loss detected by duplicate ACKs or SACK: set ssthresh (and cwnd to
    /// it); the caller then applies fast recovery's inflation.
    fn on_loss(&mut self, now: Instant, flight: u32);
    /// A retransmission timeout fired. `repeated`: the segment was already
    /// retransmitted by the timer (RFC 5681 3.1: ssthresh is then held).
    fn on_rto(&mut self, now: Instant, flight: u32, repeated: bool);
    /// Fast recovery's own cwnd arithmetic (inflation, deflation, exit).
    fn set_cwnd(&mut self, cwnd: u32);
    /// Loss recovery keeping an earlier reduction (see `cc_on_rto`).
    fn set_ssthresh(&mut self, ssthresh: u32);
}

/// Initial window, RFC 6928.
//= https://www.rfc-editor.org/rfc/rfc6928#section-2
//# min (10*MSS, max (2*MSS, 14600))
pub fn initial_window(mss: u32) -> u32 {
    (10 * mss).min((2 * mss).max(14600))
}

/// ssthresh after a loss, RFC 5681 equation (4).
//= https://www.rfc-editor.org/rfc/rfc5681#section-3.1
//# ssthresh = max (FlightSize / 2, 2*SMSS)            (4)
pub fn half_flight(flight: u32, mss: u32) -> u32 {
    (flight / 2).max(2 * mss)
}

/// A ceiling that keeps the arithmetic far from overflow (1 GiB).
pub(super) const CWND_MAX: u32 = 1 << 30;

/// No congestion window at all: flow control only. Zero-sized.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

impl CongestionControl for Unlimited {
    fn name(&self) -> &'static str {
        "unlimited"
    }
    fn cwnd(&self) -> u32 {
        u32::MAX
    }
    fn ssthresh(&self) -> u32 {
        u32::MAX
    }
    fn on_ack(&mut self, _now: Instant, _acked: u32, _flight: u32, _rtt: Option<Duration>) {}
    fn on_loss(&mut self, _now: Instant, _flight: u32) {}
    fn on_rto(&mut self, _now: Instant, _flight: u32, _repeated: bool) {}
    fn set_cwnd(&mut self, _cwnd: u32) {}
    fn set_ssthresh(&mut self, _ssthresh: u32) {}
}

/// A fixed window: flow control only.
#[derive(Debug, Clone, Copy)]
pub struct FixedWindow(pub u32);

impl CongestionControl for FixedWindow {
    fn name(&self) -> &'static str {
        "fixed"
    }
    fn cwnd(&self) -> u32 {
        self.0
    }
    fn ssthresh(&self) -> u32 {
        u32::MAX
    }
    fn on_ack(&mut self, _now: Instant, _acked: u32, _flight: u32, _rtt: Option<Duration>) {}
    fn on_loss(&mut self, _now: Instant, _flight: u32) {}
    fn on_rto(&mut self, _now: Instant, _flight: u32, _repeated: bool) {}
    fn set_cwnd(&mut self, _cwnd: u32) {}
    fn set_ssthresh(&mut self, _ssthresh: u32) {}
}

/// The algorithm a connection runs, by value (no allocation).
#[derive(Debug, Clone, Copy)]
pub enum Cc {
    NewReno(NewReno),
    Cubic(cubic::Cubic),
}

impl Cc {
    pub fn new(algo: CongestionAlgorithm, mss: u32) -> Cc {
        match algo {
            CongestionAlgorithm::NewReno => Cc::NewReno(NewReno::new(mss)),
            CongestionAlgorithm::Cubic => Cc::Cubic(cubic::Cubic::new(mss)),
        }
    }

    fn inner(&mut self) -> &mut dyn CongestionControl {
        match self {
            Cc::NewReno(c) => c,
            Cc::Cubic(c) => c,
        }
    }

    fn inner_ref(&self) -> &dyn CongestionControl {
        match self {
            Cc::NewReno(c) => c,
            Cc::Cubic(c) => c,
        }
    }
}

impl CongestionControl for Cc {
    fn name(&self) -> &'static str {
        self.inner_ref().name()
    }
    fn cwnd(&self) -> u32 {
        self.inner_ref().cwnd()
    }
    fn ssthresh(&self) -> u32 {
        self.inner_ref().ssthresh()
    }
    fn on_ack(&mut self, now: Instant, acked: u32, flight: u32, rtt: Option<Duration>) {
        self.inner().on_ack(now, acked, flight, rtt)
    }
    fn on_loss(&mut self, now: Instant, flight: u32) {
        self.inner().on_loss(now, flight)
    }
    fn on_rto(&mut self, now: Instant, flight: u32, repeated: bool) {
        self.inner().on_rto(now, flight, repeated)
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.inner().set_cwnd(cwnd)
    }
    fn set_ssthresh(&mut self, ssthresh: u32) {
        self.inner().set_ssthresh(ssthresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_follows_rfc6928() {
        assert_eq!(initial_window(1460), 14600);
        assert_eq!(initial_window(536), 5360);
        // 2*MSS floor, 10*MSS ceiling.
        assert_eq!(initial_window(9000), 18000);
        assert_eq!(initial_window(100), 1000);
    }
}
