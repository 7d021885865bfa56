//! Steady-state TCP echo allocates nothing per request on one kept
//! connection: segments in through the worker loop, the stack's TCP and
//! the echo service, echoed segments and ACKs out into the port's reused
//! buffers.

mod steady_state;

use steady_state::{port, run_worker, server_stack, TcpPeer};
use xskd::service::tcp_echo::TcpEcho;
use xskd::worker::node::{Node, TcpApp};
use xskd_proto::testkit::frames::{arp_request, OUR_IP, PEER_IP, PEER_MAC};

const PORT: u16 = 7;
/// Message sizes cycled through: one small segment, one full segment,
/// several segments (with ACKs between them).
const SIZES: [usize; 3] = [64, 1460, 10_000];
const WARM: u64 = 100;
const MEASURED: u64 = 1000;

/// Run without libtest (`harness = false`): see `steady_state`.
fn main() {
    tcp_echo_allocates_nothing_per_request_once_warm();
    println!("tcp_echo_allocates_nothing_per_request_once_warm: ok");
}

fn message(i: u64) -> Vec<u8> {
    let len = SIZES[i as usize % SIZES.len()];
    (0..len).map(|b| (b as u64 * 31 + i) as u8).collect()
}

fn tcp_echo_allocates_nothing_per_request_once_warm() {
    let mut stack = server_stack();
    let echo = TcpEcho::new(stack.tcp_mut(), PORT).unwrap();
    let mut node = Node::new(stack, Vec::new(), vec![TcpApp::Echo(echo)]);
    let mut dp = port();
    assert!(dp.inject(&arp_request(PEER_MAC, PEER_IP, OUR_IP)));

    let mut peer = TcpPeer::new(PORT);
    let mut done = 0u64;
    let mut asked: Option<Vec<u8>> = None;
    let counted = run_worker(&mut node, &mut dp, WARM, MEASURED, |dp, now| {
        if !peer.turn(dp, now) {
            return done;
        }
        if let Some(want) = &asked {
            if peer.received.len() >= want.len() {
                assert_eq!(&peer.received, want, "echoed back whole and in order");
                peer.received.clear();
                asked = None;
                done += 1;
            }
        }
        if asked.is_none() {
            let m = message(done);
            peer.unsent.extend_from_slice(&m);
            asked = Some(m);
        }
        done
    });
    println!("tcp echo: {counted}");
    assert!(counted.requests >= MEASURED);
    assert_eq!(
        (counted.allocations, counted.reallocations),
        (0, 0),
        "TCP echo allocated in steady state: {counted}"
    );
}
