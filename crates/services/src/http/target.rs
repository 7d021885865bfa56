//! The path of a request-target made into the store key, so that one
//! object has one name whatever equivalent spelling a client uses
//! (RFC 3986 6.2.2): percent-encoded unreserved characters are decoded,
//! the hex digits of the remaining triplets upper-cased, and dot segments
//! removed. A malformed triplet, a character no URI may hold, or a `..`
//! that would climb above the root is refused (400).

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("'%' not followed by two hex digits")]
    BadEncoding,
    #[error("a character outside the URI grammar")]
    BadCharacter,
    #[error("a '..' segment above the root")]
    EscapesRoot,
}

//= https://www.rfc-editor.org/rfc/rfc3986#section-2.3
//# unreserved  = ALPHA / DIGIT / "-" / "." / "_" / "~"
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// A byte that stands for itself in a path (pchar minus pct-encoded, or '/').
fn path_char(b: u8) -> bool {
    unreserved(b) || b"!$&'()*+,;=:@/".contains(&b)
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn push_encoded(out: &mut String, b: u8) {
    out.push('%');
    out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
    out.push(char::from(HEX_UPPER[usize::from(b & 15)]));
}

/// The percent-encoding step of 6.2.2 into `out`: `path` with unreserved
/// triplets decoded and the others in upper case.
fn decode_unreserved(path: &str, out: &mut String) -> Result<(), TargetError> {
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let (Some(hi), Some(lo)) = (
                    b.get(i + 1).copied().and_then(hex),
                    b.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(TargetError::BadEncoding);
                };
                let v = hi << 4 | lo;
                //= https://www.rfc-editor.org/rfc/rfc3986#section-6.2.2.2
                //# URI normalizers should decode percent-encoded octets that
                //# correspond to unreserved characters, as described in Section 2.3.
                if unreserved(v) {
                    out.push(char::from(v));
                } else {
                    //= https://www.rfc-editor.org/rfc/rfc3986#section-6.2.2.1
                    //# For all URIs, the hexadecimal digits within a percent-encoding
                    //# triplet (e.g., "%3a" versus "%3A") are case-insensitive and therefore
                    //# should be normalized to use uppercase letters for the digits A-F.
                    push_encoded(out, v);
                }
                i += 3;
            }
            c if path_char(c) => {
                out.push(char::from(c));
                i += 1;
            }
            _ => return Err(TargetError::BadCharacter),
        }
    }
    Ok(())
}

/// RFC 3986 5.2.4 on an absolute path, except that a `..` with nothing
/// left to remove is an error rather than dropped.
fn remove_dot_segments(path: &str) -> Result<String, TargetError> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    // Segment slices of `rest`; the first is at most the path's length.
    let mut kept: Vec<&str> = Vec::new();
    let mut segments = rest.split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        match seg {
            "." => {}
            ".." => {
                if kept.pop().is_none() {
                    return Err(TargetError::EscapesRoot);
                }
            }
            s => {
                kept.push(s);
                continue;
            }
        }
        // "/a/." and "/a/b/.." name the directory: keep the trailing slash.
        if last {
            kept.push("");
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &kept {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// The store key for the path of an origin-form (or absolute-form) target,
/// query and fragment already stripped, written into `out` (its buffer is
/// reused: no allocation once it is large enough, unless there are dot
/// segments to remove).
pub fn normalize_into(path: &str, out: &mut String) -> Result<(), TargetError> {
    out.clear();
    decode_unreserved(path, out)?;
    if out.split('/').any(|s| s == "." || s == "..") {
        let removed = remove_dot_segments(out)?;
        out.clear();
        out.push_str(&removed);
    }
    Ok(())
}

/// [`normalize_into`] a new string.
#[cfg(test)]
pub fn normalize(path: &str) -> Result<String, TargetError> {
    let mut out = String::new();
    normalize_into(path, &mut out).map(|()| out)
}

/// A file's relative path (with '/' separators) as the key a request for it
/// normalizes to: bytes that cannot appear in a path as themselves are
/// percent-encoded, so `my file.txt` is served at `/my%20file.txt`.
pub fn encode_path(rel: &str) -> String {
    let mut out = String::with_capacity(rel.len() + 1);
    if !rel.starts_with('/') {
        out.push('/');
    }
    for &b in rel.as_bytes() {
        if path_char(b) {
            out.push(char::from(b));
        } else {
            push_encoded(&mut out, b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_spellings_normalize_to_one_key() {
        for (t, want) in [
            ("/abc", "/abc"),
            ("/%61bc", "/abc"),
            ("/%41%62%63", "/Abc"),
            ("/a%2fb", "/a%2Fb"),
            ("/a%2Fb", "/a%2Fb"),
            ("/%7e%2D%2e%5F", "/~-._"),
            ("/%20x", "/%20x"),
            ("/a/./b", "/a/b"),
            ("/a/b/../c", "/a/c"),
            ("/a/%2e%2E/c", "/c"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/.", "/"),
            ("/", "/"),
            ("//a", "//a"),
            ("/a//../b", "/a/b"),
            ("/a/..b/c.", "/a/..b/c."),
            ("/a%2F..%2Fb", "/a%2F..%2Fb"),
        ] {
            assert_eq!(normalize(t).as_deref(), Ok(want), "{t}");
        }
    }

    #[test]
    fn rfc3986_dot_segment_examples() {
        // 5.2.4's example inputs, as absolute paths.
        assert_eq!(normalize("/a/b/c/./../../g").as_deref(), Ok("/a/g"));
        assert_eq!(normalize("/mid/content=5/../6").as_deref(), Ok("/mid/6"));
    }

    #[test]
    fn malformed_or_escaping_targets_are_refused() {
        for (t, e) in [
            ("/%", TargetError::BadEncoding),
            ("/%4", TargetError::BadEncoding),
            ("/%zz", TargetError::BadEncoding),
            ("/a%g1", TargetError::BadEncoding),
            ("/a\"b", TargetError::BadCharacter),
            ("/a<b>", TargetError::BadCharacter),
            ("/caf\u{e9}", TargetError::BadCharacter),
            ("/..", TargetError::EscapesRoot),
            ("/a/../..", TargetError::EscapesRoot),
            ("/%2e%2e/etc/passwd", TargetError::EscapesRoot),
            ("/a/./../../b", TargetError::EscapesRoot),
        ] {
            assert_eq!(normalize(t), Err(e), "{t}");
        }
    }

    #[test]
    fn encoded_file_names_are_their_own_normal_form() {
        for rel in [
            "index.html",
            "sub/my file.txt",
            "100%.txt",
            "caf\u{e9}/x",
            "a+b=c",
        ] {
            let key = encode_path(rel);
            assert_eq!(normalize(&key).as_deref(), Ok(key.as_str()), "{rel}");
        }
        assert_eq!(encode_path("sub/my file.txt"), "/sub/my%20file.txt");
        assert_eq!(encode_path("100%.txt"), "/100%25.txt");
    }
}
