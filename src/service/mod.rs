//! Applications running inside the workers on the stack's API.

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
