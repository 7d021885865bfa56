//! IPv4 headers (RFC 791).
//!
//! The view validates version, IHL and total length once in `new_checked`;
//! the `Repr` covers what this stack sends: 20-byte headers, no options,
//! atomic datagrams (RFC 6864). Fragments and options are visible on the view
//! so the stack can decide about them; `Ipv4Repr::parse` does not judge them.

use core::fmt;
use core::ops::Range;
use std::net::Ipv4Addr;

use super::checksum;
use super::{read_u16, write_u16, Error, Result};

/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// Largest IPv4 datagram the total length field can describe.
pub const IPV4_MAX_PACKET: usize = 65535;

/// The protocol field, for the protocols this stack knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// 1.
    Icmp,
    /// 6.
    Tcp,
    /// 17.
    Udp,
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> u8 {
        match p {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpProtocol::Icmp => f.write_str("ICMP"),
            IpProtocol::Tcp => f.write_str("TCP"),
            IpProtocol::Udp => f.write_str("UDP"),
            IpProtocol::Unknown(v) => write!(f, "protocol {v}"),
        }
    }
}

mod field {
    use super::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
    pub const OPTIONS: usize = 20;
}

const FLAG_RESERVED: u16 = 0x8000;
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_MASK: u16 = 0x1fff;

/// A zero-copy view of an IPv4 datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wrap without checking: fixed-field accessors panic on buffers under
    /// 20 bytes. `options`/`payload` clamp to the buffer and never panic.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wrap a buffer from the wire. Checks, in this order: `Truncated`
    /// under 20 bytes; `BadVersion` unless version 4; `BadHeaderLen` if IHL
    /// is below 5 or the header runs past the buffer; `BadTotalLen` if the
    /// total length is below the header or past the buffer. A buffer longer
    /// than the total length (Ethernet padding) is fine.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The checks of [`Self::new_checked`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < IPV4_HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Error::BadVersion);
        }
        let header_len = self.header_len();
        //= https://www.rfc-editor.org/rfc/rfc791#section-3.1
        //# Note that the minimum value for a correct header is 5.
        if header_len < IPV4_HEADER_LEN || header_len > len {
            return Err(Error::BadHeaderLen);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len || total_len > len {
            return Err(Error::BadTotalLen);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::TOTAL_LEN)
    }

    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    fn flags_frag(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG)
    }

    /// The reserved flag bit, which RFC 791 says must be zero.
    pub fn reserved_flag(&self) -> bool {
        self.flags_frag() & FLAG_RESERVED != 0
    }

    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (self.flags_frag() & FRAG_MASK) * 8
    }

    /// True unless this is a whole datagram (MF clear and offset zero).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        addr_at(self.buffer.as_ref(), field::SRC)
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        addr_at(self.buffer.as_ref(), field::DST)
    }

    /// Bounds of the payload, clamped to the buffer so that even an
    /// unchecked view cannot make a slice panic.
    fn payload_range(&self) -> Range<usize> {
        let len = self.buffer.as_ref().len();
        let end = usize::from(self.total_len()).min(len);
        let start = self.header_len().min(end);
        start..end
    }

    /// Header options: bytes 20..header_len.
    pub fn options(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        let end = self.header_len().min(buf.len());
        &buf[field::OPTIONS.min(end)..end]
    }

    /// The payload: header_len..total_len, without any link-layer padding.
    pub fn payload(&self) -> &[u8] {
        let r = self.payload_range();
        &self.buffer.as_ref()[r]
    }

    /// True when the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        let buf = self.buffer.as_ref();
        let end = self.header_len().min(buf.len());
        checksum::verify(&buf[..end])
    }
}

fn addr_at(buf: &[u8], r: Range<usize>) -> Ipv4Addr {
    let mut a = [0u8; 4];
    a.copy_from_slice(&buf[r]);
    Ipv4Addr::from(a)
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Set the header length in bytes; it must be a multiple of 4 in 20..=60.
    pub fn set_header_len(&mut self, bytes: usize) {
        debug_assert!(bytes % 4 == 0 && (IPV4_HEADER_LEN..=60).contains(&bytes));
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((bytes / 4) as u8 & 0x0f);
    }

    pub fn set_dscp(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (v << 2);
    }

    pub fn set_ecn(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0xfc) | (v & 0x03);
    }

    pub fn set_total_len(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::TOTAL_LEN, v);
    }

    pub fn set_ident(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, v);
    }

    fn set_flag(&mut self, flag: u16, on: bool) {
        let old = self.flags_frag();
        let new = if on { old | flag } else { old & !flag };
        write_u16(self.buffer.as_mut(), field::FLAGS_FRAG, new);
    }

    pub fn set_reserved_flag(&mut self, on: bool) {
        self.set_flag(FLAG_RESERVED, on);
    }

    pub fn set_dont_frag(&mut self, on: bool) {
        self.set_flag(FLAG_DF, on);
    }

    pub fn set_more_frags(&mut self, on: bool) {
        self.set_flag(FLAG_MF, on);
    }

    /// Set the fragment offset in bytes; it must be a multiple of 8.
    pub fn set_frag_offset(&mut self, bytes: u16) {
        debug_assert!(bytes % 8 == 0);
        let new = (self.flags_frag() & !FRAG_MASK) | ((bytes / 8) & FRAG_MASK);
        write_u16(self.buffer.as_mut(), field::FLAGS_FRAG, new);
    }

    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    pub fn set_protocol(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = p.into();
    }

    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Options bytes, clamped like [`Ipv4Packet::options`].
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len().min(self.buffer.as_ref().len());
        let start = field::OPTIONS.min(end);
        &mut self.buffer.as_mut()[start..end]
    }

    /// The payload, header_len..total_len, clamped to the buffer.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let r = self.payload_range();
        &mut self.buffer.as_mut()[r]
    }

    /// Compute and store the header checksum (header_len and all header
    /// fields must already be set).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let end = self.header_len().min(self.buffer.as_ref().len());
        let c = checksum::finish(checksum::sum(&self.buffer.as_ref()[..end]));
        self.set_checksum(c);
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// [`Ipv4Packet::payload`], borrowed for the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        let r = self.payload_range();
        let whole: &'a [u8] = self.buffer.as_ref();
        &whole[r]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// Option type octets (copied flag, class and number together).
const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_LSRR: u8 = 131;
const OPT_SSRR: u8 = 137;

/// Walk IPv4 options and report whether a source route (LSRR or SSRR) is
/// present. `Malformed` if an option length is below 2 or runs past the end.
///
/// Source routes let a sender steer the reply path, a classic spoofing
/// aid; RFC 7126 (sections 4.3 and 4.4) advises dropping them by default,
/// so the stack asks this to decide.
pub fn options_have_source_route(options: &[u8]) -> Result<bool> {
    //= https://www.rfc-editor.org/rfc/rfc791#section-3.1
    //# There are two cases for the format of an option:
    //#   Case 1:  A single octet of option-type.
    //#   Case 2:  An option-type octet, an option-length octet, and the
    //#            actual option-data octets.
    //# The option-length octet counts the option-type octet and the
    //# option-length octet as well as the option-data octets.
    let mut found = false;
    let mut rest = options;
    while let Some((&kind, tail)) = rest.split_first() {
        match kind {
            //= https://www.rfc-editor.org/rfc/rfc791#section-3.1
            //# This is used at the end of all options, not the end of each
            //# option
            OPT_EOL => break,
            OPT_NOP => rest = tail,
            _ => {
                let len = usize::from(*tail.first().ok_or(Error::Malformed)?);
                if len < 2 || len > rest.len() {
                    return Err(Error::Malformed);
                }
                found |= kind == OPT_LSRR || kind == OPT_SSRR;
                rest = &rest[len..];
            }
        }
    }
    Ok(found)
}

/// The IPv4 header fields the stack uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub protocol: IpProtocol,
    /// Bytes after the header up to the total length.
    pub payload_len: usize,
    pub ttl: u8,
}

impl Ipv4Repr {
    /// Parse a header: re-runs the length checks (so an unchecked view
    /// cannot panic), then `BadChecksum` on a wrong header checksum.
    /// Fragments and options are not judged here: the caller checks
    /// [`Ipv4Packet::is_fragment`] and [`Ipv4Packet::options`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Ipv4Packet<&T>) -> Result<Self> {
        packet.check_len()?;
        //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.1.2
        //# A host MUST verify the IP header checksum on every received
        //# datagram and silently discard every datagram that has a bad
        //# checksum.
        if !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
            ttl: packet.ttl(),
        })
    }

    /// Write a 20-byte header without options and fill its checksum. The
    /// payload is left for the caller.
    ///
    /// # Panics
    /// If the buffer is shorter than 20 bytes, or `payload_len` does not
    /// fit in the total length field (over 65515): both are bugs in the
    /// caller, which sizes its own buffers.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv4Packet<T>) {
        let total = u16::try_from(self.buffer_len()).expect("IPv4 payload_len over 65515");
        packet.set_version(4);
        packet.set_header_len(IPV4_HEADER_LEN);
        packet.set_dscp(0);
        packet.set_ecn(0);
        packet.set_total_len(total);
        //= https://www.rfc-editor.org/rfc/rfc6864#section-4.1
        //# In atomic datagrams, the IPv4 ID field has no meaning; thus, it
        //# can be set to an arbitrary value
        // Every datagram we send is atomic (DF set, never fragmented), so a
        // constant 0 keeps emit stateless.
        packet.set_ident(0);
        write_u16(packet.buffer.as_mut(), field::FLAGS_FRAG, FLAG_DF);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }

    /// Header plus payload: 20 + payload_len.
    pub const fn buffer_len(&self) -> usize {
        IPV4_HEADER_LEN + self.payload_len
    }
}

#[cfg(test)]
#[path = "ipv4_tests.rs"]
mod tests;
