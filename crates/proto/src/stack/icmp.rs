//! ICMP (RFC 792, RFC 1122 3.2.2): echo, and the errors we send.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::ipv4_out::Datagram;
use super::net::Net;
use super::DropReason;
use crate::link::DynTx;
use crate::time::Instant;
use crate::wire::{
    icmp_type_is_error, Error, IcmpPacket, IcmpRepr, IcmpUnreachable, IpProtocol, Ipv4Packet,
    ICMP_HEADER_LEN, IPV4_HEADER_LEN,
};

/// The ICMP errors the stack generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IcmpError {
    PortUnreachable,
    ProtocolUnreachable,
    /// Time exceeded, code 1 (fragment reassembly time exceeded).
    ReassemblyTimeout,
}

/// The most of the offending datagram an error quotes.
//= https://www.rfc-editor.org/rfc/rfc1812#section-4.3.2.3
//# the ICMP datagram SHOULD contain as much of the original
//# datagram as possible without the length of the ICMP
//# datagram exceeding 576 bytes.
pub const MAX_QUOTE: usize = 576 - IPV4_HEADER_LEN - ICMP_HEADER_LEN;

/// An ICMP error we received, as a transport protocol sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpErrorKind {
    DstUnreachable(IcmpUnreachable),
    /// Time exceeded with its code (0 in transit, 1 reassembly).
    TimeExceeded(u8),
}

/// A received ICMP error about a datagram we sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TransportError {
    pub kind: IcmpErrorKind,
    pub protocol: IpProtocol,
    /// Our end of the quoted datagram (source address and port).
    pub local: SocketAddrV4,
    /// Its destination.
    pub remote: SocketAddrV4,
    /// Bytes 4..8 of the quoted transport header: TCP's sequence number.
    pub quoted_seq: Option<u32>,
    /// Next-hop MTU of a "fragmentation needed" (RFC 1191), else 0.
    pub next_hop_mtu: u16,
}

/// Read the datagram an ICMP error quotes: it must be one we sent and
/// include the 8 bytes that hold the ports.
fn quoted(our_ip: Ipv4Addr, kind: IcmpErrorKind, invoking: &[u8]) -> Option<TransportError> {
    if invoking.len() < IPV4_HEADER_LEN {
        return None;
    }
    let ip = Ipv4Packet::new_unchecked(invoking);
    let hlen = ip.header_len();
    if ip.version() != 4 || hlen < IPV4_HEADER_LEN || invoking.len() < hlen + 8 {
        return None;
    }
    if ip.src_addr() != our_ip || ip.frag_offset() != 0 {
        return None;
    }
    let port = |at: usize| u16::from_be_bytes([invoking[hlen + at], invoking[hlen + at + 1]]);
    let quoted_seq = (invoking.len() >= hlen + 8).then(|| {
        u32::from_be_bytes([
            invoking[hlen + 4],
            invoking[hlen + 5],
            invoking[hlen + 6],
            invoking[hlen + 7],
        ])
    });
    Some(TransportError {
        kind,
        protocol: ip.protocol(),
        local: SocketAddrV4::new(our_ip, port(0)),
        remote: SocketAddrV4::new(ip.dst_addr(), port(2)),
        quoted_seq,
        next_hop_mtu: 0,
    })
}

impl Net {
    /// ICMP input. `Ok(Some(..))` is an error about a datagram we sent, for
    /// the transport layer.
    pub(crate) fn icmp_input(
        &mut self,
        now: Instant,
        d: &Datagram<'_>,
        tx: &mut dyn DynTx,
    ) -> Result<Option<TransportError>, DropReason> {
        let packet = IcmpPacket::new_checked(d.payload).map_err(|_| DropReason::IcmpTruncated)?;
        let repr = IcmpRepr::parse(&packet).map_err(|e| match e {
            Error::BadChecksum => DropReason::IcmpBadChecksum,
            _ => DropReason::IcmpTruncated,
        })?;
        match repr {
            IcmpRepr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                self.counters.icmp_echo_requests_rx += 1;
                //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.2.6
                //# An ICMP Echo Request destined to an IP broadcast or IP
                //# multicast address MAY be silently discarded.
                if d.broadcast {
                    return Err(DropReason::IcmpIgnored);
                }
                //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.2.6
                //# The IP source address in an ICMP Echo Reply MUST be the
                //# same as the specific-destination address (defined in
                //# Section 3.2.1.3) of the corresponding ICMP Echo Request
                //# message.
                //#
                //# Data received in an ICMP Echo Request MUST be entirely
                //# included in the resulting Echo Reply.
                // Replies over the MTU are fragmented by `send_ipv4`.
                let reply = IcmpRepr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let sent = self.send_ipv4(
                    now,
                    d.src,
                    IpProtocol::Icmp,
                    reply.buffer_len(),
                    &mut |buf| reply.emit(&mut IcmpPacket::new_unchecked(buf)),
                    tx,
                );
                // A failed send was counted under its own reason.
                if sent.is_ok() {
                    self.counters.icmp_echo_replies_tx += 1;
                }
                Ok(None)
            }
            //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.2.1
            //# A Destination Unreachable message that is received MUST be
            //# reported to the transport layer.
            IcmpRepr::DstUnreachable { code, invoking } => {
                self.counters.icmp_errors_rx += 1;
                let kind = IcmpErrorKind::DstUnreachable(code);
                let mtu = packet.next_hop_mtu();
                quoted(self.config.ipv4, kind, invoking)
                    .map(|e| {
                        Some(TransportError {
                            next_hop_mtu: mtu,
                            ..e
                        })
                    })
                    .ok_or(DropReason::IcmpIgnored)
            }
            //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.2.4
            //# An incoming Time Exceeded message MUST be passed to the
            //# transport layer.
            IcmpRepr::TimeExceeded { code, invoking } => {
                self.counters.icmp_errors_rx += 1;
                let kind = IcmpErrorKind::TimeExceeded(code);
                quoted(self.config.ipv4, kind, invoking)
                    .map(Some)
                    .ok_or(DropReason::IcmpIgnored)
            }
            // Echo replies (we send no requests), redirects (a host with one
            // gateway has nothing to redirect), and everything else.
            _ => Err(DropReason::IcmpIgnored),
        }
    }

    /// Send an ICMP error about `d`, unless RFC 1122 forbids it or the rate
    /// limit says no (counted as `IcmpRateLimited`).
    pub(crate) fn send_icmp_error(
        &mut self,
        now: Instant,
        kind: IcmpError,
        d: &Datagram<'_>,
        tx: &mut dyn DynTx,
    ) {
        //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.2
        //# An ICMP error message MUST NOT be sent as the result of
        //# receiving:
        //#
        //# *    an ICMP error message, or
        //#
        //# *    a datagram destined to an IP broadcast or IP multicast
        //#      address, or
        //#
        //# *    a datagram sent as a link-layer broadcast, or
        //#
        //# *    a non-initial fragment, or
        //#
        //# *    a datagram whose source address does not define a single
        //#      host -- e.g., a zero address, a loopback address, a
        //#      broadcast address, a multicast address, or a Class E
        //#      address.
        // Sources were validated on input (`Ipv4BadSource`) except class E,
        // checked here.
        if d.broadcast || d.dst.is_multicast() || u32::from(d.src) >> 28 == 0xf {
            return;
        }
        if d.header.len() < IPV4_HEADER_LEN {
            return;
        }
        if Ipv4Packet::new_unchecked(d.header).frag_offset() != 0 {
            return;
        }
        if d.protocol == IpProtocol::Icmp {
            match d.payload.first() {
                Some(&t) if !icmp_type_is_error(t) => {}
                _ => return,
            }
        }
        //= https://www.rfc-editor.org/rfc/rfc1812#section-4.3.2.8
        //# A router SHOULD also be able to limit the rate at which it sends
        //# other sorts of ICMP error messages
        // Same reason for a host: a flood of closed-port datagrams must not
        // turn into a flood of errors.
        if !self.icmp_bucket.try_take(now) {
            self.counters.drops.count(DropReason::IcmpRateLimited);
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.2
        //# Every ICMP error message includes the Internet header and at
        //# least the first 8 data octets of the datagram that triggered
        //# the error; more than 8 octets MAY be sent
        let mut quote = [0u8; MAX_QUOTE];
        let hlen = d.header.len().min(MAX_QUOTE);
        let n = d.payload.len().min(MAX_QUOTE - hlen);
        quote[..hlen].copy_from_slice(&d.header[..hlen]);
        quote[hlen..hlen + n].copy_from_slice(&d.payload[..n]);
        let invoking = &quote[..hlen + n];
        let repr = match kind {
            IcmpError::PortUnreachable => IcmpRepr::DstUnreachable {
                code: IcmpUnreachable::PortUnreachable,
                invoking,
            },
            IcmpError::ProtocolUnreachable => IcmpRepr::DstUnreachable {
                code: IcmpUnreachable::ProtocolUnreachable,
                invoking,
            },
            IcmpError::ReassemblyTimeout => IcmpRepr::TimeExceeded { code: 1, invoking },
        };
        let sent = self.send_ipv4(
            now,
            d.src,
            IpProtocol::Icmp,
            repr.buffer_len(),
            &mut |buf| repr.emit(&mut IcmpPacket::new_unchecked(buf)),
            tx,
        );
        if sent.is_ok() {
            self.counters.icmp_errors_tx += 1;
        }
    }
}
