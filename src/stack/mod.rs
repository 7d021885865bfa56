//! Protocol state, sans-IO: frames and `now` in, frames out.

pub mod arp_cache;
pub mod config;
pub mod counters;
pub mod drop_reason;
pub mod ipv4_frag;
pub mod rate_limit;
pub mod tcp;

pub use config::{ArpConfig, FragConfig, StackConfig};
pub use counters::{StackCounters, UdpPortCounters};
pub use drop_reason::{DropCounters, DropReason};
