//! `bench-client xdp-tx`: the AF_XDP transmit ceiling. A tight sender on
//! xskd's veth end (xskd stopped) pushes MTU-sized UDP frames into the
//! kernel peer for a fixed time and nothing else: no stack, no receive, no
//! acknowledgements. What the peer received of them (counted there, see
//! `txceiling`) over the sending time is the most any xskd service can
//! send through this datapath on this core.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use xskd_datapath::config::{UmemConfig, XdpMode, ZeroCopy};
use xskd_datapath::xsk::XskSocket;
use xskd_datapath::{iface, TxSink};

use super::xdpgen::{parse_mac, udp_frame};

/// The sender's UDP source port.
const SRC_PORT: u16 = 40_001;
/// Longest we wait, after the deadline, for the kernel to complete what
/// is on the tx ring.
const DRAIN: Duration = Duration::from_millis(200);

pub struct TxLoad {
    pub iface: String,
    pub src: Ipv4Addr,
    pub dst: SocketAddrV4,
    pub dst_mac: String,
    pub duration: Duration,
    /// UDP payload bytes; 1472 makes a 1514-byte frame (a 1500-byte MTU).
    pub size: usize,
    pub batch: usize,
}

/// What the sender did; delivery is counted at the receiver.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TxSent {
    /// Frames the tx ring took.
    pub frames: u64,
    /// Of those, frames the kernel completed (handed to the veth).
    pub completed: u64,
    pub frame_bytes: usize,
    /// From the first frame to the last completion (or the drain's end).
    pub seconds: f64,
    pub zero_copy: bool,
}

pub fn xdp_tx(l: &TxLoad) -> Result<TxSent> {
    if !(12..=1472).contains(&l.size) {
        bail!("--size must be 12..=1472 bytes");
    }
    let src_mac = iface::mac_address(&l.iface).context("reading our MAC")?;
    let dst_mac = parse_mac(&l.dst_mac)?;
    let frame = udp_frame(
        src_mac,
        dst_mac,
        SocketAddrV4::new(l.src, SRC_PORT),
        l.dst,
        l.size,
    );
    let umem = UmemConfig::default();
    // Transmit needs no XDP program: the socket alone sends.
    let mut sock = XskSocket::bind(&l.iface, 0, &umem, XdpMode::Native, ZeroCopy::Auto, true)
        .context("binding the sender's AF_XDP socket")?;
    let batch = l.batch.max(1);
    let t0 = Instant::now();
    let deadline = t0 + l.duration;
    let mut frames = 0u64;
    while Instant::now() < deadline {
        let mut tx = sock.tx();
        for _ in 0..batch {
            if tx
                .transmit(frame.len(), |out| out.copy_from_slice(&frame))
                .is_err()
            {
                break;
            }
            frames += 1;
        }
        sock.flush();
    }
    let drain_end = Instant::now() + DRAIN;
    while sock.frames_in_tx() > 0 && Instant::now() < drain_end {
        sock.flush();
    }
    let seconds = t0.elapsed().as_secs_f64();
    let completed = frames - sock.frames_in_tx() as u64;
    if completed == 0 {
        bail!(
            "the kernel completed none of {frames} frames on {}",
            l.iface
        );
    }
    Ok(TxSent {
        frames,
        completed,
        frame_bytes: frame.len(),
        seconds,
        zero_copy: sock.is_zero_copy(),
    })
}
