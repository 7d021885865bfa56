//! The cost of xskd's worker thread (`xskd-q0`) itself during a
//! measurement: user-space cycles and instructions from `perf stat -t`
//! where the machine has hardware counters, and the thread's utime from
//! /proc always (the fallback where perf cannot count: VMs without a
//! virtual PMU say `<not supported>`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::cpu::ticks_per_sec;
use super::http::run_bounded;
use super::metrics::Metric;
use super::{Load, Sample};

/// The events counted; `:u` keeps the kernel's share (AF_XDP syscalls,
/// the veth) out, so the number is xskd's own code.
const EVENTS: &str = "cycles:u,instructions:u";
/// How long `perf stat` may take to print and exit after SIGINT.
const PERF_EXIT: Duration = Duration::from_secs(3);
/// The bulk GET's per-frame unit: a full TCP segment with timestamps on a
/// 1500-byte MTU (1500 - 20 - 20 - 12).
pub const BULK_SEGMENT: f64 = 1448.0;

/// What the worker thread did during one measurement.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WorkerCounters {
    pub tid: u32,
    /// `perf stat` counts; None where perf could not count.
    pub cycles_u: Option<u64>,
    pub instructions_u: Option<u64>,
    /// The thread's utime, from /proc/PID/task/TID/stat (clock ticks).
    pub utime_s: f64,
}

/// Whether `perf stat -e cycles:u,instructions:u` counts here: Ok, or why
/// not. Bounded: a hung perf is killed.
pub fn perf_usable() -> Result<(), String> {
    let mut cmd = Command::new("perf");
    cmd.args(["stat", "-x,", "-e", EVENTS, "--", "true"]);
    let out = run_bounded(&mut cmd, Duration::from_secs(10))
        .map_err(|e| format!("running perf: {e:#} (apt-get install linux-perf)"))?;
    let text = String::from_utf8_lossy(&out.stderr);
    match parse_perf(&text) {
        (Some(_), Some(_)) => Ok(()),
        _ => Err(format!(
            "perf cannot count {EVENTS} here (cycles:u: {})",
            text.lines()
                .find(|l| l.contains("cycles:u"))
                .and_then(|l| l.split(',').next())
                .unwrap_or(text.trim())
                .trim()
        )),
    }
}

/// (cycles:u, instructions:u) from `perf stat -x,` output; None for an
/// event perf did not count (`<not supported>`, `<not counted>`).
pub fn parse_perf(text: &str) -> (Option<u64>, Option<u64>) {
    let value = |event: &str| {
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.get(2).map(|e| e.trim()) == Some(event))
                .then(|| f[0].trim().parse::<u64>().ok())
                .flatten()
        })
    };
    (value("cycles:u"), value("instructions:u"))
}

/// The tid of `pid`'s first worker thread (`xskd-q<N>`).
pub fn worker_tid(pid: u32) -> Result<u32> {
    let dir = format!("/proc/{pid}/task");
    let mut tids: Vec<u32> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {dir}"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|t| {
            std::fs::read_to_string(format!("{dir}/{t}/comm"))
                .is_ok_and(|c| c.trim().starts_with("xskd-q"))
        })
        .collect();
    tids.sort_unstable();
    tids.first()
        .copied()
        .with_context(|| format!("xskd (pid {pid}) has no xskd-q* worker thread"))
}

/// utime, in clock ticks, from the text of /proc/PID/task/TID/stat.
pub fn stat_utime(text: &str) -> Result<u64> {
    // As in cpu::stat_ticks: fields after the ')' of the name, utime is
    // the 12th of them.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed stat")?;
    match rest.split_whitespace().nth(11) {
        Some(u) => Ok(u.parse()?),
        None => bail!("short stat"),
    }
}

fn thread_utime(pid: u32, tid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/task/{tid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    Ok(stat_utime(&text)? as f64 / ticks_per_sec())
}

/// Counting one worker thread from `start` to `finish`.
pub struct WorkerProbe {
    pid: u32,
    tid: u32,
    utime0: f64,
    perf: Option<Child>,
}

impl WorkerProbe {
    /// Start counting xskd's worker; `perf` only when `perf_usable`
    /// said so. perf runs pinned to `core` (the load core: it only waits).
    pub fn start(pid: u32, perf: bool, core: usize) -> Result<WorkerProbe> {
        let tid = worker_tid(pid)?;
        let utime0 = thread_utime(pid, tid)?;
        let perf = if perf {
            let child = Command::new("taskset")
                .args(["-c", &core.to_string(), "perf", "stat", "-x,", "-e", EVENTS])
                .args(["-t", &tid.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| eprintln!("xskd-bench: warning: starting perf stat: {e}"))
                .ok();
            // perf attaches its counters a few milliseconds after exec;
            // give it that before the load starts.
            std::thread::sleep(Duration::from_millis(50));
            child
        } else {
            None
        };
        Ok(WorkerProbe {
            pid,
            tid,
            utime0,
            perf,
        })
    }

    /// Stop counting. A perf that fails or hangs costs the cycles, with a
    /// warning, never the measurement.
    pub fn finish(mut self) -> Result<WorkerCounters> {
        let utime_s = thread_utime(self.pid, self.tid)? - self.utime0;
        let (cycles_u, instructions_u) = match self.perf.take() {
            Some(child) => stop_perf(child).unwrap_or_else(|e| {
                eprintln!("xskd-bench: warning: perf stat: {e:#}");
                (None, None)
            }),
            None => (None, None),
        };
        Ok(WorkerCounters {
            tid: self.tid,
            cycles_u,
            instructions_u,
            utime_s,
        })
    }
}

impl Drop for WorkerProbe {
    /// A probe dropped on an error path must not leave perf running.
    fn drop(&mut self) {
        if let Some(mut child) = self.perf.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// SIGINT makes `perf stat` print its counts and exit.
fn stop_perf(mut child: Child) -> Result<(Option<u64>, Option<u64>)> {
    // By its pid, which is ours: `taskset` execs perf.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .context("signalling perf")?;
    if !status.success() {
        bail!("kill -INT {} failed", child.id());
    }
    let until = Instant::now() + PERF_EXIT;
    while child.try_wait()?.is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            bail!("perf stat did not exit within {PERF_EXIT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output()?;
    Ok(parse_perf(&String::from_utf8_lossy(&out.stderr)))
}

/// Operations of a sample in the worker rows' unit: the bulk GET's bytes
/// become full segments, everything else is counted as `ops` already is.
fn worker_ops(s: &Sample) -> Option<f64> {
    let ops = if s.load == Load::Bulk {
        s.ops as f64 / BULK_SEGMENT
    } else {
        s.ops as f64
    };
    (ops > 0.0).then_some(ops)
}

/// The label suffix of the perf rows; the table shows `n/a` in them where
/// perf could not count.
pub const PERF_TAG: &str = "(perf cycles:u)";

/// Two rows for `load`: the worker's user cycles per `op` (perf) and its
/// user time per `op` (thread utime, the fallback).
pub(super) fn worker_metrics(load: Load, op: &str) -> Vec<Metric> {
    vec![
        Metric {
            label: format!("xskd worker user cycles per {op} {PERF_TAG}"),
            load,
            read: |s| {
                let w = s.worker.as_ref()?;
                Some(w.cycles_u? as f64 / worker_ops(s)?)
            },
            goal: None,
            digits: 0,
        },
        Metric {
            label: format!("xskd worker user time per {op} (ns, thread utime)"),
            load,
            read: |s| {
                let w = s.worker.as_ref()?;
                Some(w.utime_s * 1e9 / worker_ops(s)?)
            },
            goal: None,
            digits: 0,
        },
    ]
}

/// The table's note on the worker rows.
pub fn note(perf_unavailable: Option<&str>) -> String {
    let source = match perf_unavailable {
        None => format!(
            "`perf stat -e {EVENTS} -t TID` on the worker thread (`xskd-q0`), started before \
and stopped (SIGINT) after each xskd measurement"
        ),
        Some(why) => format!(
            "**perf unavailable** ({why}), so the `{PERF_TAG}` rows are n/a; the \
`thread utime` rows come from /proc/PID/task/TID/stat of the worker thread (`xskd-q0`), \
in clock ticks (10 ms: coarse for a 1-second measurement)"
        ),
    };
    format!(
        "- xskd worker rows: user-space cost of xskd's worker thread alone, no kernel time \
(AF_XDP syscalls, the veth) and no other thread: {source}. Divided by the same operations as \
the CPU rows (for the bulk GET: bytes / 1448, full segments). A busy-polling worker spends \
cycles spinning when idle too, so these are an upper bound on the work per operation except \
under a load that keeps it busy.\n"
    )
}
