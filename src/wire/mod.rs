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

pub use arp::{ArpOperation, ArpPacket, ArpRepr, ARP_PACKET_LEN};
pub use error::{Error, Result};
pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr, ETHERNET_HEADER_LEN};
pub use icmp::{icmp_type_is_error, IcmpPacket, IcmpRepr, IcmpUnreachable, ICMP_HEADER_LEN};
pub use ipv4::{
    options_have_source_route, IpProtocol, Ipv4Packet, Ipv4Repr, IPV4_HEADER_LEN, IPV4_MAX_PACKET,
};

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
