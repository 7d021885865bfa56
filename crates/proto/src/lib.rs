//! xskd's protocol layers, sans-IO: bytes and `now` in, bytes out.
//!
//! One-way layering, bottom to top: `time` (the clock type, never a clock)
//! and `drop_reason` (why a frame went nowhere); `link` (where frames
//! leave); `wire` (byte layouts: parse and emit, no state); `stack` (ARP,
//! IPv4, ICMP, UDP, TCP state and the per-worker demux). Nothing here reads
//! a clock, allocates per packet after setup, or does I/O, and nothing is
//! unsafe: the daemon drives it, the tests replay it on virtual time.

#![forbid(unsafe_code)]

pub mod drop_reason;
pub mod link;
pub mod stack;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod time;
pub mod wire;
