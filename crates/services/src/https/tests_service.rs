//! The whole HTTPS service over two `Tcp` stacks wired back to back with a
//! fake clock, and config-level checks.

use std::io::{Read, Write};
use std::net::SocketAddrV4;
use std::time::Duration;

use super::tests::{client, client_config, Side, C, S};
use super::*;
use crate::http::Method;
use crate::stack::tcp::TcpConfig;
use crate::test_pair::{exchange, Sink};

#[test]
fn service_over_tcp_pair_serves_https_put_get_and_times_out_silent_client() {
    let mut ctcp = Tcp::new(TcpConfig::default(), C, [1; 32], 1);
    let mut stcp = Tcp::new(TcpConfig::default(), S, [2; 32], 2);
    let (side, leaf) = Side::new(TlsOptions::default());
    let store = side.store.clone();
    let mut svc = HttpsService::new(
        &mut stcp,
        443,
        store.clone(),
        HttpConfig::default(),
        side.https,
    )
    .unwrap();
    let mut now = Instant::from_secs(1);
    let mut out = Sink::new();
    let c = ctcp
        .connect(now, SocketAddrV4::new(S, 443), &mut out)
        .unwrap();
    let silent = ctcp
        .connect(now, SocketAddrV4::new(S, 443), &mut out)
        .unwrap();
    let mut tls = client(&client_config(&leaf, false));
    tls.writer()
        .write_all(b"PUT /k HTTP/1.1\r\nHost: s\r\nContent-Length: 3\r\n\r\nabcGET /k HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (mut got, mut eof) = (Vec::new(), false);
    let mut buf = vec![0u8; 65536];
    let mut wire = Vec::new();
    for _ in 0..10_000 {
        svc.poll(now, &mut stcp);
        while tls.wants_write() {
            tls.write_tls(&mut wire).unwrap();
        }
        if let Ok(n) = ctcp.send(c, &wire) {
            wire.drain(..n);
        }
        loop {
            match ctcp.recv(c, &mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    let mut rd = &buf[..n];
                    while !rd.is_empty() {
                        tls.read_tls(&mut rd).unwrap();
                        tls.process_new_packets().unwrap();
                    }
                    let mut pt = [0u8; 4096];
                    while let Ok(k) = tls.reader().read(&mut pt) {
                        if k == 0 {
                            break;
                        }
                        got.extend_from_slice(&pt[..k]);
                    }
                }
                Err(_) => break,
            }
        }
        exchange(&mut ctcp, &mut stcp, now, std::mem::take(&mut out));
        now += Duration::from_micros(200);
        if eof {
            break;
        }
    }
    assert!(eof, "FIN after Connection: close");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    assert!(
        text.contains("HTTP/1.1 200") && text.ends_with("abc"),
        "{text}"
    );
    assert_eq!(svc.tls_counters().handshakes_full, 1);
    assert_eq!(
        svc.connections(),
        2,
        "the good one lingers, the silent one waits"
    );
    let deadline = svc.poll_at().expect("handshake deadline");
    assert!(deadline <= Instant::from_secs(1) + Duration::from_secs(5));
    now = Instant::from_secs(1) + Duration::from_secs(5);
    for _ in 0..5 {
        svc.poll(now, &mut stcp);
        exchange(&mut ctcp, &mut stcp, now, Sink::new());
        now += Duration::from_secs(1);
    }
    assert_eq!(ctcp.recv(silent, &mut buf), Ok(0), "silent client got FIN");
    assert_eq!(
        svc.tls_counters().handshake_failed_of(FailReason::Timeout),
        1
    );
    let st = svc.stats();
    assert_eq!(st.http.requests_of(Method::Put), 1);
    assert_eq!(st.handshake_time_ns.len(), 1);
}

#[test]
fn fail_reason_labels_are_unique_snake_case() {
    let mut seen = std::collections::HashSet::new();
    for r in FailReason::ALL {
        let l = r.as_str();
        assert!(
            l.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{l}"
        );
        assert!(seen.insert(l), "duplicate {l}");
    }
}
