use super::*;
use proptest::prelude::*;

const HDR: [u8; 20] = [0x45; 20];

fn key(ident: u16) -> FragKey {
    FragKey {
        src: Ipv4Addr::new(198, 18, 0, 2),
        dst: Ipv4Addr::new(198, 18, 0, 1),
        protocol: 17,
        ident,
    }
}

fn cfg(max: usize) -> FragConfig {
    FragConfig {
        max_datagrams: max,
        timeout: Duration::from_secs(30),
    }
}

fn frag(ident: u16, offset: usize, more: bool, payload: &[u8]) -> Fragment<'_> {
    Fragment {
        key: key(ident),
        offset,
        more_frags: more,
        header: &HDR,
        payload,
    }
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn in_order_fragments_complete_with_exact_bytes() {
    let mut r = Reassembler::new(&cfg(4));
    let d = data(3000);
    let t = Instant::ZERO;
    assert!(r.add(t, frag(1, 0, true, &d[..1480])).unwrap().is_none());
    assert!(r
        .add(t, frag(1, 1480, true, &d[1480..2960]))
        .unwrap()
        .is_none());
    let done = r.add(t, frag(1, 2960, false, &d[2960..])).unwrap().unwrap();
    assert_eq!(done.payload, &d[..]);
    assert_eq!(done.header, &HDR[..]);
    assert_eq!(done.key, key(1));
    assert_eq!(r.in_use(), 0);
}

#[test]
fn last_fragment_first_then_rest_completes() {
    let mut r = Reassembler::new(&cfg(4));
    let d = data(24);
    let t = Instant::ZERO;
    assert!(r.add(t, frag(1, 16, false, &d[16..])).unwrap().is_none());
    assert!(r.add(t, frag(1, 0, true, &d[..8])).unwrap().is_none());
    let done = r.add(t, frag(1, 8, true, &d[8..16])).unwrap().unwrap();
    assert_eq!(done.payload, &d[..]);
}

#[test]
fn overlapping_fragment_drops_whole_datagram() {
    let mut r = Reassembler::new(&cfg(4));
    let d = data(32);
    let t = Instant::ZERO;
    r.add(t, frag(1, 0, true, &d[..16])).unwrap();
    assert_eq!(
        r.add(t, frag(1, 8, true, &d[8..24])).unwrap_err(),
        DropReason::FragOverlap
    );
    assert_eq!(r.in_use(), 0);
    // The rest of the datagram now starts a fresh slot and never completes.
    assert!(r.add(t, frag(1, 24, false, &d[24..])).unwrap().is_none());
    assert_eq!(r.in_use(), 1);
}

#[test]
fn exact_duplicate_fragment_is_dropped_alone_and_datagram_completes() {
    let mut r = Reassembler::new(&cfg(4));
    let d = data(16);
    r.add(Instant::ZERO, frag(1, 0, true, &d[..8])).unwrap();
    assert_eq!(
        r.add(Instant::ZERO, frag(1, 0, true, &d[..8])).unwrap_err(),
        DropReason::FragDuplicate
    );
    assert_eq!(r.in_use(), 1, "the datagram survives a duplicate");
    let done = r
        .add(Instant::ZERO, frag(1, 8, false, &d[8..]))
        .unwrap()
        .unwrap();
    assert_eq!(done.payload, &d[..]);
}

#[test]
fn same_range_with_different_bytes_is_an_overlap_attack() {
    let mut r = Reassembler::new(&cfg(4));
    let d = data(16);
    r.add(Instant::ZERO, frag(1, 0, true, &d[..8])).unwrap();
    let evil = [0xAAu8; 8];
    assert_eq!(
        r.add(Instant::ZERO, frag(1, 0, true, &evil)).unwrap_err(),
        DropReason::FragOverlap
    );
    assert_eq!(r.in_use(), 0);
}

#[test]
fn datagram_past_65535_bytes_is_dropped_whole() {
    let mut r = Reassembler::new(&cfg(4));
    let d = data(1480);
    let t = Instant::ZERO;
    r.add(t, frag(1, 0, true, &d)).unwrap();
    assert_eq!(r.in_use(), 1);
    // Offset 65528 (the largest encodable) plus 16 bytes is past the limit.
    assert_eq!(
        r.add(t, frag(1, 65528, false, &d[..16])).unwrap_err(),
        DropReason::FragTooBig
    );
    assert_eq!(r.in_use(), 0);
}

#[test]
fn largest_datagram_reassembles() {
    let mut r = Reassembler::new(&cfg(1));
    let d = data(MAX_PAYLOAD);
    let t = Instant::ZERO;
    let mut out = None;
    for (i, chunk) in d.chunks(1480).enumerate() {
        let more = (i + 1) * 1480 < d.len();
        if let Some(done) = r.add(t, frag(9, i * 1480, more, chunk)).unwrap() {
            out = Some(done.payload.to_vec());
        }
    }
    assert_eq!(out.unwrap(), d);
}

#[test]
fn table_full_drops_new_datagrams_until_a_slot_frees() {
    let mut r = Reassembler::new(&cfg(2));
    let d = data(16);
    let t = Instant::ZERO;
    r.add(t, frag(1, 0, true, &d[..8])).unwrap();
    r.add(t, frag(2, 0, true, &d[..8])).unwrap();
    assert_eq!(
        r.add(t, frag(3, 0, true, &d[..8])).unwrap_err(),
        DropReason::FragTableFull
    );
    // Existing datagrams still progress.
    assert!(r.add(t, frag(1, 8, false, &d[8..])).unwrap().is_some());
    assert!(r.add(t, frag(3, 0, true, &d[..8])).unwrap().is_none());
    assert_eq!(r.in_use(), 2);
}

#[test]
fn timeout_frees_slot_and_reports_first_fragment() {
    let mut r = Reassembler::new(&cfg(1));
    let d = data(40);
    let t0 = Instant::from_secs(100);
    r.add(t0, frag(1, 0, true, &d[..16])).unwrap();
    r.add(t0, frag(1, 32, false, &d[32..])).unwrap();
    assert_eq!(r.poll_at(), Some(t0 + Duration::from_secs(30)));
    let mut seen = Vec::new();
    r.expire(t0 + Duration::from_secs(29), |e| seen.push(e.key));
    assert!(seen.is_empty());
    let mut firsts = Vec::new();
    r.expire(t0 + Duration::from_secs(30), |e| {
        firsts.push(e.first.map(|(h, p)| (h.to_vec(), p.to_vec())))
    });
    assert_eq!(firsts, vec![Some((HDR.to_vec(), d[..16].to_vec()))]);
    assert_eq!(r.in_use(), 0);
    assert_eq!(r.poll_at(), None);
    // The freed slot takes a new datagram.
    assert!(r.add(t0, frag(2, 0, true, &d[..8])).unwrap().is_none());
}

#[test]
fn timeout_without_fragment_zero_reports_nothing_to_quote() {
    let mut r = Reassembler::new(&cfg(1));
    let d = data(16);
    r.add(Instant::ZERO, frag(1, 8, false, &d[8..])).unwrap();
    let mut firsts = Vec::new();
    r.expire(Instant::from_secs(31), |e| firsts.push(e.first.is_some()));
    assert_eq!(firsts, vec![false]);
}

#[test]
fn inconsistent_fragments_are_malformed() {
    let t = Instant::ZERO;
    let d = data(64);
    // Not a multiple of 8 in a non-last fragment.
    let mut r = Reassembler::new(&cfg(2));
    assert_eq!(
        r.add(t, frag(1, 0, true, &d[..10])).unwrap_err(),
        DropReason::FragMalformed
    );
    assert_eq!(r.in_use(), 0);
    // Data past an already known end.
    r.add(t, frag(2, 16, false, &d[16..24])).unwrap();
    assert_eq!(
        r.add(t, frag(2, 24, true, &d[24..32])).unwrap_err(),
        DropReason::FragMalformed
    );
    assert_eq!(r.in_use(), 0);
    // A last fragment ending before data already received.
    r.add(t, frag(3, 32, true, &d[32..40])).unwrap();
    assert_eq!(
        r.add(t, frag(3, 8, false, &d[8..16])).unwrap_err(),
        DropReason::FragMalformed
    );
    assert_eq!(r.in_use(), 0);
}

#[test]
fn too_many_disjoint_pieces_drop_the_datagram() {
    let mut r = Reassembler::new(&cfg(1));
    let d = data(8);
    let t = Instant::ZERO;
    for i in 0..MAX_PIECES {
        r.add(t, frag(1, i * 16, true, &d)).unwrap();
    }
    assert_eq!(
        r.add(t, frag(1, MAX_PIECES * 16, true, &d)).unwrap_err(),
        DropReason::FragMalformed
    );
    assert_eq!(r.in_use(), 0);
}

proptest! {
    #[test]
    fn any_arrival_order_delivers_exact_bytes(
        len in 1usize..6000,
        cut in proptest::collection::vec(1usize..200, 1..40),
        order in proptest::collection::vec(any::<u32>(), 40),
    ) {
        let d = data(len);
        // Split into 8-byte aligned pieces (the last takes the remainder).
        let mut bounds = vec![0usize];
        for c in cut {
            let next = bounds.last().unwrap() + c * 8;
            if next >= len { break; }
            bounds.push(next);
        }
        bounds.push(len);
        let mut pieces: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
        // Shuffle deterministically from `order`.
        for i in (1..pieces.len()).rev() {
            let j = order[i % order.len()] as usize % (i + 1);
            pieces.swap(i, j);
        }
        let mut r = Reassembler::new(&cfg(2));
        let mut done = Vec::new();
        for (k, &(s, e)) in pieces.iter().enumerate() {
            let out = r.add(Instant::ZERO, frag(7, s, e != len, &d[s..e])).unwrap();
            match out {
                Some(x) => { prop_assert_eq!(k, pieces.len() - 1); done = x.payload.to_vec(); }
                None => prop_assert!(k < pieces.len() - 1),
            }
        }
        prop_assert_eq!(done, d);
        prop_assert_eq!(r.in_use(), 0);
    }

    #[test]
    fn arbitrary_fragments_never_exceed_the_pool(
        frags in proptest::collection::vec((0u16..6, 0usize..9000, any::<bool>(), 0usize..3000), 0..80),
    ) {
        let mut r = Reassembler::new(&cfg(3));
        let d = data(3000);
        for (i, (ident, off, more, n)) in frags.into_iter().enumerate() {
            let _ = r.add(Instant::from_secs(i as u64), frag(ident, off & !7, more, &d[..n]));
            prop_assert!(r.in_use() <= 3);
            r.expire(Instant::from_secs(i as u64), |_| {});
        }
    }
}
