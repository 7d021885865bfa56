//! Fuzz target bodies, shared by the cargo-fuzz targets (fuzz/fuzz_targets/*.rs)
//! and by the normal test suite (tests/fuzz_smoke.rs includes this file with
//! `#[path]`), so CI runs exactly what the fuzzers run without cargo-fuzz.
//!
//! Each `pub fn <target>(data: &[u8])` must never panic except on a broken
//! invariant, which is a bug in the stack.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::time::Duration;

use xskd_proto::stack::{Stack, StackConfig};
use xskd_proto::time::Instant;
use xskd_proto::wire::checksum;
use xskd_proto::wire::tcp::{flags, TcpOption, TcpOptions, TcpPacket, TcpRepr};
use xskd_proto::wire::{
    parse_frame_for_fuzz, EtherType, EthernetAddress, EthernetFrame, IpProtocol, Ipv4Packet,
};
use xskd_services::tcp_echo::TcpEcho;
use xskd_services::UdpEcho;

pub const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
pub const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
pub const OUR_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// Reassembly slots in the fuzzed stack (small, so the fuzzer fills them).
pub const FRAG_SLOTS: usize = 4;
/// ARP cache entries in the fuzzed stack.
pub const ARP_CACHE: usize = 16;
pub const ARP_PENDING_ADDRS: usize = 4;
pub const ARP_PENDING_PER_ADDR: usize = 2;
pub const MTU: usize = 1500;

/// A small, deterministic stack: small pools so bounds are reached quickly.
pub fn config() -> StackConfig {
    let mut c = StackConfig::new(OUR_MAC, OUR_IP, 24);
    c.mtu = MTU;
    c.frag.max_datagrams = FRAG_SLOTS;
    c.frag.timeout = Duration::from_secs(30);
    c.arp.cache_size = ARP_CACHE;
    c.arp.max_pending_addrs = ARP_PENDING_ADDRS;
    c.arp.pending_per_addr = ARP_PENDING_PER_ADDR;
    c.tcp.max_conns = 8;
    c.tcp.syn_queue = 4;
    c.tcp.accept_queue = 2;
    c.tcp.send_buffer = 4096;
    c.tcp.recv_buffer = 4096;
    c.tcp_secret = [7; 32];
    c
}

// ---------------------------------------------------------------- builders

/// Ethernet header from `src` to us, then `payload`.
pub fn eth(src: EthernetAddress, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&OUR_MAC.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An ARP packet (Ethernet/IPv4) from PEER_MAC.
pub fn arp(op: u16, sha: EthernetAddress, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4];
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&sha.0);
    a.extend_from_slice(&spa.octets());
    a.extend_from_slice(&if op == 2 { OUR_MAC.0 } else { [0; 6] });
    a.extend_from_slice(&tpa.octets());
    eth(sha, 0x0806, &a)
}

/// Fields of an IPv4 header the builders vary.
#[derive(Clone, Copy, Debug)]
pub struct Ip {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ident: u16,
    pub ttl: u8,
    /// Byte offset (multiple of 8 for a valid fragment).
    pub frag_offset: u16,
    pub more_frags: bool,
}

impl Ip {
    pub fn new(protocol: u8) -> Ip {
        Ip {
            src: PEER_IP,
            dst: OUR_IP,
            protocol,
            ident: 1,
            ttl: 64,
            frag_offset: 0,
            more_frags: false,
        }
    }

    /// A checksummed IPv4 packet (20-byte header) carrying `payload`.
    pub fn packet(&self, payload: &[u8]) -> Vec<u8> {
        let total = 20 + payload.len();
        let mut b = vec![0u8; total];
        {
            let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
            p.set_version(4);
            p.set_header_len(20);
            p.set_total_len(total.min(usize::from(u16::MAX)) as u16);
            p.set_ident(self.ident);
            p.set_more_frags(self.more_frags);
            p.set_frag_offset(self.frag_offset);
            p.set_ttl(self.ttl);
            p.set_protocol(IpProtocol::from(self.protocol));
            p.set_src_addr(self.src);
            p.set_dst_addr(self.dst);
        }
        b[20..].copy_from_slice(payload);
        Ipv4Packet::new_unchecked(&mut b[..]).fill_checksum();
        b
    }

    pub fn frame(&self, payload: &[u8]) -> Vec<u8> {
        eth(PEER_MAC, 0x0800, &self.packet(payload))
    }
}

/// A TCP segment with a correct checksum for PEER_IP -> OUR_IP.
pub fn tcp_segment(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    tcp_flags: u16,
    opts: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut o = opts.to_vec();
    o.truncate(40);
    while o.len() % 4 != 0 {
        o.push(0);
    }
    let hl = 20 + o.len();
    let mut b = vec![0u8; hl + payload.len()];
    b[0..2].copy_from_slice(&sport.to_be_bytes());
    b[2..4].copy_from_slice(&dport.to_be_bytes());
    b[4..8].copy_from_slice(&seq.to_be_bytes());
    b[8..12].copy_from_slice(&ack.to_be_bytes());
    b[12] = ((hl / 4) as u8) << 4 | ((tcp_flags >> 8) as u8 & 1);
    b[13] = tcp_flags as u8;
    b[14..16].copy_from_slice(&65535u16.to_be_bytes());
    b[20..hl].copy_from_slice(&o);
    b[hl..].copy_from_slice(payload);
    fix_l4_checksum(6, &mut b);
    b
}

/// Store the right TCP (6) or UDP (17) checksum for PEER_IP -> OUR_IP.
pub fn fix_l4_checksum(protocol: u8, seg: &mut [u8]) {
    let at = if protocol == 6 { 16 } else { 6 };
    if seg.len() < at + 2 || seg.len() > usize::from(u16::MAX) {
        return;
    }
    seg[at..at + 2].copy_from_slice(&[0, 0]);
    let s = checksum::add(
        checksum::pseudo_header(PEER_IP, OUR_IP, protocol, seg.len() as u16),
        checksum::sum(seg),
    );
    let mut c = checksum::finish(s);
    if protocol == 17 && c == 0 {
        c = 0xffff;
    }
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

pub fn udp_datagram(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut b = vec![0u8; len];
    b[0..2].copy_from_slice(&sport.to_be_bytes());
    b[2..4].copy_from_slice(&dport.to_be_bytes());
    b[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    b[8..].copy_from_slice(payload);
    fix_l4_checksum(17, &mut b);
    b
}

pub fn icmp_echo(ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![8, 0, 0, 0];
    b.extend_from_slice(&ident.to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(payload);
    let c = checksum::finish(checksum::sum(&b));
    b[2..4].copy_from_slice(&c.to_be_bytes());
    b
}

/// Reads an input as a stream of small integers; empty when used up.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }
    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([
            self.u8()?,
            self.u8()?,
            self.u8()?,
            self.u8()?,
        ]))
    }
    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
}

// ------------------------------------------------------------- invariants

/// Every frame the stack sends must be well formed: parseable Ethernet, and
/// for IPv4 a right header checksum, a total length that is the frame's and
/// fits the MTU, and (unfragmented) a right TCP/UDP checksum.
pub fn check_output(out: &[Vec<u8>]) {
    for f in out {
        let eth = EthernetFrame::new_checked(&f[..]).expect("sent frame: Ethernet header");
        assert_eq!(eth.src_addr(), OUR_MAC, "sent frame: our source MAC");
        if eth.ethertype() != EtherType::Ipv4 {
            continue;
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).expect("sent frame: IPv4 header");
        assert!(ip.verify_checksum(), "sent frame: IPv4 header checksum");
        assert_eq!(ip.src_addr(), OUR_IP, "sent frame: our source address");
        assert!(usize::from(ip.total_len()) <= MTU, "sent frame: over MTU");
        let tl = usize::from(ip.total_len());
        // Short frames may carry Ethernet padding after the packet.
        assert!(
            tl == eth.payload().len() || (tl < 46 && eth.payload().len() == 46),
            "sent frame: total length {tl} vs frame payload {}",
            eth.payload().len()
        );
        if ip.is_fragment() {
            continue;
        }
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let l4 = ip.payload();
        match ip.protocol() {
            IpProtocol::Tcp => {
                let seg = TcpPacket::new_checked(l4).expect("sent segment: TCP header");
                assert!(seg.verify_checksum(src, dst), "sent segment: TCP checksum");
                let repr = TcpRepr::parse(&seg, src, dst).expect("sent segment parses");
                if let Some(mss) = repr.mss {
                    assert!(usize::from(mss) <= MTU - 40, "sent SYN: MSS over MTU");
                }
            }
            IpProtocol::Udp => {
                assert!(l4.len() >= 8, "sent datagram: UDP header");
                let c = checksum::add(
                    checksum::pseudo_header(src, dst, 17, l4.len() as u16),
                    checksum::sum(l4),
                );
                assert!(
                    checksum::fold(c) == 0xffff || l4[6..8] == [0, 0],
                    "sent datagram: UDP checksum"
                );
            }
            IpProtocol::Icmp => assert!(checksum::verify(l4), "sent ICMP: checksum"),
            IpProtocol::Unknown(p) => panic!("sent an IPv4 packet of protocol {p}"),
        }
    }
}

/// The stack's pools stay within their configured bounds.
pub fn check_bounds(s: &Stack) {
    assert!(
        s.reassembly_in_use() <= FRAG_SLOTS,
        "reassembly slots {} > {FRAG_SLOTS}",
        s.reassembly_in_use()
    );
    assert!(
        s.arp_cache_len() <= ARP_CACHE,
        "arp cache {} > {ARP_CACHE}",
        s.arp_cache_len()
    );
    assert!(
        s.arp_held_frames() <= ARP_PENDING_ADDRS * ARP_PENDING_PER_ADDR,
        "arp held frames {}",
        s.arp_held_frames()
    );
    let conns = s.tcp().connections().count();
    assert!(
        conns <= s.tcp().config().max_conns,
        "tcp connections {conns}"
    );
}

// ----------------------------------------------------------------- targets

/// Target `wire`: every parser, through the receive path's walk plus TCP.
pub fn wire(data: &[u8]) {
    parse_frame_for_fuzz(data);
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        return;
    };
    if frame.ethertype() != EtherType::Ipv4 {
        return;
    }
    let Ok(ip) = Ipv4Packet::new_checked(frame.payload()) else {
        return;
    };
    if ip.protocol() == IpProtocol::Tcp {
        tcp_parse(ip.payload(), ip.src_addr(), ip.dst_addr());
    }
}

/// Target `tcp`: a TCP segment (header, options, payload). Runs the parser
/// on the bytes as given and again with the checksum made right, so the
/// option and flag checks behind the checksum are reached.
pub fn tcp(data: &[u8]) {
    // The option iterator on its own, over arbitrary bytes.
    for o in TcpOptions::new(data) {
        if let TcpOption::Unknown { data, .. } = o {
            assert!(data.len() <= 253);
        }
    }
    tcp_parse(data, PEER_IP, OUR_IP);
    let mut fixed = data.to_vec();
    fix_l4_checksum(6, &mut fixed);
    tcp_parse(&fixed, PEER_IP, OUR_IP);
}

fn tcp_parse(seg: &[u8], src: Ipv4Addr, dst: Ipv4Addr) {
    let Ok(p) = TcpPacket::new_checked(seg) else {
        return;
    };
    let _ = (
        p.src_port(),
        p.dst_port(),
        p.seq_number(),
        p.ack_number(),
        p.flags(),
        p.window_len(),
        p.urgent_at(),
        p.checksum(),
        p.payload().len(),
        p.segment_len(),
    );
    assert!(p.header_len() >= 20 && p.header_len() <= seg.len());
    let mut n = 0;
    for _ in TcpOptions::new(p.options()) {
        n += 1;
        assert!(n <= 40, "more options than option bytes");
    }
    let Ok(repr) = TcpRepr::parse(&p, src, dst) else {
        return;
    };
    let f = p.flags();
    assert!(
        !(f & flags::SYN != 0 && f & (flags::FIN | flags::RST) != 0),
        "SYN+FIN / SYN+RST accepted"
    );
    assert!(repr.header_len() <= 60);
    assert_eq!(repr.payload.len(), seg.len() - p.header_len());
    // The Repr keeps no URG/ECE/CWR: a segment with only those bits
    // re-emits as a null segment, which parse rightly refuses.
    if repr.ack.is_none() && !repr.psh && repr.control == xskd_proto::wire::tcp::Control::None {
        return;
    }
    // Re-emitting what was parsed gives a segment that parses the same.
    let mut out = vec![0u8; repr.buffer_len()];
    let mut op = TcpPacket::new_unchecked(&mut out[..]);
    repr.emit(&mut op, src, dst);
    let again = TcpPacket::new_checked(&out[..]).expect("emitted segment is well formed");
    let back = TcpRepr::parse(&again, src, dst).expect("emitted segment parses");
    assert_eq!(back.seq, repr.seq);
    assert_eq!(back.ack, repr.ack);
    assert_eq!(back.control, repr.control);
    assert_eq!(back.mss, repr.mss);
    assert_eq!(back.window_scale, repr.window_scale);
    assert_eq!(back.timestamp, repr.timestamp);
    assert_eq!(back.payload, repr.payload);
}

/// Target `reassembly`: a train of IPv4 fragments (ICMP echo or UDP to the
/// echo port) with fuzzer-chosen ident, offset, length, MF and timing, fed
/// through a `Stack`. Per fragment, 7 bytes: ident selector, flags (bit 0
/// MF, bit 1 UDP, bits 2-3 source), offset in 8-byte units (u16, 13 bits),
/// payload length (u16, % 1481), clock advance (u8, x 250 ms).
pub fn reassembly(data: &[u8]) {
    let mut s = Stack::new(config());
    s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
    let mut out = Vec::new();
    let mut now = Instant::from_secs(1);
    // Learn the peer first, so answers go out instead of waiting on ARP.
    s.process_frame(now, &arp(2, PEER_MAC, PEER_IP, OUR_IP), &mut out);
    let mut r = Reader::new(data);
    let mut fed = 0u64;
    while let (Some(sel), Some(fl), Some(off), Some(len), Some(adv)) =
        (r.u8(), r.u8(), r.u16(), r.u16(), r.u8())
    {
        let mut ip = Ip::new(if fl & 2 != 0 { 17 } else { 1 });
        ip.ident = u16::from(sel % 8);
        ip.src = Ipv4Addr::new(198, 18, 0, 2 + (fl >> 2 & 3));
        ip.more_frags = fl & 1 != 0;
        ip.frag_offset = (off & 0x1fff) * 8;
        let len = usize::from(len) % 1481;
        // A first fragment carries a real header, so complete datagrams
        // reach ICMP/UDP; the rest is a pattern.
        let mut payload: Vec<u8> = (0..len).map(|i| (i as u8) ^ sel).collect();
        if ip.frag_offset == 0 {
            let head = if ip.protocol == 17 {
                udp_datagram(1000, 7, &[])
            } else {
                icmp_echo(1, 1, &[])
            };
            let n = head.len().min(payload.len());
            payload[..n].copy_from_slice(&head[..n]);
        }
        now += Duration::from_millis(u64::from(adv) * 250);
        s.process_frame(now, &ip.frame(&payload), &mut out);
        fed += 1;
        if s.poll_at().is_some_and(|t| t <= now) {
            s.poll(now, &mut out);
        }
        check_bounds(&s);
        check_output(&out);
        out.clear();
    }
    // After the timeout every slot is free again.
    now += Duration::from_secs(31);
    s.poll(now, &mut out);
    check_output(&out);
    assert_eq!(s.reassembly_in_use(), 0, "slots held past the timeout");
    assert_eq!(s.counters().rx_frames, fed + 1);
}

/// The last TCP segment the stack sent: enough to answer it in-window.
#[derive(Clone, Copy, Debug)]
pub struct LastSent {
    pub our_port: u16,
    pub peer_port: u16,
    /// SEG.SEQ + SEG.LEN of what we sent: what the peer would acknowledge.
    pub seq_end: u32,
    /// What we acknowledged: the peer's next sequence number.
    pub ack: u32,
}

/// Remember the last TCP segment among `out`.
pub fn track_tcp(out: &[Vec<u8>], last: &mut Option<LastSent>) {
    for f in out {
        let Ok(eth) = EthernetFrame::new_checked(&f[..]) else {
            continue;
        };
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            continue;
        };
        if ip.protocol() != IpProtocol::Tcp || ip.is_fragment() {
            continue;
        }
        let Ok(seg) = TcpPacket::new_checked(ip.payload()) else {
            continue;
        };
        let Ok(r) = TcpRepr::parse(&seg, ip.src_addr(), ip.dst_addr()) else {
            continue;
        };
        if r.control == xskd_proto::wire::tcp::Control::Rst {
            continue;
        }
        *last = Some(LastSent {
            our_port: r.src_port,
            peer_port: r.dst_port,
            seq_end: r.seq.0.wrapping_add(r.segment_len() as u32),
            ack: r.ack.map_or(0, |a| a.0),
        });
    }
}

/// A TCP segment answering `last`: ports, SEQ and ACK are taken from it,
/// shifted by the small signed deltas the fuzzer put in the SEQ and ACK
/// fields of `body`; the rest of the header (flags, window, options) and
/// the payload are the fuzzer's.
pub fn answer_segment(body: &[u8], last: &LastSent) -> Vec<u8> {
    let mut seg = body.to_vec();
    if seg.len() < 20 {
        let mut h = vec![0u8; 20];
        h[12] = 0x50;
        h[13] = 0x10;
        h[14] = 0xff;
        h[15] = 0xff;
        let n = seg.len().min(20);
        h[..n].copy_from_slice(&seg[..n]);
        h[12] = 0x50;
        seg = h;
    }
    let dseq = i32::from(seg[4] as i8);
    let dack = i32::from(seg[8] as i8);
    seg[0..2].copy_from_slice(&last.peer_port.to_be_bytes());
    seg[2..4].copy_from_slice(&last.our_port.to_be_bytes());
    seg[4..8].copy_from_slice(&last.ack.wrapping_add_signed(dseq).to_be_bytes());
    seg[8..12].copy_from_slice(&last.seq_end.wrapping_add_signed(dack).to_be_bytes());
    fix_l4_checksum(6, &mut seg);
    seg
}

/// Target `stack`: a whole `Stack` (UDP echo on 7, TCP echo on 7, a TCP
/// listener on 80 nobody accepts from) fed a sequence of records:
/// clock advance (u8: x 10 ms, or x 1 s if the top bit is set), kind (u8),
/// length (u16), then the bytes. Kind picks how the bytes are framed:
/// 0 raw Ethernet; 1 a TCP segment (checksum fixed) to port 80 or 7;
/// 2 a UDP datagram body to port 7; 3 an IPv4 payload with the protocol
/// in the next byte; 4 an ICMP message (checksum fixed); 5 a TCP segment
/// answering the last one the stack sent (see `answer_segment`), so
/// handshakes complete and established states are reached.
pub fn stack(data: &[u8]) {
    stack_run(data);
}

/// The `stack` target's body; returns the stack for tests to inspect, with
/// the bytes the TCP echo service echoed.
pub fn stack_run(data: &[u8]) -> (Stack, u64) {
    let mut s = Stack::new(config());
    s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
    s.tcp_mut().listen(80).unwrap();
    let mut echo = TcpEcho::new(s.tcp_mut(), 7).unwrap();
    let mut out = Vec::new();
    let mut now = Instant::from_secs(1);
    s.start(now, &mut out);
    s.process_frame(now, &arp(2, PEER_MAC, PEER_IP, OUR_IP), &mut out);
    let mut r = Reader::new(data);
    let mut fed = 1u64;
    let mut last: Option<LastSent> = None;
    while let (Some(adv), Some(kind), Some(len)) = (r.u8(), r.u8(), r.u16()) {
        let step = if adv & 0x80 != 0 {
            Duration::from_secs(u64::from(adv & 0x7f))
        } else {
            Duration::from_millis(u64::from(adv) * 10)
        };
        now += step;
        let body = r.bytes(usize::from(len) % 1600);
        let frame = match kind % 6 {
            0 => body.to_vec(),
            1 => {
                let mut seg = body.to_vec();
                if seg.len() >= 4 {
                    let port: u16 = if seg[3] & 1 == 0 { 80 } else { 7 };
                    seg[2..4].copy_from_slice(&port.to_be_bytes());
                }
                fix_l4_checksum(6, &mut seg);
                Ip::new(6).frame(&seg)
            }
            2 => Ip::new(17).frame(&udp_datagram(1000, 7, body)),
            3 => {
                let (p, rest) = body.split_first().unwrap_or((&0, &[]));
                Ip::new(*p).frame(rest)
            }
            5 => match &last {
                Some(l) => Ip::new(6).frame(&answer_segment(body, l)),
                None => body.to_vec(),
            },
            _ => {
                let mut m = body.to_vec();
                if m.len() >= 4 {
                    m[2..4].copy_from_slice(&[0, 0]);
                    let c = checksum::finish(checksum::sum(&m));
                    m[2..4].copy_from_slice(&c.to_be_bytes());
                }
                Ip::new(1).frame(&m)
            }
        };
        s.process_frame(now, &frame, &mut out);
        fed += 1;
        echo.poll(now, s.tcp_mut());
        // Timers: poll while due, and a due timer must not stay due.
        let mut polls = 0;
        while s.poll_at().is_some_and(|t| t <= now) {
            s.poll(now, &mut out);
            polls += 1;
            assert!(polls < 4, "poll_at() stays in the past after poll()");
        }
        check_bounds(&s);
        check_output(&out);
        track_tcp(&out, &mut last);
        out.clear();
    }
    assert_eq!(s.counters().rx_frames, fed);
    // Let every timer run out: connections close, slots free, nothing spins.
    for _ in 0..40 {
        let Some(t) = s.poll_at() else { break };
        now = now.max(t);
        s.poll(now, &mut out);
        echo.poll(now, s.tcp_mut());
        check_output(&out);
        out.clear();
        check_bounds(&s);
    }
    assert_eq!(s.reassembly_in_use(), 0);
    let echoed = echo.bytes_echoed();
    (s, echoed)
}
