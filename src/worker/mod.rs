//! The per-core poll loop: rx batch -> stack -> tx batch -> reclaim
//! completions -> refill. The only place that reads the real clock.

pub mod node;
pub mod reflector;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::net::Ipv4Addr;

use crossbeam::channel::{bounded, Receiver, Sender};

use crate::config::PollMode;
use crate::datapath::{Datapath, TxSink};
use crate::time::Instant;
use crate::wire::EthernetAddress;

/// What a worker runs on its frames: the protocol stack in production, a
/// bare reflector for datapath benchmarks, a fake in tests.
pub trait FrameProcessor {
    type Stats: Clone + Send + 'static;

    fn start(&mut self, now: Instant, tx: &mut impl TxSink);
    fn process_frame(&mut self, now: Instant, frame: &[u8], tx: &mut impl TxSink);
    /// Timers and output not triggered by a received frame.
    fn poll(&mut self, now: Instant, tx: &mut impl TxSink);
    /// Next instant `poll` has work, if any.
    fn poll_at(&self) -> Option<Instant>;
    fn stats(&self) -> Self::Stats;

    /// Hand over events that sibling workers must know about.
    fn drain_shared(&mut self, _out: &mut dyn FnMut(SharedEvent)) {}

    /// Apply an event a sibling worker handed over.
    fn apply_shared(&mut self, _now: Instant, _event: SharedEvent, _tx: &mut impl TxSink) {}
}

/// What workers of the same address tell each other. Workers share no
/// state; they only pass these over bounded lock-free queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedEvent {
    /// A neighbour learned from ARP that concerned us.
    ArpLearned { ip: Ipv4Addr, mac: EthernetAddress },
}

/// One worker's end of the sibling queues.
pub struct Mesh {
    inbox: Option<Receiver<SharedEvent>>,
    siblings: Vec<Sender<SharedEvent>>,
}

/// Bound of each worker's inbox; a full inbox drops the event (the sibling
/// then resolves by itself).
const MESH_QUEUE: usize = 1024;

impl Mesh {
    /// A worker with no siblings.
    pub fn alone() -> Mesh {
        Mesh {
            inbox: None,
            siblings: Vec::new(),
        }
    }

    /// Fully connected queues for `n` workers, in worker order.
    pub fn connect(n: usize) -> Vec<Mesh> {
        let chans: Vec<_> = (0..n).map(|_| bounded(MESH_QUEUE)).collect();
        (0..n)
            .map(|i| Mesh {
                inbox: Some(chans[i].1.clone()),
                siblings: chans
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (tx, _))| tx.clone())
                    .collect(),
            })
            .collect()
    }
}

/// Loop accounting handed to the report hook.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopStats {
    pub loops: u64,
    /// Loop turns that received or sent something (busy ratio = busy / loops).
    pub busy_loops: u64,
}

pub struct WorkerOptions {
    pub queue: u32,
    pub batch: usize,
    pub poll: PollMode,
    /// How often `report` is called while running (it is also called once at exit).
    pub report_every: Duration,
}

/// How often the loop looks at the stop flag and timers when idle in back-off mode.
const BACKOFF_SPINS: u32 = 2_000;
const BACKOFF_SLEEP_MS: i32 = 1;

/// Run until `stop` is set. `report(datapath, processor, loop stats, final)`
/// is called every `report_every` and once after the last frame is flushed;
/// it must not block (hand snapshots over with `try_send`).
pub fn run<D, P, R>(
    dp: &mut D,
    proc: &mut P,
    opts: &WorkerOptions,
    stop: &AtomicBool,
    mesh: &Mesh,
    mut report: R,
) where
    D: Datapath,
    P: FrameProcessor,
    R: FnMut(&mut D, &P, LoopStats, bool),
{
    let mut now = Instant::monotonic();
    proc.start(now, &mut dp.tx());
    dp.flush();
    let mut stats = LoopStats::default();
    let mut idle_spins: u32 = 0;
    let mut next_report = now + opts.report_every;
    while !stop.load(Ordering::Relaxed) {
        stats.loops += 1;
        now = Instant::monotonic();
        let rx = dp.poll_rx(opts.batch, |frame, tx| proc.process_frame(now, frame, tx));
        if let Some(inbox) = &mesh.inbox {
            while let Ok(ev) = inbox.try_recv() {
                proc.apply_shared(now, ev, &mut dp.tx());
            }
            proc.drain_shared(&mut |ev| {
                for s in &mesh.siblings {
                    let _ = s.try_send(ev);
                }
            });
        }
        if proc.poll_at().is_some_and(|t| t <= now) {
            proc.poll(now, &mut dp.tx());
        }
        let sent = dp.flush();
        if rx > 0 || sent > 0 {
            stats.busy_loops += 1;
            idle_spins = 0;
        } else {
            idle_spins = idle_spins.saturating_add(1);
            match opts.poll {
                PollMode::Backoff if idle_spins > BACKOFF_SPINS => dp.wait_rx(BACKOFF_SLEEP_MS),
                _ => std::hint::spin_loop(),
            }
        }
        if now >= next_report {
            next_report = now + opts.report_every;
            report(dp, proc, stats, false);
        }
    }
    // Drain what is in flight so the books balance at exit.
    for _ in 0..1000 {
        if dp.flush() == 0 && dp.quiescent() {
            break;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    report(dp, proc, stats, true);
}

/// Pin the calling thread to `core`; false when the core doesn't exist.
pub fn pin_to_core(core: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: core })
}

/// A stop flag shared by the signal handler and all workers.
pub fn stop_flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

#[cfg(test)]
mod tests;
