//! IPv4 input (validation, reassembly, dispatch) and output (fragmentation).

use std::net::Ipv4Addr;

use super::arp::LinkDest;
use super::icmp::{IcmpError, TransportError};
use super::iface::NetSegments;
use super::iface::{emit_frame, DynTx, Net, Stack};
use super::ipv4_frag::{FragKey, Fragment};
use super::tcp::Tcp;
use super::udp::UdpTable;
use super::DropReason;
use crate::time::Instant;
use crate::wire::{
    options_have_source_route, Error, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    IpProtocol, Ipv4Packet, Ipv4Repr, ETHERNET_HEADER_LEN, IPV4_HEADER_LEN, IPV4_MAX_PACKET,
};

/// TTL of everything we send.
//= https://www.rfc-editor.org/rfc/rfc1700
//# The current recommended default time to live (TTL) for the
//# Internet Protocol (IP) [45,105] is 64.
pub const DEFAULT_TTL: u8 = 64;

/// Largest payload one IPv4 datagram can carry.
pub const MAX_IPV4_PAYLOAD: usize = IPV4_MAX_PACKET - IPV4_HEADER_LEN;

/// A datagram for us, ready for the transport layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Datagram<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    /// Sent to a broadcast address (IP or link layer): never answered with
    /// an ICMP error.
    pub broadcast: bool,
    /// The IP header as received (the first fragment's, if reassembled).
    pub header: &'a [u8],
    pub payload: &'a [u8],
}

fn header_error(e: Error) -> DropReason {
    match e {
        Error::BadVersion => DropReason::Ipv4BadVersion,
        Error::BadHeaderLen => DropReason::Ipv4BadHeaderLen,
        Error::BadTotalLen => DropReason::Ipv4BadTotalLen,
        Error::BadChecksum => DropReason::Ipv4BadChecksum,
        _ => DropReason::Ipv4Truncated,
    }
}

impl Stack {
    pub(crate) fn ipv4_input(
        &mut self,
        now: Instant,
        link_broadcast: bool,
        bytes: &[u8],
        tx: &mut dyn DynTx,
    ) -> Result<(), DropReason> {
        // `new_checked` validates version, IHL and total length against the
        // frame; `payload()` then stops at the total length, which trims
        // Ethernet padding.
        let packet = Ipv4Packet::new_checked(bytes).map_err(header_error)?;
        let ip = Ipv4Repr::parse(&packet).map_err(header_error)?;
        //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.1.7
        //# A host MUST NOT discard a datagram just because it was received
        //# with TTL less than 2.
        // So no TTL check at all: we are the destination, never a router,
        // and `Ipv4TtlExpired` is not counted on receive.
        match options_have_source_route(packet.options()) {
            Err(_) => return Err(DropReason::Ipv4BadOptions),
            //= https://www.rfc-editor.org/rfc/rfc7126#section-4.3
            //# The default setting for this knob SHOULD be "drop", and the
            //# default setting MUST be documented.
            // Drop, always (no knob yet): a source route lets a spoofer pick
            // the path of our reply. Documented here and in `Ipv4SourceRoute`.
            Ok(true) => return Err(DropReason::Ipv4SourceRoute),
            Ok(false) => {}
        }
        let config = &self.net.config;
        let src = ip.src_addr;
        //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.1.3
        //# A host MUST silently discard an incoming datagram containing an
        //# IP source address that is invalid by the rules of this section.
        if src == config.ipv4
            || src.is_unspecified()
            || src.is_multicast()
            || src.is_loopback()
            || config.is_broadcast(src)
        {
            return Err(DropReason::Ipv4BadSource);
        }
        let broadcast = config.is_broadcast(ip.dst_addr);
        if ip.dst_addr != config.ipv4 && !broadcast {
            return Err(DropReason::Ipv4NotForUs);
        }
        //= https://www.rfc-editor.org/rfc/rfc1122#section-3.3.6
        //# A host SHOULD silently discard a datagram that is received via
        //# a link-layer broadcast (see Section 2.4) but does not specify
        //# an IP multicast or broadcast destination address.
        if link_broadcast && !broadcast {
            return Err(DropReason::Ipv4NotForUs);
        }
        // Broadcasts are for the datagram protocols only.
        if broadcast && !matches!(ip.protocol, IpProtocol::Icmp | IpProtocol::Udp) {
            return Err(DropReason::Ipv4NotForUs);
        }
        self.net.counters.ipv4_rx += 1;
        let header = &bytes[..packet.header_len()];
        let broadcast = broadcast || link_broadcast;
        if !packet.is_fragment() {
            let d = Datagram {
                src,
                dst: ip.dst_addr,
                protocol: ip.protocol,
                broadcast,
                header,
                payload: packet.payload(),
            };
            return deliver(&mut self.net, &mut self.udp, &mut self.tcp, now, &d, tx);
        }
        self.net.counters.ipv4_fragments_rx += 1;
        let frag = Fragment {
            key: FragKey {
                src,
                dst: ip.dst_addr,
                protocol: ip.protocol.into(),
                ident: packet.ident(),
            },
            offset: usize::from(packet.frag_offset()),
            more_frags: packet.more_frags(),
            header,
            payload: packet.payload(),
        };
        let Stack {
            reasm,
            udp,
            tcp,
            net,
        } = self;
        let Some(done) = reasm.add(now, frag)? else {
            return Ok(());
        };
        net.counters.ipv4_reassembled += 1;
        let d = Datagram {
            src,
            dst: ip.dst_addr,
            protocol: ip.protocol,
            broadcast,
            header: done.header,
            payload: done.payload,
        };
        deliver(net, udp, tcp, now, &d, tx)
    }

    /// Reassembly timeouts, each with a time exceeded when fragment zero came.
    pub(crate) fn reasm_expire(&mut self, now: Instant, tx: &mut dyn DynTx) {
        let Stack { reasm, net, .. } = self;
        reasm.expire(now, |e| {
            net.counters.drops.count(DropReason::FragTimeout);
            //= https://www.rfc-editor.org/rfc/rfc1122#section-3.3.2
            //# If this timeout expires, the partially-reassembled datagram
            //# MUST be discarded and an ICMP Time Exceeded message sent to
            //# the source host (if fragment zero has been received).
            if let Some((header, payload)) = e.first {
                let d = Datagram {
                    src: e.key.src,
                    dst: e.key.dst,
                    protocol: IpProtocol::from(e.key.protocol),
                    broadcast: net.config.is_broadcast(e.key.dst),
                    header,
                    payload,
                };
                net.send_icmp_error(now, IcmpError::ReassemblyTimeout, &d, tx);
            }
        });
    }
}

/// Hand a datagram to its transport protocol.
fn deliver(
    net: &mut Net,
    udp: &mut UdpTable,
    tcp: &mut Tcp,
    now: Instant,
    d: &Datagram<'_>,
    tx: &mut dyn DynTx,
) -> Result<(), DropReason> {
    match d.protocol {
        IpProtocol::Icmp => match net.icmp_input(now, d, tx)? {
            None => Ok(()),
            Some(e) => match e.protocol {
                IpProtocol::Udp => udp.icmp_error(now, &e),
                IpProtocol::Tcp => tcp_icmp_error(tcp, now, &e),
                _ => Err(DropReason::IcmpIgnored),
            },
        },
        IpProtocol::Udp => udp.input(net, now, d, tx),
        IpProtocol::Tcp => tcp_input(net, tcp, now, d, tx),
        IpProtocol::Unknown(_) => {
            //= https://www.rfc-editor.org/rfc/rfc1122#section-3.2.2.1
            //# A host SHOULD generate Destination Unreachable messages with
            //# code:
            //#   2 (Protocol Unreachable), when the designated transport
            //#     protocol is not supported; or
            net.send_icmp_error(now, IcmpError::ProtocolUnreachable, d, tx);
            Err(DropReason::Ipv4UnknownProtocol)
        }
    }
}

/// TCP segments for us; TCP answers through IPv4 (`NetSegments`).
fn tcp_input(
    net: &mut Net,
    tcp: &mut Tcp,
    now: Instant,
    d: &Datagram<'_>,
    tx: &mut dyn DynTx,
) -> Result<(), DropReason> {
    //= https://www.rfc-editor.org/rfc/rfc1122#section-4.2.3.10
    //# A TCP implementation MUST silently discard an incoming SYN segment
    //# that is addressed to a broadcast or multicast address.
    // Nor does any other segment to a broadcast address belong to a connection.
    if d.broadcast {
        return Err(DropReason::TcpBadSourceAddr);
    }
    tcp.on_segment(
        now,
        d.src,
        d.dst,
        d.payload,
        &mut NetSegments { net, now, tx },
    )
}

/// The other half of the TCP seam: ICMP errors about segments we sent
/// (RFC 1122 4.2.3.9, RFC 5927). Ignored until TCP plugs in.
fn tcp_icmp_error(tcp: &mut Tcp, now: Instant, e: &TransportError) -> Result<(), DropReason> {
    use super::icmp::IcmpErrorKind;
    use super::tcp::IcmpTcpError;
    use crate::wire::IcmpUnreachable as U;
    //= https://www.rfc-editor.org/rfc/rfc1122#section-4.2.3.9
    //# Since these Unreachable messages indicate soft error
    //# conditions, TCP MUST NOT abort the connection, and it
    //# SHOULD make the information available to the
    //# application.
    // Codes 2-4 are hard (protocol/port unreachable, frag needed has its
    // own handling); everything else is soft.
    let error = match e.kind {
        IcmpErrorKind::DstUnreachable(U::ProtocolUnreachable | U::PortUnreachable) => {
            IcmpTcpError::Hard
        }
        IcmpErrorKind::DstUnreachable(U::FragNeeded) => IcmpTcpError::FragNeeded {
            mtu: e.next_hop_mtu,
        },
        _ => IcmpTcpError::Soft,
    };
    let seq = e.quoted_seq.map(crate::wire::tcp::SeqNumber);
    tcp.on_icmp_error(now, e.local, e.remote, seq, error)
}

/// How a datagram is cut, if it is.
#[derive(Clone, Copy)]
struct FragInfo {
    ident: u16,
    offset: usize,
    more: bool,
}

/// Write Ethernet + a 20-byte IPv4 header into `buf`.
#[allow(clippy::too_many_arguments)]
fn write_headers(
    buf: &mut [u8],
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: IpProtocol,
    payload_len: usize,
    frag: Option<FragInfo>,
) {
    EthernetRepr {
        src_addr: src_mac,
        dst_addr: dst_mac,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut *buf));
    let mut packet = Ipv4Packet::new_unchecked(&mut buf[ETHERNET_HEADER_LEN..]);
    Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol,
        payload_len,
        ttl: DEFAULT_TTL,
    }
    .emit(&mut packet);
    if let Some(f) = frag {
        //= https://www.rfc-editor.org/rfc/rfc6864#section-4.3
        //# Sources emitting non-atomic datagrams MUST NOT repeat IPv4 ID
        //# values within one MDL for a given source address/destination
        //# address/protocol tuple.
        // One counter per worker, seeded per worker (`ident_seed`) so
        // workers sharing our address do not collide.
        packet.set_ident(f.ident);
        packet.set_dont_frag(false);
        packet.set_more_frags(f.more);
        packet.set_frag_offset(f.offset as u16);
        packet.fill_checksum();
    }
}

impl Net {
    /// Send an IPv4 payload; on `Err` the reason has been counted.
    pub(crate) fn send_ipv4(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        payload_len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
        tx: &mut dyn DynTx,
    ) -> Result<(), DropReason> {
        let r = self.send_ipv4_inner(now, dst, protocol, payload_len, fill, tx);
        match r {
            // Transmit failures were counted by `emit_frame` (or below).
            Err(DropReason::TxRingFull | DropReason::TxNoFrame | DropReason::TxFrameTooBig) => {}
            Err(reason) => self.counters.drops.count(reason),
            Ok(()) => self.counters.ipv4_tx += 1,
        }
        r
    }

    fn send_ipv4_inner(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        payload_len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
        tx: &mut dyn DynTx,
    ) -> Result<(), DropReason> {
        if payload_len > MAX_IPV4_PAYLOAD {
            self.counters.drops.count(DropReason::TxFrameTooBig);
            return Err(DropReason::TxFrameTooBig);
        }
        let dest = self.link_dest(now, dst, tx)?;
        let (src_mac, src) = (self.config.mac, self.config.ipv4);
        let max_payload = self.config.mtu - IPV4_HEADER_LEN;
        let Net {
            pending,
            counters,
            scratch,
            next_ident,
            ..
        } = self;
        if payload_len <= max_payload {
            let len = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + payload_len;
            let (mac, hop) = match dest {
                LinkDest::Mac(mac) => (mac, None),
                // The destination MAC is written when the address resolves.
                LinkDest::Hold(hop) => (EthernetAddress([0; 6]), Some(hop)),
            };
            let mut build = |buf: &mut [u8]| {
                write_headers(buf, src_mac, mac, src, dst, protocol, payload_len, None);
                fill(&mut buf[ETHERNET_HEADER_LEN + IPV4_HEADER_LEN..]);
            };
            return match hop {
                None => emit_frame(counters, tx, len, &mut build),
                Some(hop) => pending.hold(hop, len, build),
            };
        }
        //= https://www.rfc-editor.org/rfc/rfc791#section-3.2
        //# the fragmentation strategy is designed so than an
        //# unfragmented datagram has all zero fragmentation information
        //# (MF = 0, fragment offset = 0).
        // Bigger than the MTU: build the whole payload once (its transport
        // checksum covers all of it), then cut on 8-byte boundaries.
        let chunk = max_payload & !7;
        let count = payload_len.div_ceil(chunk);
        if let LinkDest::Hold(hop) = dest {
            // All or nothing: a datagram with missing fragments is useless.
            if pending.room(hop) < count {
                return Err(DropReason::ArpPendingFull);
            }
        }
        let whole = &mut scratch[..payload_len];
        fill(whole);
        let ident = *next_ident;
        *next_ident = next_ident.wrapping_add(1);
        for (i, piece) in whole.chunks(chunk).enumerate() {
            let info = FragInfo {
                ident,
                offset: i * chunk,
                more: i + 1 < count,
            };
            let len = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + piece.len();
            let mac = match dest {
                LinkDest::Mac(mac) => mac,
                LinkDest::Hold(_) => EthernetAddress([0; 6]),
            };
            let mut build = |buf: &mut [u8]| {
                write_headers(
                    buf,
                    src_mac,
                    mac,
                    src,
                    dst,
                    protocol,
                    piece.len(),
                    Some(info),
                );
                buf[ETHERNET_HEADER_LEN + IPV4_HEADER_LEN..].copy_from_slice(piece);
            };
            match dest {
                LinkDest::Mac(_) => emit_frame(counters, tx, len, &mut build)?,
                LinkDest::Hold(hop) => pending.hold(hop, len, build)?,
            }
            counters.ipv4_fragments_tx += 1;
        }
        Ok(())
    }
}
