//! One AF_XDP socket with its own UMEM: the rings, the frame pool, and the
//! accounting that proves no frame is ever leaked. All `unsafe` of the
//! AF_XDP boundary lives here.
//!
//! Frame ownership: every UMEM frame is at any moment in exactly one of
//! `free` (ours, unused), the fill ring, `tx_pending` (written, not yet
//! produced), or the tx/completion rings. `frames_in_fill` and
//! `frames_in_tx` count the two kernel-owned sets, so
//! `free + in_fill + pending + in_tx == frame_count` always holds.

use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, BorrowedFd};

use thiserror::Error;
use xsk_rs::config::{
    BindFlags, FrameSize, LibxdpFlags, QueueSize, SocketConfig, UmemConfig as XskUmemConfig,
};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue, Umem};

use super::TxSink;
use crate::caps::{Cap, Denied};
use crate::config::{UmemConfig, XdpMode, ZeroCopy};
use xskd_proto::drop_reason::DropReason;

#[derive(Debug, Error)]
pub enum XskError {
    #[error("umem.{key} = {value}: {reason}")]
    BadSize {
        key: &'static str,
        value: u32,
        reason: String,
    },
    #[error("creating the AF_XDP socket on queue {queue} failed: permission denied — {denied}")]
    SocketDenied { queue: u32, denied: Denied },
    #[error("registering the {mib} MiB UMEM of queue {queue} failed: it is over the locked-memory limit ({limit}) — xskd needs CAP_IPC_LOCK, or a memlock limit covering every queue's UMEM (LimitMEMLOCK=infinity in xskd.service, as shipped; by hand: `ulimit -l unlimited` or `prlimit --memlock=unlimited`)")]
    Memlock { queue: u32, mib: u64, limit: String },
    #[error("creating the UMEM for queue {queue} failed: {source}")]
    Umem {
        queue: u32,
        #[source]
        source: xsk_rs::umem::UmemCreateError,
    },
    #[error("binding an AF_XDP socket to {iface} queue {queue} failed: {source} (does the interface have that queue? see `ethtool -l {iface}`; with interface.zero_copy = \"on\" the driver must support zero-copy)")]
    Bind {
        iface: String,
        queue: u32,
        #[source]
        source: xsk_rs::socket::SocketCreateError,
    },
    #[error("queue {queue}: the fill ring did not take the initial frames")]
    FillRing { queue: u32 },
}

/// Counters of one socket, owned by its worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskCounters {
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    pub wakeups: u64,
}

/// Kernel-side statistics (getsockopt XDP_STATISTICS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskKernelStats {
    pub rx_dropped: u64,
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
    pub rx_ring_full: u64,
    pub rx_fill_ring_empty_descs: u64,
    pub tx_ring_empty_descs: u64,
}

pub struct XskSocket {
    zero_copy: bool,
    umem: Umem,
    rx: RxQueue,
    tx: TxQueue,
    fill: FillQueue,
    comp: CompQueue,
    free: Vec<FrameDesc>,
    scratch: Vec<FrameDesc>,
    tx_pending: Vec<FrameDesc>,
    frame_count: usize,
    frame_capacity: usize,
    frames_in_fill: usize,
    frames_in_tx: usize,
    fill_target: usize,
    tx_ring_size: usize,
    counters: XskCounters,
}

/// `Umem::new` creates the AF_XDP socket (EPERM without CAP_NET_RAW) and
/// registers the UMEM on it, which the kernel charges to our user's locked
/// memory unless we hold CAP_IPC_LOCK (ENOBUFS past RLIMIT_MEMLOCK).
fn umem_error(queue: u32, cfg: &UmemConfig, source: xsk_rs::umem::UmemCreateError) -> XskError {
    let errno = std::error::Error::source(&source)
        .and_then(|e| e.downcast_ref::<std::io::Error>())
        .and_then(std::io::Error::raw_os_error);
    match errno {
        Some(libc::EPERM) | Some(libc::EACCES) => XskError::SocketDenied {
            queue,
            denied: Denied::now(&[Cap::NetRaw]),
        },
        Some(libc::ENOBUFS) => XskError::Memlock {
            queue,
            mib: (u64::from(cfg.frame_count) * u64::from(cfg.frame_size)).div_ceil(1 << 20),
            limit: crate::caps::memlock_limit(),
        },
        _ => XskError::Umem { queue, source },
    }
}

fn queue_size(key: &'static str, v: u32) -> Result<QueueSize, XskError> {
    QueueSize::new(v).map_err(|e| XskError::BadSize {
        key,
        value: v,
        reason: e.to_string(),
    })
}

impl XskSocket {
    /// Create the UMEM and bind a socket to `iface`/`queue` without loading
    /// any program (ours is loaded by `XdpProgram`).
    pub fn bind(
        iface: &str,
        queue: u32,
        cfg: &UmemConfig,
        mode: XdpMode,
        zc: ZeroCopy,
        need_wakeup: bool,
    ) -> Result<Self, XskError> {
        let frame_size = FrameSize::new(cfg.frame_size).map_err(|e| XskError::BadSize {
            key: "frame_size",
            value: cfg.frame_size,
            reason: e.to_string(),
        })?;
        let umem_cfg = XskUmemConfig::builder()
            .frame_size(frame_size)
            .fill_queue_size(queue_size("fill_ring", cfg.fill_ring)?)
            .comp_queue_size(queue_size("completion_ring", cfg.completion_ring)?)
            .build()
            .map_err(|e| XskError::BadSize {
                key: "frame_size",
                value: cfg.frame_size,
                reason: e.to_string(),
            })?;
        let frame_count = NonZeroU32::new(cfg.frame_count).ok_or(XskError::BadSize {
            key: "frame_count",
            value: 0,
            reason: "must be positive".into(),
        })?;
        let (umem, frames) = Umem::new(umem_cfg, frame_count, false)
            .map_err(|source| umem_error(queue, cfg, source))?;
        let frame_capacity =
            (cfg.frame_size - umem_cfg.xdp_headroom() - umem_cfg.frame_headroom()) as usize;

        let xdp_flags = match mode {
            crate::config::XdpMode::Native => xsk_rs::config::XdpFlags::XDP_FLAGS_DRV_MODE,
            crate::config::XdpMode::Generic => xsk_rs::config::XdpFlags::XDP_FLAGS_SKB_MODE,
        };
        let wake = if need_wakeup {
            BindFlags::XDP_USE_NEED_WAKEUP
        } else {
            BindFlags::empty()
        };
        let attempts: &[(BindFlags, bool)] = match zc {
            ZeroCopy::Auto => &[
                (BindFlags::XDP_ZEROCOPY, true),
                (BindFlags::XDP_COPY, false),
            ],
            ZeroCopy::On => &[(BindFlags::XDP_ZEROCOPY, true)],
            ZeroCopy::Off => &[(BindFlags::XDP_COPY, false)],
        };
        let ifname = iface.parse().map_err(|_| XskError::BadSize {
            key: "interface.name",
            value: 0,
            reason: format!("{iface:?} is not a valid interface name"),
        })?;
        let mut last_err = None;
        let mut bound = None;
        for &(flags, zero_copy) in attempts {
            let sock_cfg = SocketConfig::builder()
                .rx_queue_size(queue_size("rx_ring", cfg.rx_ring)?)
                .tx_queue_size(queue_size("tx_ring", cfg.tx_ring)?)
                .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
                .xdp_flags(xdp_flags)
                .bind_flags(flags | wake)
                .build();
            // SAFETY: the UMEM is not shared with another socket, and we set
            // XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD so libxdp loads no program.
            match unsafe { Socket::new(sock_cfg, &umem, &ifname, queue) } {
                Ok(s) => {
                    bound = Some((s, zero_copy));
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some(((tx, rx, fq_cq), zero_copy)) = bound else {
            return Err(XskError::Bind {
                iface: iface.to_string(),
                queue,
                source: last_err.expect("at least one bind attempt"),
            });
        };
        let (fill, comp) =
            fq_cq.expect("an unshared UMEM always yields its fill and completion rings");

        let mut sock = XskSocket {
            zero_copy,
            umem,
            rx,
            tx,
            fill,
            comp,
            free: frames,
            scratch: vec![FrameDesc::default(); cfg.rx_ring.max(cfg.completion_ring) as usize],
            tx_pending: Vec::with_capacity(cfg.tx_ring as usize),
            frame_count: cfg.frame_count as usize,
            frame_capacity,
            frames_in_fill: 0,
            frames_in_tx: 0,
            fill_target: cfg.fill_ring as usize,
            tx_ring_size: cfg.tx_ring as usize,
            counters: XskCounters::default(),
        };
        sock.refill();
        if sock.frames_in_fill == 0 {
            return Err(XskError::FillRing { queue });
        }
        Ok(sock)
    }

    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        let raw = self.rx.fd().as_raw_fd();
        // SAFETY: the socket fd stays open for as long as `self.rx` lives,
        // which outlives the returned borrow of `self`.
        unsafe { BorrowedFd::borrow_raw(raw) }
    }

    /// Take up to `budget` received frames and hand each to `handle` along
    /// with a transmit handle. Returns the number of frames received.
    pub fn poll_rx<F>(&mut self, budget: usize, mut handle: F) -> usize
    where
        F: FnMut(&[u8], &mut XskTx<'_>),
    {
        let budget = budget.min(self.scratch.len());
        // SAFETY: `scratch` descriptors are ours to overwrite; the frames the
        // kernel hands back were produced into the fill ring from this UMEM.
        let n = unsafe { self.rx.consume(&mut self.scratch[..budget]) };
        self.frames_in_fill -= n;
        for i in 0..n {
            let desc = self.scratch[i];
            // SAFETY: `desc` came off our rx ring, so it addresses a frame of
            // `self.umem` that the kernel has finished writing and no one else
            // touches until we give it back.
            let frame = unsafe { self.umem.data(&desc) }.contents();
            self.counters.rx_frames += 1;
            self.counters.rx_bytes += frame.len() as u64;
            let mut tx = XskTx {
                umem: &self.umem,
                free: &mut self.free,
                pending: &mut self.tx_pending,
                ring_room: self.tx_ring_size - self.frames_in_tx,
                capacity: self.frame_capacity,
            };
            handle(frame, &mut tx);
            self.free.push(desc);
        }
        n
    }

    /// A transmit handle outside of rx processing (timers, services).
    pub fn tx(&mut self) -> XskTx<'_> {
        XskTx {
            umem: &self.umem,
            free: &mut self.free,
            pending: &mut self.tx_pending,
            ring_room: self.tx_ring_size - self.frames_in_tx,
            capacity: self.frame_capacity,
        }
    }

    /// Produce pending frames onto the tx ring, kick the kernel if it asks,
    /// reclaim completed frames, top up the fill ring. Returns frames sent.
    pub fn flush(&mut self) -> usize {
        let mut sent = 0;
        if !self.tx_pending.is_empty() {
            // SAFETY: every pending descriptor addresses a frame of our UMEM
            // that we own and have finished writing (length set by XskTx).
            sent = unsafe { self.tx.produce(&self.tx_pending) };
            for d in &self.tx_pending[..sent] {
                self.counters.tx_bytes += d.lengths().data() as u64;
            }
            self.counters.tx_frames += sent as u64;
            self.frames_in_tx += sent;
            // Whatever the ring did not take stays pending, in order.
            self.tx_pending.drain(..sent);
        }
        // In copy mode the kernel only transmits on a syscall, need_wakeup or not.
        if self.frames_in_tx > 0 && (!self.zero_copy || self.tx.needs_wakeup()) {
            self.counters.wakeups += 1;
            let _ = self.tx.wakeup();
        }
        self.reclaim();
        self.refill();
        sent
    }

    fn reclaim(&mut self) {
        if self.frames_in_tx == 0 {
            return;
        }
        // SAFETY: `scratch` is ours to overwrite; completions carry addresses
        // of frames we produced onto the tx ring.
        let n = unsafe { self.comp.consume(&mut self.scratch) };
        self.frames_in_tx -= n;
        // Completion descriptors carry addresses only; lengths are set again
        // by XskTx before any reuse.
        self.free.extend_from_slice(&self.scratch[..n]);
    }

    fn refill(&mut self) {
        let want = self.fill_target.saturating_sub(self.frames_in_fill);
        // Keep a reserve for transmit so rx can never starve replies.
        let reserve = self.tx_ring_size.min(self.frame_count / 4);
        let spare = self.free.len().saturating_sub(reserve);
        let n = want.min(spare);
        if n == 0 {
            if self.fill.needs_wakeup() && self.frames_in_fill > 0 {
                self.wake_rx();
            }
            return;
        }
        let start = self.free.len() - n;
        // SAFETY: these descriptors are free frames of our UMEM; once
        // produced, we don't touch them until they come back on the rx ring.
        let produced = unsafe { self.fill.produce(&self.free[start..]) };
        // produce() submits a prefix of the slice (all of it or nothing in
        // practice); move exactly what it took out of `free`.
        self.free.drain(start..start + produced);
        self.frames_in_fill += produced;
        if self.fill.needs_wakeup() {
            self.wake_rx();
        }
    }

    fn wake_rx(&mut self) {
        self.counters.wakeups += 1;
        let _ = self.fill.wakeup(self.rx.fd_mut(), 0);
    }

    pub fn counters(&self) -> XskCounters {
        self.counters
    }

    /// Frames in our hands right now (free + written-not-sent).
    pub fn frames_free(&self) -> usize {
        self.free.len()
    }

    /// The books: free + pending + fill + tx == frame_count.
    pub fn frames_accounted(&self) -> usize {
        self.free.len() + self.tx_pending.len() + self.frames_in_fill + self.frames_in_tx
    }

    /// Frames on the tx or completion ring, not yet reclaimed.
    pub fn frames_in_tx(&self) -> usize {
        self.frames_in_tx + self.tx_pending.len()
    }

    pub fn frame_count(&self) -> usize {
        self.frame_count
    }

    pub fn kernel_stats(&self) -> XskKernelStats {
        self.rx
            .fd()
            .xdp_statistics()
            .map(|s| XskKernelStats {
                rx_dropped: s.rx_dropped(),
                rx_invalid_descs: s.rx_invalid_descs(),
                tx_invalid_descs: s.tx_invalid_descs(),
                rx_ring_full: s.rx_ring_full(),
                rx_fill_ring_empty_descs: s.rx_fill_ring_empty_descs(),
                tx_ring_empty_descs: s.tx_ring_empty_descs(),
            })
            .unwrap_or_default()
    }

    /// Wait up to `timeout_ms` for rx readiness (backoff mode's idle sleep).
    pub fn wait_rx(&mut self, timeout_ms: i32) {
        let _ = self.rx.poll(timeout_ms);
    }
}

/// Writes frames into free UMEM frames and queues them for the tx ring.
pub struct XskTx<'a> {
    umem: &'a Umem,
    free: &'a mut Vec<FrameDesc>,
    pending: &'a mut Vec<FrameDesc>,
    ring_room: usize,
    capacity: usize,
}

impl TxSink for XskTx<'_> {
    fn transmit<F: FnOnce(&mut [u8])>(&mut self, len: usize, fill: F) -> Result<(), DropReason> {
        if len > self.capacity {
            return Err(DropReason::TxFrameTooBig);
        }
        if self.pending.len() >= self.ring_room {
            return Err(DropReason::TxRingFull);
        }
        let Some(mut desc) = self.free.pop() else {
            return Err(DropReason::TxNoFrame);
        };
        {
            // SAFETY: `desc` was in `free`, so no one (kernel included) uses
            // this frame; it belongs to `self.umem`.
            let mut data = unsafe { self.umem.data_mut(&mut desc) };
            data.cursor().set_pos(len);
            fill(data.contents_mut());
        }
        self.pending.push(desc);
        Ok(())
    }

    fn room(&self) -> usize {
        self.ring_room
            .saturating_sub(self.pending.len())
            .min(self.free.len())
    }
}
