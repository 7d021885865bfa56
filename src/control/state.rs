//! What the control thread knows: the latest snapshot of every worker and
//! the XDP program's counters. Workers never touch it: the main thread
//! moves their snapshots in from a crossbeam queue; the admin thread reads
//! it under a mutex that is never on the packet path.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::Mutex;
use std::time::Duration;

use crossbeam::channel::Sender;

use serde_json::json;

use super::admin::AdminSource;
use super::metrics::MetricSet;
use crate::daemon::WorkerSnapshot;
use crate::datapath::xdp_prog::XdpCounters;
use crate::worker::ControlCommand;

/// Worker statistics the control plane can export.
pub trait StatsExport: Clone + Send + 'static {
    /// Add this worker's metrics; `labels` identify the worker.
    fn export_metrics(&self, set: &mut MetricSet, labels: &[(&str, &str)]);
    /// Detailed JSON for the exit report.
    fn to_json(&self) -> serde_json::Value;
    /// Latency histograms in nanoseconds: (metric name, help, histogram).
    fn histograms(&self) -> Vec<(&'static str, &'static str, &hdrhistogram::Histogram<u64>)> {
        Vec::new()
    }

    /// Connection rows (JSON objects) for `/connections`.
    fn connections(&self) -> Vec<serde_json::Value> {
        Vec::new()
    }
}

pub struct ControlState<S> {
    pub latest: BTreeMap<u32, WorkerSnapshot<S>>,
    pub xdp: XdpCounters,
    pub workers: usize,
    pub version: &'static str,
}

/// A latency histogram in nanoseconds from 1 ns to 60 s, 3 significant digits.
pub fn new_latency_histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("static bounds are valid")
}

/// Cap on rows in one `/connections` answer (the total is always given).
pub const MAX_CONNECTION_ROWS: usize = 10_000;

impl<S: StatsExport> ControlState<S> {
    /// Loop counters of every worker, for the watchdog: it may only be fed
    /// when each of them moved since the last feeding.
    pub fn worker_loops(&self) -> Vec<(u32, u64)> {
        self.latest
            .iter()
            .map(|(q, s)| (*q, s.loops.loops))
            .collect()
    }

    pub fn new(workers: usize) -> Self {
        ControlState {
            latest: BTreeMap::new(),
            xdp: XdpCounters::default(),
            workers,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    pub fn ingest(&mut self, snap: WorkerSnapshot<S>) {
        self.latest.insert(snap.queue, snap);
    }

    pub fn metrics(&self) -> MetricSet {
        let mut m = MetricSet::default();
        m.gauge(
            "build_info",
            "xskd build.",
            &[("version", self.version)],
            1.0,
        );
        m.gauge(
            "workers",
            "Worker threads configured.",
            &[],
            self.workers as f64,
        );
        m.counter(
            "xdp_redirected_total",
            "Frames the XDP program steered to AF_XDP sockets.",
            &[],
            self.xdp.redirected,
        );
        m.counter(
            "xdp_passed_total",
            "Frames the XDP program passed to the kernel (not ours).",
            &[],
            self.xdp.passed,
        );
        m.counter(
            "xdp_malformed_total",
            "Frames too short for the XDP program to classify.",
            &[],
            self.xdp.malformed,
        );
        m.counter(
            "xdp_no_socket_total",
            "Frames for us on a queue without a bound socket (passed to the kernel).",
            &[],
            self.xdp.no_socket,
        );
        for (q, s) in &self.latest {
            let qs = q.to_string();
            let l: &[(&str, &str)] = &[("queue", &qs), ("worker", &qs)];
            let st = &s.stats;
            m.counter(
                "rx_frames_total",
                "Frames received from the AF_XDP rx ring.",
                l,
                st.xsk.rx_frames,
            );
            m.counter(
                "rx_bytes_total",
                "Bytes received from the AF_XDP rx ring.",
                l,
                st.xsk.rx_bytes,
            );
            m.counter(
                "tx_frames_total",
                "Frames put on the AF_XDP tx ring.",
                l,
                st.xsk.tx_frames,
            );
            m.counter(
                "tx_bytes_total",
                "Bytes put on the AF_XDP tx ring.",
                l,
                st.xsk.tx_bytes,
            );
            m.counter(
                "xsk_wakeups_total",
                "Wakeup syscalls made for the rings.",
                l,
                st.xsk.wakeups,
            );
            let k = &st.kernel;
            for (name, help, v) in [
                (
                    "xsk_rx_dropped_total",
                    "XDP_STATISTICS rx_dropped.",
                    k.rx_dropped,
                ),
                (
                    "xsk_rx_invalid_descs_total",
                    "XDP_STATISTICS rx_invalid_descs.",
                    k.rx_invalid_descs,
                ),
                (
                    "xsk_tx_invalid_descs_total",
                    "XDP_STATISTICS tx_invalid_descs.",
                    k.tx_invalid_descs,
                ),
                (
                    "xsk_rx_ring_full_total",
                    "XDP_STATISTICS rx_ring_full.",
                    k.rx_ring_full,
                ),
                (
                    "xsk_rx_fill_ring_empty_descs_total",
                    "XDP_STATISTICS rx_fill_ring_empty_descs.",
                    k.rx_fill_ring_empty_descs,
                ),
                (
                    "xsk_tx_ring_empty_descs_total",
                    "XDP_STATISTICS tx_ring_empty_descs.",
                    k.tx_ring_empty_descs,
                ),
            ] {
                m.counter(name, help, l, v);
            }
            if let Some(imp) = &st.impair {
                for (direction, c) in [("rx", &imp.rx), ("tx", &imp.tx)] {
                    for (outcome, v) in [
                        ("passed", c.passed),
                        ("dropped", c.dropped),
                        ("duplicated", c.duplicated),
                        ("reordered", c.reordered),
                        ("corrupted", c.corrupted),
                        ("delayed", c.delayed),
                        ("rate_dropped", c.rate_dropped),
                        ("queue_dropped", c.queue_dropped),
                        ("refused", c.refused),
                    ] {
                        let mut ll = l.to_vec();
                        ll.push(("direction", direction));
                        ll.push(("outcome", outcome));
                        m.counter(
                            "impair_frames_total",
                            "Frames through the seeded link impairment, by direction and outcome.",
                            &ll,
                            v,
                        );
                    }
                }
            }
            m.gauge(
                "umem_free_frames",
                "UMEM frames free in the worker's pool.",
                l,
                st.frames_free as f64,
            );
            m.gauge(
                "umem_frames",
                "UMEM frames per queue.",
                l,
                st.frame_count as f64,
            );
            m.gauge(
                "xsk_zero_copy",
                "1 if the socket runs in zero-copy mode.",
                l,
                f64::from(u8::from(st.zero_copy)),
            );
            m.counter(
                "worker_loops_total",
                "Poll loop iterations.",
                l,
                s.loops.loops,
            );
            m.counter(
                "worker_busy_loops_total",
                "Poll loop iterations that moved frames.",
                l,
                s.loops.busy_loops,
            );
            let ratio = if s.loops.loops == 0 {
                0.0
            } else {
                s.loops.busy_loops as f64 / s.loops.loops as f64
            };
            m.gauge(
                "worker_busy_ratio",
                "Share of loop iterations that moved frames.",
                l,
                ratio,
            );
            st.processor.export_metrics(&mut m, l);
            for (name, help, h) in st.processor.histograms() {
                m.histogram_ns(name, help, l, h);
            }
        }
        // Quantiles of every worker merged: the latency of the daemon.
        let mut merged: BTreeMap<&'static str, (&'static str, hdrhistogram::Histogram<u64>)> =
            BTreeMap::new();
        for s in self.latest.values() {
            for (name, help, h) in s.stats.processor.histograms() {
                let e = merged
                    .entry(name)
                    .or_insert_with(|| (help, new_latency_histogram()));
                let _ = e.1.add(h);
            }
        }
        for (name, (help, h)) in &merged {
            let sname = format!("{}_merged_seconds", name.trim_end_matches("_seconds"));
            m.summary_ns(&sname, help, &[], h);
        }
        m
    }

    pub fn report(&self) -> serde_json::Value {
        let queues: Vec<_> = self
            .latest
            .values()
            .map(|s| {
                let q = &s.stats;
                json!({
                    "queue": s.queue,
                    "final": s.final_report,
                    "loops": s.loops.loops,
                    "busy_loops": s.loops.busy_loops,
                    "zero_copy": q.zero_copy,
                    "rx_frames": q.xsk.rx_frames,
                    "rx_bytes": q.xsk.rx_bytes,
                    "tx_frames": q.xsk.tx_frames,
                    "tx_bytes": q.xsk.tx_bytes,
                    "frame_count": q.frame_count,
                    "frames_free": q.frames_free,
                    "frames_accounted": q.frames_accounted,
                    "kernel": {
                        "rx_dropped": q.kernel.rx_dropped,
                        "rx_invalid_descs": q.kernel.rx_invalid_descs,
                        "tx_invalid_descs": q.kernel.tx_invalid_descs,
                        "rx_ring_full": q.kernel.rx_ring_full,
                        "rx_fill_ring_empty_descs": q.kernel.rx_fill_ring_empty_descs,
                        "tx_ring_empty_descs": q.kernel.tx_ring_empty_descs,
                    },
                    "stack": q.processor.to_json(),
                })
            })
            .collect();
        let x = &self.xdp;
        json!({
            "queues": queues,
            "xdp": { "redirected": x.redirected, "passed": x.passed, "malformed": x.malformed, "no_socket": x.no_socket },
        })
    }

    /// `/connections`: rows of every worker, filtered by `state=` and
    /// `port=` (local or remote), capped, with the total before the cap.
    pub fn connections(&self, query: &str) -> serde_json::Value {
        let mut state = None;
        let mut port = None;
        let mut limit = MAX_CONNECTION_ROWS;
        for kv in query.split('&') {
            match kv.split_once('=') {
                Some(("state", v)) => state = Some(v.to_ascii_uppercase().replace('-', "_")),
                Some(("port", v)) => port = v.parse::<u64>().ok(),
                Some(("limit", v)) => limit = v.parse().unwrap_or(limit).min(MAX_CONNECTION_ROWS),
                _ => {}
            }
        }
        let mut rows = Vec::new();
        let mut total = 0usize;
        for s in self.latest.values() {
            for mut c in s.stats.processor.connections() {
                let st_ok = state.as_deref().is_none_or(|want| {
                    c["state"]
                        .as_str()
                        .map(|x| x.to_ascii_uppercase().replace('-', "_"))
                        == Some(want.to_string())
                });
                let port_ok = port.is_none_or(|p| {
                    c["local_port"].as_u64() == Some(p) || c["remote_port"].as_u64() == Some(p)
                });
                if st_ok && port_ok {
                    total += 1;
                    if rows.len() < limit {
                        c["worker"] = json!(s.queue);
                        rows.push(c);
                    }
                }
            }
        }
        json!({ "total": total, "returned": rows.len(), "connections": rows })
    }
}

/// What the admin endpoint serves from: the control state (behind a mutex
/// only the control and admin threads take) and the workers' command queues.
pub struct Control<S> {
    pub state: Mutex<ControlState<S>>,
    pub commands: Vec<Sender<ControlCommand>>,
}

/// Longest an operator probe may run.
const MAX_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

impl<S: StatsExport> Control<S> {
    /// `/actions/stall?worker=N&ms=M`: block worker N for M ms (at most 30 s).
    fn stall(&self, query: &str) -> (u16, String) {
        let mut worker = 0usize;
        let mut ms = 1000u64;
        for kv in query.split('&') {
            match kv.split_once('=') {
                Some(("worker", v)) => worker = v.parse().unwrap_or(usize::MAX),
                Some(("ms", v)) => ms = v.parse().unwrap_or(ms),
                _ => {}
            }
        }
        let duration = Duration::from_millis(ms).min(MAX_PROBE_TIMEOUT);
        match self.commands.get(worker) {
            Some(q) if q.try_send(ControlCommand::Stall { duration }).is_ok() => (
                200,
                json!({"stalled_worker": worker, "ms": duration.as_millis() as u64}).to_string(),
            ),
            Some(_) => (
                503,
                json!({"error": "worker command queue full"}).to_string(),
            ),
            None => (
                400,
                json!({"error": format!("no worker {worker}")}).to_string(),
            ),
        }
    }

    /// `/actions/tcp-probe?target=IP:PORT[&timeout_ms=N][&worker=N]`, body =
    /// bytes to send.
    fn tcp_probe(&self, query: &str, body: &[u8]) -> (u16, String) {
        let mut target = None;
        let mut timeout = Duration::from_secs(5);
        let mut worker = 0usize;
        for kv in query.split('&') {
            match kv.split_once('=') {
                Some(("target", v)) => target = v.parse::<SocketAddrV4>().ok(),
                Some(("timeout_ms", v)) => {
                    timeout = v
                        .parse()
                        .map(Duration::from_millis)
                        .unwrap_or(timeout)
                        .min(MAX_PROBE_TIMEOUT)
                }
                Some(("worker", v)) => worker = v.parse().unwrap_or(usize::MAX),
                _ => {}
            }
        }
        let Some(target) = target else {
            return (
                400,
                json!({"error": "target=IPv4:PORT is required"}).to_string(),
            );
        };
        let Some(queue) = self.commands.get(worker) else {
            return (
                400,
                json!({"error": format!("no worker {worker}")}).to_string(),
            );
        };
        let (tx, rx) = crossbeam::channel::bounded(1);
        let cmd = ControlCommand::TcpProbe {
            target,
            payload: body.to_vec(),
            timeout,
            reply: tx,
        };
        if queue.try_send(cmd).is_err() {
            return (
                503,
                json!({"error": "worker command queue full"}).to_string(),
            );
        }
        match rx.recv_timeout(timeout + Duration::from_secs(1)) {
            Ok(Ok(o)) => (
                200,
                json!({
                    "target": o.target.to_string(),
                    "local_port": o.local_port,
                    "connect_time_us": o.connect_time.as_micros() as u64,
                    "bytes_sent": o.bytes_sent,
                    "answer_len": o.answer_len,
                    "answer": String::from_utf8_lossy(&o.answer),
                    "final_state": o.final_state,
                })
                .to_string(),
            ),
            Ok(Err(e)) => (502, json!({"error": e.to_string()}).to_string()),
            Err(_) => (
                504,
                json!({"error": "the worker did not answer in time"}).to_string(),
            ),
        }
    }
}

impl<S: StatsExport> AdminSource for Control<S> {
    fn metrics_text(&self) -> String {
        let set = self.state.lock().map(|s| s.metrics()).unwrap_or_default();
        set.encode_text()
    }

    fn connections_json(&self, query: &str) -> String {
        self.state
            .lock()
            .map(|s| s.connections(query).to_string())
            .unwrap_or_else(|_| "{}".into())
    }

    fn health(&self) -> (bool, String) {
        match self.state.lock() {
            Ok(s) => {
                let reporting = s.latest.len();
                let ok = reporting == s.workers;
                (
                    ok,
                    json!({ "healthy": ok, "workers": s.workers, "workers_reporting": reporting })
                        .to_string(),
                )
            }
            Err(_) => (false, "{\"healthy\":false}".into()),
        }
    }

    fn post(&self, path: &str, query: &str, body: &[u8]) -> (u16, String) {
        match path {
            "/actions/tcp-probe" => self.tcp_probe(query, body),
            "/actions/stall" => self.stall(query),
            _ => (
                404,
                json!({"error": "unknown action; try /actions/tcp-probe"}).to_string(),
            ),
        }
    }
}
