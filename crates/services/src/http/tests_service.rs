//! The store shared across threads, and the whole service over two `Tcp`
//! instances wired back to back with a fake clock.

use std::net::SocketAddrV4;
use std::time::Duration;

use super::*;
use crate::stack::tcp::TcpConfig;

fn statuses(resp: &str) -> Vec<u16> {
    resp.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| resp.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

#[test]
fn store_put_on_one_thread_is_seen_by_get_on_another() {
    let store = Store::shared(StoreConfig::default());
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let s = store.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let p = format!("/w{w}/{i}");
                    s.put(&p, Object::new(p.clone().into_bytes(), None, 0))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in writers {
        t.join().unwrap();
    }
    let s = store.clone();
    std::thread::spawn(move || {
        for w in 0..4 {
            for i in 0..500 {
                let p = format!("/w{w}/{i}");
                assert_eq!(&*s.get(&p).unwrap().body, p.as_bytes());
            }
        }
    })
    .join()
    .unwrap();
    assert_eq!(store.objects(), 2000);
}

#[test]
fn store_post_ids_are_unique_across_threads() {
    let store = Store::shared(StoreConfig::default());
    let ts: Vec<_> = (0..4)
        .map(|_| {
            let s = store.clone();
            std::thread::spawn(move || {
                (0..200)
                    .map(|_| s.post("/c", Object::new(vec![1], None, 0)).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<String> = ts.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 800);
    assert_eq!(store.objects(), 800);
}

use crate::test_pair::{exchange, Sink, CLIENT as C, SERVER as S};

/// The service on a real `Tcp`, with a client `Tcp` wired back to back.
#[test]
fn service_over_tcp_pair_serves_put_then_pipelined_gets_and_closes() {
    let mut client = Tcp::new(TcpConfig::default(), C, [1; 32], 1);
    let mut server = Tcp::new(TcpConfig::default(), S, [2; 32], 2);
    let store = Store::shared(StoreConfig::default());
    let mut http = HttpService::new(&mut server, 80, store.clone(), HttpConfig::default()).unwrap();
    assert_eq!(http.port(), 80);
    let mut now = Instant::from_secs(1);
    let mut out = Sink::new();
    let c = client
        .connect(now, SocketAddrV4::new(S, 80), &mut out)
        .unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let mut req = format!(
        "PUT /big HTTP/1.1\r\nHost: s\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        big.len()
    )
    .into_bytes();
    req.extend_from_slice(&big);
    req.extend_from_slice(b"GET /big HTTP/1.1\r\nHost: s\r\n\r\nGET /missing HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n");
    let (mut sent, mut got, mut eof) = (0, Vec::new(), false);
    let mut buf = vec![0u8; 65536];
    for _ in 0..200_000 {
        http.poll(now, &mut server);
        if sent < req.len() {
            if let Ok(n) = client.send(c, &req[sent..]) {
                sent += n;
            }
        }
        loop {
            match client.recv(c, &mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        exchange(&mut client, &mut server, now, std::mem::take(&mut out));
        now += Duration::from_micros(100);
        if eof {
            break;
        }
    }
    assert!(eof, "server closed after Connection: close");
    let text = String::from_utf8_lossy(&got);
    assert_eq!(
        statuses(&text),
        vec![100, 201, 200, 404],
        "{}",
        &text[..text.len().min(600)]
    );
    let start = text.find("\r\n\r\n").unwrap() + 4; // after 100
    let start = start + text[start..].find("\r\n\r\n").unwrap() + 4; // after 201
    let start = start + text[start..].find("\r\n\r\n").unwrap() + 4; // after 200 head
    assert!(got[start..].starts_with(&big), "GET body byte-exact");
    assert_eq!(store.objects(), 1);
    let _ = client.close(c);
    for _ in 0..10 {
        http.poll(now, &mut server);
        exchange(&mut client, &mut server, now, Sink::new());
        now += Duration::from_millis(1);
    }
    let st = http.stats();
    assert_eq!(st.counters.connections_accepted, 1);
    assert_eq!(st.counters.requests_of(Method::Get), 2);
    assert_eq!(st.counters.continues, 1);
    assert_eq!(st.service_time_ns.len(), 3);
    assert_eq!(st.connections, 0, "handle released");
    assert!(st.counters.bytes_out > 300_000);
    assert_eq!(st.counters.bytes_in, req.len() as u64);
}

#[test]
fn service_idle_connection_gets_fin_at_idle_timeout_and_handle_is_released() {
    let mut client = Tcp::new(TcpConfig::default(), C, [3; 32], 3);
    let mut server = Tcp::new(TcpConfig::default(), S, [4; 32], 4);
    let store = Store::shared(StoreConfig::default());
    let cfg = HttpConfig {
        idle_timeout: Duration::from_secs(5),
        ..HttpConfig::default()
    };
    let mut http = HttpService::new(&mut server, 8080, store, cfg).unwrap();
    let mut now = Instant::from_secs(1);
    let mut out = Sink::new();
    let c = client
        .connect(now, SocketAddrV4::new(S, 8080), &mut out)
        .unwrap();
    exchange(&mut client, &mut server, now, out);
    http.poll(now, &mut server);
    assert_eq!(http.connections(), 1);
    let deadline = http.poll_at().expect("idle deadline");
    assert_eq!(deadline, now + Duration::from_secs(5));
    now = deadline;
    http.poll(now, &mut server);
    exchange(&mut client, &mut server, now, Sink::new());
    let mut buf = [0u8; 64];
    assert_eq!(client.recv(c, &mut buf), Ok(0), "server sent FIN, no 408");
    let _ = client.close(c);
    exchange(&mut client, &mut server, now, Sink::new());
    http.poll(now, &mut server);
    assert_eq!(http.connections(), 0);
    assert_eq!(http.counters().timeouts_of(TimeoutKind::Idle), 1);
    assert_eq!(http.counters().connections_closed, 1);
}

#[test]
fn service_serves_only_connections_with_events_not_every_idle_one() {
    let mut client = Tcp::new(TcpConfig::default(), C, [5; 32], 5);
    let mut server = Tcp::new(TcpConfig::default(), S, [6; 32], 6);
    let store = Store::shared(StoreConfig::default());
    let mut http = HttpService::new(&mut server, 80, store, HttpConfig::default()).unwrap();
    let now = Instant::from_secs(1);
    let mut out = Sink::new();
    let conns: Vec<_> = (0..50)
        .map(|_| {
            client
                .connect(now, SocketAddrV4::new(S, 80), &mut out)
                .unwrap()
        })
        .collect();
    exchange(&mut client, &mut server, now, out);
    http.poll(now, &mut server);
    assert_eq!(http.connections(), 50);
    http.poll(now, &mut server);
    let idle = http.serves();
    http.poll(now, &mut server);
    assert_eq!(http.serves(), idle, "nothing happened: nothing served");
    let req = b"GET /none HTTP/1.1\r\nHost: s\r\n\r\n";
    assert_eq!(client.send(conns[7], req), Ok(req.len()));
    exchange(&mut client, &mut server, now, Sink::new());
    http.poll(now, &mut server);
    exchange(&mut client, &mut server, now, Sink::new());
    let served = http.serves() - idle;
    assert!((1..=2).contains(&served), "served {served} of 50");
    let mut buf = [0u8; 512];
    let n = client.recv(conns[7], &mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 404"), "{:?}", &buf[..n]);
    // Idle timeouts still reach every connection (a deadline walk).
    let deadline = http.poll_at().expect("idle deadline");
    http.poll(deadline, &mut server);
    assert_eq!(http.serves() - idle - served, 50);
}
