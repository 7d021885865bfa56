use super::*;
use crate::wire::vectors::{PING_FRAME, PING_ICMP, UDP_DATAGRAM};
use crate::wire::IPV4_HEADER_LEN;
use proptest::prelude::*;

fn ping() -> &'static [u8] {
    &PING_FRAME[PING_ICMP..]
}

fn emit_vec(repr: &IcmpRepr<'_>) -> Vec<u8> {
    let mut b = vec![0xa5u8; repr.buffer_len()];
    repr.emit(&mut IcmpPacket::new_unchecked(&mut b[..]));
    b
}

#[test]
fn ping_echo_request_fields_match() {
    let p = IcmpPacket::new_checked(ping()).unwrap();
    assert_eq!(p.msg_type(), 8);
    assert_eq!(p.code(), 0);
    assert_eq!(p.checksum(), 0xc644);
    assert_eq!(p.echo_ident(), 0x0b3a);
    assert_eq!(p.echo_seq_no(), 1);
    assert_eq!(p.data().len(), 56);
    assert_eq!(p.data()[16], 0x10);
    assert!(p.verify_checksum());
    let r = IcmpRepr::parse(&p).unwrap();
    assert_eq!(
        r,
        IcmpRepr::EchoRequest {
            ident: 0x0b3a,
            seq_no: 1,
            data: &ping()[8..]
        }
    );
    assert!(!r.is_error());
}

#[test]
fn ping_echo_reply_differs_only_in_type_and_checksum() {
    let IcmpRepr::EchoRequest {
        ident,
        seq_no,
        data,
    } = IcmpRepr::parse(&IcmpPacket::new_checked(ping()).unwrap()).unwrap()
    else {
        panic!("not an echo request");
    };
    let reply = emit_vec(&IcmpRepr::EchoReply {
        ident,
        seq_no,
        data,
    });
    assert_eq!(reply.len(), ping().len());
    // Type 8 -> 0 lowers the first word by 0x0800, so the checksum rises
    // by 0x0800: 0xc644 -> 0xce44.
    assert_eq!(&reply[..4], &[0, 0, 0xce, 0x44]);
    assert_eq!(&reply[4..], &ping()[4..]);
}

#[test]
fn packet_every_truncation_is_an_error() {
    for len in 0..ping().len() {
        let b = &ping()[..len];
        let want = if len < 8 {
            Error::Truncated
        } else {
            Error::BadChecksum
        };
        if len < 8 {
            assert_eq!(IcmpPacket::new_checked(b).err(), Some(want), "len {len}");
        }
        assert_eq!(
            IcmpRepr::parse(&IcmpPacket::new_unchecked(b)),
            Err(want),
            "len {len}"
        );
    }
}

#[test]
fn repr_any_byte_flip_is_bad_checksum() {
    for i in 0..ping().len() {
        let mut b = ping().to_vec();
        b[i] ^= 0x01;
        assert_eq!(
            IcmpRepr::parse(&IcmpPacket::new_checked(&b[..]).unwrap()),
            Err(Error::BadChecksum),
            "byte {i}"
        );
    }
}

#[test]
fn port_unreachable_carries_invoking_datagram() {
    let invoking = &UDP_DATAGRAM[..28]; // IP header + 8 bytes, per RFC 792
    let repr = IcmpRepr::DstUnreachable {
        code: IcmpUnreachable::PortUnreachable,
        invoking,
    };
    let b = emit_vec(&repr);
    assert_eq!(b.len(), 36);
    assert_eq!(&b[..2], &[3, 3]);
    assert_eq!(&b[4..8], &[0, 0, 0, 0]); // unused, must be zero
    assert_eq!(&b[8..], invoking);
    let p = IcmpPacket::new_checked(&b[..]).unwrap();
    assert!(p.verify_checksum());
    let parsed = IcmpRepr::parse(&p).unwrap();
    assert_eq!(parsed, repr);
    assert!(parsed.is_error());
}

#[test]
fn frag_needed_exposes_next_hop_mtu() {
    let mut b = emit_vec(&IcmpRepr::DstUnreachable {
        code: IcmpUnreachable::FragNeeded,
        invoking: &UDP_DATAGRAM[..28],
    });
    let mut p = IcmpPacket::new_unchecked(&mut b[..]);
    p.set_next_hop_mtu(1400);
    p.fill_checksum();
    let p = IcmpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(p.next_hop_mtu(), 1400);
    assert!(matches!(
        IcmpRepr::parse(&p),
        Ok(IcmpRepr::DstUnreachable {
            code: IcmpUnreachable::FragNeeded,
            ..
        })
    ));
}

#[test]
fn time_exceeded_reassembly_round_trips() {
    let repr = IcmpRepr::TimeExceeded {
        code: 1,
        invoking: &UDP_DATAGRAM[..],
    };
    let b = emit_vec(&repr);
    assert_eq!(&b[..2], &[11, 1]);
    assert_eq!(
        IcmpRepr::parse(&IcmpPacket::new_checked(&b[..]).unwrap()),
        Ok(repr)
    );
    assert!(repr.is_error());
}

#[test]
fn redirect_and_timestamp_parse_as_other() {
    // Redirect (type 5, code 1) with a gateway address in bytes 4..8.
    let mut b = vec![5u8, 1, 0, 0, 198, 18, 0, 254];
    b.extend_from_slice(&UDP_DATAGRAM[..28]);
    IcmpPacket::new_unchecked(&mut b[..]).fill_checksum();
    let r = IcmpRepr::parse(&IcmpPacket::new_checked(&b[..]).unwrap()).unwrap();
    assert_eq!(
        r,
        IcmpRepr::Other {
            msg_type: 5,
            code: 1
        }
    );
    assert!(r.is_error());

    let mut ts = vec![13u8, 0, 0, 0, 0, 1, 0, 1];
    ts.extend_from_slice(&[0; 12]);
    IcmpPacket::new_unchecked(&mut ts[..]).fill_checksum();
    let r = IcmpRepr::parse(&IcmpPacket::new_checked(&ts[..]).unwrap()).unwrap();
    assert_eq!(
        r,
        IcmpRepr::Other {
            msg_type: 13,
            code: 0
        }
    );
    assert!(!r.is_error());
}

#[test]
fn echo_with_nonzero_code_parses_as_other() {
    let mut b = ping().to_vec();
    b[1] = 1;
    IcmpPacket::new_unchecked(&mut b[..]).fill_checksum();
    let r = IcmpRepr::parse(&IcmpPacket::new_checked(&b[..]).unwrap()).unwrap();
    assert_eq!(
        r,
        IcmpRepr::Other {
            msg_type: 8,
            code: 1
        }
    );
}

#[test]
fn type_is_error_matches_rfc792_error_types() {
    let errors: Vec<u8> = (0..=255u8).filter(|&t| icmp_type_is_error(t)).collect();
    assert_eq!(errors, vec![3, 4, 5, 11, 12]);
}

#[test]
fn unreachable_code_u8_round_trips() {
    for v in 0..=255u8 {
        assert_eq!(u8::from(IcmpUnreachable::from(v)), v);
    }
    assert_eq!(IcmpUnreachable::from(3), IcmpUnreachable::PortUnreachable);
    assert_eq!(IcmpUnreachable::from(13), IcmpUnreachable::Other(13));
}

#[test]
fn other_emits_bare_header() {
    let repr = IcmpRepr::Other {
        msg_type: 4,
        code: 0,
    };
    assert_eq!(repr.buffer_len(), 8);
    let b = emit_vec(&repr);
    assert_eq!(&b[..2], &[4, 0]);
    assert_eq!(&b[4..], &[0, 0, 0, 0]);
    assert!(checksum::verify(&b));
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..200)
}

/// (kind, a, b, c, bytes): a generator for every variant; `Other` avoids the
/// (type, code) pairs that parse as a named variant.
fn arb_parts() -> impl Strategy<Value = (u8, u16, u16, u8, Vec<u8>)> {
    (0u8..5, any::<u16>(), any::<u16>(), any::<u8>(), arb_bytes())
}

fn build(kind: u8, a: u16, b: u16, c: u8, bytes: &[u8]) -> IcmpRepr<'_> {
    match kind {
        0 => IcmpRepr::EchoRequest {
            ident: a,
            seq_no: b,
            data: bytes,
        },
        1 => IcmpRepr::EchoReply {
            ident: a,
            seq_no: b,
            data: bytes,
        },
        2 => IcmpRepr::DstUnreachable {
            code: IcmpUnreachable::from(c),
            invoking: bytes,
        },
        3 => IcmpRepr::TimeExceeded {
            code: c,
            invoking: bytes,
        },
        _ => {
            let msg_type = match a as u8 {
                0 | 8 if c == 0 => 13,
                3 | 11 => 12,
                t => t,
            };
            IcmpRepr::Other { msg_type, code: c }
        }
    }
}

proptest! {
    #[test]
    fn repr_emit_parse_round_trips((kind, a, b, c, bytes) in arb_parts()) {
        let repr = build(kind, a, b, c, &bytes);
        let buf = emit_vec(&repr);
        let p = IcmpPacket::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(IcmpRepr::parse(&p), Ok(repr));
    }

    #[test]
    fn packet_new_checked_arbitrary_bytes_never_panics(
        mut data in proptest::collection::vec(any::<u8>(), 0..80),
        fix_checksum in any::<bool>(),
    ) {
        // Half the cases get a right checksum so parse reaches the variants.
        if fix_checksum && data.len() >= 8 {
            IcmpPacket::new_unchecked(&mut data[..]).fill_checksum();
        }
        match IcmpPacket::new_checked(&data[..]) {
            Ok(p) => {
                let _ = (
                    p.msg_type(),
                    p.code(),
                    p.checksum(),
                    p.echo_ident(),
                    p.echo_seq_no(),
                    p.next_hop_mtu(),
                    p.rest_of_header(),
                    p.data(),
                    p.verify_checksum(),
                );
                if let Ok(r) = IcmpRepr::parse(&p) {
                    let _ = r.is_error();
                    prop_assert!(r.buffer_len() <= data.len());
                }
            }
            Err(e) => {
                prop_assert_eq!(e, Error::Truncated);
                prop_assert!(IcmpRepr::parse(&IcmpPacket::new_unchecked(&data[..])).is_err());
            }
        }
    }
}

#[test]
fn invoking_udp_quote_yields_addresses_and_ports() {
    let inv = IcmpInvoking::parse(&UDP_DATAGRAM[..28]).unwrap();
    assert_eq!(inv.src_addr, Ipv4Addr::new(198, 18, 0, 2));
    assert_eq!(inv.dst_addr, Ipv4Addr::new(198, 18, 0, 1));
    assert_eq!(inv.protocol, IpProtocol::Udp);
    assert_eq!(inv.payload, &UDP_DATAGRAM[20..28]);
    assert_eq!(inv.ports(), Some((53211, 7)));
    // The whole datagram quoted: payload runs to the total length.
    let whole = IcmpInvoking::parse(&UDP_DATAGRAM).unwrap();
    assert_eq!(whole.payload.len(), 14);
}

#[test]
fn invoking_every_truncation_is_truncated() {
    for len in 0..28 {
        assert_eq!(
            IcmpInvoking::parse(&UDP_DATAGRAM[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
}

#[test]
fn invoking_bad_version_and_ihl_are_rejected() {
    let mut b = UDP_DATAGRAM;
    b[0] = 0x65;
    assert_eq!(IcmpInvoking::parse(&b), Err(Error::BadVersion));
    b[0] = 0x44;
    assert_eq!(IcmpInvoking::parse(&b), Err(Error::BadHeaderLen));
    b[0] = 0x4f;
    assert_eq!(IcmpInvoking::parse(&b), Err(Error::BadHeaderLen));
}

#[test]
fn invoking_icmp_quote_has_no_ports() {
    let inv = IcmpInvoking::parse(&PING_FRAME[14..]).unwrap();
    assert_eq!(inv.protocol, IpProtocol::Icmp);
    assert_eq!(inv.ports(), None);
}

#[test]
fn error_invoking_is_capped_to_fit_576() {
    let big = [0u8; 1500];
    assert_eq!(icmp_error_invoking(&big).len(), 548);
    assert_eq!(icmp_error_invoking(&UDP_DATAGRAM).len(), UDP_DATAGRAM.len());
    let repr = IcmpRepr::DstUnreachable {
        code: IcmpUnreachable::PortUnreachable,
        invoking: icmp_error_invoking(&big),
    };
    assert_eq!(IPV4_HEADER_LEN + repr.buffer_len(), 576);
}

#[test]
fn packet_into_data_outlives_view() {
    let data = {
        let p = IcmpPacket::new_checked(ping()).unwrap();
        p.into_data()
    };
    assert_eq!(data, &ping()[8..]);
}

proptest! {
    #[test]
    fn invoking_arbitrary_bytes_never_panics(
        mut data in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        if let Some(b) = data.first_mut() {
            *b = 0x40 | (*b & 0x0f);
        }
        if let Ok(inv) = IcmpInvoking::parse(&data) {
            prop_assert!(inv.payload.len() >= 8);
            let _ = inv.ports();
        }
    }
}
