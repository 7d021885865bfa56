//! IPv4 input: validation, reassembly, dispatch to ICMP, UDP and TCP. The
//! top of the stack with `iface` (output is `ipv4_out`, below).

use std::net::Ipv4Addr;

use super::counters::StackCounters;
use super::icmp::{IcmpError, TransportError};
use super::iface::Stack;
use super::ipv4_frag::{FragKey, Fragment};
use super::ipv4_out::Datagram;
use super::ipv4_out::NetSegments;
use super::net::Net;
use super::shard::{Handoff, Siblings};
use super::tcp::{SegmentFate, Tcp};
use super::udp::UdpTable;
use super::DropReason;
use crate::link::DynTx;
use crate::time::Instant;
use crate::wire::{options_have_source_route, Error, IpProtocol, Ipv4Packet, Ipv4Repr};

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
        sib: &mut dyn Siblings,
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
            return deliver(
                &mut self.net,
                &mut self.udp,
                &mut self.tcp,
                now,
                &d,
                tx,
                sib,
            );
        }
        self.net.counters.ipv4_fragments_rx += 1;
        let shard = self.net.config.shard;
        let owner = shard.frag_owner(&frag_key(&packet));
        if owner != shard.index {
            // All fragments of a datagram meet on one worker, whichever
            // queues they came in on.
            let whole = &bytes[..usize::from(packet.total_len())];
            let how = Handoff::Fragment { broadcast };
            return hand_off(&mut self.net.counters, sib, owner, how, whole);
        }
        self.reassemble(now, &packet, broadcast, tx, sib)
    }

    /// Add a validated fragment to reassembly; deliver the datagram it completes.
    fn reassemble(
        &mut self,
        now: Instant,
        packet: &Ipv4Packet<&[u8]>,
        broadcast: bool,
        tx: &mut dyn DynTx,
        sib: &mut dyn Siblings,
    ) -> Result<(), DropReason> {
        let frag = Fragment {
            key: frag_key(packet),
            offset: usize::from(packet.frag_offset()),
            more_frags: packet.more_frags(),
            header: &packet.as_ref()[..packet.header_len()],
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
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            broadcast,
            header: done.header,
            payload: done.payload,
        };
        deliver(net, udp, tcp, now, &d, tx, sib)
    }

    /// Take up a packet a sibling worker handed over (`shard.rs`). It was
    /// validated and counted as received where it arrived.
    pub(crate) fn handoff_input(
        &mut self,
        now: Instant,
        how: Handoff,
        bytes: &[u8],
        tx: &mut dyn DynTx,
        sib: &mut dyn Siblings,
    ) -> Result<(), DropReason> {
        self.net.counters.handoff.count_received(how.kind());
        match how {
            Handoff::TcpOwner { src, dst } => tcp_segment(
                &mut self.net,
                &mut self.tcp,
                now,
                (src, dst),
                bytes,
                None,
                tx,
                sib,
            ),
            Handoff::TcpSearch { src, dst, declined } => tcp_segment(
                &mut self.net,
                &mut self.tcp,
                now,
                (src, dst),
                bytes,
                Some(declined),
                tx,
                sib,
            ),
            Handoff::Fragment { broadcast } => {
                let packet = Ipv4Packet::new_checked(bytes).map_err(header_error)?;
                self.reassemble(now, &packet, broadcast, tx, sib)
            }
            Handoff::TcpIcmpError {
                local,
                remote,
                seq,
                error,
            } => self.tcp.on_icmp_error(now, local, remote, seq, error),
        }
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

/// The reassembly key of a fragment.
fn frag_key(packet: &Ipv4Packet<&[u8]>) -> FragKey {
    FragKey {
        src: packet.src_addr(),
        dst: packet.dst_addr(),
        protocol: packet.protocol().into(),
        ident: packet.ident(),
    }
}

/// Queue `bytes` for sibling `to`; a full queue drops the packet.
fn hand_off(
    counters: &mut StackCounters,
    sib: &mut dyn Siblings,
    to: u16,
    how: Handoff,
    bytes: &[u8],
) -> Result<(), DropReason> {
    if sib.hand_off(to, how, bytes) {
        counters.handoff.count_sent(how.kind());
        Ok(())
    } else {
        Err(DropReason::HandoffFull)
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
    sib: &mut dyn Siblings,
) -> Result<(), DropReason> {
    match d.protocol {
        IpProtocol::Icmp => match net.icmp_input(now, d, tx)? {
            None => Ok(()),
            Some(e) => match e.protocol {
                IpProtocol::Udp => udp.icmp_error(now, &e),
                IpProtocol::Tcp => tcp_icmp_error(net, tcp, now, &e, sib),
                _ => Err(DropReason::IcmpIgnored),
            },
        },
        IpProtocol::Udp => udp.input(net, now, d, tx),
        IpProtocol::Tcp => tcp_input(net, tcp, now, d, tx, sib),
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
    sib: &mut dyn Siblings,
) -> Result<(), DropReason> {
    //= https://www.rfc-editor.org/rfc/rfc1122#section-4.2.3.10
    //# A TCP implementation MUST silently discard an incoming SYN segment
    //# that is addressed to a broadcast or multicast address.
    // Nor does any other segment to a broadcast address belong to a connection.
    if d.broadcast {
        return Err(DropReason::TcpBadSourceAddr);
    }
    // The one check every segment pays with several workers: is its local
    // port in a sibling's ephemeral slice?
    if let Some(owner) = tcp.segment_owner(d.payload) {
        let how = Handoff::TcpOwner {
            src: d.src,
            dst: d.dst,
        };
        return hand_off(&mut net.counters, sib, owner, how, d.payload);
    }
    tcp_segment(net, tcp, now, (d.src, d.dst), d.payload, Some(0), tx, sib)
}

/// One segment into TCP. `declined`: how many workers already looked for
/// its connection (`None`: this worker owns its port and answers).
#[allow(clippy::too_many_arguments)]
fn tcp_segment(
    net: &mut Net,
    tcp: &mut Tcp,
    now: Instant,
    (src, dst): (Ipv4Addr, Ipv4Addr),
    segment: &[u8],
    declined: Option<u8>,
    tx: &mut dyn DynTx,
    sib: &mut dyn Siblings,
) -> Result<(), DropReason> {
    let shard = net.config.shard;
    let may_pass_on = declined.is_some_and(|n| u16::from(n) + 1 < shard.count);
    let out = &mut NetSegments { net, now, tx };
    match tcp.on_segment_searching(now, src, dst, segment, out, may_pass_on)? {
        SegmentFate::Handled => Ok(()),
        SegmentFate::PassOn => {
            let how = Handoff::TcpSearch {
                src,
                dst,
                declined: declined.unwrap_or(0) + 1,
            };
            hand_off(&mut net.counters, sib, shard.next(), how, segment)
        }
    }
}

/// The other half of the TCP seam: ICMP errors about segments we sent
/// (RFC 1122 4.2.3.9, RFC 5927), for the worker that owns the connection.
fn tcp_icmp_error(
    net: &mut Net,
    tcp: &mut Tcp,
    now: Instant,
    e: &TransportError,
    sib: &mut dyn Siblings,
) -> Result<(), DropReason> {
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
    if let Some(owner) = tcp.port_owner(e.local.port()) {
        let how = Handoff::TcpIcmpError {
            local: e.local,
            remote: e.remote,
            seq,
            error,
        };
        return hand_off(&mut net.counters, sib, owner, how, &[]);
    }
    tcp.on_icmp_error(now, e.local, e.remote, seq, error)
}
