//! The `txceiling` part: how many 1514-byte frames a tight AF_XDP sender
//! on xskd's veth end, on xskd's core, gets into the kernel peer, so the
//! bulk GET has a physical reference. Delivery is counted where the peer's
//! IP layer sees the frames: an nftables counter in the peer namespace at
//! prerouting (raw priority) that counts and drops them, so what is
//! counted went through AF_XDP, the veth and the peer's receive path, and
//! no reply (ICMP port unreachable) comes back to disturb the sender.

use std::net::SocketAddrV4;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use xskd_lab::{Lab, PEER_IP, XSKD_IP};

use super::report::{median, Row};
use super::servers::Subject;
use super::txgen::TxSent;
use super::{cpu, http, result_line, Bench, Load, Sample};

const TABLE: &str = "xskd_bench_tx";
const COUNTER: &str = "delivered";
/// The sink's port (discard, RFC 863): nothing listens, the rule drops.
const SINK_PORT: u16 = 9;
/// 1472 payload + 8 + 20 + 14 = 1514: a full frame at a 1500-byte MTU.
const PAYLOAD: usize = 1472;

pub const SECTION: &str =
    "AF_XDP transmit ceiling (1514-byte frames from xskd's veth end on the server core, into the kernel peer)";
const GBIT: &str = "AF_XDP TX ceiling, MTU frames (Gbit/s)";
const FPS: &str = "AF_XDP TX ceiling, MTU frames (frames/s)";
const UNDELIVERED: &str = "AF_XDP TX frames completed but not counted by the peer (%)";
const RATIO: &str = "bulk GET / TX ceiling";

/// One measurement of the ceiling.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TxResult {
    pub sent: TxSent,
    /// Frames (and their IP bytes) the peer's counter saw.
    pub delivered: u64,
    pub delivered_ip_bytes: u64,
    /// The peer veth's rx_dropped over the measurement.
    pub peer_rx_dropped: u64,
    pub frames_per_sec: f64,
    /// Ethernet frame bytes (no FCS, preamble or gap) per second.
    pub gbit_per_s: f64,
}

/// The counting rule in the peer namespace (gone with the namespace).
pub fn install_counter(lab: &Lab) -> Result<()> {
    let rules = format!(
        "table inet {TABLE} {{\n\
         counter {COUNTER} {{ }}\n\
         chain pre {{\n\
         type filter hook prerouting priority raw; policy accept;\n\
         ip daddr {PEER_IP} udp dport {SINK_PORT} counter name {COUNTER} drop\n\
         }}\n\
         }}\n"
    );
    let path = lab.dir().join("txceiling.nft");
    std::fs::write(&path, rules)?;
    let out = lab.peer_cmd("nft").arg("-f").arg(&path).output()?;
    if !out.status.success() {
        bail!(
            "installing the txceiling counter (nftables, apt-get install nftables): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// (packets, bytes) of the counter, from `nft -j`.
fn read_counter(lab: &Lab) -> Result<(u64, u64)> {
    let out = lab
        .peer_cmd("nft")
        .args(["-j", "list", "counter", "inet", TABLE, COUNTER])
        .output()?;
    if !out.status.success() {
        bail!(
            "reading the txceiling counter: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse_counter(&String::from_utf8_lossy(&out.stdout))
}

/// (packets, bytes) from `nft -j list counter`'s JSON.
pub fn parse_counter(json: &str) -> Result<(u64, u64)> {
    let v: serde_json::Value = serde_json::from_str(json).context("nft -j output")?;
    let c = v["nftables"]
        .as_array()
        .and_then(|a| a.iter().find_map(|o| o.get("counter")))
        .context("no counter in nft's output")?;
    match (c["packets"].as_u64(), c["bytes"].as_u64()) {
        (Some(p), Some(b)) => Ok((p, b)),
        _ => bail!("counter without packets/bytes: {c}"),
    }
}

fn peer_stat(lab: &Lab, name: &str) -> Result<u64> {
    let out = lab
        .peer_cmd("cat")
        .arg(format!("/sys/class/net/{}/statistics/{name}", lab.if_peer))
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .with_context(|| format!("reading {name} of {}", lab.if_peer))
}

fn peer_mac(lab: &Lab) -> Result<String> {
    let out = lab
        .peer_cmd("cat")
        .arg(format!("/sys/class/net/{}/address", lab.if_peer))
        .output()?;
    let mac = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if mac.len() != 17 {
        bail!("could not read the MAC of {}", lab.if_peer);
    }
    Ok(mac)
}

impl Bench<'_> {
    /// One measurement of the ceiling; a failure costs its cell.
    pub(super) fn tx_ceiling(&mut self, round: u32) {
        match self.measure_tx(round) {
            Ok(s) => {
                if let Some(t) = &s.tx {
                    eprintln!(
                        "  round {round} {:>13} {:.2} Gbit/s, {:.0} frames/s delivered ({} of {} sent){}",
                        Subject::AfXdpTx.name(),
                        t.gbit_per_s,
                        t.frames_per_sec,
                        t.delivered,
                        t.sent.frames,
                        if t.sent.zero_copy { ", zero-copy" } else { ", copy mode" }
                    );
                }
                self.samples.push(s);
            }
            Err(e) => self.failed(format!("round {round}: AF_XDP TX ceiling: {e:#}")),
        }
    }

    fn measure_tx(&self, round: u32) -> Result<Sample> {
        let a = self.args;
        let lab = &self.lab;
        let dst = SocketAddrV4::new(PEER_IP, SINK_PORT);
        // On the server core, as xskd's worker would be: the peer's receive
        // runs in softirq there too (veth hands frames over on the sender's
        // CPU), as it does for the bulk GET.
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &lab.ns_xskd, "taskset", "-c"])
            .arg(a.server_core.to_string())
            .arg(&self.exe)
            .args(["client", "xdp-tx", &dst.to_string()])
            .args(["--iface", &lab.if_xskd, "--src", &XSKD_IP.to_string()])
            .args([
                "--dst-mac",
                &peer_mac(lab)?,
                "--seconds",
                &a.seconds.to_string(),
            ])
            .args(["--size", &PAYLOAD.to_string()]);
        let (p0, b0) = read_counter(lab)?;
        let drop0 = peer_stat(lab, "rx_dropped")?;
        let core0 = cpu::core_busy_seconds(a.server_core)?;
        let t0 = std::time::Instant::now();
        let limit = Duration::from_secs_f64(a.seconds + 20.0);
        let out = http::run_bounded(&mut cmd, limit)?;
        let wall_s = t0.elapsed().as_secs_f64();
        let server_core_busy_s = cpu::core_busy_seconds(a.server_core)? - core0;
        let sent: TxSent = result_line(&out)?;
        let (p1, b1) = read_counter(lab)?;
        let drop1 = peer_stat(lab, "rx_dropped")?;
        let delivered = p1.saturating_sub(p0);
        if delivered == 0 {
            bail!(
                "the peer counted none of {} frames sent ({} completed)",
                sent.frames,
                sent.completed
            );
        }
        let frames_per_sec = delivered as f64 / sent.seconds;
        let tx = TxResult {
            gbit_per_s: frames_per_sec * sent.frame_bytes as f64 * 8.0 / 1e9,
            frames_per_sec,
            delivered,
            delivered_ip_bytes: b1.saturating_sub(b0),
            peer_rx_dropped: drop1.saturating_sub(drop0),
            sent,
        };
        Ok(Sample {
            round,
            subject: Subject::AfXdpTx,
            load: Load::TxMtu,
            latency: None,
            throughput: None,
            http: None,
            bulk: None,
            handshakes: None,
            tx: Some(tx),
            worker: None,
            ops: delivered,
            // The sender's process time is not read (it has exited by
            // the time its result is in); the core's is.
            server_cpu_s: 0.0,
            server_core_busy_s,
            wall_s,
            scrape: None,
        })
    }
}

fn tx_values(samples: &[Sample], read: fn(&TxResult) -> f64) -> Vec<f64> {
    samples
        .iter()
        .filter_map(|s| s.tx.as_ref())
        .map(read)
        .collect()
}

fn bulk_gbit(samples: &[Sample], subject: Subject) -> Vec<f64> {
    samples
        .iter()
        .filter(|s| s.subject == subject)
        .filter_map(|s| s.bulk.as_ref())
        .map(|b| b.gbit_per_s)
        .collect()
}

fn spread(v: &[f64]) -> Option<(f64, f64)> {
    let min = v.iter().copied().reduce(f64::min)?;
    let max = v.iter().copied().reduce(f64::max)?;
    Some((min, max))
}

/// The part's rows: the ceiling (Gbit/s, frames/s, frames lost on the
/// way) in the peer column, and the bulk GETs (xskd's and nginx's with
/// offloads off) as fractions of it.
pub fn rows(samples: &[Sample]) -> Vec<Row> {
    let subjects = [Subject::Xskd, Subject::Nginx];
    let peer = Subject::AfXdpTx;
    let gbit = tx_values(samples, |t| t.gbit_per_s);
    let row = |metric: &str, values: Vec<(Subject, Vec<f64>)>, peer_v: Vec<f64>, digits| {
        let peer_value = median(peer_v.clone());
        let medians: Vec<(Subject, Option<f64>)> = values
            .iter()
            .map(|(s, v)| (*s, median(v.clone())))
            .collect();
        let ratios = medians
            .iter()
            .map(|&(s, v)| {
                (
                    s,
                    v.zip(peer_value)
                        .filter(|(_, p)| *p > 0.0)
                        .map(|(v, p)| v / p),
                )
            })
            .collect();
        let mut spread_v: Vec<_> = values.iter().map(|(s, v)| (*s, spread(v))).collect();
        spread_v.push((peer, spread(&peer_v)));
        Row {
            section: SECTION.into(),
            metric: metric.into(),
            met: subjects.iter().map(|&s| (s, None)).collect(),
            values: medians,
            peer,
            peer_value,
            spread: spread_v,
            ratios,
            goal: None,
            digits,
        }
    };
    let none = || subjects.iter().map(|&s| (s, Vec::new())).collect();
    vec![
        row(GBIT, none(), gbit.clone(), 2),
        row(FPS, none(), tx_values(samples, |t| t.frames_per_sec), 0),
        row(
            UNDELIVERED,
            none(),
            tx_values(samples, |t| {
                let c = t.sent.completed.max(1) as f64;
                (c - t.delivered as f64).max(0.0) / c * 100.0
            }),
            3,
        ),
        row(
            RATIO,
            subjects
                .iter()
                .map(|&s| (s, bulk_gbit(samples, s)))
                .collect(),
            gbit,
            2,
        ),
    ]
}

/// What the part measured, under the table.
pub const NOTE: &str = "- AF_XDP TX ceiling: xskd stopped, `xskd-bench client xdp-tx` binds an \
AF_XDP socket on xskd's veth end (queue 0, the same UMEM setup as xskd; veth has no zero-copy, \
so copy mode), pinned to the server core, and sends 1514-byte UDP frames (1472-byte payload) to \
198.18.0.2:9 as fast as the tx ring takes them, for `--seconds`; nothing is received. Delivery \
is an nftables counter in the peer namespace (prerouting, raw priority) that counts and drops \
them: a frame counts once it went through AF_XDP, the veth and the peer's receive path up to \
its IP layer. Gbit/s counts Ethernet frame bytes (no FCS, preamble, gap). The peer's receive \
runs in softirq on the sender's core (veth), as it does for the bulk GET. `bulk GET / TX \
ceiling` is each server's bulk GET (Gbit/s of HTTP body, offloads off) over the ceiling: a TCP \
flow in such frames carries at most 1448 of 1514 bytes as payload (0.96x), before any ACK \
traffic.\n";
