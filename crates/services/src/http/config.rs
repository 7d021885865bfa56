//! Limits, timeouts and counters of the HTTP service.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Longest request line (method, target, version): past it, 414.
    pub max_request_line: usize,
    /// Largest request head (request line + header fields): past it, 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request: past it, 431.
    pub max_headers: usize,
    /// Largest request body (Content-Length or chunked): past it, 413.
    pub max_body: usize,
    /// Connections served at once per worker (the rest wait in the accept queue).
    pub max_conns: usize,
    /// A request head must arrive completely within this (slowloris): 408.
    pub header_timeout: Duration,
    /// A request body must make progress at least this often: 408.
    pub body_timeout: Duration,
    /// An idle keep-alive connection (or one whose client stopped reading) is closed after this.
    pub idle_timeout: Duration,
    /// After an error response and our FIN, unread request bytes are read
    /// and thrown away this long, so the response is not lost to a RST
    /// (RFC 9112 9.6).
    pub linger: Duration,
    /// Value of the Server header.
    pub server: String,
    /// Unix time at `Instant::ZERO`, so Date and Last-Modified can be made
    /// from the monotonic `now` (the worker measures it once at start).
    pub unix_time_at_zero: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_request_line: 8 * 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body: 64 * 1024 * 1024,
            max_conns: 4096,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            linger: Duration::from_secs(2),
            server: "xskd".into(),
            unix_time_at_zero: Duration::ZERO,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
    Options,
    /// Any other token: answered 501.
    Other,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Head,
        Method::Put,
        Method::Post,
        Method::Delete,
        Method::Options,
        Method::Other,
    ];

    //= https://www.rfc-editor.org/rfc/rfc9110#section-9.1
    //# The method token is case-sensitive
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "PUT" => Method::Put,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "other",
        }
    }
}

/// Why a request was refused or a connection cut, for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    UriTooLong,
    HeadersTooLarge,
    BodyTooLarge,
    LengthRequired,
    NotImplemented,
    MethodNotAllowed,
    ExpectationFailed,
    StoreFull,
    /// A precondition (If-Match, If-Unmodified-Since, ...) was false: 412.
    PreconditionFailed,
    /// No requested range overlaps the representation: 416.
    RangeNotSatisfiable,
    /// The peer closed or reset in the middle of a request.
    Incomplete,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::BadRequest,
        ErrorKind::UriTooLong,
        ErrorKind::HeadersTooLarge,
        ErrorKind::BodyTooLarge,
        ErrorKind::LengthRequired,
        ErrorKind::NotImplemented,
        ErrorKind::MethodNotAllowed,
        ErrorKind::ExpectationFailed,
        ErrorKind::StoreFull,
        ErrorKind::PreconditionFailed,
        ErrorKind::RangeNotSatisfiable,
        ErrorKind::Incomplete,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::UriTooLong => "uri_too_long",
            ErrorKind::HeadersTooLarge => "headers_too_large",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::LengthRequired => "length_required",
            ErrorKind::NotImplemented => "not_implemented",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::ExpectationFailed => "expectation_failed",
            ErrorKind::StoreFull => "store_full",
            ErrorKind::PreconditionFailed => "precondition_failed",
            ErrorKind::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorKind::Incomplete => "incomplete",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Keep-alive idle, or a client that stopped reading.
    Idle,
    /// Request head not complete in time (slowloris).
    Header,
    /// Request body stalled.
    Body,
}

impl TimeoutKind {
    pub const ALL: [TimeoutKind; 3] = [TimeoutKind::Idle, TimeoutKind::Header, TimeoutKind::Body];

    pub const fn as_str(self) -> &'static str {
        match self {
            TimeoutKind::Idle => "idle",
            TimeoutKind::Header => "header",
            TimeoutKind::Body => "body",
        }
    }
}

/// Per-worker HTTP counters. Index the arrays with `Method::ALL`,
/// `ErrorKind::ALL`, `TimeoutKind::ALL`; `status_classes[0]` is 1xx (final
/// responses only; 100 Continue is counted in `continues`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpCounters {
    pub connections_accepted: u64,
    pub connections_closed: u64,
    pub requests: [u64; Method::ALL.len()],
    pub status_classes: [u64; 5],
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub continues: u64,
    pub timeouts: [u64; 3],
    pub errors: [u64; ErrorKind::ALL.len()],
}

impl HttpCounters {
    pub fn requests_of(&self, m: Method) -> u64 {
        self.requests[m as usize]
    }

    pub fn errors_of(&self, e: ErrorKind) -> u64 {
        self.errors[e as usize]
    }

    pub fn timeouts_of(&self, t: TimeoutKind) -> u64 {
        self.timeouts[t as usize]
    }

    /// Responses with status `class`xx (1..=5).
    pub fn status_class(&self, class: u16) -> u64 {
        match class {
            1..=5 => self.status_classes[usize::from(class - 1)],
            _ => 0,
        }
    }

    pub(crate) fn error(&mut self, e: ErrorKind) {
        self.errors[e as usize] += 1;
    }

    pub(crate) fn timeout(&mut self, t: TimeoutKind) {
        self.timeouts[t as usize] += 1;
    }

    pub(crate) fn status(&mut self, status: u16) {
        if let 100..=599 = status {
            self.status_classes[usize::from(status / 100 - 1)] += 1;
        }
    }
}
