//! The stack for one worker: Ethernet in, frames out, timers.
//!
//! `Stack` splits into three parts so a datagram borrowed from the
//! reassembly pool can be handed to a UDP service while replies are built:
//! the reassembler, the UDP port table, and `Net` (everything that sends).

use std::net::{Ipv4Addr, SocketAddrV4};

use super::arp::send_arp;
use super::arp_cache::{ArpCache, PendingEvent, PendingTable};
use super::config::StackConfig;
use super::counters::StackCounters;
use super::ipv4_frag::Reassembler;
use super::ipv4_out::NetSegments;
use super::net::{Net, StackError, ARP_SHARE_QUEUE, CACHE_SWEEP, MAX_MTU, MIN_MTU};
use super::rate_limit::TokenBucket;
use super::shard::{Handoff, NoSiblings, Siblings};
use super::tcp::Tcp;
use super::udp::{UdpService, UdpTable};
use super::DropReason;
use crate::link::DynTx;
pub use crate::link::TxSink;
use crate::time::Instant;
use crate::wire::{
    ArpOperation, EtherType, EthernetAddress, EthernetFrame, IpProtocol, ETHERNET_HEADER_LEN,
    IPV4_MAX_PACKET,
};

pub struct Stack {
    pub(crate) reasm: Reassembler,
    pub(crate) udp: UdpTable,
    pub(crate) tcp: Tcp,
    pub(crate) net: Net,
}

impl Stack {
    /// Allocate every pool now; the per-packet path never allocates. The
    /// MTU is clamped to [`MIN_MTU`]..=[`MAX_MTU`].
    pub fn new(mut config: StackConfig) -> Self {
        config.mtu = config.mtu.clamp(MIN_MTU, MAX_MTU);
        let frame_size = ETHERNET_HEADER_LEN + config.mtu;
        // The largest segment whose IPv4 packet fits the MTU (20 + 20 bytes
        // of headers), so TCP never needs IP fragmentation.
        let mss_limit = u16::try_from(config.mtu.saturating_sub(40)).unwrap_or(u16::MAX);
        let mut tcp_cfg = config.tcp.clone();
        tcp_cfg.mss = tcp_cfg.mss.min(mss_limit);
        let mut tcp = Tcp::new(tcp_cfg, config.ipv4, config.tcp_secret, config.tcp_seed);
        tcp.set_shard(config.shard.index, config.shard.count);
        Stack {
            reasm: Reassembler::new(&config.frag),
            udp: UdpTable::default(),
            tcp,
            net: Net {
                cache: ArpCache::new(&config.arp),
                pending: PendingTable::new(&config.arp, frame_size),
                icmp_bucket: TokenBucket::new(config.icmp_rate_per_sec, config.icmp_burst),
                scratch: vec![0u8; IPV4_MAX_PACKET].into_boxed_slice(),
                next_ident: config.ident_seed,
                next_sweep: Instant::ZERO,
                last_defend: None,
                arp_shared: std::collections::VecDeque::with_capacity(ARP_SHARE_QUEUE),
                counters: StackCounters::default(),
                config,
            },
        }
    }

    pub fn config(&self) -> &StackConfig {
        &self.net.config
    }

    /// Bind a service to a UDP port (setup time: allocates).
    pub fn bind_udp(
        &mut self,
        port: u16,
        service: Box<dyn UdpService + Send>,
    ) -> Result<(), StackError> {
        self.udp.bind(port, service, &mut self.net.counters)
    }

    /// Announce our address with a gratuitous ARP.
    pub fn start(&mut self, now: Instant, tx: &mut impl TxSink) {
        let _ = now;
        let net = &mut self.net;
        let ip = net.config.ipv4;
        //= https://www.rfc-editor.org/rfc/rfc5227#section-2.3
        //# Having probed to determine that a desired address may be used
        //# safely, a host implementing this specification MUST then announce
        //# that it is commencing to use this address by broadcasting
        //# ANNOUNCE_NUM ARP Announcements
        // One announcement: we do not probe first (the operator owns the
        // address), and a conflict shows up as `arp_conflict`.
        let _ = net.send_arp(
            tx,
            ArpOperation::Request,
            EthernetAddress::BROADCAST,
            EthernetAddress([0; 6]),
            ip,
        );
    }

    /// The UDP services' own metrics, each with its port (snapshot time).
    pub fn udp_service_metrics(&self, mut f: impl FnMut(u16, super::udp::ServiceMetric)) {
        self.udp.service_metrics(&mut f);
    }

    /// The TCP layer, for services: listen, accept, read, write, close.
    pub fn tcp(&self) -> &Tcp {
        &self.tcp
    }

    pub fn tcp_mut(&mut self) -> &mut Tcp {
        &mut self.tcp
    }

    /// Active open to `remote`; the SYN (or the ARP request it waits on)
    /// goes out now.
    pub fn tcp_connect(
        &mut self,
        now: Instant,
        remote: std::net::SocketAddrV4,
        tx: &mut impl TxSink,
    ) -> Result<super::tcp::ConnId, super::tcp::TcpApiError> {
        let Stack { tcp, net, .. } = self;
        tcp.connect(now, remote, &mut NetSegments { net, now, tx })
    }

    /// Neighbours learned since the last call, for the other workers of the
    /// same address. With several NIC queues the ARP reply to one worker's
    /// request may arrive on another worker's queue: sharing what each
    /// learns keeps every worker able to resolve.
    pub fn drain_arp_shared(&mut self, mut f: impl FnMut(Ipv4Addr, EthernetAddress)) {
        while let Some((ip, mac)) = self.net.arp_shared.pop_front() {
            f(ip, mac);
        }
    }

    /// A neighbour a sibling worker learned from ARP that concerned us. It
    /// is taken as solicited only if this worker is resolving or probing
    /// that address; otherwise it may fill an empty slot but never replace
    /// a live entry, exactly like an unsolicited reply.
    pub fn learn_arp_from_sibling(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        mac: EthernetAddress,
        tx: &mut impl TxSink,
    ) {
        self.net.learn_from_sibling(now, ip, mac, tx);
        self.net.counters.arp_cache_size = self.net.cache.len() as u64;
    }

    /// Handle one received Ethernet frame (a stack without siblings).
    pub fn process_frame(&mut self, now: Instant, frame: &[u8], tx: &mut impl TxSink) {
        self.process_frame_with(now, frame, tx, &mut NoSiblings)
    }

    /// Handle one received Ethernet frame; what belongs to a sibling worker
    /// goes to `sib` (`shard.rs`).
    pub fn process_frame_with(
        &mut self,
        now: Instant,
        frame: &[u8],
        tx: &mut impl TxSink,
        sib: &mut impl Siblings,
    ) {
        self.net.counters.rx_frames += 1;
        self.net.counters.rx_bytes += frame.len() as u64;
        if let Err(reason) = self.eth_input(now, frame, tx, sib) {
            self.net.counters.drops.count(reason);
        }
        self.net.counters.arp_cache_size = self.net.cache.len() as u64;
    }

    /// Take up a packet a sibling handed over with [`Siblings::hand_off`].
    pub fn process_handoff(
        &mut self,
        now: Instant,
        how: Handoff,
        bytes: &[u8],
        tx: &mut impl TxSink,
        sib: &mut impl Siblings,
    ) {
        if let Err(reason) = self.handoff_input(now, how, bytes, tx, sib) {
            self.net.counters.drops.count(reason);
        }
    }

    fn eth_input(
        &mut self,
        now: Instant,
        frame: &[u8],
        tx: &mut dyn DynTx,
        sib: &mut dyn Siblings,
    ) -> Result<(), DropReason> {
        let eth = EthernetFrame::new_checked(frame).map_err(|_| DropReason::EthTruncated)?;
        let (src, dst) = (eth.src_addr(), eth.dst_addr());
        if src.is_multicast() {
            return Err(DropReason::EthSourceMulticast);
        }
        let link_broadcast = dst.is_broadcast();
        if dst != self.net.config.mac && !link_broadcast {
            return Err(DropReason::EthNotForUs);
        }
        match eth.ethertype() {
            EtherType::Arp => self.net.arp_input(now, eth.payload(), tx),
            EtherType::Ipv4 => self.ipv4_input(now, link_broadcast, eth.payload(), tx, sib),
            _ => Err(DropReason::EthUnknownType),
        }
    }

    /// Timers: ARP retries and give-ups, cache expiry, reassembly timeouts.
    pub fn poll(&mut self, now: Instant, tx: &mut impl TxSink) {
        let tx: &mut dyn DynTx = tx;
        let Net {
            config,
            pending,
            counters,
            cache,
            next_sweep,
            ..
        } = &mut self.net;
        pending.poll(
            now,
            config.arp.retry_interval,
            config.arp.max_retries,
            |ev| match ev {
                PendingEvent::Retry(addr) => {
                    let _ = send_arp(
                        config,
                        counters,
                        tx,
                        ArpOperation::Request,
                        EthernetAddress::BROADCAST,
                        EthernetAddress([0; 6]),
                        addr,
                    );
                }
                PendingEvent::GaveUp(_, held) => {
                    counters.arp_resolution_failures += 1;
                    for _ in 0..held {
                        counters.drops.count(DropReason::ArpUnresolved);
                    }
                }
            },
        );
        if now >= *next_sweep {
            cache.expire(now);
            *next_sweep = now + CACHE_SWEEP;
        }
        self.reasm_expire(now, tx);
        let Stack { tcp, net, .. } = self;
        tcp.poll(now, &mut NetSegments { net, now, tx });
        self.net.counters.arp_cache_size = self.net.cache.len() as u64;
    }

    /// The next timer deadline, if any timer is armed.
    pub fn poll_at(&self) -> Option<Instant> {
        let sweep = (!self.net.cache.is_empty()).then_some(self.net.next_sweep);
        [
            self.net.pending.poll_at(),
            self.reasm.poll_at(),
            sweep,
            self.tcp.poll_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn counters(&self) -> &StackCounters {
        &self.net.counters
    }

    pub fn arp_cache_len(&self) -> usize {
        self.net.cache.len()
    }

    /// The cached MAC for `ip`, if live.
    pub fn arp_lookup(&self, now: Instant, ip: Ipv4Addr) -> Option<EthernetAddress> {
        self.net.cache.get(now, ip)
    }

    /// Partial datagrams held by reassembly.
    pub fn reassembly_in_use(&self) -> usize {
        self.reasm.in_use()
    }

    /// Frames held waiting for ARP resolution.
    pub fn arp_held_frames(&self) -> usize {
        self.net.pending.held()
    }

    /// Send a UDP datagram from our address and `src_port` to `dst`
    /// (fragmented over the MTU). On `Err` the reason has been counted.
    pub fn send_udp(
        &mut self,
        now: Instant,
        src_port: u16,
        dst: SocketAddrV4,
        payload: &[u8],
        tx: &mut impl TxSink,
    ) -> Result<(), DropReason> {
        super::udp::send_udp(&mut self.net, now, src_port, dst, payload, tx)
    }

    /// Send an IPv4 payload of `payload_len` bytes written by `fill`, with
    /// ARP resolution (holding the frames while it resolves) and
    /// fragmentation when it does not fit the MTU. On `Err` the reason has
    /// already been counted.
    pub fn send_ipv4(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        payload_len: usize,
        fill: impl FnOnce(&mut [u8]),
        tx: &mut impl TxSink,
    ) -> Result<(), DropReason> {
        let mut fill = Some(fill);
        self.net.send_ipv4(
            now,
            dst,
            protocol,
            payload_len,
            &mut |b| {
                if let Some(f) = fill.take() {
                    f(b)
                }
            },
            tx,
        )
    }
}
