//! Applications running inside the workers on the stack's API.

pub mod discard;
pub mod http;
pub mod tcp_echo;
pub mod udp_echo;

pub use udp_echo::UdpEcho;
