//! Startup and shutdown of the data plane: load and attach the XDP program,
//! bind one AF_XDP socket per configured queue, run one pinned worker per
//! socket, and take it all down again on SIGINT/SIGTERM.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use crossbeam::channel::{self, Receiver};

use crate::config::{Config, ImpairConfig, QueueConfig};
use crate::datapath::impair::{ImpairCounters, Impaired};
use crate::datapath::xdp_prog::{XdpCounters, XdpProgram};
use crate::datapath::xsk::{XskCounters, XskKernelStats, XskSocket};
use crate::worker::{self, FrameProcessor, LoopStats, Place, WorkerOptions};

/// What one worker reports: its processor's stats plus its socket's books.
#[derive(Clone, Debug)]
pub struct QueueStats<S> {
    pub processor: S,
    pub xsk: XskCounters,
    pub kernel: XskKernelStats,
    pub frames_free: usize,
    pub frames_accounted: usize,
    pub frame_count: usize,
    pub zero_copy: bool,
    /// The link impairment's books when `[impair]` is configured.
    pub impair: Option<ImpairCounters>,
}

/// A queue's socket, bare or behind the configured impairment. One per
/// worker, built once: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Port {
    Plain(XskSocket),
    Impaired(Impaired<XskSocket>),
}

/// Each queue gets its own stream from the seed, so workers do not drop
/// in lockstep.
/// Every pinned core must be one this process may run on: under `taskset`
/// or a unit's `CPUAffinity=` the allowed set is not `0..count`, so a core
/// is checked by id, and the error lists the ids that would work.
fn check_cores(queues: &[QueueConfig], allowed: &[usize]) -> Result<()> {
    for q in queues {
        let Some(core) = q.core else { continue };
        if !allowed.contains(&core) {
            let ids: Vec<String> = allowed.iter().map(usize::to_string).collect();
            bail!(
                "interface.queues: core {core} for queue {} is not one this process may run on \
                 (allowed CPU ids: {}; see `taskset -p $$` or the unit's CPUAffinity=): \
                 pick one of those or drop `core` to leave the worker unpinned",
                q.queue,
                if ids.is_empty() {
                    "unknown".to_string()
                } else {
                    ids.join(", ")
                }
            );
        }
    }
    Ok(())
}

fn queue_impairment(cfg: &ImpairConfig, queue: u32) -> ImpairConfig {
    ImpairConfig {
        seed: cfg.seed ^ u64::from(queue).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        ..cfg.clone()
    }
}

/// Sent by a worker to the control thread now and then, and once at exit.
#[derive(Clone, Debug)]
pub struct WorkerSnapshot<S> {
    pub queue: u32,
    pub stats: QueueStats<S>,
    pub loops: LoopStats,
    pub final_report: bool,
}

/// The data plane, running.
pub struct DataPlane<S: Clone + Send + 'static> {
    program: XdpProgram,
    stop: Arc<AtomicBool>,
    workers: Vec<thread::JoinHandle<()>>,
    pub snapshots: Receiver<WorkerSnapshot<S>>,
    /// One command queue per worker, in `interface.queues` order.
    pub commands: Vec<channel::Sender<worker::ControlCommand>>,
}

impl<S: Clone + Send + 'static> DataPlane<S> {
    /// Bring the data plane up. `make` builds the processor of each queue
    /// (called on the worker's own thread, after pinning).
    pub fn start<P, F>(config: &Config, make: F) -> Result<Self>
    where
        P: FrameProcessor<Stats = S> + 'static,
        F: Fn(Place) -> Result<P> + Send + Sync + 'static,
    {
        let iface = &config.interface.name;
        if !crate::datapath::iface::exists(iface) {
            bail!("interface {iface:?} does not exist (config key interface.name; see `ip link`)");
        }
        if let Some(n) = crate::datapath::iface::rx_queue_count(iface) {
            for q in &config.interface.queues {
                if q.queue >= n {
                    bail!(
                        "interface.queues: queue {} does not exist on {iface}, which has {n} rx queue(s) (see `ethtool -l {iface}`)",
                        q.queue
                    );
                }
            }
        }
        let allowed: Vec<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        check_cores(&config.interface.queues, &allowed)?;
        let mut program =
            XdpProgram::load_and_attach(iface, config.ipv4().addr, config.interface.xdp_mode)?;
        let mut sockets = Vec::new();
        for q in &config.interface.queues {
            let sock = XskSocket::bind(
                iface,
                q.queue,
                &config.umem,
                config.interface.xdp_mode,
                config.interface.zero_copy,
                config.interface.need_wakeup,
            )?;
            program
                .insert_socket(q.queue, sock.fd())
                .with_context(|| format!("steering queue {} to its socket", q.queue))?;
            tracing::info!(
                queue = q.queue,
                zero_copy = sock.is_zero_copy(),
                "AF_XDP socket bound"
            );
            sockets.push((*q, sock));
        }

        let stop = worker::stop_flag();
        let (snap_tx, snap_rx) = channel::bounded(1024);
        let make = Arc::new(make);
        let impair = config.impair.clone();
        let frame_size = config.umem.frame_size as usize;
        let mut workers = Vec::new();
        let mut commands = Vec::new();
        let worker_count = sockets.len();
        let frame_len = crate::wire::ETHERNET_HEADER_LEN + config.address.mtu;
        let mut meshes = worker::Mesh::connect(worker_count, frame_len).into_iter();
        let (ready_tx, ready_rx) = channel::bounded::<Result<(), String>>(sockets.len());
        for (index, (q, sock)) in sockets.into_iter().enumerate() {
            let place = Place {
                index,
                count: worker_count,
                queue: q.queue,
            };
            let impair = impair.clone();
            let stop = stop.clone();
            let snap_tx = snap_tx.clone();
            let make = make.clone();
            let ready_tx = ready_tx.clone();
            let mesh = if worker_count > 1 {
                meshes.next().expect("one mesh end per worker")
            } else {
                worker::Mesh::alone()
            };
            let (cmd_tx, cmd_rx) = channel::bounded(64);
            commands.push(cmd_tx);
            let mut mesh = mesh.with_commands(cmd_rx);
            let opts = WorkerOptions {
                queue: q.queue,
                batch: config.umem.batch as usize,
                poll: config.worker.poll,
                report_every: Duration::from_millis(250),
                drain: Duration::from_secs(config.worker.drain_secs),
            };
            let handle = thread::Builder::new()
                .name(format!("xskd-q{}", q.queue))
                .spawn(move || {
                    if let Some(core) = q.core {
                        if !worker::pin_to_core(core) {
                            tracing::warn!(queue = q.queue, core, "could not pin worker");
                        }
                    }
                    let port = match &impair {
                        None => Ok(Port::Plain(sock)),
                        Some(cfg) => {
                            Impaired::new(sock, &queue_impairment(cfg, q.queue), frame_size)
                                .map(Port::Impaired)
                        }
                    };
                    let mut port = match port {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("queue {}: {e}", q.queue)));
                            return;
                        }
                    };
                    let mut proc = match make(place) {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("queue {}: {e:#}", q.queue)));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let queue = q.queue;
                    let report = |sock: &XskSocket,
                                  impair: Option<ImpairCounters>,
                                  proc: &P,
                                  loops: LoopStats,
                                  final_report: bool| {
                        let snap = WorkerSnapshot {
                            queue,
                            stats: QueueStats {
                                processor: proc.stats(),
                                xsk: sock.counters(),
                                kernel: sock.kernel_stats(),
                                frames_free: sock.frames_free(),
                                frames_accounted: sock.frames_accounted(),
                                frame_count: sock.frame_count(),
                                zero_copy: sock.is_zero_copy(),
                                impair,
                            },
                            loops,
                            final_report,
                        };
                        if final_report {
                            let _ = snap_tx.send(snap);
                        } else {
                            // Never block the data path on the control plane.
                            let _ = snap_tx.try_send(snap);
                        }
                    };
                    match &mut port {
                        Port::Plain(sock) => {
                            worker::run(sock, &mut proc, &opts, &stop, &mut mesh, |s, p, l, f| {
                                report(s, None, p, l, f)
                            })
                        }
                        Port::Impaired(dp) => {
                            worker::run(dp, &mut proc, &opts, &stop, &mut mesh, |d, p, l, f| {
                                report(d.inner(), Some(d.counters()), p, l, f)
                            })
                        }
                    }
                })
                .context("spawning a worker thread")?;
            workers.push(handle);
        }
        drop(ready_tx);
        let mut dp = DataPlane {
            program,
            stop,
            workers,
            snapshots: snap_rx,
            commands,
        };
        for _ in 0..dp.workers.len() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    dp.shutdown();
                    bail!("worker failed to start: {e}");
                }
                Err(_) => {
                    dp.shutdown();
                    bail!("a worker thread exited during startup");
                }
            }
        }
        Ok(dp)
    }

    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    pub fn xdp_counters(&self) -> XdpCounters {
        self.program.counters()
    }

    /// Tell the workers to stop (they drain first) without waiting.
    pub fn begin_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// True once every worker thread has returned.
    pub fn workers_finished(&self) -> bool {
        self.workers.iter().all(|w| w.is_finished())
    }

    /// Stop the workers, wait for them, detach the program.
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.program.detach();
    }
}

impl<S: Clone + Send + 'static> Drop for DataPlane<S> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(queue: u32, core: Option<usize>) -> QueueConfig {
        QueueConfig { queue, core }
    }

    #[test]
    fn a_pinned_core_is_checked_by_id_not_by_count() {
        // Allowed set {1} (taskset -c 1): core 1 exists though the count is 1.
        assert!(check_cores(&[q(0, Some(1))], &[1]).is_ok());
        let e = check_cores(&[q(0, Some(0))], &[1]).unwrap_err().to_string();
        assert!(e.contains("core 0 for queue 0"), "{e}");
        assert!(e.contains("allowed CPU ids: 1"), "{e}");
        let e = check_cores(&[q(0, None), q(1, Some(3))], &[0, 2])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("core 3 for queue 1") && e.contains("0, 2"),
            "{e}"
        );
        assert!(check_cores(&[q(0, None)], &[]).is_ok());
    }
}
