use super::*;
use proptest::prelude::*;

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

fn syn_repr() -> TcpRepr<'static> {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: SeqNumber(1000),
        ack: None,
        control: Control::Syn,
        psh: false,
        window_len: 65535,
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        sack_ranges: [None; 4],
        timestamp: Some((100, 0)),
        payload: &[],
    }
}

fn emit(repr: &TcpRepr) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST);
    buf
}

fn parse(buf: &[u8]) -> Result<TcpRepr<'_>, TcpError> {
    let p = TcpPacket::new_checked(buf)?;
    TcpRepr::parse(&p, SRC, DST)
}

#[test]
fn new_checked_short_buffer_is_truncated() {
    assert_eq!(
        TcpPacket::new_checked(&[0u8; 19][..]).unwrap_err(),
        TcpError::Truncated
    );
}

#[test]
fn new_checked_data_offset_below_five_is_bad_header_len() {
    let mut b = [0u8; 20];
    b[12] = 4 << 4;
    assert_eq!(
        TcpPacket::new_checked(&b[..]).unwrap_err(),
        TcpError::BadHeaderLen
    );
}

#[test]
fn new_checked_data_offset_past_end_is_bad_header_len() {
    let mut b = [0u8; 20];
    b[12] = 6 << 4;
    assert_eq!(
        TcpPacket::new_checked(&b[..]).unwrap_err(),
        TcpError::BadHeaderLen
    );
}

#[test]
fn syn_with_options_round_trips_with_linux_layout() {
    let r = syn_repr();
    let b = emit(&r);
    assert_eq!(b.len(), 40);
    // mss, sackOK, TS, nop, wscale as Linux lays them out.
    assert_eq!(&b[20..24], &[2, 4, 0x05, 0xb4]);
    assert_eq!(&b[24..28], &[4, 2, 8, 10]);
    assert_eq!(&b[36..40], &[1, 3, 3, 7]);
    assert_eq!(parse(&b).unwrap(), r);
}

#[test]
fn corrupted_byte_fails_checksum() {
    let mut b = emit(&syn_repr());
    b[5] ^= 0x40;
    assert_eq!(parse(&b).unwrap_err(), TcpError::BadChecksum);
}

fn with_flags(f: u16) -> Vec<u8> {
    let mut b = emit(&syn_repr());
    let mut p = TcpPacket::new_unchecked(&mut b[..]);
    let hl = p.header_len();
    p.set_header_len_and_flags(hl, f);
    p.fill_checksum(SRC, DST);
    b
}

#[test]
fn syn_fin_is_rejected_as_bad_flags() {
    assert_eq!(
        parse(&with_flags(flags::SYN | flags::FIN)).unwrap_err(),
        TcpError::BadFlags
    );
}

#[test]
fn syn_rst_is_rejected_as_bad_flags() {
    assert_eq!(
        parse(&with_flags(flags::SYN | flags::RST | flags::ACK)).unwrap_err(),
        TcpError::BadFlags
    );
}

#[test]
fn null_flags_is_rejected_as_bad_flags() {
    assert_eq!(parse(&with_flags(0)).unwrap_err(), TcpError::BadFlags);
}

#[test]
fn rst_fin_parses_as_rst() {
    let b = with_flags(flags::RST | flags::FIN | flags::ACK);
    assert_eq!(parse(&b).unwrap().control, Control::Rst);
}

fn with_options(opts: &[u8]) -> Vec<u8> {
    let mut padded = opts.to_vec();
    while padded.len() % 4 != 0 {
        padded.push(0);
    }
    let mut b = vec![0u8; 20 + padded.len()];
    let mut p = TcpPacket::new_unchecked(&mut b[..]);
    p.set_header_len_and_flags(20 + padded.len(), flags::SYN);
    p.options_mut().copy_from_slice(&padded);
    p.fill_checksum(SRC, DST);
    b
}

#[test]
fn options_duplicate_mss_first_wins() {
    let b = with_options(&[2, 4, 0x05, 0xb4, 2, 4, 0, 100]);
    assert_eq!(parse(&b).unwrap().mss, Some(1460));
}

#[test]
fn options_after_eol_are_ignored() {
    let b = with_options(&[0, 2, 4, 0x05, 0xb4]);
    assert_eq!(parse(&b).unwrap().mss, None);
}

#[test]
fn options_unknown_kind_is_skipped() {
    let b = with_options(&[99, 4, 1, 2, 3, 3, 9]);
    let r = parse(&b).unwrap();
    assert_eq!(r.window_scale, Some(9));
}

#[test]
fn options_bad_length_stops_parsing_without_error() {
    for bad in [&[2u8, 0, 1, 3, 3, 7][..], &[2, 1], &[2, 40, 0, 0], &[3]] {
        let b = with_options(bad);
        let r = parse(&b).unwrap();
        assert_eq!(r.mss, None);
        assert_eq!(r.window_scale, None);
    }
}

#[test]
fn options_wrong_length_for_known_kind_is_skipped() {
    let b = with_options(&[2, 3, 5, 3, 3, 2]);
    let r = parse(&b).unwrap();
    assert_eq!(r.mss, None);
    assert_eq!(r.window_scale, Some(2));
}

#[test]
fn sack_blocks_parse_and_emit() {
    let mut r = syn_repr();
    r.control = Control::None;
    r.ack = Some(SeqNumber(5));
    r.mss = None;
    r.window_scale = None;
    r.sack_permitted = false;
    r.sack_ranges = [
        Some((SeqNumber(10), SeqNumber(20))),
        Some((SeqNumber(30), SeqNumber(40))),
        Some((SeqNumber(50), SeqNumber(60))),
        None,
    ];
    let b = emit(&r);
    assert_eq!(parse(&b).unwrap(), r);
}

#[test]
fn sack_blocks_are_capped_to_option_space() {
    let mut r = syn_repr();
    r.control = Control::None;
    r.ack = Some(SeqNumber(5));
    r.mss = None;
    r.window_scale = None;
    r.sack_permitted = false;
    r.sack_ranges = [Some((SeqNumber(1), SeqNumber(2))); 4];
    // With timestamps (12 bytes) only 3 blocks fit in 40.
    assert_eq!(r.header_len(), 20 + 12 + 4 + 24);
    let b = emit(&r);
    let p = parse(&b).unwrap();
    assert_eq!(p.sack_ranges.iter().flatten().count(), 3);
}

#[test]
fn seq_number_compares_across_wrap() {
    let a = SeqNumber(u32::MAX - 5);
    let b = a + 10u32;
    assert_eq!(b.0, 4);
    assert!(b > a);
    assert!(a < b);
    assert_eq!(b - a, 10);
    assert_eq!(a.diff(b), -10);
    assert_eq!(a.max(b), b);
}

fn arb_repr() -> impl Strategy<Value = (TcpRepr<'static>, Vec<u8>)> {
    (
        any::<(u16, u16, u32)>(),
        proptest::option::of(any::<u32>()),
        0u8..4,
        any::<(bool, u16)>(),
        proptest::option::of(any::<u16>()),
        proptest::option::of(0u8..15),
        any::<bool>(),
        proptest::option::of(any::<(u32, u32)>()),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |((sp, dp, seq), ack, c, (psh, win), mss, ws, sp_ok, ts, payload)| {
                let control = [Control::None, Control::Syn, Control::Fin, Control::Rst][c as usize];
                let psh = psh || (control == Control::None && ack.is_none());
                let payload: &'static [u8] = Box::leak(payload.into_boxed_slice());
                (
                    TcpRepr {
                        src_port: sp,
                        dst_port: dp,
                        seq: SeqNumber(seq),
                        ack: ack.map(SeqNumber),
                        control,
                        psh,
                        window_len: win,
                        mss,
                        window_scale: ws,
                        sack_permitted: sp_ok,
                        sack_ranges: [None; 4],
                        timestamp: ts,
                        payload,
                    },
                    Vec::new(),
                )
            },
        )
}

proptest! {
    #[test]
    fn repr_parse_of_emit_is_identity((r, _) in arb_repr()) {
        let b = emit(&r);
        prop_assert_eq!(parse(&b).unwrap(), r);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = parse(&data);
        for _ in TcpOptions::new(&data) {}
    }

    #[test]
    fn seq_add_then_sub_is_distance(a in any::<u32>(), n in 0u32..(1 << 31)) {
        let s = SeqNumber(a);
        prop_assert_eq!((s + n) - s, n);
        prop_assert!(s + n >= s);
        if n > 0 {
            prop_assert!(s + n > s);
            prop_assert!(s < s + n);
        }
    }

    #[test]
    fn seq_order_is_antisymmetric(a in any::<u32>(), b in any::<u32>()) {
        let (a, b) = (SeqNumber(a), SeqNumber(b));
        if a.diff(b) != i32::MIN {
            prop_assert_eq!(a < b, b > a);
            prop_assert!(!(a < b && b < a));
        }
    }
}
