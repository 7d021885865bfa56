//! When the bytes of a connection's input buffer arrived, so a pipelined
//! request's service time starts when its head came in, not when the
//! response before it was done.

use crate::time::Instant;

/// Arrivals tracked apart; beyond, the newest ones are merged into the
/// last kept, which keeps its (earlier) instant: a request may be timed
/// from a little before its head arrived, never from after.
const SLOTS: usize = 4;

#[derive(Debug)]
pub struct Arrivals {
    /// (end offset in the input buffer, instant), oldest first.
    at: [(usize, Instant); SLOTS],
    n: usize,
}

impl Arrivals {
    pub fn new() -> Self {
        Arrivals {
            at: [(0, Instant::ZERO); SLOTS],
            n: 0,
        }
    }

    /// The input buffer grew to `len` bytes at `now`.
    pub fn arrived(&mut self, len: usize, now: Instant) {
        if self.n > 0 && self.at[self.n - 1].0 >= len {
            return;
        }
        if self.n == SLOTS {
            self.at[SLOTS - 1].0 = len;
        } else {
            self.at[self.n] = (len, now);
            self.n += 1;
        }
    }

    /// The first `k` bytes of the input buffer were taken out.
    pub fn consumed(&mut self, k: usize) {
        let gone = self.at[..self.n]
            .iter()
            .take_while(|(end, _)| *end <= k)
            .count();
        self.at.copy_within(gone..self.n, 0);
        self.n -= gone;
        for (end, _) in &mut self.at[..self.n] {
            *end -= k;
        }
    }

    /// The buffer was emptied.
    pub fn clear(&mut self) {
        self.n = 0;
    }

    /// When byte `i` of the input buffer arrived (`fallback` if unknown).
    pub fn of_byte(&self, i: usize, fallback: Instant) -> Instant {
        self.at[..self.n]
            .iter()
            .find(|(end, _)| *end > i)
            .map_or(fallback, |(_, t)| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_keep_their_arrival_instants_as_the_front_is_consumed() {
        let t = Instant::from_secs;
        let mut a = Arrivals::new();
        a.arrived(10, t(1));
        a.arrived(25, t(2));
        assert_eq!(a.of_byte(9, t(9)), t(1));
        assert_eq!(a.of_byte(10, t(9)), t(2));
        a.consumed(12);
        assert_eq!(a.of_byte(0, t(9)), t(2), "byte 12 came at 2 s");
        assert_eq!(a.of_byte(13, t(9)), t(9), "past the end");
        a.consumed(13);
        assert_eq!(a.of_byte(0, t(9)), t(9), "all gone");
    }

    #[test]
    fn past_the_slots_new_bytes_take_the_last_kept_instant() {
        let t = Instant::from_secs;
        let mut a = Arrivals::new();
        for i in 1..=6 {
            a.arrived(i * 10, t(i as u64));
        }
        assert_eq!(a.of_byte(5, t(0)), t(1));
        assert_eq!(a.of_byte(35, t(0)), t(4));
        assert_eq!(a.of_byte(55, t(0)), t(4), "merged: earlier, never later");
    }
}
