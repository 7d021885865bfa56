//! Conditional requests (RFC 9110 13): the preconditions of one request
//! evaluated against the object currently at its path, in the order of
//! 13.2.2. Pure: the request's fields, the current object and the clock's
//! second in, a verdict out.

use super::date;
use super::head::Conditions;
use super::store::Object;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Perform the method.
    Proceed,
    /// 304 (GET and HEAD only).
    NotModified,
    /// 412.
    Failed,
}

/// The opaque part of an entity-tag and whether it is weak.
fn tag(t: &str) -> (bool, &str) {
    let t = t.trim();
    match t.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, t),
    }
}

/// Does a list of entity-tags (or `*`) match `current`, by the strong
/// comparison (If-Match, If-Range) or the weak one (If-None-Match)?
fn list_matches(header: &str, current: Option<&str>, strong: bool) -> bool {
    let Some(current) = current else {
        return false;
    };
    let (cur_weak, cur) = tag(current);
    header.split(',').any(|t| {
        if t.trim() == "*" {
            return true;
        }
        let (weak, opaque) = tag(t);
        //= https://www.rfc-editor.org/rfc/rfc9110#section-8.8.3.2
        //# Strong comparison: two entity tags are equivalent if both are not
        //# weak and their opaque-tags match character-by-character.
        opaque == cur && (!strong || (!weak && !cur_weak))
    })
}

/// Evaluate the preconditions `head` (None: there are none) for `current` (None: no object at
/// the path). The caller ignores them when the response without them would
/// not be 2xx (RFC 9110 13.2.1), e.g. a GET of a missing object is 404.
//= https://www.rfc-editor.org/rfc/rfc9110#section-13.2.2
//# A recipient cache or origin server MUST evaluate the request
//# preconditions defined by this specification in the following order:
pub fn evaluate(
    head: Option<&Conditions>,
    current: Option<&Object>,
    now_secs: u64,
    read: bool,
) -> Verdict {
    let Some(head) = head else {
        return Verdict::Proceed;
    };
    let etag = current.map(|o| &*o.etag);
    let modified = current.map(|o| o.last_modified);
    if let Some(h) = &head.if_match {
        // Step 1: If-Match, strong comparison; "*" needs a current object.
        if !list_matches(h, etag, true) {
            return Verdict::Failed;
        }
    } else if let (Some(h), Some(lm)) = (&head.if_unmodified_since, modified) {
        // Step 2: If-Unmodified-Since, ignored when not a valid date.
        if date::parse(h, now_secs).is_some_and(|since| lm > since) {
            return Verdict::Failed;
        }
    }
    if let Some(h) = &head.if_none_match {
        // Step 3: If-None-Match, weak comparison.
        if list_matches(h, etag, false) {
            return if read {
                Verdict::NotModified
            } else {
                Verdict::Failed
            };
        }
    } else if let (true, Some(h), Some(lm)) = (read, &head.if_modified_since, modified) {
        // Step 4: If-Modified-Since, GET and HEAD only.
        //= https://www.rfc-editor.org/rfc/rfc9110#section-13.1.3
        //# If the selected representation's last modification date is earlier
        //# or equal to the date provided in the field value, the condition is
        //# false.
        if date::parse(h, now_secs).is_some_and(|since| lm <= since) {
            return Verdict::NotModified;
        }
    }
    Verdict::Proceed
}

/// Step 5: may a Range be honoured? True without If-Range; with it, when
/// its validator still names `obj`: the same strong entity-tag, or exactly
/// its Last-Modified date provided that date is a strong validator (the
/// object is older than the current second, so it cannot have changed twice
/// within that second: RFC 9110 8.8.2.2).
pub fn if_range_holds(head: &Conditions, obj: &Object, now_secs: u64) -> bool {
    let Some(v) = &head.if_range else {
        return true;
    };
    let v = v.trim();
    if v.starts_with('"') || v.starts_with("W/") {
        return list_matches(v, Some(&obj.etag), true) && !v.contains(',');
    }
    date::parse(v, now_secs) == Some(obj.last_modified) && obj.last_modified < now_secs
}
