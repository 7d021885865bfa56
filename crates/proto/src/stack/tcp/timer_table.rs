//! A connection's timers in one table: one deadline per kind, so arming,
//! cancelling and finding the next one read the same way everywhere, and
//! a new timer is a new kind rather than a new loose field on `Tcb`.
//!
//! The worker-wide `timer_queue` holds one entry per connection, at the
//! earliest deadline of its table (`Tcb::timer_deadline`); when it fires,
//! `timers::on_timers` runs every kind that is due, in a fixed priority
//! order. Keepalive is not stored: it follows from the last segment
//! received and the configuration (`Tcp::keepalive_deadline`).

use std::ops::{Index, IndexMut};

use crate::time::Instant;

/// The kinds of per-connection timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Retransmission timeout (RFC 6298), and the persist timer while
    /// data waits behind a zero window with nothing outstanding
    /// (RFC 9293 3.8.6.1): the same timer with the same backoff.
    Retransmit,
    /// Loss probe (RFC 8985 7, see `tlp`).
    LossProbe,
    /// RACK reordering window (RFC 8985 6.3, see `rack`).
    Reorder,
    /// Delayed ACK (RFC 9293 3.8.6.3).
    DelayedAck,
    /// The state's own clock: TIME-WAIT expiry (2MSL), the FIN-WAIT-2
    /// and CLOSE-WAIT reapers.
    State,
}

const KINDS: usize = 5;

impl Timer {
    const fn slot(self) -> usize {
        match self {
            Timer::Retransmit => 0,
            Timer::LossProbe => 1,
            Timer::Reorder => 2,
            Timer::DelayedAck => 3,
            Timer::State => 4,
        }
    }
}

/// One deadline (or none) per [`Timer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerTable([Option<Instant>; KINDS]);

impl TimerTable {
    /// Whether `kind` is armed and its deadline has come.
    #[inline]
    pub fn due(&self, kind: Timer, now: Instant) -> bool {
        self[kind].is_some_and(|d| d <= now)
    }

    /// The earliest armed deadline, with `extra` (keepalive) weighed in.
    #[inline]
    pub fn earliest(&self, extra: Option<Instant>) -> Option<Instant> {
        // Runs after every event on the connection: plain comparisons, not
        // an iterator chain over the array (that was a third of the cost
        // of `Tcp::touch`).
        fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
            match (a, b) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, None) => x,
                (None, y) => y,
            }
        }
        let [a, b, c, d, e] = self.0;
        earlier(earlier(earlier(a, b), earlier(c, d)), earlier(e, extra))
    }
}

impl Index<Timer> for TimerTable {
    type Output = Option<Instant>;
    #[inline]
    fn index(&self, kind: Timer) -> &Option<Instant> {
        &self.0[kind.slot()]
    }
}

impl IndexMut<Timer> for TimerTable {
    #[inline]
    fn index_mut(&mut self, kind: Timer) -> &mut Option<Instant> {
        &mut self.0[kind.slot()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn earliest_is_the_smallest_armed_deadline_or_the_extra_one() {
        let mut t = TimerTable::default();
        assert_eq!(t.earliest(None), None);
        assert_eq!(t.earliest(Some(at(9))), Some(at(9)));
        t[Timer::State] = Some(at(50));
        t[Timer::LossProbe] = Some(at(7));
        t[Timer::DelayedAck] = Some(at(40));
        assert_eq!(t.earliest(None), Some(at(7)));
        assert_eq!(t.earliest(Some(at(3))), Some(at(3)));
        t[Timer::LossProbe] = None;
        assert_eq!(t.earliest(Some(at(60))), Some(at(40)));
    }

    #[test]
    fn kinds_are_independent_and_due_compares_with_now() {
        let mut t = TimerTable::default();
        t[Timer::Retransmit] = Some(at(200));
        t[Timer::Reorder] = Some(at(5));
        assert!(!t.due(Timer::Retransmit, at(199)));
        assert!(t.due(Timer::Retransmit, at(200)));
        assert!(t.due(Timer::Reorder, at(5)));
        assert!(
            !t.due(Timer::LossProbe, at(1000)),
            "an unarmed timer is never due"
        );
        t[Timer::Reorder] = None;
        assert_eq!(t[Timer::Retransmit], Some(at(200)));
        assert_eq!(t[Timer::Reorder], None);
    }
}
