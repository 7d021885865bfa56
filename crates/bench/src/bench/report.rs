//! The bench report: medians over rounds, ratios against the peer, goals
//! from issue 7, as a markdown table and as JSON with every raw sample.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::metrics::{
    bulk_metrics, http_metrics, latency_metrics, tcp_metrics, throughput_metrics, tls_metrics,
    Goal, Metric,
};
use super::servers::Subject;
use super::worker::{worker_metrics, PERF_TAG};
use super::{BenchArgs, Generator, Load, Part, PollArg, Sample};

/// A table row in the JSON: medians per subject, ratios against the peer.
#[derive(Serialize)]
pub struct Row {
    pub section: String,
    pub metric: String,
    pub values: Vec<(Subject, Option<f64>)>,
    pub peer: Subject,
    pub peer_value: Option<f64>,
    /// Smallest and largest value over the rounds, subjects then the peer.
    pub spread: Vec<(Subject, Option<(f64, f64)>)>,
    pub ratios: Vec<(Subject, Option<f64>)>,
    pub goal: Option<String>,
    pub met: Vec<(Subject, Option<bool>)>,
    #[serde(skip)]
    pub(super) digits: usize,
}

pub(super) fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

fn values_of(samples: &[Sample], subject: Subject, m: &Metric) -> Vec<f64> {
    samples
        .iter()
        .filter(|s| s.subject == subject && s.load == m.load)
        .filter_map(|s| (m.read)(s))
        .collect()
}

fn spread_of(samples: &[Sample], subject: Subject, m: &Metric) -> Option<(f64, f64)> {
    let v = values_of(samples, subject, m);
    let min = v.iter().copied().reduce(f64::min)?;
    let max = v.iter().copied().reduce(f64::max)?;
    Some((min, max))
}

/// `metrics` with the xskd worker's rows (`worker_metrics`) after the
/// last row of each of `loads`, so they sit next to the end-to-end rows.
fn with_worker(metrics: Vec<Metric>, loads: &[(Load, &str)]) -> Vec<Metric> {
    let mut out = Vec::new();
    let mut it = metrics.into_iter().peekable();
    while let Some(m) = it.next() {
        let load = m.load;
        out.push(m);
        if it.peek().is_some_and(|next| next.load == load) {
            continue;
        }
        if let Some((_, op)) = loads.iter().find(|(l, _)| *l == load) {
            out.extend(worker_metrics(load, op));
        }
    }
    out
}

fn median_of(samples: &[Sample], subject: Subject, m: &Metric) -> Option<f64> {
    median(values_of(samples, subject, m))
}

fn rows_for(
    section: &str,
    samples: &[Sample],
    subjects: &[Subject],
    peer: Subject,
    metrics: &[Metric],
) -> Vec<Row> {
    metrics
        .iter()
        .map(|m| {
            let p = median_of(samples, peer, m);
            let values: Vec<_> = subjects
                .iter()
                .map(|&s| (s, median_of(samples, s, m)))
                .collect();
            let ratios: Vec<_> = values
                .iter()
                .map(|&(s, v)| {
                    let r = v.zip(p).filter(|(_, p)| *p > 0.0).map(|(v, p)| v / p);
                    (s, r.filter(|_| m.has_ratio()))
                })
                .collect();
            let met = ratios
                .iter()
                .map(|&(s, r)| (s, m.goal.zip(r).map(|(g, r)| g.met(r))))
                .collect();
            Row {
                section: section.to_string(),
                metric: m.label.clone(),
                values,
                peer,
                peer_value: p,
                spread: subjects
                    .iter()
                    .chain([&peer])
                    .map(|&s| (s, spread_of(samples, s, m)))
                    .collect(),
                ratios,
                goal: m.goal.map(Goal::text),
                met,
                digits: m.digits,
            }
        })
        .collect()
}

pub const UDP_SECTION: &str = "UDP echo: xskd vs the kernel";
pub const CEILING_SECTION: &str = "Datapath ceiling: xskd stack echo vs bare AF_XDP reflector";
pub const CEILING_SECTION_XDP: &str =
    "Datapath ceiling (AF_XDP load generator): xskd stack echo vs bare AF_XDP reflector";
pub const TCP_SECTION: &str =
    "TCP request/response (64 B, one connection, one outstanding): xskd vs the kernel";
pub const HTTP_SECTION: &str = "HTTP object store (wrk): xskd vs nginx, 1 worker, offloads off";
pub const TLS_SECTION: &str = "TLS 1.3 (TLS_AES_128_GCM_SHA256, X25519, the same P-256 certificate, no resumption): xskd vs nginx, 1 worker";

pub fn rows(samples: &[Sample], args: &BenchArgs, parts: &[Part]) -> Vec<Row> {
    let mut rows = Vec::new();
    let xs: Vec<Subject> = match args.poll {
        PollArg::Busy => vec![Subject::Xskd],
        PollArg::Backoff => vec![Subject::XskdBackoff],
        PollArg::Both => vec![Subject::Xskd, Subject::XskdBackoff],
    };
    if parts.contains(&Part::Udp) {
        let mut metrics = latency_metrics();
        metrics.extend(throughput_metrics(Load::UdpThroughput, None));
        let metrics = with_worker(
            metrics,
            &[
                (Load::UdpLatency, "round trip"),
                (Load::UdpThroughput, "datagram"),
            ],
        );
        rows.extend(rows_for(
            UDP_SECTION,
            samples,
            &xs,
            Subject::Kernel,
            &metrics,
        ));
    }
    if parts.contains(&Part::Ceiling) {
        let load = match args.generator {
            Generator::Xdp => Load::UdpThroughputXdp,
            Generator::Socket => Load::UdpThroughput,
        };
        rows.extend(rows_for(
            match args.generator {
                Generator::Xdp => CEILING_SECTION_XDP,
                Generator::Socket => CEILING_SECTION,
            },
            samples,
            &[Subject::Xskd],
            Subject::Reflector,
            &with_worker(
                throughput_metrics(load, Some(Goal::AtLeast(0.9))),
                &[(load, "datagram")],
            ),
        ));
    }
    if parts.contains(&Part::Tcp) {
        rows.extend(rows_for(
            TCP_SECTION,
            samples,
            &xs,
            Subject::Kernel,
            &with_worker(tcp_metrics(), &[(Load::TcpRr, "TCP round trip")]),
        ));
    }
    if parts.contains(&Part::Http) {
        rows.extend(rows_for(
            HTTP_SECTION,
            samples,
            &[Subject::Xskd],
            Subject::Nginx,
            &with_worker(
                http_metrics(),
                &[
                    (Load::HttpKeepAliveSmall, "request, keep-alive 64 B"),
                    (Load::HttpKeepAliveLarge, "request, keep-alive 16 KB"),
                    (Load::HttpCloseSmall, "request, close 64 B"),
                    (Load::HttpCloseLarge, "request, close 16 KB"),
                ],
            ),
        ));
    }
    if parts.contains(&Part::Bulk) {
        for (peer, on, goal) in [
            (Subject::Nginx, false, Some(Goal::AtLeast(1.0))),
            (Subject::NginxOffload, true, None),
        ] {
            let section = format!(
                "Bulk GET ({} MB, one flow): xskd vs nginx (sendfile), kernel offloads {} on xskd's veth",
                args.bulk_mb,
                if on { "ON" } else { "OFF" }
            );
            // xskd's column is the same run in both tables: its worker
            // rows go in the first.
            let worker: &[(Load, &str)] = if on {
                &[]
            } else {
                &[(Load::Bulk, "1448-byte segment")]
            };
            rows.extend(rows_for(
                &section,
                samples,
                &[Subject::Xskd],
                peer,
                &with_worker(bulk_metrics(on, goal), worker),
            ));
        }
    }
    if parts.contains(&Part::Txceiling) {
        rows.extend(super::txceiling::rows(samples));
    }
    if parts.contains(&Part::Tls) {
        rows.extend(rows_for(
            TLS_SECTION,
            samples,
            &xs,
            Subject::Nginx,
            &with_worker(
                tls_metrics(args.tls_clients, args.http_conns),
                &[
                    (Load::TlsFullHandshake, "full handshake"),
                    (Load::HttpsCloseSmall, "HTTPS close request"),
                    (Load::HttpsKeepAliveSmall, "HTTPS keep-alive request"),
                ],
            ),
        ));
    }
    rows
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// The markdown report: one table per section, then notes.
/// Facts about the run itself.
#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    pub wall_s: f64,
    /// 1-minute load average before and after.
    pub loadavg_before: f64,
    pub loadavg_after: f64,
    /// Fraction of the server and the load core busy with other work in a
    /// second before the run, with nothing of ours running.
    pub background_server_core: f64,
    pub background_load_core: f64,
    pub cores: usize,
    pub kernel: String,
    /// Why `perf stat` could not count the worker's cycles, if it could not.
    pub perf_unavailable: Option<String>,
}

pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0.0)
}

pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

pub fn table(samples: &[Sample], args: &BenchArgs, parts: &[Part], info: &RunInfo) -> String {
    let rows = rows(samples, args, parts);
    let mut out = String::new();
    let busy = info.background_server_core.max(info.background_load_core);
    if busy > 0.25 {
        out.push_str(&format!(
            "\n> **Noisy run:** before it started, other work kept the server core {:.0}% and \
the load core {:.0}% busy. Tails and CPU per operation are unreliable; rerun on a quiet \
machine.\n",
            info.background_server_core * 100.0,
            info.background_load_core * 100.0
        ));
    }
    let mut section = "";
    for r in &rows {
        if r.section != section {
            section = &r.section;
            let names: Vec<&str> = r.values.iter().map(|(s, _)| s.name()).collect();
            let ratios: Vec<String> = names
                .iter()
                .map(|n| format!("{n}/{}", r.peer.name()))
                .collect();
            out.push_str(&format!(
                "\n### {section}\n\n| metric | {} | {} | {} | goal | met? |\n|---|{}---|{}---|---|\n",
                names.join(" | "),
                r.peer.name(),
                ratios.join(" | "),
                "---|".repeat(names.len()),
                "---|".repeat(names.len()),
            ));
        }
        let d = r.digits;
        // Cycles perf could not count are not zero, they are unknown.
        let cell = |v: Option<f64>| match v {
            None if r.metric.ends_with(PERF_TAG) => "n/a".to_string(),
            v => fmt(v, d),
        };
        let vals: Vec<String> = r.values.iter().map(|(_, v)| cell(*v)).collect();
        let peer = cell(r.peer_value);
        let ratios: Vec<String> = r
            .ratios
            .iter()
            .map(|(_, v)| v.map_or("-".into(), |v| format!("{v:.2}x")))
            .collect();
        let met: Vec<&str> = r
            .met
            .iter()
            .map(|(_, m)| match m {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            })
            .collect();
        out.push_str(&format!(
            "| {} | {} | {peer} | {} | {} | {} |\n",
            r.metric,
            vals.join(" | "),
            ratios.join(" | "),
            r.goal.as_deref().unwrap_or("-"),
            if r.goal.is_some() {
                met.join(" / ")
            } else {
                "-".into()
            }
        ));
    }
    out.push_str(&notes(samples, args, info));
    out.push_str(&super::worker::note(info.perf_unavailable.as_deref()));
    out.push_str(&part_notes(args, parts));
    if parts.contains(&Part::Txceiling) {
        out.push_str(super::txceiling::NOTE);
    }
    out
}

/// What the tcp, http and bulk tables measured, when they ran.
fn part_notes(args: &BenchArgs, parts: &[Part]) -> String {
    let mut out = String::new();
    if parts.contains(&Part::Tcp) {
        out.push_str(
            "- TCP RR: one connection, TCP_NODELAY, a 64-byte message written and its echo read \
back whole, one outstanding, 1000 unmeasured first; xskd's TCP echo (port 7) vs `xskd \
kernel-server udp-echo --tcp` (a blocking thread per connection) on the server core.\n",
        );
    }
    if parts.contains(&Part::Http) {
        out.push_str(&format!(
            "- HTTP: `wrk -t1 -c{} --latency` pinned to the load core, against xskd's object store \
(the objects PUT first) and nginx-light (1 worker pinned to the server core, sendfile, \
access_log off, 198.18.0.3:80 on the same veth while xskd is stopped); `close` rows send \
`Connection: close`. Kernel offloads are off on xskd's veth for both, as in every table but \
the offloads-ON bulk one. `p99 <= 1x` is the goal \"p99 no worse than nginx\".\n",
            args.http_conns
        ));
    }
    if parts.contains(&Part::Tls) {
        out.push_str(&format!(
            "- TLS: both servers hold the same ECDSA P-256 certificate and key (generated for the \
run with `openssl req`), TLS 1.3 only, no session cache and no tickets (nginx: \
`ssl_session_cache off; ssl_session_tickets off;`, xskd: `session_cache = 0`, `tickets = \
false`), so every connection is a full handshake. Every client runs with an `OPENSSL_CONF` \
that offers only TLS_AES_128_GCM_SHA256 and an X25519 key share (nginx is also configured \
with only those); one `openssl s_client` per measurement checks what was negotiated. \
Handshakes: {} concurrent `openssl s_time -new` (handshake, then close; no request) pinned \
to the load core; the rate is their handshakes summed over their mean wall time (s_time \
counts whole seconds). On 2 cores the client's own handshake work (an ECDSA verify and an \
X25519 exchange each) shares the load core, so the load can be the bottleneck: the \"% of a \
core\" row says how busy nginx and xskd-backoff were (busy-polling xskd is always near 100); \
CPU per handshake (xskd-backoff's, not busy xskd's) is the comparison that does not depend \
on it. `HTTPS close` is `wrk \
-c{} -H 'Connection: close'` (a full handshake and one GET per connection); keep-alive is \
wrk over HTTPS to the same 64-byte object.\n",
            args.tls_clients, args.http_conns
        ));
    }
    if parts.contains(&Part::Tcp)
        || parts.contains(&Part::Http)
        || parts.contains(&Part::Bulk)
        || parts.contains(&Part::Tls)
    {
        out.push_str(&match args.xskd_send_buffer {
            0 => "- xskd ran with its default TCP buffers (64 KB per connection each way, \
autotuned up to 4 MiB send / 6 MiB receive, like the kernel's).\n"
                .to_string(),
            b => format!(
                "- xskd ran with `[tcp] send_buffer = {b}` (where its send rings start; they \
autotune up to `send_buffer_max`, 4 MiB by default, as the kernel's do up to net.ipv4.tcp_wmem's \
maximum).\n"
            ),
        });
    }
    if parts.contains(&Part::Bulk) {
        out.push_str(&format!(
            "- Bulk: one `curl -o /dev/null` GET of a {} MB object (preloaded into xskd's store, a \
file for nginx), pinned to the load core; Gbit/s is curl's speed_download. Offloads ON means \
`ethtool -K tx on tso on gso on gro on` on xskd's veth end while nginx is measured; xskd \
sends from AF_XDP and never uses them, so its column is the same run in both tables. CPU per \
GB is process time only: the kernel's softirq work for nginx is not in it.\n",
            args.bulk_mb
        ));
    }
    out
}

fn notes(samples: &[Sample], args: &BenchArgs, info: &RunInfo) -> String {
    let scrapes: u64 = samples
        .iter()
        .filter_map(|s| s.scrape.as_ref())
        .map(|s| s.scrapes)
        .sum();
    let failures: u64 = samples
        .iter()
        .filter_map(|s| s.scrape.as_ref())
        .map(|s| s.failures)
        .sum();
    format!(
        "\nMedians of {} rounds of {} s per measurement; server on core {}, load on core {}; \
{}-byte UDP payloads, throughput window {} datagrams.\n\
- xskd busy-polls: its worker spins at 100% of a core whatever the load, so its CPU per \
operation is the offered load's inverse, not its work. `xskd-backoff` sleeps when idle and \
shows a cost closer to the work done.\n\
- \"process\" CPU is the server's utime+stime (all threads). The kernel does part of its UDP \
work in softirq context charged to whichever task runs, often the client's core on veth; \
\"core busy\" counts everything on the server core.\n\
- Prometheus-style scraping of /metrics ran once a second during every xskd measurement \
({scrapes} scrapes, {failures} failed).\n\
- Machine: Linux {}, {} cores; 1-minute load average {:.2} before, {:.2} after. Each \
measurement keeps about 2 cores busy; much more than that means other work shared the cores \
and the numbers are noisy (the tails first). Before the run, with nothing of ours running, \
the server core was {:.0}% and the load core {:.0}% busy.\n",
        args.rounds,
        args.seconds,
        args.server_core,
        args.load_core,
        args.size,
        args.window,
        info.kernel,
        info.cores,
        info.loadavg_before,
        info.loadavg_after,
        info.background_server_core * 100.0,
        info.background_load_core * 100.0,
    )
}

#[derive(Serialize)]
struct JsonReport<'a> {
    args: &'a BenchArgs,
    run: &'a RunInfo,
    table: Vec<Row>,
    samples: &'a [Sample],
    server_reports: &'a [serde_json::Value],
    /// Measurements (or whole sessions) that failed; the run went on.
    failures: &'a [String],
    markdown: &'a str,
}

/// Write `bench-<unix time>.json` and `.md` to `dir`, and `latest.*`
/// copies; return the JSON's path.
pub fn write(
    dir: &Path,
    args: &BenchArgs,
    samples: &[Sample],
    reports: &[serde_json::Value],
    failures: &[String],
    markdown: &str,
    info: &RunInfo,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let table = rows(samples, args, &super::parts_of(args));
    let report = JsonReport {
        args,
        run: info,
        table,
        samples,
        server_reports: reports,
        failures,
        markdown,
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let json = serde_json::to_string_pretty(&report)?;
    let path = dir.join(format!("bench-{stamp}.json"));
    std::fs::write(&path, &json)?;
    std::fs::write(dir.join(format!("bench-{stamp}.md")), markdown)?;
    std::fs::write(dir.join("latest.json"), &json)?;
    std::fs::write(dir.join("latest.md"), markdown)?;
    Ok(path)
}

/// One line per measurement, printed as the run goes.
pub fn summary(s: &Sample) -> String {
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
            "{:?} {:.0} dgrams/s, loss {:.3}%; {cpu}",
            s.load,
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
    if let Some(h) = &s.handshakes {
        return format!(
            "{:?} {:.0} handshakes/s ({} by {} clients, {} {}); {cpu}",
            s.load, h.per_sec, h.handshakes, h.clients, h.suite, h.group
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
