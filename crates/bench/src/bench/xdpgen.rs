//! `bench-client xdp-throughput`: the UDP throughput load sent and counted
//! through an AF_XDP socket of its own in the peer namespace, so the load
//! generator is not the kernel's socket path (which saturates before the
//! bare reflector does). It takes over its address on the interface while
//! it runs: our XDP program steers every frame for that address (and ARP
//! for it) to the socket; ARP requests for it are answered here.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xskd_datapath::config::{UmemConfig, XdpMode, ZeroCopy};
use xskd_datapath::xdp_prog::XdpProgram;
use xskd_datapath::xsk::XskSocket;
use xskd_datapath::{iface, TxSink};
use xskd_proto::wire::checksum;

use super::client::{stamp, ThroughputCounts, ThroughputResult};

const ETH: usize = 14;
const IP: usize = 20;
const UDP: usize = 8;
/// Our source port; the echo comes back to it.
const SRC_PORT: u16 = 40_000;

/// Ethernet + IPv4 + UDP frame from `src` to `dst` with `payload_len`
/// bytes of stamped payload, checksums filled in.
pub fn udp_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload_len: usize,
) -> Vec<u8> {
    let mut f = vec![0u8; ETH + IP + UDP + payload_len];
    f[0..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&src_mac);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (IP + UDP + payload_len) as u16;
    let ip = &mut f[ETH..ETH + IP];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.ip().octets());
    ip[16..20].copy_from_slice(&dst.ip().octets());
    let c = checksum::finish(checksum::sum(ip));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let udp_len = (UDP + payload_len) as u16;
    let u = ETH + IP;
    f[u..u + 2].copy_from_slice(&src.port().to_be_bytes());
    f[u + 2..u + 4].copy_from_slice(&dst.port().to_be_bytes());
    f[u + 4..u + 6].copy_from_slice(&udp_len.to_be_bytes());
    stamp(&mut f[u + UDP..], 0);
    let sum = checksum::add(
        checksum::pseudo_header(*src.ip(), *dst.ip(), 17, udp_len),
        checksum::sum(&f[u..]),
    );
    let mut c = checksum::finish(sum);
    if c == 0 {
        c = 0xffff;
    }
    f[u + 6..u + 8].copy_from_slice(&c.to_be_bytes());
    f
}

/// Whether `frame` is the echo of one of ours: IPv4/UDP from `dst` to our
/// port, of the size we send.
pub fn is_echo(frame: &[u8], dst: SocketAddrV4, len: usize) -> bool {
    frame.len() == len
        && frame.get(12..14) == Some(&[0x08, 0x00])
        && frame[14] == 0x45
        && frame[23] == 17
        && frame[26..30] == dst.ip().octets()
        && frame[34..36] == dst.port().to_be_bytes()
        && frame[36..38] == SRC_PORT.to_be_bytes()
}

/// The ARP reply to `frame` if it is a request for `ip`.
pub fn arp_reply(frame: &[u8], mac: [u8; 6], ip: Ipv4Addr) -> Option<[u8; 42]> {
    if frame.len() < 42
        || frame[12..14] != [0x08, 0x06]
        || frame[14..22] != [0, 1, 8, 0, 6, 4, 0, 1]
        || frame[38..42] != ip.octets()
    {
        return None;
    }
    let mut r = [0u8; 42];
    r[0..6].copy_from_slice(&frame[22..28]);
    r[6..12].copy_from_slice(&mac);
    r[12..14].copy_from_slice(&[0x08, 0x06]);
    r[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
    r[22..28].copy_from_slice(&mac);
    r[28..32].copy_from_slice(&ip.octets());
    r[32..42].copy_from_slice(&frame[22..32]);
    Some(r)
}

pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|x| u8::from_str_radix(x, 16))
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad MAC {s:?}"))?;
    v.try_into()
        .map_err(|_| anyhow::anyhow!("bad MAC {s:?}: not 6 bytes"))
}

pub struct XdpLoad {
    pub iface: String,
    pub src: Ipv4Addr,
    pub target: SocketAddr,
    pub dst_mac: String,
    pub duration: Duration,
    pub size: usize,
    pub window: u64,
    pub batch: usize,
    pub warmup: Duration,
}

pub fn xdp_throughput(l: &XdpLoad) -> Result<ThroughputResult> {
    let SocketAddr::V4(dst) = l.target else {
        bail!("IPv4 targets only");
    };
    if !(12..=1472).contains(&l.size) {
        bail!("--size must be 12..=1472 bytes");
    }
    let src_mac = iface::mac_address(&l.iface).context("reading our MAC")?;
    let dst_mac = parse_mac(&l.dst_mac)?;
    let src = SocketAddrV4::new(l.src, SRC_PORT);
    let frame = udp_frame(src_mac, dst_mac, src, dst, l.size);
    let mut prog = XdpProgram::load_and_attach(&l.iface, l.src, XdpMode::Native)
        .context("attaching the XDP program to the generator's interface")?;
    let umem = UmemConfig::default();
    let mut sock = XskSocket::bind(&l.iface, 0, &umem, XdpMode::Native, ZeroCopy::Auto, true)
        .context("binding the generator's AF_XDP socket")?;
    prog.insert_socket(0, sock.fd())?;
    // The window must fit in the frames left for transmit.
    let window = l.window.min(umem.tx_ring as u64);
    let batch = l.batch.max(1) as u64;

    let t0 = Instant::now();
    let measure_from = t0 + l.warmup;
    let deadline = measure_from + l.duration;
    let (mut sent, mut received, mut written_off, mut stalls) = (0u64, 0u64, 0u64, 0u64);
    let (mut sent_at_start, mut received_at_start) = (None, 0u64);
    let mut last_echo = Instant::now();
    let received_at_deadline;
    loop {
        let now = Instant::now();
        if sent_at_start.is_none() && now >= measure_from {
            sent_at_start = Some(sent);
            received_at_start = received;
        }
        if now >= deadline {
            received_at_deadline = received;
            break;
        }
        let in_flight = sent.saturating_sub(received + written_off);
        let room = window.saturating_sub(in_flight).min(batch);
        if room > 0 {
            let mut tx = sock.tx();
            for _ in 0..room {
                if tx
                    .transmit(frame.len(), |out| out.copy_from_slice(&frame))
                    .is_err()
                {
                    break;
                }
                sent += 1;
            }
        }
        sock.flush();
        let mut got = 0u64;
        sock.poll_rx(64, |f, tx| {
            if is_echo(f, dst, frame.len()) {
                got += 1;
            } else if let Some(r) = arp_reply(f, src_mac, l.src) {
                let _ = tx.transmit(r.len(), |out| out.copy_from_slice(&r));
            }
        });
        if got > 0 {
            last_echo = now;
            written_off -= got.min(written_off);
            received += got;
        } else if in_flight > 0 && now.duration_since(last_echo) > Duration::from_millis(5) {
            // Nothing for a while: what is in flight is lost; reopen.
            stalls += 1;
            written_off = sent.saturating_sub(received);
            last_echo = now;
        }
    }
    let measured_secs = Instant::now()
        .min(deadline)
        .saturating_duration_since(measure_from)
        .as_secs_f64();
    let drain_end = Instant::now() + Duration::from_millis(50);
    while Instant::now() < drain_end && received < sent {
        sock.flush();
        sock.poll_rx(64, |f, _| {
            if is_echo(f, dst, frame.len()) {
                received += 1;
            }
        });
    }
    drop(sock);
    prog.detach();
    if received == 0 {
        bail!("no echo from {dst}");
    }
    Ok(ThroughputResult::from_counts(ThroughputCounts {
        sent,
        sent_at_start,
        received,
        received_at_start,
        received_at_deadline,
        measured_secs,
        stalls,
    }))
}
