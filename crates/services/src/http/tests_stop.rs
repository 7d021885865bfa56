//! Graceful stop: what is being answered goes out whole, then FIN; idle
//! connections close at once; nothing is cut short with a clean close.

use std::net::SocketAddrV4;
use std::time::Duration;

use super::tests::{header, status_of, statuses, Harness};
use super::*;
use crate::stack::tcp::TcpConfig;
use crate::test_pair::{exchange, Sink, CLIENT as C, SERVER as S};

#[test]
fn stop_while_streaming_finishes_the_body_and_takes_no_further_request() {
    let mut h = Harness::new();
    let big = "s".repeat(100_000);
    h.put("/big", &big);
    h.window = Some(0);
    let now = h.now;
    let (conn, mut ctx) = h.ctx();
    conn.on_input(
        now,
        b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n",
        &mut ctx,
    );
    h.conn.stop();
    assert!(!h.conn.finished(), "a response is still queued");
    h.window = Some(1000);
    let r = String::from_utf8_lossy(&h.drain()).into_owned();
    assert_eq!(
        statuses(&r),
        vec![200, 200],
        "the pipelined one was received: answered"
    );
    let second = &r[r.rfind("HTTP/1.1").unwrap()..];
    assert_eq!(header(second, "connection"), Some("close"));
    assert_eq!(r.matches(big.as_str()).count(), 2, "both bodies whole");
    assert!(h.conn.finished());
}

#[test]
fn stop_answers_a_request_whose_body_is_arriving_then_closes() {
    let mut h = Harness::new();
    assert_eq!(
        h.feed(b"PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc"),
        ""
    );
    h.conn.stop();
    let r = h.feed(b"defGET /u HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(statuses(&r), vec![201], "{r}");
    assert_eq!(header(&r, "connection"), Some("close"));
    assert!(h.conn.finished());
    assert_eq!(&*h.store.get("/u").unwrap().body, b"abcdef");
    // Idle: finished at once.
    let mut h = Harness::new();
    assert_eq!(status_of(&h.get("/none")), 404);
    h.conn.stop();
    assert!(h.conn.finished());
}

/// The service over TCP: SIGTERM's `shutdown` while a slow client has most
/// of a 300 KB body still queued in the HTTP layer.
#[test]
fn shutdown_delivers_the_queued_body_to_a_slow_reader_then_fin() {
    let small_window = TcpConfig {
        recv_buffer: 16 * 1024,
        ..TcpConfig::default()
    };
    let mut client = Tcp::new(small_window, C, [7; 32], 7);
    let mut server = Tcp::new(TcpConfig::default(), S, [8; 32], 8);
    let store = Store::shared(StoreConfig::default());
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    store
        .put("/big", Object::new(big.clone(), None, 0))
        .unwrap();
    let mut http = HttpService::new(&mut server, 80, store, HttpConfig::default()).unwrap();
    let mut now = Instant::from_secs(1);
    let mut out = Sink::new();
    let slow = client
        .connect(now, SocketAddrV4::new(S, 80), &mut out)
        .unwrap();
    let idle = client
        .connect(now, SocketAddrV4::new(S, 80), &mut out)
        .unwrap();
    exchange(&mut client, &mut server, now, out);
    http.poll(now, &mut server);
    let req = b"GET /big HTTP/1.1\r\nHost: s\r\n\r\n";
    assert_eq!(client.send(slow, req), Ok(req.len()));
    for _ in 0..20 {
        exchange(&mut client, &mut server, now, Sink::new());
        http.poll(now, &mut server);
        now += Duration::from_millis(1);
    }
    assert_eq!(http.connections(), 2);
    http.shutdown(&mut server);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut idle_eof = false;
    let mut eof = false;
    for _ in 0..20_000 {
        http.poll(now, &mut server);
        exchange(&mut client, &mut server, now, Sink::new());
        if !idle_eof {
            idle_eof = client.recv(idle, &mut buf) == Ok(0);
        }
        // A slow reader: one 4 KB read per millisecond.
        match client.recv(slow, &mut buf) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(TcpApiError::WouldBlock) => {}
            Err(e) => panic!("the slow reader saw {e} after {} bytes", got.len()),
        }
        if got.len() < 100_000 {
            assert!(
                server.draining() > 0,
                "the worker would count itself drained"
            );
        }
        now += Duration::from_millis(1);
    }
    assert!(idle_eof, "the idle connection got our FIN");
    assert!(
        eof,
        "FIN after the body: got {} bytes, {:?}",
        got.len(),
        client.state(slow)
    );
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        got[head_end..] == big[..],
        "the whole body, then FIN: {} of {} bytes",
        got.len() - head_end,
        big.len()
    );
    let _ = client.close(slow);
    let _ = client.close(idle);
    for _ in 0..10 {
        http.poll(now, &mut server);
        exchange(&mut client, &mut server, now, Sink::new());
        now += Duration::from_millis(1);
    }
    assert_eq!(http.connections(), 0);
}
