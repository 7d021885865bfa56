//! The connection table (a slab with generation-checked handles and a
//! 4-tuple index, both sized once) and the listeners.

use std::net::SocketAddrV4;

use super::buffer::RingBuffer;
use super::config::{CloseReason, ConnId, ListenerId, State};
use super::conn_index::ConnKey;
use super::tcb::{Owner, Tcb};
use super::timer_table::Timer;
use super::{Listener, Slot, Tcp};
use crate::time::Instant;

impl Tcp {
    pub(crate) fn tcb(&self, idx: u32) -> Option<&Tcb> {
        self.slots.get(idx as usize)?.tcb.as_ref()
    }

    pub(crate) fn tcb_mut(&mut self, idx: u32) -> Option<&mut Tcb> {
        self.slots.get_mut(idx as usize)?.tcb.as_mut()
    }

    pub(crate) fn id_of(&self, idx: u32) -> ConnId {
        ConnId {
            index: idx,
            generation: self.slots[idx as usize].generation,
        }
    }

    /// Resolve a handle the application holds.
    pub(crate) fn resolve(&self, c: ConnId) -> Option<u32> {
        let s = self.slots.get(c.index as usize)?;
        let t = s.tcb.as_ref()?;
        (s.generation == c.generation && t.owner == Owner::App).then_some(c.index)
    }

    pub(crate) fn table_full(&self) -> bool {
        self.live >= self.cfg.max_conns
    }

    /// Insert a new connection; the caller has checked `table_full`.
    pub(crate) fn insert(&mut self, tcb: Tcb) -> Option<u32> {
        if self.table_full() {
            return None;
        }
        let key = ConnKey::new(tcb.local.port(), tcb.remote);
        let idx = match self.free.pop() {
            Some(i) => {
                let s = &mut self.slots[i as usize];
                s.tcb = Some(tcb);
                // Entries of the previous owner still in the queue are
                // stale; the new connection arms its own.
                s.armed = None;
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    tcb: Some(tcb),
                    armed: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(key, idx);
        self.index_epoch += 1;
        self.live += 1;
        Some(idx)
    }

    /// Drop the tuple's index entry if it still points at `idx`.
    fn unindex(&mut self, key: ConnKey, idx: u32) {
        if self.index.get(&key) == Some(&idx) {
            self.index.remove(&key);
            self.index_epoch += 1;
        }
    }

    /// Send and receive rings for a new connection: recycled if possible.
    pub(crate) fn take_buffers(&mut self) -> (RingBuffer, RingBuffer) {
        match self.spare.pop() {
            Some((mut s, mut r)) => {
                s.clear();
                r.clear();
                (s, r)
            }
            None => (
                RingBuffer::new(self.cfg.send_buffer),
                RingBuffer::new(self.cfg.recv_buffer),
            ),
        }
    }

    fn recycle(&mut self, t: &mut Tcb) {
        let s = std::mem::replace(&mut t.send_buf, RingBuffer::empty());
        let r = std::mem::replace(&mut t.recv_buf, RingBuffer::empty());
        self.autotune_release(s.capacity(), r.capacity());
        if s.capacity() == self.cfg.send_buffer
            && r.capacity() == self.cfg.recv_buffer
            && self.spare.len() < self.cfg.max_conns
        {
            self.spare.push((s, r));
        }
    }

    fn free_slot(&mut self, idx: u32) {
        if let Some(mut t) = self.slots[idx as usize].tcb.take() {
            self.unindex(ConnKey::new(t.local.port(), t.remote), idx);
            let s = &mut self.slots[idx as usize];
            s.generation = s.generation.wrapping_add(1);
            self.free.push(idx);
            self.live -= 1;
            self.recycle(&mut t);
        }
    }

    /// Move a connection to CLOSED. The slot is freed unless the application
    /// still holds the handle (it then observes CLOSED and the reason).
    pub(crate) fn close_conn(&mut self, idx: u32, reason: Option<CloseReason>) {
        let Some(t) = self.tcb_mut(idx) else { return };
        let was = t.state;
        if was == State::TimeWait {
            self.time_wait_count = self.time_wait_count.saturating_sub(1);
        }
        let Some(t) = self.tcb_mut(idx) else { return };
        t.state = State::Closed;
        t.close_reason = t.close_reason.or(reason);
        t.timers[Timer::Retransmit] = None;
        t.timers[Timer::State] = None;
        t.needs_output = false;
        let key = ConnKey::new(t.local.port(), t.remote);
        let owner = t.owner;
        self.unindex(key, idx);
        if let Owner::Listener(l) = owner {
            if was == State::SynReceived {
                if let Some(lis) = self.listener_mut(l) {
                    lis.syn_count = lis.syn_count.saturating_sub(1);
                }
            }
        }
        if owner != Owner::App {
            self.free_slot(idx);
        }
    }

    /// The application is done with the handle of a CLOSED connection.
    pub(crate) fn release(&mut self, idx: u32) {
        match self.tcb(idx).map(|t| t.state) {
            Some(State::Closed) => self.free_slot(idx),
            Some(state) => {
                let mut taken = self.slots[idx as usize].tcb.take();
                if let Some(t) = taken.as_mut() {
                    t.owner = Owner::Orphan;
                    if state == State::TimeWait {
                        self.recycle(t);
                    }
                }
                self.slots[idx as usize].tcb = taken;
            }
            None => {}
        }
    }

    pub(crate) fn enter_time_wait(&mut self, now: Instant, idx: u32) {
        let mut msl2 = self.cfg.msl.saturating_mul(2);
        if self.time_wait_count >= self.cfg.max_time_wait {
            // Too many: this one closes at the next poll (after its last
            // ACK goes out) rather than refuse newcomers.
            self.counters.time_wait_overflow += 1;
            msl2 = std::time::Duration::ZERO;
        }
        self.time_wait_count += 1;
        let orphan = self.tcb(idx).is_some_and(|t| t.owner != Owner::App);
        if orphan {
            // Nobody will read: the rings go back to the pool now.
            let mut bufs = self.slots[idx as usize].tcb.take();
            if let Some(t) = bufs.as_mut() {
                self.recycle(t);
            }
            self.slots[idx as usize].tcb = bufs;
        }
        if let Some(t) = self.tcb_mut(idx) {
            t.state = State::TimeWait;
            t.timers[Timer::Retransmit] = None;
            t.rtt_probe = None;
            //= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4
            //# Start the time-wait timer, turn off the other timers.
            t.timers[Timer::State] = Some(now + msl2);
        }
    }

    pub(crate) fn listener_mut(&mut self, l: ListenerId) -> Option<&mut Listener> {
        self.listeners.iter_mut().find(|x| x.port == l.0)
    }

    pub(crate) fn listener_index(&self, port: u16) -> Option<usize> {
        self.listeners.iter().position(|x| x.port == port)
    }

    pub(crate) fn new_listener(
        port: u16,
        accept_queue: usize,
        congestion: super::CongestionAlgorithm,
    ) -> Listener {
        Listener {
            port,
            congestion,
            syn_count: 0,
            accept: std::collections::VecDeque::with_capacity(accept_queue),
            ready: Vec::with_capacity(accept_queue),
            last_overflow: None,
        }
    }

    /// RFC 6056 algorithm 3: a keyed hash of the destination picks where the
    /// search starts, a counter moves it on, so ports are unpredictable to an
    /// off-path attacker yet spread per destination. Only this worker's
    /// slice of the range is searched (`shard.rs`).
    pub(crate) fn pick_ephemeral(&mut self, remote: SocketAddrV4) -> Option<u16> {
        let (lo, hi) = self.share.own()?;
        if lo == 0 || hi < lo {
            return None;
        }
        let num = u32::from(hi - lo) + 1;
        let local = SocketAddrV4::new(self.local_ip, 0);
        let offset = super::syncookies::isn(&self.isn_key, Instant::ZERO, local, remote).0;
        for i in 0..num {
            let port = lo + (offset.wrapping_add(self.port_counter).wrapping_add(i) % num) as u16;
            if self.index.contains_key(&ConnKey::new(port, remote))
                || self.listener_index(port).is_some()
            {
                continue;
            }
            self.port_counter = self.port_counter.wrapping_add(i + 1);
            return Some(port);
        }
        None
    }
}
