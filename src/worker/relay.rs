//! Packets one worker hands to another (`stack::shard` says which and why).
//!
//! Each worker has a bounded inbox that every sibling may send to, and a
//! pool of buffers allocated at setup. A handed-over packet is copied into
//! one of the sender's buffers; the receiver sends the buffer home once it
//! has processed the packet, so the steady state allocates nothing. A full
//! inbox or an empty pool refuses the packet (the stack counts it as
//! `handoff_full`), never blocks.

use crossbeam::channel::{bounded, never, Receiver, Sender};

use crate::stack::{Handoff, Siblings};

/// Buffers each worker may have out with its siblings at once.
pub const POOL: usize = 512;

/// One packet on its way to a sibling, in a buffer of worker `from`.
pub struct Parcel {
    from: u16,
    pub how: Handoff,
    pub bytes: Vec<u8>,
}

pub struct Relay {
    index: u16,
    inbox: Receiver<Parcel>,
    /// Every worker's inbox, by worker index.
    peers: Vec<Sender<Parcel>>,
    /// This worker's buffers coming back from the siblings.
    returned: Receiver<Vec<u8>>,
    /// Where each worker's buffers go back, by worker index.
    homes: Vec<Sender<Vec<u8>>>,
    pool: Vec<Vec<u8>>,
}

impl Relay {
    /// A worker with no siblings: nothing goes out, nothing comes in.
    pub fn alone() -> Relay {
        Relay {
            index: 0,
            inbox: never(),
            peers: Vec::new(),
            returned: never(),
            homes: Vec::new(),
            pool: Vec::new(),
        }
    }

    /// Relays for `n` workers in worker order, each with a pool of `POOL`
    /// buffers of `buf_len` bytes (a frame: larger packets, i.e.
    /// reassembled datagrams, grow the buffer they get once).
    pub fn connect(n: usize, buf_len: usize) -> Vec<Relay> {
        let inboxes: Vec<_> = (0..n).map(|_| bounded(POOL)).collect();
        let homes: Vec<_> = (0..n).map(|_| bounded(POOL)).collect();
        (0..n)
            .map(|i| Relay {
                index: i as u16,
                inbox: inboxes[i].1.clone(),
                peers: inboxes.iter().map(|(tx, _)| tx.clone()).collect(),
                returned: homes[i].1.clone(),
                homes: homes.iter().map(|(tx, _)| tx.clone()).collect(),
                pool: (0..POOL).map(|_| Vec::with_capacity(buf_len)).collect(),
            })
            .collect()
    }

    /// The next packet a sibling handed over, if any.
    pub fn recv(&self) -> Option<Parcel> {
        self.inbox.try_recv().ok()
    }

    /// Done with `p`: its buffer goes back to the worker it came from.
    pub fn give_back(&self, p: Parcel) {
        if let Some(home) = self.homes.get(usize::from(p.from)) {
            // Never full: it holds every buffer its owner has.
            let _ = home.try_send(p.bytes);
        }
    }

    /// Buffers in the pool now (the rest are out with siblings).
    pub fn pooled(&self) -> usize {
        self.pool.len()
    }
}

impl Siblings for Relay {
    fn hand_off(&mut self, to: u16, how: Handoff, bytes: &[u8]) -> bool {
        let Some(peer) = self.peers.get(usize::from(to)) else {
            return false;
        };
        if self.pool.is_empty() {
            self.pool.extend(self.returned.try_iter());
        }
        let Some(mut buf) = self.pool.pop() else {
            return false;
        };
        buf.clear();
        buf.extend_from_slice(bytes);
        let parcel = Parcel {
            from: self.index,
            how,
            bytes: buf,
        };
        match peer.try_send(parcel) {
            Ok(()) => true,
            Err(e) => {
                self.pool.push(e.into_inner().bytes);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn parcels_arrive_in_order_and_their_buffers_go_home() {
        let mut r = Relay::connect(2, 64);
        let how = Handoff::Fragment { broadcast: false };
        for i in 0..3u8 {
            assert!(r[0].hand_off(1, how, &[i; 10]));
        }
        assert_eq!(r[0].pooled(), POOL - 3);
        for i in 0..3u8 {
            let p = r[1].recv().expect("a parcel");
            assert_eq!((p.how, &p.bytes[..]), (how, &[i; 10][..]));
            r[1].give_back(p);
        }
        assert!(r[1].recv().is_none());
        // The sender takes its buffers back when its pool runs dry.
        let tcp = Handoff::TcpOwner {
            src: Ipv4Addr::new(198, 18, 0, 2),
            dst: Ipv4Addr::new(198, 18, 0, 1),
        };
        let mut sent = 0;
        while r[0].hand_off(1, tcp, b"x") {
            sent += 1;
        }
        assert_eq!(sent, POOL - 3 + 3, "the returned buffers are reused");
        assert!(!r[0].hand_off(7, tcp, b"x"), "no such worker");
        assert!(!Relay::alone().hand_off(0, tcp, b"x"));
    }
}
