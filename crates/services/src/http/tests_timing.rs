//! Request service time: from the arrival of the segment that completed the
//! head to the response's last byte handed to TCP.

use std::net::SocketAddrV4;
use std::time::Duration;

use super::tests::{status_of, statuses, Harness};
use super::*;
use crate::stack::tcp::TcpConfig;
use crate::test_pair::{exchange, Sink, CLIENT as C, SERVER as S};

/// A clock read 7 ms into the turn (a busy turn, seen by a real clock).
fn seven_ms_late(now: Instant) -> Instant {
    now + Duration::from_millis(7)
}

fn max_ms(h: &Histogram<u64>) -> f64 {
    h.max() as f64 / 1e6
}

#[test]
fn the_end_is_read_from_the_clock_not_the_turns_now() {
    let mut h = Harness::new();
    h.put("/a", "x");
    h.hist.reset();
    let now = h.now;
    let (conn, mut ctx) = h.ctx();
    ctx.clock = seven_ms_late;
    conn.on_input(now, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &mut ctx);
    conn.write_out(now, &mut ctx, |b| b.len());
    assert_eq!(h.hist.len(), 1);
    assert!(
        h.hist.equivalent(h.hist.max(), 7_000_000),
        "{} ms",
        max_ms(&h.hist)
    );
}

#[test]
fn a_slowly_sent_head_is_timed_from_its_last_byte_not_its_first() {
    let mut h = Harness::new();
    h.put("/a", "x");
    h.hist.reset();
    assert_eq!(h.feed(b"GET /a HTTP/1.1\r\n"), "");
    h.now += Duration::from_secs(2);
    assert_eq!(status_of(&h.feed(b"Host: x\r\n\r\n")), 200);
    assert_eq!(h.hist.len(), 1);
    assert!(h.hist.max() < 1_000_000, "{} ms", max_ms(&h.hist));
}

#[test]
fn a_pipelined_request_is_timed_from_its_arrival_including_its_wait() {
    let mut h = Harness::new();
    h.put("/big", &"b".repeat(50_000));
    h.hist.reset();
    h.window = Some(0);
    let now = h.now;
    let (conn, mut ctx) = h.ctx();
    conn.on_input(
        now,
        b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /no HTTP/1.1\r\nHost: x\r\n\r\n",
        &mut ctx,
    );
    h.now += Duration::from_millis(50);
    h.window = None;
    let r = String::from_utf8_lossy(&h.drain()).into_owned();
    assert_eq!(statuses(&r), vec![200, 404]);
    assert_eq!(h.hist.len(), 2);
    assert!(
        h.hist.equivalent(h.hist.min(), 50_000_000),
        "the 404 waited 50 ms behind the body: {} ms",
        h.hist.min() as f64 / 1e6
    );
}

/// GET 300 KB over TCP; the client has a `window`-byte receive buffer and
/// reads at most `per_ms` bytes a millisecond. The recorded service time
/// in ms.
fn timed_download(window: usize, per_ms: usize) -> f64 {
    let mut client = Tcp::new(
        TcpConfig {
            recv_buffer: window,
            ..TcpConfig::default()
        },
        C,
        [9; 32],
        9,
    );
    let mut server = Tcp::new(TcpConfig::default(), S, [10; 32], 10);
    let store = Store::shared(StoreConfig::default());
    store
        .put("/big", Object::new(vec![7; 300_000], None, 0))
        .unwrap();
    let mut http = HttpService::new(&mut server, 80, store, HttpConfig::default()).unwrap();
    http.set_clock(super::ctx::turn);
    let mut now = Instant::from_secs(1);
    let mut out = Sink::new();
    let c = client
        .connect(now, SocketAddrV4::new(S, 80), &mut out)
        .unwrap();
    exchange(&mut client, &mut server, now, out);
    let req = b"GET /big HTTP/1.1\r\nHost: s\r\n\r\n";
    assert_eq!(client.send(c, req), Ok(req.len()));
    let mut buf = vec![0u8; per_ms];
    let mut got = 0;
    while got < 300_000 {
        exchange(&mut client, &mut server, now, Sink::new());
        http.poll(now, &mut server);
        exchange(&mut client, &mut server, now, Sink::new());
        if let Ok(n) = client.recv(c, &mut buf) {
            got += n;
        }
        now += Duration::from_millis(1);
    }
    let st = http.stats();
    assert_eq!(st.service_time_ns.len(), 1);
    st.service_time_ns.max() as f64 / 1e6
}

#[test]
fn a_slow_reader_moves_the_service_time_histogram() {
    let fast = timed_download(1024 * 1024, 1024 * 1024);
    let slow = timed_download(16 * 1024, 2 * 1024);
    // 300 KB at 2 KB/ms is about 150 ms; read at once, a few turns.
    assert!(slow > 100.0, "slow reader: {slow} ms");
    assert!(
        slow > 10.0 * fast.max(1.0),
        "slow {slow} ms vs fast {fast} ms"
    );
}
