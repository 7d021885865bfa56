//! Protocol state, sans-IO: frames and `now` in, frames out.
//!
//! One [`Stack`] per worker. `iface` holds the `Stack` (Ethernet input,
//! timers) and `Net`, the part that sends; `arp` answers, learns and
//! resolves on top of `arp_cache` (cache + frames held while resolving);
//! `ipv4` validates, reassembles (`ipv4_frag`), dispatches and fragments
//! on output, and hands what belongs to a sibling worker to [`Siblings`]
//! (`shard`); `icmp` does echo and the errors we send (rate-limited by
//! `rate_limit`); `udp` dispatches to bound [`UdpService`]s. Every pool is
//! allocated in `Stack::new`; a frame that goes nowhere is counted under a
//! [`DropReason`] in [`StackCounters::drops`].
//!
//! TCP plugs in at one place: `ipv4::tcp_input` (today it counts
//! `TcpUnsupported`) and `ipv4::tcp_icmp_error` next to it; segments go
//! out through `Net::send_ipv4`.

mod arp;
pub mod arp_cache;
pub mod config;
pub mod counters;
mod icmp;
mod iface;
mod ipv4;
pub mod ipv4_frag;
mod ipv4_out;
mod net;
pub mod rate_limit;
pub mod shard;
pub mod tcp;
mod udp;

pub use crate::drop_reason::{DropCounters, DropReason};
pub use crate::link::TxSink;
pub use config::{ArpConfig, FragConfig, StackConfig};
pub use counters::{StackCounters, UdpPortCounters};
pub use icmp::{IcmpErrorKind, MAX_QUOTE};
pub use iface::Stack;
pub use ipv4_out::{DEFAULT_TTL, MAX_IPV4_PAYLOAD};
pub use net::{StackError, MAX_MTU, MIN_MTU};
pub use shard::{Handoff, HandoffCounters, HandoffKind, NoSiblings, Shard, Siblings};
pub use udp::{ServiceMetric, UdpReply, UdpService, MAX_UDP_PAYLOAD};

#[cfg(test)]
mod tests;
