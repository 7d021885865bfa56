//! Protocol state, sans-IO: frames and `now` in, frames out.

mod arp;
pub mod arp_cache;
pub mod config;
pub mod counters;
pub mod drop_reason;
mod icmp;
mod iface;
mod ipv4;
pub mod ipv4_frag;
pub mod rate_limit;
pub mod tcp;
mod udp;

pub use config::{ArpConfig, FragConfig, StackConfig};
pub use counters::{StackCounters, UdpPortCounters};
pub use drop_reason::{DropCounters, DropReason};
pub use icmp::MAX_QUOTE;
pub use iface::{Stack, StackError, TxSink, MAX_MTU, MIN_MTU};
pub use ipv4::{DEFAULT_TTL, MAX_IPV4_PAYLOAD};
pub use udp::{UdpReply, UdpService, MAX_UDP_PAYLOAD};

#[cfg(test)]
mod tests;
