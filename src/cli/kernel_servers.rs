//! Kernel-stack servers: the baselines `xskd bench` measures xskd against.
//! They do the same work as xskd's services, written the way a careful
//! kernel-socket server would be (batched system calls, one socket, one
//! thread), so a ratio says something about the stack and not about a
//! naive baseline.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
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
        } => udp_echo(bind, batch.clamp(1, MAX_BATCH), rcvbuf, &stop),
    }
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

fn udp_echo(bind: SocketAddr, batch: usize, rcvbuf: usize, stop: &AtomicBool) -> Result<()> {
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
    println!("{REPORT}{}", serde_json::to_string(&stats)?);
    Ok(())
}
