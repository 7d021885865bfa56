//! `xskd bench`: the side-by-side harness (issue 7). It builds a veth lab,
//! pins the server under test to one core and the load to the other, and
//! measures xskd and its kernel peer doing the same work in the same run,
//! alternating in rounds, then prints medians and ratios.
//!
//! Parts: `udp` (UDP echo latency and throughput, xskd vs the kernel) and
//! `ceiling` (the same throughput load against the bare AF_XDP reflector vs
//! xskd's stack echo). TCP and HTTP pairs slot in as more [`Load`]s and
//! [`Part`]s: a client subcommand, a subject, and rows in `report`.

pub mod client;
mod cpu;
mod report;
mod servers;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;
use xskd::lab::{Lab, XSKD_IP};

use client::{LatencyResult, ScrapeResult, ThroughputResult, RESULT};
use servers::{Running, Subject};

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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// UDP echo: latency and datagrams/s, xskd vs the kernel.
    Udp,
    /// Datapath ceiling: the bare reflector vs xskd's stack echo.
    Ceiling,
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
}

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
    samples: Vec<Sample>,
    reports: Vec<serde_json::Value>,
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
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let exe = std::env::current_exe().context("finding our own binary")?;
    let lab = Lab::create("bench", 1)?;
    static_neighbour(&lab)?;
    let mut b = Bench {
        args: &args,
        lab,
        exe,
        stop,
        samples: Vec::new(),
        reports: Vec::new(),
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
    let parts: Vec<Part> = if args.only.is_empty() {
        vec![Part::Udp, Part::Ceiling]
    } else {
        args.only.clone()
    };
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
            b.session(round, s, loads(s, &parts))?;
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
    let table = report::table(&b.samples, &args, &parts, &info);
    println!("{table}");
    let out = report::write(&args.out, &args, &b.samples, &b.reports, &table, &info)?;
    eprintln!(
        "xskd bench: results in {} ({:.0} s)",
        out.display(),
        info.wall_s
    );
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
    let udp = parts.contains(&Part::Udp);
    let ceiling = parts.contains(&Part::Ceiling);
    let mut v = Vec::new();
    // Busy-polling xskd is the stack side of the ceiling pair too.
    if ceiling || (udp && poll != PollArg::Backoff) {
        v.push(Subject::Xskd);
    }
    if udp && poll != PollArg::Busy {
        v.push(Subject::XskdBackoff);
    }
    if udp {
        v.push(Subject::Kernel);
    }
    if ceiling {
        v.push(Subject::Reflector);
    }
    v
}

/// What each subject is measured with.
fn loads(subject: Subject, parts: &[Part]) -> &'static [Load] {
    match subject {
        Subject::Reflector => &[Load::UdpThroughput],
        Subject::Xskd if !parts.contains(&Part::Udp) => &[Load::UdpThroughput],
        _ => &[Load::UdpLatency, Load::UdpThroughput],
    }
}

impl Bench<'_> {
    /// Start `subject`, run `loads` against it, stop it.
    fn session(&mut self, round: u32, subject: Subject, loads: &[Load]) -> Result<()> {
        let core = self.args.server_core;
        let server = Running::start(&self.lab, &self.exe, subject, core)
            .with_context(|| format!("starting {}", subject.name()))?;
        let result = (|| -> Result<()> {
            let pid = server.pid()?;
            for &load in loads {
                if self.stop.load(Ordering::Relaxed) {
                    bail!("interrupted");
                }
                let s = self
                    .measure(round, subject, load, pid)
                    .with_context(|| format!("{:?} against {}", load, subject.name()))?;
                eprintln!("  round {round} {:>12} {}", subject.name(), summary(&s));
                self.samples.push(s);
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

    fn measure(&self, round: u32, subject: Subject, load: Load, pid: u32) -> Result<Sample> {
        let a = self.args;
        let target = subject.udp_target().to_string();
        let secs = a.seconds.to_string();
        let size = a.size.to_string();
        let mut client_args: Vec<String> = match load {
            Load::UdpLatency => vec!["udp-latency".into(), target],
            Load::UdpThroughput => vec![
                "udp-throughput".into(),
                target,
                "--window".into(),
                a.window.to_string(),
            ],
        };
        client_args.extend(["--seconds".into(), secs.clone(), "--size".into(), size]);
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
        let cpu0 = cpu::process_seconds(pid)?;
        let core0 = cpu::core_busy_seconds(a.server_core)?;
        let t0 = std::time::Instant::now();
        let refs: Vec<&str> = client_args.iter().map(String::as_str).collect();
        let out = self
            .spawn_in_ns(&self.lab.ns_peer, &refs)?
            .wait_with_output()?;
        let wall_s = t0.elapsed().as_secs_f64();
        let server_cpu_s = cpu::process_seconds(pid)? - cpu0;
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
            ops: 0,
            server_cpu_s,
            server_core_busy_s,
            wall_s,
            scrape,
        };
        match load {
            Load::UdpLatency => {
                let r: LatencyResult = result_line(&out)?;
                s.ops = r.round_trips + r.lost + LATENCY_WARMUP;
                s.latency = Some(r);
            }
            Load::UdpThroughput => {
                let r: ThroughputResult = result_line(&out)?;
                s.ops = r.echoed_total;
                s.throughput = Some(r);
            }
        }
        Ok(s)
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
    match (&s.latency, &s.throughput) {
        (Some(l), _) => format!(
            "latency p50 {:.1} p99 {:.1} p99.9 {:.1} us, {} rtts, {} lost; {cpu}",
            l.p50_us, l.p99_us, l.p999_us, l.round_trips, l.lost
        ),
        (_, Some(t)) => format!(
            "throughput {:.0} dgrams/s, loss {:.3}%; {cpu}",
            t.echoed_per_sec,
            t.loss_ratio * 100.0
        ),
        _ => cpu,
    }
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
