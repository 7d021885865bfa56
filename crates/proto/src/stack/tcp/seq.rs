//! Window arithmetic over `SeqNumber` (RFC 9293 3.4, 3.10.7.4).

pub use crate::wire::tcp::SeqNumber;

/// `lo <= x < lo + len` in sequence space.
pub(crate) fn in_window(x: SeqNumber, lo: SeqNumber, len: u32) -> bool {
    (x - lo) < len
}

/// `lo <= x <= hi` in sequence space (with `hi - lo < 2^31`).
pub(crate) fn between_inclusive(lo: SeqNumber, x: SeqNumber, hi: SeqNumber) -> bool {
    (x - lo) <= (hi - lo)
}

//= https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4
//# There are four cases for the acceptability test for an incoming segment
/// The segment acceptability test: does any part of `[seq, seq+len)` fall
/// in the receive window `[rcv_nxt, rcv_nxt+rcv_wnd)`?
pub(crate) fn segment_acceptable(
    seq: SeqNumber,
    len: u32,
    rcv_nxt: SeqNumber,
    rcv_wnd: u32,
) -> bool {
    match (len, rcv_wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, _) => in_window(seq, rcv_nxt, rcv_wnd),
        (_, 0) => false,
        (_, _) => in_window(seq, rcv_nxt, rcv_wnd) || in_window(seq + (len - 1), rcv_nxt, rcv_wnd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn acceptability_zero_window_accepts_only_rcv_nxt_empty() {
        let n = SeqNumber(100);
        assert!(segment_acceptable(n, 0, n, 0));
        assert!(!segment_acceptable(n + 1u32, 0, n, 0));
        assert!(!segment_acceptable(n, 1, n, 0));
    }

    #[test]
    fn acceptability_partial_overlap_at_left_edge_accepted() {
        let n = SeqNumber(100);
        assert!(segment_acceptable(SeqNumber(90), 20, n, 10));
        assert!(!segment_acceptable(SeqNumber(90), 10, n, 10));
        assert!(!segment_acceptable(SeqNumber(110), 5, n, 10));
        assert!(segment_acceptable(SeqNumber(109), 5, n, 10));
    }

    #[test]
    fn acceptability_across_wrap() {
        let n = SeqNumber(u32::MAX - 2);
        assert!(segment_acceptable(SeqNumber(3), 1, n, 10));
        assert!(!segment_acceptable(SeqNumber(7), 1, n, 10));
    }

    proptest! {
        #[test]
        fn in_window_matches_offset_definition(lo in any::<u32>(), off in 0u32..1000, len in 0u32..1000) {
            prop_assert_eq!(in_window(SeqNumber(lo) + off, SeqNumber(lo), len), off < len);
        }
    }
}
