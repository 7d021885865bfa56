//! Steady-state keep-alive HTTP/1.1 allocates nothing per request on one
//! connection, the whole way: request segments in through the worker
//! loop, the stack's TCP and the HTTP service, response segments out into
//! the port's reused buffers. (`crates/services/tests/
//! http_steady_state_alloc.rs` covers the HTTP layer alone.)

mod steady_state;

use steady_state::{
    http_requests, http_store, port, run_worker, server_stack, take_response, TcpPeer,
};
use xskd::service::http::{HttpConfig, HttpService};
use xskd::worker::clock;
use xskd::worker::node::{Node, TcpApp};
use xskd_proto::testkit::frames::{arp_request, OUR_IP, PEER_IP, PEER_MAC};

const PORT: u16 = 80;
/// One segment's worth, and a body that takes many segments and windows.
const SMALL: usize = 4096;
const LARGE: usize = 100_000;
const WARM: u64 = 100;
const MEASURED: u64 = 1000;

/// Run without libtest (`harness = false`): see `steady_state`.
fn main() {
    keep_alive_gets_allocate_nothing_per_request_once_warm();
    println!("keep_alive_gets_allocate_nothing_per_request_once_warm: ok");
}

fn keep_alive_gets_allocate_nothing_per_request_once_warm() {
    let mut stack = server_stack();
    let store = http_store(SMALL, LARGE);
    let mut http = HttpService::new(stack.tcp_mut(), PORT, store, HttpConfig::default()).unwrap();
    // As the daemon does: response end times from the monotonic clock.
    http.set_clock(clock::monotonic_at);
    let mut node = Node::new(stack, Vec::new(), vec![TcpApp::Http(Box::new(http))]);
    let mut dp = port();
    assert!(dp.inject(&arp_request(PEER_MAC, PEER_IP, OUR_IP)));

    let requests = http_requests(SMALL, LARGE);
    let mut peer = TcpPeer::new(PORT);
    let mut done = 0u64;
    let mut waiting = false;
    let counted = run_worker(&mut node, &mut dp, WARM, MEASURED, |dp, now| {
        if !peer.turn(dp, now) {
            return done;
        }
        if waiting {
            let (_, to_head, status, len) = &requests[done as usize % requests.len()];
            if let Some(got) = take_response(&mut peer.received, *to_head) {
                assert_eq!(got, (*status, *len));
                assert!(peer.received.is_empty(), "one response per request");
                waiting = false;
                done += 1;
            }
        }
        if !waiting {
            let (req, ..) = &requests[done as usize % requests.len()];
            peer.unsent.extend_from_slice(req);
            waiting = true;
        }
        done
    });
    println!("http keep-alive: {counted}");
    assert!(counted.requests >= MEASURED);
    assert_eq!(
        (counted.allocations, counted.reallocations),
        (0, 0),
        "keep-alive HTTP allocated in steady state: {counted}"
    );
}
