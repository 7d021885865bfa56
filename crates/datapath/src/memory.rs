//! An in-memory datapath: frames go in and come out of bounded queues, so
//! the worker loop and the stack can be driven by tests without root.

use std::collections::VecDeque;

use super::{Datapath, TxSink};
use xskd_proto::drop_reason::DropReason;

/// One end of a pretend wire with bounded rx and tx queues.
#[derive(Debug)]
pub struct MemoryPort {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    pending: Vec<Vec<u8>>,
    capacity: usize,
    frame_capacity: usize,
    pub rx_overflow: u64,
}

impl MemoryPort {
    /// `capacity` frames per direction, each at most `frame_capacity` bytes.
    pub fn new(capacity: usize, frame_capacity: usize) -> Self {
        MemoryPort {
            rx: VecDeque::with_capacity(capacity),
            tx: VecDeque::with_capacity(capacity),
            pending: Vec::with_capacity(capacity),
            capacity,
            frame_capacity,
            rx_overflow: 0,
        }
    }

    /// Deliver a frame to the worker side. Returns false (and counts) when full.
    pub fn inject(&mut self, frame: &[u8]) -> bool {
        if self.rx.len() >= self.capacity {
            self.rx_overflow += 1;
            return false;
        }
        self.rx.push_back(frame.to_vec());
        true
    }

    /// Frames the worker side has sent, oldest first.
    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        self.tx.drain(..).collect()
    }

    pub fn pending_rx(&self) -> usize {
        self.rx.len()
    }
}

pub struct MemoryTx<'a> {
    pending: &'a mut Vec<Vec<u8>>,
    room: usize,
    frame_capacity: usize,
}

impl TxSink for MemoryTx<'_> {
    fn transmit<F: FnOnce(&mut [u8])>(&mut self, len: usize, fill: F) -> Result<(), DropReason> {
        if len > self.frame_capacity {
            return Err(DropReason::TxFrameTooBig);
        }
        if self.pending.len() >= self.room {
            return Err(DropReason::TxRingFull);
        }
        let mut buf = vec![0u8; len];
        fill(&mut buf);
        self.pending.push(buf);
        Ok(())
    }

    fn room(&self) -> usize {
        self.room.saturating_sub(self.pending.len())
    }
}

impl Datapath for MemoryPort {
    type Tx<'a> = MemoryTx<'a>;

    fn poll_rx<F: FnMut(&[u8], &mut Self::Tx<'_>)>(
        &mut self,
        budget: usize,
        mut handle: F,
    ) -> usize {
        let mut n = 0;
        while n < budget {
            let Some(frame) = self.rx.pop_front() else {
                break;
            };
            let room = self.capacity - self.tx.len();
            let mut tx = MemoryTx {
                pending: &mut self.pending,
                room,
                frame_capacity: self.frame_capacity,
            };
            handle(&frame, &mut tx);
            n += 1;
        }
        n
    }

    fn tx(&mut self) -> Self::Tx<'_> {
        MemoryTx {
            room: self.capacity - self.tx.len(),
            pending: &mut self.pending,
            frame_capacity: self.frame_capacity,
        }
    }

    fn flush(&mut self) -> usize {
        let n = self.pending.len();
        self.tx.extend(self.pending.drain(..));
        n
    }

    fn wait_rx(&mut self, _timeout_ms: i32) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_flow_through_and_bounds_hold() {
        let mut port = MemoryPort::new(2, 100);
        assert!(port.inject(&[1, 2, 3]));
        assert!(port.inject(&[4]));
        assert!(!port.inject(&[5]), "third frame over capacity is refused");
        assert_eq!(port.rx_overflow, 1);
        let got = port.poll_rx(8, |frame, tx| {
            let f = frame.to_vec();
            tx.transmit(f.len(), |b| b.copy_from_slice(&f)).unwrap();
        });
        assert_eq!(got, 2);
        assert!(port.take_sent().is_empty(), "nothing leaves before flush");
        assert_eq!(port.flush(), 2);
        assert_eq!(port.take_sent(), vec![vec![1, 2, 3], vec![4]]);
        let mut tx = port.tx();
        assert_eq!(tx.transmit(101, |_| {}), Err(DropReason::TxFrameTooBig));
    }
}
