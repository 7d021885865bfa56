//! xskd: a kernel-bypass packet processing daemon.
//!
//! Layers (see ARCHITECTURE in the README): `wire` (byte layouts) ->
//! `stack` (sans-IO protocol state) -> `service` (applications) on top;
//! `datapath` (AF_XDP, XDP loader, in-memory test datapath) below;
//! `worker` ties them together per core; `control` exports state;
//! `config` is the TOML schema; `lab` builds veth labs for demo and tests.

pub mod config;
pub mod control;
pub mod daemon;
pub mod datapath;
pub mod lab;
pub mod service;
pub mod stack;
pub mod time;
pub mod wire;
pub mod worker;
