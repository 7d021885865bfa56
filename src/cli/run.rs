//! `xskd run`: the daemon's main thread.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;
use xskd::config::Config;
use xskd::daemon::{DataPlane, WorkerSnapshot};
use xskd::worker::FrameProcessor;

use super::processor;

pub fn run(config_path: &Path) -> Result<()> {
    let config =
        Config::load(config_path).with_context(|| format!("loading {}", config_path.display()))?;
    let setup = processor::Setup::from_config(&config)?;
    let mut dp = DataPlane::start(&config, move |queue| setup.make(queue))?;
    let stop = dp.stop_flag();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let cidr = config.ipv4();
    println!(
        "xskd: ready: serving {}/{} on {} queues {:?}",
        cidr.addr,
        cidr.prefix_len,
        config.interface.name,
        config
            .interface
            .queues
            .iter()
            .map(|q| q.queue)
            .collect::<Vec<_>>()
    );
    let mut latest = BTreeMap::new();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(s) = dp.snapshots.recv_timeout(Duration::from_millis(100)) {
            latest.insert(s.queue, s);
        }
    }
    tracing::info!("stopping");
    dp.shutdown();
    while let Ok(s) = dp.snapshots.try_recv() {
        latest.insert(s.queue, s);
    }
    let report = report(&latest, &dp);
    println!("xskd-report {report}");
    Ok(())
}

fn report<S: Serialize + Clone + Send + 'static>(
    latest: &BTreeMap<u32, WorkerSnapshot<S>>,
    dp: &DataPlane<S>,
) -> serde_json::Value {
    let queues: Vec<_> = latest
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
                "stack": serde_json::to_value(&q.processor).unwrap_or_default(),
            })
        })
        .collect();
    let x = dp.xdp_counters();
    json!({
        "queues": queues,
        "xdp": { "redirected": x.redirected, "passed": x.passed, "malformed": x.malformed, "no_socket": x.no_socket },
    })
}

#[allow(dead_code)]
fn assert_processor<P: FrameProcessor>() {}
