//! Buffer autotuning: a connection's rings start small (`send_buffer`,
//! `recv_buffer`) and grow to what its path needs, up to `send_buffer_max`
//! and `recv_buffer_max`, while the sum over the worker's connections
//! stays within `buffer_budget` (past it growth stops; nothing already
//! accepted is dropped, and a ring never shrinks while in use).
//!
//! Receive side, dynamic right-sizing in the manner of Linux's
//! `tcp_rcv_space_adjust`: once per round trip, if the application read
//! more than in the best round so far, the ring grows to twice that, so
//! the window stays ahead of a sender that is still speeding up. The
//! round is at least `ROUND_MIN`, the precision the timers work at, so on
//! a sub-millisecond path a round's reads span several RTTs and the window
//! errs on the large side. The window scale is fixed at the handshake from
//! `recv_buffer_max` (`TcpConfig::rcv_wscale`), so a grown ring can be
//! advertised in full.
//!
//! Send side, as Linux's `tcp_sndbuf_expand`: when the application finds
//! the ring full, it grows to hold twice the data the windows let us have
//! in flight (the smaller of cwnd and the peer's largest window), so the
//! congestion window is never starved by the buffer.

use std::time::Duration;

use super::congestion::CongestionControl;
use super::Tcp;

/// The shortest round a receive measurement spans.
const ROUND_MIN: Duration = Duration::from_millis(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ring {
    Send,
    Recv,
}

impl Tcp {
    /// The application read `n` bytes from connection `idx`.
    pub(crate) fn autotune_after_read(&mut self, idx: u32, n: usize) {
        let now = self.last_now;
        let max = self.cfg.recv_buffer_max;
        let Some(t) = self.tcb_mut(idx) else { return };
        if t.recv_buf.capacity() >= max || t.fin_received {
            return;
        }
        t.rcv_copied = t.rcv_copied.saturating_add(n);
        let Some(start) = t.rcv_round_start else {
            t.rcv_round_start = Some(now);
            return;
        };
        let round = t.rtt.srtt().unwrap_or(ROUND_MIN).max(ROUND_MIN);
        if now.saturating_since(start) < round {
            return;
        }
        let copied = std::mem::take(&mut t.rcv_copied);
        t.rcv_round_start = Some(now);
        if copied <= t.rcv_space {
            return;
        }
        t.rcv_space = copied;
        let want = copied.saturating_mul(2);
        if want > t.recv_buf.capacity() && self.grow_ring(idx, Ring::Recv, want) {
            if let Some(t) = self.tcb_mut(idx) {
                // Tell the peer about the room at once.
                t.ack_pending = true;
                t.needs_output = true;
            }
        }
    }

    /// The application found the send ring of `idx` full: grow it if the
    /// windows could keep more in flight. Returns whether it grew.
    pub(crate) fn autotune_send_full(&mut self, idx: u32) -> bool {
        match self.send_growth_wanted(idx) {
            Some(want) => self.grow_ring(idx, Ring::Send, want),
            None => false,
        }
    }

    /// The size the windows ask the send ring of `idx` to hold, when that
    /// is more than it holds: twice what may be in flight.
    fn send_growth_wanted(&self, idx: u32) -> Option<usize> {
        let t = self.tcb(idx)?;
        let in_flight_room = t.cc.cwnd().min(t.max_snd_wnd.max(t.smss())) as usize;
        let want = in_flight_room.saturating_mul(2);
        (want > t.send_buf.capacity()).then_some(want)
    }

    /// What the send ring of `idx` would grow to on a full write, if the
    /// budget lets it (`send_capacity` promises that room).
    pub(crate) fn send_growth(&self, idx: u32) -> Option<usize> {
        let want = self.send_growth_wanted(idx)?;
        let cap = self.tcb(idx)?.send_buf.capacity();
        let new = self.grown_size(Ring::Send, cap, want);
        (new > cap && self.budget_allows(new - cap)).then_some(new)
    }

    /// The size a ring of `cap` bytes asked to hold `want` grows to: at
    /// least double, at most the configured maximum.
    fn grown_size(&self, ring: Ring, cap: usize, want: usize) -> usize {
        let (base, max) = match ring {
            Ring::Send => (self.cfg.send_buffer, self.cfg.send_buffer_max),
            Ring::Recv => (self.cfg.recv_buffer, self.cfg.recv_buffer_max),
        };
        if cap >= max {
            return cap;
        }
        want.max(cap.saturating_mul(2)).min(max).max(base)
    }

    /// Every live connection may hold its initial rings; what grew is
    /// counted exactly.
    fn budget_allows(&self, delta: usize) -> bool {
        let floor = self
            .live
            .saturating_mul(self.cfg.send_buffer + self.cfg.recv_buffer);
        floor
            .saturating_add(self.buffers_grown)
            .saturating_add(delta)
            <= self.cfg.buffer_budget
    }

    /// Grow one ring of `idx` to at least `want` bytes (see `grown_size`)
    /// if the budget has room.
    fn grow_ring(&mut self, idx: u32, ring: Ring, want: usize) -> bool {
        let Some(t) = self.tcb(idx) else {
            return false;
        };
        let cap = match ring {
            Ring::Send => t.send_buf.capacity(),
            Ring::Recv => t.recv_buf.capacity(),
        };
        let new = self.grown_size(ring, cap, want);
        if new <= cap {
            return false;
        }
        let delta = new - cap;
        if !self.budget_allows(delta) {
            self.counters.buffer_growth_refused += 1;
            return false;
        }
        let Some(t) = self.tcb_mut(idx) else {
            return false;
        };
        match ring {
            Ring::Send => t.send_buf.grow(new),
            Ring::Recv => t.recv_buf.grow(new),
        }
        self.buffers_grown += delta;
        match ring {
            Ring::Send => self.counters.send_buffer_grows += 1,
            Ring::Recv => self.counters.recv_buffer_grows += 1,
        }
        true
    }

    /// A connection's rings leave it: what they grew by is free again.
    pub(crate) fn autotune_release(&mut self, send_cap: usize, recv_cap: usize) {
        let grown = send_cap.saturating_sub(self.cfg.send_buffer)
            + recv_cap.saturating_sub(self.cfg.recv_buffer);
        self.buffers_grown = self.buffers_grown.saturating_sub(grown);
    }
}
