//! The connection state machine driven byte by byte with a fake clock
//! (the store across threads and the service over `Tcp`: tests_service.rs).

use std::time::Duration;

use hdrhistogram::Histogram;
use proptest::prelude::*;

use super::date::DateCache;
use super::*;

/// A connection with its service context, fed and drained by hand.
pub(super) struct Harness {
    pub(super) cfg: HttpConfig,
    pub(super) store: SharedStore,
    pub(super) counters: HttpCounters,
    pub(super) hist: Histogram<u64>,
    pub(super) date: DateCache,
    pub(super) conn: Connection,
    pub(super) now: Instant,
    /// Bytes `send` accepts per call (None: all).
    pub(super) window: Option<usize>,
}

impl Harness {
    pub(super) fn new() -> Self {
        Self::with(HttpConfig::default(), StoreConfig::default())
    }

    pub(super) fn with(cfg: HttpConfig, scfg: StoreConfig) -> Self {
        Self::with_store(cfg, Store::shared(scfg))
    }

    pub(super) fn with_store(cfg: HttpConfig, store: SharedStore) -> Self {
        let now = Instant::from_secs(100);
        Harness {
            conn: Connection::new(now, &cfg),
            cfg,
            store,
            counters: HttpCounters::default(),
            hist: Histogram::new_with_bounds(1, HIST_MAX_NS, 3).unwrap(),
            date: DateCache::default(),
            now,
            window: None,
        }
    }

    pub(super) fn ctx(&mut self) -> (&mut Connection, Ctx<'_>) {
        (
            &mut self.conn,
            Ctx {
                cfg: &self.cfg,
                store: &self.store,
                counters: &mut self.counters,
                service_time: &mut self.hist,
                date: &mut self.date,
                clock: super::ctx::turn,
                tls: false,
            },
        )
    }

    /// Write out everything the connection has (in `window`-sized sends).
    pub(super) fn drain(&mut self) -> Vec<u8> {
        let now = self.now;
        let window = self.window;
        let mut out = Vec::new();
        loop {
            let (conn, mut ctx) = self.ctx();
            let n = conn.write_out(now, &mut ctx, |b| {
                let n = window.map_or(b.len(), |w| w.min(b.len()));
                out.extend_from_slice(&b[..n]);
                n
            });
            conn.advance(now, &mut ctx);
            if conn.output_empty() || n == 0 {
                break;
            }
        }
        out
    }

    /// Feed `input` as the glue would, returning everything written back.
    pub(super) fn feed(&mut self, input: &[u8]) -> String {
        let now = self.now;
        let mut out = Vec::new();
        let mut rest = input;
        let mut stalls = 0;
        while !rest.is_empty() {
            let room = self.conn.input_room();
            let n = room.min(rest.len());
            let (conn, mut ctx) = self.ctx();
            conn.on_input(now, &rest[..n], &mut ctx);
            rest = &rest[n..];
            let got = self.drain();
            if n == 0 && got.is_empty() {
                stalls += 1;
                assert!(
                    stalls < 3,
                    "connection stuck with {} bytes unread",
                    rest.len()
                );
            }
            out.extend(got);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    pub(super) fn eof(&mut self) -> String {
        let now = self.now;
        let (conn, mut ctx) = self.ctx();
        conn.on_eof(now, &mut ctx);
        String::from_utf8_lossy(&self.drain()).into_owned()
    }

    pub(super) fn advance_time(&mut self, d: Duration) -> String {
        self.now += d;
        let now = self.now;
        let (conn, mut ctx) = self.ctx();
        conn.on_timer(now, &mut ctx);
        String::from_utf8_lossy(&self.drain()).into_owned()
    }

    pub(super) fn put(&mut self, path: &str, body: &str) -> String {
        self.feed(
            format!(
                "PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    }

    pub(super) fn get(&mut self, path: &str) -> String {
        self.feed(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
    }
}

pub(super) fn status_of(resp: &str) -> u16 {
    resp.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

pub(super) fn statuses(resp: &str) -> Vec<u16> {
    resp.match_indices("HTTP/1.1 ")
        .map(|(i, _)| status_of(&resp[i..]))
        .collect()
}

pub(super) fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    let head = resp.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

pub(super) fn body(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[test]
fn put_new_path_creates_201_then_get_returns_body_and_validators() {
    let mut h = Harness::new();
    let r = h.put("/a", "hello");
    assert_eq!(status_of(&r), 201, "{r}");
    assert_eq!(header(&r, "location"), Some("/a"));
    let r = h.get("/a");
    assert_eq!(status_of(&r), 200, "{r}");
    assert_eq!(header(&r, "content-length"), Some("5"));
    assert_eq!(header(&r, "content-type"), Some("text/plain"));
    assert!(header(&r, "etag").is_some_and(|e| e.starts_with('"') && e.ends_with('"')));
    assert_eq!(
        header(&r, "last-modified"),
        Some("Thu, 01 Jan 1970 00:01:40 GMT")
    );
    assert_eq!(body(&r), "hello");
    assert_eq!(h.counters.requests_of(Method::Put), 1);
    assert_eq!(h.counters.requests_of(Method::Get), 1);
    assert_eq!(h.counters.status_class(2), 2);
}

#[test]
fn put_existing_path_replaces_with_204_and_new_etag() {
    let mut h = Harness::new();
    h.put("/a", "one");
    let e1 = header(&h.get("/a"), "etag").unwrap().to_string();
    let r = h.put("/a", "two!");
    assert_eq!(status_of(&r), 204, "{r}");
    assert_eq!(
        header(&r, "content-length"),
        None,
        "204 has no Content-Length"
    );
    let r = h.get("/a");
    assert_eq!(body(&r), "two!");
    assert_ne!(header(&r, "etag").unwrap(), e1);
    assert_eq!(h.store.bytes(), 4);
}

#[test]
fn put_without_content_type_defaults_to_octet_stream() {
    let mut h = Harness::new();
    h.feed(b"PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    let r = h.get("/b");
    assert_eq!(header(&r, "content-type"), Some("application/octet-stream"));
}

#[test]
fn head_sends_get_headers_without_content() {
    let mut h = Harness::new();
    h.put("/a", "hello");
    let r = h.feed(b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 200);
    assert_eq!(header(&r, "content-length"), Some("5"));
    assert_eq!(body(&r), "");
    let r = h.feed(b"HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 404);
    assert_eq!(body(&r), "", "HEAD 404 carries no content either");
    // Still in sync: the next request is parsed from a clean start.
    assert_eq!(status_of(&h.get("/a")), 200);
}

#[test]
fn get_missing_path_is_404_and_connection_stays_open() {
    let mut h = Harness::new();
    let r = h.get("/nope");
    assert_eq!(status_of(&r), 404);
    assert_eq!(body(&r), "Not Found\n");
    assert!(!h.conn.finished());
    assert_eq!(h.counters.status_class(4), 1);
}

#[test]
fn if_none_match_with_current_etag_is_304_without_body() {
    let mut h = Harness::new();
    h.put("/a", "hello");
    let etag = header(&h.get("/a"), "etag").unwrap().to_string();
    for inm in [
        etag.clone(),
        format!("W/{etag}"),
        "\"x\", ".to_string() + &etag,
        "*".into(),
    ] {
        let r = h
            .feed(format!("GET /a HTTP/1.1\r\nHost: x\r\nIf-None-Match: {inm}\r\n\r\n").as_bytes());
        assert_eq!(status_of(&r), 304, "{inm}: {r}");
        assert_eq!(body(&r), "");
        assert_eq!(header(&r, "etag"), Some(etag.as_str()));
    }
    let r = h.feed(b"GET /a HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\"\r\n\r\n");
    assert_eq!(status_of(&r), 200);
    assert_eq!(body(&r), "hello");
}

#[test]
fn post_to_collection_creates_member_with_location() {
    let mut h = Harness::new();
    let r = h.feed(b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(status_of(&r), 201, "{r}");
    let loc = header(&r, "location").unwrap().to_string();
    assert!(loc.starts_with("/items/"), "{loc}");
    let r2 = h.feed(b"POST /items/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nd");
    let loc2 = header(&r2, "location").unwrap().to_string();
    assert_ne!(loc, loc2);
    assert!(
        loc2.starts_with("/items/") && !loc2.contains("//"),
        "{loc2}"
    );
    assert_eq!(body(&h.get(&loc)), "abc");
}

#[test]
fn post_to_stored_object_is_405_with_allow() {
    let mut h = Harness::new();
    h.put("/a", "x");
    let r =
        h.feed(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(status_of(&r), 405, "{r}");
    assert_eq!(header(&r, "allow"), Some("GET, HEAD, PUT, DELETE, OPTIONS"));
    assert!(!r.contains("100 Continue"));
    assert_eq!(h.counters.errors_of(ErrorKind::MethodNotAllowed), 1);
}

#[test]
fn post_to_stored_object_without_expect_reads_body_and_keeps_connection() {
    let mut h = Harness::new();
    h.put("/a", "x");
    let r = h.feed(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(statuses(&r), vec![405, 200], "{r}");
}

#[test]
fn delete_existing_is_204_then_404() {
    let mut h = Harness::new();
    h.put("/a", "x");
    let r = h.feed(b"DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 204);
    let r = h.feed(b"DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 404);
    assert_eq!(status_of(&h.get("/a")), 404);
    assert_eq!(h.store.objects(), 0);
    assert_eq!(h.store.bytes(), 0);
}

#[test]
fn unknown_method_is_501_and_keeps_connection_without_body() {
    let mut h = Harness::new();
    let r = h.feed(b"PATCH /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 501);
    assert!(!h.conn.finished());
    let r = h.feed(b"BREW /pot HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n");
    assert_eq!(r, "", "the body is read (and dropped) first");
    let r = h.feed(b"abcd");
    assert_eq!(status_of(&r), 501);
    assert_eq!(header(&r, "connection"), None);
    assert!(!h.conn.finished());
    assert_eq!(h.store.objects(), 0);
    assert_eq!(h.counters.requests_of(Method::Other), 2);
    assert_eq!(h.counters.status_class(5), 2);
}

#[test]
fn put_without_length_is_411() {
    let mut h = Harness::new();
    let r = h.feed(b"PUT /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 411);
    assert_eq!(h.counters.errors_of(ErrorKind::LengthRequired), 1);
    let r = h.feed(b"POST /c HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 411);
}

#[test]
fn put_with_zero_length_stores_empty_object() {
    let mut h = Harness::new();
    let r = h.feed(b"PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(status_of(&r), 201, "{r}");
    let r = h.get("/e");
    assert_eq!(header(&r, "content-length"), Some("0"));
}

#[test]
fn request_line_too_long_is_414_then_close() {
    let mut h = Harness::new();
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
    let r = h.feed(long.as_bytes());
    assert_eq!(status_of(&r), 414, "{r}");
    assert_eq!(header(&r, "connection"), Some("close"));
    assert!(h.conn.finished());
    // Also when the line has not ended yet.
    let mut h = Harness::new();
    let r = h.feed(format!("GET /{}", "a".repeat(9000)).as_bytes());
    assert_eq!(status_of(&r), 414);
    assert_eq!(h.counters.errors_of(ErrorKind::UriTooLong), 1);
}

#[test]
fn headers_too_large_is_431_then_close() {
    let mut h = Harness::new();
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(17_000)
    );
    let r = h.feed(big.as_bytes());
    assert_eq!(status_of(&r), 431, "{r}");
    assert!(h.conn.finished());
    let mut h = Harness::new();
    let many: String = (0..70).map(|i| format!("X-{i}: v\r\n")).collect();
    let r = h.feed(format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes());
    assert_eq!(status_of(&r), 431, "too many fields");
    assert_eq!(h.counters.errors_of(ErrorKind::HeadersTooLarge), 1);
}

#[test]
fn content_length_over_max_body_is_413_then_close() {
    let cfg = HttpConfig {
        max_body: 100,
        ..HttpConfig::default()
    };
    let mut h = Harness::with(cfg, StoreConfig::default());
    let r = h.feed(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n");
    assert_eq!(status_of(&r), 413);
    assert!(h.conn.finished());
    assert_eq!(h.counters.errors_of(ErrorKind::BodyTooLarge), 1);
}

#[test]
fn chunked_body_over_max_body_is_413() {
    let cfg = HttpConfig {
        max_body: 10,
        ..HttpConfig::default()
    };
    let mut h = Harness::with(cfg, StoreConfig::default());
    let r = h.feed(b"PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
    assert_eq!(status_of(&r), 413, "{r}");
    assert!(h.conn.finished());
    assert_eq!(h.store.objects(), 0);
}

#[test]
fn malformed_requests_are_400_then_close() {
    let cases: [&[u8]; 10] = [
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
        b"GARBAGE\x01\x02\r\n\r\n",
        b"GET foo HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ];
    for c in cases {
        let mut h = Harness::new();
        let r = h.feed(c);
        assert_eq!(status_of(&r), 400, "{}: {r}", String::from_utf8_lossy(c));
        assert_eq!(header(&r, "connection"), Some("close"));
        assert!(h.conn.finished(), "{}", String::from_utf8_lossy(c));
        assert_eq!(h.counters.errors_of(ErrorKind::BadRequest), 1);
    }
}

#[test]
fn unknown_transfer_coding_is_501() {
    let mut h = Harness::new();
    let r = h.feed(b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert_eq!(status_of(&r), 501);
    assert!(h.conn.finished());
}

#[test]
fn content_length_and_chunked_uses_chunked_then_closes() {
    let mut h = Harness::new();
    let r = h.feed(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
    assert_eq!(status_of(&r), 201, "{r}");
    assert_eq!(header(&r, "connection"), Some("close"));
    assert!(h.conn.finished());
    assert_eq!(&*h.store.get("/a").unwrap().body, b"hi");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut h = Harness::new();
    let r = h.feed(
        b"PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /p HTTP/1.1\r\nHost: x\r\n\r\nDELETE /p HTTP/1.1\r\nHost: x\r\n\r\nGET /p HTTP/1.1\r\nHost: x\r\n\r\nHEAD /p HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(statuses(&r), vec![201, 200, 204, 404, 404], "{r}");
    assert!(r.contains("\r\n\r\nabcHTTP/1.1 204"), "{r}");
    assert_eq!(h.hist.len(), 5, "one service time per request");
}

#[test]
fn pipelined_requests_wait_behind_a_streaming_body() {
    let mut h = Harness::new();
    let big = "z".repeat(100_000);
    h.put("/big", &big);
    h.window = Some(1000);
    let r = h.feed(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(statuses(&r), vec![200, 404]);
    let first_body = &r[r.find("\r\n\r\n").unwrap() + 4..];
    assert!(
        first_body.starts_with(&big),
        "body intact before the next response"
    );
    assert!(first_body[100_000..].starts_with("HTTP/1.1 404"));
}

#[test]
fn expect_100_continue_sends_100_before_reading_body() {
    let mut h = Harness::new();
    let r =
        h.feed(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(r, "HTTP/1.1 100 Continue\r\n\r\n");
    let r = h.feed(b"hello");
    assert_eq!(status_of(&r), 201, "{r}");
    assert_eq!(h.counters.continues, 1);
    assert_eq!(h.counters.status_class(1), 0, "100 is not a final response");
}

#[test]
fn expect_100_continue_with_too_large_body_is_413_without_100() {
    let cfg = HttpConfig {
        max_body: 10,
        ..HttpConfig::default()
    };
    let mut h = Harness::with(cfg, StoreConfig::default());
    let r =
        h.feed(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(statuses(&r), vec![413]);
    assert_eq!(h.counters.continues, 0);
}

#[test]
fn unknown_expectation_is_417() {
    let mut h = Harness::new();
    let r = h.feed(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: tea\r\n\r\n");
    assert_eq!(status_of(&r), 417);
    assert_eq!(h.counters.errors_of(ErrorKind::ExpectationFailed), 1);
}

#[test]
fn expect_100_in_http10_is_ignored() {
    let mut h = Harness::new();
    let r = h.feed(b"PUT /a HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\nx");
    assert_eq!(statuses(&r), vec![201]);
}

#[test]
fn full_store_answers_507_and_keeps_serving_reads() {
    let scfg = StoreConfig {
        max_bytes: 10,
        max_objects: 2,
        shards: 4,
    };
    let mut h = Harness::with(HttpConfig::default(), scfg);
    assert_eq!(status_of(&h.put("/a", "12345678")), 201);
    let r = h.put("/b", "123");
    assert_eq!(status_of(&r), 507, "{r}");
    let r =
        h.feed(b"PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(statuses(&r), vec![507], "refused before 100: {r}");
    let mut h = Harness::with_store(HttpConfig::default(), h.store.clone());
    assert_eq!(status_of(&h.put("/c", "1")), 201);
    assert_eq!(status_of(&h.put("/d", "1")), 507, "max_objects");
    assert_eq!(body(&h.get("/a")), "12345678");
    assert_eq!(
        status_of(&h.put("/a", "123456789")),
        204,
        "replacing within bounds"
    );
    assert!(h.counters.errors_of(ErrorKind::StoreFull) >= 1);
}

#[test]
fn chunked_upload_is_decoded_with_extensions_and_trailers() {
    let mut h = Harness::new();
    let r = h.feed(b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\nA\r\n 012345678\r\n");
    assert_eq!(r, "", "nothing until the last chunk");
    let r = h.feed(
        b"8\r\n\r\n\r\n\r\n\r\n\r\n0\r\nX-Trailer: 1\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(statuses(&r), vec![201, 200], "{r}");
    assert_eq!(
        header(&r[r.rfind("HTTP/1.1").unwrap()..], "content-length"),
        Some("23")
    );
    assert!(
        r.ends_with("\r\n\r\nhello 012345678\r\n\r\n\r\n\r\n"),
        "{r}"
    );
}

#[test]
fn chunked_upload_split_byte_by_byte_decodes_the_same() {
    let mut h = Harness::new();
    let req = b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
    let mut out = String::new();
    for b in req.iter() {
        out += &h.feed(&[*b]);
    }
    assert_eq!(statuses(&out), vec![201]);
    assert_eq!(&*h.store.get("/c").unwrap().body, b"abc0123456789abcdef");
}

#[test]
fn malformed_chunk_is_400_then_close() {
    for bad in [&b"zz\r\n"[..], b"3\r\nabcX", b"\r\n"] {
        let mut h = Harness::new();
        let mut req = b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        req.extend_from_slice(bad);
        let r = h.feed(&req);
        assert_eq!(status_of(&r), 400, "{}", String::from_utf8_lossy(bad));
        assert!(h.conn.finished());
    }
}

#[test]
fn http11_is_persistent_and_connection_close_is_honoured() {
    let mut h = Harness::new();
    let r = h.get("/x");
    assert_eq!(header(&r, "connection"), None);
    assert!(!h.conn.finished());
    let r = h.feed(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(statuses(&r), vec![404], "nothing after close");
    assert_eq!(header(&r, "connection"), Some("close"));
    assert!(h.conn.finished());
}

#[test]
fn http10_closes_unless_keep_alive_is_asked() {
    let mut h = Harness::new();
    h.put("/a", "x");
    let r = h.feed(b"GET /a HTTP/1.0\r\n\r\n");
    assert_eq!(status_of(&r), 200);
    assert!(r.starts_with("HTTP/1.1 200"), "we answer with our version");
    assert_eq!(header(&r, "connection"), Some("close"));
    assert!(h.conn.finished());
    let mut h = Harness::with_store(HttpConfig::default(), h.store.clone());
    let r = h.feed(b"GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(statuses(&r), vec![200, 200]);
    assert_eq!(header(&r, "connection"), Some("keep-alive"));
    assert!(!h.conn.finished());
}

#[test]
fn every_response_has_date_and_server() {
    let cfg = HttpConfig {
        unix_time_at_zero: Duration::from_secs(784_111_677),
        ..HttpConfig::default()
    };
    let mut h = Harness::with(cfg, StoreConfig::default());
    let r = h.feed(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\nPUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nBREW / HTTP/1.1\r\nHost: x\r\n\r\n");
    for resp in r.split("HTTP/1.1 ").skip(1) {
        assert!(resp.contains("\r\nServer: xskd\r\n"), "{resp}");
        assert!(
            resp.contains("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
            "{resp}"
        );
    }
    assert_eq!(statuses(&r).len(), 3);
}

#[test]
fn idle_keep_alive_connection_closes_quietly() {
    let mut h = Harness::new();
    h.get("/x");
    assert_eq!(h.advance_time(Duration::from_secs(59)), "");
    assert!(!h.conn.finished());
    assert_eq!(h.advance_time(Duration::from_secs(2)), "");
    assert!(h.conn.finished());
    assert_eq!(h.counters.timeouts_of(TimeoutKind::Idle), 1);
}

#[test]
fn slow_request_head_times_out_with_408() {
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\nHost: x\r\n");
    for _ in 0..9 {
        h.now += Duration::from_secs(1);
        h.feed(b"X-a: b\r\n"); // a trickle of bytes does not reset the clock
    }
    assert!(!h.conn.finished());
    let r = h.advance_time(Duration::from_millis(1001));
    assert_eq!(status_of(&r), 408, "{r}");
    assert!(h.conn.finished());
    assert_eq!(h.counters.timeouts_of(TimeoutKind::Header), 1);
}

#[test]
fn stalled_body_times_out_with_408() {
    let mut h = Harness::new();
    h.feed(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    assert_eq!(
        h.conn.deadline(&h.cfg),
        Some(h.now + Duration::from_secs(30))
    );
    let r = h.advance_time(Duration::from_secs(31));
    assert_eq!(status_of(&r), 408);
    assert_eq!(h.counters.timeouts_of(TimeoutKind::Body), 1);
    assert_eq!(h.store.objects(), 0);
}

#[test]
fn client_that_stops_reading_is_aborted_after_idle_timeout() {
    let mut h = Harness::new();
    h.put("/big", &"q".repeat(10_000));
    h.window = Some(0);
    let now = h.now;
    let (conn, mut ctx) = h.ctx();
    conn.on_input(now, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n", &mut ctx);
    assert!(!conn.output_empty());
    h.advance_time(Duration::from_secs(61));
    assert!(h.conn.should_abort());
    assert!(h.conn.finished());
}

#[test]
fn large_body_is_streamed_in_pieces_and_service_time_recorded_at_last_byte() {
    let mut h = Harness::new();
    let big: String = (0..200_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    h.put("/big", &big);
    let before = h.hist.len();
    let now = h.now;
    let (conn, mut ctx) = h.ctx();
    conn.on_input(now, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n", &mut ctx);
    let mut got = Vec::new();
    let mut t = now;
    while !h.conn.output_empty() {
        t += Duration::from_millis(1);
        let (conn, mut ctx) = h.ctx();
        conn.write_out(t, &mut ctx, |b| {
            let n = b.len().min(1460);
            got.extend_from_slice(&b[..n]);
            n
        });
    }
    let s = String::from_utf8(got).unwrap();
    assert_eq!(body(&s), big);
    assert_eq!(h.hist.len(), before + 1);
    let elapsed = t.saturating_since(now).as_nanos() as u64;
    assert!(
        h.hist.equivalent(h.hist.max(), elapsed),
        "{} vs {elapsed}",
        h.hist.max()
    );
}

#[test]
fn eof_mid_request_closes_and_counts_incomplete() {
    let mut h = Harness::new();
    h.feed(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    assert_eq!(h.eof(), "");
    assert!(h.conn.finished());
    assert_eq!(h.counters.errors_of(ErrorKind::Incomplete), 1);
    assert_eq!(h.store.objects(), 0);
}

#[test]
fn eof_after_pipelined_requests_answers_them_all_then_finishes() {
    let mut h = Harness::new();
    h.put("/big", &"w".repeat(50_000));
    h.window = Some(0);
    let now = h.now;
    let (conn, mut ctx) = h.ctx();
    conn.on_input(
        now,
        b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /no HTTP/1.1\r\nHost: x\r\n\r\n",
        &mut ctx,
    );
    conn.on_eof(now, &mut ctx);
    assert!(!h.conn.finished());
    h.window = None;
    let r = String::from_utf8_lossy(&h.drain()).into_owned();
    assert_eq!(statuses(&r), vec![200, 404]);
    assert!(h.conn.finished());
}

#[test]
fn bad_request_on_one_connection_leaves_another_untouched() {
    let store = Store::shared(StoreConfig::default());
    let mut a = Harness::with_store(HttpConfig::default(), store.clone());
    let mut b = Harness::with_store(HttpConfig::default(), store);
    b.feed(b"PUT /shared HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(status_of(&a.feed(b"\x00\x01garbage\r\n\r\n")), 400);
    assert!(a.conn.finished());
    let r = b.feed(b"ok");
    assert_eq!(status_of(&r), 201);
    assert_eq!(body(&b.get("/shared")), "ok");
}

#[test]
fn preload_serves_a_directory_like_a_static_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("index.html"), "<h1>hi</h1>").unwrap();
    std::fs::write(dir.path().join("sub/data.json"), "{}").unwrap();
    let store = Store::shared(StoreConfig::default());
    assert_eq!(store.preload(dir.path()).unwrap(), 2);
    let mut h = Harness::with_store(HttpConfig::default(), store);
    let r = h.get("/");
    assert_eq!(status_of(&r), 200);
    assert_eq!(header(&r, "content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(body(&r), "<h1>hi</h1>");
    assert_eq!(
        header(&h.get("/sub/data.json"), "content-type"),
        Some("application/json")
    );
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics_and_output_stays_bounded(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
        prefix in prop_oneof![Just(&b""[..]), Just(&b"PUT /a HTTP/1.1\r\nHost: x\r\n"[..]), Just(&b"GET / HTTP/1.1\r\n"[..])],
    ) {
        let mut h = Harness::new();
        h.window = Some(100);
        let now = h.now;
        let (conn, mut ctx) = h.ctx();
        conn.on_input(now, prefix, &mut ctx);
        for c in &chunks {
            let (conn, mut ctx) = h.ctx();
            let room = conn.input_room().min(c.len());
            conn.on_input(now, &c[..room], &mut ctx);
            prop_assert!(conn.input_room() <= 64 * 1024);
            let _ = h.drain();
        }
        let _ = h.eof();
        let _ = h.advance_time(Duration::from_secs(3600));
        prop_assert!(h.conn.finished());
    }
}

#[test]
fn absolute_form_target_and_leading_empty_lines_are_accepted() {
    let mut h = Harness::new();
    h.put("/a", "abs");
    let r = h.feed(b"\r\n\r\nGET http://example.test/a?x=1 HTTP/1.1\r\nHost: example.test\r\n\r\n");
    assert_eq!(status_of(&r), 200, "{r}");
    assert_eq!(body(&r), "abs");
}

#[test]
fn expect_100_for_replacement_within_bounds_is_accepted() {
    let scfg = StoreConfig {
        max_bytes: 10,
        ..StoreConfig::default()
    };
    let mut h = Harness::with(HttpConfig::default(), scfg);
    h.put("/a", "123456789");
    let r =
        h.feed(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(
        r, "HTTP/1.1 100 Continue\r\n\r\n",
        "the old body's bytes are freed by the replacement"
    );
    assert_eq!(status_of(&h.feed(b"0123456789")), 204);
    assert_eq!(h.store.bytes(), 10);
}
