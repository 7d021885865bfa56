//! Which connections have a timer due, without scanning the table.
//!
//! A min-heap of (deadline, slot) with lazy deletion: a connection is
//! pushed when its earliest deadline moves below the one it is armed at
//! (`Slot::armed`), and entries that no longer match a connection's
//! deadlines are skipped when they come due (the connection is checked,
//! nothing fires). Stale entries are bounded: past `limit` the heap is
//! rebuilt from the table (`Tcp::rebuild_timers`), so memory stays
//! O(max_conns) however often deadlines move.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::Instant;

#[derive(Debug)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
    limit: usize,
}

impl TimerQueue {
    pub(crate) fn new(max_conns: usize) -> Self {
        Self::with_limit(max_conns.saturating_mul(4).max(64))
    }

    /// `limit` stale entries at most; the heap never holds more than
    /// [`TimerQueue::max_len`] entries, and is allocated for that many now
    /// (`push` never grows it).
    pub(crate) fn with_limit(limit: usize) -> Self {
        TimerQueue {
            heap: BinaryHeap::with_capacity(limit + 1),
            limit,
        }
    }

    /// Most entries the heap ever holds (one push past `limit`, then the
    /// table rebuilds it): what `pop_due` may hand out at once.
    pub(crate) fn max_len(&self) -> usize {
        self.limit + 1
    }

    pub(crate) fn push(&mut self, at: Instant, idx: u32) {
        self.heap.push(Reverse((at, idx)));
    }

    /// The earliest entry (possibly stale: a spurious wakeup, never a late one).
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Move every entry due at `now` into `due` (slot, armed instant).
    pub(crate) fn pop_due(&mut self, now: Instant, due: &mut Vec<(u32, Instant)>) {
        while let Some(&Reverse((t, idx))) = self.heap.peek() {
            if t > now {
                break;
            }
            self.heap.pop();
            due.push((idx, t));
        }
    }

    pub(crate) fn over_limit(&self) -> bool {
        self.heap.len() > self.limit
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}
