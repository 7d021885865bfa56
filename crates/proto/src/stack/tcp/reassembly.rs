//! A small, bounded out-of-order store. Out-of-order bytes are written
//! straight into the receive ring's free space at their offset from RCV.NXT
//! (no copy, no allocation); only up to `MAX_RANGES` sequence ranges are
//! remembered. A segment that would need a fifth range is dropped (the peer
//! retransmits it). Issue 4 can grow this into a SACK scoreboard source.

use super::buffer::RingBuffer;
use super::seq::SeqNumber;

pub(crate) const MAX_RANGES: usize = 4;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Reassembly {
    /// Sorted, disjoint, non-adjacent [start, end) ranges, all beyond RCV.NXT.
    ranges: [Option<(SeqNumber, SeqNumber)>; MAX_RANGES],
    /// When each range last grew (a counter), for SACK block order.
    stamps: [u32; MAX_RANGES],
    clock: u32,
}

impl Reassembly {
    pub fn is_empty(&self) -> bool {
        self.ranges[0].is_none()
    }

    #[cfg(test)]
    pub fn ranges(&self) -> [Option<(SeqNumber, SeqNumber)>; MAX_RANGES] {
        self.ranges
    }

    //= https://www.rfc-editor.org/rfc/rfc2018#section-4
    //# The data receiver SHOULD include as many distinct SACK blocks as
    //# possible in the SACK option, and SHOULD fill the SACK option with
    //# the most recently reported SACK blocks
    /// The ranges with the one that grew last first, then the others by
    /// recency (the emitter keeps as many as fit).
    pub fn ranges_most_recent_first(&self) -> [Option<(SeqNumber, SeqNumber)>; MAX_RANGES] {
        let mut idx = [0usize, 1, 2, 3];
        idx.sort_by_key(|&i| std::cmp::Reverse(self.stamps[i]));
        let mut out = [None; MAX_RANGES];
        let mut k = 0;
        for i in idx {
            if self.ranges[i].is_some() {
                out[k] = self.ranges[i];
                k += 1;
            }
        }
        out
    }

    /// Store `data` at `seq` (> `rcv_nxt`) into `buf`'s free space. Returns
    /// false if it could not be kept (no room, or too many holes).
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
        // Merge with every range it touches or overlaps.
        let mut merged = (start, end);
        let mut kept = [None; MAX_RANGES];
        let mut stamps = [0u32; MAX_RANGES];
        let now = self.clock.wrapping_add(1);
        let mut k = 0;
        let mut placed = false;
        for (i, (s, e)) in self
            .ranges
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.map(|r| (i, r)))
        {
            if e.diff(merged.0) < 0 {
                kept[k] = Some((s, e));
                stamps[k] = self.stamps[i];
                k += 1;
            } else if s.diff(merged.1) > 0 {
                if !placed {
                    if k == MAX_RANGES {
                        return false;
                    }
                    kept[k] = Some(merged);
                    stamps[k] = now;
                    k += 1;
                    placed = true;
                }
                if k == MAX_RANGES {
                    return false;
                }
                kept[k] = Some((s, e));
                stamps[k] = self.stamps[i];
                k += 1;
            } else {
                merged = (s.min(merged.0), e.max(merged.1));
            }
        }
        if !placed {
            if k == MAX_RANGES {
                return false;
            }
            kept[k] = Some(merged);
            stamps[k] = now;
        }
        buf.write_at(gap, &data[..n]);
        self.ranges = kept;
        self.stamps = stamps;
        self.clock = now;
        true
    }

    /// RCV.NXT advanced to `rcv_nxt`: commit any range now contiguous and
    /// return how far RCV.NXT moves on.
    pub fn advance(&mut self, buf: &mut RingBuffer, rcv_nxt: SeqNumber) -> u32 {
        let mut nxt = rcv_nxt;
        while let Some((s, e)) = self.ranges[0] {
            if s.diff(nxt) > 0 {
                break;
            }
            if e.diff(nxt) > 0 {
                let extra = e - nxt;
                buf.commit(extra as usize);
                nxt = e;
            }
            self.ranges.rotate_left(1);
            self.ranges[MAX_RANGES - 1] = None;
            self.stamps.rotate_left(1);
            self.stamps[MAX_RANGES - 1] = 0;
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
        assert_eq!(r.ranges().iter().flatten().count(), 2);
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
    fn reassembly_refuses_fifth_hole_and_overflow() {
        let mut buf = RingBuffer::new(100);
        let mut r = Reassembly::default();
        let b = SeqNumber(0);
        for i in 0..4u32 {
            assert!(r.insert(&mut buf, b, b + (10 * i + 2), b"x"));
        }
        assert!(!r.insert(&mut buf, b, b + 50u32, b"y"));
        // Merging into an existing range still works.
        assert!(r.insert(&mut buf, b, b + 3u32, b"z"));
        assert!(!r.insert(&mut buf, b, b + 100u32, b"w"));
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
        assert_eq!(r.ranges()[0], Some((b + 5u32, b + 23u32)));
        assert_eq!(r.ranges()[1], None);
    }
}
