//! An in-memory datapath: frames go in and come out of bounded queues, so
//! the worker loop and the stack can be driven by tests without root.
//!
//! Frame buffers are recycled like UMEM frames: a buffer goes back to a
//! spare list when the worker has handled the frame in it or the test has
//! read it with [`MemoryPort::recv_sent`], so once enough buffers exist a
//! steady exchange allocates nothing (the allocation-counting tests run the
//! worker loop over this port).

use std::collections::VecDeque;

use super::{Datapath, TxSink};
use xskd_proto::drop_reason::DropReason;

/// One end of a pretend wire with bounded rx and tx queues.
#[derive(Debug)]
pub struct MemoryPort {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    pending: Vec<Vec<u8>>,
    /// Buffers free for reuse (each of `frame_capacity` capacity).
    spare: Vec<Vec<u8>>,
    capacity: usize,
    frame_capacity: usize,
    pub rx_overflow: u64,
}

/// A recycled buffer holding `len` bytes written by `fill`.
fn take_buf(
    spare: &mut Vec<Vec<u8>>,
    frame_capacity: usize,
    len: usize,
    fill: impl FnOnce(&mut [u8]),
) -> Vec<u8> {
    let mut buf = spare
        .pop()
        .unwrap_or_else(|| Vec::with_capacity(frame_capacity));
    buf.clear();
    buf.resize(len, 0);
    fill(&mut buf);
    buf
}

impl MemoryPort {
    /// `capacity` frames per direction, each at most `frame_capacity` bytes.
    pub fn new(capacity: usize, frame_capacity: usize) -> Self {
        MemoryPort {
            rx: VecDeque::with_capacity(capacity),
            tx: VecDeque::with_capacity(capacity),
            pending: Vec::with_capacity(capacity),
            // Every buffer is in rx, tx or pending (each at most
            // `capacity`) or here: this never grows.
            spare: Vec::with_capacity(3 * capacity),
            capacity,
            frame_capacity,
            rx_overflow: 0,
        }
    }

    /// Deliver a frame to the worker side. Returns false (and counts) when full.
    pub fn inject(&mut self, frame: &[u8]) -> bool {
        self.inject_with(frame.len(), |b| b.copy_from_slice(frame))
    }

    /// Deliver a `len`-byte frame written in place by `fill`. Returns false
    /// (and counts) when full.
    pub fn inject_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> bool {
        if self.rx.len() >= self.capacity {
            self.rx_overflow += 1;
            return false;
        }
        let buf = take_buf(&mut self.spare, self.frame_capacity, len, fill);
        self.rx.push_back(buf);
        true
    }

    /// Frames the worker side has sent, oldest first.
    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        self.tx.drain(..).collect()
    }

    /// Read the oldest frame the worker side has sent, if any; its buffer
    /// is reused afterwards.
    pub fn recv_sent<R>(&mut self, read: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let frame = self.tx.pop_front()?;
        let r = read(&frame);
        self.spare.push(frame);
        Some(r)
    }

    pub fn pending_rx(&self) -> usize {
        self.rx.len()
    }

    /// Frames `inject` takes before the worker's rx queue is full.
    pub fn rx_room(&self) -> usize {
        self.capacity.saturating_sub(self.rx.len())
    }
}

pub struct MemoryTx<'a> {
    pending: &'a mut Vec<Vec<u8>>,
    spare: &'a mut Vec<Vec<u8>>,
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
        let buf = take_buf(self.spare, self.frame_capacity, len, fill);
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
                spare: &mut self.spare,
                room,
                frame_capacity: self.frame_capacity,
            };
            handle(&frame, &mut tx);
            self.spare.push(frame);
            n += 1;
        }
        n
    }

    fn tx(&mut self) -> Self::Tx<'_> {
        MemoryTx {
            room: self.capacity - self.tx.len(),
            pending: &mut self.pending,
            spare: &mut self.spare,
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

    #[test]
    fn recycled_buffers_carry_only_their_own_frame() {
        let mut port = MemoryPort::new(4, 100);
        let echo = |port: &mut MemoryPort| {
            port.poll_rx(8, |frame, tx| {
                let f = frame.to_vec();
                tx.transmit(f.len(), |b| b.copy_from_slice(&f)).unwrap();
            })
        };
        assert!(port.inject(&[7; 50]));
        assert_eq!(echo(&mut port), 1);
        port.flush();
        assert_eq!(port.recv_sent(|f| f.to_vec()), Some(vec![7; 50]));
        assert_eq!(port.recv_sent(|f| f.len()), None);
        // The next frames land in the buffers the long one used.
        assert!(port.inject_with(3, |b| b.copy_from_slice(&[1, 2, 3])));
        assert!(port.inject(&[4]));
        let mut seen = Vec::new();
        port.poll_rx(8, |frame, tx| {
            seen.push(frame.to_vec());
            tx.transmit(2, |b| b[0] = frame[0]).unwrap();
        });
        assert_eq!(seen, vec![vec![1, 2, 3], vec![4]]);
        port.flush();
        assert_eq!(
            port.take_sent(),
            vec![vec![1, 0], vec![4, 0]],
            "zeroed, not stale"
        );
    }
}
