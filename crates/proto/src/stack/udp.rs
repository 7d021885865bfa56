//! UDP (RFC 768): port table, dispatch to services, replies.

use std::net::SocketAddrV4;

use super::counters::{StackCounters, UdpPortCounters};
use super::icmp::{IcmpError, IcmpErrorKind, TransportError};
use super::ipv4_out::{Datagram, MAX_IPV4_PAYLOAD};
use super::net::{Net, StackError};
use super::DropReason;
use crate::link::DynTx;
use crate::time::Instant;
use crate::wire::{Error, IpProtocol, UdpPacket, UdpRepr, UDP_HEADER_LEN};

/// Largest UDP payload in one IPv4 datagram (fragmented if over the MTU).
pub const MAX_UDP_PAYLOAD: usize = MAX_IPV4_PAYLOAD - UDP_HEADER_LEN;

/// An application bound to a UDP port. Runs to completion inside the
/// worker: it must not block.
/// One sample of a service's own metric: `(name, help, label, value)`,
/// e.g. `("dns_responses_total", "...", Some(("rcode", "NOERROR")), 3)`.
pub type ServiceMetric = (
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
    u64,
);

pub trait UdpService {
    /// One datagram arrived from `src` for `dst` (our address, or a
    /// broadcast address). Answer through `reply`, zero or more times.
    fn on_datagram(
        &mut self,
        now: Instant,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
        reply: &mut UdpReply<'_>,
    );

    /// An ICMP error arrived about a datagram we sent from `local` to
    /// `remote`. The default ignores it.
    //= https://www.rfc-editor.org/rfc/rfc1122#section-4.1.3.3
    //# UDP MUST pass to the application layer all ICMP error
    //# messages that it receives from the IP layer.
    fn on_icmp_error(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        error: IcmpErrorKind,
    ) {
        let _ = (now, local, remote, error);
    }

    /// Report the service's own counters (called at snapshot time, not per
    /// packet).
    fn metrics(&self, _out: &mut dyn FnMut(ServiceMetric)) {}
}

/// Sends datagrams back to the peer of the datagram being handled, from
/// our address and the port it arrived on. Nothing is allocated.
pub struct UdpReply<'a> {
    net: &'a mut Net,
    tx: &'a mut dyn DynTx,
    now: Instant,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    counters_idx: usize,
    to_broadcast: bool,
}

impl UdpReply<'_> {
    /// Where replies come from: our unicast address and the bound port.
    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }

    /// True if the datagram being answered was sent to a broadcast
    /// address: services that answer everything should stay quiet.
    pub fn to_broadcast(&self) -> bool {
        self.to_broadcast
    }

    /// Where replies go.
    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }

    /// Send `payload` back. On `Err` the reason has been counted.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), DropReason> {
        self.send_with(payload.len(), |buf| buf.copy_from_slice(payload))
    }

    /// Send a `len`-byte payload written in place by `fill`.
    pub fn send_with(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), DropReason> {
        //= https://www.rfc-editor.org/rfc/rfc768
        //# Source Port is an optional field, when meaningful, it indicates
        //# the port of the sending  process,  and may be assumed  to be the
        //# port  to which a reply should  be addressed  in the absence of any
        //# other information.  If not used, a value of zero is inserted.
        if self.remote.port() == 0 {
            self.net.counters.drops.count(DropReason::UdpBadPort);
            return Err(DropReason::UdpBadPort);
        }
        if len > MAX_UDP_PAYLOAD {
            self.net.counters.drops.count(DropReason::TxFrameTooBig);
            return Err(DropReason::TxFrameTooBig);
        }
        let repr = UdpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
        };
        let (src, dst) = (*self.local.ip(), *self.remote.ip());
        let mut fill = Some(fill);
        self.net.send_ipv4(
            self.now,
            dst,
            IpProtocol::Udp,
            UDP_HEADER_LEN + len,
            &mut |buf| {
                repr.emit(&mut UdpPacket::new_unchecked(buf), src, dst, len, |p| {
                    if let Some(f) = fill.take() {
                        f(p)
                    }
                })
            },
            self.tx,
        )?;
        let c = &mut self.net.counters;
        c.udp_tx_datagrams += 1;
        if let Some(p) = c.udp_ports.get_mut(self.counters_idx) {
            p.tx_datagrams += 1;
            p.tx_bytes += len as u64;
        }
        Ok(())
    }
}

/// Send one UDP datagram from our address (for `Stack::send_udp`).
pub(crate) fn send_udp(
    net: &mut Net,
    now: Instant,
    src_port: u16,
    dst: SocketAddrV4,
    payload: &[u8],
    tx: &mut dyn DynTx,
) -> Result<(), DropReason> {
    let local = SocketAddrV4::new(net.config.ipv4, src_port);
    let counters_idx = net
        .counters
        .udp_ports
        .iter()
        .position(|p| p.port == src_port)
        .unwrap_or(usize::MAX);
    UdpReply {
        net,
        tx,
        now,
        local,
        remote: dst,
        counters_idx,
        to_broadcast: false,
    }
    .send(payload)
}

struct Binding {
    port: u16,
    counters_idx: usize,
    service: Box<dyn UdpService + Send>,
}

/// Bound ports, sorted by port.
#[derive(Default)]
pub(crate) struct UdpTable {
    bindings: Vec<Binding>,
}

impl UdpTable {
    /// Every bound service's own metrics, with its port.
    pub(crate) fn service_metrics(&self, f: &mut dyn FnMut(u16, ServiceMetric)) {
        for b in &self.bindings {
            let port = b.port;
            b.service.metrics(&mut |m| f(port, m));
        }
    }

    pub(crate) fn bind(
        &mut self,
        port: u16,
        service: Box<dyn UdpService + Send>,
        counters: &mut StackCounters,
    ) -> Result<(), StackError> {
        if port == 0 {
            return Err(StackError::PortZero);
        }
        let Err(at) = self.bindings.binary_search_by_key(&port, |b| b.port) else {
            return Err(StackError::PortInUse(port));
        };
        counters.udp_ports.push(UdpPortCounters {
            port,
            ..UdpPortCounters::default()
        });
        self.bindings.insert(
            at,
            Binding {
                port,
                counters_idx: counters.udp_ports.len() - 1,
                service,
            },
        );
        Ok(())
    }

    /// An ICMP error about a datagram we sent from a bound port.
    pub(crate) fn icmp_error(
        &mut self,
        now: Instant,
        e: &TransportError,
    ) -> Result<(), DropReason> {
        let Ok(i) = self
            .bindings
            .binary_search_by_key(&e.local.port(), |b| b.port)
        else {
            return Err(DropReason::IcmpIgnored);
        };
        self.bindings[i]
            .service
            .on_icmp_error(now, e.local, e.remote, e.kind);
        Ok(())
    }

    pub(crate) fn input(
        &mut self,
        net: &mut Net,
        now: Instant,
        d: &Datagram<'_>,
        tx: &mut dyn DynTx,
    ) -> Result<(), DropReason> {
        let packet = UdpPacket::new_checked(d.payload).map_err(|e| match e {
            Error::BadLength => DropReason::UdpBadLength,
            _ => DropReason::UdpTruncated,
        })?;
        //= https://www.rfc-editor.org/rfc/rfc768
        //# An all zero  transmitted checksum  value means that the
        //# transmitter  generated  no checksum
        // `parse` accepts zero and rejects any other wrong checksum.
        let repr = UdpRepr::parse(&packet, d.src, d.dst).map_err(|e| match e {
            Error::BadChecksum => DropReason::UdpBadChecksum,
            Error::BadLength => DropReason::UdpBadLength,
            _ => DropReason::UdpTruncated,
        })?;
        if repr.dst_port == 0 {
            return Err(DropReason::UdpBadPort);
        }
        let Ok(i) = self
            .bindings
            .binary_search_by_key(&repr.dst_port, |b| b.port)
        else {
            //= https://www.rfc-editor.org/rfc/rfc1122#section-4.1.3.1
            //# If a datagram arrives addressed to a UDP port for which
            //# there is no pending LISTEN call, UDP SHOULD send an ICMP
            //# Port Unreachable message.
            net.send_icmp_error(now, IcmpError::PortUnreachable, d, tx);
            return Err(DropReason::UdpNoListener);
        };
        let payload = packet.payload();
        let binding = &mut self.bindings[i];
        net.counters.udp_rx_datagrams += 1;
        if let Some(p) = net.counters.udp_ports.get_mut(binding.counters_idx) {
            p.rx_datagrams += 1;
            p.rx_bytes += payload.len() as u64;
        }
        let local = SocketAddrV4::new(net.config.ipv4, repr.dst_port);
        let mut reply = UdpReply {
            net,
            tx,
            now,
            local,
            remote: SocketAddrV4::new(d.src, repr.src_port),
            counters_idx: binding.counters_idx,
            to_broadcast: d.broadcast,
        };
        binding.service.on_datagram(
            now,
            SocketAddrV4::new(d.src, repr.src_port),
            SocketAddrV4::new(d.dst, repr.dst_port),
            payload,
            &mut reply,
        );
        Ok(())
    }
}
