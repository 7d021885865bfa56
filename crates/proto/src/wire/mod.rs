//! Byte layouts: zero-copy views over frames and plain `Repr` structs with
//! `parse`/`emit`. No state, no allocation.
//!
//! Each view `Foo<T: AsRef<[u8]>>` has `new_checked`, which validates every
//! length the accessors rely on once; after `Ok` no accessor panics, whatever
//! the bytes. `new_unchecked` is for buffers this process sized itself.

use core::ops::Range;

pub mod arp;
pub mod checksum;
pub mod error;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod tcp;
pub mod udp;

pub use arp::{ArpOperation, ArpPacket, ArpRepr, ARP_PACKET_LEN};
pub use error::{Error, Result};
pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr, ETHERNET_HEADER_LEN};
pub use icmp::{
    icmp_error_invoking, icmp_type_is_error, IcmpInvoking, IcmpPacket, IcmpRepr, IcmpUnreachable,
    ICMP_ERROR_MAX_INVOKING, ICMP_HEADER_LEN,
};
pub use ipv4::{
    options_have_source_route, IpProtocol, Ipv4Packet, Ipv4Repr, IPV4_HEADER_LEN, IPV4_MAX_PACKET,
};
pub use udp::{UdpPacket, UdpRepr, UDP_HEADER_LEN};

#[cfg(test)]
#[path = "vectors_tests.rs"]
mod vectors;

/// Big-endian u16 at a two-byte field.
#[inline]
pub(crate) fn read_u16(buf: &[u8], field: Range<usize>) -> u16 {
    let b = &buf[field];
    u16::from_be_bytes([b[0], b[1]])
}

/// Store a big-endian u16 into a two-byte field.
#[inline]
pub(crate) fn write_u16(buf: &mut [u8], field: Range<usize>, v: u16) {
    buf[field].copy_from_slice(&v.to_be_bytes());
}

/// Walk a frame the way the receive path does (Ethernet, then ARP or IPv4,
/// then ICMP or UDP), calling every accessor and parser and discarding the
/// results. An entry point for fuzzers: it must never panic.
pub fn parse_frame_for_fuzz(data: &[u8]) {
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        return;
    };
    let _ = EthernetRepr::parse(&frame);
    match frame.ethertype() {
        EtherType::Arp => {
            if let Ok(arp) = ArpPacket::new_checked(frame.payload()) {
                let _ = ArpRepr::parse(&arp);
            }
        }
        EtherType::Ipv4 => fuzz_ipv4(frame.payload()),
        EtherType::Unknown(_) => {}
    }
}

fn fuzz_ipv4(data: &[u8]) {
    let Ok(ip) = Ipv4Packet::new_checked(data) else {
        return;
    };
    let _ = (
        ip.dscp(),
        ip.ecn(),
        ip.ident(),
        ip.is_fragment(),
        ip.reserved_flag(),
    );
    let _ = options_have_source_route(ip.options());
    // Go on even with a bad header checksum: the layers above must be
    // robust on their own.
    let _ = Ipv4Repr::parse(&ip);
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    match ip.protocol() {
        IpProtocol::Icmp => {
            if let Ok(icmp) = IcmpPacket::new_checked(ip.payload()) {
                let _ = (icmp.next_hop_mtu(), icmp.rest_of_header());
                if let Ok(repr) = IcmpRepr::parse(&icmp) {
                    let _ = (repr.is_error(), repr.buffer_len());
                }
            }
        }
        IpProtocol::Udp => {
            if let Ok(udp) = UdpPacket::new_checked(ip.payload()) {
                let _ = (udp.payload(), udp.len());
                let _ = UdpRepr::parse(&udp, src, dst);
            }
        }
        IpProtocol::Tcp | IpProtocol::Unknown(_) => {}
    }
}

#[cfg(test)]
mod fuzz_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fuzz_entry_walks_known_frames() {
        parse_frame_for_fuzz(&vectors::PING_FRAME);
        let mut udp = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0];
        udp.extend_from_slice(&vectors::UDP_DATAGRAM);
        parse_frame_for_fuzz(&udp);
        for len in 0..vectors::PING_FRAME.len() {
            parse_frame_for_fuzz(&vectors::PING_FRAME[..len]);
        }
    }

    proptest! {
        #[test]
        fn fuzz_entry_arbitrary_frames_never_panic(
            ethertype in prop_oneof![Just(0x0800u16), Just(0x0806), any::<u16>()],
            version_ihl in prop_oneof![Just(0x45u8), 0x40u8..0x50, any::<u8>()],
            protocol in prop_oneof![Just(1u8), Just(17), any::<u8>()],
            tail in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            // A header skeleton steers most cases past the outer checks.
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&ethertype.to_be_bytes());
            f.push(version_ihl);
            f.extend_from_slice(&tail);
            if f.len() > 23 {
                f[23] = protocol;
                let total = (f.len() - 14) as u16;
                f[16..18].copy_from_slice(&total.to_be_bytes());
            }
            parse_frame_for_fuzz(&f);
        }
    }
}
