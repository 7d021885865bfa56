//! Two `Tcp` instances wired back to back with a fake clock, for service
//! tests: a client stack drives the service's server stack.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::stack::tcp::Tcp;
use crate::time::Instant;

pub type Sink = Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>;
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// Poll both stacks and carry segments between them until both are quiet;
/// `cs` holds segments the client already emitted.
pub fn exchange(client: &mut Tcp, server: &mut Tcp, now: Instant, mut cs: Sink) {
    let mut ss = Sink::new();
    client.poll(now, &mut cs);
    server.poll(now, &mut ss);
    while !cs.is_empty() || !ss.is_empty() {
        let (mut cs2, mut ss2) = (Sink::new(), Sink::new());
        for (_, _, seg) in cs.drain(..) {
            let _ = server.on_segment(now, CLIENT, SERVER, &seg, &mut ss2);
        }
        for (_, _, seg) in ss.drain(..) {
            let _ = client.on_segment(now, SERVER, CLIENT, &seg, &mut cs2);
        }
        cs = cs2;
        ss = ss2;
    }
}
