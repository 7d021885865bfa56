//! Several workers, one address: what one worker's stack hands to another.
//!
//! Each worker runs its own `Stack` on the frames of its NIC queue and
//! shares nothing. Most frames are finished where they land; three kinds
//! belong elsewhere and are handed over through [`Siblings`] (the worker's
//! bounded lock-free queues, `src/worker/relay.rs`):
//! - a TCP segment to a local port in a sibling's ephemeral slice: that
//!   sibling made the active open (`tcp/shard.rs`);
//! - a TCP segment for a listener that finds no connection here: it is
//!   searched for on the siblings before anyone answers it with a RST;
//! - an IPv4 fragment: every fragment of a datagram goes to the worker its
//!   (source, destination, protocol, id) hashes to, so reassembly sees all
//!   of them whatever queues they arrived on.
//!
//! The common case costs a port-range check (and a flag test for
//! fragments); only frames that move are copied.

use std::net::{Ipv4Addr, SocketAddrV4};

pub use super::counters::{HandoffCounters, HandoffKind};
use super::ipv4_frag::FragKey;
use super::tcp::IcmpTcpError;
use crate::wire::tcp::SeqNumber;

/// This worker's place among those serving the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Position of this worker, `0..count`.
    pub index: u16,
    pub count: u16,
    /// Keys the fragment owner hash; the same on every worker (the daemon
    /// draws it once), so all agree where a datagram is reassembled.
    pub frag_key: u64,
}

impl Shard {
    /// A worker with no siblings.
    pub const ALONE: Shard = Shard {
        index: 0,
        count: 1,
        frag_key: 0,
    };

    /// The worker after this one, for a search that visits every sibling.
    pub fn next(&self) -> u16 {
        (self.index + 1) % self.count.max(1)
    }

    /// The worker that reassembles the datagram `key` identifies.
    pub fn frag_owner(&self, key: &FragKey) -> u16 {
        if self.count < 2 {
            return self.index;
        }
        let addrs = (u64::from(u32::from(key.src)) << 32) | u64::from(u32::from(key.dst));
        let rest = (u64::from(key.protocol) << 16) | u64::from(key.ident);
        let h = mix(mix(addrs ^ self.frag_key) ^ rest);
        (h % u64::from(self.count)) as u16
    }
}

/// splitmix64's finalizer: every input bit moves every output bit.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What a handed-over packet is and how the receiving stack takes it up.
/// The bytes travel beside it (see each variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// A TCP segment (bytes: header and payload) for the worker that owns
    /// its local port; that worker gives the final answer.
    TcpOwner { src: Ipv4Addr, dst: Ipv4Addr },
    /// A TCP segment for a listener's port that `declined` workers had no
    /// connection for; the last worker to look answers it.
    TcpSearch {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        declined: u8,
    },
    /// An IPv4 fragment (bytes: the whole packet, header included, already
    /// validated) for this worker's reassembly.
    Fragment { broadcast: bool },
    /// An ICMP error about a segment of a connection the receiving worker
    /// owns by port (no bytes).
    TcpIcmpError {
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: Option<SeqNumber>,
        error: IcmpTcpError,
    },
}

impl Handoff {
    pub fn kind(&self) -> HandoffKind {
        match self {
            Handoff::TcpOwner { .. } => HandoffKind::TcpOwner,
            Handoff::TcpSearch { .. } => HandoffKind::TcpSearch,
            Handoff::Fragment { .. } => HandoffKind::Fragment,
            Handoff::TcpIcmpError { .. } => HandoffKind::TcpIcmpError,
        }
    }
}

/// Where a stack hands packets to its sibling workers.
pub trait Siblings {
    /// Queue `bytes` for worker `to`, to be taken up as `how`. False when
    /// it cannot be queued now (the caller counts `HandoffFull`).
    fn hand_off(&mut self, to: u16, how: Handoff, bytes: &[u8]) -> bool;
}

/// For a stack without siblings: nothing can be handed over.
pub struct NoSiblings;

impl Siblings for NoSiblings {
    fn hand_off(&mut self, _to: u16, _how: Handoff, _bytes: &[u8]) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_of_one_datagram_agree_on_an_owner_and_datagrams_spread() {
        let key = |ident| FragKey {
            src: Ipv4Addr::new(198, 18, 0, 2),
            dst: Ipv4Addr::new(198, 18, 0, 1),
            protocol: 17,
            ident,
        };
        let shards: Vec<Shard> = (0..3)
            .map(|index| Shard {
                index,
                count: 3,
                frag_key: 7,
            })
            .collect();
        let mut seen = [0u32; 3];
        for ident in 0..300 {
            let owners: Vec<u16> = shards.iter().map(|s| s.frag_owner(&key(ident))).collect();
            assert!(owners.iter().all(|&o| o == owners[0]), "{owners:?}");
            seen[owners[0] as usize] += 1;
        }
        assert!(
            seen.iter().all(|&n| n > 50),
            "spread over the workers: {seen:?}"
        );
        assert_eq!(Shard::ALONE.frag_owner(&key(1)), 0);
        assert_eq!(shards[2].next(), 0);
    }
}
