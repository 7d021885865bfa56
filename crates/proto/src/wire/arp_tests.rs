use super::*;
use crate::wire::{EthernetFrame, EthernetRepr};
use proptest::prelude::*;

/// A whole frame as `arping -I veth0 198.18.0.1` sends it from
/// 02:00:00:00:00:02 / 198.18.0.2: broadcast, EtherType ARP, a request with
/// a zero target hardware address, then 18 bytes of padding to 60.
const ARPING_REQUEST: [u8; 60] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06, // eth
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype ptype hlen plen oper
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x02, // sha spa
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x01, // tha tpa
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // padding
];

fn sample() -> ArpRepr {
    ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        source_protocol_addr: Ipv4Addr::new(198, 18, 0, 1),
        target_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        target_protocol_addr: Ipv4Addr::new(198, 18, 0, 2),
    }
}

#[test]
fn arping_request_fields_match() {
    let eth = EthernetFrame::new_checked(&ARPING_REQUEST[..]).unwrap();
    let er = EthernetRepr::parse(&eth).unwrap();
    assert_eq!(er.ethertype, EtherType::Arp);
    assert!(er.dst_addr.is_broadcast());
    let p = ArpPacket::new_checked(eth.payload()).unwrap();
    assert_eq!(p.hardware_type(), 1);
    assert_eq!(p.protocol_type(), EtherType::Ipv4);
    assert_eq!(p.hardware_len(), 6);
    assert_eq!(p.protocol_len(), 4);
    assert_eq!(p.operation(), ArpOperation::Request);
    let r = ArpRepr::parse(&p).unwrap();
    assert_eq!(
        r,
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            source_protocol_addr: Ipv4Addr::new(198, 18, 0, 2),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Addr::new(198, 18, 0, 1),
        }
    );
}

#[test]
fn arp_every_truncation_is_truncated() {
    let body = &ARPING_REQUEST[14..42];
    for len in 0..ARP_PACKET_LEN {
        assert_eq!(
            ArpPacket::new_checked(&body[..len]).err(),
            Some(Error::Truncated),
            "len {len}"
        );
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_unchecked(&body[..len])),
            Err(Error::Truncated)
        );
    }
    assert!(ArpPacket::new_checked(body).is_ok());
}

#[test]
fn arp_non_ethernet_ipv4_is_unsupported() {
    // (byte index, new value): htype 6 (IEEE 802), ptype IPv6, hlen 8, plen 16.
    for (at, v) in [(1usize, 6u8), (2, 0x86), (4, 8), (5, 16)] {
        let mut b = ARPING_REQUEST;
        b[14 + at] = v;
        let p = ArpPacket::new_checked(&b[14..]).unwrap();
        assert_eq!(ArpRepr::parse(&p), Err(Error::Unsupported), "byte {at}");
    }
}

#[test]
fn arp_unknown_operation_parses_as_unknown() {
    let mut b = ARPING_REQUEST;
    b[21] = 9; // RARP-style op codes are not ours
    let r = ArpRepr::parse(&ArpPacket::new_checked(&b[14..]).unwrap()).unwrap();
    assert_eq!(r.operation, ArpOperation::Unknown(9));
}

#[test]
fn arp_emit_writes_rfc826_layout() {
    let mut buf = [0xeeu8; 28];
    sample().emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
    assert_eq!(
        buf,
        [
            0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 1, 198, 18, 0, 1, 2, 0, 0, 0, 0, 2, 198, 18, 0,
            2
        ]
    );
    assert_eq!(sample().buffer_len(), 28);
}

#[test]
fn arp_operation_u16_round_trips() {
    for v in [0u16, 1, 2, 3, 4, 0xffff] {
        assert_eq!(u16::from(ArpOperation::from(v)), v);
    }
}

fn arb_op() -> impl Strategy<Value = ArpOperation> {
    any::<u16>().prop_map(ArpOperation::from)
}

proptest! {
    #[test]
    fn arp_repr_emit_parse_round_trips(
        operation in arb_op(),
        sha in any::<[u8; 6]>(),
        spa in any::<[u8; 4]>(),
        tha in any::<[u8; 6]>(),
        tpa in any::<[u8; 4]>(),
    ) {
        let repr = ArpRepr {
            operation,
            source_hardware_addr: EthernetAddress(sha),
            source_protocol_addr: Ipv4Addr::from(spa),
            target_hardware_addr: EthernetAddress(tha),
            target_protocol_addr: Ipv4Addr::from(tpa),
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
        let p = ArpPacket::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(ArpRepr::parse(&p), Ok(repr));
    }

    #[test]
    fn arp_new_checked_arbitrary_bytes_never_panics(
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        match ArpPacket::new_checked(&data[..]) {
            Ok(p) => {
                let _ = (
                    p.hardware_type(),
                    p.protocol_type(),
                    p.hardware_len(),
                    p.protocol_len(),
                    p.operation(),
                    p.source_hardware_addr(),
                    p.source_protocol_addr(),
                    p.target_hardware_addr(),
                    p.target_protocol_addr(),
                );
                let _ = ArpRepr::parse(&p);
            }
            Err(e) => prop_assert_eq!(e, Error::Truncated),
        }
    }
}
