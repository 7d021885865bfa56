//! How HTTP output is cut into TLS records: a head and a short body share
//! one record, a long body goes out in full records (rustls allocates one
//! buffer per record, so fewer records are fewer allocations too).

use std::io::Write;

use super::tests::{client, client_config, Pair, Side};
use super::tls::GATHER;
use super::*;

/// Ciphertext length of a full TLS 1.3 record: 2^14 bytes of payload, the
/// inner content type, the AEAD tag.
const FULL_RECORD: usize = GATHER + 1 + 16;

/// The record lengths in `raw` (whole records only).
fn records(mut raw: &[u8]) -> Vec<usize> {
    let mut lens = Vec::new();
    while raw.len() >= 5 {
        assert_eq!(raw[0], 23, "application data after the handshake");
        let len = usize::from(u16::from_be_bytes([raw[3], raw[4]]));
        lens.push(len);
        raw = &raw[5 + len..];
    }
    assert!(raw.is_empty());
    lens
}

/// A TLS 1.3 connection past its handshake (and session tickets), serving
/// `/small` and `/large`.
fn established(small: usize, large: usize) -> (Pair, rustls::ClientConnection) {
    let (side, leaf) = Side::new(TlsOptions::default());
    side.store
        .put(
            "/small",
            crate::http::Object::new(vec![b's'; small], None, 0),
        )
        .unwrap();
    side.store
        .put(
            "/large",
            crate::http::Object::new(vec![b'l'; large], None, 0),
        )
        .unwrap();
    let mut p = Pair::new(side);
    let mut c = client(&client_config(&leaf, false));
    p.pump(Some(&mut c));
    assert!(!c.is_handshaking());
    (p, c)
}

/// GET `path` on the kept connection: the response's plaintext and the
/// lengths of the records it came in.
fn get(p: &mut Pair, c: &mut rustls::ClientConnection, path: &str) -> (Vec<u8>, Vec<usize>) {
    let (raw_mark, got_mark) = (p.s2c.len(), p.got.len());
    write!(c.writer(), "GET {path} HTTP/1.1\r\nHost: s\r\n\r\n").unwrap();
    p.pump(Some(c));
    (p.got[got_mark..].to_vec(), records(&p.s2c[raw_mark..]))
}

#[test]
fn head_and_short_body_go_out_in_one_record() {
    let (mut p, mut c) = established(4096, 10);
    for _ in 0..3 {
        let (got, recs) = get(&mut p, &mut c, "/small");
        assert!(got.starts_with(b"HTTP/1.1 200") && got.ends_with(&[b's'; 4096]));
        assert_eq!(recs, vec![got.len() + 17], "one record per response");
    }
    let (got, recs) = get(&mut p, &mut c, "/missing");
    assert!(got.starts_with(b"HTTP/1.1 404"));
    assert_eq!(recs.len(), 1);
}

#[test]
fn long_body_goes_out_in_full_records_after_its_head() {
    let (mut p, mut c) = established(10, 100_000);
    let (got, recs) = get(&mut p, &mut c, "/large");
    assert!(got.ends_with(&[b'l'; 100_000][..]));
    // The head alone (the body does not fit beside it), then the body in
    // as few records as it needs, every one but the last full.
    let (head, body) = recs.split_first().unwrap();
    assert_eq!(*head, got.len() - 100_000 + 17);
    assert_eq!(body.len(), 100_000usize.div_ceil(GATHER), "{recs:?}");
    let (last, full) = body.split_last().unwrap();
    assert!(full.iter().all(|&l| l == FULL_RECORD), "{recs:?}");
    assert_eq!(full.len() * GATHER + last - 17, 100_000);
}
