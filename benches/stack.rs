//! Per-frame cost on the sans-IO stack, no I/O: parse + validate of each
//! header, the UDP echo path (frame in -> frame out), an in-order TCP data
//! segment with its ACK, and a TCP connection setup + teardown.

use std::net::{Ipv4Addr, SocketAddrV4};

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use xskd::service::tcp_echo::TcpEcho;
use xskd::service::UdpEcho;
use xskd::stack::tcp::{SegmentSink, Tcp, TcpConfig};
use xskd::stack::{Stack, StackConfig, TxSink};
use xskd::time::Instant;
use xskd::wire::tcp::{Control, SeqNumber, TcpPacket, TcpRepr};
use xskd::wire::*;

const OUR_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
const OUR_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// A transmit sink that reuses one buffer: measures the stack, not malloc.
struct Sink {
    buf: Vec<u8>,
    frames: u64,
}

impl TxSink for Sink {
    fn transmit<F: FnOnce(&mut [u8])>(
        &mut self,
        len: usize,
        fill: F,
    ) -> std::result::Result<(), xskd::stack::DropReason> {
        fill(&mut self.buf[..len]);
        self.frames += 1;
        Ok(())
    }

    fn room(&self) -> usize {
        usize::MAX
    }
}

impl SegmentSink for Sink {
    fn send_segment<F: FnOnce(&mut [u8])>(
        &mut self,
        _src: SocketAddrV4,
        _dst: SocketAddrV4,
        len: usize,
        fill: F,
    ) -> std::result::Result<(), xskd::stack::DropReason> {
        fill(&mut self.buf[..len]);
        self.frames += 1;
        Ok(())
    }

    fn room(&self) -> usize {
        usize::MAX
    }
}

fn sink() -> Sink {
    Sink {
        buf: vec![0; 9216],
        frames: 0,
    }
}

fn ipv4_frame(protocol: IpProtocol, l4: &[u8]) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: OUR_IP,
        protocol,
        payload_len: l4.len(),
        ttl: 64,
    };
    let mut f = vec![0u8; ETHERNET_HEADER_LEN + ip.buffer_len()];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: OUR_MAC,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    let mut p = Ipv4Packet::new_unchecked(&mut f[ETHERNET_HEADER_LEN..]);
    ip.emit(&mut p);
    p.payload_mut().copy_from_slice(l4);
    f
}

fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut l4 = vec![0u8; UDP_HEADER_LEN + payload.len()];
    UdpRepr {
        src_port: 40000,
        dst_port: 7,
    }
    .emit(
        &mut UdpPacket::new_unchecked(&mut l4[..]),
        PEER_IP,
        OUR_IP,
        payload.len(),
        |b| b.copy_from_slice(payload),
    );
    ipv4_frame(IpProtocol::Udp, &l4)
}

fn learned_stack() -> Stack {
    let mut s = Stack::new(StackConfig::new(OUR_MAC, OUR_IP, 24));
    s.bind_udp(7, Box::new(UdpEcho::new())).unwrap();
    // Learn the peer from its ARP request so replies need no resolution.
    let arp = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: PEER_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: OUR_IP,
    };
    let mut f = vec![0u8; ETHERNET_HEADER_LEN + ARP_PACKET_LEN];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    arp.emit(&mut ArpPacket::new_unchecked(&mut f[ETHERNET_HEADER_LEN..]));
    s.process_frame(Instant::from_secs(1), &f, &mut sink());
    s
}

fn parse(c: &mut Criterion) {
    let udp = udp_frame(&[7u8; 64]);
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("eth_ipv4_udp_validate", |b| {
        b.iter(|| {
            let f = black_box(&udp[..]);
            let eth = EthernetFrame::new_checked(f).unwrap();
            let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
            let repr = Ipv4Repr::parse(&ip).unwrap();
            let u = UdpPacket::new_checked(ip.payload()).unwrap();
            black_box(UdpRepr::parse(&u, repr.src_addr, repr.dst_addr).unwrap());
        })
    });
    g.finish();
}

fn udp_echo(c: &mut Criterion) {
    let mut s = learned_stack();
    let frame = udp_frame(&[7u8; 18]);
    let mut out = sink();
    let mut now = Instant::from_secs(2);
    s.process_frame(now, &frame, &mut out);
    assert_eq!(out.frames, 1, "the echo answers");
    let mut g = c.benchmark_group("stack");
    g.throughput(Throughput::Elements(1));
    g.bench_function("udp_echo_frame_in_frame_out", |b| {
        b.iter(|| {
            now = Instant::from_nanos(now.as_nanos() + 1);
            s.process_frame(now, black_box(&frame), &mut out);
        })
    });
    g.finish();
}

fn tcp_segment(
    src_port: u16,
    seq: u32,
    ack: Option<u32>,
    control: Control,
    payload: &[u8],
) -> Vec<u8> {
    tcp_segment_to(80, src_port, seq, ack, control, payload)
}

fn tcp_segment_to(
    dst_port: u16,
    src_port: u16,
    seq: u32,
    ack: Option<u32>,
    control: Control,
    payload: &[u8],
) -> Vec<u8> {
    let repr = TcpRepr {
        src_port,
        dst_port,
        seq: SeqNumber(seq),
        ack: ack.map(SeqNumber),
        control,
        psh: !payload.is_empty(),
        window_len: 65535,
        mss: (control == Control::Syn).then_some(1460),
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload,
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), PEER_IP, OUR_IP);
    b
}

/// Our ISN from a SYN-ACK segment.
fn isn_of(segments: &[(SocketAddrV4, SocketAddrV4, Vec<u8>)]) -> u32 {
    let (_, _, seg) = segments.last().expect("a SYN-ACK");
    TcpPacket::new_checked(&seg[..]).unwrap().seq_number().0
}

fn tcp(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Elements(1));
    // An established connection receiving in-order 1000-byte segments that
    // the application drains; each segment is ACKed (delayed-ACK rules
    // permitting) in the same call.
    let mut tcp = Tcp::new(TcpConfig::default(), OUR_IP, [7; 32], 1);
    let l = tcp.listen(80).unwrap();
    let mut out: Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)> = Vec::new();
    let t0 = Instant::from_secs(10);
    tcp.on_segment(
        t0,
        PEER_IP,
        OUR_IP,
        &tcp_segment(40000, 1000, None, Control::Syn, &[]),
        &mut out,
    )
    .unwrap();
    let isn = isn_of(&out);
    tcp.on_segment(
        t0,
        PEER_IP,
        OUR_IP,
        &tcp_segment(40000, 1001, Some(isn.wrapping_add(1)), Control::None, &[]),
        &mut out,
    )
    .unwrap();
    let conn = tcp.accept(l).expect("accepted");
    let payload = [0x5au8; 1000];
    let mut seq = 1001u32;
    let mut buf = [0u8; 4096];
    let mut now = t0;
    let mut segs: Vec<Vec<u8>> = Vec::with_capacity(1);
    g.bench_function("in_order_data_segment_and_ack", |b| {
        b.iter_batched(
            || {
                let s = tcp_segment(
                    40000,
                    seq,
                    Some(isn.wrapping_add(1)),
                    Control::None,
                    &payload,
                );
                seq = seq.wrapping_add(1000);
                segs.clear();
                s
            },
            |seg| {
                now = Instant::from_nanos(now.as_nanos() + 1000);
                out.clear();
                tcp.on_segment(now, PEER_IP, OUR_IP, &seg, &mut out)
                    .unwrap();
                while tcp.recv(conn, &mut buf).unwrap_or(0) > 0 {}
                tcp.poll(now, &mut out);
            },
            BatchSize::SmallInput,
        )
    });
    // The same, emitting into one reused buffer as the worker emits into
    // UMEM frames (the Vec sink above allocates and frees per segment; the
    // segment is also dropped outside the timing here).
    let mut frames = sink();
    g.bench_function("in_order_data_segment_and_ack_reused_sink", |b| {
        b.iter_batched_ref(
            || {
                let s = tcp_segment(
                    40000,
                    seq,
                    Some(isn.wrapping_add(1)),
                    Control::None,
                    &payload,
                );
                seq = seq.wrapping_add(1000);
                s
            },
            |seg| {
                now = Instant::from_nanos(now.as_nanos() + 1000);
                tcp.on_segment(now, PEER_IP, OUR_IP, seg, &mut frames)
                    .unwrap();
                while tcp.recv(conn, &mut buf).unwrap_or(0) > 0 {}
                tcp.poll(now, &mut frames);
            },
            BatchSize::SmallInput,
        )
    });
    // Setup and teardown: SYN, SYN-ACK, ACK, accept, then the peer's FIN,
    // our close (FIN), the final ACK; fresh ports so TIME-WAIT never blocks.
    let mut port = 1024u16;
    g.bench_function("connection_setup_and_teardown", |b| {
        b.iter(|| {
            // Ports below the data connection's 40000, recycled after CLOSED.
            port = if port >= 39_999 { 1024 } else { port + 1 };
            now = Instant::from_nanos(now.as_nanos() + 1000);
            out.clear();
            tcp.on_segment(
                now,
                PEER_IP,
                OUR_IP,
                &tcp_segment(port, 1000, None, Control::Syn, &[]),
                &mut out,
            )
            .unwrap();
            let isn = isn_of(&out);
            let ack = Some(isn.wrapping_add(1));
            tcp.on_segment(
                now,
                PEER_IP,
                OUR_IP,
                &tcp_segment(port, 1001, ack, Control::None, &[]),
                &mut out,
            )
            .unwrap();
            let c = tcp.accept(l).expect("accepted");
            tcp.on_segment(
                now,
                PEER_IP,
                OUR_IP,
                &tcp_segment(port, 1001, ack, Control::Fin, &[]),
                &mut out,
            )
            .unwrap();
            let _ = tcp.close(c);
            tcp.poll(now, &mut out);
            let fin_ack = Some(isn.wrapping_add(2));
            let r = tcp.on_segment(
                now,
                PEER_IP,
                OUR_IP,
                &tcp_segment(port, 1002, fin_ack, Control::None, &[]),
                &mut out,
            );
            debug_assert!(
                r.is_ok(),
                "final ACK: {r:?} state {:?}",
                tcp.connections()
                    .find(|x| x.remote.port() == port)
                    .map(|x| x.state)
            );
        })
    });
    g.finish();
}

/// One rx batch for the TCP echo service holding `idle` idle connections
/// and one active one: a data segment (which also ACKs the previous echo)
/// arrives, the service runs (as the worker runs it after every batch),
/// then the stack's poll sends the echo. Before the readiness lists the
/// service walked every connection it held on each run.
fn echo_batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("echo");
    g.throughput(Throughput::Elements(1));
    for idle in [0u16, 1000] {
        let mut tcp = Tcp::new(TcpConfig::default(), OUR_IP, [7; 32], 1);
        let mut echo = TcpEcho::new(&mut tcp, 7).unwrap();
        let mut out: Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)> = Vec::new();
        let mut now = Instant::from_secs(10);
        // Port 1024 is the active connection, the rest stay idle.
        let mut active_isn = 0;
        for port in 1024..=1024 + idle {
            out.clear();
            let syn = tcp_segment_to(7, port, 1000, None, Control::Syn, &[]);
            tcp.on_segment(now, PEER_IP, OUR_IP, &syn, &mut out)
                .unwrap();
            let isn = isn_of(&out);
            let ack = tcp_segment_to(7, port, 1001, Some(isn.wrapping_add(1)), Control::None, &[]);
            tcp.on_segment(now, PEER_IP, OUR_IP, &ack, &mut out)
                .unwrap();
            echo.poll(now, &mut tcp);
            tcp.poll(now, &mut out);
            if port == 1024 {
                active_isn = isn;
            }
        }
        assert_eq!(echo.connections(), usize::from(idle) + 1);
        let payload = [0x5au8; 100];
        let mut seq = 1001u32;
        // Everything the echo sent so far is acknowledged by the next segment.
        let mut acked = active_isn.wrapping_add(1);
        g.bench_function(format!("one_active_{idle}_idle_connections"), |b| {
            b.iter_batched(
                || {
                    let s = tcp_segment_to(7, 1024, seq, Some(acked), Control::None, &payload);
                    seq = seq.wrapping_add(payload.len() as u32);
                    acked = acked.wrapping_add(payload.len() as u32);
                    s
                },
                |seg| {
                    now = Instant::from_nanos(now.as_nanos() + 1000);
                    out.clear();
                    tcp.on_segment(now, PEER_IP, OUR_IP, &seg, &mut out)
                        .unwrap();
                    echo.poll(now, &mut tcp);
                    tcp.poll(now, &mut out);
                },
                BatchSize::SmallInput,
            )
        });
        assert!(echo.bytes_echoed() > 0);
    }
    g.finish();
}

criterion_group!(benches, parse, udp_echo, tcp, echo_batch);
criterion_main!(benches);
