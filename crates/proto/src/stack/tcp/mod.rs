//! TCP for one worker, sans-IO: segments and `now` in, segments out.
//!
//! Split by path like Linux: `input` (segment arrival in synchronized
//! states, RFC 9293 3.10.7.3-4: checks and the ACK), `receive` (its text
//! and FIN, D-SACK), `listen` (LISTEN, SYN cookies, CLOSED),
//! `output` (building segments), `timer_table` (each connection's
//! deadlines, one per kind), `timers` (what each does when it fires:
//! retransmission, persist, keepalive, reapers), `time_wait`, `syncookies` (and ISNs, TSval
//! offsets), `options` negotiation, `reassembly` (bounded out-of-order
//! store), `icmp` (errors about our segments), `seq` arithmetic, `table`
//! (connections, listeners, buffer pool), `conn_index` (the keyed 4-tuple
//! hash), `fast_path` (header prediction for in-order data), `api` (what
//! services call), `ready` (per-listener readiness lists).
//!
//! Services: after each rx batch call [`Tcp::take_ready`] for your
//! listener and serve only the handles it returns (plus those you just
//! accepted); see `ready.rs` for what counts as an event.
//!
//! Wiring (for the worker / IPv4 layer):
//! - Input: for an IPv4 datagram to us with protocol 6, call
//!   [`Tcp::on_segment`]`(now, src_ip, dst_ip, ip_payload, sink)` with the
//!   payload trimmed to the IPv4 total length. We verify the TCP checksum
//!   over the pseudo-header ourselves; `Err(reason)` means dropped (count it;
//!   a RST or ACK may still have been sent).
//! - Output: [`SegmentSink::send_segment`]`(src, dst, len, fill)` asks for
//!   one IPv4 datagram of protocol 6 from `src.ip()` to `dst.ip()` whose
//!   payload is `len` bytes; `fill` writes the whole TCP segment including
//!   its checksum (computed with those addresses). Map it onto the IPv4
//!   sender; an `Err` is treated as loss (retransmission recovers).
//! - Time: call [`Tcp::poll`] whenever `now >= poll_at()` (`Instant::ZERO`
//!   means "now"): it fires timers and sends output queued by API calls.
//!   Run services (their `poll`) before it in the same loop iteration.
//! - ICMP errors quoting our segments: [`Tcp::on_icmp_error`].

mod api;
mod autotune;
mod buffer;
pub mod config;
pub mod congestion;
mod conn_index;
mod fast_path;
mod icmp;
mod input;
mod listen;
mod options;
mod output;
mod rack;
mod ready;
mod reassembly;
mod receive;
mod recovery;
mod rtt;
mod sack;
pub mod seq;
mod shard;
mod shutdown;
mod syncookies;
mod table;
mod tcb;
mod time_wait;
mod timer_queue;
mod timer_table;
mod timers;
mod tlp;

#[cfg(test)]
mod autotune_tests;
#[cfg(test)]
mod backpressure_tests;
#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod ready_tests;
#[cfg(test)]
mod recovery_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timer_queue_tests;

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

pub use config::{
    CloseReason, ConnId, ConnInfo, KeepaliveConfig, ListenerId, Readiness, State, TcpApiError,
    TcpConfig, TcpConfigError, TcpCounters,
};
pub use congestion::cubic::Cubic;
pub use congestion::{CongestionAlgorithm, CongestionControl, FixedWindow, NewReno, Unlimited};
pub use icmp::IcmpTcpError;
pub use seq::SeqNumber;
pub use shard::{SegmentFate, MIN_PORTS_PER_WORKER};

use crate::drop_reason::DropReason;
use crate::time::Instant;
use crate::wire::tcp::{TcpError, TcpPacket, TcpRepr};
use conn_index::{ConnHashBuilder, ConnKey};
use tcb::Tcb;

/// Where the TCP layer puts the segments it emits.
pub trait SegmentSink {
    /// Emit one TCP segment of `len` bytes (header+options+payload) from
    /// `src` to `dst`; `fill` writes it INCLUDING the checksum.
    fn send_segment<F: FnOnce(&mut [u8])>(
        &mut self,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        len: usize,
        fill: F,
    ) -> Result<(), DropReason>;

    /// Segments `send_segment` can take right now (the link's free
    /// frames). A connection stops building segments at 0 and stays queued
    /// until there is room again: what TCP sends is never dropped at our
    /// own ring and repaired by retransmission.
    fn room(&self) -> usize;
}

#[derive(Debug)]
pub(crate) struct Slot {
    generation: u32,
    tcb: Option<Tcb>,
    /// The deadline this slot has an entry for in `timers` (the earliest
    /// one pushed and not yet popped).
    armed: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Listener {
    port: u16,
    /// Embryonic connections (SYN-RECEIVED) counted against `syn_queue`.
    syn_count: usize,
    accept: VecDeque<ConnId>,
    /// Last time the SYN queue overflowed: cookies are only accepted soon after.
    last_overflow: Option<Instant>,
    /// Congestion control for connections accepted here.
    congestion: CongestionAlgorithm,
    /// Accepted connections with events not yet taken (`Tcp::take_ready`).
    ready: Vec<ConnId>,
}

/// The TCP layer of one worker.
#[derive(Debug)]
pub struct Tcp {
    cfg: TcpConfig,
    local_ip: Ipv4Addr,
    isn_key: [u8; 16],
    cookie_key: [u8; 16],
    port_counter: u32,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// (local port, remote) -> slot index, for every live, non-CLOSED connection.
    index: HashMap<ConnKey, u32, ConnHashBuilder>,
    /// Bumped whenever `index` gains or loses an entry, so `on_segment` can
    /// tell whether the slot it found still owns the tuple without hashing
    /// a second time.
    index_epoch: u64,
    listeners: Vec<Listener>,
    counters: TcpCounters,
    live: usize,
    /// The latest `now` seen, for ages in `connections()`.
    last_now: Instant,
    /// Connections with output to send at the next `poll` (each at most
    /// once), in the order they are served: round-robin, see `poll`.
    pending: VecDeque<u32>,
    /// `poll` is serving the queue: each connection has its share of the
    /// round (`TcpConfig::output_budget`).
    serving: bool,
    /// The last `poll` ran out of link room with connections still queued:
    /// until the next one serves them, new data waits behind them.
    starved: bool,
    /// Connections by their earliest deadline (kept by `touch`): `poll`
    /// visits only those whose timer is due.
    timers: timer_queue::TimerQueue,
    /// Scratch for `poll`: the entries that came due this time.
    due: Vec<(u32, Instant)>,
    /// Buffers of freed connections, reused so steady state allocates nothing.
    spare: Vec<(buffer::RingBuffer, buffer::RingBuffer)>,
    /// Bytes the live connections' rings grew by (`autotune`).
    buffers_grown: usize,
    time_wait_count: usize,
    /// RTT samples for the worker's histogram (`drain_rtt_samples`).
    rtt_sink: rtt::RttSink,
    /// This worker's slice of the ephemeral ports (`shard.rs`).
    share: shard::PortShare,
    /// While a segment is handled: it may go to a sibling instead of being
    /// answered, and whether it did (`Tcp::on_segment_searching`).
    may_pass_on: bool,
    passed_on: bool,
    /// Tests compare the header-prediction path with the general one.
    #[cfg(test)]
    fast_path_off: bool,
    #[cfg(test)]
    fast_path_hits: u64,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Tcp {
    /// `secret` keys ISNs (RFC 6528) and SYN cookies (RFC 4987); `seed`
    /// picks where the ephemeral port search starts (RFC 6056).
    pub fn new(config: TcpConfig, local: Ipv4Addr, secret: [u8; 32], seed: u64) -> Self {
        let mut isn_key = [0u8; 16];
        let mut cookie_key = [0u8; 16];
        isn_key.copy_from_slice(&secret[..16]);
        cookie_key.copy_from_slice(&secret[16..]);
        let max = config.max_conns;
        let timers = timer_queue::TimerQueue::new(max);
        Tcp {
            local_ip: local,
            isn_key,
            cookie_key,
            port_counter: splitmix(seed) as u32,
            slots: Vec::with_capacity(max),
            free: Vec::with_capacity(max),
            index: HashMap::with_capacity_and_hasher(max, ConnHashBuilder::new(&isn_key)),
            index_epoch: 0,
            listeners: Vec::with_capacity(config.max_listeners),
            counters: TcpCounters::default(),
            live: 0,
            last_now: Instant::ZERO,
            pending: VecDeque::with_capacity(max),
            serving: false,
            starved: false,
            // Sized for everything the heap can hold, so no burst of due
            // timers grows it.
            due: Vec::with_capacity(timers.max_len()),
            timers,
            spare: Vec::with_capacity(max),
            buffers_grown: 0,
            time_wait_count: 0,
            rtt_sink: rtt::RttSink::new(),
            share: shard::PortShare::new(config.ephemeral_ports, 0, 1),
            may_pass_on: false,
            passed_on: false,
            cfg: config,
            #[cfg(test)]
            fast_path_off: false,
            #[cfg(test)]
            fast_path_hits: 0,
        }
    }

    pub fn config(&self) -> &TcpConfig {
        &self.cfg
    }

    pub fn local_addr(&self) -> Ipv4Addr {
        self.local_ip
    }

    pub fn counters(&self) -> &TcpCounters {
        &self.counters
    }

    /// Hand every RTT sample taken since the last call to `f`, in
    /// nanoseconds (for the worker's histogram). At most 1024 are kept
    /// between calls; older ones are overwritten (`rtt_samples_overwritten`).
    pub fn drain_rtt_samples(&mut self, f: impl FnMut(u64)) {
        self.rtt_sink.drain(f)
    }

    /// RTT samples lost because `drain_rtt_samples` was not called often enough.
    pub fn rtt_samples_overwritten(&self) -> u64 {
        self.rtt_sink.overwritten
    }

    /// Handle one arriving segment (TCP header + payload) sent from `src` to
    /// `dst`. `Err` means the segment was dropped (a RST or ACK may still
    /// have been sent in answer); the caller counts the reason.
    ///
    /// `now` should be when the frame was picked up from the rx ring (the
    /// worker passes the batch's pickup time), not when the stack got to
    /// it: RTT samples are measured to `now`, so a late `now` would add
    /// the worker's queueing delay to every RTT and RTO.
    pub fn on_segment(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        segment: &[u8],
        out: &mut impl SegmentSink,
    ) -> Result<(), DropReason> {
        let epoch = self.index_epoch;
        let (r, found) = self.on_segment_inner(now, src, dst, segment, out);
        if self.index_epoch == epoch {
            // The index is unchanged: the slot found (if any) still owns
            // the tuple, and no connection was created for it.
            if let Some(idx) = found {
                self.touch(idx);
            }
        } else if let [sp0, sp1, dp0, dp1, ..] = *segment {
            let remote = SocketAddrV4::new(src, u16::from_be_bytes([sp0, sp1]));
            let key = ConnKey::new(u16::from_be_bytes([dp0, dp1]), remote);
            if let Some(&idx) = self.index.get(&key) {
                self.touch(idx);
            }
        }
        r
    }

    /// The verdict, and the slot the segment was delivered to (if any).
    fn on_segment_inner(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        segment: &[u8],
        out: &mut impl SegmentSink,
    ) -> (Result<(), DropReason>, Option<u32>) {
        self.counters.in_segs += 1;
        self.last_now = self.last_now.max(now);
        let repr = match TcpPacket::new_checked(segment).and_then(|p| TcpRepr::parse(&p, src, dst))
        {
            Ok(r) => r,
            Err(e) => return (Err(drop_reason(e)), None),
        };
        //= https://www.rfc-editor.org/rfc/rfc1122#section-4.2.3.10
        //# A TCP implementation MUST silently discard an incoming SYN segment
        //# that is addressed to a broadcast or multicast address.
        if src == dst || src == self.local_ip {
            // LAND attack: a segment "from" ourselves.
            return (Err(DropReason::TcpLand), None);
        }
        if src.is_broadcast() || src.is_multicast() || src.is_unspecified() || repr.src_port == 0 {
            return (Err(DropReason::TcpBadSourceAddr), None);
        }
        if dst.is_broadcast() || dst.is_multicast() {
            return (Err(DropReason::TcpBadSourceAddr), None);
        }
        let local = SocketAddrV4::new(dst, repr.dst_port);
        let remote = SocketAddrV4::new(src, repr.src_port);
        if let Some(&idx) = self.index.get(&ConnKey::new(local.port(), remote)) {
            let before = self.app_events(idx);
            let r = self.segment_for_conn(now, idx, &repr, out);
            self.note_app_events(idx, before);
            return (r, Some(idx));
        }
        (
            self.segment_without_conn(now, local, remote, &repr, out),
            None,
        )
    }

    /// Timers and pending output of every connection.
    pub fn poll(&mut self, now: Instant, out: &mut impl SegmentSink) {
        self.last_now = self.last_now.max(now);
        // This poll serves the waiting connections (timers first).
        self.starved = false;
        if self.timers.next().is_some_and(|t| t <= now) {
            let mut due = std::mem::take(&mut self.due);
            self.timers.pop_due(now, &mut due);
            for &(idx, at) in &due {
                if let Some(s) = self.slots.get_mut(idx as usize) {
                    if s.armed == Some(at) {
                        s.armed = None;
                    }
                }
            }
            for &(idx, _) in &due {
                // A stale entry (deadline moved or slot reused) just
                // re-arms the connection at its real deadline below.
                let Some(t) = self.tcb(idx) else { continue };
                if t.timer_deadline(self.keepalive_deadline(t))
                    .is_some_and(|d| d <= now)
                {
                    let before = self.app_events(idx);
                    self.on_timers(now, idx, out);
                    self.note_app_events(idx, before);
                }
                if self.tcb(idx).is_some_and(|t| t.needs_output) {
                    self.output(now, idx, out);
                }
                self.touch(idx);
            }
            due.clear();
            self.due = due;
        }
        self.serve_pending(now, out);
    }

    /// Output of the queued connections, round-robin: each sends at most
    /// `output_budget` segments per round and, if it has more, goes to the
    /// back of the queue; rounds go on while the link has room. Those not
    /// reached keep their place at the front for the next turn, when the
    /// completions the worker reclaims have freed room.
    fn serve_pending(&mut self, now: Instant, out: &mut impl SegmentSink) {
        self.serving = true;
        loop {
            // Each connection is in the queue at most once: one round
            // serves each once.
            let round = self.pending.len();
            if round == 0 {
                break;
            }
            let before = self.counters.out_segs;
            for _ in 0..round {
                if out.room() == 0 {
                    break;
                }
                let Some(idx) = self.pending.pop_front() else {
                    break;
                };
                let Some(t) = self.tcb_mut(idx) else { continue };
                t.queued = false;
                // Queues itself again (at the back) if it stalled.
                self.output(now, idx, out);
                self.note_timer(idx);
            }
            if out.room() == 0 || self.counters.out_segs == before {
                break;
            }
        }
        self.serving = false;
        self.starved = !self.pending.is_empty();
    }

    /// When `poll` should next run; `Instant::ZERO` means now (output pending).
    pub fn poll_at(&self) -> Option<Instant> {
        if self.pending.is_empty() {
            self.timers.next()
        } else {
            Some(Instant::ZERO)
        }
    }

    /// After anything changed a connection: queue its output and lower the
    /// timer bound to its deadlines.
    pub(crate) fn touch(&mut self, idx: u32) {
        self.note_timer(idx);
        self.queue_output(idx);
    }

    /// Queue the connection for the next `poll` if it has output.
    #[inline]
    pub(crate) fn queue_output(&mut self, idx: u32) {
        let Some(t) = self
            .slots
            .get_mut(idx as usize)
            .and_then(|s| s.tcb.as_mut())
        else {
            return;
        };
        if t.needs_output && !t.queued {
            t.queued = true;
            self.pending.push_back(idx);
        }
    }

    #[inline]
    fn note_timer(&mut self, idx: u32) {
        let Some(t) = self.tcb(idx) else { return };
        let Some(d) = t.timer_deadline(self.keepalive_deadline(t)) else {
            return;
        };
        let slot = &mut self.slots[idx as usize];
        if slot.armed.is_none_or(|a| d < a) {
            slot.armed = Some(d);
            self.timers.push(d, idx);
            if self.timers.over_limit() {
                self.rebuild_timers();
            }
        }
    }

    /// Drop every stale entry: one entry per connection with a deadline.
    fn rebuild_timers(&mut self) {
        self.timers.clear();
        for idx in 0..self.slots.len() as u32 {
            self.slots[idx as usize].armed = None;
            self.note_timer(idx);
        }
    }
}

fn drop_reason(e: TcpError) -> DropReason {
    match e {
        TcpError::Truncated => DropReason::TcpTruncated,
        TcpError::BadHeaderLen | TcpError::TooLong => DropReason::TcpBadHeaderLen,
        TcpError::BadChecksum => DropReason::TcpBadChecksum,
        TcpError::BadFlags => DropReason::TcpBadFlags,
    }
}
