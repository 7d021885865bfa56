//! ARP (RFC 826) for Ethernet and IPv4 only.
//!
//! The packet format is generic over hardware and protocol address sizes,
//! but this stack only speaks Ethernet (htype 1, hlen 6) over IPv4 (ptype
//! 0x0800, plen 4), so the view uses the fixed 28-byte layout and the `Repr`
//! rejects anything else as `Unsupported`.

use core::ops::Range;
use std::net::Ipv4Addr;

use super::{read_u16, write_u16, Error, EtherType, EthernetAddress, Result};

/// The `ar$op` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> Self {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(op: ArpOperation) -> u16 {
        match op {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(other) => other,
        }
    }
}

mod field {
    use super::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_PACKET_LEN: usize = field::TPA.end;
/// `ar$hrd` for Ethernet (RFC 826, "Ethernet (10Mb)").
pub const ARP_HTYPE_ETHERNET: u16 = 1;

/// A zero-copy view of an Ethernet/IPv4 ARP packet (fixed 28-byte layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Length of the Ethernet/IPv4 layout.
    pub const LEN: usize = ARP_PACKET_LEN;

    /// Wrap without checking; accessors panic on buffers under 28 bytes.
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wrap a buffer from the wire: `Truncated` under 28 bytes. Trailing
    /// bytes (Ethernet padding) are allowed. After `Ok`, no accessor panics;
    /// the address-size fields are only checked by [`ArpRepr::parse`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Err(Truncated)` if the buffer cannot hold the fixed layout.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < Self::LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn hardware_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::HTYPE)
    }

    pub fn protocol_type(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::PTYPE))
    }

    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(read_u16(self.buffer.as_ref(), field::OPER))
    }

    pub fn source_hardware_addr(&self) -> EthernetAddress {
        mac_at(self.buffer.as_ref(), field::SHA)
    }

    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        ip_at(self.buffer.as_ref(), field::SPA)
    }

    pub fn target_hardware_addr(&self) -> EthernetAddress {
        mac_at(self.buffer.as_ref(), field::THA)
    }

    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        ip_at(self.buffer.as_ref(), field::TPA)
    }
}

fn mac_at(buf: &[u8], r: Range<usize>) -> EthernetAddress {
    let mut a = [0u8; 6];
    a.copy_from_slice(&buf[r]);
    EthernetAddress(a)
}

fn ip_at(buf: &[u8], r: Range<usize>) -> Ipv4Addr {
    let mut a = [0u8; 4];
    a.copy_from_slice(&buf[r]);
    Ipv4Addr::from(a)
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    pub fn set_hardware_type(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::HTYPE, v);
    }

    pub fn set_protocol_type(&mut self, v: EtherType) {
        write_u16(self.buffer.as_mut(), field::PTYPE, v.into());
    }

    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }

    pub fn set_operation(&mut self, op: ArpOperation) {
        write_u16(self.buffer.as_mut(), field::OPER, op.into());
    }

    pub fn set_source_hardware_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0);
    }

    pub fn set_source_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }

    pub fn set_target_hardware_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0);
    }

    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for ArpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A parsed Ethernet/IPv4 ARP packet.
///
/// Operations other than request and reply parse as `Unknown` so the stack
/// can count them; it decides what to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpRepr {
    pub operation: ArpOperation,
    pub source_hardware_addr: EthernetAddress,
    pub source_protocol_addr: Ipv4Addr,
    pub target_hardware_addr: EthernetAddress,
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Parse; `Truncated` under 28 bytes, `Unsupported` for any hardware or
    /// protocol other than Ethernet/IPv4.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &ArpPacket<&T>) -> Result<Self> {
        packet.check_len()?;
        //= https://www.rfc-editor.org/rfc/rfc826#section-1
        //# ?Do I have the hardware type in ar$hrd?
        //# Yes: (almost definitely)
        //#   [optionally check the hardware length ar$hln]
        //#   ?Do I speak the protocol in ar$pro?
        //#   Yes:
        //#     [optionally check the protocol length ar$pln]
        // The address lengths are checked, not optional here: the view reads
        // fixed offsets that are only right for hlen 6 and plen 4.
        if packet.hardware_type() != ARP_HTYPE_ETHERNET
            || packet.protocol_type() != EtherType::Ipv4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::Unsupported);
        }
        Ok(ArpRepr {
            operation: packet.operation(),
            source_hardware_addr: packet.source_hardware_addr(),
            source_protocol_addr: packet.source_protocol_addr(),
            target_hardware_addr: packet.target_hardware_addr(),
            target_protocol_addr: packet.target_protocol_addr(),
        })
    }

    /// Write all 28 bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than [`Self::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) {
        packet.set_hardware_type(ARP_HTYPE_ETHERNET);
        packet.set_protocol_type(EtherType::Ipv4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_source_hardware_addr(self.source_hardware_addr);
        packet.set_source_protocol_addr(self.source_protocol_addr);
        packet.set_target_hardware_addr(self.target_hardware_addr);
        packet.set_target_protocol_addr(self.target_protocol_addr);
    }

    /// 28.
    pub const fn buffer_len(&self) -> usize {
        ARP_PACKET_LEN
    }
}

#[cfg(test)]
#[path = "arp_tests.rs"]
mod tests;
