//! Byte ranges (RFC 9110 14): the `Range` header of a GET against the
//! length of the selected representation. Pure: a header value and a
//! length in, a verdict out.
//!
//! Multiple ranges: the satisfiable ones are coalesced (RFC 9110 15.3.7.2
//! allows it); when they make one contiguous span the answer is a single
//! 206 part, otherwise 200 with the whole representation (the server may
//! ignore Range, 14.2). We never send multipart/byteranges: it costs a
//! boundary per part for a feature no client we know of needs, and it is
//! the classic amplification (many small overlapping ranges).

/// Most range-specs looked at; a longer list is ignored (200).
const MAX_RANGES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No usable Range: the whole representation, 200.
    Full,
    /// Bytes `start..end` (end exclusive), 206.
    Partial { start: u64, end: u64 },
    /// No range-spec overlaps the representation: 416.
    Unsatisfiable,
}

/// A decimal position; values past u64 saturate (they are past any length).
fn position(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |v, d| {
        v.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// One range-spec resolved against `len`: Ok(None) when it is valid but
/// unsatisfiable, Err when it is not a range-spec at all.
fn resolve(spec: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let (first, last) = spec.split_once('-').ok_or(())?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        //= https://www.rfc-editor.org/rfc/rfc9110#section-14.1.3
        //# suffix-range = "-" suffix-length
        let n = position(last).ok_or(())?;
        //= https://www.rfc-editor.org/rfc/rfc9110#section-14.1.1
        //# If the selected representation is shorter than the specified
        //# suffix-length, the entire representation is used.
        if n > 0 && len == 0 {
            //= https://www.rfc-editor.org/rfc/rfc9110#section-14.1.1
            //# If the selected representation has zero length, the only
            //# satisfiable form of range-spec is a suffix-range with a non-zero
            //# suffix-length.
            // Its part would be empty, which Content-Range cannot say: the
            // whole (empty) representation instead.
            return Err(());
        }
        return Ok((n > 0).then(|| (len - n.min(len), len)));
    }
    let first = position(first).ok_or(())?;
    let last = if last.is_empty() {
        None
    } else {
        Some(position(last).ok_or(())?)
    };
    //= https://www.rfc-editor.org/rfc/rfc9110#section-14.1.1
    //# An int-range is invalid if the last-pos value is present and less
    //# than the first-pos.
    if last.is_some_and(|l| l < first) {
        return Err(());
    }
    if first >= len {
        return Ok(None);
    }
    let end = last.map_or(len, |l| l.saturating_add(1).min(len));
    Ok(Some((first, end)))
}

/// What to answer to `Range: <header>` for a representation of `len` bytes.
pub fn evaluate(header: &str, len: u64) -> Verdict {
    let Some((unit, set)) = header.trim().split_once('=') else {
        return Verdict::Full;
    };
    //= https://www.rfc-editor.org/rfc/rfc9110#section-14.2
    //# An origin server MUST ignore a Range header field that contains a
    //# range unit it does not understand.
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Verdict::Full;
    }
    let mut spans = [(0u64, 0u64); MAX_RANGES];
    let mut n = 0;
    let mut specs = 0;
    for spec in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        specs += 1;
        if specs > MAX_RANGES {
            return Verdict::Full;
        }
        match resolve(spec, len) {
            Err(()) => return Verdict::Full,
            Ok(None) => {}
            Ok(Some(span)) => {
                spans[n] = span;
                n += 1;
            }
        }
    }
    if specs == 0 {
        return Verdict::Full;
    }
    if n == 0 {
        //= https://www.rfc-editor.org/rfc/rfc9110#section-15.5.17
        //# rejected either because none of the requested ranges are
        //# satisfiable
        return Verdict::Unsatisfiable;
    }
    let spans = &mut spans[..n];
    spans.sort_unstable();
    let (start, mut end) = spans[0];
    for &(s, e) in &spans[1..] {
        if s > end {
            // A gap: more than one part would be needed.
            return Verdict::Full;
        }
        end = end.max(e);
    }
    Verdict::Partial { start, end }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    #[test]
    fn single_ranges_resolve_like_the_rfc_examples() {
        // RFC 9110 14.1.2 examples on a 10000-byte representation.
        let len = 10_000;
        assert_eq!(evaluate("bytes=0-499", len), Partial { start: 0, end: 500 });
        assert_eq!(
            evaluate("bytes=500-999", len),
            Partial {
                start: 500,
                end: 1000
            }
        );
        assert_eq!(
            evaluate("bytes=-500", len),
            Partial {
                start: 9500,
                end: 10_000
            }
        );
        assert_eq!(
            evaluate("bytes=9500-", len),
            Partial {
                start: 9500,
                end: 10_000
            }
        );
        assert_eq!(evaluate("bytes=0-0,-1", len), Full, "two parts: 200");
        assert_eq!(
            evaluate("BYTES = 0-99999999999999999999999", len),
            Partial {
                start: 0,
                end: 10_000
            },
            "last-pos past the end (and past u64) is clamped"
        );
        assert_eq!(evaluate("bytes=-20000", 10), Partial { start: 0, end: 10 });
    }

    #[test]
    fn overlapping_and_adjacent_ranges_coalesce_into_one_part() {
        assert_eq!(
            evaluate("bytes=500-600,601-999", 10_000),
            Partial {
                start: 500,
                end: 1000
            }
        );
        assert_eq!(
            evaluate("bytes=900-999, 0-500, 400-950", 10_000),
            Partial {
                start: 0,
                end: 1000
            }
        );
        assert_eq!(
            evaluate("bytes=0-1,50000-60000", 10_000),
            Partial { start: 0, end: 2 },
            "the unsatisfiable one is dropped"
        );
    }

    #[test]
    fn nothing_satisfiable_is_416() {
        assert_eq!(evaluate("bytes=10000-", 10_000), Unsatisfiable);
        assert_eq!(evaluate("bytes=10000-20000, 30000-", 10_000), Unsatisfiable);
        assert_eq!(evaluate("bytes=-0", 10_000), Unsatisfiable);
        assert_eq!(evaluate("bytes=0-", 0), Unsatisfiable);
    }

    #[test]
    fn invalid_or_foreign_specifiers_are_ignored() {
        for h in [
            "bytes=5-1",
            "bytes=a-b",
            "bytes=",
            "bytes=,",
            "bytes=1",
            "bytes=--1",
            "bytes=0-1,x",
            "items=0-1",
            "0-1",
            "bytes=+1-2",
        ] {
            assert_eq!(evaluate(h, 100), Full, "{h}");
        }
        let many: Vec<String> = (0..=MAX_RANGES).map(|i| format!("{i}-{i}")).collect();
        assert_eq!(evaluate(&format!("bytes={}", many.join(",")), 100), Full);
        // Satisfiable on a zero-length representation, but with no part to
        // send: the whole empty one.
        assert_eq!(evaluate("bytes=-5", 0), Full);
    }
}
