//! Request head: parse with `httparse`, then apply RFC 9112's framing rules
//! and our limits. Pure: a buffer in, a verdict out.

use super::config::{ErrorKind, HttpConfig, Method};
use super::target;

/// Most header fields we ever parse (the array lives on the stack).
const HEADER_ARRAY: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    None,
    Continue,
    /// An expectation we do not know: 417.
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub method: Method,
    /// The path of the target, query and fragment stripped, normalized
    /// (`target::normalize`): the store key.
    pub path: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub keep_alive: bool,
    pub framing: Framing,
    pub expect: Expect,
    /// Conditional and range fields, boxed: most requests have none.
    pub cond: Option<Box<Conditions>>,
    pub content_type: Option<String>,
    /// Both Transfer-Encoding and Content-Length: answer, then close.
    pub must_close: bool,
}

/// The header fields that make a request conditional (RFC 9110 13.1) or
/// partial (14.2), each with its field lines joined by ", ".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub if_unmodified_since: Option<String>,
    pub range: Option<String>,
    pub if_range: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Need more bytes (and none of the limits is passed yet).
    Partial,
    /// A head of this many bytes.
    Complete(Head, usize),
    /// Refuse with this status, then close.
    Reject(u16, ErrorKind),
}

/// The members of a list field, trimmed, empty ones skipped.
fn members(v: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    v.split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

fn tokens(v: &[u8]) -> impl Iterator<Item = String> + '_ {
    members(v).map(|t| String::from_utf8_lossy(t).to_ascii_lowercase())
}

/// Where a conditional or range field goes (`cond` made on first use).
fn conditional_field<'a>(
    name: &str,
    cond: &'a mut Option<Box<Conditions>>,
) -> Option<&'a mut Option<String>> {
    const NAMES: [&str; 6] = [
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "range",
        "if-range",
    ];
    let i = NAMES.iter().position(|n| name.eq_ignore_ascii_case(n))?;
    let c = cond.get_or_insert_with(Box::default);
    Some(match i {
        0 => &mut c.if_match,
        1 => &mut c.if_none_match,
        2 => &mut c.if_modified_since,
        3 => &mut c.if_unmodified_since,
        4 => &mut c.range,
        _ => &mut c.if_range,
    })
}

/// Keep a field's value, joining repeated field lines with ", " (RFC 9110 5.3).
fn append(slot: &mut Option<String>, v: &[u8]) {
    let v = String::from_utf8_lossy(v.trim_ascii());
    *slot = Some(match slot.take() {
        Some(old) => format!("{old}, {v}"),
        None => v.into_owned(),
    });
}

fn parse_length(v: &[u8]) -> Option<u64> {
    //= https://www.rfc-editor.org/rfc/rfc9110#section-8.6
    //# Content-Length = 1*DIGIT
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// The store key named by a request-target, into `out`; false for a
/// target we refuse (400): not origin- or absolute-form, or not
/// normalizable.
fn target_path(t: &str, out: &mut String) -> bool {
    let path = if t.starts_with('/') {
        t
    } else {
        //= https://www.rfc-editor.org/rfc/rfc9112#section-3.2.2
        //# a server MUST accept the absolute-form in requests
        let Some(rest) = t
            .strip_prefix("http://")
            .or_else(|| t.strip_prefix("https://"))
        else {
            return false;
        };
        match rest.find(['/', '?', '#']) {
            Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
            _ => "/",
        }
    };
    let end = path.find(['?', '#']).unwrap_or(path.len());
    target::normalize_into(&path[..end], out).is_ok()
}

/// `buf` with the version of its request line made `HTTP/1.1`, if that
/// version is a higher HTTP/1 minor (the parser knows only 1.0 and 1.1).
fn lift_minor(buf: &[u8]) -> Option<Vec<u8>> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let eol = start + buf[start..].iter().position(|&b| b == b'\n')?;
    let line = &buf[start..eol];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let v = line.len().checked_sub(8)?;
    match &line[v..] {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', d] if (b'2'..=b'9').contains(d) && v > 0 => {
            let mut lifted = buf.to_vec();
            lifted[start + v + 7] = b'1';
            Some(lifted)
        }
        _ => None,
    }
}

/// Parse the head at the start of `buf`. The path is made in `spare`, whose
/// buffer the `Head` takes (give it back for the next request: no
/// allocation per request).
pub fn parse(buf: &[u8], cfg: &HttpConfig, spare: &mut String) -> Parsed {
    let first = parse_as_is(buf, cfg, spare);
    if matches!(first, Parsed::Reject(400, _)) {
        //= https://www.rfc-editor.org/rfc/rfc9110#section-2.5
        //# A recipient that receives a message with a major version number that
        //# it implements and a minor version number higher than what it
        //# implements SHOULD process the message as if it were in the highest
        //# minor version within that major version to which the recipient is
        //# conformant.
        if let Some(lifted) = lift_minor(buf) {
            return parse_as_is(&lifted, cfg, spare);
        }
    }
    first
}

fn parse_as_is(buf: &[u8], cfg: &HttpConfig, spare: &mut String) -> Parsed {
    // Leading empty lines are skipped (RFC 9112 2.2), so measure the request
    // line after them.
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line_len = buf[start..].iter().position(|&b| b == b'\n');
    match line_len {
        Some(n) if n > cfg.max_request_line => return Parsed::Reject(414, ErrorKind::UriTooLong),
        None if buf.len() - start > cfg.max_request_line => {
            return Parsed::Reject(414, ErrorKind::UriTooLong)
        }
        _ => {}
    }
    let mut headers = [httparse::EMPTY_HEADER; HEADER_ARRAY];
    let max_headers = cfg.max_headers.clamp(1, HEADER_ARRAY);
    let mut req = httparse::Request::new(&mut headers[..max_headers]);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > cfg.max_header_bytes {
                return Parsed::Reject(431, ErrorKind::HeadersTooLarge);
            }
            return Parsed::Partial;
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Reject(431, ErrorKind::HeadersTooLarge)
        }
        Err(_) => return Parsed::Reject(400, ErrorKind::BadRequest),
    };
    if n > cfg.max_header_bytes {
        return Parsed::Reject(431, ErrorKind::HeadersTooLarge);
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Parsed::Reject(400, ErrorKind::BadRequest);
    };
    //= https://www.rfc-editor.org/rfc/rfc9112#section-3.2.4
    //# The asterisk-form of request-target is only used for a server-wide
    //# OPTIONS request
    let ok = if target == "*" && method == "OPTIONS" {
        spare.clear();
        spare.push('*');
        true
    } else {
        target_path(target, spare)
    };
    if !ok {
        return Parsed::Reject(400, ErrorKind::BadRequest);
    }
    let mut hosts = 0;
    let mut length: Option<u64> = None;
    let mut codings: Vec<String> = Vec::new();
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expect = Expect::None;
    let mut cond: Option<Box<Conditions>> = None;
    let mut content_type = None;
    for h in req.headers.iter() {
        let v = h.value;
        if h.name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if h.name.eq_ignore_ascii_case("content-length") {
            //= https://www.rfc-editor.org/rfc/rfc9112#section-6.3
            //# If a message is received without Transfer-Encoding and with an
            //# invalid Content-Length header field, then the message framing is
            //# invalid and the recipient MUST treat it as an unrecoverable error
            // A list of identical values ("5, 5") is one value (RFC 9110 8.6).
            for t in v.split(|&b| b == b',') {
                match (parse_length(t), length) {
                    (None, _) => return Parsed::Reject(400, ErrorKind::BadRequest),
                    (Some(l), Some(old)) if l != old => {
                        return Parsed::Reject(400, ErrorKind::BadRequest)
                    }
                    (Some(l), _) => length = Some(l),
                }
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            codings.extend(tokens(v));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for t in members(v) {
                close |= t.eq_ignore_ascii_case(b"close");
                keep_alive_token |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("expect") {
            expect = if v.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                Expect::Continue
            } else {
                Expect::Other
            };
        } else if let Some(slot) = conditional_field(h.name, &mut cond) {
            // Field lines are joined as a list: two dates make no valid
            // date, so such a condition is ignored (RFC 9110 13.1.3).
            append(slot, v);
        } else if h.name.eq_ignore_ascii_case("content-type") {
            content_type = Some(String::from_utf8_lossy(v.trim_ascii()).into_owned());
        }
    }
    //= https://www.rfc-editor.org/rfc/rfc9112#section-3.2
    //# A server MUST respond with a 400 (Bad Request) status code to any
    //# HTTP/1.1 request message that lacks a Host header field and to any
    //# request message that contains more than one Host header field line
    if hosts > 1 || (minor == 1 && hosts == 0) {
        return Parsed::Reject(400, ErrorKind::BadRequest);
    }
    let mut must_close = false;
    let framing = if !codings.is_empty() {
        if minor == 0 {
            //= https://www.rfc-editor.org/rfc/rfc9112#section-6.1
            //# A server or client that receives an HTTP/1.0 message containing a
            //# Transfer-Encoding header field MUST treat the message as if the
            //# framing is faulty, even if a Content-Length is present, and close
            //# the connection after processing the message.
            return Parsed::Reject(400, ErrorKind::BadRequest);
        }
        //= https://www.rfc-editor.org/rfc/rfc9112#section-6.3
        //# If a Transfer-Encoding header field is present in a request and the
        //# chunked transfer coding is not the final encoding, the message body
        //# length cannot be determined reliably; the server MUST respond with
        //# the 400 (Bad Request) status code and then close the connection.
        if codings.last().map(String::as_str) != Some("chunked")
            || codings.iter().filter(|c| *c == "chunked").count() > 1
        {
            return Parsed::Reject(400, ErrorKind::BadRequest);
        }
        //= https://www.rfc-editor.org/rfc/rfc9112#section-6.1
        //# A server that receives a request message with a transfer coding it
        //# does not understand SHOULD respond with 501 (Not Implemented).
        if codings.len() > 1 {
            return Parsed::Reject(501, ErrorKind::NotImplemented);
        }
        //= https://www.rfc-editor.org/rfc/rfc9112#section-6.1
        //# Regardless, the server MUST close the connection after responding
        //# to such a request to avoid the potential attacks.
        must_close = length.is_some();
        Framing::Chunked
    } else {
        match length {
            Some(0) | None => Framing::None,
            Some(l) => Framing::Length(l),
        }
    };
    // A zero Content-Length still says a length was given (411 is for none).
    let framing = match (framing, length) {
        (Framing::None, Some(0)) => Framing::Length(0),
        (f, _) => f,
    };
    //= https://www.rfc-editor.org/rfc/rfc9112#section-9.3
    //# If the received protocol is HTTP/1.1 (or later), the connection will
    //# persist after the current response; or [for HTTP/1.0] if the
    //# "keep-alive" connection option is present
    //= https://www.rfc-editor.org/rfc/rfc9112#section-9.3
    //# the connection will persist
    let keep_alive = !close && !must_close && (minor == 1 || keep_alive_token);
    //= https://www.rfc-editor.org/rfc/rfc9110#section-10.1.1
    //# A server that receives a 100-continue expectation in an HTTP/1.0
    //# request MUST ignore that expectation.
    if minor == 0 {
        expect = Expect::None;
    }
    Parsed::Complete(
        Head {
            method: Method::parse(method),
            path: std::mem::take(spare),
            minor,
            keep_alive,
            framing,
            expect,
            cond,
            content_type,
            must_close,
        },
        n,
    )
}
