//! Stack tests: hand-built frames into `Stack::process_frame`, fake clock,
//! frames out of a `Vec<Vec<u8>>` sink. The frame builders are the
//! testkit's (shared with the crates above).

mod arp;
mod fuzz;
mod icmp;
mod ipv4;
mod shard;
mod tcp_backpressure;
mod tcp_mtu;
mod udp;

use std::net::Ipv4Addr;
use std::time::Duration;

use super::*;
use crate::time::Instant;
use crate::wire::*;

pub use crate::testkit::frames::*;
pub use crate::testkit::Reflect as UdpEcho;

#[test]
fn stack_can_move_to_its_worker_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Stack>();
}
