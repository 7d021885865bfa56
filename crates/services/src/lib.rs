//! Applications running inside the workers on the protocol crate's API:
//! UDP services implement `stack::UdpService`; TCP services own listeners
//! on the worker's `stack::tcp::Tcp` and are polled by the worker loop.
//! Sans-IO like the stack below: every call takes `now`, nothing here reads
//! a clock or touches a socket, and nothing is unsafe.

#![forbid(unsafe_code)]

// The layer below, under the paths the services use.
use xskd_proto::{stack, time};

pub mod conn_set;
pub mod connect_probe;
pub mod discard;
pub mod dns;
pub mod dns_tcp;
pub mod dns_udp;
pub mod http;
pub mod https;
pub mod tcp_echo;
pub mod udp_echo;

#[cfg(test)]
mod test_pair;

pub use udp_echo::UdpEcho;
