//! The `loss` part's report: per direction and loss level, median goodput
//! of each server and their ratio, the sender's retransmissions and
//! timeouts, and the drop rate the bridge really applied; as markdown,
//! and as JSON with every transfer.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::loss::{Direction, LossSample, Server};
use super::report::{median, RunInfo};
use super::BenchArgs;

/// The sender's counter of retransmitted segments and of timeouts: the
/// server on a download (xskd's own counters, or the kernel's in the
/// server's namespace), the kernel client on an upload.
fn sender(s: &LossSample) -> (u64, u64) {
    let get = |m: &std::collections::BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    match (s.direction, s.server) {
        (Direction::Download, Server::Xskd) => (
            get(&s.server_tcp, "retrans_segs"),
            get(&s.server_tcp, "rto_expirations"),
        ),
        (Direction::Download, Server::Linux) => (
            get(&s.server_tcp, "TcpRetransSegs"),
            get(&s.server_tcp, "TcpExtTCPTimeouts"),
        ),
        (Direction::Upload, _) => (
            get(&s.client_tcp, "TcpRetransSegs"),
            get(&s.client_tcp, "TcpExtTCPTimeouts"),
        ),
    }
}

/// The bridge's measured drop rate of the data direction and of the ACK
/// direction, in percent.
fn drop_pct(s: &LossSample) -> (f64, f64) {
    let (to_peer, from_peer) = s.nft.rates();
    match s.direction {
        Direction::Download => (to_peer * 100.0, from_peer * 100.0),
        Direction::Upload => (from_peer * 100.0, to_peer * 100.0),
    }
}

/// Which congestion control each sender ran: the kernel's in the
/// server's namespace (nginx, the discard server) and in the client's
/// (the upload sender for both servers), and xskd's.
#[derive(Clone, Debug, Serialize)]
pub struct CcNames {
    pub kernel_server: String,
    pub kernel_client: String,
    pub xskd: String,
}

fn pick(
    samples: &[LossSample],
    dir: Direction,
    pm: u32,
    server: Server,
) -> impl Iterator<Item = &LossSample> {
    samples
        .iter()
        .filter(move |s| s.direction == dir && s.loss_permille == pm && s.server == server)
}

fn med(v: impl Iterator<Item = f64>) -> Option<f64> {
    median(v.collect())
}

fn f(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

pub fn table(
    samples: &[LossSample],
    args: &BenchArgs,
    levels: &[u32],
    info: &RunInfo,
    cc: &CcNames,
    failures: &[String],
) -> String {
    let mut out = format!(
        "\n### Goodput under random loss ({} MB each transfer, medians of {} rounds)\n\n\
| direction | loss each way | xskd Mbit/s | Linux Mbit/s | xskd/Linux | sender retrans xskd / Linux | sender timeouts xskd / Linux | measured drop data/ACK % xskd | Linux | incomplete xskd / Linux |\n\
|---|---|---|---|---|---|---|---|---|---|\n",
        args.loss_mb, args.rounds
    );
    for dir in [Direction::Download, Direction::Upload] {
        for &pm in levels {
            let rate = |srv| {
                med(pick(samples, dir, pm, srv)
                    .filter(|s| s.completed)
                    .map(|s| s.mbit_per_s))
            };
            let (x, l) = (rate(Server::Xskd), rate(Server::Linux));
            let ratio = match (x, l) {
                (Some(x), Some(l)) if l > 0.0 => format!("{:.2}x", x / l),
                _ => "-".into(),
            };
            let counts = |srv, which: fn((u64, u64)) -> u64| {
                med(pick(samples, dir, pm, srv).map(|s| which(sender(s)) as f64))
            };
            let drops = |srv| {
                let d = med(pick(samples, dir, pm, srv).map(|s| drop_pct(s).0));
                let a = med(pick(samples, dir, pm, srv).map(|s| drop_pct(s).1));
                format!("{} / {}", f(d, 2), f(a, 2))
            };
            let incomplete = |srv| pick(samples, dir, pm, srv).filter(|s| !s.completed).count();
            out.push_str(&format!(
                "| {} | {:.1}% | {} | {} | {ratio} | {} / {} | {} / {} | {} | {} | {} / {} |\n",
                dir.name(),
                pm as f64 / 10.0,
                f(x, 1),
                f(l, 1),
                f(counts(Server::Xskd, |c| c.0), 0),
                f(counts(Server::Linux, |c| c.0), 0),
                f(counts(Server::Xskd, |c| c.1), 0),
                f(counts(Server::Linux, |c| c.1), 0),
                drops(Server::Xskd),
                drops(Server::Linux),
                incomplete(Server::Xskd),
                incomplete(Server::Linux),
            ));
        }
    }
    out.push_str(&format!(
        "\n- Loss: nftables `numgen random mod 1000 < N drop` on TCP frames in the `input` and \
`output` hooks of a bridge (family `bridge`) in the peer namespace that carries the client's \
address, so neither the client's TCP nor either server can tell the drop from a wire's. \
\"measured drop\" is what the bridge's counters say it dropped of the data direction and of \
the ACK direction.\n\
- Download: `curl -o /dev/null` GET of the object from xskd's store (preloaded) and from \
nginx-light (1 worker, sendfile); upload: `xskd-bench client tcp-upload` (write, half-close, \
wait for the server's close) to xskd's discard service and to `xskd-bench kernel-server \
tcp-discard`. Both servers on core {}, the client on core {}; xskd busy-polls, with its default \
buffers (64 KB per connection each way, autotuned up to 4 MB send / 6 MB receive, like the \
kernel's). A transfer is given \
{} s; one that does not finish counts as incomplete and is left out of the median.\n\
- Sender counters: on a download the server's (xskd's `retrans_segs` and \
`rto_expirations` from its exit report, xskd started afresh per transfer; the kernel's \
TcpRetransSegs and TcpExtTCPTimeouts in nginx's namespace), on an upload the kernel \
client's in the peer namespace (for both servers: it is the same sender).\n\
- Congestion control: xskd {} (its default `[tcp] congestion`); the kernel {} in the \
server's namespace and {} in the client's (the uploads' sender), `net.ipv4.tcp_congestion_control` \
({}).\n\
- Machine: Linux {}, {} cores; 1-minute load average {:.2} before, {:.2} after; before the \
run, with nothing of ours running, the server core was {:.0}% and the load core {:.0}% busy; \
{:.0} s.\n",
        args.server_core,
        args.load_core,
        args.loss_timeout,
        cc.xskd,
        cc.kernel_server,
        cc.kernel_client,
        if args.loss_kernel_cc.is_some() {
            "set with `--loss-kernel-cc`"
        } else {
            "the kernel's default"
        },
        info.kernel,
        info.cores,
        info.loadavg_before,
        info.loadavg_after,
        info.background_server_core * 100.0,
        info.background_load_core * 100.0,
        info.wall_s,
    ));
    if !failures.is_empty() {
        out.push_str("\n### Failed transfers (their cells are missing above)\n\n");
        for fl in failures {
            out.push_str(&format!("- {}\n", fl.replace('\n', " ")));
        }
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    part: &'static str,
    /// UTC, as `date -u` prints it.
    date: String,
    machine: Machine,
    args: &'a BenchArgs,
    run: &'a RunInfo,
    congestion_control: &'a CcNames,
    loss_samples: &'a [LossSample],
    failures: &'a [String],
    markdown: &'a str,
}

#[derive(Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    kernel: String,
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default()
}

fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Write `loss-<unix time>.json` and `.md` to `dir`, and `loss-latest.*`
/// copies; return the JSON's path.
pub fn write(
    dir: &Path,
    args: &BenchArgs,
    samples: &[LossSample],
    failures: &[String],
    markdown: &str,
    info: &RunInfo,
    cc: &CcNames,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let report = JsonReport {
        part: "loss",
        date: utc_now(),
        machine: Machine {
            cpu: cpu_model(),
            cores: info.cores,
            kernel: info.kernel.clone(),
        },
        args,
        run: info,
        congestion_control: cc,
        loss_samples: samples,
        failures,
        markdown,
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let json = serde_json::to_string_pretty(&report)?;
    let path = dir.join(format!("loss-{stamp}.json"));
    std::fs::write(&path, &json)?;
    std::fs::write(dir.join(format!("loss-{stamp}.md")), markdown)?;
    std::fs::write(dir.join("loss-latest.json"), &json)?;
    std::fs::write(dir.join("loss-latest.md"), markdown)?;
    Ok(path)
}
