//! IPv4 output: headers, fragmentation, next hop (through ARP), and the
//! view of a received datagram the transports are handed. Below ICMP, UDP
//! and TCP; above `arp` and `net`.

use std::net::Ipv4Addr;

use super::arp::LinkDest;
use super::net::{emit_frame, Net};
use super::tcp::SegmentSink;
use super::DropReason;
use crate::link::DynTx;
use crate::time::Instant;
use crate::wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr,
    ETHERNET_HEADER_LEN, IPV4_HEADER_LEN, IPV4_MAX_PACKET,
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

/// TCP's segments go out through IPv4 (ARP resolution and holding
/// included). `send_ipv4` counts its own failures, so TCP must not.
pub(crate) struct NetSegments<'a> {
    pub(crate) net: &'a mut Net,
    pub(crate) now: Instant,
    pub(crate) tx: &'a mut dyn DynTx,
}

impl SegmentSink for NetSegments<'_> {
    fn send_segment<F: FnOnce(&mut [u8])>(
        &mut self,
        _src: std::net::SocketAddrV4,
        dst: std::net::SocketAddrV4,
        len: usize,
        fill: F,
    ) -> Result<(), DropReason> {
        let mut fill = Some(fill);
        self.net.send_ipv4(
            self.now,
            *dst.ip(),
            IpProtocol::Tcp,
            len,
            &mut |b| {
                if let Some(f) = fill.take() {
                    f(b)
                }
            },
            self.tx,
        )
    }

    fn room(&self) -> usize {
        self.tx.room_dyn()
    }
}
