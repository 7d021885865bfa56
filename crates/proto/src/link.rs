//! The bottom of the stack: where frames leave. The stack writes frames
//! through [`TxSink`]; the datapaths (AF_XDP, in-memory, impaired) implement
//! it. Nothing here knows any protocol.

use crate::drop_reason::DropReason;

/// Where the stack puts frames to send.
pub trait TxSink {
    /// Ask for a frame buffer of exactly `len` bytes, fill it via `fill`,
    /// queue it for transmit. `Err(TxRingFull / TxNoFrame / TxFrameTooBig)`
    /// when it can't; the stack counts it.
    fn transmit<F: FnOnce(&mut [u8])>(&mut self, len: usize, fill: F) -> Result<(), DropReason>;

    /// How many more frames `transmit` takes right now (free tx ring slots
    /// and free frames, whichever is fewer; `usize::MAX` when unbounded).
    /// TCP asks before it builds a segment and waits when this is 0, so
    /// its own segments are never lost at a full ring; datagrams (UDP,
    /// ICMP, ARP) are sent regardless and may be dropped there, counted.
    fn room(&self) -> usize;
}

/// Object-safe form of [`TxSink`], so UDP services (trait objects) can send.
pub(crate) trait DynTx {
    fn transmit_dyn(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), DropReason>;

    fn room_dyn(&self) -> usize;
}

impl<T: TxSink> DynTx for T {
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
