use super::*;
use crate::wire::vectors::{UDP_AT, UDP_DATAGRAM};
use proptest::prelude::*;

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

fn udp() -> &'static [u8] {
    &UDP_DATAGRAM[UDP_AT..]
}

fn emit_vec(repr: &UdpRepr, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0x77u8; repr.header_len() + payload.len()];
    repr.emit(
        &mut UdpPacket::new_unchecked(&mut b[..]),
        src,
        dst,
        payload.len(),
        |p| p.copy_from_slice(payload),
    );
    b
}

#[test]
fn nc_datagram_fields_match() {
    let p = UdpPacket::new_checked(udp()).unwrap();
    assert_eq!(p.src_port(), 53211);
    assert_eq!(p.dst_port(), 7);
    assert_eq!(p.len(), 14);
    assert!(!p.is_empty());
    assert_eq!(p.checksum(), 0x5feb);
    assert_eq!(p.payload(), b"hello\n");
    assert!(p.verify_checksum(SRC, DST));
    assert_eq!(
        UdpRepr::parse(&p, SRC, DST),
        Ok(UdpRepr {
            src_port: 53211,
            dst_port: 7
        })
    );
}

#[test]
fn nc_datagram_reemits_identically() {
    let repr = UdpRepr {
        src_port: 53211,
        dst_port: 7,
    };
    assert_eq!(emit_vec(&repr, SRC, DST, b"hello\n"), udp());
}

#[test]
fn packet_every_truncation_is_an_error() {
    for len in 0..udp().len() {
        let b = &udp()[..len];
        let want = if len < 8 {
            Error::Truncated
        } else {
            Error::BadLength
        };
        assert_eq!(UdpPacket::new_checked(b).err(), Some(want), "len {len}");
        assert_eq!(
            UdpRepr::parse(&UdpPacket::new_unchecked(b), SRC, DST),
            Err(want)
        );
    }
}

#[test]
fn packet_length_below_header_is_bad_length() {
    for len in 0u16..8 {
        let mut b = udp().to_vec();
        b[4..6].copy_from_slice(&len.to_be_bytes());
        assert_eq!(UdpPacket::new_checked(&b[..]).err(), Some(Error::BadLength));
    }
}

#[test]
fn packet_length_past_buffer_is_bad_length() {
    let mut b = udp().to_vec();
    b[4..6].copy_from_slice(&15u16.to_be_bytes());
    assert_eq!(UdpPacket::new_checked(&b[..]).err(), Some(Error::BadLength));
}

#[test]
fn packet_length_short_of_buffer_trims_payload() {
    // Trailing bytes after the UDP length (e.g. a sloppy sender) are ignored;
    // the checksum covers only the declared length.
    let mut b = udp().to_vec();
    b.extend_from_slice(&[1, 2, 3]);
    let p = UdpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(p.payload(), b"hello\n");
    assert!(UdpRepr::parse(&p, SRC, DST).is_ok());

    // Shrinking the length breaks the sender's checksum...
    let mut b = udp().to_vec();
    b[5] = 10;
    let p = UdpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(p.payload(), b"he");
    assert_eq!(UdpRepr::parse(&p, SRC, DST), Err(Error::BadChecksum));
    // ...unless there was none.
    b[6..8].fill(0);
    let p = UdpPacket::new_checked(&b[..]).unwrap();
    assert!(UdpRepr::parse(&p, SRC, DST).is_ok());
}

#[test]
fn repr_any_byte_flip_is_bad_checksum() {
    for i in 0..udp().len() {
        if (4..6).contains(&i) {
            continue; // the length field, covered above
        }
        let mut b = udp().to_vec();
        b[i] ^= 0x01;
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(
            UdpRepr::parse(&p, SRC, DST),
            Err(Error::BadChecksum),
            "byte {i}"
        );
    }
}

#[test]
fn repr_wrong_pseudo_header_is_bad_checksum() {
    let p = UdpPacket::new_checked(udp()).unwrap();
    let other = Ipv4Addr::new(198, 18, 0, 3);
    assert_eq!(UdpRepr::parse(&p, other, DST), Err(Error::BadChecksum));
    assert_eq!(UdpRepr::parse(&p, SRC, other), Err(Error::BadChecksum));
    // Swapping source and destination leaves the sum unchanged: the
    // checksum cannot tell direction, which is fine.
    assert!(UdpRepr::parse(&p, DST, SRC).is_ok());
}

#[test]
fn zero_checksum_means_none_and_is_accepted() {
    let mut b = udp().to_vec();
    b[6..8].fill(0);
    b[8] = b'j'; // payload changed, no checksum to catch it
    let p = UdpPacket::new_checked(&b[..]).unwrap();
    assert!(p.verify_checksum(Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST));
    assert!(UdpRepr::parse(&p, SRC, DST).is_ok());
}

#[test]
fn computed_zero_checksum_is_sent_as_all_ones() {
    let repr = UdpRepr {
        src_port: 1000,
        dst_port: 2000,
    };
    // With payload word w = checksum(w = 0), the total sums to 0xffff, so
    // the computed checksum is zero.
    let first = emit_vec(&repr, SRC, DST, &[0, 0]);
    let c = u16::from_be_bytes([first[6], first[7]]);
    let b = emit_vec(&repr, SRC, DST, &c.to_be_bytes());
    assert_eq!(&b[6..8], &[0xff, 0xff]);
    let p = UdpPacket::new_checked(&b[..]).unwrap();
    assert!(p.verify_checksum(SRC, DST));
}

#[test]
fn empty_datagram_round_trips() {
    let repr = UdpRepr {
        src_port: 9,
        dst_port: 0,
    };
    let b = emit_vec(&repr, SRC, DST, &[]);
    let p = UdpPacket::new_checked(&b[..]).unwrap();
    assert!(p.is_empty() && p.payload().is_empty());
    assert_eq!(UdpRepr::parse(&p, SRC, DST), Ok(repr));
}

#[test]
fn packet_unchecked_slices_clamp_instead_of_panicking() {
    let mut b = udp().to_vec();
    b[4..6].copy_from_slice(&0xffffu16.to_be_bytes());
    let mut p = UdpPacket::new_unchecked(&mut b[..]);
    assert_eq!(p.payload().len(), 6);
    assert_eq!(p.payload_mut().len(), 6);
    b[4..6].copy_from_slice(&3u16.to_be_bytes());
    let p = UdpPacket::new_unchecked(&b[..]);
    assert!(p.payload().is_empty());
    let _ = p.verify_checksum(SRC, DST);
}

#[test]
#[should_panic(expected = "UDP length over 65535")]
fn repr_emit_oversized_payload_panics() {
    let repr = UdpRepr {
        src_port: 1,
        dst_port: 2,
    };
    let mut b = [0u8; 8];
    repr.emit(
        &mut UdpPacket::new_unchecked(&mut b[..]),
        SRC,
        DST,
        65535 - 7,
        |_| {},
    );
}

proptest! {
    #[test]
    fn repr_emit_parse_round_trips(
        src_port in any::<u16>(),
        dst_port in any::<u16>(),
        src in any::<[u8; 4]>(),
        dst in any::<[u8; 4]>(),
        payload in proptest::collection::vec(any::<u8>(), 0..1500),
    ) {
        let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
        let repr = UdpRepr { src_port, dst_port };
        let b = emit_vec(&repr, src, dst, &payload);
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        prop_assert_ne!(p.checksum(), 0);
        prop_assert_eq!(usize::from(p.len()), 8 + payload.len());
        prop_assert_eq!(UdpRepr::parse(&p, src, dst), Ok(repr));
        prop_assert_eq!(p.payload(), &payload[..]);
    }

    #[test]
    fn packet_new_checked_arbitrary_bytes_never_panics(
        mut data in proptest::collection::vec(any::<u8>(), 0..64),
        len_hint in any::<u16>(),
    ) {
        // Half the time make the length field plausible.
        if len_hint & 1 == 1 && data.len() >= 8 {
            let l = (usize::from(len_hint) % (data.len() + 4)) as u16;
            data[4..6].copy_from_slice(&l.to_be_bytes());
        }
        match UdpPacket::new_checked(&data[..]) {
            Ok(p) => {
                let _ = (
                    p.src_port(),
                    p.dst_port(),
                    p.len(),
                    p.is_empty(),
                    p.checksum(),
                    p.payload(),
                    p.verify_checksum(SRC, DST),
                );
                prop_assert_eq!(p.payload().len(), usize::from(p.len()) - 8);
                let _ = UdpRepr::parse(&p, SRC, DST);
            }
            Err(_) => {
                prop_assert!(UdpRepr::parse(&UdpPacket::new_unchecked(&data[..]), SRC, DST).is_err());
            }
        }
    }
}

#[test]
fn packet_into_payload_outlives_view() {
    let payload = UdpPacket::new_checked(udp()).unwrap().into_payload();
    assert_eq!(payload, b"hello\n");
}
