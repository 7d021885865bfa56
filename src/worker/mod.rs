//! The per-core poll loop: rx batch -> stack -> tx batch -> reclaim
//! completions -> refill. The only place that reads the real clock.

pub mod clock;
mod https_metrics;
pub mod node;
mod node_stats;
pub mod reflector;
pub mod relay;
mod tcp_metrics;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::net::Ipv4Addr;

use crossbeam::channel::{bounded, Receiver, Sender};

use crate::config::PollMode;
use crate::datapath::{Datapath, TxSink};
use crate::service::connect_probe::{ProbeError, ProbeOutcome};
use crate::stack::{Handoff, Siblings};
use crate::time::Instant;
use crate::wire::EthernetAddress;

/// What a worker runs on its frames: the protocol stack in production, a
/// bare reflector for datapath benchmarks, a fake in tests.
pub trait FrameProcessor {
    type Stats: Clone + Send + 'static;

    fn start(&mut self, now: Instant, tx: &mut impl TxSink);
    /// One received frame; what belongs to a sibling worker goes to `sib`.
    fn process_frame(
        &mut self,
        now: Instant,
        frame: &[u8],
        tx: &mut impl TxSink,
        sib: &mut impl Siblings,
    );
    /// A packet a sibling handed over (see `relay.rs`).
    fn process_handoff(
        &mut self,
        _now: Instant,
        _how: Handoff,
        _bytes: &[u8],
        _tx: &mut impl TxSink,
        _sib: &mut impl Siblings,
    ) {
    }
    /// Timers and output not triggered by a received frame.
    fn poll(&mut self, now: Instant, tx: &mut impl TxSink);
    /// Next instant `poll` has work, if any.
    fn poll_at(&self) -> Option<Instant>;
    fn stats(&self) -> Self::Stats;

    /// Hand over events that sibling workers must know about.
    fn drain_shared(&mut self, _out: &mut dyn FnMut(SharedEvent)) {}

    /// Apply an event a sibling worker handed over.
    fn apply_shared(&mut self, _now: Instant, _event: SharedEvent, _tx: &mut impl TxSink) {}

    /// Graceful stop begins: take no new work, start closing what is open.
    fn begin_shutdown(&mut self, _now: Instant, _tx: &mut impl TxSink) {}

    /// Nothing is left to drain.
    fn drained(&self) -> bool {
        true
    }

    /// The drain time is over: reset whatever is left.
    fn abort_all(&mut self, _now: Instant, _tx: &mut impl TxSink) {}

    /// Carry out a command from the control plane. The default refuses.
    fn apply_command(&mut self, _now: Instant, command: ControlCommand, _tx: &mut impl TxSink) {
        command.refuse("this worker runs no stack");
    }
}

/// What the control plane asks a worker to do; answers come back on the
/// channel inside the command, never through shared state.
#[derive(Debug)]
pub enum ControlCommand {
    /// Connect out, send `payload`, half-close, read the answer to EOF.
    TcpProbe {
        target: std::net::SocketAddrV4,
        payload: Vec<u8>,
        timeout: Duration,
        reply: Sender<Result<ProbeOutcome, ProbeError>>,
    },
    /// Block the worker for `duration`: an operator's fault injection to
    /// check that the systemd watchdog notices a stuck worker.
    Stall { duration: Duration },
}

impl ControlCommand {
    pub fn refuse(self, why: &str) {
        match self {
            ControlCommand::TcpProbe { reply, .. } => {
                let _ = reply.send(Err(ProbeError::Connect(why.to_string())));
            }
            ControlCommand::Stall { duration } => std::thread::sleep(duration),
        }
    }
}

/// What workers of the same address tell each other. Workers share no
/// state; they only pass these (and, through `relay`, the packets that
/// belong to a sibling) over bounded lock-free queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedEvent {
    /// A neighbour learned from ARP that concerned us.
    ArpLearned { ip: Ipv4Addr, mac: EthernetAddress },
}

/// One worker's queues: events and packets from and to its siblings,
/// commands from the control plane.
pub struct Mesh {
    inbox: Option<Receiver<SharedEvent>>,
    siblings: Vec<Sender<SharedEvent>>,
    commands: Option<Receiver<ControlCommand>>,
    relay: relay::Relay,
}

/// Bound of each worker's inbox; a full inbox drops the event (the sibling
/// then resolves by itself).
const MESH_QUEUE: usize = 1024;

/// Handed-over packets a worker takes up per loop turn, at most (its own
/// rx batch is bounded the same way).
const HANDOFFS_PER_TURN: usize = 256;

impl Mesh {
    /// A worker with no siblings.
    pub fn alone() -> Mesh {
        Mesh {
            inbox: None,
            siblings: Vec::new(),
            commands: None,
            relay: relay::Relay::alone(),
        }
    }

    /// Take commands from the control plane on `rx`.
    pub fn with_commands(mut self, rx: Receiver<ControlCommand>) -> Mesh {
        self.commands = Some(rx);
        self
    }

    /// Fully connected queues for `n` workers, in worker order; handed-over
    /// packets are copied into buffers of `frame_len` bytes.
    pub fn connect(n: usize, frame_len: usize) -> Vec<Mesh> {
        let chans: Vec<_> = (0..n).map(|_| bounded(MESH_QUEUE)).collect();
        relay::Relay::connect(n, frame_len)
            .into_iter()
            .enumerate()
            .map(|(i, relay)| Mesh {
                inbox: Some(chans[i].1.clone()),
                siblings: chans
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (tx, _))| tx.clone())
                    .collect(),
                commands: None,
                relay,
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

/// Where a worker stands: its position among the workers of the address
/// (what `stack::Shard` is made of) and the NIC queue it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub index: usize,
    pub count: usize,
    pub queue: u32,
}

pub struct WorkerOptions {
    pub queue: u32,
    pub batch: usize,
    pub poll: PollMode,
    /// How often `report` is called while running (it is also called once at exit).
    pub report_every: Duration,
    /// How long a graceful stop lets open connections drain before RST.
    pub drain: Duration,
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
    mesh: &mut Mesh,
    mut report: R,
) where
    D: Datapath,
    P: FrameProcessor,
    R: FnMut(&mut D, &P, LoopStats, bool),
{
    let mut now = clock::monotonic();
    dp.set_now(now);
    proc.start(now, &mut dp.tx());
    dp.flush();
    let mut lp = Loop {
        stats: LoopStats::default(),
        idle_spins: 0,
        next_report: now + opts.report_every,
    };
    while !stop.load(Ordering::Relaxed) {
        now = lp.turn(dp, proc, opts, mesh, &mut report);
    }
    // Graceful stop: no new connections, FIN on the open ones, let them
    // drain for `opts.drain`, then reset what is left.
    if !opts.drain.is_zero() {
        proc.begin_shutdown(now, &mut dp.tx());
        let deadline = now + opts.drain;
        while !proc.drained() && now < deadline {
            now = lp.turn(dp, proc, opts, mesh, &mut report);
        }
    }
    proc.abort_all(now, &mut dp.tx());
    // Let the RSTs (and anything else queued) out.
    for _ in 0..3 {
        lp.turn(dp, proc, opts, mesh, &mut report);
    }
    // Drain what is in flight so the books balance at exit.
    for _ in 0..1000 {
        // Frames an impaired link still holds are due by the clock.
        dp.set_now(clock::monotonic());
        if dp.flush() == 0 && dp.quiescent() {
            break;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    report(dp, proc, lp.stats, true);
}

struct Loop {
    stats: LoopStats,
    idle_spins: u32,
    next_report: Instant,
}

impl Loop {
    /// One turn of the loop; returns the `now` it ran at.
    fn turn<D, P, R>(
        &mut self,
        dp: &mut D,
        proc: &mut P,
        opts: &WorkerOptions,
        mesh: &mut Mesh,
        report: &mut R,
    ) -> Instant
    where
        D: Datapath,
        P: FrameProcessor,
        R: FnMut(&mut D, &P, LoopStats, bool),
    {
        self.stats.loops += 1;
        let now = clock::monotonic();
        dp.set_now(now);
        let relay = &mut mesh.relay;
        let rx = dp.poll_rx(opts.batch, |frame, tx| {
            proc.process_frame(now, frame, tx, relay)
        });
        let mut handed = 0;
        while handed < HANDOFFS_PER_TURN {
            let Some(p) = relay.recv() else { break };
            proc.process_handoff(now, p.how, &p.bytes, &mut dp.tx(), relay);
            relay.give_back(p);
            handed += 1;
        }
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
        if let Some(commands) = &mesh.commands {
            while let Ok(cmd) = commands.try_recv() {
                proc.apply_command(now, cmd, &mut dp.tx());
            }
        }
        if proc.poll_at().is_some_and(|t| t <= now) {
            proc.poll(now, &mut dp.tx());
        }
        let sent = dp.flush();
        if rx > 0 || handed > 0 || sent > 0 {
            self.stats.busy_loops += 1;
            self.idle_spins = 0;
        } else if proc.poll_at().is_some_and(|t| t <= now) {
            // Output waits for the room this flush's completions freed: poll
            // again at once rather than sleep in back-off.
            std::hint::spin_loop();
        } else {
            self.idle_spins = self.idle_spins.saturating_add(1);
            match opts.poll {
                PollMode::Backoff if self.idle_spins > BACKOFF_SPINS => {
                    dp.wait_rx(BACKOFF_SLEEP_MS)
                }
                _ => std::hint::spin_loop(),
            }
        }
        if now >= self.next_report {
            self.next_report = now + opts.report_every;
            report(dp, proc, self.stats, false);
        }
        now
    }
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
mod relay_tests;
#[cfg(test)]
mod tests;
