//! `xskd-bench client`: the load generators `xskd-bench` runs in the peer
//! namespace (and the metrics scraper it runs in xskd's). The same client
//! drives xskd and the kernel baseline. Every load is bounded in time and in
//! count. Each prints one `bench-result {json}` line on stdout.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use hdrhistogram::Histogram;
use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, MultiHeaders};
use serde::{Deserialize, Serialize};

use crate::kernel_servers::{raise_rcvbuf, MAX_BATCH};

/// The longest a latency client warms up before it measures anyway.
const WARMUP_LIMIT: Duration = Duration::from_secs(5);

/// The prefix of the one result line each client prints.
pub const RESULT: &str = "bench-result ";

/// Marks our datagrams, so stray traffic is never counted as an echo.
const MAGIC: u32 = 0x7873_6b62; // "xskb"
/// Magic (4) + sequence number (8).
const HEADER: usize = 12;

#[derive(Subcommand)]
pub enum BenchClient {
    /// One request outstanding: send, wait for the echo, repeat. RTTs go
    /// into a histogram.
    UdpLatency {
        target: SocketAddr,
        /// Stop after this long (warm-up excluded).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Stop after this many round trips.
        #[arg(long, default_value_t = 2_000_000)]
        count: u64,
        /// UDP payload bytes (at least 12); 18 makes a 64-byte frame.
        #[arg(long, default_value_t = 18)]
        size: usize,
        /// Unmeasured round trips first (ARP, caches, the server waking up).
        #[arg(long, default_value_t = 1000)]
        warmup: u64,
    },
    /// Many datagrams in flight (at most `window`), sent in sendmmsg batches
    /// and received with recvmmsg, for a fixed time: echoed datagrams/s.
    UdpThroughput {
        target: SocketAddr,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Stop sending after this many datagrams.
        #[arg(long, default_value_t = 1_000_000_000)]
        count: u64,
        #[arg(long, default_value_t = 18)]
        size: usize,
        /// Datagrams in flight at most.
        #[arg(long, default_value_t = 1024)]
        window: u64,
        /// Datagrams per sendmmsg/recvmmsg call.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Unmeasured time first.
        #[arg(long, default_value_t = 0.2)]
        warmup: f64,
    },
    /// TCP request/response on one connection: write `size` bytes, read
    /// the echo back whole, repeat (one request outstanding, TCP_NODELAY).
    /// RTTs go into a histogram; the result has the same shape as
    /// `udp-latency`'s.
    TcpRr {
        target: SocketAddr,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, default_value_t = 2_000_000)]
        count: u64,
        /// Message bytes (at least 12).
        #[arg(long, default_value_t = 64)]
        size: usize,
        #[arg(long, default_value_t = 1000)]
        warmup: u64,
    },
    /// As `udp-throughput`, sent and received through an AF_XDP socket on
    /// IFACE (taking over SRC's frames while it runs), not kernel sockets.
    XdpThroughput {
        target: SocketAddr,
        #[arg(long)]
        iface: String,
        /// Our address (the XDP program steers its frames to us).
        #[arg(long)]
        src: std::net::Ipv4Addr,
        /// The target's MAC (no ARP is sent).
        #[arg(long)]
        dst_mac: String,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, default_value_t = 18)]
        size: usize,
        #[arg(long, default_value_t = 1024)]
        window: u64,
        #[arg(long, default_value_t = 64)]
        batch: usize,
        #[arg(long, default_value_t = 0.2)]
        warmup: f64,
    },
    /// Write BYTES to TARGET, half-close, wait for the server's close
    /// (a discard server closes after reading everything): the `loss`
    /// part's upload. A timeout is reported in the result.
    TcpUpload {
        target: SocketAddr,
        #[arg(long)]
        bytes: u64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120.0)]
        timeout: f64,
    },
    /// The AF_XDP transmit ceiling: send DST frames of `size` payload
    /// bytes from an AF_XDP socket on IFACE as fast as the ring takes
    /// them, for `seconds`; nothing is received (the peer counts).
    XdpTx {
        dst: std::net::SocketAddrV4,
        #[arg(long)]
        iface: String,
        #[arg(long)]
        src: std::net::Ipv4Addr,
        /// The peer's MAC (no ARP is sent).
        #[arg(long)]
        dst_mac: String,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// 1472 makes 1514-byte frames.
        #[arg(long, default_value_t = 1472)]
        size: usize,
        #[arg(long, default_value_t = 64)]
        batch: usize,
    },
    /// GET http://ADMIN/metrics once a second (as Prometheus would) for
    /// `seconds`; run it in xskd's namespace during a measurement.
    Scrape {
        #[arg(long, default_value = "127.0.0.1:9100")]
        admin: SocketAddr,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

/// What `udp-latency` reports; times in microseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LatencyResult {
    pub round_trips: u64,
    pub lost: u64,
    pub seconds: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
    /// (percentile, µs) pairs for a CDF plot.
    pub cdf: Vec<(f64, f64)>,
}

/// What `udp-throughput` reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ThroughputResult {
    pub sent: u64,
    /// Echoes received within the measured time.
    pub echoed: u64,
    /// Echoes received in the drain after sending stopped too.
    pub echoed_total: u64,
    pub lost: u64,
    pub loss_ratio: f64,
    pub seconds: f64,
    pub echoed_per_sec: f64,
    /// Times no echo came for a while and the window was written off.
    pub stalls: u64,
}

/// What a throughput run counted, as `ThroughputResult` reports it.
pub struct ThroughputCounts {
    /// Datagrams sent in all, and before the measured window opened.
    pub sent: u64,
    pub sent_at_start: Option<u64>,
    /// Echoes received in all, when the window opened and when it closed.
    pub received: u64,
    pub received_at_start: u64,
    pub received_at_deadline: u64,
    pub measured_secs: f64,
    pub stalls: u64,
}

impl ThroughputResult {
    pub fn from_counts(c: ThroughputCounts) -> Self {
        let echoed = c.received_at_deadline - c.received_at_start;
        let lost = c.sent.saturating_sub(c.received);
        ThroughputResult {
            sent: c.sent - c.sent_at_start.unwrap_or(0),
            echoed,
            echoed_total: c.received,
            lost,
            loss_ratio: lost as f64 / c.sent.max(1) as f64,
            seconds: c.measured_secs,
            echoed_per_sec: if c.measured_secs > 0.0 {
                echoed as f64 / c.measured_secs
            } else {
                0.0
            },
            stalls: c.stalls,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ScrapeResult {
    pub scrapes: u64,
    pub failures: u64,
    pub bytes: u64,
    pub max_ms: f64,
}

pub fn bench_client(c: BenchClient) -> Result<()> {
    let json = match c {
        BenchClient::UdpLatency {
            target,
            seconds,
            count,
            size,
            warmup,
        } => serde_json::to_string(&udp_latency(target, seconds, count, size, warmup)?)?,
        BenchClient::UdpThroughput {
            target,
            seconds,
            count,
            size,
            window,
            batch,
            warmup,
        } => serde_json::to_string(&udp_throughput(
            target,
            Duration::from_secs_f64(seconds),
            count,
            size,
            window.max(1),
            batch.clamp(1, MAX_BATCH),
            Duration::from_secs_f64(warmup),
        )?)?,
        BenchClient::TcpRr {
            target,
            seconds,
            count,
            size,
            warmup,
        } => serde_json::to_string(&tcp_rr(target, seconds, count, size, warmup)?)?,
        BenchClient::XdpThroughput {
            target,
            iface,
            src,
            dst_mac,
            seconds,
            size,
            window,
            batch,
            warmup,
        } => serde_json::to_string(&super::xdpgen::xdp_throughput(&super::xdpgen::XdpLoad {
            iface,
            src,
            target,
            dst_mac,
            duration: Duration::from_secs_f64(seconds),
            size,
            window: window.max(1),
            batch,
            warmup: Duration::from_secs_f64(warmup),
        })?)?,
        BenchClient::TcpUpload {
            target,
            bytes,
            timeout,
        } => serde_json::to_string(&super::upload::tcp_upload(
            target,
            bytes,
            Duration::from_secs_f64(timeout),
        )?)?,
        BenchClient::XdpTx {
            dst,
            iface,
            src,
            dst_mac,
            seconds,
            size,
            batch,
        } => serde_json::to_string(&super::txgen::xdp_tx(&super::txgen::TxLoad {
            iface,
            src,
            dst,
            dst_mac,
            duration: Duration::from_secs_f64(seconds),
            size,
            batch,
        })?)?,
        BenchClient::Scrape { admin, seconds } => serde_json::to_string(&scrape(admin, seconds))?,
    };
    println!("{RESULT}{json}");
    Ok(())
}

fn check_size(size: usize) -> Result<()> {
    if !(HEADER..=1472).contains(&size) {
        bail!("--size must be {HEADER}..=1472 bytes");
    }
    Ok(())
}

pub(super) fn stamp(buf: &mut [u8], seq: u64) {
    buf[..4].copy_from_slice(&MAGIC.to_be_bytes());
    buf[4..12].copy_from_slice(&seq.to_be_bytes());
}

/// The sequence number of one of our datagrams, if it is one.
pub(super) fn seq_of(buf: &[u8]) -> Option<u64> {
    let magic = buf.get(..4)?;
    let seq = buf.get(4..12)?;
    (magic == MAGIC.to_be_bytes()).then(|| u64::from_be_bytes(seq.try_into().unwrap_or([0; 8])))
}

fn connected(target: SocketAddr) -> Result<UdpSocket> {
    let sock = UdpSocket::bind("0.0.0.0:0").context("binding a UDP socket")?;
    sock.connect(target)
        .with_context(|| format!("connecting to {target}"))?;
    Ok(sock)
}

fn udp_latency(
    target: SocketAddr,
    seconds: f64,
    count: u64,
    size: usize,
    warmup: u64,
) -> Result<LatencyResult> {
    check_size(size)?;
    let sock = connected(target)?;
    // A round trip slower than this counts as lost.
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut msg = vec![0u8; size];
    let mut buf = vec![0u8; 2048];
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let (mut lost, mut warmup_lost, mut seq) = (0u64, 0u64, 0u64);
    let mut started = Instant::now();
    // The warm-up ends after `warmup` round trips or WARMUP_LIMIT, whichever
    // comes first (a slow, loaded machine still gets measured).
    let mut deadline = started + WARMUP_LIMIT;
    let mut measuring = warmup == 0;
    if measuring {
        deadline = started + Duration::from_secs_f64(seconds);
    }
    loop {
        if !measuring && (seq >= warmup || Instant::now() >= deadline) {
            // The measured time starts with the next request.
            measuring = true;
            started = Instant::now();
            deadline = started + Duration::from_secs_f64(seconds);
        }
        if hist.len() >= count || Instant::now() >= deadline {
            break;
        }
        seq += 1;
        stamp(&mut msg, seq);
        let t0 = Instant::now();
        sock.send(&msg)?;
        let rtt = loop {
            match sock.recv(&mut buf) {
                Ok(n) if n == size && seq_of(&buf[..n]) == Some(seq) => break Some(t0.elapsed()),
                // A late echo of an earlier request: not ours.
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break None
                }
                Err(e) => return Err(e).context("recv"),
            }
        };
        match (measuring, rtt) {
            (false, Some(_)) => {}
            (false, None) => warmup_lost += 1,
            (true, Some(d)) => hist.record((d.as_nanos() as u64).max(1))?,
            (true, None) => lost += 1,
        }
        if warmup_lost > 100 || (lost > 1000 && hist.is_empty()) {
            bail!("no echo from {target}");
        }
    }
    if hist.is_empty() {
        bail!("no round trip to {target} completed");
    }
    Ok(latency_result(&hist, lost, started.elapsed().as_secs_f64()))
}

/// Percentiles and a CDF of a histogram of nanoseconds, in microseconds.
pub(super) fn latency_result(hist: &Histogram<u64>, lost: u64, seconds: f64) -> LatencyResult {
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1e3;
    LatencyResult {
        round_trips: hist.len(),
        lost,
        seconds,
        p50_us: us(0.5),
        p90_us: us(0.9),
        p99_us: us(0.99),
        p999_us: us(0.999),
        max_us: hist.max() as f64 / 1e3,
        mean_us: hist.mean() / 1e3,
        cdf: cdf(hist),
    }
}

/// At most this many CDF points per latency result.
const CDF_POINTS: usize = 400;

/// (percentile, µs) points of the histogram's CDF: HdrHistogram's quantile
/// iteration (denser toward the tail, where a CDF plot needs it), thinned to
/// at most [`CDF_POINTS`], always ending at the maximum.
pub(super) fn cdf(hist: &Histogram<u64>) -> Vec<(f64, f64)> {
    if hist.is_empty() {
        return Vec::new();
    }
    let mut pts: Vec<(f64, f64)> = hist
        .iter_quantiles(4)
        .map(|v| {
            (
                v.quantile_iterated_to() * 100.0,
                hist.highest_equivalent(v.value_iterated_to()) as f64 / 1e3,
            )
        })
        .collect();
    let step = pts.len().div_ceil(CDF_POINTS).max(1);
    let last = pts.last().copied();
    pts = pts.into_iter().step_by(step).collect();
    if let Some(l) = last {
        if pts.last() != Some(&l) {
            pts.push(l);
        }
    }
    pts
}

fn tcp_rr(
    target: SocketAddr,
    seconds: f64,
    count: u64,
    size: usize,
    warmup: u64,
) -> Result<LatencyResult> {
    if !(HEADER..=65536).contains(&size) {
        bail!("--size must be {HEADER}..=65536 bytes");
    }
    let mut s = TcpStream::connect_timeout(&target, Duration::from_secs(3))
        .with_context(|| format!("connecting to {target}"))?;
    s.set_nodelay(true)?;
    // TCP retransmits what is lost; a response this late means the server
    // is stuck, and the run fails rather than hang.
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut msg = vec![0u8; size];
    let mut buf = vec![0u8; size];
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let mut seq = 0u64;
    let mut started = Instant::now();
    let mut deadline = started + WARMUP_LIMIT;
    let mut measuring = warmup == 0;
    if measuring {
        deadline = started + Duration::from_secs_f64(seconds);
    }
    loop {
        if !measuring && (seq >= warmup || Instant::now() >= deadline) {
            measuring = true;
            started = Instant::now();
            deadline = started + Duration::from_secs_f64(seconds);
        }
        if hist.len() >= count || Instant::now() >= deadline {
            break;
        }
        seq += 1;
        stamp(&mut msg, seq);
        let t0 = Instant::now();
        s.write_all(&msg).context("write")?;
        s.read_exact(&mut buf)
            .with_context(|| format!("reading echo {seq} from {target}"))?;
        let rtt = t0.elapsed();
        if seq_of(&buf) != Some(seq) {
            bail!("echo {seq} from {target} came back changed");
        }
        if measuring {
            hist.record((rtt.as_nanos() as u64).max(1))?;
        }
    }
    if hist.is_empty() {
        bail!("no round trip to {target} completed");
    }
    Ok(latency_result(&hist, 0, started.elapsed().as_secs_f64()))
}

/// Counts echoes; all our datagrams have the same size, so an echo is a
/// datagram of that size with our magic.
struct Rx {
    headers: MultiHeaders<()>,
    bufs: Vec<[u8; 2048]>,
}

impl Rx {
    fn new(batch: usize) -> Rx {
        Rx {
            headers: MultiHeaders::preallocate(batch, None),
            bufs: vec![[0u8; 2048]; batch],
        }
    }

    /// Wait (up to the socket timeout) for echoes; return how many came.
    fn recv(&mut self, sock: &UdpSocket, size: usize) -> Result<u64> {
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> = self
            .bufs
            .iter_mut()
            .map(|b| [IoSliceMut::new(&mut b[..])])
            .collect();
        match socket::recvmmsg(
            sock.as_raw_fd(),
            &mut self.headers,
            iovs.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        ) {
            Ok(msgs) => Ok(msgs.filter(|m| m.bytes == size).count() as u64),
            Err(Errno::EAGAIN | Errno::EINTR) => Ok(0),
            // The kernel target's ICMP errors surface here; not an echo.
            Err(Errno::ECONNREFUSED) => Ok(0),
            Err(e) => Err(e).context("recvmmsg"),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn udp_throughput(
    target: SocketAddr,
    duration: Duration,
    count: u64,
    size: usize,
    window: u64,
    batch: usize,
    warmup: Duration,
) -> Result<ThroughputResult> {
    check_size(size)?;
    let sock = connected(target)?;
    raise_rcvbuf(&sock, 4 << 20);
    // How long without any echo before the datagrams in flight are written
    // off as lost and the window reopens.
    sock.set_read_timeout(Some(Duration::from_millis(5)))?;
    let fd = sock.as_raw_fd();
    let mut msgs = vec![vec![0u8; size]; batch];
    for (i, m) in msgs.iter_mut().enumerate() {
        stamp(m, i as u64);
    }
    let slices: Vec<[IoSlice<'_>; 1]> = msgs.iter().map(|m| [IoSlice::new(m)]).collect();
    let no_addrs: Vec<Option<()>> = vec![None; batch];
    let mut tx_headers = MultiHeaders::<()>::preallocate(batch, None);
    let mut rx = Rx::new(batch);

    let t0 = Instant::now();
    let measure_from = t0 + warmup;
    let deadline = measure_from + duration;
    let (mut sent, mut received, mut written_off, mut stalls) = (0u64, 0u64, 0u64, 0u64);
    let (mut sent_at_start, mut received_at_start) = (None, 0u64);
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
        let room = window
            .saturating_sub(in_flight)
            .min(count.saturating_sub(sent));
        if room >= batch as u64 || (room > 0 && in_flight == 0) {
            let k = (room as usize).min(batch);
            match socket::sendmmsg(
                fd,
                &mut tx_headers,
                slices[..k].iter(),
                &no_addrs[..k],
                [],
                MsgFlags::empty(),
            ) {
                Ok(r) => sent += r.count() as u64,
                // ENOBUFS, or an ICMP error of the kernel target: move on.
                Err(Errno::ENOBUFS | Errno::EAGAIN | Errno::EINTR | Errno::ECONNREFUSED) => {}
                Err(e) => return Err(e).context("sendmmsg"),
            }
            continue;
        }
        if sent >= count && in_flight == 0 {
            received_at_deadline = received;
            break;
        }
        let got = rx.recv(&sock, size)?;
        if got == 0 {
            stalls += 1;
            written_off = sent.saturating_sub(received);
        }
        // An echo of a written-off datagram was late, not lost: take it
        // off the write-off so the window stays at most `window`.
        written_off -= got.min(written_off);
        received += got;
    }
    let measured_secs = Instant::now()
        .min(deadline)
        .saturating_duration_since(measure_from)
        .as_secs_f64();
    // Drain: late echoes are not lost, just late.
    let mut quiet = 0;
    while quiet < 20 && received < sent {
        let got = rx.recv(&sock, size)?;
        received += got;
        quiet = if got == 0 { quiet + 1 } else { 0 };
    }
    if received == 0 {
        bail!("no echo from {target}");
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

fn scrape(admin: SocketAddr, seconds: f64) -> ScrapeResult {
    let mut r = ScrapeResult::default();
    let start = Instant::now();
    let mut next = start;
    while start.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        match get_metrics(admin) {
            Ok(n) => {
                r.scrapes += 1;
                r.bytes += n as u64;
                r.max_ms = r.max_ms.max(t.elapsed().as_secs_f64() * 1e3);
            }
            Err(_) => r.failures += 1,
        }
        next += Duration::from_secs(1);
        let left = next.saturating_duration_since(Instant::now());
        let end = start + Duration::from_secs_f64(seconds);
        std::thread::sleep(left.min(end.saturating_duration_since(Instant::now())));
    }
    r
}

fn get_metrics(admin: SocketAddr) -> Result<usize> {
    let mut s = TcpStream::connect_timeout(&admin, Duration::from_millis(500))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: xskd\r\nConnection: close\r\n\r\n")?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    if !body.starts_with(b"HTTP/1.1 200") {
        bail!("metrics endpoint did not answer 200");
    }
    Ok(body.len())
}
