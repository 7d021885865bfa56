//! Ethernet II frames (IEEE 802.3 with an EtherType, RFC 894 for IPv4).
//!
//! Only the 14-byte header is modelled: destination, source, EtherType. The
//! NIC strips the preamble and the FCS. 802.1Q tags are not understood: a
//! tagged frame reports `EtherType::Unknown(0x8100)`.

use core::fmt;
use core::ops::Range;
use core::str::FromStr;

use super::{read_u16, write_u16, Error, Result};

/// A 48-bit IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    /// The address with these six octets, in transmission order.
    pub const fn from_bytes(bytes: [u8; 6]) -> Self {
        EthernetAddress(bytes)
    }

    /// The address from its text form, "aa:bb:cc:dd:ee:ff" (two hex digits
    /// per octet, either case); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut out = [0u8; 6];
        let mut parts = text.split(':');
        for b in out.iter_mut() {
            let p = parts.next()?;
            if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            *b = u8::from_str_radix(p, 16).ok()?;
        }
        parts.next().is_none().then_some(EthernetAddress(out))
    }

    /// The address from a slice; `Error::Malformed` unless it is 6 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let octets: [u8; 6] = bytes.try_into().map_err(|_| Error::Malformed)?;
        Ok(EthernetAddress(octets))
    }

    /// The six octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// True for ff:ff:ff:ff:ff:ff.
    pub const fn is_broadcast(&self) -> bool {
        let b = self.0;
        b[0] == 0xff && b[1] == 0xff && b[2] == 0xff && b[3] == 0xff && b[4] == 0xff && b[5] == 0xff
    }

    /// True when the I/G bit (least significant bit of the first octet) is
    /// set: a group address. Broadcast is a multicast address.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// True for an individual address that is not all zeros, i.e. one a
    /// station may use as its own source.
    pub const fn is_unicast(&self) -> bool {
        let b = self.0;
        let zero = b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0;
        !self.is_multicast() && !zero
    }

    /// True when the U/L bit is set: a locally administered address.
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl From<[u8; 6]> for EthernetAddress {
    fn from(bytes: [u8; 6]) -> Self {
        EthernetAddress(bytes)
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for EthernetAddress {
    type Err = Error;

    /// Six groups of exactly two hex digits separated by `:` (or all by `-`).
    fn from_str(s: &str) -> Result<Self> {
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut groups = s.split(sep);
        for slot in out.iter_mut() {
            let group = groups.next().ok_or(Error::Malformed)?;
            if group.len() != 2 || !group.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::Malformed);
            }
            *slot = u8::from_str_radix(group, 16).map_err(|_| Error::Malformed)?;
        }
        if groups.next().is_some() {
            return Err(Error::Malformed);
        }
        Ok(EthernetAddress(out))
    }
}

/// The EtherType field: what the payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EtherType {
    /// 0x0800.
    Ipv4,
    /// 0x0806.
    Arp,
    /// Anything else, including 802.1Q (0x8100) and IPv6 (0x86dd).
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(t: EtherType) -> u16 {
        match t {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtherType::Ipv4 => f.write_str("IPv4"),
            EtherType::Arp => f.write_str("ARP"),
            EtherType::Unknown(v) => write!(f, "0x{v:04x}"),
        }
    }
}

mod field {
    use super::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: usize = 14;
}

/// Length of the Ethernet II header.
pub const ETHERNET_HEADER_LEN: usize = field::PAYLOAD;

/// A zero-copy view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Length of the header.
    pub const HEADER_LEN: usize = ETHERNET_HEADER_LEN;

    /// Wrap without checking; accessors panic if the buffer is shorter than
    /// the header. Use for buffers this process sized itself.
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wrap a buffer from the wire: `Error::Truncated` if it cannot hold the
    /// header. After `Ok`, no accessor panics.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// `Err(Truncated)` if the buffer is shorter than the header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < Self::HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn dst_addr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        EthernetAddress(a)
    }

    pub fn src_addr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        EthernetAddress(a)
    }

    pub fn ethertype(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// Everything after the header, including any padding to the 60-byte
    /// minimum; the network layer trims by its own length field.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, ethertype.into());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> EthernetFrame<&'a T> {
    /// The payload, borrowed for the buffer's lifetime rather than the
    /// view's, so the view can be dropped while the payload lives on.
    pub fn into_payload(self) -> &'a [u8] {
        let whole: &'a [u8] = self.buffer.as_ref();
        &whole[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for EthernetFrame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The parsed Ethernet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetRepr {
    pub src_addr: EthernetAddress,
    pub dst_addr: EthernetAddress,
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Read the header. Re-checks the length, so an unchecked view of a
    /// short buffer yields `Truncated` rather than a panic.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &EthernetFrame<&T>) -> Result<Self> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Write the header. The payload is left for the caller.
    ///
    /// # Panics
    /// If the frame buffer is shorter than [`Self::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) {
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
    }

    /// Header length: 14.
    pub const fn buffer_len(&self) -> usize {
        ETHERNET_HEADER_LEN
    }
}

#[cfg(test)]
#[path = "ethernet_tests.rs"]
mod tests;
