//! Frames in and out: AF_XDP sockets and UMEM (`xsk`), the XDP program
//! loader (`xdp_prog`), interface facts (`iface`), an in-memory datapath
//! for tests (`memory`), link impairment (`impair`), and the capabilities
//! startup needs with the fix for a missing one (`caps`). The only crate
//! with `unsafe` code: at the AF_XDP ring, UMEM and BPF boundaries, each
//! block with its SAFETY note.

pub mod caps;
pub mod config;
pub mod iface;
pub mod impair;
pub mod memory;
pub mod xdp_prog;
pub mod xsk;

/// Where the stack writes frames to transmit (the stack defines it; the
/// datapaths implement it).
pub use xskd_proto::link::TxSink;

/// A source and sink of Ethernet frames that a worker polls: an AF_XDP
/// socket in production, `memory::MemoryPort` in tests.
pub trait Datapath {
    type Tx<'a>: TxSink
    where
        Self: 'a;

    /// Hand up to `budget` received frames to `handle`, each with a transmit
    /// handle. Returns how many frames were received.
    fn poll_rx<F: FnMut(&[u8], &mut Self::Tx<'_>)>(&mut self, budget: usize, handle: F) -> usize;

    /// A transmit handle for output not triggered by a received frame.
    fn tx(&mut self) -> Self::Tx<'_>;

    /// Push queued frames out and recycle buffers. Returns frames sent.
    fn flush(&mut self) -> usize;

    /// Block for at most `timeout_ms` waiting for received frames (idle back-off).
    fn wait_rx(&mut self, timeout_ms: i32);

    /// The worker's clock reading for this loop turn, given before
    /// `poll_rx`. Datapaths that hold frames by time (`impair::Impaired`)
    /// need it; the others ignore it.
    fn set_now(&mut self, _now: xskd_proto::time::Instant) {}

    /// True when nothing we sent is still owned by the kernel.
    fn quiescent(&self) -> bool {
        true
    }
}

impl Datapath for xsk::XskSocket {
    type Tx<'a> = xsk::XskTx<'a>;

    fn poll_rx<F: FnMut(&[u8], &mut Self::Tx<'_>)>(&mut self, budget: usize, handle: F) -> usize {
        xsk::XskSocket::poll_rx(self, budget, handle)
    }

    fn tx(&mut self) -> Self::Tx<'_> {
        xsk::XskSocket::tx(self)
    }

    fn flush(&mut self) -> usize {
        xsk::XskSocket::flush(self)
    }

    fn wait_rx(&mut self, timeout_ms: i32) {
        xsk::XskSocket::wait_rx(self, timeout_ms)
    }

    fn quiescent(&self) -> bool {
        self.frames_in_tx() == 0
    }
}
