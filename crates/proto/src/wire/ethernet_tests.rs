use super::*;
use proptest::prelude::*;

/// Head of a real frame (an ICMP echo request from Linux `ping`): dst
/// 52:54:00:12:34:56, src 02:00:00:00:00:01, EtherType IPv4, then IPv4.
const FRAME: [u8; 16] = [
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00,
];

#[test]
fn frame_captured_fields_match() {
    let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
    assert_eq!(
        f.dst_addr(),
        EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
    );
    assert_eq!(f.src_addr(), EthernetAddress([2, 0, 0, 0, 0, 1]));
    assert_eq!(f.ethertype(), EtherType::Ipv4);
    assert_eq!(f.payload(), &[0x45, 0x00]);
    let r = EthernetRepr::parse(&f).unwrap();
    assert_eq!(r.ethertype, EtherType::Ipv4);
    assert_eq!(r.buffer_len(), 14);
}

#[test]
fn frame_every_truncation_is_truncated() {
    for len in 0..EthernetFrame::<&[u8]>::HEADER_LEN {
        assert_eq!(
            EthernetFrame::new_checked(&FRAME[..len]).err(),
            Some(Error::Truncated),
            "len {len}"
        );
    }
    // Exactly a header is a frame with an empty payload.
    let f = EthernetFrame::new_checked(&FRAME[..14]).unwrap();
    assert!(f.payload().is_empty());
}

#[test]
fn repr_parse_unchecked_short_buffer_is_truncated() {
    let f = EthernetFrame::new_unchecked(&FRAME[..5]);
    assert_eq!(EthernetRepr::parse(&f), Err(Error::Truncated));
}

#[test]
fn frame_vlan_tag_reports_unknown_ethertype() {
    let mut b = FRAME;
    b[12] = 0x81;
    b[13] = 0x00;
    let f = EthernetFrame::new_checked(&b[..]).unwrap();
    assert_eq!(f.ethertype(), EtherType::Unknown(0x8100));
}

#[test]
fn frame_setters_write_fields() {
    let mut buf = [0u8; 20];
    let mut f = EthernetFrame::new_checked(&mut buf[..]).unwrap();
    f.set_dst_addr(EthernetAddress::BROADCAST);
    f.set_src_addr(EthernetAddress([2, 0, 0, 0, 0, 9]));
    f.set_ethertype(EtherType::Arp);
    f.payload_mut()[0] = 0xaa;
    assert_eq!(
        &buf[..14],
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9, 8, 6]
    );
    assert_eq!(buf[14], 0xaa);
}

#[test]
fn ethertype_u16_conversions_round_trip() {
    for v in [0x0800u16, 0x0806, 0x86dd, 0x8100, 0, 0xffff] {
        assert_eq!(u16::from(EtherType::from(v)), v);
    }
    assert_eq!(EtherType::from(0x0806), EtherType::Arp);
    assert_eq!(EtherType::Unknown(0x86dd).to_string(), "0x86dd");
}

#[test]
fn address_classes_follow_ig_bit() {
    let b = EthernetAddress::BROADCAST;
    assert!(b.is_broadcast() && b.is_multicast() && !b.is_unicast());
    let m = EthernetAddress([0x01, 0x00, 0x5e, 0, 0, 1]);
    assert!(!m.is_broadcast() && m.is_multicast() && !m.is_unicast());
    let u = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
    assert!(!u.is_broadcast() && !u.is_multicast() && u.is_unicast() && u.is_local());
    let z = EthernetAddress::default();
    assert!(!z.is_unicast() && !z.is_multicast());
}

#[test]
fn address_display_and_debug_are_colon_hex() {
    let a = EthernetAddress::from_bytes([0x02, 0, 0, 0, 0xab, 0x01]);
    assert_eq!(a.to_string(), "02:00:00:00:ab:01");
    assert_eq!(format!("{a:?}"), "02:00:00:00:ab:01");
    assert_eq!(a.as_bytes(), &[2, 0, 0, 0, 0xab, 1]);
}

#[test]
fn address_from_str_accepts_canonical_rejects_rest() {
    assert_eq!(
        "02:00:00:00:00:01".parse::<EthernetAddress>(),
        Ok(EthernetAddress([2, 0, 0, 0, 0, 1]))
    );
    assert_eq!(
        "AA-bb-CC-dd-EE-ff".parse::<EthernetAddress>(),
        Ok(EthernetAddress([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]))
    );
    for bad in [
        "",
        "02:00:00:00:00",
        "02:00:00:00:00:01:02",
        "2:00:00:00:00:01",
        "02:00:00:00:00:0g",
        "02:00:00:00:00:+1",
        "02:00-00:00:00:01",
        "002:00:00:00:00:01",
        "02:00:00:00:00:01:",
    ] {
        assert_eq!(
            bad.parse::<EthernetAddress>(),
            Err(Error::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn address_from_slice_requires_six_bytes() {
    assert_eq!(
        EthernetAddress::from_slice(&[1, 2, 3, 4, 5, 6]),
        Ok(EthernetAddress([1, 2, 3, 4, 5, 6]))
    );
    assert_eq!(
        EthernetAddress::from_slice(&[1, 2, 3]),
        Err(Error::Malformed)
    );
}

pub(crate) fn arb_ethernet_address() -> impl Strategy<Value = EthernetAddress> {
    any::<[u8; 6]>().prop_map(EthernetAddress)
}

fn arb_ethertype() -> impl Strategy<Value = EtherType> {
    any::<u16>().prop_map(EtherType::from)
}

proptest! {
    #[test]
    fn repr_emit_parse_round_trips(
        src in arb_ethernet_address(),
        dst in arb_ethernet_address(),
        ethertype in arb_ethertype(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let repr = EthernetRepr { src_addr: src, dst_addr: dst, ethertype };
        let mut buf = vec![0u8; repr.buffer_len() + payload.len()];
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        repr.emit(&mut f);
        f.payload_mut().copy_from_slice(&payload);
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(EthernetRepr::parse(&f), Ok(repr));
        prop_assert_eq!(f.payload(), &payload[..]);
    }

    #[test]
    fn address_display_from_str_round_trips(a in arb_ethernet_address()) {
        prop_assert_eq!(a.to_string().parse::<EthernetAddress>(), Ok(a));
    }

    #[test]
    fn address_from_str_never_panics(s in "\\PC{0,24}") {
        let _ = s.parse::<EthernetAddress>();
    }

    #[test]
    fn frame_new_checked_arbitrary_bytes_never_panics(
        data in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        if let Ok(f) = EthernetFrame::new_checked(&data[..]) {
            let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload());
            let _ = EthernetRepr::parse(&f).unwrap();
        } else {
            prop_assert!(data.len() < 14);
        }
    }
}

#[test]
fn frame_into_payload_outlives_view() {
    let payload = EthernetFrame::new_checked(&FRAME[..])
        .unwrap()
        .into_payload();
    assert_eq!(payload, &[0x45, 0x00]);
}
