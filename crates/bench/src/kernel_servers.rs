//! Kernel-stack servers: the baselines `xskd-bench` measures xskd against.
//! They do the same work as xskd's services, written the way a careful
//! kernel-socket server would be (batched system calls, one socket, one
//! thread), so a ratio says something about the stack and not about a
//! naive baseline.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Subcommand;
use nix::errno::Errno;
use nix::sys::socket::{self, sockopt, MsgFlags, MultiHeaders, SockaddrIn};
use std::io::{IoSlice, IoSliceMut};

/// The line a server prints once it is bound and serving.
pub const READY: &str = "kernel-server: ready";
/// The prefix of the JSON line a server prints when it stops.
pub const REPORT: &str = "kernel-server-report ";

/// Largest batch a server takes per system call.
pub const MAX_BATCH: usize = 256;
/// Largest datagram echoed whole (a 1500-byte MTU's UDP payload fits).
const BUF: usize = 2048;

#[derive(Subcommand)]
pub enum KernelServer {
    /// UDP echo (RFC 862) on a kernel socket with recvmmsg/sendmmsg.
    UdpEcho {
        /// Address to bind, e.g. 198.18.0.3:7.
        #[arg(long)]
        bind: SocketAddr,
        /// Datagrams per recvmmsg/sendmmsg call.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Socket receive buffer in bytes (forced past rmem_max when root).
        #[arg(long, default_value_t = 4 << 20)]
        rcvbuf: usize,
        /// Serve TCP echo on the same address too (another thread, one
        /// more thread per connection, TCP_NODELAY).
        #[arg(long)]
        tcp: bool,
    },
    /// TCP discard (RFC 863): read and throw away until the client's FIN,
    /// then close; a blocking thread per connection. The baseline of the
    /// `loss` part's upload.
    TcpDiscard {
        /// Address to bind, e.g. 198.18.0.3:9.
        #[arg(long)]
        bind: SocketAddr,
    },
}

pub fn kernel_server(s: KernelServer) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    match s {
        KernelServer::UdpEcho {
            bind,
            batch,
            rcvbuf,
            tcp,
        } => {
            let tcp = if tcp {
                let listener =
                    TcpListener::bind(bind).with_context(|| format!("binding TCP {bind}"))?;
                let stop = stop.clone();
                Some(std::thread::spawn(move || tcp_echo(listener, &stop)))
            } else {
                None
            };
            let udp = udp_echo(bind, batch.clamp(1, MAX_BATCH), rcvbuf, &stop);
            stop.store(true, Ordering::Relaxed);
            let tcp = match tcp {
                Some(t) => Some(
                    t.join()
                        .map_err(|_| anyhow::anyhow!("TCP echo panicked"))??,
                ),
                None => None,
            };
            let mut report = serde_json::to_value(udp?)?;
            if let Some(tcp) = tcp {
                report["tcp"] = serde_json::to_value(tcp)?;
            }
            println!("{REPORT}{report}");
            Ok(())
        }
        KernelServer::TcpDiscard { bind } => {
            let listener =
                TcpListener::bind(bind).with_context(|| format!("binding TCP {bind}"))?;
            println!("{READY} tcp-discard on {bind}");
            let stats = tcp_serve(listener, &stop, discard_conn)?;
            println!("{REPORT}{}", serde_json::to_value(stats)?);
            Ok(())
        }
    }
}

/// Most TCP echo connections served at once; more are closed at accept.
const MAX_TCP_CONNS: u64 = 64;

#[derive(Default, serde::Serialize)]
struct TcpEchoStats {
    accepted: u64,
    refused: u64,
    bytes: u64,
}

/// TCP echo (RFC 862): the accepting thread plus one blocking thread per
/// connection. For one connection with one message outstanding this is the
/// kernel's shortest path (a read and a write per message, no poll).
fn tcp_echo(listener: TcpListener, stop: &Arc<AtomicBool>) -> Result<TcpEchoStats> {
    tcp_serve(listener, stop, echo_conn)
}

/// What a connection handler is: the stream, the stop flag, bytes served.
type ConnHandler = fn(TcpStream, &AtomicBool, &AtomicU64) -> std::io::Result<()>;

/// Accept until `stop`, one thread per connection running `handler`.
fn tcp_serve(
    listener: TcpListener,
    stop: &Arc<AtomicBool>,
    handler: ConnHandler,
) -> Result<TcpEchoStats> {
    listener.set_nonblocking(true)?;
    let live = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let mut stats = TcpEchoStats::default();
    let mut conns = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let (stream, _) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(e) => return Err(e).context("accept"),
        };
        if live.load(Ordering::Relaxed) >= MAX_TCP_CONNS {
            stats.refused += 1;
            continue;
        }
        stats.accepted += 1;
        live.fetch_add(1, Ordering::Relaxed);
        let (stop, live, bytes) = (stop.clone(), live.clone(), bytes.clone());
        conns.push(std::thread::spawn(move || {
            let _ = handler(stream, &stop, &bytes);
            live.fetch_sub(1, Ordering::Relaxed);
        }));
        conns.retain(|c| !c.is_finished());
    }
    for c in conns {
        let _ = c.join();
    }
    stats.bytes = bytes.load(Ordering::Relaxed);
    Ok(stats)
}

fn echo_conn(mut s: TcpStream, stop: &AtomicBool, bytes: &AtomicU64) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_nodelay(true)?;
    // Bounds the wait so the thread sees the stop flag.
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                s.write_all(&buf[..n])?;
                bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn discard_conn(mut s: TcpStream, stop: &AtomicBool, bytes: &AtomicU64) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut buf) {
            // The client's FIN: everything arrived; dropping `s` closes.
            Ok(0) => return Ok(()),
            Ok(n) => {
                bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Ask for a big receive buffer: as root past `net.core.rmem_max`, else
/// up to it. A benchmark baseline should not lose datagrams to a default
/// the operator would raise.
pub fn raise_rcvbuf(sock: &UdpSocket, bytes: usize) {
    if socket::setsockopt(sock, sockopt::RcvBufForce, &bytes).is_err() {
        let _ = socket::setsockopt(sock, sockopt::RcvBuf, &bytes);
    }
}

#[derive(Default, serde::Serialize)]
struct EchoStats {
    received: u64,
    echoed: u64,
    send_errors: u64,
    batches: u64,
}

fn udp_echo(bind: SocketAddr, batch: usize, rcvbuf: usize, stop: &AtomicBool) -> Result<EchoStats> {
    let sock = UdpSocket::bind(bind).with_context(|| format!("binding {bind}"))?;
    raise_rcvbuf(&sock, rcvbuf);
    // recvmmsg's own timeout is unreliable (see recvmmsg(2) BUGS); the
    // socket timeout bounds the wait for the first datagram of a batch so
    // the loop sees the stop flag.
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let fd = sock.as_raw_fd();
    println!("{READY} udp-echo on {bind}, batch {batch}");
    let mut bufs = vec![[0u8; BUF]; batch];
    let mut rx_headers = MultiHeaders::<SockaddrIn>::preallocate(batch, None);
    let mut tx_headers = MultiHeaders::<SockaddrIn>::preallocate(batch, None);
    let mut lens = vec![0usize; batch];
    let mut addrs: Vec<Option<SockaddrIn>> = vec![None; batch];
    let mut stats = EchoStats::default();
    while !stop.load(Ordering::Relaxed) {
        let n = {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs
                .iter_mut()
                .map(|b| [IoSliceMut::new(&mut b[..])])
                .collect();
            // MSG_WAITFORONE: block for the first datagram, then take what
            // is queued without waiting.
            match socket::recvmmsg(
                fd,
                &mut rx_headers,
                iovs.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(msgs) => {
                    let mut n = 0;
                    for (i, m) in msgs.enumerate() {
                        lens[i] = m.bytes.min(BUF);
                        addrs[i] = m.address;
                        n = i + 1;
                    }
                    n
                }
                Err(Errno::EAGAIN | Errno::EINTR) => 0,
                Err(e) => return Err(e).context("recvmmsg"),
            }
        };
        if n == 0 {
            continue;
        }
        stats.received += n as u64;
        stats.batches += 1;
        let slices: Vec<[IoSlice<'_>; 1]> = bufs[..n]
            .iter()
            .zip(&lens[..n])
            .map(|(b, &l)| [IoSlice::new(&b[..l])])
            .collect();
        let (mut done, mut failed) = (0, 0);
        while done < n {
            match socket::sendmmsg(
                fd,
                &mut tx_headers,
                slices[done..n].iter(),
                &addrs[done..n],
                [],
                MsgFlags::empty(),
            ) {
                Ok(r) => {
                    let sent = r.count();
                    if sent == 0 {
                        break;
                    }
                    done += sent;
                }
                Err(Errno::EINTR) => {}
                Err(_) => {
                    // Skip the datagram the kernel refused; UDP is lossy.
                    failed += 1;
                    done += 1;
                }
            }
        }
        stats.send_errors += failed as u64;
        stats.echoed += done.saturating_sub(failed) as u64;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_echo_two_connections_echo_and_stop_flag_ends_the_server() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let server = {
            let stop = stop.clone();
            std::thread::spawn(move || tcp_echo(listener, &stop))
        };
        let mut total = 0;
        for msg in [&b"hello"[..], &[7u8; 3000][..]] {
            let mut c = TcpStream::connect(addr).expect("connect");
            c.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            c.write_all(msg).expect("write");
            let mut back = vec![0u8; msg.len()];
            c.read_exact(&mut back).expect("echo");
            assert_eq!(back, msg);
            total += msg.len() as u64;
        }
        stop.store(true, Ordering::Relaxed);
        let stats = server.join().expect("no panic").expect("no error");
        assert_eq!(stats.accepted, 2);
        assert_eq!(stats.bytes, total);
    }
    #[test]
    fn tcp_discard_reads_to_the_fin_then_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let server = {
            let stop = stop.clone();
            std::thread::spawn(move || tcp_serve(listener, &stop, discard_conn))
        };
        let mut c = TcpStream::connect(addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        c.write_all(&[9u8; 300_000]).expect("write");
        c.shutdown(std::net::Shutdown::Write).expect("FIN");
        let mut rest = Vec::new();
        assert_eq!(c.read_to_end(&mut rest).expect("EOF, not a reset"), 0);
        stop.store(true, Ordering::Relaxed);
        let stats = server.join().expect("no panic").expect("no error");
        assert_eq!((stats.accepted, stats.bytes), (1, 300_000));
    }
}
