//! xskd, the daemon: per-core workers that drive the protocol stack over
//! AF_XDP, the control plane that exports their state, the config schema
//! and the command line.
//!
//! The layers are crates (see ARCHITECTURE.md): `xskd-proto` (wire +
//! stack, sans-IO) <- `xskd-services` (HTTP, HTTPS, DNS, echo) <- this
//! crate; `xskd-datapath` (AF_XDP, UMEM, BPF) below it; `xskd-lab` (veth
//! labs) beside it. They are re-exported here under the names the daemon's
//! modules use.

pub use xskd_datapath as datapath;
pub use xskd_lab as lab;
pub use xskd_proto::{drop_reason, link, stack, time, wire};
pub use xskd_services as service;

pub mod config;
pub mod control;
pub mod daemon;
pub mod worker;
