//! Steady-state keep-alive GETs allocate nothing per request in the HTTP
//! layer: the head is parsed from the connection's input buffer into
//! reused buffers, the response head is written into the reused output
//! buffer, the body is the stored object's (an `Arc`), and the service time
//! goes into a preallocated histogram. Counted with a global allocator
//! wrapper, so this is its own test binary with a single test.

use std::alloc::System;
use std::time::Duration;

use hdrhistogram::Histogram;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use xskd_proto::time::Instant;
use xskd_services::http::date::DateCache;
use xskd_services::http::{
    turn_clock, Connection, Ctx, HttpConfig, HttpCounters, Object, Store, StoreConfig,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BODY: usize = 4096;

/// One connection and everything its service lends it.
struct Service {
    cfg: HttpConfig,
    store: xskd_services::http::SharedStore,
    counters: HttpCounters,
    hist: Histogram<u64>,
    date: DateCache,
    now: Instant,
    conn: Connection,
}

impl Service {
    /// `n` keep-alive requests `req`, each read and answered whole; the
    /// bytes written.
    fn serve(&mut self, req: &[u8], n: u64) -> usize {
        let mut bytes = 0;
        for _ in 0..n {
            let mut ctx = Ctx {
                cfg: &self.cfg,
                store: &self.store,
                counters: &mut self.counters,
                service_time: &mut self.hist,
                date: &mut self.date,
                clock: turn_clock,
                tls: false,
            };
            let now = self.now;
            self.conn.on_input(now, req, &mut ctx);
            while self.conn.write_out(now, &mut ctx, |b| {
                bytes += b.len();
                b.len()
            }) > 0
            {
                self.conn.advance(now, &mut ctx);
            }
            assert!(self.conn.output_empty() && !self.conn.finished());
            self.now += Duration::from_millis(3);
        }
        bytes
    }
}

/// Run without libtest (`harness = false`): the counting allocator is
/// global, and the harness's own threads would be counted with us.
fn main() {
    keep_alive_gets_allocate_nothing_per_request_once_warm();
    println!("keep_alive_gets_allocate_nothing_per_request_once_warm: ok");
}

fn keep_alive_gets_allocate_nothing_per_request_once_warm() {
    let cfg = HttpConfig::default();
    let store = Store::shared(StoreConfig::default());
    store
        .put(
            "/dir/obj.txt",
            Object::new(vec![b'x'; BODY], Some("text/plain"), 0),
        )
        .unwrap();
    let now = Instant::from_secs(1);
    let mut svc = Service {
        conn: Connection::new(now, &cfg),
        cfg,
        store,
        counters: HttpCounters::default(),
        hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).unwrap(),
        date: DateCache::default(),
        now,
    };
    for req in [
        &b"GET /dir/obj.txt HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"[..],
        b"GET /dir/obj.txt HTTP/1.1\r\nHost: 198.18.0.1\r\nConnection: Keep-Alive\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
        b"HEAD /dir/obj.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        // Warm-up: buffers reach their working size, the Date text is made.
        svc.serve(req, 50);
        let region = Region::new(GLOBAL);
        let bytes = svc.serve(req, 1000);
        let change = region.change();
        assert_eq!(
            (change.allocations, change.reallocations),
            (0, 0),
            "1000 requests ({bytes} bytes out) of {:?}",
            String::from_utf8_lossy(req).lines().next()
        );
        assert!(bytes > 1000 * 100, "real answers went out");
    }
    assert_eq!(svc.counters.status_class(2), 3 * 1050);
    assert_eq!(svc.counters.status_class(4), 1050);
    assert_eq!(svc.hist.len(), 4 * 1050);
}
