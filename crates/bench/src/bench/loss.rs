//! The `loss` part (issue 16): xskd and the Linux kernel through the same
//! random loss. A bridge in the peer namespace carries the client's
//! address and nftables drops TCP frames on it at random, both ways
//! (`loss_net`); each server in turn sends a download (an HTTP GET: xskd's
//! store vs nginx) and takes an upload (to discard: xskd's service vs
//! `xskd-bench kernel-server tcp-discard`) at each loss level, for
//! `--rounds` rounds. Every transfer is bounded by `--loss-timeout`; a
//! timeout is a result. Per transfer it keeps the goodput, the bridge's
//! counters (the drop rate that really happened) and both ends' TCP
//! counters: xskd's exit report (xskd is started afresh for each
//! transfer, so the report covers exactly one) or the kernel's `nstat`
//! counters in the server's namespace, and the kernel client's in the
//! peer namespace.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use xskd_lab::{Lab, XSKD_IP, XSKD_SIDE_KERNEL_IP};

use super::http::{parse_curl, run_bounded};
use super::loss_net::{self, NftCounts};
use super::loss_report;
use super::plan::{BULK_OBJECT, SMALL_BYTES, SMALL_OBJECT};
use super::prep::{object_bytes, offloads};
use super::report::{self, RunInfo};
use super::servers::{KernelProcess, Running, Setup, Subject, HTTP_PORT};
use super::upload::UploadResult;
use super::{result_line, BenchArgs};

/// RFC 863's port, where both discard servers listen.
pub const DISCARD_PORT: u16 = 9;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Server {
    Xskd,
    /// nginx for downloads, the kernel discard server for uploads.
    Linux,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Xskd => "xskd",
            Server::Linux => "linux",
        }
    }

    fn ip(self) -> std::net::Ipv4Addr {
        match self {
            Server::Xskd => XSKD_IP,
            Server::Linux => XSKD_SIDE_KERNEL_IP,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The server sends (an HTTP GET).
    Download,
    /// The client sends (to discard).
    Upload,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Download => "download",
            Direction::Upload => "upload",
        }
    }
}

/// One transfer.
#[derive(Clone, Debug, Serialize)]
pub struct LossSample {
    pub round: u32,
    pub server: Server,
    pub direction: Direction,
    /// The drop probability each way, per thousand frames.
    pub loss_permille: u32,
    /// Bytes that arrived (all of them when `completed`).
    pub bytes: u64,
    pub seconds: f64,
    pub mbit_per_s: f64,
    pub completed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// TCP frames the bridge saw and dropped, each way.
    pub nft: NftCounts,
    /// The server's TCP counters over the transfer: xskd's report
    /// (`retrans_segs`, `rto_expirations`, ...) or the kernel's (`nstat`
    /// names) in the server's namespace.
    pub server_tcp: BTreeMap<String, u64>,
    /// The kernel client's counters (`nstat` names) over the transfer.
    pub client_tcp: BTreeMap<String, u64>,
}

/// xskd's counters kept per transfer (queues summed): its TCP's
/// retransmission and timeout counters and its transmit drops.
const XSKD_KEYS: [(&str, &str); 17] = [
    ("out_segs", "/stack/tcp/out_segs"),
    ("retrans_segs", "/stack/tcp/retrans_segs"),
    ("rto_expirations", "/stack/tcp/rto_expirations"),
    ("rto_in_recovery", "/stack/tcp/rto_in_recovery"),
    ("rto_after_tlp", "/stack/tcp/rto_after_tlp"),
    ("fast_retransmits", "/stack/tcp/fast_retransmits"),
    ("sack_retransmits", "/stack/tcp/sack_retransmits"),
    ("lost_retransmits", "/stack/tcp/lost_retransmits"),
    ("rescue_retransmits", "/stack/tcp/rescue_retransmits"),
    ("tlp_probes", "/stack/tcp/tlp_probes"),
    ("recovery_probes", "/stack/tcp/recovery_probes"),
    ("recv_buffer_grows", "/stack/tcp/recv_buffer_grows"),
    ("send_buffer_grows", "/stack/tcp/send_buffer_grows"),
    ("buffer_growth_refused", "/stack/tcp/buffer_growth_refused"),
    ("output_link_full", "/stack/tcp/output_link_full"),
    ("drops_tx_ring_full", "/stack/drops/tx_ring_full"),
    ("drops_tx_no_frame", "/stack/drops/tx_no_frame"),
];

/// Loss levels in percent as per-mille integers, checked.
pub fn permille_levels(levels: &[f64]) -> Result<Vec<u32>> {
    if levels.is_empty() {
        bail!("--loss-levels: give at least one level (percent each way)");
    }
    levels
        .iter()
        .map(|&p| {
            if !(0.0..=50.0).contains(&p) {
                bail!("--loss-levels {p}: must be between 0 and 50 (percent each way)");
            }
            let pm = (p * 10.0).round();
            if (pm - p * 10.0).abs() > 1e-6 {
                bail!("--loss-levels {p}: nftables draws per thousand; use steps of 0.1");
            }
            Ok(pm as u32)
        })
        .collect()
}

struct LossBench<'a> {
    args: &'a BenchArgs,
    lab: Lab,
    exe: PathBuf,
    xskd: PathBuf,
    stop: Arc<AtomicBool>,
    setup: Setup,
    levels: Vec<u32>,
    bytes: u64,
    samples: Vec<LossSample>,
    failures: Vec<String>,
}

pub fn run(args: &BenchArgs, exe: PathBuf, xskd: PathBuf, stop: Arc<AtomicBool>) -> Result<()> {
    let levels = permille_levels(&args.loss_levels)?;
    if args.loss_mb == 0 || args.loss_timeout <= 0.0 {
        bail!("--loss-mb and --loss-timeout must be positive");
    }
    let lab = Lab::create("loss", 1)?;
    offloads(&lab, false)?;
    loss_net::bridge_peer(&lab)?;
    if let Some(name) = &args.loss_kernel_cc {
        loss_net::set_kernel_cc(|p| lab.xskd_ns_cmd(p), name)?;
        loss_net::set_kernel_cc(|p| lab.peer_cmd(p), name)?;
    }
    let cc = loss_report::CcNames {
        kernel_server: loss_net::kernel_cc(|p| lab.xskd_ns_cmd(p))?,
        kernel_client: loss_net::kernel_cc(|p| lab.peer_cmd(p))?,
        xskd: xskd_proto::stack::tcp::CongestionAlgorithm::default()
            .as_str()
            .to_string(),
    };
    let bytes = args.loss_mb << 20;
    let setup = setup(&lab, bytes)?;
    let mut b = LossBench {
        args,
        lab,
        exe,
        xskd,
        stop,
        setup,
        levels,
        bytes,
        samples: Vec::new(),
        failures: Vec::new(),
    };
    let loadavg_before = report::loadavg();
    let (background_server_core, background_load_core) = super::background(args)?;
    let started = std::time::Instant::now();
    eprintln!(
        "xskd-bench: loss: lab {} / {} (bridge {}), {} MB each way, levels {:?} per mille, {} rounds; \
         congestion control: kernel {} (server) / {} (client), xskd {}",
        b.lab.ns_xskd,
        b.lab.ns_peer,
        loss_net::bridge_name(&b.lab),
        args.loss_mb,
        b.levels,
        args.rounds,
        cc.kernel_server,
        cc.kernel_client,
        cc.xskd,
    );
    for round in 0..args.rounds {
        for server in [Server::Xskd, Server::Linux] {
            if let Err(e) = b.session(round, server) {
                if b.stop.load(Ordering::Relaxed) {
                    return Err(e);
                }
                b.failed(format!("round {round}: {}: {e:#}", server.name()));
            }
        }
    }
    let info = RunInfo {
        wall_s: started.elapsed().as_secs_f64(),
        loadavg_before,
        loadavg_after: report::loadavg(),
        background_server_core,
        background_load_core,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: report::kernel_release(),
        // The loss part measures goodput, not the worker's cycles.
        perf_unavailable: None,
    };
    let table = loss_report::table(&b.samples, args, &b.levels, &info, &cc, &b.failures);
    println!("{table}");
    let out = loss_report::write(&args.out, args, &b.samples, &b.failures, &table, &info, &cc)?;
    eprintln!(
        "xskd-bench: loss results in {} ({:.0} s)",
        out.display(),
        info.wall_s
    );
    if !args.no_plot {
        super::prep::plot_file(&args.out.join("loss-latest.json"));
    }
    if !b.failures.is_empty() {
        bail!(
            "{} transfer(s) failed (listed under the table)",
            b.failures.len()
        );
    }
    Ok(())
}

/// The object both HTTP servers hold (and the small one nginx's readiness
/// check fetches); xskd's store preloads the big one.
fn setup(lab: &Lab, bytes: u64) -> Result<Setup> {
    let root = lab.dir().join("www");
    let preload = lab.dir().join("preload");
    std::fs::create_dir_all(&root)?;
    std::fs::create_dir_all(&preload)?;
    std::fs::write(root.join(SMALL_OBJECT), object_bytes(SMALL_BYTES))?;
    let path = root.join(BULK_OBJECT);
    std::fs::write(&path, object_bytes(bytes as usize))?;
    std::fs::hard_link(&path, preload.join(BULK_OBJECT))?;
    Ok(Setup {
        store_max_bytes: (16 << 20) + bytes,
        preload_dir: Some(preload),
        web_root: Some(root),
        // xskd's default buffers: they start small and autotune, as the
        // kernel's do.
        ..Setup::default()
    })
}

impl LossBench<'_> {
    fn failed(&mut self, what: String) {
        eprintln!("xskd-bench: FAILED {what}");
        self.failures.push(what);
    }

    fn interrupted(&self) -> Result<()> {
        if self.stop.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        Ok(())
    }

    fn record(&mut self, s: LossSample) {
        eprintln!(
            "  round {} {:>5} {:>8} {:>4.1}%: {:>8.1} Mbit/s in {:.2} s{}; dropped {}/{} in, {}/{} out",
            s.round,
            s.server.name(),
            s.direction.name(),
            s.loss_permille as f64 / 10.0,
            s.mbit_per_s,
            s.seconds,
            if s.completed { "" } else { " (INCOMPLETE)" },
            s.nft.in_dropped,
            s.nft.in_seen,
            s.nft.out_dropped,
            s.nft.out_seen,
        );
        self.samples.push(s);
    }

    /// Every level and direction against one server.
    fn session(&mut self, round: u32, server: Server) -> Result<()> {
        match server {
            Server::Xskd => self.xskd_session(round),
            Server::Linux => self.linux_session(round),
        }
    }

    /// xskd is started for each transfer, so its exit report counts
    /// exactly that transfer.
    fn xskd_session(&mut self, round: u32) -> Result<()> {
        let core = self.args.server_core;
        for i in 0..self.levels.len() {
            for dir in [Direction::Download, Direction::Upload] {
                self.interrupted()?;
                let pm = self.levels[i];
                let running = Running::start(
                    &self.lab,
                    &self.exe,
                    &self.xskd,
                    Subject::Xskd,
                    core,
                    &self.setup,
                )
                .context("starting xskd")?;
                let sample = self.transfer(round, Server::Xskd, dir, pm);
                let report = running.stop().context("stopping xskd")?;
                let mut sample = sample?;
                sample.server_tcp = XSKD_KEYS
                    .iter()
                    .map(|(k, p)| (k.to_string(), sum_queues(&report, p)))
                    .collect();
                self.record(sample);
            }
        }
        Ok(())
    }

    /// nginx and the kernel discard server run through the whole session:
    /// the kernel's counters are read around each transfer.
    fn linux_session(&mut self, round: u32) -> Result<()> {
        let core = self.args.server_core;
        let nginx = Running::start(
            &self.lab,
            &self.exe,
            &self.xskd,
            Subject::Nginx,
            core,
            &self.setup,
        )
        .context("starting nginx")?;
        let bind = format!("{XSKD_SIDE_KERNEL_IP}:{DISCARD_PORT}");
        let discard = KernelProcess::spawn(
            &self.lab,
            &self.exe,
            core,
            &["tcp-discard", "--bind", &bind],
        )?;
        let result = (|| -> Result<()> {
            for i in 0..self.levels.len() {
                for dir in [Direction::Download, Direction::Upload] {
                    self.interrupted()?;
                    let pm = self.levels[i];
                    let before = loss_net::nstat(|p| self.lab.xskd_ns_cmd(p))?;
                    let mut s = self.transfer(round, Server::Linux, dir, pm)?;
                    let after = loss_net::nstat(|p| self.lab.xskd_ns_cmd(p))?;
                    s.server_tcp = loss_net::delta(&before, &after);
                    self.record(s);
                }
            }
            Ok(())
        })();
        let stopped = (nginx.stop(), discard.stop());
        result?;
        stopped.0.context("stopping nginx")?;
        stopped.1.context("stopping the kernel discard server")?;
        Ok(())
    }

    /// One transfer through `permille` loss each way; the server is up.
    fn transfer(
        &self,
        round: u32,
        server: Server,
        dir: Direction,
        permille: u32,
    ) -> Result<LossSample> {
        loss_net::install(&self.lab, permille)?;
        let client_before = loss_net::nstat(|p| self.lab.peer_cmd(p))?;
        let t = match dir {
            Direction::Download => self.download(server)?,
            Direction::Upload => self.upload(server)?,
        };
        let client_after = loss_net::nstat(|p| self.lab.peer_cmd(p))?;
        let nft = loss_net::counts(&self.lab)?;
        Ok(LossSample {
            round,
            server,
            direction: dir,
            loss_permille: permille,
            bytes: t.bytes,
            seconds: t.seconds,
            mbit_per_s: if t.completed { t.mbit_per_s } else { 0.0 },
            completed: t.completed,
            error: t.error,
            nft,
            server_tcp: BTreeMap::new(),
            client_tcp: loss_net::delta(&client_before, &client_after),
        })
    }

    fn limit(&self) -> Duration {
        // The client's own timeout, then a margin to kill a stuck one.
        Duration::from_secs_f64(self.args.loss_timeout + 10.0)
    }

    /// `PROGRAM` in the peer namespace pinned to the load core.
    fn pinned_in_peer(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.lab.ns_peer, "taskset", "-c"])
            .arg(self.args.load_core.to_string())
            .arg(program);
        c
    }

    fn download(&self, server: Server) -> Result<UploadResult> {
        let url = format!("http://{}:{HTTP_PORT}/{BULK_OBJECT}", server.ip());
        let mut cmd = self.pinned_in_peer("curl");
        cmd.args(["-sS", "-o", "/dev/null", "--max-time"])
            .arg(format!("{}", self.args.loss_timeout))
            .args([
                "-w",
                "%{speed_download} %{size_download} %{http_code} %{time_total}",
            ])
            .arg(&url);
        let out = run_bounded(&mut cmd, self.limit())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let (speed, size, code, total) = parse_curl(&text)
            .with_context(|| format!("curl {url}: {}", String::from_utf8_lossy(&out.stderr)))?;
        let completed = out.status.success() && code == 200 && size == self.bytes;
        Ok(UploadResult {
            bytes: size,
            seconds: total,
            mbit_per_s: speed * 8.0 / 1e6,
            completed,
            error: (!completed).then(|| {
                format!(
                    "curl exited {}, status {code}, {size} of {} bytes: {}",
                    out.status,
                    self.bytes,
                    String::from_utf8_lossy(&out.stderr).trim()
                )
            }),
        })
    }

    fn upload(&self, server: Server) -> Result<UploadResult> {
        let target = format!("{}:{DISCARD_PORT}", server.ip());
        let mut cmd = self.pinned_in_peer(&self.exe.to_string_lossy());
        cmd.args(["client", "tcp-upload", &target, "--bytes"])
            .arg(self.bytes.to_string())
            .arg("--timeout")
            .arg(self.args.loss_timeout.to_string());
        let out = run_bounded(&mut cmd, self.limit())?;
        result_line(&out)
    }
}

fn sum_queues(report: &serde_json::Value, pointer: &str) -> u64 {
    report["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|q| q.pointer(pointer).and_then(|v| v.as_u64()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_per_mille_and_bounded() {
        assert_eq!(
            permille_levels(&[0.0, 1.0, 2.0, 5.0]).unwrap(),
            [0, 10, 20, 50]
        );
        assert_eq!(permille_levels(&[0.5]).unwrap(), [5]);
        assert!(
            permille_levels(&[0.05]).is_err(),
            "below the draw's resolution"
        );
        assert!(permille_levels(&[60.0]).is_err());
        assert!(permille_levels(&[]).is_err());
    }
}
