//! `xskd-bench`: the side-by-side harness (issue 7). It builds a veth lab,
//! pins the server under test to one core and the load to the other, and
//! measures xskd and its kernel peer doing the same work in the same run,
//! alternating in rounds, then prints medians and ratios.
//!
//! Parts: `udp` (UDP echo latency and throughput, xskd vs the kernel),
//! `ceiling` (the same throughput load against the bare AF_XDP reflector vs
//! xskd's stack echo), `tcp` (TCP request/response vs the kernel), `http`
//! (wrk against xskd's object store vs nginx), `bulk` (one large GET vs
//! nginx with the kernel's offloads off and on) and `tls` (full TLS 1.3
//! handshakes and HTTPS requests vs nginx, the same certificate and suite),
//! `txceiling` (the AF_XDP transmit ceiling for MTU frames, the bulk GET's
//! physical reference). More pairs slot in as
//! more [`Load`]s, [`Subject`]s and [`Part`]s: a client, a subject, and
//! rows in `report`.

mod args;
pub mod client;
mod cpu;
mod http;
mod loss;
mod loss_net;
mod loss_report;
mod metrics;
mod plan;
mod prep;
mod report;
mod servers;
#[cfg(test)]
mod tests;
mod tls;
#[cfg(test)]
mod tls_tests;
mod txceiling;
#[cfg(test)]
mod txceiling_tests;
mod txgen;
mod upload;
mod worker;
mod xdpgen;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use xskd_lab::Lab;

use client::{LatencyResult, ScrapeResult, ThroughputResult, RESULT};
use http::{BulkResult, HttpResult};
pub use plan::Load;
use plan::{loads, subjects, BULK_OBJECT, LARGE_OBJECT, SMALL_OBJECT, TCP_MSG};
use prep::{offloads, plot, read_mac, setup, static_neighbour};
use servers::{Running, Setup, Subject};
use tls::HandshakeResult;

#[cfg(test)]
use args::ALL_PARTS;
pub use args::{parts_of, BenchArgs, Generator, Part, PollArg};

/// One measurement: one load against one subject in one round.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub round: u32,
    pub subject: Subject,
    pub load: Load,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<ThroughputResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bulk: Option<BulkResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshakes: Option<HandshakeResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx: Option<txceiling::TxResult>,
    /// xskd's worker thread during the measurement (xskd subjects only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<worker::WorkerCounters>,
    /// Operations the server did while its CPU was measured (warm-up and
    /// drain included, as they are in the CPU time).
    pub ops: u64,
    /// utime+stime of the server process, all threads.
    pub server_cpu_s: f64,
    /// Busy time of the server core (anything on it: softirqs included).
    pub server_core_busy_s: f64,
    pub wall_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape: Option<ScrapeResult>,
}

impl Sample {
    pub fn cpu_us_per_op(&self) -> f64 {
        self.server_cpu_s * 1e6 / self.ops.max(1) as f64
    }

    pub fn core_us_per_op(&self) -> f64 {
        self.server_core_busy_s * 1e6 / self.ops.max(1) as f64
    }
}

/// Round trips the latency client makes before measuring.
const LATENCY_WARMUP: u64 = 1000;

struct Bench<'a> {
    args: &'a BenchArgs,
    lab: Lab,
    /// This binary: the load generators and kernel servers run from it.
    exe: PathBuf,
    /// The daemon under test.
    xskd: PathBuf,
    stop: Arc<AtomicBool>,
    setup: Setup,
    samples: Vec<Sample>,
    reports: Vec<serde_json::Value>,
    failures: Vec<String>,
    /// Whether `perf stat` counts cycles here (else the worker rows have
    /// the thread's utime only).
    perf: bool,
}

/// `--xskd`, else the `xskd` beside this binary, else `xskd` on PATH.
fn daemon_binary(args: &BenchArgs, exe: &std::path::Path) -> Result<PathBuf> {
    if let Some(p) = &args.xskd {
        if !p.is_file() {
            bail!("--xskd {}: no such file", p.display());
        }
        return Ok(p.clone());
    }
    let sibling = exe.with_file_name("xskd");
    if sibling.is_file() {
        return Ok(sibling);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("xskd"))
        .find(|p| p.is_file())
        .context("no xskd binary: build it (cargo build --release --bins) or pass --xskd PATH")
}

pub fn bench(args: BenchArgs) -> Result<()> {
    if args.server_core == args.load_core {
        bail!("--server-core and --load-core must differ");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if args.server_core.max(args.load_core) >= cores {
        bail!("this machine has {cores} cores; pick --server-core/--load-core below that");
    }
    if args.rounds == 0 || args.seconds <= 0.0 {
        bail!("--rounds and --seconds must be positive");
    }
    if args.bulk_mb == 0 || args.http_conns == 0 || args.tls_clients == 0 {
        bail!("--bulk-mb, --http-conns and --tls-clients must be positive");
    }
    let parts = parts_of(&args);
    if parts.contains(&Part::Loss) && parts.len() > 1 {
        bail!("--only loss runs alone (it rebuilds the peer's side of the lab)");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let exe = std::env::current_exe().context("finding our own binary")?;
    let xskd = daemon_binary(&args, &exe)?;
    if parts == [Part::Loss] {
        return loss::run(&args, exe, xskd, stop);
    }
    let lab = Lab::create("bench", 1)?;
    static_neighbour(&lab)?;
    offloads(&lab, false)?;
    let setup = setup(&lab, &args, &parts)?;
    if parts.contains(&Part::Txceiling) {
        txceiling::install_counter(&lab)?;
    }
    let perf_unavailable = worker::perf_usable().err();
    if let Some(why) = &perf_unavailable {
        eprintln!(
            "xskd-bench: warning: {why}: worker cycles are n/a, falling back to the worker \
thread's utime (/proc/PID/task/TID/stat)"
        );
    }
    let mut b = Bench {
        args: &args,
        lab,
        exe,
        xskd,
        stop,
        setup,
        samples: Vec::new(),
        reports: Vec::new(),
        failures: Vec::new(),
        perf: perf_unavailable.is_none(),
    };
    let loadavg_before = report::loadavg();
    let (background_server_core, background_load_core) = background(&args)?;
    if background_server_core.max(background_load_core) > 0.1 {
        eprintln!(
            "xskd-bench: warning: other work keeps the cores busy ({:.0}% and {:.0}%): expect noise",
            background_server_core * 100.0,
            background_load_core * 100.0
        );
    }
    let started = std::time::Instant::now();
    let subjects = subjects(&parts, args.poll);
    eprintln!(
        "xskd-bench: lab {} / {}, server core {}, load core {}, {} rounds x {} s, subjects {:?}",
        b.lab.ns_xskd,
        b.lab.ns_peer,
        args.server_core,
        args.load_core,
        args.rounds,
        args.seconds,
        subjects.iter().map(|s| s.name()).collect::<Vec<_>>()
    );
    for round in 0..args.rounds {
        for &s in &subjects {
            if let Err(e) = b.session(round, s, &loads(s, &parts, args.poll, args.generator)) {
                if b.stop.load(Ordering::Relaxed) {
                    return Err(e);
                }
                b.failed(format!("round {round}: {}: {e:#}", s.name()));
            }
        }
        if parts.contains(&Part::Txceiling) {
            if b.stop.load(Ordering::Relaxed) {
                bail!("interrupted");
            }
            b.tx_ceiling(round);
        }
    }
    let info = report::RunInfo {
        wall_s: started.elapsed().as_secs_f64(),
        loadavg_before,
        loadavg_after: report::loadavg(),
        background_server_core,
        background_load_core,
        cores,
        kernel: report::kernel_release(),
        perf_unavailable,
    };
    let mut table = report::table(&b.samples, &args, &parts, &info);
    if !b.failures.is_empty() {
        table.push_str("\n### Failed measurements (their cells are missing above)\n\n");
        for f in &b.failures {
            table.push_str(&format!("- {}\n", f.replace('\n', " ")));
        }
    }
    println!("{table}");
    let out = report::write(
        &args.out,
        &args,
        &b.samples,
        &b.reports,
        &b.failures,
        &table,
        &info,
    )?;
    eprintln!(
        "xskd-bench: results in {} ({:.0} s)",
        out.display(),
        info.wall_s
    );
    if !args.no_plot {
        plot(&args.out);
    }
    if !b.failures.is_empty() {
        bail!(
            "{} measurement(s) failed (listed under the table)",
            b.failures.len()
        );
    }
    Ok(())
}

/// How busy the server and load cores are over one second with nothing
/// of ours running: the noise floor of this run.
pub(crate) fn background(args: &BenchArgs) -> Result<(f64, f64)> {
    let t0 = std::time::Instant::now();
    let s0 = cpu::core_busy_seconds(args.server_core)?;
    let l0 = cpu::core_busy_seconds(args.load_core)?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let dt = t0.elapsed().as_secs_f64();
    let s = (cpu::core_busy_seconds(args.server_core)? - s0) / dt;
    let l = (cpu::core_busy_seconds(args.load_core)? - l0) / dt;
    Ok((s.clamp(0.0, 1.0), l.clamp(0.0, 1.0)))
}

impl Bench<'_> {
    fn failed(&mut self, what: String) {
        eprintln!("xskd-bench: FAILED {what}");
        self.failures.push(what);
    }

    /// Start `subject`, run `loads` against it, stop it.
    fn session(&mut self, round: u32, subject: Subject, loads: &[Load]) -> Result<()> {
        if subject.offloads() {
            offloads(&self.lab, true)?;
        }
        let result = self.session_inner(round, subject, loads);
        if subject.offloads() {
            offloads(&self.lab, false)?;
        }
        result
    }

    fn session_inner(&mut self, round: u32, subject: Subject, loads: &[Load]) -> Result<()> {
        let core = self.args.server_core;
        let server = Running::start(&self.lab, &self.exe, &self.xskd, subject, core, &self.setup)
            .with_context(|| format!("starting {}", subject.name()))?;
        let result = (|| -> Result<()> {
            let pid = server.pid()?;
            if subject.is_xskd() && loads.iter().any(|l| l.http().is_some()) {
                self.put_objects(subject)?;
            }
            for &load in loads {
                if self.stop.load(Ordering::Relaxed) {
                    bail!("interrupted");
                }
                // One failed measurement costs its cell in the table, not
                // the run: the rest goes on, and the failure is reported.
                match self.measure(round, subject, load, pid) {
                    Ok(s) => {
                        eprintln!(
                            "  round {round} {:>13} {}",
                            subject.name(),
                            report::summary(&s)
                        );
                        self.samples.push(s);
                    }
                    Err(e) => self.failed(format!(
                        "round {round}: {load:?} against {}: {e:#}",
                        subject.name()
                    )),
                }
            }
            Ok(())
        })();
        let report = server.stop();
        result?;
        let mut report = report.with_context(|| format!("stopping {}", subject.name()))?;
        report["bench_round"] = round.into();
        report["bench_subject"] = subject.name().into();
        self.reports.push(report);
        Ok(())
    }

    /// PUT the small HTTP objects into xskd's store from the peer (the
    /// bulk object is preloaded).
    fn put_objects(&self, subject: Subject) -> Result<()> {
        let root = self.setup.web_root.as_ref().context("no web root")?;
        for name in [SMALL_OBJECT, LARGE_OBJECT] {
            let url = format!("{}/{name}", subject.http_base());
            let file = format!("@{}", root.join(name).display());
            let out = self
                .lab
                .peer_cmd("curl")
                .args([
                    "-sS",
                    "--max-time",
                    "10",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                ])
                .args(["-X", "PUT", "-H", "Content-Type: application/octet-stream"])
                .args(["--data-binary", &file, &url])
                .output()?;
            let code = String::from_utf8_lossy(&out.stdout);
            if !matches!(code.trim(), "201" | "204") {
                bail!(
                    "PUT {url}: {code} {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        Ok(())
    }

    fn measure(&self, round: u32, subject: Subject, load: Load, pid: u32) -> Result<Sample> {
        let a = self.args;
        let secs = a.seconds.to_string();
        // Prometheus-style scraping while xskd is measured, so its cost is
        // inside the numbers.
        let scraper = if subject.is_xskd() {
            Some(self.spawn_in_ns(
                &self.lab.ns_xskd,
                &["scrape", "--seconds", &secs, "--admin", "127.0.0.1:9100"],
            )?)
        } else {
            None
        };
        let probe = if subject.is_xskd() {
            Some(worker::WorkerProbe::start(pid, self.perf, a.load_core)?)
        } else {
            None
        };
        let cpu0 = cpu::tree_seconds(pid)?;
        let core0 = cpu::core_busy_seconds(a.server_core)?;
        let t0 = std::time::Instant::now();
        let outcome = self.run_load(subject, load);
        let wall_s = t0.elapsed().as_secs_f64();
        let worker = probe.map(worker::WorkerProbe::finish).transpose()?;
        let server_cpu_s = cpu::tree_seconds(pid)? - cpu0;
        let server_core_busy_s = cpu::core_busy_seconds(a.server_core)? - core0;
        let scrape = match scraper {
            Some(c) => Some(result_line::<ScrapeResult>(&c.wait_with_output()?)?),
            None => None,
        };
        let mut s = Sample {
            round,
            subject,
            load,
            latency: None,
            throughput: None,
            http: None,
            bulk: None,
            handshakes: None,
            tx: None,
            worker,
            ops: 0,
            server_cpu_s,
            server_core_busy_s,
            wall_s,
            scrape,
        };
        match outcome? {
            Outcome::Latency(r) => {
                s.ops = r.round_trips + r.lost + LATENCY_WARMUP;
                s.latency = Some(r);
            }
            Outcome::Throughput(r) => {
                s.ops = r.echoed_total;
                s.throughput = Some(r);
            }
            Outcome::Http(r) => {
                s.ops = r.requests;
                s.http = Some(r);
            }
            Outcome::Bulk(r) => {
                s.ops = r.bytes;
                s.bulk = Some(r);
            }
            Outcome::Handshakes(r) => {
                s.ops = r.handshakes;
                s.handshakes = Some(r);
            }
        }
        Ok(s)
    }

    fn run_load(&self, subject: Subject, load: Load) -> Result<Outcome> {
        let a = self.args;
        let target = subject.udp_target().to_string();
        let secs = a.seconds.to_string();
        let client = |args: Vec<String>| -> Result<Output> {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            Ok(self
                .spawn_in_ns(&self.lab.ns_peer, &refs)?
                .wait_with_output()?)
        };
        let udp = |mut v: Vec<String>| {
            v.extend(["--seconds".into(), secs.clone()]);
            v.extend(["--size".into(), a.size.to_string()]);
            v
        };
        Ok(match load {
            Load::UdpLatency => Outcome::Latency(result_line(&client(udp(vec![
                "udp-latency".into(),
                target,
            ]))?)?),
            Load::UdpThroughput => Outcome::Throughput(result_line(&client(udp(vec![
                "udp-throughput".into(),
                target,
                "--window".into(),
                a.window.to_string(),
            ]))?)?),
            Load::UdpThroughputXdp => Outcome::Throughput(result_line(&client(udp(vec![
                "xdp-throughput".into(),
                target,
                "--iface".into(),
                self.lab.if_peer.clone(),
                "--src".into(),
                xskd_lab::PEER_IP.to_string(),
                "--dst-mac".into(),
                read_mac(&self.lab)?,
                "--window".into(),
                a.window.to_string(),
            ]))?)?),
            Load::TcpRr => Outcome::Latency(result_line(&client(vec![
                "tcp-rr".into(),
                target,
                "--seconds".into(),
                secs,
                "--size".into(),
                TCP_MSG.to_string(),
            ])?)?),
            Load::Bulk => Outcome::Bulk(self.bulk_get(subject)?),
            Load::TlsFullHandshake => Outcome::Handshakes(self.handshakes(subject)?),
            _ => {
                let (object, close) = load.http().context("not an HTTP load")?;
                let base = if load.tls() {
                    subject.https_base()
                } else {
                    subject.http_base()
                };
                let url = format!("{base}/{object}");
                let wrk = http::wrk_args(&url, a.seconds, a.http_conns, close);
                let mut cmd = self.pinned_in_peer("wrk");
                if let Some(t) = &self.setup.tls {
                    // Only TLS_AES_128_GCM_SHA256 and X25519 offered.
                    cmd.env("OPENSSL_CONF", &t.client_conf);
                }
                cmd.args(&wrk);
                let limit = std::time::Duration::from_secs_f64(a.seconds.ceil() + 20.0);
                let out = http::run_bounded(&mut cmd, limit)?;
                let text = String::from_utf8_lossy(&out.stdout);
                if !out.status.success() {
                    bail!(
                        "wrk failed ({}): {}{text}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                let r = http::parse_wrk(&text)?;
                if r.requests == 0 {
                    bail!("wrk completed no request against {url}:\n{text}");
                }
                Outcome::Http(r)
            }
        })
    }

    /// One GET of the bulk object with curl, pinned to the load core.
    fn bulk_get(&self, subject: Subject) -> Result<BulkResult> {
        let url = format!("{}/{BULK_OBJECT}", subject.http_base());
        let bytes = self.args.bulk_mb << 20;
        // Give up below 100 Mbit/s.
        let max = 10 + bytes * 8 / 100_000_000;
        let mut cmd = self.pinned_in_peer("curl");
        cmd.args(["-sS", "-o", "/dev/null", "--max-time", &max.to_string()])
            .args([
                "-w",
                "%{speed_download} %{size_download} %{http_code} %{time_total}",
            ])
            .arg(&url);
        let out = http::run_bounded(&mut cmd, std::time::Duration::from_secs(max + 10))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let (speed, size, code, total) = http::parse_curl(&text)
            .with_context(|| format!("curl {url}: {}", String::from_utf8_lossy(&out.stderr)))?;
        if code != 200 || size != bytes {
            bail!("GET {url}: status {code}, {size} of {bytes} bytes");
        }
        Ok(BulkResult {
            bytes: size,
            seconds: total,
            gbit_per_s: speed * 8.0 / 1e9,
            offloads: subject.offloads(),
        })
    }

    /// `clients` concurrent `openssl s_time -new` against the subject's
    /// port 443, all pinned to the load core, after one `s_client` checked
    /// the suite and group.
    fn handshakes(&self, subject: Subject) -> Result<HandshakeResult> {
        let files = self.setup.tls.as_ref().context("no TLS files")?;
        let target = subject.https_target();
        let (suite, group) =
            tls::check_negotiated(self.pinned_in_peer("openssl"), &files.client_conf, &target)?;
        let secs = self.args.seconds.ceil().max(1.0) as u64;
        let args = tls::s_time_args(&target, secs);
        let cmd = || {
            let mut c = self.pinned_in_peer("openssl");
            c.env("OPENSSL_CONF", &files.client_conf).args(&args);
            c
        };
        let limit = std::time::Duration::from_secs(secs + 20);
        let (handshakes, seconds) = tls::run_s_time(cmd, self.args.tls_clients, limit)?;
        if handshakes == 0 {
            bail!("s_time completed no handshake with {target}");
        }
        Ok(HandshakeResult {
            handshakes,
            seconds,
            per_sec: handshakes as f64 / seconds,
            clients: self.args.tls_clients,
            suite,
            group,
        })
    }

    /// `PROGRAM` in the peer namespace pinned to the load core.
    fn pinned_in_peer(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.lab.ns_peer, "taskset", "-c"])
            .arg(self.args.load_core.to_string())
            .arg(program);
        c
    }

    /// `xskd-bench client ARGS` in namespace `ns`, pinned to the load core.
    fn spawn_in_ns(&self, ns: &str, args: &[&str]) -> Result<Child> {
        Command::new("ip")
            .args(["netns", "exec", ns, "taskset", "-c"])
            .arg(self.args.load_core.to_string())
            .arg(&self.exe)
            .arg("client")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting bench-client {args:?}"))
    }
}

/// What one load returned.
enum Outcome {
    Latency(LatencyResult),
    Throughput(ThroughputResult),
    Http(HttpResult),
    Bulk(BulkResult),
    Handshakes(HandshakeResult),
}

pub(crate) fn result_line<T: serde::de::DeserializeOwned>(out: &Output) -> Result<T> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "bench-client failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT))
        .context("bench-client printed no result")?;
    serde_json::from_str(line).context("parsing the bench-client result")
}
