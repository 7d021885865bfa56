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
}

/// Object-safe form of [`TxSink`], so UDP services (trait objects) can send.
pub(crate) trait DynTx {
    fn transmit_dyn(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), DropReason>;
}

impl<T: TxSink> DynTx for T {
    fn transmit_dyn(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), DropReason> {
        self.transmit(len, |b| fill(b))
    }
}
