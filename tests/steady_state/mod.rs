//! The harness of the steady-state allocation tests (`tests/alloc_*.rs`).
//! Each test is its own binary with `harness = false`: the counting
//! allocator is global, and libtest's threads would be counted with us.
//!
//! What is measured is one worker as the daemon runs it: `worker::run`
//! over an in-memory port whose frame buffers are recycled like UMEM
//! frames, with the production processor (`Node`: the stack and its
//! services). Every frame in goes through `Node::process_frame`, the
//! services run in `Node::poll`, and the frames out land in the port's
//! reused buffers. The peer (frame builders, a client `Stack`, a rustls
//! client) runs in the loop's report hook, which is called once per loop
//! turn; allocations inside the hook are not counted, everything else in
//! the loop is.

// Each test binary uses its own part of the harness.
#![allow(dead_code)]

use std::alloc::System;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stats_alloc::{Stats, StatsAlloc, INSTRUMENTED_SYSTEM};
use xskd::config::PollMode;
use xskd::datapath::memory::MemoryPort;
use xskd::drop_reason::DropReason;
use xskd::link::TxSink;
use xskd::stack::tcp::{ConnId, State, TcpApiError};
use xskd::stack::{Stack, StackConfig};
use xskd::time::Instant;
use xskd::worker::node::Node;
use xskd::worker::{self, clock, Mesh, WorkerOptions};
use xskd_proto::testkit::frames::{OUR_IP, OUR_MAC, PEER_IP, PEER_MAC};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Frames each way the port holds, and the largest frame (MTU 1500).
const PORT_FRAMES: usize = 1024;
const FRAME: usize = 2048;
/// Loop turns before a test gives up (a stuck exchange fails, never hangs).
const MAX_TURNS: u64 = 20_000_000;

/// Allocations counted while the worker ran, the peer's excluded.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counted {
    pub allocations: usize,
    pub reallocations: usize,
    pub bytes: usize,
    /// Requests (or frames) the peer completed while counting.
    pub requests: u64,
}

impl Counted {
    /// Allocations plus reallocations per request.
    pub fn per_request(&self) -> f64 {
        (self.allocations + self.reallocations) as f64 / self.requests.max(1) as f64
    }
}

impl std::fmt::Display for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} allocations + {} reallocations ({} bytes) over {} requests",
            self.allocations, self.reallocations, self.bytes, self.requests
        )
    }
}

/// Sums the allocator's counters over the stretches between `resume` and
/// `pause`.
#[derive(Default)]
struct Meter {
    since: Option<Stats>,
    total: Stats,
}

impl Meter {
    fn resume(&mut self) {
        self.since = Some(GLOBAL.stats());
    }

    fn pause(&mut self) {
        if let Some(since) = self.since.take() {
            let d = GLOBAL.stats() - since;
            self.total.allocations += d.allocations;
            self.total.reallocations += d.reallocations;
            self.total.bytes_allocated += d.bytes_allocated;
        }
    }
}

/// Run `node` in the worker loop over `port`. `peer` runs once per loop
/// turn with the port (the wire's other end) and the clock, and returns how
/// many requests it has seen answered so far. Counting starts once `warm`
/// are done and covers the next `measured`; then the loop stops.
pub fn run_worker(
    node: &mut Node,
    port: &mut MemoryPort,
    warm: u64,
    measured: u64,
    mut peer: impl FnMut(&mut MemoryPort, Instant) -> u64,
) -> Counted {
    let stop = AtomicBool::new(false);
    let opts = WorkerOptions {
        queue: 0,
        batch: 64,
        poll: PollMode::Busy,
        // The hook (the peer) runs every turn.
        report_every: Duration::ZERO,
        drain: Duration::ZERO,
    };
    let mut meter = Meter::default();
    let mut counting_from = None;
    let mut requests = 0;
    let mut turns = 0u64;
    worker::run(
        port,
        node,
        &opts,
        &stop,
        &mut Mesh::alone(),
        |dp, _, _, last| {
            meter.pause();
            if last || stop.load(Ordering::Relaxed) {
                return;
            }
            turns += 1;
            requests = peer(dp, clock::monotonic());
            if counting_from.is_none() && requests >= warm {
                counting_from = Some(requests);
            }
            if counting_from.is_some_and(|from| requests >= from + measured) || turns > MAX_TURNS {
                stop.store(true, Ordering::Relaxed);
                return;
            }
            if counting_from.is_some() {
                meter.resume();
            }
        },
    );
    assert!(
        turns <= MAX_TURNS,
        "the exchange stalled after {requests} requests"
    );
    Counted {
        allocations: meter.total.allocations,
        reallocations: meter.total.reallocations,
        bytes: meter.total.bytes_allocated,
        requests: requests - counting_from.unwrap_or(requests),
    }
}

/// The worker's stack: the lab's server side, MTU 1500.
pub fn server_stack() -> Stack {
    let mut c = StackConfig::new(OUR_MAC, OUR_IP, 24);
    c.tcp_secret = [1; 32];
    c.tcp_seed = 1;
    Stack::new(c)
}

/// The port, sized for a window's worth of frames each way.
pub fn port() -> MemoryPort {
    MemoryPort::new(PORT_FRAMES, FRAME)
}

/// The peer's frames into the worker's rx queue.
pub struct Inject<'a>(pub &'a mut MemoryPort);

impl TxSink for Inject<'_> {
    fn transmit<F: FnOnce(&mut [u8])>(&mut self, len: usize, fill: F) -> Result<(), DropReason> {
        if self.0.inject_with(len, fill) {
            Ok(())
        } else {
            Err(DropReason::TxRingFull)
        }
    }

    fn room(&self) -> usize {
        self.0.rx_room()
    }
}

/// The peer: a client stack with one TCP connection to the worker, and a
/// buffer for what the connection received.
pub struct TcpPeer {
    pub stack: Stack,
    pub conn: Option<ConnId>,
    port: u16,
    /// Bytes received and not yet taken by the test.
    pub received: Vec<u8>,
    /// Bytes to send that TCP has not taken yet.
    pub unsent: Vec<u8>,
    frame: Vec<u8>,
}

impl TcpPeer {
    /// A client at the lab's peer address that will connect to `port`.
    pub fn new(port: u16) -> TcpPeer {
        let mut c = StackConfig::new(PEER_MAC, PEER_IP, 24);
        c.tcp_secret = [2; 32];
        c.tcp_seed = 2;
        TcpPeer {
            stack: Stack::new(c),
            conn: None,
            port,
            received: Vec::new(),
            unsent: Vec::new(),
            frame: Vec::with_capacity(FRAME),
        }
    }

    /// One turn: connect at first, take the worker's frames, move bytes
    /// in and out of the connection, send what is due. True once the
    /// connection is established.
    pub fn turn(&mut self, dp: &mut MemoryPort, now: Instant) -> bool {
        let conn = match self.conn {
            Some(c) => c,
            None => {
                let c = self
                    .stack
                    .tcp_connect(now, SocketAddrV4::new(OUR_IP, self.port), &mut Inject(dp))
                    .expect("connect");
                self.conn = Some(c);
                c
            }
        };
        while dp
            .recv_sent(|f| {
                self.frame.clear();
                self.frame.extend_from_slice(f);
            })
            .is_some()
        {
            self.stack.process_frame(now, &self.frame, &mut Inject(dp));
        }
        let tcp = self.stack.tcp_mut();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match tcp.recv(conn, &mut buf) {
                Ok(0) => panic!("the worker closed the connection"),
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(TcpApiError::WouldBlock) => break,
                Err(e) => panic!("recv: {e:?}"),
            }
        }
        let established = tcp.state(conn) == Some(State::Established);
        if established && !self.unsent.is_empty() {
            let n = tcp.send(conn, &self.unsent).unwrap_or(0);
            self.unsent.drain(..n);
        }
        self.stack.poll(now, &mut Inject(dp));
        established
    }
}

/// Take one whole HTTP/1.1 response off the front of `buf`: its status and
/// body length. `None` while it is incomplete. Bodies are framed by
/// Content-Length (the object store's only framing); a response to HEAD
/// has none.
pub fn take_response(buf: &mut Vec<u8>, to_head: bool) -> Option<(u16, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut res = httparse::Response::new(&mut headers);
    let head_len = match res.parse(buf).expect("a well-formed response head") {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return None,
    };
    let length: usize = res
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
        .expect("Content-Length");
    let status = res.code.unwrap();
    let body = if to_head { 0 } else { length };
    if buf.len() < head_len + body {
        return None;
    }
    buf.drain(..head_len + body);
    Some((status, length))
}

/// The keep-alive requests both HTTP tests cycle through: (request, to
/// HEAD, expected status, expected body length).
pub fn http_requests(small: usize, large: usize) -> Vec<(Vec<u8>, bool, u16, usize)> {
    vec![
        (
            b"GET /small HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n".to_vec(),
            false,
            200,
            small,
        ),
        (
            b"GET /large HTTP/1.1\r\nHost: 198.18.0.1\r\nConnection: Keep-Alive\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n".to_vec(),
            false,
            200,
            large,
        ),
        (b"HEAD /small HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), true, 200, small),
        // The reason phrase and a newline.
        (b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), false, 404, 10),
    ]
}

/// The object store both HTTP tests serve: `/small` and `/large`.
pub fn http_store(small: usize, large: usize) -> xskd::service::http::SharedStore {
    use xskd::service::http::{Object, Store, StoreConfig};
    let store = Store::shared(StoreConfig::default());
    for (path, len) in [("/small", small), ("/large", large)] {
        let body = (0..len).map(|i| (i % 251) as u8).collect();
        store
            .put(path, Object::new(body, Some("application/octet-stream"), 0))
            .unwrap();
    }
    store
}
