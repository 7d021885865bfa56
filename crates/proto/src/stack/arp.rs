//! ARP (RFC 826) on top of the cache: answering, learning, resolving.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::arp_cache::Lookup;
use super::config::StackConfig;
use super::counters::StackCounters;
use super::net::{emit_frame, Net};
use super::DropReason;
use crate::link::DynTx;
use crate::time::Instant;
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, Error, EtherType, EthernetAddress, EthernetFrame,
    EthernetRepr, ARP_PACKET_LEN, ETHERNET_HEADER_LEN,
};

/// RFC 5227 section 1.1: the least time between two defences of our address.
pub const DEFEND_INTERVAL: Duration = Duration::from_secs(10);

/// Send one ARP packet from our addresses.
pub(crate) fn send_arp(
    config: &StackConfig,
    counters: &mut StackCounters,
    tx: &mut dyn DynTx,
    operation: ArpOperation,
    eth_dst: EthernetAddress,
    target_hardware_addr: EthernetAddress,
    target_protocol_addr: Ipv4Addr,
) -> Result<(), DropReason> {
    let eth = EthernetRepr {
        src_addr: config.mac,
        dst_addr: eth_dst,
        ethertype: EtherType::Arp,
    };
    let arp = ArpRepr {
        operation,
        source_hardware_addr: config.mac,
        source_protocol_addr: config.ipv4,
        target_hardware_addr,
        target_protocol_addr,
    };
    emit_frame(
        counters,
        tx,
        ETHERNET_HEADER_LEN + ARP_PACKET_LEN,
        &mut |buf| {
            eth.emit(&mut EthernetFrame::new_unchecked(&mut *buf));
            arp.emit(&mut ArpPacket::new_unchecked(
                &mut buf[ETHERNET_HEADER_LEN..],
            ));
        },
    )?;
    match operation {
        ArpOperation::Reply => counters.arp_replies_tx += 1,
        _ => counters.arp_requests_tx += 1,
    }
    Ok(())
}

/// Where an IPv4 datagram goes on the link.
pub(crate) enum LinkDest {
    Mac(EthernetAddress),
    /// Being resolved: hold the frames for this next hop.
    Hold(Ipv4Addr),
}

impl Net {
    pub(crate) fn send_arp(
        &mut self,
        tx: &mut dyn DynTx,
        operation: ArpOperation,
        eth_dst: EthernetAddress,
        target_hardware_addr: EthernetAddress,
        target_protocol_addr: Ipv4Addr,
    ) -> Result<(), DropReason> {
        send_arp(
            &self.config,
            &mut self.counters,
            tx,
            operation,
            eth_dst,
            target_hardware_addr,
            target_protocol_addr,
        )
    }

    /// The link destination for `dst`, starting resolution if needed.
    pub(crate) fn link_dest(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        tx: &mut dyn DynTx,
    ) -> Result<LinkDest, DropReason> {
        if self.config.is_broadcast(dst) {
            return Ok(LinkDest::Mac(EthernetAddress::BROADCAST));
        }
        if dst.is_multicast() {
            //= https://www.rfc-editor.org/rfc/rfc1112#section-6.4
            //# An IP host group address is mapped to an Ethernet multicast
            //# address by placing the low-order 23-bits of the IP address into
            //# the low-order 23 bits of the Ethernet multicast address
            //# 01-00-5E-00-00-00 (hex).
            let o = dst.octets();
            return Ok(LinkDest::Mac(EthernetAddress([
                0x01,
                0x00,
                0x5e,
                o[1] & 0x7f,
                o[2],
                o[3],
            ])));
        }
        if dst == self.config.ipv4 || dst.is_unspecified() || dst.is_loopback() {
            return Err(DropReason::Ipv4NoRoute);
        }
        let hop = if self.config.is_on_link(dst) {
            dst
        } else {
            self.config.gateway.ok_or(DropReason::Ipv4NoRoute)?
        };
        match self.cache.lookup(now, hop) {
            Lookup::Hit(mac) => Ok(LinkDest::Mac(mac)),
            Lookup::HitRefresh(mac) => {
                //= https://www.rfc-editor.org/rfc/rfc1122#section-2.3.2.1
                //# (2)  Unicast Poll -- Actively poll the remote host by
                //#      periodically sending a point-to-point ARP Request
                //#      to it, and delete the entry if no ARP Reply is
                //#      received from N successive polls.
                let _ = self.send_arp(tx, ArpOperation::Request, mac, mac, hop);
                Ok(LinkDest::Mac(mac))
            }
            Lookup::Miss => {
                if self
                    .pending
                    .start(now, hop, self.config.arp.retry_interval)?
                {
                    let _ = self.send_arp(
                        tx,
                        ArpOperation::Request,
                        EthernetAddress::BROADCAST,
                        EthernetAddress([0; 6]),
                        hop,
                    );
                }
                Ok(LinkDest::Hold(hop))
            }
        }
    }

    /// Learn `ip -> mac` and release frames held for `ip`.
    fn learn(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        mac: EthernetAddress,
        overwrite_live: bool,
        tx: &mut dyn DynTx,
    ) {
        if let Err(reason) = self.cache.insert(now, ip, mac, overwrite_live) {
            self.counters.drops.count(reason);
            if reason == DropReason::ArpUnsolicitedIgnored {
                return;
            }
        }
        let Net {
            pending, counters, ..
        } = self;
        pending.resolve(ip, |frame| {
            frame[..6].copy_from_slice(&mac.0);
            let _ = emit_frame(counters, tx, frame.len(), &mut |b| b.copy_from_slice(frame));
        });
    }

    /// Remember for sibling workers; bounded, oldest forgotten.
    fn share(&mut self, ip: Ipv4Addr, mac: EthernetAddress) {
        if self.arp_shared.len() >= super::net::ARP_SHARE_QUEUE {
            self.arp_shared.pop_front();
        }
        self.arp_shared.push_back((ip, mac));
    }

    pub(crate) fn learn_from_sibling(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        mac: EthernetAddress,
        tx: &mut dyn DynTx,
    ) {
        let learnable = mac.is_unicast()
            && ip != self.config.ipv4
            && !ip.is_unspecified()
            && !ip.is_multicast()
            && !self.config.is_broadcast(ip)
            && self.config.is_on_link(ip);
        if !learnable {
            return;
        }
        let solicited = self.pending.is_pending(ip) || self.cache.probing(ip);
        self.learn(now, ip, mac, solicited, tx);
    }

    pub(crate) fn arp_input(
        &mut self,
        now: Instant,
        payload: &[u8],
        tx: &mut dyn DynTx,
    ) -> Result<(), DropReason> {
        let packet = ArpPacket::new_checked(payload).map_err(|_| DropReason::ArpMalformed)?;
        let arp = ArpRepr::parse(&packet).map_err(|e| match e {
            Error::Unsupported => DropReason::ArpUnsupported,
            _ => DropReason::ArpMalformed,
        })?;
        let (our_ip, our_mac) = (self.config.ipv4, self.config.mac);
        match arp.operation {
            ArpOperation::Request => self.counters.arp_requests_rx += 1,
            ArpOperation::Reply => self.counters.arp_replies_rx += 1,
            ArpOperation::Unknown(_) => return Err(DropReason::ArpUnsupported),
        }
        let (sha, spa) = (arp.source_hardware_addr, arp.source_protocol_addr);
        if spa == our_ip {
            //= https://www.rfc-editor.org/rfc/rfc5227#section-2.4
            //# At any time, if a host receives an ARP packet (Request *or*
            //# Reply) where the 'sender IP address' is (one of) the host's
            //# own IP address(es) configured on that interface, but the
            //# 'sender hardware address' does not match any of the host's own
            //# interface addresses, then this is a conflicting ARP packet
            if sha != our_mac {
                //= https://www.rfc-editor.org/rfc/rfc5227#section-2.4
                //# To resolve the address conflict, a host MUST respond to a
                //# conflicting ARP packet as described in either (a), (b), or
                //# (c) below
                // (c): the operator gave us this address, so we "defend its
                // address indefinitely", with one announcement per
                // DEFEND_INTERVAL (10 s) so two defenders cannot loop.
                if self
                    .last_defend
                    .is_none_or(|t| now.saturating_since(t) >= DEFEND_INTERVAL)
                {
                    self.last_defend = Some(now);
                    let _ = self.send_arp(
                        tx,
                        ArpOperation::Request,
                        EthernetAddress::BROADCAST,
                        EthernetAddress([0; 6]),
                        our_ip,
                    );
                }
                return Err(DropReason::ArpConflict);
            }
            // Our own announcement, looped back.
            return Err(DropReason::ArpNotForUs);
        }
        // A broadcast or multicast sender MAC would poison the cache.
        if !sha.is_unicast() {
            return Err(DropReason::ArpMalformed);
        }
        // Only addresses that could be a neighbour are learned; a probe
        // (sender 0.0.0.0, RFC 5227 2.1.1) is answered but not learned.
        let learnable = !spa.is_unspecified()
            && !spa.is_multicast()
            && !self.config.is_broadcast(spa)
            && self.config.is_on_link(spa);
        match arp.operation {
            ArpOperation::Request => {
                if arp.target_protocol_addr != our_ip {
                    return Err(DropReason::ArpNotForUs);
                }
                //= https://www.rfc-editor.org/rfc/rfc826#section-1
                //# If the pair <protocol type, sender protocol address> is
                //# already in my translation table, update the sender
                //# hardware address field of the entry with the new
                //# information in the packet and set Merge_flag to true.
                if learnable {
                    self.learn(now, spa, sha, true, tx);
                    self.share(spa, sha);
                }
                //= https://www.rfc-editor.org/rfc/rfc826#section-1
                //# Swap hardware and protocol fields, putting the local
                //# hardware and protocol addresses in the sender fields.
                //# Set the ar$op field to ares_op$REPLY
                //# Send the packet to the (new) target hardware address on
                //# the same hardware on which the request was received.
                let _ = self.send_arp(tx, ArpOperation::Reply, sha, sha, spa);
                Ok(())
            }
            _ => {
                let solicited = self.pending.is_pending(spa) || self.cache.probing(spa);
                if arp.target_protocol_addr != our_ip && !solicited {
                    return Err(DropReason::ArpNotForUs);
                }
                if !learnable {
                    return Err(DropReason::ArpNotForUs);
                }
                // An unsolicited reply may fill an empty slot but never
                // replace a live entry: that is how ARP spoofing works.
                self.learn(now, spa, sha, solicited, tx);
                // A reply addressed to us may answer a sibling worker's
                // request (it arrived on our queue, not theirs).
                if arp.target_protocol_addr == our_ip {
                    self.share(spa, sha);
                }
                Ok(())
            }
        }
    }
}
