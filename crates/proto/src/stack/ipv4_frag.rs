//! IPv4 fragment reassembly (RFC 791 section 3.2, RFC 815) with bounded memory.
//!
//! A fixed pool of slots is allocated when the stack starts: each slot can
//! hold one datagram of the largest possible size, so no fragment ever
//! allocates. Received data is tracked as a sorted list of disjoint byte
//! ranges (the complement of RFC 815's hole list); the datagram is complete
//! when the list is the single range `[0, total)`.
//!
//! Policy, because fragments are a classic attack surface:
//! - any overlap with data already received drops the whole datagram
//!   (`FragOverlap`), in the spirit of RFC 5722 for IPv6, except an exact
//!   duplicate of bytes already held, which is dropped alone
//!   (`FragDuplicate`) as in RFC 5722's errata 3089 and Linux;
//! - a datagram whose payload would exceed 65535 - 20 bytes is dropped whole
//!   (`FragTooBig`);
//! - inconsistent fragments (a second, different last fragment, data past
//!   the end, a non-last fragment not a multiple of 8 bytes, too many
//!   disjoint pieces) are `FragMalformed`;
//! - a new datagram when every slot is busy is `FragTableFull`;
//! - a datagram not complete within the timeout is freed (`FragTimeout`).

use std::net::Ipv4Addr;
use std::time::Duration;

use super::DropReason;
use crate::time::Instant;

/// Largest reassembled payload: a 65535-byte datagram minus a minimal header.
pub const MAX_PAYLOAD: usize = 65535 - 20;
/// Longest IPv4 header (IHL 15).
pub const MAX_HEADER: usize = 60;
/// Most disjoint pieces a datagram may be in before it is treated as hostile.
/// A 65515-byte datagram over a 576-byte MTU needs 118 fragments; only
/// reordering leaves them disjoint, and never all of them.
pub const MAX_PIECES: usize = 128;

/// What identifies a datagram being reassembled.
//= https://www.rfc-editor.org/rfc/rfc791#section-3.2
//# The internet identification field (ID) is used together with the
//# source and destination address, and the protocol fields, to identify
//# datagram fragments for reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ident: u16,
}

/// One received fragment, already validated as an IPv4 packet.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    pub key: FragKey,
    /// Byte offset of `payload` in the original datagram's payload.
    pub offset: usize,
    pub more_frags: bool,
    /// This fragment's IP header (kept from the offset-0 fragment, for ICMP).
    pub header: &'a [u8],
    pub payload: &'a [u8],
}

/// A complete datagram, borrowed from its (already freed) slot.
#[derive(Debug)]
pub struct Reassembled<'a> {
    pub key: FragKey,
    /// The header of the first fragment, as received.
    pub header: &'a [u8],
    pub payload: &'a [u8],
}

/// A datagram that timed out. `first` is the first fragment's header and
/// the payload bytes from offset 0 that arrived, when fragment zero was
/// received (RFC 1122 3.3.2 only allows an ICMP error in that case).
#[derive(Debug)]
pub struct Expired<'a> {
    pub key: FragKey,
    pub first: Option<(&'a [u8], &'a [u8])>,
}

#[derive(Clone, Debug)]
pub struct FragConfig {
    /// Datagrams reassembled at once; each holds a 64 KiB buffer.
    pub max_datagrams: usize,
    pub timeout: Duration,
}

impl Default for FragConfig {
    fn default() -> Self {
        //= https://www.rfc-editor.org/rfc/rfc1122#section-3.3.2
        //# There MUST be a reassembly timeout.  The reassembly timeout
        //# value SHOULD be a fixed value, not set from the remaining TTL.
        //# It is recommended that the value lie between 60 seconds and 120
        //# seconds.
        // Fixed, but 30 s (Linux's default) rather than 60-120: memory held
        // by an attacker's partial datagrams matters more to us than very
        // slow paths. Configurable.
        FragConfig {
            max_datagrams: 64,
            timeout: Duration::from_secs(30),
        }
    }
}

struct Slot {
    active: bool,
    key: FragKey,
    deadline: Instant,
    /// Sorted, disjoint, non-adjacent `[start, end)` ranges received.
    pieces: Vec<(u32, u32)>,
    /// Payload length, once the last fragment arrived.
    total: Option<u32>,
    header: [u8; MAX_HEADER],
    /// 0 until fragment zero arrived.
    header_len: usize,
    buf: Box<[u8]>,
}

impl Slot {
    fn new() -> Self {
        Slot {
            active: false,
            key: FragKey {
                src: Ipv4Addr::UNSPECIFIED,
                dst: Ipv4Addr::UNSPECIFIED,
                protocol: 0,
                ident: 0,
            },
            deadline: Instant::ZERO,
            pieces: Vec::with_capacity(MAX_PIECES),
            total: None,
            header: [0; MAX_HEADER],
            header_len: 0,
            buf: vec![0u8; MAX_PAYLOAD].into_boxed_slice(),
        }
    }

    fn reset(&mut self, key: FragKey, deadline: Instant) {
        self.active = true;
        self.key = key;
        self.deadline = deadline;
        self.pieces.clear();
        self.total = None;
        self.header_len = 0;
    }

    fn is_complete(&self) -> bool {
        matches!((self.total, self.pieces.as_slice()), (Some(t), [(0, e)]) if *e == t)
    }

    /// Bytes from offset 0 that arrived contiguously.
    fn first_run(&self) -> &[u8] {
        match self.pieces.first() {
            Some(&(0, e)) => &self.buf[..e as usize],
            _ => &[],
        }
    }

    /// Record `[start, end)`; Err on overlap or when too fragmented.
    fn insert(&mut self, start: u32, end: u32) -> Result<(), DropReason> {
        // First piece that ends at or after `start` (may touch or overlap).
        let i = self.pieces.partition_point(|&(_, e)| e < start);
        let mut new = (start, end);
        let mut j = i;
        while let Some(&(s, e)) = self.pieces.get(j) {
            if s > end {
                break;
            }
            if s < end && e > start {
                return Err(DropReason::FragOverlap);
            }
            // Adjacent: merge.
            new = (new.0.min(s), new.1.max(e));
            j += 1;
        }
        if i == j && self.pieces.len() >= MAX_PIECES {
            return Err(DropReason::FragMalformed);
        }
        // Replace pieces[i..j] by `new` without allocating: capacity is
        // MAX_PIECES and the length never exceeds it.
        self.pieces.drain(i..j);
        self.pieces.insert(i, new);
        Ok(())
    }
}

/// The reassembly table: a fixed pool of 64 KiB slots.
pub struct Reassembler {
    slots: Vec<Slot>,
    timeout: Duration,
    in_use: usize,
}

impl Reassembler {
    pub fn new(config: &FragConfig) -> Self {
        Reassembler {
            slots: (0..config.max_datagrams).map(|_| Slot::new()).collect(),
            timeout: config.timeout,
            in_use: 0,
        }
    }

    /// Slots currently holding a partial datagram.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn find(&self, key: &FragKey) -> Option<usize> {
        self.slots.iter().position(|s| s.active && s.key == *key)
    }

    fn free(&mut self, idx: usize) {
        if self.slots[idx].active {
            self.slots[idx].active = false;
            self.in_use -= 1;
        }
    }

    /// Add a fragment. `Ok(Some(..))` when it completed its datagram,
    /// `Ok(None)` while waiting for more, `Err(reason)` when the fragment
    /// (and, for overlap/too big/inconsistency, its whole datagram) was
    /// dropped.
    pub fn add(
        &mut self,
        now: Instant,
        frag: Fragment<'_>,
    ) -> Result<Option<Reassembled<'_>>, DropReason> {
        let start = frag.offset;
        let end = frag.offset.saturating_add(frag.payload.len());
        let existing = self.find(&frag.key);
        if end > MAX_PAYLOAD {
            if let Some(idx) = existing {
                self.free(idx);
            }
            return Err(DropReason::FragTooBig);
        }
        //= https://www.rfc-editor.org/rfc/rfc791#section-3.2
        //# If an internet datagram is fragmented, its data portion must be
        //# broken on 8 octet boundaries.
        if frag.more_frags && (frag.payload.is_empty() || frag.payload.len() % 8 != 0) {
            return Err(DropReason::FragMalformed);
        }
        if frag.header.len() > MAX_HEADER {
            return Err(DropReason::FragMalformed);
        }
        let idx = match existing {
            Some(idx) => idx,
            None => {
                let Some(idx) = self.slots.iter().position(|s| !s.active) else {
                    return Err(DropReason::FragTableFull);
                };
                self.slots[idx].reset(frag.key, now + self.timeout);
                self.in_use += 1;
                idx
            }
        };
        let (start32, end32) = (start as u32, end as u32);
        let slot = &mut self.slots[idx];
        let consistent = match slot.total {
            Some(t) => end32 <= t && (frag.more_frags || end32 == t),
            None => frag.more_frags || slot.pieces.last().is_none_or(|&(_, e)| e <= end32),
        };
        if !consistent {
            self.free(idx);
            return Err(DropReason::FragMalformed);
        }
        // An exact retransmission of bytes we already hold (a duplicated
        // frame) changes nothing: drop just it, keep the datagram (as Linux
        // does; only conflicting overlaps are an attack).
        let contained = slot.pieces.iter().any(|&(s, e)| s <= start32 && end32 <= e);
        if start32 < end32 && contained && slot.buf[start..end] == *frag.payload {
            return Err(DropReason::FragDuplicate);
        }
        if start32 < end32 {
            if let Err(reason) = slot.insert(start32, end32) {
                self.free(idx);
                return Err(reason);
            }
            slot.buf[start..end].copy_from_slice(frag.payload);
        }
        if !frag.more_frags {
            slot.total = Some(end32);
        }
        if start == 0 {
            slot.header[..frag.header.len()].copy_from_slice(frag.header);
            slot.header_len = frag.header.len();
        }
        if !slot.is_complete() {
            return Ok(None);
        }
        self.free(idx);
        let slot = &self.slots[idx];
        let total = slot.total.unwrap_or(0) as usize;
        Ok(Some(Reassembled {
            key: slot.key,
            header: &slot.header[..slot.header_len],
            payload: &slot.buf[..total],
        }))
    }

    /// Free every datagram whose deadline passed, reporting each.
    pub fn expire(&mut self, now: Instant, mut on_expired: impl FnMut(Expired<'_>)) {
        for idx in 0..self.slots.len() {
            let slot = &self.slots[idx];
            if !slot.active || slot.deadline > now {
                continue;
            }
            self.free(idx);
            let slot = &self.slots[idx];
            let first =
                (slot.header_len > 0).then(|| (&slot.header[..slot.header_len], slot.first_run()));
            on_expired(Expired {
                key: slot.key,
                first,
            });
        }
    }

    /// The earliest reassembly deadline.
    pub fn poll_at(&self) -> Option<Instant> {
        // Asked every worker loop turn: the scan is for when fragments
        // are actually held.
        if self.in_use == 0 {
            return None;
        }
        self.slots
            .iter()
            .filter(|s| s.active)
            .map(|s| s.deadline)
            .min()
    }
}

#[cfg(test)]
mod tests;
