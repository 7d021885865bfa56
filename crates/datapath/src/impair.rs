//! Seeded link impairment as a datapath wrapper: `Impaired<D>` drops,
//! duplicates, reorders, corrupts, delays and rate-limits the frames that
//! pass through `D`, in each direction on its own. This kernel has no
//! netem; this is how tests (and `xskd` for chaos runs) get a bad link
//! that replays exactly from a seed.
//!
//! rx: frames from `D::poll_rx` are judged before the stack sees them;
//! held ones come back through a later `poll_rx`. tx: what the stack
//! writes through `Impaired::Tx` is judged before it reaches `D`'s sink;
//! held ones go out in a later `flush`.
//!
//! Sans-clock: the wrapper never reads a clock. The worker must call
//! [`Impaired::set_now`] every loop turn before `poll_rx`; without it time
//! stands still and delayed frames never leave.
//!
//! Held frames are copied into a pool of `queue_frames` buffers allocated at
//! construction, so the per-frame path allocates nothing (a frame longer
//! than `max_frame` grows one buffer once).

mod config;
mod direction;

use std::time::Duration;

use serde::Serialize;

pub use config::{DirectionImpair, DropBurst, ImpairConfig, ImpairConfigError, MAX_QUEUE_FRAMES};
use direction::Direction;
pub use direction::DirectionCounters;

use super::{Datapath, TxSink};
use xskd_proto::drop_reason::DropReason;
use xskd_proto::time::Instant;

/// Counters of both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImpairCounters {
    pub rx: DirectionCounters,
    pub tx: DirectionCounters,
}

/// Stream constants that give rx and tx independent draws from one seed.
const RX_STREAM: u64 = 0x7278_5f69_6d70_6169;
const TX_STREAM: u64 = 0x7478_5f69_6d70_6169;

/// A datapath whose link is impaired as configured.
pub struct Impaired<D> {
    inner: D,
    rx: Direction,
    tx: Direction,
}

impl<D: Datapath> Impaired<D> {
    /// Wrap `inner`. `max_frame` is the largest frame either way (the UMEM
    /// frame size, or the MTU plus the Ethernet header); it sizes the pool.
    pub fn new(
        inner: D,
        config: &ImpairConfig,
        max_frame: usize,
    ) -> Result<Impaired<D>, ImpairConfigError> {
        config.validate()?;
        Ok(Impaired {
            inner,
            rx: Direction::new(&config.rx, config.seed ^ RX_STREAM, max_frame),
            tx: Direction::new(&config.tx, config.seed ^ TX_STREAM, max_frame),
        })
    }

    /// The worker's clock reading for this loop turn; call it every turn
    /// before `poll_rx`. Earlier instants than the last one are ignored.
    pub fn set_now(&mut self, now: Instant) {
        self.rx.set_now(now);
        self.tx.set_now(now);
    }

    pub fn counters(&self) -> ImpairCounters {
        ImpairCounters {
            rx: self.rx.counters,
            tx: self.tx.counters,
        }
    }

    /// Frames held on the rx side (delayed, rate-limited, reordered).
    pub fn held_rx(&self) -> usize {
        self.rx.held()
    }

    /// Frames held on the tx side.
    pub fn held_tx(&self) -> usize {
        self.tx.held()
    }

    /// The earliest instant a held frame is due, so a caller can sleep.
    pub fn poll_at(&self) -> Option<Instant> {
        match (self.rx.next_due(), self.tx.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The inner datapath back; held frames are lost.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

/// Object-safe sending, so one transmit handle type can sit on either an
/// owned inner handle (`tx()`) or the one `D::poll_rx` lends.
trait SendFrame {
    fn transmit_dyn(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), DropReason>;

    fn room_dyn(&self) -> usize;

    fn send(&mut self, frame: &[u8]) -> Result<(), DropReason> {
        self.transmit_dyn(frame.len(), &mut |b| b.copy_from_slice(frame))
    }
}

impl<T: TxSink> SendFrame for T {
    fn transmit_dyn(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), DropReason> {
        self.transmit(len, |b| fill(b))
    }

    fn room_dyn(&self) -> usize {
        self.room()
    }
}

enum InnerTx<'a, D: Datapath + 'a> {
    Owned(D::Tx<'a>),
    Borrowed(&'a mut (dyn SendFrame + 'a)),
}

impl<D: Datapath> InnerTx<'_, D> {
    fn sink(&mut self) -> &mut dyn SendFrame {
        match self {
            InnerTx::Owned(t) => t,
            InnerTx::Borrowed(t) => *t,
        }
    }

    fn room(&self) -> usize {
        match self {
            InnerTx::Owned(t) => t.room(),
            InnerTx::Borrowed(t) => t.room_dyn(),
        }
    }
}

/// The transmit handle the stack writes to: frames are judged by the tx
/// direction before they reach the inner sink.
pub struct ImpairTx<'a, D: Datapath + 'a> {
    inner: InnerTx<'a, D>,
    dir: &'a mut Direction,
}

impl<D: Datapath> TxSink for ImpairTx<'_, D> {
    fn transmit<F: FnOnce(&mut [u8])>(&mut self, len: usize, fill: F) -> Result<(), DropReason> {
        let ImpairTx { inner, dir } = self;
        let sink = inner.sink();
        if !dir.is_active() {
            // Straight through, written once in place.
            let mut fill = Some(fill);
            let r = sink.transmit_dyn(len, &mut |b| {
                if let Some(f) = fill.take() {
                    f(b)
                }
            });
            if r.is_ok() {
                dir.counters.passed += 1;
            }
            return r;
        }
        let mut stage = std::mem::take(&mut dir.stage);
        stage.clear();
        stage.resize(len, 0);
        fill(&mut stage);
        let r = dir.ingress(&stage, &mut |f| sink.send(f));
        dir.stage = stage;
        r
    }

    /// The inner sink's room: what the impairment holds back (delay,
    /// reordering) goes out later, and may meet a full ring then, as it
    /// would on a real link's queue.
    fn room(&self) -> usize {
        self.inner.room()
    }
}

// `D: 'static` because the trait's rx callback takes a transmit handle of
// any lifetime, and ours names `D`; every real datapath owns its buffers.
impl<D: Datapath + 'static> Datapath for Impaired<D> {
    type Tx<'a>
        = ImpairTx<'a, D>
    where
        Self: 'a;

    fn poll_rx<F: FnMut(&[u8], &mut Self::Tx<'_>)>(
        &mut self,
        budget: usize,
        mut handle: F,
    ) -> usize {
        let Impaired { inner, rx, tx } = self;
        let mut n = 0;
        if rx.held() > 0 {
            let mut itx = ImpairTx {
                inner: InnerTx::<D>::Owned(inner.tx()),
                dir: &mut *tx,
            };
            n += rx.release_due(budget, &mut |f| {
                handle(f, &mut itx);
                Ok(())
            });
        }
        if n < budget {
            n += inner.poll_rx(budget - n, |frame, itx| {
                let mut t = ImpairTx::<D> {
                    inner: InnerTx::Borrowed(itx),
                    dir: &mut *tx,
                };
                let _ = rx.ingress(frame, &mut |f| {
                    handle(f, &mut t);
                    Ok(())
                });
            });
        }
        n
    }

    fn tx(&mut self) -> Self::Tx<'_> {
        ImpairTx {
            inner: InnerTx::Owned(self.inner.tx()),
            dir: &mut self.tx,
        }
    }

    fn flush(&mut self) -> usize {
        if self.tx.held() > 0 {
            let Impaired { inner, tx, .. } = self;
            let mut itx = inner.tx();
            tx.release_due(usize::MAX, &mut |f| itx.send(f));
        }
        self.inner.flush()
    }

    fn wait_rx(&mut self, timeout_ms: i32) {
        match self.poll_at() {
            None => self.inner.wait_rx(timeout_ms),
            Some(due) => {
                // Sleep no longer than the next held frame allows.
                let left = due.saturating_since(self.rx.now().max(self.tx.now()));
                let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
                if ms >= 1 {
                    self.inner.wait_rx(ms.min(timeout_ms));
                }
            }
        }
    }

    fn set_now(&mut self, now: Instant) {
        Impaired::set_now(self, now);
        self.inner.set_now(now);
    }

    fn quiescent(&self) -> bool {
        self.rx.held() == 0 && self.tx.held() == 0 && self.inner.quiescent()
    }
}

/// One direction of a relay: up to `budget` frames received on `from` go
/// out through `to` (refused ones are dropped; `to`'s own counters see
/// them). A test relay between two ports calls it both ways each turn,
/// with either side wrapped in `Impaired`, then flushes both.
pub fn forward<A: Datapath, B: Datapath>(from: &mut A, to: &mut B, budget: usize) -> usize {
    let mut out = to.tx();
    from.poll_rx(budget, |frame, _| {
        let _ = out.transmit(frame.len(), |b| b.copy_from_slice(frame));
    })
}

/// How long the longest configured hold is, for callers sizing a drain.
pub fn max_hold(config: &ImpairConfig) -> Duration {
    let d = |c: &DirectionImpair| {
        Duration::from_micros(
            c.delay_us
                .saturating_add(c.jitter_us)
                .saturating_add(c.reorder_timeout_us),
        )
    };
    d(&config.rx).max(d(&config.tx))
}

#[cfg(test)]
mod tests;
