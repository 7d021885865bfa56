//! ICMP for IPv4 (RFC 792), the messages a host needs: echo, destination
//! unreachable and time exceeded. Everything else parses as `Other` so the
//! stack can count it and, per RFC 1122 3.2.2, otherwise ignore it.

use core::ops::Range;
use std::net::Ipv4Addr;

use super::checksum;
use super::{read_u16, write_u16, Error, IpProtocol, Result, IPV4_HEADER_LEN};

mod field {
    use super::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQ: Range<usize> = 6..8;
    /// RFC 1191: the next-hop MTU of a "fragmentation needed" message.
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
    pub const REST_OF_HEADER: Range<usize> = 4..8;
    pub const DATA: usize = 8;
}

/// Length of the ICMP header (type, code, checksum, four type-specific bytes).
pub const ICMP_HEADER_LEN: usize = field::DATA;

/// Message types (RFC 792).
pub mod msg_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const DST_UNREACHABLE: u8 = 3;
    pub const SOURCE_QUENCH: u8 = 4;
    pub const REDIRECT: u8 = 5;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const PARAMETER_PROBLEM: u8 = 12;
}

/// True for the types that report an error about another datagram: a host
/// never answers these with an ICMP error of its own (RFC 1122 3.2.2).
pub const fn icmp_type_is_error(t: u8) -> bool {
    matches!(
        t,
        msg_type::DST_UNREACHABLE
            | msg_type::SOURCE_QUENCH
            | msg_type::REDIRECT
            | msg_type::TIME_EXCEEDED
            | msg_type::PARAMETER_PROBLEM
    )
}

/// The code of a destination unreachable message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpUnreachable {
    NetUnreachable,
    HostUnreachable,
    ProtocolUnreachable,
    PortUnreachable,
    FragNeeded,
    SourceRouteFailed,
    /// Codes 6 and up (RFC 1122, RFC 1812) and anything unassigned.
    Other(u8),
}

impl From<u8> for IcmpUnreachable {
    fn from(v: u8) -> Self {
        match v {
            0 => IcmpUnreachable::NetUnreachable,
            1 => IcmpUnreachable::HostUnreachable,
            2 => IcmpUnreachable::ProtocolUnreachable,
            3 => IcmpUnreachable::PortUnreachable,
            4 => IcmpUnreachable::FragNeeded,
            5 => IcmpUnreachable::SourceRouteFailed,
            other => IcmpUnreachable::Other(other),
        }
    }
}

impl From<IcmpUnreachable> for u8 {
    fn from(c: IcmpUnreachable) -> u8 {
        match c {
            IcmpUnreachable::NetUnreachable => 0,
            IcmpUnreachable::HostUnreachable => 1,
            IcmpUnreachable::ProtocolUnreachable => 2,
            IcmpUnreachable::PortUnreachable => 3,
            IcmpUnreachable::FragNeeded => 4,
            IcmpUnreachable::SourceRouteFailed => 5,
            IcmpUnreachable::Other(v) => v,
        }
    }
}

/// A zero-copy view of an ICMP message. The message runs to the end of the
/// buffer (ICMP has no length field), so the buffer must be exactly the IP
/// payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wrap without checking; accessors panic under 8 bytes.
    pub const fn new_unchecked(buffer: T) -> Self {
        IcmpPacket { buffer }
    }

    /// Wrap a buffer from the wire: `Truncated` under 8 bytes. After `Ok`,
    /// no accessor panics.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Err(Truncated)` if the buffer cannot hold the 8-byte header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ICMP_HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Identifier of an echo request or reply.
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Sequence number of an echo request or reply.
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQ)
    }

    /// Next-hop MTU of a "fragmentation needed" message (RFC 1191 section
    /// 4); zero from routers that predate it.
    pub fn next_hop_mtu(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::NEXT_HOP_MTU)
    }

    /// Bytes 4..8, whose meaning depends on the type.
    pub fn rest_of_header(&self) -> &[u8] {
        &self.buffer.as_ref()[field::REST_OF_HEADER]
    }

    /// Everything after the 8-byte header: echo data, or the invoking
    /// datagram of an error.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    /// True when the checksum over the whole message is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_echo_ident(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_IDENT, v);
    }

    pub fn set_echo_seq_no(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_SEQ, v);
    }

    pub fn set_next_hop_mtu(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::NEXT_HOP_MTU, v);
    }

    pub fn rest_of_header_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::REST_OF_HEADER]
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        //= https://www.rfc-editor.org/rfc/rfc792
        //# The checksum is the 16-bit ones's complement of the one's
        //# complement sum of the ICMP message starting with the ICMP Type.
        //# For computing the checksum , the checksum field should be zero.
        self.set_checksum(0);
        let c = checksum::finish(checksum::sum(self.buffer.as_ref()));
        self.set_checksum(c);
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> IcmpPacket<&'a T> {
    /// [`IcmpPacket::data`], borrowed for the buffer's lifetime.
    pub fn into_data(self) -> &'a [u8] {
        let whole: &'a [u8] = self.buffer.as_ref();
        &whole[field::DATA..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for IcmpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A parsed ICMP message, borrowing its data from the packet buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpRepr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    /// `invoking` is the original IP header plus leading payload bytes, as
    /// received or as given to `emit`; the stack parses or trims it.
    DstUnreachable {
        code: IcmpUnreachable,
        invoking: &'a [u8],
    },
    TimeExceeded {
        code: u8,
        invoking: &'a [u8],
    },
    /// Any other type, or an echo with a nonzero code: parsed so it can be
    /// counted, never acted on. Emitting it writes an 8-byte message with
    /// bytes 4..8 zero; types 0, 3, 8 and 11 parse back as their variants.
    Other {
        msg_type: u8,
        code: u8,
    },
}

impl<'a> IcmpRepr<'a> {
    /// Parse a message: `Truncated` under 8 bytes, `BadChecksum` if the
    /// checksum over the whole buffer is wrong.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &IcmpPacket<&'a T>) -> Result<IcmpRepr<'a>> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let whole: &'a T = packet.buffer;
        let data: &'a [u8] = &whole.as_ref()[field::DATA..];
        let (t, code) = (packet.msg_type(), packet.code());
        Ok(match (t, code) {
            (msg_type::ECHO_REQUEST, 0) => IcmpRepr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            (msg_type::ECHO_REPLY, 0) => IcmpRepr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            (msg_type::DST_UNREACHABLE, _) => IcmpRepr::DstUnreachable {
                code: IcmpUnreachable::from(code),
                invoking: data,
            },
            (msg_type::TIME_EXCEEDED, _) => IcmpRepr::TimeExceeded {
                code,
                invoking: data,
            },
            (msg_type, code) => IcmpRepr::Other { msg_type, code },
        })
    }

    /// Write the message and its checksum. The checksum covers the whole
    /// buffer, so hand in exactly [`Self::buffer_len`] bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than [`Self::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut IcmpPacket<T>) {
        packet.rest_of_header_mut().fill(0);
        let (t, code, data): (u8, u8, &[u8]) = match *self {
            IcmpRepr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
                (msg_type::ECHO_REQUEST, 0, data)
            }
            IcmpRepr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
                (msg_type::ECHO_REPLY, 0, data)
            }
            IcmpRepr::DstUnreachable { code, invoking } => {
                (msg_type::DST_UNREACHABLE, code.into(), invoking)
            }
            IcmpRepr::TimeExceeded { code, invoking } => (msg_type::TIME_EXCEEDED, code, invoking),
            IcmpRepr::Other { msg_type, code } => (msg_type, code, &[][..]),
        };
        packet.set_msg_type(t);
        packet.set_code(code);
        packet.data_mut()[..data.len()].copy_from_slice(data);
        packet.fill_checksum();
    }

    /// Length of the emitted message: 8 plus the data or invoking bytes.
    pub fn buffer_len(&self) -> usize {
        ICMP_HEADER_LEN
            + match self {
                IcmpRepr::EchoRequest { data, .. } | IcmpRepr::EchoReply { data, .. } => data.len(),
                IcmpRepr::DstUnreachable { invoking, .. }
                | IcmpRepr::TimeExceeded { invoking, .. } => invoking.len(),
                IcmpRepr::Other { .. } => 0,
            }
    }

    /// True for error messages, which must never trigger an ICMP error in
    /// return (RFC 1122 3.2.2).
    pub fn is_error(&self) -> bool {
        match self {
            IcmpRepr::DstUnreachable { .. } | IcmpRepr::TimeExceeded { .. } => true,
            IcmpRepr::Other { msg_type, .. } => icmp_type_is_error(*msg_type),
            IcmpRepr::EchoRequest { .. } | IcmpRepr::EchoReply { .. } => false,
        }
    }
}

/// Most bytes of the offending datagram an ICMP error quotes, so that the
/// whole error (IPv4 header, ICMP header, quote) stays within 576 bytes.
pub const ICMP_ERROR_MAX_INVOKING: usize = 576 - IPV4_HEADER_LEN - ICMP_HEADER_LEN;

/// The leading part of `datagram` (an IPv4 packet, header included, up to
/// its total length) to quote as the `invoking` bytes of an ICMP error.
pub fn icmp_error_invoking(datagram: &[u8]) -> &[u8] {
    //= https://www.rfc-editor.org/rfc/rfc1812#section-4.3.2.3
    //# The ICMP datagram SHOULD contain as much of the original datagram as
    //# possible without the length of the ICMP datagram exceeding 576 bytes.
    &datagram[..datagram.len().min(ICMP_ERROR_MAX_INVOKING)]
}

/// The datagram quoted by a received ICMP error, enough to find the socket
/// it concerns. Its total length and checksum are not checked: the quote is
/// truncated by design.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpInvoking<'a> {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub protocol: IpProtocol,
    /// The quoted bytes after the IP header: at least 8.
    pub payload: &'a [u8],
}

impl<'a> IcmpInvoking<'a> {
    /// Parse the `invoking` bytes of a `DstUnreachable` or `TimeExceeded`:
    /// `Truncated` if shorter than a header plus 8 bytes, `BadVersion`,
    /// `BadHeaderLen` as for [`crate::wire::Ipv4Packet`].
    pub fn parse(invoking: &'a [u8]) -> Result<Self> {
        if invoking.len() < IPV4_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let ip = super::Ipv4Packet::new_unchecked(invoking);
        if ip.version() != 4 {
            return Err(Error::BadVersion);
        }
        let header_len = ip.header_len();
        if header_len < IPV4_HEADER_LEN || header_len > invoking.len() {
            return Err(Error::BadHeaderLen);
        }
        // Quote up to the total length when it is shorter than the quote
        // (a tiny datagram quoted with trailing bytes), else all of it.
        let total = usize::from(ip.total_len());
        let end = if total >= header_len && total < invoking.len() {
            total
        } else {
            invoking.len()
        };
        let payload = &invoking[header_len..end];
        //= https://www.rfc-editor.org/rfc/rfc792
        //# The internet header plus the first 64 bits of the original
        //# datagram's data.  This data is used by the host to match the
        //# message to the appropriate process.
        if payload.len() < 8 {
            return Err(Error::Truncated);
        }
        Ok(IcmpInvoking {
            src_addr: ip.src_addr(),
            dst_addr: ip.dst_addr(),
            protocol: ip.protocol(),
            payload,
        })
    }

    /// (source, destination) ports of a quoted TCP or UDP header.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.protocol {
            IpProtocol::Tcp | IpProtocol::Udp => {
                Some((read_u16(self.payload, 0..2), read_u16(self.payload, 2..4)))
            }
            IpProtocol::Icmp | IpProtocol::Unknown(_) => None,
        }
    }
}

#[cfg(test)]
#[path = "icmp_tests.rs"]
mod tests;
