//! The HTTP and bulk loads: wrk (requests/s, latency percentiles) and curl
//! (one large GET, bytes/s) in the peer namespace, their output parsed, and
//! the nginx baseline's configuration.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// What one wrk run reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpResult {
    pub requests: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_us: f64,
    pub p75_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    /// wrk's socket errors: connect + read + write + timeout.
    pub socket_errors: u64,
    /// Responses with a status outside 2xx/3xx.
    pub non_2xx: u64,
}

/// What one large GET reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkResult {
    pub bytes: u64,
    pub seconds: f64,
    pub gbit_per_s: f64,
    /// Whether TSO/GSO/GRO (and tx checksumming) were on on xskd's veth end.
    pub offloads: bool,
}

/// A wrk time ("38.21us", "1.20ms", "2.00s", "1.50m") in microseconds.
pub fn wrk_time_us(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(v * scale)
}

/// Parse the output of `wrk --latency`.
pub fn parse_wrk(text: &str) -> Result<HttpResult> {
    let mut r = HttpResult::default();
    let mut have_total = false;
    let mut have_rps = false;
    for line in text.lines().map(str::trim) {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [pct, t] if pct.ends_with('%') => {
                let us = wrk_time_us(t).with_context(|| format!("wrk latency {t:?}"))?;
                match *pct {
                    "50%" => r.p50_us = us,
                    "75%" => r.p75_us = us,
                    "90%" => r.p90_us = us,
                    "99%" => r.p99_us = us,
                    _ => {}
                }
            }
            // "100000 requests in 5.00s, 20.00MB read"
            [n, "requests", "in", secs, ..] => {
                r.requests = n.parse().with_context(|| format!("wrk requests {n:?}"))?;
                let secs = secs.trim_end_matches(',');
                r.seconds = wrk_time_us(secs).with_context(|| format!("wrk time {secs:?}"))? / 1e6;
                have_total = true;
            }
            ["Requests/sec:", v] => {
                r.rps = v
                    .parse()
                    .with_context(|| format!("wrk Requests/sec {v:?}"))?;
                have_rps = true;
            }
            // "Socket errors: connect 0, read 0, write 0, timeout 0"
            ["Socket", "errors:", rest @ ..] => {
                r.socket_errors = rest
                    .iter()
                    .filter_map(|x| x.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                r.non_2xx = n.parse().with_context(|| format!("wrk non-2xx {n:?}"))?;
            }
            _ => {}
        }
    }
    if !have_total || !have_rps {
        bail!("wrk printed no totals:\n{text}");
    }
    Ok(r)
}

/// Parse curl's `-w '%{speed_download} %{size_download} %{http_code}
/// %{time_total}'`: (bytes/s, bytes, status, seconds).
pub fn parse_curl(text: &str) -> Result<(f64, u64, u16, f64)> {
    let f: Vec<&str> = text.split_whitespace().collect();
    let [speed, size, code, total] = f.as_slice() else {
        bail!("unexpected curl output {text:?}");
    };
    Ok((
        speed.parse().context("curl speed_download")?,
        size.parse().context("curl size_download")?,
        code.parse().context("curl http_code")?,
        total.parse().context("curl time_total")?,
    ))
}

/// `wrk` arguments for one run.
pub fn wrk_args(url: &str, seconds: f64, conns: u32, close: bool) -> Vec<String> {
    let mut a = vec![
        "-t1".to_string(),
        format!("-c{conns}"),
        // wrk takes whole seconds.
        format!("-d{}s", seconds.ceil().max(1.0) as u64),
        "--timeout".into(),
        "2s".into(),
        "--latency".into(),
    ];
    if close {
        a.extend(["-H".into(), "Connection: close".into()]);
    }
    a.push(url.into());
    a
}

/// Run `cmd`, killing it past `limit`; stdout and stderr are collected.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let mut out = child.stdout.take().context("piped stdout")?;
    let mut err = child.stderr.take().context("piped stderr")?;
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}

/// nginx's configuration for the baseline: one worker pinned to `core`,
/// no access log, sendfile, everything it writes under `dir`.
pub fn nginx_conf(dir: &Path, root: &Path, listen: &str, core: usize) -> String {
    // worker_cpu_affinity takes a bit mask, lowest core rightmost.
    let mask = format!("1{}", "0".repeat(core));
    let d = dir.display();
    format!(
        "worker_processes 1;\n\
worker_cpu_affinity {mask};\n\
daemon off;\n\
master_process on;\n\
pid {d}/nginx.pid;\n\
error_log {d}/error.log warn;\n\
events {{ worker_connections 4096; }}\n\
http {{\n\
    access_log off;\n\
    sendfile on;\n\
    tcp_nopush on;\n\
    tcp_nodelay on;\n\
    keepalive_requests 1000000;\n\
    keepalive_timeout 60s;\n\
    default_type application/octet-stream;\n\
    client_body_temp_path {d}/client_body;\n\
    proxy_temp_path {d}/proxy;\n\
    fastcgi_temp_path {d}/fastcgi;\n\
    uwsgi_temp_path {d}/uwsgi;\n\
    scgi_temp_path {d}/scgi;\n\
    server {{\n\
        listen {listen} reuseport backlog=4096;\n\
        root {};\n\
    }}\n\
}}\n",
        root.display()
    )
}
