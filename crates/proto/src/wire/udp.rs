//! UDP (RFC 768) over IPv4.

use core::ops::Range;
use std::net::Ipv4Addr;

use super::checksum;
use super::{read_u16, write_u16, Error, IpProtocol, Result};

mod field {
    use super::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const PAYLOAD: usize = 8;
}

/// Length of the UDP header.
pub const UDP_HEADER_LEN: usize = field::PAYLOAD;

/// A zero-copy view of a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wrap without checking: port/length/checksum accessors panic under 8
    /// bytes; the payload and checksum ranges clamp to the buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wrap a buffer from the wire (the IP payload): `Truncated` under 8
    /// bytes, `BadLength` if the length field is below 8 or past the
    /// buffer. A length shorter than the buffer trims the payload.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The checks of [`Self::new_checked`].
    pub fn check_len(&self) -> Result<()> {
        let buf_len = self.buffer.as_ref().len();
        if buf_len < UDP_HEADER_LEN {
            return Err(Error::Truncated);
        }
        //= https://www.rfc-editor.org/rfc/rfc768
        //# Length  is the length  in octets  of this user datagram  including
        //# this header  and the data.   (This  means  the minimum value of the
        //# length is eight.)
        let len = usize::from(self.len());
        if len < UDP_HEADER_LEN || len > buf_len {
            return Err(Error::BadLength);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field: header plus payload, in bytes.
    pub fn len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// True when the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= UDP_HEADER_LEN
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// End of the datagram: the length field, clamped to the buffer.
    fn end(&self) -> usize {
        usize::from(self.len()).min(self.buffer.as_ref().len())
    }

    /// Bytes 8..length.
    pub fn payload(&self) -> &[u8] {
        let end = self.end();
        &self.buffer.as_ref()[field::PAYLOAD.min(end)..end]
    }

    /// Sum of the pseudo-header and the datagram up to its length field.
    fn sum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u32 {
        let datagram = &self.buffer.as_ref()[..self.end()];
        checksum::add(
            checksum::pseudo_header(src, dst, IpProtocol::Udp.into(), self.len()),
            checksum::sum(datagram),
        )
    }

    /// True when the checksum is right for this source and destination, or
    /// is zero ("no checksum").
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc768
        //# An all zero  transmitted checksum  value means that the
        //# transmitter  generated  no checksum
        if self.checksum() == 0 {
            return true;
        }
        checksum::fold(self.sum(src, dst)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    pub fn set_src_port(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, v);
    }

    pub fn set_len(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, v);
    }

    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Bytes 8..length, clamped to the buffer.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.end();
        &mut self.buffer.as_mut()[field::PAYLOAD.min(end)..end]
    }

    /// Compute and store the checksum (length and payload must be set).
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let c = checksum::finish(self.sum(src, dst));
        //= https://www.rfc-editor.org/rfc/rfc768
        //# If the computed  checksum  is zero,  it is transmitted  as all ones
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> UdpPacket<&'a T> {
    /// [`UdpPacket::payload`], borrowed for the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        let end = self.end();
        let whole: &'a [u8] = self.buffer.as_ref();
        &whole[field::PAYLOAD.min(end)..end]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for UdpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The UDP header fields the stack uses; the payload stays in the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
}

impl UdpRepr {
    /// Parse: re-runs the length checks, then `BadChecksum` if a nonzero
    /// checksum is wrong for this source and destination.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &UdpPacket<&T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<Self> {
        packet.check_len()?;
        //= https://www.rfc-editor.org/rfc/rfc1122#section-4.1.3.4
        //# If a UDP datagram is received with a checksum that is non-
        //# zero and invalid, UDP MUST silently discard the datagram.
        if !packet.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
        })
    }

    /// Write header and payload and fill the checksum (always sent; RFC 1122
    /// 4.1.3.4 makes generating it the default). `emit_payload` gets exactly
    /// `payload_len` bytes to fill.
    ///
    /// # Panics
    /// If the buffer is shorter than `8 + payload_len`, or that sum does not
    /// fit the 16-bit length field: both are bugs in the caller.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut UdpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload_len: usize,
        emit_payload: impl FnOnce(&mut [u8]),
    ) {
        let len = u16::try_from(UDP_HEADER_LEN + payload_len).expect("UDP length over 65535");
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(len);
        let end = usize::from(len);
        emit_payload(&mut packet.buffer.as_mut()[field::PAYLOAD..end]);
        packet.fill_checksum(src, dst);
    }

    /// The header length, 8; the datagram is `header_len() + payload_len`.
    pub const fn header_len(&self) -> usize {
        UDP_HEADER_LEN
    }
}

#[cfg(test)]
#[path = "udp_tests.rs"]
mod tests;
