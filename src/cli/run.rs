//! `xskd run`: the daemon's main thread. It owns the control state: it moves
//! worker snapshots in from the lock-free queue, refreshes the XDP program's
//! counters, serves the admin endpoint, and prints the exit report.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use xskd::config::{Config, ProcessorKind};
use xskd::control::admin::AdminServer;
use xskd::control::notify::Notifier;
use xskd::control::state::{Control, ControlState, StatsExport};
use xskd::daemon::DataPlane;
use xskd::worker::FrameProcessor;

use super::processor;

pub fn run(config_path: &Path) -> Result<()> {
    let config =
        Config::load(config_path).with_context(|| format!("loading {}", config_path.display()))?;
    match config.worker.processor {
        ProcessorKind::Stack => {
            let setup = processor::StackSetup::from_config(&config)?;
            serve(&config, move |place| setup.make(place))
        }
        ProcessorKind::Reflector => serve(&config, processor::reflector),
    }
}

fn serve<P, F>(config: &Config, make: F) -> Result<()>
where
    P: FrameProcessor + 'static,
    P::Stats: StatsExport,
    F: Fn(xskd::worker::Place) -> Result<P> + Send + Sync + 'static,
{
    let mut dp = DataPlane::start(config, make)?;
    let stop = dp.stop_flag();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let control = Arc::new(Control {
        state: Mutex::new(ControlState::new(config.interface.queues.len())),
        commands: dp.commands.clone(),
    });
    let state = &control.state;
    let admin = match config.admin.listen {
        Some(addr) => Some(AdminServer::start(addr, control.clone())?),
        None => None,
    };
    let cidr = config.ipv4();
    println!(
        "xskd: ready: serving {}/{} on {} queues {:?}, admin {}",
        cidr.addr,
        cidr.prefix_len,
        config.interface.name,
        config
            .interface
            .queues
            .iter()
            .map(|q| q.queue)
            .collect::<Vec<_>>(),
        admin
            .as_ref()
            .map_or("off".to_string(), |a| format!("http://{}", a.local_addr()))
    );
    let notifier = Notifier::from_env();
    if let Some(n) = &notifier {
        // Only now: the program is attached and every socket is bound.
        n.ready(&format!(
            "serving {} on {}",
            cidr.addr, config.interface.name
        ));
    }
    let watchdog_every = notifier.as_ref().and_then(Notifier::watchdog_every);
    let mut next_watchdog = Instant::now();
    let mut last_loops: Vec<(u32, u64)> = Vec::new();
    let mut next_xdp = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let (Some(n), Some(every)) = (&notifier, watchdog_every) {
            if Instant::now() >= next_watchdog {
                next_watchdog = Instant::now() + every;
                let loops = state.lock().expect("control state lock").worker_loops();
                // Fed only while every worker reports and its loop advanced.
                let progressing = loops.len() == config.interface.queues.len()
                    && loops.iter().all(|(q, l)| {
                        last_loops
                            .iter()
                            .find(|(lq, _)| lq == q)
                            .is_none_or(|(_, prev)| l > prev)
                    });
                if progressing {
                    n.watchdog();
                } else {
                    tracing::warn!("a worker made no progress: withholding the watchdog");
                }
                last_loops = loops;
            }
        }
        if let Ok(s) = dp.snapshots.recv_timeout(Duration::from_millis(50)) {
            let mut st = state.lock().expect("control state lock");
            st.ingest(s);
            while let Ok(s) = dp.snapshots.try_recv() {
                st.ingest(s);
            }
        }
        if Instant::now() >= next_xdp {
            next_xdp = Instant::now() + Duration::from_millis(250);
            let x = dp.xdp_counters();
            state.lock().expect("control state lock").xdp = x;
        }
    }
    tracing::info!("stopping: draining connections, then detaching XDP");
    if let Some(n) = &notifier {
        n.stopping();
    }
    // Workers drain for up to `worker.drain_secs`: keep taking their
    // snapshots so /metrics and /connections show the drain as it happens.
    dp.begin_stop();
    while !dp.workers_finished() {
        if let Ok(s) = dp.snapshots.recv_timeout(Duration::from_millis(50)) {
            let mut st = state.lock().expect("control state lock");
            st.ingest(s);
            while let Ok(s) = dp.snapshots.try_recv() {
                st.ingest(s);
            }
        }
    }
    let xdp = dp.xdp_counters();
    dp.shutdown();
    drop(admin);
    let mut st = state.lock().expect("control state lock");
    while let Ok(s) = dp.snapshots.try_recv() {
        st.ingest(s);
    }
    st.xdp = xdp;
    println!("xskd-report {}", st.report());
    Ok(())
}
