//! The sender's SACK scoreboard (RFC 2018, RFC 6675): a bounded, sorted
//! set of SACKed ranges inside (SND.UNA, SND.MAX]. Blocks from the wire are
//! validated before they touch it (CVE-2019-11477 class: a peer must not be
//! able to make us do unbounded work or keep unbounded state).

use super::seq::SeqNumber;

/// Ranges remembered per connection; past this a new range is dropped
/// (and counted): the only cost is a less precise recovery.
pub(crate) const MAX_BLOCKS: usize = 32;

/// RFC 6675 DupThresh.
pub(crate) const DUP_THRESH: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockVerdict {
    Added,
    /// Below the cumulative ACK: RFC 2883 D-SACK, tolerated and ignored.
    Dsack,
    /// Reversed, empty, or outside SND.UNA..SND.MAX.
    Bogus,
    /// Valid but the scoreboard is full.
    Full,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Scoreboard {
    /// Sorted, disjoint, non-adjacent [start, end) ranges.
    blocks: [(SeqNumber, SeqNumber); MAX_BLOCKS],
    len: usize,
    /// Holes starting below this are lost whatever IsLost says: marked by
    /// time (see `rack`).
    lost_below: Option<SeqNumber>,
}

impl Default for Scoreboard {
    fn default() -> Self {
        Scoreboard {
            blocks: [(SeqNumber(0), SeqNumber(0)); MAX_BLOCKS],
            len: 0,
            lost_below: None,
        }
    }
}

impl Scoreboard {
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.lost_below = None;
    }

    /// Every hole below `seq` is lost (time-based marking).
    pub fn mark_lost_below(&mut self, seq: SeqNumber) {
        if self.lost_below.is_none_or(|l| seq.diff(l) > 0) {
            self.lost_below = Some(seq);
        }
    }

    pub fn blocks(&self) -> &[(SeqNumber, SeqNumber)] {
        &self.blocks[..self.len]
    }

    /// Check one block from the wire against SND.UNA / SND.MAX and record it.
    pub fn offer(
        &mut self,
        left: SeqNumber,
        right: SeqNumber,
        snd_una: SeqNumber,
        snd_max: SeqNumber,
    ) -> BlockVerdict {
        if right.diff(left) <= 0 {
            return BlockVerdict::Bogus;
        }
        if right.diff(snd_una) <= 0 {
            // RFC 2883 (paraphrased): a block below the cumulative ACK
            // reports a duplicate segment (D-SACK); it must not break a
            // sender that does not use it.
            return BlockVerdict::Dsack;
        }
        // A block reaching below SND.UNA or above SND.MAX was never sent by
        // us as one range: ignore it whole rather than trust its edges.
        if left.diff(snd_una) < 0 || right.diff(snd_max) > 0 {
            return BlockVerdict::Bogus;
        }
        if self.insert(left, right) {
            BlockVerdict::Added
        } else {
            BlockVerdict::Full
        }
    }

    fn insert(&mut self, start: SeqNumber, end: SeqNumber) -> bool {
        let (mut s, mut e) = (start, end);
        // First block that ends at or after `s` (may merge).
        let mut i = 0;
        while i < self.len && self.blocks[i].1.diff(s) < 0 {
            i += 1;
        }
        // Blocks i..j touch or overlap [s, e).
        let mut j = i;
        while j < self.len && self.blocks[j].0.diff(e) <= 0 {
            s = s.min(self.blocks[j].0);
            e = e.max(self.blocks[j].1);
            j += 1;
        }
        let removed = j - i;
        if removed == 0 {
            if self.len == MAX_BLOCKS {
                return false;
            }
            self.blocks.copy_within(i..self.len, i + 1);
            self.len += 1;
        } else if removed > 1 {
            self.blocks.copy_within(j..self.len, i + 1);
            self.len -= removed - 1;
        }
        self.blocks[i] = (s, e);
        true
    }

    /// The cumulative ACK moved: forget what it covers.
    pub fn on_cumulative_ack(&mut self, snd_una: SeqNumber) {
        let mut k = 0;
        for i in 0..self.len {
            let (s, e) = self.blocks[i];
            if e.diff(snd_una) <= 0 {
                continue;
            }
            self.blocks[k] = (s.max(snd_una), e);
            k += 1;
        }
        self.len = k;
        if self.lost_below.is_some_and(|l| l.diff(snd_una) <= 0) {
            self.lost_below = None;
        }
    }

    pub fn sacked_bytes(&self) -> u32 {
        self.blocks()
            .iter()
            .fold(0u32, |n, &(s, e)| n.saturating_add(e - s))
    }

    pub fn highest(&self) -> Option<SeqNumber> {
        self.len.checked_sub(1).map(|i| self.blocks[i].1)
    }

    /// (ranges, bytes) SACKed above `seq`.
    fn sacked_above(&self, seq: SeqNumber) -> (u32, u32) {
        let mut n = 0;
        let mut bytes = 0u32;
        for &(s, e) in self.blocks() {
            if e.diff(seq) > 0 {
                n += 1;
                bytes = bytes.saturating_add(e - s.max(seq));
            }
        }
        (n, bytes)
    }

    //= https://www.rfc-editor.org/rfc/rfc6675#section-4
    //# IsLost (SeqNum):
    //# This routine returns whether the given sequence number is
    //# considered to be lost.  The routine returns true when either
    //# DupThresh discontiguous SACKed sequences have arrived above
    //# 'SeqNum' or more than (DupThresh - 1) * SMSS bytes with sequence
    //# numbers greater than 'SeqNum' have been SACKed.
    pub fn is_lost(&self, seq: SeqNumber, smss: u32) -> bool {
        if self.lost_below.is_some_and(|l| seq.diff(l) < 0) {
            return true;
        }
        let (ranges, bytes) = self.sacked_above(seq);
        ranges >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss
    }

    /// Holes (never SACKed ranges) between `from` and the highest SACKed
    /// byte, in order.
    pub fn holes(&self, from: SeqNumber) -> impl Iterator<Item = (SeqNumber, SeqNumber)> + '_ {
        let mut cur = from;
        self.blocks().iter().filter_map(move |&(s, e)| {
            let hole = (s.diff(cur) > 0).then_some((cur, s));
            cur = cur.max(e);
            hole
        })
    }

    /// RFC 6675 SetPipe: octets believed in the network between `snd_una`
    /// and `snd_nxt`, given retransmissions up to `high_rxt`.
    pub fn pipe(
        &self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        high_rxt: SeqNumber,
        smss: u32,
    ) -> u32 {
        let Some(top) = self.highest() else {
            return snd_nxt.diff(snd_una).max(0) as u32;
        };
        let mut pipe = 0u32;
        for (s, e) in self.holes(snd_una) {
            let rexmitted = high_rxt.min(e).diff(s).max(0) as u32;
            //= https://www.rfc-editor.org/rfc/rfc6675#section-4
            //# (a) If IsLost (S1) returns false: Pipe is incremented by 1 octet.
            if !self.is_lost(s, smss) {
                pipe = pipe.saturating_add(e - s);
            }
            //= https://www.rfc-editor.org/rfc/rfc6675#section-4
            //# (b) If S1 <= HighRxt: Pipe is incremented by 1 octet.
            pipe = pipe.saturating_add(rexmitted);
        }
        pipe.saturating_add(snd_nxt.diff(top).max(0) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    use proptest::prelude::*;

    proptest! {
        /// Whatever blocks a peer sends, the scoreboard stays sorted,
        /// disjoint, inside SND.UNA..SND.MAX and bounded.
        #[test]
        fn scoreboard_invariants_hold_for_any_blocks(
            una in any::<u32>(),
            span in 1u32..200_000,
            blocks in proptest::collection::vec((any::<u32>(), any::<u32>(), any::<bool>()), 0..200),
        ) {
            let mut b = Scoreboard::default();
            let (una, max) = (s(una), s(una) + span);
            for (l, r, near) in blocks {
                // Half the blocks near the window so they are often valid.
                let (l, r) = if near {
                    (una + (l % (span + 10)), una + (r % (span + 10)))
                } else {
                    (s(l), s(r))
                };
                b.offer(l, r, una, max);
                prop_assert!(b.len() <= MAX_BLOCKS);
                for w in b.blocks().windows(2) {
                    prop_assert!(w[0].1.diff(w[1].0) < 0, "not disjoint/sorted: {:?}", b.blocks());
                }
                for &(bs, be) in b.blocks() {
                    prop_assert!(bs.diff(una) >= 0 && be.diff(max) <= 0 && be.diff(bs) > 0);
                }
                let p = b.pipe(una, max, una, 1000);
                prop_assert!(p <= span);
            }
        }
    }

    #[test]
    fn scoreboard_merges_and_trims() {
        let mut b = Scoreboard::default();
        let (una, max) = (s(100), s(10_000));
        assert_eq!(b.offer(s(300), s(400), una, max), BlockVerdict::Added);
        assert_eq!(b.offer(s(500), s(600), una, max), BlockVerdict::Added);
        assert_eq!(b.offer(s(390), s(510), una, max), BlockVerdict::Added);
        assert_eq!(b.blocks(), &[(s(300), s(600))]);
        assert_eq!(b.offer(s(700), s(800), una, max), BlockVerdict::Added);
        assert_eq!(
            b.holes(una).collect::<Vec<_>>(),
            vec![(s(100), s(300)), (s(600), s(700))]
        );
        b.on_cumulative_ack(s(350));
        assert_eq!(b.blocks(), &[(s(350), s(600)), (s(700), s(800))]);
        b.on_cumulative_ack(s(900));
        assert!(b.is_empty());
    }

    #[test]
    fn scoreboard_rejects_bogus_blocks_and_tolerates_dsack() {
        let mut b = Scoreboard::default();
        let (una, max) = (s(1000), s(5000));
        // Reversed, empty, beyond SND.MAX, straddling SND.UNA, wrapped.
        assert_eq!(b.offer(s(2000), s(1500), una, max), BlockVerdict::Bogus);
        assert_eq!(b.offer(s(2000), s(2000), una, max), BlockVerdict::Bogus);
        assert_eq!(b.offer(s(4000), s(6000), una, max), BlockVerdict::Bogus);
        assert_eq!(b.offer(s(900), s(1100), una, max), BlockVerdict::Bogus);
        assert_eq!(
            b.offer(s(u32::MAX - 10), s(1100), una, max),
            BlockVerdict::Bogus
        );
        // Entirely below SND.UNA: a D-SACK.
        assert_eq!(b.offer(s(500), s(600), una, max), BlockVerdict::Dsack);
        assert!(b.is_empty());
    }

    #[test]
    fn scoreboard_is_bounded() {
        let mut b = Scoreboard::default();
        let (una, max) = (s(0), s(1_000_000));
        for i in 0..MAX_BLOCKS as u32 {
            assert_eq!(
                b.offer(s(100 * i + 10), s(100 * i + 20), una, max),
                BlockVerdict::Added
            );
        }
        assert_eq!(b.offer(s(50_000), s(50_010), una, max), BlockVerdict::Full);
        // Merging into a known range still works when full.
        assert_eq!(b.offer(s(15), s(30), una, max), BlockVerdict::Added);
        assert_eq!(b.len(), MAX_BLOCKS);
    }

    #[test]
    fn scoreboard_is_lost_and_pipe_follow_rfc6675() {
        let mut b = Scoreboard::default();
        let smss = 100;
        let (una, max) = (s(0), s(1000));
        // Segments 1..9 of 100 bytes, segment 0 and 5 lost, rest SACKed.
        b.offer(s(100), s(500), una, max);
        b.offer(s(600), s(1000), una, max);
        assert!(b.is_lost(s(0), smss));
        assert!(b.is_lost(s(500), smss));
        // Nothing retransmitted: both holes lost, nothing in the pipe.
        assert_eq!(b.pipe(una, max, una, smss), 0);
        // Hole 0 retransmitted: one segment in the pipe.
        assert_eq!(b.pipe(una, max, s(100), smss), 100);
        // Only 200 bytes above 800: not lost.
        let mut c = Scoreboard::default();
        c.offer(s(900), s(1000), una, max);
        assert!(!c.is_lost(s(800), smss));
        assert_eq!(c.pipe(una, max, una, smss), 900);
    }
}
