//! Probes: small kernel-socket clients that check xskd from the peer side.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Subcommand;

#[derive(Subcommand)]
#[allow(clippy::enum_variant_names)] // the protocol prefix is the point of the name
pub enum Probe {
    /// Send one datagram of each size and require a byte-exact echo.
    UdpEcho {
        target: SocketAddr,
        /// Smallest payload size.
        #[arg(long, default_value_t = 1)]
        min: usize,
        /// Largest payload size.
        #[arg(long, default_value_t = 1472)]
        max: usize,
        /// Size step.
        #[arg(long, default_value_t = 1)]
        step: usize,
        /// Retries per size before giving up (UDP may be lost).
        #[arg(long, default_value_t = 3)]
        retries: u32,
    },
    /// Send to a closed UDP port and require the kernel to report the ICMP
    /// port unreachable (ECONNREFUSED on a connected socket).
    UdpClosed { target: SocketAddr },
    /// Many UDP flows (distinct source ports) echoing at once; prints how
    /// many flows got answers.
    UdpFlows {
        target: SocketAddr,
        #[arg(long, default_value_t = 32)]
        flows: u16,
    },
    /// Stream `bytes` through a TCP echo server while reading the echo,
    /// half-close, read to EOF, and require every byte back in order.
    TcpEcho {
        target: SocketAddr,
        #[arg(long, default_value_t = 1_000_000)]
        bytes: usize,
        /// Open this many connections one after another.
        #[arg(long, default_value_t = 1)]
        connections: usize,
        /// Do not read for this long at first: the client's receive window
        /// fills and closes, so the server must probe a zero window.
        #[arg(long, default_value_t = 0)]
        stall_read_ms: u64,
    },
    /// Push `count` datagrams through the echo with a bounded window of
    /// outstanding ones; prints how many came back.
    UdpBlast {
        target: SocketAddr,
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Datagrams in flight at most.
        #[arg(long, default_value_t = 32)]
        window: u64,
        /// Fraction of datagrams that must come back.
        #[arg(long, default_value_t = 0.99)]
        min_ratio: f64,
    },
}

pub fn probe(p: Probe) -> Result<()> {
    match p {
        Probe::UdpEcho {
            target,
            min,
            max,
            step,
            retries,
        } => udp_echo(target, min, max, step.max(1), retries),
        Probe::UdpClosed { target } => udp_closed(target),
        Probe::UdpFlows { target, flows } => udp_flows(target, flows),
        Probe::TcpEcho {
            target,
            bytes,
            connections,
            stall_read_ms,
        } => {
            for i in 0..connections {
                tcp_echo(target, bytes, i, Duration::from_millis(stall_read_ms))?;
            }
            println!("tcp-echo {target}: {connections} connection(s) x {bytes} bytes echoed byte-exact, closed cleanly");
            Ok(())
        }
        Probe::UdpBlast {
            target,
            count,
            size,
            window,
            min_ratio,
        } => udp_blast(target, count, size, window.max(1), min_ratio),
    }
}

fn pattern(size: usize, salt: usize) -> Vec<u8> {
    (0..size)
        .map(|i| ((i * 31 + salt * 7) % 251) as u8)
        .collect()
}

fn udp_echo(target: SocketAddr, min: usize, max: usize, step: usize, retries: u32) -> Result<()> {
    let sock = UdpSocket::bind("0.0.0.0:0").context("binding a UDP socket")?;
    sock.connect(target)?;
    sock.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut buf = vec![0u8; 65536];
    let mut count = 0;
    let started = Instant::now();
    for size in (min..=max).step_by(step) {
        let msg = pattern(size, count);
        let mut ok = false;
        for _ in 0..=retries {
            sock.send(&msg)?;
            match sock.recv(&mut buf) {
                Ok(n) if buf[..n] == msg[..] => {
                    ok = true;
                    break;
                }
                Ok(n) => bail!("size {size}: echo differs ({n} bytes back)"),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => bail!("size {size}: {e}"),
            }
        }
        if !ok {
            bail!("size {size}: no echo after {} tries", retries + 1);
        }
        count += 1;
    }
    println!(
        "udp-echo {target}: {count} sizes {min}..={max} echoed byte-exact in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

fn udp_closed(target: SocketAddr) -> Result<()> {
    let sock = UdpSocket::bind("0.0.0.0:0")?;
    sock.connect(target)?;
    sock.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut buf = [0u8; 64];
    for _ in 0..5 {
        sock.send(b"anyone there?")?;
        match sock.recv(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                println!(
                    "udp-closed {target}: ICMP port unreachable received (connection refused)"
                );
                return Ok(());
            }
            Ok(n) => bail!("{target} answered {n} bytes; expected port unreachable"),
            Err(_) => {}
        }
    }
    bail!("no ICMP port unreachable from {target}")
}

fn udp_flows(target: SocketAddr, flows: u16) -> Result<()> {
    let mut socks = Vec::new();
    for _ in 0..flows {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.connect(target)?;
        s.set_read_timeout(Some(Duration::from_millis(300)))?;
        socks.push(s);
    }
    let mut answered = 0;
    let mut buf = [0u8; 64];
    for (i, s) in socks.iter().enumerate() {
        let msg = format!("flow {i}");
        for _ in 0..3 {
            s.send(msg.as_bytes())?;
            if let Ok(n) = s.recv(&mut buf) {
                if &buf[..n] == msg.as_bytes() {
                    answered += 1;
                    break;
                }
            }
        }
    }
    println!("udp-flows {target}: {answered}/{flows} flows answered");
    if answered != flows as usize {
        bail!("{} flows got no echo", flows as usize - answered);
    }
    Ok(())
}

fn udp_blast(
    target: SocketAddr,
    count: u64,
    size: usize,
    window: u64,
    min_ratio: f64,
) -> Result<()> {
    let sock = UdpSocket::bind("0.0.0.0:0")?;
    sock.connect(target)?;
    sock.set_read_timeout(Some(Duration::from_millis(20)))?;
    let msg = pattern(size, 1);
    let mut buf = vec![0u8; 65536];
    let (mut sent, mut echoed, mut bad) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    // Bounded in time as well as count.
    let deadline = started + Duration::from_secs(60);
    let mut idle = 0;
    while echoed + bad < count && Instant::now() < deadline {
        while sent < count && sent.saturating_sub(echoed + bad) < window {
            sock.send(&msg)?;
            sent += 1;
        }
        match sock.recv(&mut buf) {
            Ok(n) if buf[..n] == msg[..] => {
                echoed += 1;
                idle = 0;
            }
            Ok(_) => bad += 1,
            Err(_) => {
                // Lost datagrams: reopen the window so the run moves on.
                idle += 1;
                if sent == count && idle > 10 {
                    break;
                }
                // A written-off datagram may still arrive late: the books then
                // over-count, so never subtract below zero.
                bad += sent.saturating_sub(echoed + bad);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "udp-blast {target}: sent {sent}, echoed {echoed} ({:.0}/s), lost or bad {bad}",
        echoed as f64 / secs
    );
    if (echoed as f64) < (count as f64) * min_ratio {
        bail!("only {echoed} of {count} datagrams echoed");
    }
    Ok(())
}

fn tcp_echo(target: SocketAddr, bytes: usize, salt: usize, stall: Duration) -> Result<()> {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpStream};
    let data = pattern(bytes, salt);
    let mut s = TcpStream::connect_timeout(&target, Duration::from_secs(5))
        .with_context(|| format!("connecting to {target}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10) + stall))?;
    s.set_write_timeout(Some(Duration::from_secs(10) + stall))?;
    let reader = s.try_clone()?;
    // Read on another thread so a full window never deadlocks the writer.
    let rx = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
        let mut r = reader;
        std::thread::sleep(stall);
        let mut got = Vec::new();
        r.read_to_end(&mut got)?;
        Ok(got)
    });
    s.write_all(&data).context("sending")?;
    // Half-close: the server may still send (RFC 9293 3.6).
    s.shutdown(Shutdown::Write)?;
    let got = rx
        .join()
        .map_err(|_| anyhow::anyhow!("reader panicked"))?
        .context("reading the echo")?;
    if got.len() != data.len() {
        bail!("echo returned {} of {} bytes", got.len(), data.len());
    }
    if let Some(i) = got.iter().zip(&data).position(|(a, b)| a != b) {
        bail!("echo differs at byte {i}");
    }
    Ok(())
}
