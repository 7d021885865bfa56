//! The impairment engine of one direction: decides each frame's fate from
//! a seeded stream and keeps held frames in a pool preallocated at
//! construction.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use serde::Serialize;

use super::config::DirectionImpair;
use xskd_proto::drop_reason::DropReason;
use xskd_proto::time::Instant;

/// Where a frame goes when it leaves: the stack (rx) or the inner sink (tx).
pub(super) type Emit<'e> = dyn FnMut(&[u8]) -> Result<(), DropReason> + 'e;

/// Counters of one direction. At any time
/// `frames in + duplicated = passed + dropped + rate_dropped + queue_dropped
/// + refused + held` (a refused live tx frame is also reported to the stack).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirectionCounters {
    /// Frames (copies included) that left this direction.
    pub passed: u64,
    /// Lost to `drop`, `drop_every` or `drop_burst`.
    pub dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Frames held back so later ones overtook them.
    pub reordered: u64,
    /// Frames with one bit flipped.
    pub corrupted: u64,
    /// Frames that waited in the held queue for delay or rate.
    pub delayed: u64,
    /// Dropped because the rate limiter's queue was full.
    pub rate_dropped: u64,
    /// Dropped because the held queue was full for a delay.
    pub queue_dropped: u64,
    /// Refused by the inner sink (tx only; ring full, frame too big).
    pub refused: u64,
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fixed forever, so
/// a seed means the same run in every build.
#[derive(Clone, Debug)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        let mut r = Rng(seed);
        // Decorrelate nearby seeds before the first draw.
        let s = r.next_u64();
        Rng(s)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p`. Draws nothing when `p` is 0 or 1, so an
    /// impairment that is off costs nothing; the stream (and so the output)
    /// is fixed for a given seed *and* settings.
    pub(super) fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        let unit = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        unit < p
    }

    /// Uniform in `0..n`; `n` must be at least 1.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// A reordered frame waiting for `gap` frames to overtake it.
#[derive(Clone, Copy, Debug)]
struct Reordered {
    slot: u32,
    gap: u32,
    deadline: Instant,
}

/// A frame about to leave: fresh bytes, or a pool slot.
#[derive(Clone, Copy)]
enum Src<'a> {
    Live(&'a [u8]),
    Slot(u32),
}

enum Outcome {
    Emitted,
    /// Now held in the reorder list (a slot source stays there).
    Held,
    Failed(DropReason),
}

const ETH_HLEN: usize = 14;

pub(super) struct Direction {
    cfg: DirectionImpair,
    active: bool,
    rng: Rng,
    pub(super) counters: DirectionCounters,
    /// Pool of held frames, `queue_frames` buffers of `max_frame` capacity,
    /// allocated only when the direction can hold frames.
    bufs: Vec<Vec<u8>>,
    free: Vec<u32>,
    /// Delayed and rate-limited frames by (due, arrival order).
    timed: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    /// Reordered frames in the order they were held.
    reordered: Vec<Reordered>,
    /// Where a corrupted copy is made.
    scratch: Vec<u8>,
    /// Where the stack writes a tx frame before it is judged.
    pub(super) stage: Vec<u8>,
    /// Frames seen, for the drop patterns.
    index: u64,
    seq: u64,
    /// Rate limiter (GCRA): theoretical arrival time and the last departure,
    /// which keeps the queue first-in first-out.
    tat: Instant,
    last_departure: Instant,
    now: Instant,
}

impl Direction {
    pub(super) fn new(cfg: &DirectionImpair, seed: u64, max_frame: usize) -> Direction {
        let pool = if cfg.needs_queue() {
            cfg.queue_frames
        } else {
            0
        };
        Direction {
            cfg: cfg.clone(),
            active: cfg.is_active(),
            rng: Rng::new(seed),
            counters: DirectionCounters::default(),
            bufs: (0..pool).map(|_| Vec::with_capacity(max_frame)).collect(),
            free: (0..pool as u32).rev().collect(),
            timed: BinaryHeap::with_capacity(pool),
            reordered: Vec::with_capacity(pool),
            scratch: Vec::with_capacity(max_frame),
            stage: Vec::with_capacity(max_frame),
            index: 0,
            seq: 0,
            tat: Instant::ZERO,
            last_departure: Instant::ZERO,
            now: Instant::ZERO,
        }
    }

    pub(super) fn is_active(&self) -> bool {
        self.active
    }

    /// Time never goes backwards here, whatever the caller passes.
    pub(super) fn set_now(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    pub(super) fn now(&self) -> Instant {
        self.now
    }

    /// Frames held right now (never more than `queue_frames`).
    pub(super) fn held(&self) -> usize {
        self.timed.len() + self.reordered.len()
    }

    /// The earliest instant a held frame is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        let timed = self.timed.peek().map(|Reverse((due, _, _))| *due);
        let reordered = self.reordered.iter().map(|r| r.deadline).min();
        match (timed, reordered) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A frame enters this direction. `Err` only when the frame (its first
    /// copy) was due now and `emit` refused it.
    pub(super) fn ingress(&mut self, frame: &[u8], emit: &mut Emit<'_>) -> Result<(), DropReason> {
        if !self.active {
            let r = emit(frame);
            self.count_emit(&r);
            return r;
        }
        let i = self.index;
        self.index += 1;
        if self.pattern_drops(i) || self.rng.chance(self.cfg.drop) {
            self.counters.dropped += 1;
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut data = frame;
        if self.rng.chance(self.cfg.corrupt) {
            scratch.clear();
            scratch.extend_from_slice(frame);
            if flip_one_bit(&mut scratch, &mut self.rng) {
                self.counters.corrupted += 1;
                data = &scratch;
            }
        }
        let dup = self.rng.chance(self.cfg.duplicate);
        let r = self.schedule(data, emit);
        if dup {
            self.counters.duplicated += 1;
            // The copy's fate is its own; a refused copy is only counted.
            let _ = self.schedule(data, emit);
        }
        self.scratch = scratch;
        r
    }

    fn pattern_drops(&self, i: u64) -> bool {
        if let Some(n) = self.cfg.drop_every {
            if n > 0 && (i + 1) % n == 0 {
                return true;
            }
        }
        if let Some(b) = self.cfg.drop_burst {
            let cycle = b.pass.saturating_add(b.drop);
            if cycle > 0 && i % cycle >= b.pass {
                return true;
            }
        }
        false
    }

    /// Delay and rate: hold the frame until it is due, or let it leave now.
    fn schedule(&mut self, data: &[u8], emit: &mut Emit<'_>) -> Result<(), DropReason> {
        let mut due = self.now;
        if self.cfg.delay_us > 0 || self.cfg.jitter_us > 0 {
            let jitter = if self.cfg.jitter_us > 0 {
                self.rng.below(self.cfg.jitter_us + 1)
            } else {
                0
            };
            due += Duration::from_micros(self.cfg.delay_us.saturating_add(jitter));
        }
        let ready = due;
        let mut tat = self.tat;
        if let Some(rate) = self.cfg.rate_bytes_per_sec {
            let cost = nanos_for(data.len() as u64, rate);
            let tolerance = nanos_for(self.cfg.rate_burst_bytes, rate);
            let earliest = self.tat - tolerance;
            due = ready.max(earliest).max(self.last_departure);
            tat = self.tat.max(due) + cost;
        }
        if due > self.now {
            let Some(slot) = self.store(data) else {
                if due > ready {
                    self.counters.rate_dropped += 1;
                } else {
                    self.counters.queue_dropped += 1;
                }
                return Ok(());
            };
            self.commit_rate(tat, due);
            self.seq += 1;
            self.timed.push(Reverse((due, self.seq, slot)));
            self.counters.delayed += 1;
            return Ok(());
        }
        self.commit_rate(tat, due);
        match self.egress(Src::Live(data), emit) {
            Outcome::Emitted | Outcome::Held => Ok(()),
            Outcome::Failed(e) => Err(e),
        }
    }

    fn commit_rate(&mut self, tat: Instant, departure: Instant) {
        if self.cfg.rate_bytes_per_sec.is_some() {
            self.tat = tat;
            self.last_departure = departure;
        }
    }

    fn store(&mut self, data: &[u8]) -> Option<u32> {
        let slot = self.free.pop()?;
        let buf = &mut self.bufs[slot as usize];
        buf.clear();
        buf.extend_from_slice(data);
        Some(slot)
    }

    fn count_emit(&mut self, r: &Result<(), DropReason>) {
        match r {
            Ok(()) => self.counters.passed += 1,
            Err(_) => self.counters.refused += 1,
        }
    }

    /// A frame would leave now: maybe hold it back (reorder), else emit it
    /// and let it count towards the gap of the frames held back before it.
    fn egress(&mut self, src: Src<'_>, emit: &mut Emit<'_>) -> Outcome {
        if self.rng.chance(self.cfg.reorder) {
            let slot = match src {
                Src::Slot(s) => Some(s),
                Src::Live(d) => self.store(d),
            };
            // With the pool full the frame simply leaves in order.
            if let Some(slot) = slot {
                self.reordered.push(Reordered {
                    slot,
                    gap: self.cfg.reorder_gap.max(1),
                    deadline: self.now + Duration::from_micros(self.cfg.reorder_timeout_us),
                });
                self.counters.reordered += 1;
                return Outcome::Held;
            }
        }
        let r = match src {
            Src::Live(d) => emit(d),
            Src::Slot(s) => emit(&self.bufs[s as usize]),
        };
        self.count_emit(&r);
        if let Err(e) = r {
            return Outcome::Failed(e);
        }
        if let Src::Slot(s) = src {
            self.free.push(s);
        }
        self.overtake(emit);
        Outcome::Emitted
    }

    /// One frame overtook every reordered frame; those whose gap is used up
    /// leave right behind it.
    fn overtake(&mut self, emit: &mut Emit<'_>) {
        let mut i = 0;
        while i < self.reordered.len() {
            let r = &mut self.reordered[i];
            r.gap = r.gap.saturating_sub(1);
            if r.gap == 0 {
                let slot = r.slot;
                let res = emit(&self.bufs[slot as usize]);
                self.count_emit(&res);
                if res.is_ok() {
                    self.reordered.remove(i);
                    self.free.push(slot);
                    continue;
                }
                // Refused: it stays, due, and is retried by `release_due`.
            }
            i += 1;
        }
    }

    /// Emit held frames that are due, at most `limit`. Stops early when
    /// `emit` refuses (the frame stays held for the next call).
    pub(super) fn release_due(&mut self, limit: usize, emit: &mut Emit<'_>) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < self.reordered.len() && n < limit {
            let r = self.reordered[i];
            if r.gap == 0 || r.deadline <= self.now {
                let res = emit(&self.bufs[r.slot as usize]);
                match res {
                    Ok(()) => {
                        self.counters.passed += 1;
                        self.reordered.remove(i);
                        self.free.push(r.slot);
                        n += 1;
                        continue;
                    }
                    Err(DropReason::TxFrameTooBig) => {
                        self.counters.refused += 1;
                        self.reordered.remove(i);
                        self.free.push(r.slot);
                        continue;
                    }
                    Err(_) => {
                        self.counters.refused += 1;
                        return n;
                    }
                }
            }
            i += 1;
        }
        while n < limit {
            let Some(&Reverse((due, seq, slot))) = self.timed.peek() else {
                break;
            };
            if due > self.now {
                break;
            }
            self.timed.pop();
            match self.egress(Src::Slot(slot), emit) {
                Outcome::Emitted => n += 1,
                Outcome::Held => {}
                Outcome::Failed(DropReason::TxFrameTooBig) => self.free.push(slot),
                Outcome::Failed(_) => {
                    self.timed.push(Reverse((due, seq, slot)));
                    break;
                }
            }
        }
        n
    }
}

/// Time `bytes` take at `rate` bytes per second.
fn nanos_for(bytes: u64, rate: u64) -> Duration {
    let ns = u128::from(bytes) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// The bytes of an IPv4 frame that a checksum covers, and the offset of a
/// UDP checksum field if there is one. `None` for anything else (ARP has no
/// checksum: corrupting it would be undetectable).
fn checked_range(frame: &[u8]) -> Option<(usize, usize, Option<usize>)> {
    if frame.len() < ETH_HLEN + 20 || frame[12..14] != [0x08, 0x00] || frame[ETH_HLEN] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(frame[ETH_HLEN] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    // Bytes past the IPv4 total length are Ethernet padding, covered by
    // nothing; a header that claims too little is left alone.
    let end = ETH_HLEN + total.min(frame.len() - ETH_HLEN);
    if ihl < 20 || end < ETH_HLEN + ihl {
        return None;
    }
    let first_fragment = u16::from_be_bytes([frame[20], frame[21]]) & 0x1fff == 0;
    let udp_csum = (frame[23] == 17 && first_fragment && end >= ETH_HLEN + ihl + 8)
        .then_some(ETH_HLEN + ihl + 6);
    if let Some(at) = udp_csum {
        //= https://www.rfc-editor.org/rfc/rfc768
        //# An all zero transmitted checksum value means that the transmitter
        //# generated no checksum
        // Then only the IPv4 header is protected, so only it may be hit.
        if frame[at] == 0 && frame[at + 1] == 0 {
            return Some((ETH_HLEN, ETH_HLEN + ihl, None));
        }
    }
    Some((ETH_HLEN, end, udp_csum))
}

/// Flip one random bit of the checksummed part. A single flipped bit
/// changes a 16-bit word by 2^k, which the one's-complement sum always
/// sees (RFC 1071), except that a UDP checksum field turned to zero would
/// mean "no checksum": then a neighbouring bit is flipped instead.
pub(super) fn flip_one_bit(frame: &mut [u8], rng: &mut Rng) -> bool {
    let Some((start, end, udp_csum)) = checked_range(frame) else {
        return false;
    };
    let at = start + rng.below((end - start) as u64) as usize;
    let mut bit = rng.below(8) as u8;
    if let Some(c) = udp_csum {
        if at == c || at == c + 1 {
            let other = if at == c { frame[c + 1] } else { frame[c] };
            if other == 0 && frame[at] ^ (1 << bit) == 0 {
                bit = (bit + 1) % 8;
            }
        }
    }
    frame[at] ^= 1 << bit;
    true
}
