//! `xskd bench`: the side-by-side harness (issue 7). It builds a veth lab,
//! pins the server under test to one core and the load to the other, and
//! measures xskd and its kernel peer doing the same work in the same run,
//! alternating in rounds, then prints medians and ratios.
//!
//! Parts: `udp` (UDP echo latency and throughput, xskd vs the kernel),
//! `ceiling` (the same throughput load against the bare AF_XDP reflector vs
//! xskd's stack echo), `tcp` (TCP request/response vs the kernel), `http`
//! (wrk against xskd's object store vs nginx) and `bulk` (one large GET vs
//! nginx with the kernel's offloads off and on). More pairs slot in as
//! more [`Load`]s, [`Subject`]s and [`Part`]s: a client, a subject, and
//! rows in `report`.

pub mod client;
mod cpu;
mod http;
mod report;
mod servers;
#[cfg(test)]
mod tests;
mod xdpgen;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;
use xskd::lab::{Lab, XSKD_IP};

use client::{LatencyResult, ScrapeResult, ThroughputResult, RESULT};
use http::{BulkResult, HttpResult};
use servers::{Running, Setup, Subject};

#[derive(Args, Clone, Debug, Serialize)]
pub struct BenchArgs {
    /// Rounds per pair; each round measures every subject once, in turn.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Length of each measurement (latency and throughput each).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Where the JSON and markdown results go.
    #[arg(long, default_value = "bench-out")]
    pub out: PathBuf,
    /// Only these parts (comma-separated); default all.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Part>,
    /// xskd's polling: busy (one core at 100% whatever the load), backoff
    /// (sleeps when idle), or both, each measured against the same kernel.
    #[arg(long, value_enum, default_value_t = PollArg::Both)]
    pub poll: PollArg,
    /// The core the server under test runs on.
    #[arg(long, default_value_t = 0)]
    pub server_core: usize,
    /// The core the load generator runs on.
    #[arg(long, default_value_t = 1)]
    pub load_core: usize,
    /// Datagrams in flight in the throughput load.
    #[arg(long, default_value_t = 1024)]
    pub window: u64,
    /// UDP payload bytes (18 makes 64-byte frames).
    #[arg(long, default_value_t = 18)]
    pub size: usize,
    /// Size of the bulk GET's object in MB (it is held in xskd's store).
    #[arg(long, default_value_t = 1024)]
    pub bulk_mb: u64,
    /// wrk connections in the HTTP loads.
    #[arg(long, default_value_t = 16)]
    pub http_conns: u32,
    /// The ceiling part's load generator: `xdp` sends and counts through
    /// an AF_XDP socket in the peer namespace (pushes harder), `socket`
    /// reuses the UDP part's kernel-socket load.
    #[arg(long, value_enum, default_value_t = Generator::Xdp)]
    pub generator: Generator,
    /// Do not draw the PNG plots (benches/plot.py) at the end.
    #[arg(long)]
    pub no_plot: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// UDP echo: latency and datagrams/s, xskd vs the kernel.
    Udp,
    /// Datapath ceiling: the bare reflector vs xskd's stack echo.
    Ceiling,
    /// TCP request/response (64 bytes, one connection), xskd vs the kernel.
    Tcp,
    /// HTTP GETs of small and 16 KB objects (wrk), xskd vs nginx.
    Http,
    /// One large GET, xskd vs nginx with offloads off and on.
    Bulk,
}

/// Every part, in the order they are reported.
pub const ALL_PARTS: [Part; 5] = [Part::Udp, Part::Ceiling, Part::Tcp, Part::Http, Part::Bulk];

/// The parts this run measures.
pub fn parts_of(args: &BenchArgs) -> Vec<Part> {
    if args.only.is_empty() {
        ALL_PARTS.to_vec()
    } else {
        args.only.clone()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Generator {
    Socket,
    Xdp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PollArg {
    Busy,
    Backoff,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Load {
    UdpLatency,
    UdpThroughput,
    /// The UDP throughput load from the AF_XDP generator.
    UdpThroughputXdp,
    TcpRr,
    #[serde(rename = "http-keepalive-64")]
    HttpKeepAliveSmall,
    #[serde(rename = "http-keepalive-16k")]
    HttpKeepAliveLarge,
    #[serde(rename = "http-close-64")]
    HttpCloseSmall,
    #[serde(rename = "http-close-16k")]
    HttpCloseLarge,
    Bulk,
}

/// The HTTP objects both servers hold (paths under the web root).
pub const SMALL_OBJECT: &str = "obj-64";
pub const LARGE_OBJECT: &str = "obj-16k";
pub const BULK_OBJECT: &str = "bulk";
const SMALL_BYTES: usize = 64;
const LARGE_BYTES: usize = 16 * 1024;
/// TCP request/response message size.
const TCP_MSG: usize = 64;

impl Load {
    /// (object, `Connection: close`) of an HTTP load.
    fn http(self) -> Option<(&'static str, bool)> {
        match self {
            Load::HttpKeepAliveSmall => Some((SMALL_OBJECT, false)),
            Load::HttpKeepAliveLarge => Some((LARGE_OBJECT, false)),
            Load::HttpCloseSmall => Some((SMALL_OBJECT, true)),
            Load::HttpCloseLarge => Some((LARGE_OBJECT, true)),
            _ => None,
        }
    }
}

const HTTP_LOADS: [Load; 4] = [
    Load::HttpKeepAliveSmall,
    Load::HttpKeepAliveLarge,
    Load::HttpCloseSmall,
    Load::HttpCloseLarge,
];

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
    exe: PathBuf,
    stop: Arc<AtomicBool>,
    setup: Setup,
    samples: Vec<Sample>,
    reports: Vec<serde_json::Value>,
    failures: Vec<String>,
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
    if args.bulk_mb == 0 || args.http_conns == 0 {
        bail!("--bulk-mb and --http-conns must be positive");
    }
    let parts = parts_of(&args);
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let exe = std::env::current_exe().context("finding our own binary")?;
    let lab = Lab::create("bench", 1)?;
    static_neighbour(&lab)?;
    offloads(&lab, false)?;
    let setup = setup(&lab, &args, &parts)?;
    let mut b = Bench {
        args: &args,
        lab,
        exe,
        stop,
        setup,
        samples: Vec::new(),
        reports: Vec::new(),
        failures: Vec::new(),
    };
    let loadavg_before = report::loadavg();
    let (background_server_core, background_load_core) = background(&args)?;
    if background_server_core.max(background_load_core) > 0.1 {
        eprintln!(
            "xskd bench: warning: other work keeps the cores busy ({:.0}% and {:.0}%): expect noise",
            background_server_core * 100.0,
            background_load_core * 100.0
        );
    }
    let started = std::time::Instant::now();
    let subjects = subjects(&parts, args.poll);
    eprintln!(
        "xskd bench: lab {} / {}, server core {}, load core {}, {} rounds x {} s, subjects {:?}",
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
    }
    let info = report::RunInfo {
        wall_s: started.elapsed().as_secs_f64(),
        loadavg_before,
        loadavg_after: report::loadavg(),
        background_server_core,
        background_load_core,
        cores,
        kernel: report::kernel_release(),
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
        "xskd bench: results in {} ({:.0} s)",
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

/// Draw the PNGs with benches/plot.py (run from the source tree), if it
/// and python3 are there; a missing plot is a warning, not a failure.
fn plot(out: &std::path::Path) {
    let script = std::path::Path::new("benches/plot.py");
    let python = std::path::Path::new("/usr/bin/python3");
    if !script.exists() || !python.exists() {
        eprintln!("xskd bench: no benches/plot.py here (or no /usr/bin/python3): no plots");
        return;
    }
    let mut cmd = Command::new(python);
    cmd.arg(script).arg(out.join("latest.json"));
    match http::run_bounded(&mut cmd, std::time::Duration::from_secs(120)) {
        Ok(o) if o.status.success() => eprint!("{}", String::from_utf8_lossy(&o.stdout)),
        Ok(o) => eprintln!(
            "xskd bench: plotting failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => eprintln!("xskd bench: plotting failed: {e:#}"),
    }
}

/// Write the HTTP objects: nginx's web root holds all three; xskd preloads
/// only the bulk object (the small ones are PUT into it, see `put_objects`).
/// The bulk file is a hard link, so it is on disk once.
fn setup(lab: &Lab, args: &BenchArgs, parts: &[Part]) -> Result<Setup> {
    let http = parts.contains(&Part::Http);
    let bulk = parts.contains(&Part::Bulk);
    let mut s = Setup {
        kernel_tcp: parts.contains(&Part::Tcp),
        ..Setup::default()
    };
    if !http && !bulk {
        return Ok(s);
    }
    let root = lab.dir().join("www");
    std::fs::create_dir_all(&root)?;
    std::fs::write(root.join(SMALL_OBJECT), object_bytes(SMALL_BYTES))?;
    std::fs::write(root.join(LARGE_OBJECT), object_bytes(LARGE_BYTES))?;
    let bulk_bytes = args.bulk_mb << 20;
    s.store_max_bytes = (64 << 20) + if bulk { bulk_bytes } else { 0 };
    if bulk {
        let preload = lab.dir().join("preload");
        std::fs::create_dir_all(&preload)?;
        let path = root.join(BULK_OBJECT);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let chunk = object_bytes(1 << 20);
        for _ in 0..args.bulk_mb {
            std::io::Write::write_all(&mut f, &chunk)?;
        }
        std::io::Write::flush(&mut f)?;
        drop(f);
        std::fs::hard_link(&path, preload.join(BULK_OBJECT))?;
        s.preload_dir = Some(preload);
    }
    s.web_root = Some(root);
    Ok(s)
}

/// Deterministic, not compressible by accident of being all zeros.
fn object_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| b"xskd-bench-object\n"[i % 18]).collect()
}

/// The kernel's offloads on xskd's veth end: TSO, GSO, GRO and tx
/// checksumming (TSO needs it), all on or all off.
fn offloads(lab: &Lab, on: bool) -> Result<()> {
    let v = if on { "on" } else { "off" };
    let out = lab
        .xskd_ns_cmd("ethtool")
        .args(["-K", &lab.if_xskd, "tx", v, "tso", v, "gso", v, "gro", v])
        .output()?;
    if !out.status.success() {
        bail!(
            "ethtool -K {} offloads {v}: {}",
            lab.if_xskd,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// How busy the server and load cores are over one second with nothing
/// of ours running: the noise floor of this run.
fn background(args: &BenchArgs) -> Result<(f64, f64)> {
    let t0 = std::time::Instant::now();
    let s0 = cpu::core_busy_seconds(args.server_core)?;
    let l0 = cpu::core_busy_seconds(args.load_core)?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let dt = t0.elapsed().as_secs_f64();
    let s = (cpu::core_busy_seconds(args.server_core)? - s0) / dt;
    let l = (cpu::core_busy_seconds(args.load_core)? - l0) / dt;
    Ok((s.clamp(0.0, 1.0), l.clamp(0.0, 1.0)))
}

/// Who is measured, in the order each round measures them.
fn subjects(parts: &[Part], poll: PollArg) -> Vec<Subject> {
    let has = |p| parts.contains(&p);
    let echo = has(Part::Udp) || has(Part::Tcp);
    let mut v = Vec::new();
    // Busy-polling xskd is the stack side of the ceiling, HTTP and bulk
    // pairs too.
    if has(Part::Ceiling)
        || has(Part::Http)
        || has(Part::Bulk)
        || (echo && poll != PollArg::Backoff)
    {
        v.push(Subject::Xskd);
    }
    if echo && poll != PollArg::Busy {
        v.push(Subject::XskdBackoff);
    }
    if echo {
        v.push(Subject::Kernel);
    }
    if has(Part::Ceiling) {
        v.push(Subject::Reflector);
    }
    if has(Part::Http) || has(Part::Bulk) {
        v.push(Subject::Nginx);
    }
    if has(Part::Bulk) {
        v.push(Subject::NginxOffload);
    }
    v
}

/// What each subject is measured with.
fn loads(subject: Subject, parts: &[Part], poll: PollArg, generator: Generator) -> Vec<Load> {
    let has = |p| parts.contains(&p);
    let echo_poll = match subject {
        Subject::Xskd => poll != PollArg::Backoff,
        Subject::XskdBackoff | Subject::Kernel => true,
        _ => false,
    };
    let mut v = Vec::new();
    let ceiling = has(Part::Ceiling) && matches!(subject, Subject::Xskd | Subject::Reflector);
    if has(Part::Udp) && echo_poll {
        v.extend([Load::UdpLatency, Load::UdpThroughput]);
    } else if ceiling && generator == Generator::Socket {
        v.push(Load::UdpThroughput);
    }
    if ceiling && generator == Generator::Xdp {
        v.push(Load::UdpThroughputXdp);
    }
    if has(Part::Tcp) && echo_poll {
        v.push(Load::TcpRr);
    }
    if has(Part::Http) && matches!(subject, Subject::Xskd | Subject::Nginx) {
        v.extend(HTTP_LOADS);
    }
    if has(Part::Bulk)
        && matches!(
            subject,
            Subject::Xskd | Subject::Nginx | Subject::NginxOffload
        )
    {
        v.push(Load::Bulk);
    }
    v
}

impl Bench<'_> {
    fn failed(&mut self, what: String) {
        eprintln!("xskd bench: FAILED {what}");
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
        let server = Running::start(&self.lab, &self.exe, subject, core, &self.setup)
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
                        eprintln!("  round {round} {:>13} {}", subject.name(), summary(&s));
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
        let cpu0 = cpu::tree_seconds(pid)?;
        let core0 = cpu::core_busy_seconds(a.server_core)?;
        let t0 = std::time::Instant::now();
        let outcome = self.run_load(subject, load);
        let wall_s = t0.elapsed().as_secs_f64();
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
                xskd::lab::PEER_IP.to_string(),
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
            _ => {
                let (object, close) = load.http().context("not an HTTP load")?;
                let url = format!("{}/{object}", subject.http_base());
                let wrk = http::wrk_args(&url, a.seconds, a.http_conns, close);
                let mut cmd = self.pinned_in_peer("wrk");
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

    /// `PROGRAM` in the peer namespace pinned to the load core.
    fn pinned_in_peer(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.lab.ns_peer, "taskset", "-c"])
            .arg(self.args.load_core.to_string())
            .arg(program);
        c
    }

    /// `xskd bench-client ARGS` in namespace `ns`, pinned to the load core.
    fn spawn_in_ns(&self, ns: &str, args: &[&str]) -> Result<Child> {
        Command::new("ip")
            .args(["netns", "exec", ns, "taskset", "-c"])
            .arg(self.args.load_core.to_string())
            .arg(&self.exe)
            .arg("bench-client")
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
}

fn result_line<T: serde::de::DeserializeOwned>(out: &Output) -> Result<T> {
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

fn summary(s: &Sample) -> String {
    let cpu = format!(
        "server cpu {:.2} us/op (core {:.2})",
        s.cpu_us_per_op(),
        s.core_us_per_op()
    );
    if let Some(l) = &s.latency {
        return format!(
            "{:?} p50 {:.1} p99 {:.1} p99.9 {:.1} us, {} rtts, {} lost; {cpu}",
            s.load, l.p50_us, l.p99_us, l.p999_us, l.round_trips, l.lost
        );
    }
    if let Some(t) = &s.throughput {
        return format!(
            "throughput {:.0} dgrams/s, loss {:.3}%; {cpu}",
            t.echoed_per_sec,
            t.loss_ratio * 100.0
        );
    }
    if let Some(h) = &s.http {
        return format!(
            "{:?} {:.0} req/s p50 {:.1} p99 {:.1} us, {} errors; {cpu}",
            s.load,
            h.rps,
            h.p50_us,
            h.p99_us,
            h.socket_errors + h.non_2xx
        );
    }
    if let Some(b) = &s.bulk {
        return format!(
            "bulk {:.2} Gbit/s ({} MB in {:.2} s, offloads {})",
            b.gbit_per_s,
            b.bytes >> 20,
            b.seconds,
            if b.offloads { "on" } else { "off" }
        );
    }
    cpu
}

/// The reflector answers no ARP; give the peer xskd's MAC once, for every
/// subject alike (the stack would answer, but a static entry keeps ARP out
/// of the measurement).
fn static_neighbour(lab: &Lab) -> Result<()> {
    let mac = read_mac(lab)?;
    let out = lab
        .peer_cmd("ip")
        .args(["neigh", "replace", &XSKD_IP.to_string(), "lladdr", &mac])
        .args(["dev", &lab.if_peer, "nud", "permanent"])
        .output()?;
    if !out.status.success() {
        bail!(
            "ip neigh replace: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn read_mac(lab: &Lab) -> Result<String> {
    let out = lab
        .xskd_ns_cmd("cat")
        .arg(format!("/sys/class/net/{}/address", lab.if_xskd))
        .output()?;
    let mac = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if mac.len() != 17 {
        bail!("could not read the MAC of {}", lab.if_xskd);
    }
    Ok(mac)
}
