//! The bottom of the stack: `Net`, everything that sends (addresses, the
//! ARP cache and held frames, the ICMP limiter, counters), and
//! `emit_frame`, where every frame meets the link. The protocols above add
//! their `impl Net` blocks (arp, ipv4_out, icmp); nothing here knows them.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::arp_cache::{ArpCache, PendingTable};
use super::config::StackConfig;
use super::counters::StackCounters;
use super::rate_limit::TokenBucket;
use super::DropReason;
use crate::link::DynTx;
use crate::time::Instant;
use crate::wire::EthernetAddress;

/// Errors of the stack's setup calls.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackError {
    #[error("UDP port {0} is already bound")]
    PortInUse(u16),
    #[error("UDP port 0 cannot be bound")]
    PortZero,
}

/// Smallest MTU every IPv4 link must carry (RFC 791 section 3.2).
pub const MIN_MTU: usize = 68;
/// Largest MTU we accept (jumbo frames); held ARP frames are this big.
pub const MAX_MTU: usize = 9216;
/// Learned neighbours kept for siblings between two worker loop turns;
/// the oldest is forgotten when full (siblings then resolve by themselves).
pub const ARP_SHARE_QUEUE: usize = 64;
/// How often expired ARP entries are swept.
pub(crate) const CACHE_SWEEP: Duration = Duration::from_secs(1);

/// Count a transmit: frames/bytes on success, the reason on failure.
pub(crate) fn emit_frame(
    counters: &mut StackCounters,
    tx: &mut dyn DynTx,
    len: usize,
    fill: &mut dyn FnMut(&mut [u8]),
) -> Result<(), DropReason> {
    match tx.transmit_dyn(len, fill) {
        Ok(()) => {
            counters.tx_frames += 1;
            counters.tx_bytes += len as u64;
            Ok(())
        }
        Err(reason) => {
            counters.drops.count(reason);
            Err(reason)
        }
    }
}

/// Everything that sends: addresses, ARP, counters, the ICMP limiter.
pub(crate) struct Net {
    pub(crate) config: StackConfig,
    pub(crate) cache: ArpCache,
    pub(crate) pending: PendingTable,
    pub(crate) icmp_bucket: TokenBucket,
    /// Whole outgoing datagrams that need fragmenting are built here.
    pub(crate) scratch: Box<[u8]>,
    pub(crate) next_ident: u16,
    pub(crate) next_sweep: Instant,
    /// When we last announced our address against a conflict.
    pub(crate) last_defend: Option<Instant>,
    /// Neighbours this worker learned from ARP about us, for sibling workers.
    pub(crate) arp_shared: std::collections::VecDeque<(Ipv4Addr, EthernetAddress)>,
    pub(crate) counters: StackCounters,
}
