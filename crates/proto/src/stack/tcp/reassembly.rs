//! The out-of-order store. Out-of-order bytes are written straight into
//! the receive ring's free space at their offset from RCV.NXT (no copy, no
//! allocation per segment), so the bytes it can hold are exactly the
//! window we advertise. Only the sequence ranges are kept on the side, as
//! many as the window can need: a peer sending segments of at least
//! `MIN_SEGMENT_SPAN / 2` bytes can never leave more holes than that
//! (every range and every hole holds at least one segment), so no
//! in-window segment of a real sender is dropped for want of a range. The
//! bound only stops a peer that carves the window into tiny pieces from
//! making us keep (and search) unbounded state.

use std::collections::VecDeque;

use super::buffer::RingBuffer;
use super::seq::SeqNumber;

/// Receive-buffer bytes per remembered range (twice a small segment).
pub(crate) const MIN_SEGMENT_SPAN: usize = 512;

/// SACK blocks that fit in one segment's options.
pub(crate) const SACK_BLOCKS: usize = 4;

/// Ranges a receive buffer of `capacity` bytes may need.
pub(crate) fn max_ranges(capacity: usize) -> usize {
    (capacity / MIN_SEGMENT_SPAN).max(SACK_BLOCKS)
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Reassembly {
    /// Sorted, disjoint, non-adjacent [start, end) ranges, all beyond
    /// RCV.NXT and inside the buffer (so less than 2^31 apart: sequence
    /// comparisons among them are exact). New ranges usually arrive at
    /// the back and leave at the front.
    ranges: VecDeque<(SeqNumber, SeqNumber)>,
    /// The ranges that grew last, most recent first: the SACK blocks.
    recent: [Option<(SeqNumber, SeqNumber)>; SACK_BLOCKS],
}

impl Reassembly {
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// SACK blocks an ACK would report now (before the option-space cut).
    pub fn sack_blocks(&self) -> usize {
        self.ranges.len().min(SACK_BLOCKS)
    }

    #[cfg(test)]
    pub fn ranges(&self) -> Vec<(SeqNumber, SeqNumber)> {
        self.ranges.iter().copied().collect()
    }

    //= https://www.rfc-editor.org/rfc/rfc2018#section-4
    //# The data receiver SHOULD include as many distinct SACK blocks as
    //# possible in the SACK option, and SHOULD fill the SACK option with
    //# the most recently reported SACK blocks
    /// The range that grew last first, then the others by recency, then
    /// (when fewer than four changed recently) the lowest others; the
    /// emitter keeps as many as fit.
    pub fn ranges_most_recent_first(&self) -> [Option<(SeqNumber, SeqNumber)>; SACK_BLOCKS] {
        let mut out = self.recent;
        let mut k = out.iter().flatten().count();
        for &r in &self.ranges {
            if k == SACK_BLOCKS {
                break;
            }
            if !self.recent.contains(&Some(r)) {
                out[k] = Some(r);
                k += 1;
            }
        }
        out
    }

    /// Store `data` at `seq` (> `rcv_nxt`) into `buf`'s free space. Returns
    /// false if it could not be kept: beyond the free space, or a new range
    /// past `max_ranges` of the buffer.
    pub fn insert(
        &mut self,
        buf: &mut RingBuffer,
        rcv_nxt: SeqNumber,
        seq: SeqNumber,
        data: &[u8],
    ) -> bool {
        let gap = (seq - rcv_nxt) as usize;
        if gap >= buf.free() || data.is_empty() {
            return false;
        }
        let n = data.len().min(buf.free() - gap);
        let (start, end) = (seq, seq + n);
        // First range ending at or after `start` (it may touch ours), then
        // every range that touches or overlaps [start, end).
        let i = self.ranges.partition_point(|&(_, e)| e.diff(start) < 0);
        let mut merged = (start, end);
        let mut j = i;
        while let Some(&(s, e)) = self.ranges.get(j) {
            if s.diff(end) > 0 {
                break;
            }
            merged = (merged.0.min(s), merged.1.max(e));
            j += 1;
        }
        if j == i {
            if self.ranges.len() >= max_ranges(buf.capacity()) {
                return false;
            }
            self.ranges.insert(i, merged);
        } else {
            self.ranges[i] = merged;
            self.ranges.drain(i + 1..j);
        }
        buf.write_at(gap, &data[..n]);
        // The grown range replaces every recent block it swallowed.
        let within = |r: (SeqNumber, SeqNumber)| r.0.diff(merged.0) >= 0 && r.1.diff(merged.1) <= 0;
        let mut recent = [None; SACK_BLOCKS];
        recent[0] = Some(merged);
        let mut k = 1;
        for r in self.recent.iter().flatten().copied() {
            if k < SACK_BLOCKS && !within(r) {
                recent[k] = Some(r);
                k += 1;
            }
        }
        self.recent = recent;
        true
    }

    /// RCV.NXT advanced to `rcv_nxt`: commit any range now contiguous and
    /// return how far RCV.NXT moves on.
    pub fn advance(&mut self, buf: &mut RingBuffer, rcv_nxt: SeqNumber) -> u32 {
        let mut nxt = rcv_nxt;
        while let Some(&(s, e)) = self.ranges.front() {
            if s.diff(nxt) > 0 {
                break;
            }
            if e.diff(nxt) > 0 {
                let extra = e - nxt;
                buf.commit(extra as usize);
                nxt = e;
            }
            self.ranges.pop_front();
        }
        if nxt != rcv_nxt {
            let mut recent = [None; SACK_BLOCKS];
            let mut k = 0;
            for r in self.recent.iter().flatten().copied() {
                if r.0.diff(nxt) > 0 {
                    recent[k] = Some(r);
                    k += 1;
                }
            }
            self.recent = recent;
        }
        nxt - rcv_nxt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembly_fills_hole_and_delivers_in_order() {
        let mut buf = RingBuffer::new(64);
        let mut r = Reassembly::default();
        let base = SeqNumber(u32::MAX - 4); // across the wrap too
        assert!(r.insert(&mut buf, base, base + 5u32, b"fghij"));
        assert!(r.insert(&mut buf, base, base + 12u32, b"mn"));
        assert_eq!(r.ranges().len(), 2);
        assert_eq!(buf.push(b"abcde"), 5);
        assert_eq!(r.advance(&mut buf, base + 5u32), 5);
        let mut out = [0u8; 16];
        let n = buf.pop(&mut out);
        assert_eq!(&out[..n], b"abcdefghij");
        assert_eq!(buf.push(b"kl"), 2);
        assert_eq!(r.advance(&mut buf, base + 12u32), 2);
        let n = buf.pop(&mut out);
        assert_eq!(&out[..n], b"klmn");
        assert!(r.is_empty());
    }

    #[test]
    fn reassembly_keeps_every_hole_the_window_invites() {
        // 64 KiB and segments of 1448 with every other one lost: 22 holes,
        // far past the old four-range store; all kept, none dropped.
        let mut buf = RingBuffer::new(65536);
        let mut r = Reassembly::default();
        let b = SeqNumber(7);
        let seg = [9u8; 1448];
        let mut kept = 0;
        let mut at = 1448usize;
        while at + 1448 <= buf.free() {
            assert!(r.insert(&mut buf, b, b + at, &seg), "segment at {at} kept");
            kept += 1;
            at += 2 * 1448;
        }
        assert_eq!(kept, 22);
        assert_eq!(r.ranges().len(), 22);
        // Filling the holes in order delivers all of it.
        let mut nxt = b;
        for i in 0..22u32 {
            assert_eq!(buf.push(&seg), 1448);
            nxt += 1448u32;
            let more = r.advance(&mut buf, nxt);
            assert_eq!(more, 1448, "hole {i} joins the range after it");
            nxt += more;
        }
        assert!(r.is_empty());
        assert_eq!(buf.len(), 44 * 1448);
    }

    #[test]
    fn reassembly_bounds_ranges_and_bytes_for_tiny_pieces() {
        let mut buf = RingBuffer::new(4096);
        let mut r = Reassembly::default();
        let b = SeqNumber(0);
        let cap = max_ranges(4096);
        assert_eq!(cap, 8);
        for i in 0..cap as u32 {
            assert!(r.insert(&mut buf, b, b + (10 * i + 2), b"x"));
        }
        assert!(
            !r.insert(&mut buf, b, b + 500u32, b"y"),
            "one range too many"
        );
        // Merging into an existing range still works.
        assert!(r.insert(&mut buf, b, b + 3u32, b"z"));
        // Beyond the free space: refused, whatever the range count.
        assert!(!r.insert(&mut buf, b, b + 4096u32, b"w"));
        assert_eq!(r.ranges().len(), cap);
    }

    #[test]
    fn reassembly_sack_order_is_most_recent_first() {
        let mut buf = RingBuffer::new(100);
        let mut r = Reassembly::default();
        let b = SeqNumber(0);
        assert!(r.insert(&mut buf, b, b + 10u32, b"a"));
        assert!(r.insert(&mut buf, b, b + 30u32, b"b"));
        assert!(r.insert(&mut buf, b, b + 20u32, b"c"));
        let got = r.ranges_most_recent_first();
        assert_eq!(got[0], Some((b + 20u32, b + 21u32)));
        assert_eq!(got[1], Some((b + 30u32, b + 31u32)));
        assert_eq!(got[2], Some((b + 10u32, b + 11u32)));
        // Growing the oldest range makes it the newest.
        assert!(r.insert(&mut buf, b, b + 11u32, b"d"));
        assert_eq!(
            r.ranges_most_recent_first()[0],
            Some((b + 10u32, b + 12u32))
        );
        // Delivery removes the first range; the rest keep their order.
        assert_eq!(buf.push(&[0; 10]), 10);
        r.advance(&mut buf, b + 10u32);
        let got = r.ranges_most_recent_first();
        assert_eq!(got[0], Some((b + 20u32, b + 21u32)));
        assert_eq!(got[1], Some((b + 30u32, b + 31u32)));
    }

    #[test]
    fn reassembly_overlapping_inserts_merge() {
        let mut buf = RingBuffer::new(100);
        let mut r = Reassembly::default();
        let b = SeqNumber(10);
        assert!(r.insert(&mut buf, b, b + 5u32, b"aaaa"));
        assert!(r.insert(&mut buf, b, b + 20u32, b"bb"));
        assert!(r.insert(&mut buf, b, b + 7u32, b"cccccccccccccccc"));
        assert_eq!(r.ranges(), vec![(b + 5u32, b + 23u32)]);
    }
}
