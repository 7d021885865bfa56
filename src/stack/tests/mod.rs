//! Stack tests: hand-built frames into `Stack::process_frame`, fake clock,
//! frames out of a `Vec<Vec<u8>>` sink.

mod arp;
mod fuzz;
mod icmp;
mod ipv4;
mod tcp_mtu;
mod udp;

use crate::service::udp_echo;

use std::net::Ipv4Addr;
use std::time::Duration;

use super::*;
use crate::time::Instant;
use crate::wire::*;

pub const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
pub const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
pub const OTHER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x09]);
pub const OUR_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const T0: Instant = Instant::from_secs(1_000);

pub fn config() -> StackConfig {
    let mut c = StackConfig::new(OUR_MAC, OUR_IP, 24);
    c.frag.max_datagrams = 4;
    c
}

pub fn stack() -> Stack {
    Stack::new(config())
}

/// A stack that learned PEER_IP -> PEER_MAC from the peer's ARP request.
pub fn learned_stack() -> Stack {
    let mut s = stack();
    let mut out = Vec::new();
    s.process_frame(T0, &arp_request(PEER_MAC, PEER_IP, OUR_IP), &mut out);
    assert_eq!(out.len(), 1, "ARP reply");
    s
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn eth_frame(
    dst: EthernetAddress,
    src: EthernetAddress,
    ethertype: EtherType,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![0u8; ETHERNET_HEADER_LEN + payload.len()];
    EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    f[ETHERNET_HEADER_LEN..].copy_from_slice(payload);
    f
}

pub fn arp_frame(eth_dst: EthernetAddress, eth_src: EthernetAddress, arp: ArpRepr) -> Vec<u8> {
    let mut p = vec![0u8; ARP_PACKET_LEN];
    arp.emit(&mut ArpPacket::new_unchecked(&mut p[..]));
    eth_frame(eth_dst, eth_src, EtherType::Arp, &p)
}

pub fn arp_request(sha: EthernetAddress, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    arp_frame(
        EthernetAddress::BROADCAST,
        sha,
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: tpa,
        },
    )
}

pub fn arp_reply(sha: EthernetAddress, spa: Ipv4Addr) -> Vec<u8> {
    arp_frame(
        OUR_MAC,
        sha,
        ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_hardware_addr: OUR_MAC,
            target_protocol_addr: OUR_IP,
        },
    )
}

/// IPv4 header fields a test may vary.
#[derive(Clone, Copy)]
pub struct Ip {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    pub ident: u16,
    pub offset: usize,
    pub more: bool,
    pub ttl: u8,
}

impl Ip {
    pub fn new(protocol: IpProtocol) -> Self {
        Ip {
            src: PEER_IP,
            dst: OUR_IP,
            protocol,
            ident: 0x1234,
            offset: 0,
            more: false,
            ttl: 64,
        }
    }

    /// Header (with `options`) and payload, checksum filled.
    pub fn packet_with_options(&self, options: &[u8], payload: &[u8]) -> Vec<u8> {
        let hlen = IPV4_HEADER_LEN + options.len();
        let mut b = vec![0u8; hlen + payload.len()];
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        Ipv4Repr {
            src_addr: self.src,
            dst_addr: self.dst,
            protocol: self.protocol,
            payload_len: payload.len(),
            ttl: self.ttl,
        }
        .emit(&mut p);
        p.set_header_len(hlen);
        p.set_total_len((hlen + payload.len()) as u16);
        p.set_ident(self.ident);
        p.set_dont_frag(false);
        p.set_more_frags(self.more);
        p.set_frag_offset(self.offset as u16);
        b[IPV4_HEADER_LEN..hlen].copy_from_slice(options);
        b[hlen..].copy_from_slice(payload);
        Ipv4Packet::new_unchecked(&mut b[..]).fill_checksum();
        b
    }

    pub fn packet(&self, payload: &[u8]) -> Vec<u8> {
        self.packet_with_options(&[], payload)
    }

    /// In an Ethernet frame from the peer to us.
    pub fn frame(&self, payload: &[u8]) -> Vec<u8> {
        eth_frame(OUR_MAC, PEER_MAC, EtherType::Ipv4, &self.packet(payload))
    }

    /// Cut `payload` into frames of at most `chunk` payload bytes each.
    pub fn fragments(&self, payload: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let chunks: Vec<&[u8]> = payload.chunks(chunk).collect();
        let n = chunks.len();
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                Ip {
                    offset: i * chunk,
                    more: i + 1 < n,
                    ..*self
                }
                .frame(c)
            })
            .collect()
    }
}

pub fn icmp_bytes(repr: &IcmpRepr<'_>) -> Vec<u8> {
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut IcmpPacket::new_unchecked(&mut b[..]));
    b
}

pub fn echo_request(data: &[u8]) -> Vec<u8> {
    icmp_bytes(&IcmpRepr::EchoRequest {
        ident: 0xbeef,
        seq_no: 7,
        data,
    })
}

pub fn udp_bytes(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; UDP_HEADER_LEN + payload.len()];
    UdpRepr {
        src_port: sport,
        dst_port: dport,
    }
    .emit(
        &mut UdpPacket::new_unchecked(&mut b[..]),
        src,
        dst,
        payload.len(),
        |p| p.copy_from_slice(payload),
    );
    b
}

/// A datagram we sent, reassembled from its frames by the test.
#[derive(Debug)]
pub struct Sent {
    pub eth_dst: EthernetAddress,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    pub fragments: usize,
    pub payload: Vec<u8>,
}

/// Reassemble IPv4 frames we sent (all of one datagram), checking every
/// header on the way.
pub fn reassemble_out(frames: &[Vec<u8>], mtu: usize) -> Sent {
    assert!(!frames.is_empty());
    let mut pieces = Vec::new();
    let mut first = None;
    for f in frames {
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(eth.src_addr(), OUR_MAC);
        assert_eq!(eth.ethertype(), EtherType::Ipv4);
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert!(usize::from(ip.total_len()) <= mtu, "over the MTU");
        assert_eq!(ip.total_len() as usize, eth.payload().len());
        assert!(ip.ttl() > 0);
        if frames.len() > 1 {
            assert!(!ip.dont_frag());
        }
        let hdr = (
            eth.dst_addr(),
            ip.src_addr(),
            ip.dst_addr(),
            ip.protocol(),
            ip.ident(),
        );
        match first {
            None => first = Some(hdr),
            Some(h) => assert_eq!(h, hdr, "fragments of one datagram"),
        }
        pieces.push((
            ip.frag_offset() as usize,
            ip.more_frags(),
            ip.payload().to_vec(),
        ));
    }
    pieces.sort_by_key(|p| p.0);
    let mut payload = Vec::new();
    for (i, (off, more, data)) in pieces.iter().enumerate() {
        assert_eq!(*off, payload.len(), "contiguous fragments");
        assert_eq!(*more, i + 1 < pieces.len());
        if *more {
            assert_eq!(data.len() % 8, 0);
        }
        payload.extend_from_slice(data);
    }
    let (eth_dst, src, dst, protocol, _) = first.unwrap();
    Sent {
        eth_dst,
        src,
        dst,
        protocol,
        fragments: frames.len(),
        payload,
    }
}

/// The IPv4 frames of `out` (drops ARP probes and requests).
pub fn ipv4_only(out: &[Vec<u8>]) -> Vec<Vec<u8>> {
    out.iter()
        .filter(|f| {
            EthernetFrame::new_checked(&f[..]).is_ok_and(|e| e.ethertype() == EtherType::Ipv4)
        })
        .cloned()
        .collect()
}

pub fn drops(s: &Stack, r: DropReason) -> u64 {
    s.counters().drops.get(r)
}

#[test]
fn stack_can_move_to_its_worker_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Stack>();
}
