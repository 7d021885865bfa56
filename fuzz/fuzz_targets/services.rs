//! Fuzz target bodies for the services above the stack: the HTTP request
//! path (`service::http::Connection`, a pure state machine) and the DNS
//! responder (`service::dns::DnsResponder`). Shared like common.rs by the
//! cargo-fuzz targets and by tests/fuzz_smoke.rs.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use hdrhistogram::Histogram;
use xskd_proto::time::Instant;
use xskd_services::dns::{example_config, DnsConfig, DnsRecord, DnsResponder, QueryContext};
use xskd_services::http::date::DateCache;
use xskd_services::http::{
    Connection, Ctx, HttpConfig, HttpCounters, Object, SharedStore, Store, StoreConfig,
};

// ------------------------------------------------------------------- HTTP

/// Small limits so the fuzzer reaches every refusal quickly.
pub const HTTP_MAX_REQUEST_LINE: usize = 512;
pub const HTTP_MAX_HEADER_BYTES: usize = 1024;
pub const HTTP_MAX_BODY: usize = 4096;
pub const STORE_MAX_BYTES: u64 = 16 * 1024;
/// The largest response head: status line, Date, Server, Content-Length,
/// Content-Type, ETag, Last-Modified, Allow and a Location that repeats the
/// request path (at most a request line long).
pub const HTTP_MAX_RESPONSE_HEAD: usize = 512 + HTTP_MAX_REQUEST_LINE;

pub fn http_config() -> HttpConfig {
    HttpConfig {
        max_request_line: HTTP_MAX_REQUEST_LINE,
        max_header_bytes: HTTP_MAX_HEADER_BYTES,
        max_headers: 16,
        max_body: HTTP_MAX_BODY,
        max_conns: 4,
        header_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(60),
        linger: Duration::from_secs(2),
        server: "xskd".into(),
        unix_time_at_zero: Duration::from_secs(1_700_000_000),
    }
}

/// A small store with an object and a collection member to GET.
pub fn http_store() -> SharedStore {
    let store = Store::shared(StoreConfig {
        max_bytes: STORE_MAX_BYTES,
        max_objects: 8,
        shards: 2,
    });
    store
        .put(
            "/a",
            Object::new(b"hello\n".to_vec(), Some("text/plain"), 0),
        )
        .expect("seed object fits");
    store
        .put("/c/1", Object::new(vec![0x5a; 300], None, 0))
        .expect("seed object fits");
    store
}

/// Tiny xorshift: split points and clock steps come from the input's
/// control bytes, so a run is a pure function of the input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One connection with its service context, fed and drained as the glue
/// in `HttpService::serve` does.
pub struct HttpHarness {
    cfg: HttpConfig,
    store: SharedStore,
    pub counters: HttpCounters,
    hist: Histogram<u64>,
    date: DateCache,
    pub conn: Connection,
    pub now: Instant,
    /// Everything the connection wrote, in order.
    pub out: Vec<u8>,
}

impl HttpHarness {
    pub fn new() -> Self {
        let cfg = http_config();
        let now = Instant::from_secs(100);
        HttpHarness {
            conn: Connection::new(now, &cfg),
            cfg,
            store: http_store(),
            counters: HttpCounters::default(),
            hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 1).expect("histogram bounds"),
            date: DateCache::default(),
            now,
            out: Vec::new(),
        }
    }

    fn split(&mut self) -> (&mut Connection, Ctx<'_>, &mut Vec<u8>) {
        (
            &mut self.conn,
            Ctx {
                cfg: &self.cfg,
                store: &self.store,
                counters: &mut self.counters,
                service_time: &mut self.hist,
                date: &mut self.date,
                clock: xskd_services::http::turn_clock,
                tls: false,
            },
            &mut self.out,
        )
    }

    /// Write what the connection has through a peer window of `window`
    /// bytes per call; the glue's loop of write_out then advance.
    pub fn pump(&mut self, window: usize) {
        let now = self.now;
        for _ in 0..10_000 {
            let (conn, mut ctx, out) = self.split();
            let w = conn.write_out(now, &mut ctx, |b| {
                let n = b.len().min(window);
                out.extend_from_slice(&b[..n]);
                n
            });
            if w == 0 {
                return;
            }
            conn.advance(now, &mut ctx);
        }
        panic!("write_out never ran dry");
    }

    pub fn input(&mut self, data: &[u8]) {
        let now = self.now;
        let (conn, mut ctx, _) = self.split();
        assert!(
            data.len() <= conn.input_room(),
            "the glue gives at most input_room"
        );
        conn.on_input(now, data, &mut ctx);
    }

    pub fn eof(&mut self) {
        let now = self.now;
        let (conn, mut ctx, _) = self.split();
        conn.on_eof(now, &mut ctx);
    }

    pub fn tick(&mut self, step: Duration, window: usize) {
        self.now += step;
        let now = self.now;
        let (conn, mut ctx, _) = self.split();
        conn.on_timer(now, &mut ctx);
        self.pump(window);
    }
}

impl Default for HttpHarness {
    fn default() -> Self {
        Self::new()
    }
}

/// Input: three control bytes, then the raw byte stream of the client.
/// - `ctl[0]`: seed of the split points; its low bit picks tiny pieces
///   (1-8 bytes) or large ones (1-512).
/// - `ctl[1]`: the client's read window per send call in 4-byte units
///   (0: it takes everything).
/// - `ctl[2]`: bits 0-5 the clock step per piece in 100 ms units; bit 6
///   the client never reads until the stream is sent; bit 7 the client
///   never sends FIN (the timeouts must close the connection).
///
/// Checks: no panic; `on_input` never gets more than `input_room`; the
/// output is a sequence of HTTP/1.1 responses with well-formed heads (no
/// CR/LF smuggled into a field) and bodies that match Content-Length
/// (or none, for HEAD); nothing after `Connection: close`; one response
/// per counted status; output bounded by the input; and once every timeout
/// has passed the connection is finished (nothing held forever).
pub fn http(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let (ctl, stream) = data.split_at(3);
    let mut rng = Rng(u64::from(ctl[0]).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let max_piece = if ctl[0] & 1 == 1 { 8 } else { 512 };
    let window = match ctl[1] {
        0 => usize::MAX,
        w => usize::from(w) * 4,
    };
    let step = Duration::from_millis(u64::from(ctl[2] & 0x3f) * 100);
    let lazy_reader = ctl[2] & 0x40 != 0;
    let no_fin = ctl[2] & 0x80 != 0;

    let mut h = HttpHarness::new();
    let mut rest = stream;
    while !rest.is_empty() {
        if !lazy_reader {
            h.pump(window);
        }
        let mut room = h.conn.input_room();
        if room == 0 {
            // Input stops until our output drains: the client reads it all.
            h.pump(usize::MAX);
            room = h.conn.input_room();
            assert!(room > 0, "output drained yet no input room");
        }
        let piece = 1 + (rng.next() % max_piece) as usize;
        let n = piece.min(rest.len()).min(room);
        h.input(&rest[..n]);
        rest = &rest[n..];
        if !step.is_zero() {
            h.tick(step, if lazy_reader { 0 } else { window });
        }
    }
    if !no_fin {
        h.eof();
    }
    h.pump(window);
    // Past every timeout (header 10 s, body 30 s, idle 60 s), the client
    // reading everything.
    for _ in 0..4 {
        h.tick(Duration::from_secs(31), usize::MAX);
    }
    assert!(
        h.conn.finished() || h.conn.should_abort(),
        "connection still open after every timeout: {:?}",
        h.conn
    );
    if h.conn.should_abort() {
        // The client stopped reading (lazy, then the idle timeout): what
        // was written is a prefix of the responses.
        assert!(
            h.out.is_empty() || h.out.starts_with(b"HTTP/1.1 "),
            "output starts with a status line: {:?}",
            String::from_utf8_lossy(&h.out[..h.out.len().min(200)])
        );
        return;
    }
    let finals: u64 = (2..=5).map(|c| h.counters.status_class(c)).sum();
    let max_responses = stream.len() / 4 + 2;
    assert!(
        finals as usize <= max_responses,
        "{finals} responses to {} bytes",
        stream.len()
    );
    let max_body = STORE_MAX_BYTES.max(64) as usize;
    assert!(
        h.out.len() <= (finals as usize * 2 + 1) * (HTTP_MAX_RESPONSE_HEAD + max_body),
        "{} bytes of output for {finals} responses",
        h.out.len()
    );
    if let Err(e) = check_responses(&h.out, finals) {
        panic!(
            "bad HTTP output ({e}); output:\n{}",
            String::from_utf8_lossy(&h.out)
        );
    }
}

/// One parsed response head.
struct RespHead {
    status: u16,
    len: usize,
    content_length: Option<usize>,
    close: bool,
}

fn parse_head(b: &[u8]) -> Result<RespHead, String> {
    let end = b
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("head without an end")?;
    if end + 4 > HTTP_MAX_RESPONSE_HEAD {
        return Err(format!("head of {} bytes", end + 4));
    }
    let text = std::str::from_utf8(&b[..end]).map_err(|_| "head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let rest = status_line
        .strip_prefix("HTTP/1.1 ")
        .ok_or_else(|| format!("status line {status_line:?}"))?;
    let code = rest.get(..3).ok_or("short status line")?;
    let status: u16 = code.parse().map_err(|_| format!("status {code:?}"))?;
    if !(100..=599).contains(&status) || rest.as_bytes().get(3) != Some(&b' ') {
        return Err(format!("status line {status_line:?}"));
    }
    let mut content_length = None;
    let mut close = false;
    for line in lines {
        let (name, value) = line
            .split_once(": ")
            .ok_or_else(|| format!("field line {line:?}"))?;
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
            return Err(format!("field name {name:?}"));
        }
        if value.bytes().any(|c| c.is_ascii_control() && c != b'\t') {
            return Err(format!("control byte in field {line:?}"));
        }
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                if content_length.is_some() {
                    return Err("two Content-Length fields".into());
                }
                content_length = Some(value.parse().map_err(|_| format!("length {value:?}"))?);
            }
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "transfer-encoding" => return Err("we never send chunked".into()),
            _ => {}
        }
    }
    if status < 200 && (content_length.is_some() || close) {
        return Err(format!("interim {status} with content or close"));
    }
    Ok(RespHead {
        status,
        len: end + 4,
        content_length,
        close,
    })
}

/// The output must split into responses, `finals` of them final (>= 200).
/// A response with Content-Length may have no body (the answer to HEAD),
/// so both readings are tried; the output is good if one of them works.
fn check_responses(out: &[u8], finals: u64) -> Result<(), String> {
    let mut seen = HashSet::new();
    let mut stack = vec![(0usize, 0u64)];
    let mut first_err = None;
    while let Some((pos, count)) = stack.pop() {
        if pos == out.len() {
            if count == finals {
                return Ok(());
            }
            first_err.get_or_insert(format!("{count} final responses, {finals} counted"));
            continue;
        }
        if !seen.insert((pos, count)) {
            continue;
        }
        let head = match parse_head(&out[pos..]) {
            Ok(h) => h,
            Err(e) => {
                first_err.get_or_insert(format!("at byte {pos}: {e}"));
                continue;
            }
        };
        let count = count + u64::from(head.status >= 200);
        let after = pos + head.len;
        let mut next = vec![after];
        if let Some(n) = head.content_length {
            if head.status == 204 || head.status == 304 {
                first_err
                    .get_or_insert(format!("{} with Content-Length at byte {pos}", head.status));
                continue;
            }
            next.push(after + n);
        }
        for p in next {
            if p > out.len() || (head.close && p != out.len()) {
                first_err.get_or_insert(format!(
                    "response at byte {pos} ({}) runs past the output or has \
                     bytes after Connection: close",
                    head.status
                ));
                continue;
            }
            stack.push((p, count));
        }
    }
    Err(first_err.unwrap_or_else(|| "no responses".into()))
}

// -------------------------------------------------------------------- DNS

pub const DNS_SECRET: [u8; 16] = [9; 16];
pub const DNS_CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const DNS_NOW: u32 = 1_700_000_000;
/// RFC 9715: the largest UDP payload xskd ever offers.
pub const DNS_MAX_UDP: usize = 1232;
/// Without EDNS a UDP response fits the classic 512 bytes (RFC 1035 4.2.1).
pub const DNS_CLASSIC_UDP: usize = 512;
pub const DNS_MAX_AMPLIFICATION: f64 = 3.0;

/// The demo zone plus a name with many addresses (for truncation) and a
/// deep one (an empty non-terminal).
pub fn dns_config() -> DnsConfig {
    let mut cfg = example_config();
    cfg.max_amplification = DNS_MAX_AMPLIFICATION;
    let rec = |name: &str, ipv4: Ipv4Addr| DnsRecord {
        name: name.to_owned(),
        ipv4,
        ttl: 60,
    };
    cfg.records.push(rec("a.b", Ipv4Addr::new(198, 18, 0, 12)));
    for i in 0..100 {
        cfg.records.push(rec("many", Ipv4Addr::new(198, 18, 1, i)));
    }
    cfg
}

thread_local! {
    /// Built once per thread: the zone build dominates a run otherwise.
    /// Only the counters change between queries, which no answer reads.
    static RESPONDER: RefCell<Option<DnsResponder>> = const { RefCell::new(None) };
}

/// Input: one control byte, then a DNS message.
/// - bits 0-1: the output buffer (512, 1232, 1500, 65535 bytes);
/// - bits 2-3: how it arrived: UDP without a source, UDP with a source
///   (DNS cookies), TCP.
///
/// Checks: no panic; at most one reply, no larger than the buffer, the
/// transport's limit (512 without EDNS, 1232 with, 65535 on TCP) and, on
/// UDP without a valid server cookie, three times the query; its ID is the
/// query's, QR is set, a response is never answered; it decodes; the same
/// query gets the same bytes again.
pub fn dns(data: &[u8]) {
    let Some((&ctl, query)) = data.split_first() else {
        return;
    };
    RESPONDER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let r = slot.get_or_insert_with(|| {
            DnsResponder::with_cookie_secret(&dns_config(), DNS_SECRET).expect("zone builds")
        });
        dns_with(r, ctl, query);
    });
}

fn dns_with(r: &mut DnsResponder, ctl: u8, query: &[u8]) {
    let out_len = [512, 1232, 1500, 65535][usize::from(ctl & 3)];
    let mode = (ctl >> 2) & 3;
    let ctx = QueryContext {
        client: IpAddr::V4(DNS_CLIENT),
        now_unix_secs: DNS_NOW,
    };
    let mut out = vec![0u8; out_len];
    let ask = |r: &mut DnsResponder, out: &mut [u8]| match mode {
        0 => r.respond(query, out),
        1 | 3 => r.respond_with(&ctx, query, out),
        _ => r.respond_tcp(query, out),
    };
    let valid_before = r.counters().cookies_valid;
    let Some(n) = ask(r, &mut out) else {
        return;
    };
    let cookie_valid = r.counters().cookies_valid > valid_before;
    assert!(
        n <= out_len,
        "reply of {n} bytes in a {out_len}-byte buffer"
    );
    assert!(
        n >= 12 && query.len() >= 12,
        "reply {n}, query {}",
        query.len()
    );
    assert_eq!(out[..2], query[..2], "the reply echoes the query ID");
    assert_eq!(out[2] & 0x80, 0x80, "QR is set in a reply");
    assert_eq!(query[2] & 0x80, 0, "a response is never answered");
    let udp = mode != 2;
    if udp {
        assert!(n <= DNS_MAX_UDP, "UDP reply of {n} bytes");
        let arcount = u16::from_be_bytes([query[10], query[11]]);
        if arcount == 0 {
            assert!(n <= DNS_CLASSIC_UDP, "{n} bytes without EDNS");
        }
        if !cookie_valid {
            assert!(
                n as f64 <= DNS_MAX_AMPLIFICATION * query.len() as f64,
                "amplified {} -> {n} bytes",
                query.len()
            );
        }
    }
    let reply = out[..n].to_vec();
    if let Err(e) = hickory_proto::op::Message::from_vec(&reply) {
        panic!("reply does not decode: {e}");
    }
    let mut again = vec![0u8; out_len];
    let m = ask(r, &mut again);
    assert_eq!(m, Some(n), "the same query, another answer");
    assert_eq!(&again[..n], &reply[..], "the same query, other bytes");
}

/// A DNS query: `id`, RD set, one question `name` (dotted, no trailing
/// dot needed) of `qtype` class IN, and an OPT record when `edns` is
/// `Some((udp payload size, version, options))`.
pub fn dns_query(id: u16, name: &str, qtype: u16, edns: Option<(u16, u8, &[u8])>) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    if let Some((payload, version, options)) = edns {
        q.extend_from_slice(&[0, 0, 41]);
        q.extend_from_slice(&payload.to_be_bytes());
        q.extend_from_slice(&[0, version, 0, 0]);
        q.extend_from_slice(&(options.len() as u16).to_be_bytes());
        q.extend_from_slice(options);
    }
    q
}
