//! Response heads, written into the connection's reusable output buffer.

use std::io::Write;

use super::date::{self, HTTP_DATE_LEN};

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

/// The Content-Range of a 206 or a 416.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentRange {
    /// Bytes `first..=last` of a representation of `len` bytes.
    Part { first: u64, last: u64, len: u64 },
    /// 416: the representation's length.
    Unsatisfied { len: u64 },
}

/// What goes into one response head besides the status line, Date and Server.
#[derive(Clone, Debug, Default)]
pub struct Fields<'a> {
    /// Persistent connection after this response?
    pub keep_alive: bool,
    /// The request was HTTP/1.0: persistence must be said explicitly.
    pub http10: bool,
    /// None for responses without content (1xx, 204, 304).
    pub content_length: Option<u64>,
    pub content_type: Option<&'a str>,
    pub etag: Option<&'a str>,
    pub last_modified: Option<u64>,
    pub location: Option<&'a str>,
    pub allow: Option<&'a str>,
    /// `Accept-Ranges: bytes` (responses about a stored object).
    pub accept_ranges: bool,
    pub content_range: Option<ContentRange>,
}

/// Append a response head. Writing into a `Vec` cannot fail.
pub fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    date: &[u8; HTTP_DATE_LEN],
    server: &str,
    f: &Fields<'_>,
) {
    //= https://www.rfc-editor.org/rfc/rfc9110#section-6.6.1
    //# An origin server with a clock (as defined in Section 5.6.7) MUST
    //# generate a Date header field in all 2xx (Successful), 3xx
    //# (Redirection), and 4xx (Client Error) responses
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\nServer: {server}\r\nDate: ",
        reason(status)
    );
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
    if let Some(n) = f.content_length {
        let _ = write!(out, "Content-Length: {n}\r\n");
    }
    match f.content_range {
        //= https://www.rfc-editor.org/rfc/rfc9110#section-14.4
        //# Content-Range       = range-unit SP
        //#                       ( range-resp / unsatisfied-range )
        Some(ContentRange::Part { first, last, len }) => {
            let _ = write!(out, "Content-Range: bytes {first}-{last}/{len}\r\n");
        }
        Some(ContentRange::Unsatisfied { len }) => {
            let _ = write!(out, "Content-Range: bytes */{len}\r\n");
        }
        None => {}
    }
    if f.accept_ranges {
        out.extend_from_slice(b"Accept-Ranges: bytes\r\n");
    }
    if let Some(t) = f.content_type {
        let _ = write!(out, "Content-Type: {t}\r\n");
    }
    if let Some(e) = f.etag {
        let _ = write!(out, "ETag: {e}\r\n");
    }
    if let Some(lm) = f.last_modified {
        out.extend_from_slice(b"Last-Modified: ");
        out.extend_from_slice(&date::format(lm));
        out.extend_from_slice(b"\r\n");
    }
    if let Some(l) = f.location {
        let _ = write!(out, "Location: {l}\r\n");
    }
    if let Some(a) = f.allow {
        let _ = write!(out, "Allow: {a}\r\n");
    }
    if !f.keep_alive {
        //= https://www.rfc-editor.org/rfc/rfc9112#section-9.6
        //# A server that sends a "close" connection option MUST initiate
        //# closure of the connection
        out.extend_from_slice(b"Connection: close\r\n");
    } else if f.http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}
