//! Range requests and conditional requests on the connection state machine
//! (the harness of tests.rs; its clock's wall time is 100 s after the epoch,
//! so objects stored at once are "Thu, 01 Jan 1970 00:01:40 GMT").

use std::time::Duration;

use super::tests::{body, header, status_of, statuses, Harness};
use super::*;

const LM: &str = "Thu, 01 Jan 1970 00:01:40 GMT";
const BEFORE_LM: &str = "Thu, 01 Jan 1970 00:01:39 GMT";

fn get_with(h: &mut Harness, path: &str, fields: &str) -> String {
    h.feed(format!("GET {path} HTTP/1.1\r\nHost: x\r\n{fields}\r\n").as_bytes())
}

fn etag_of(h: &mut Harness, path: &str) -> String {
    header(&h.get(path), "etag").unwrap().to_string()
}

#[test]
fn single_range_is_206_with_content_range_and_only_that_part() {
    let mut h = Harness::new();
    h.put("/d", "0123456789");
    let r = h.get("/d");
    assert_eq!(header(&r, "accept-ranges"), Some("bytes"), "{r}");
    for (range, want, cr) in [
        ("bytes=2-5", "2345", "bytes 2-5/10"),
        ("bytes=-3", "789", "bytes 7-9/10"),
        ("bytes=8-", "89", "bytes 8-9/10"),
        ("bytes=0-99", "0123456789", "bytes 0-9/10"),
        ("bytes=1-2, 2-4", "1234", "bytes 1-4/10"),
    ] {
        let r = get_with(&mut h, "/d", &format!("Range: {range}\r\n"));
        assert_eq!(status_of(&r), 206, "{range}: {r}");
        assert_eq!(header(&r, "content-range"), Some(cr), "{range}");
        assert_eq!(
            header(&r, "content-length"),
            Some(want.len().to_string().as_str())
        );
        assert_eq!(body(&r), want, "{range}");
        assert!(header(&r, "etag").is_some() && header(&r, "last-modified").is_some());
    }
    assert_eq!(h.counters.status_class(2), 7);
}

#[test]
fn range_of_a_large_body_streams_exactly_its_bytes_then_the_next_response() {
    let mut h = Harness::new();
    let big: String = (0..100_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    h.put("/big", &big);
    h.window = Some(1000);
    let r = h.feed(
        b"GET /big HTTP/1.1\r\nHost: x\r\nRange: bytes=40000-59999\r\n\r\nGET /no HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(statuses(&r), vec![206, 404]);
    let part = &r[r.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(&part[..20_000], &big[40_000..60_000]);
    assert!(
        part[20_000..].starts_with("HTTP/1.1 404"),
        "nothing more of the body"
    );
}

#[test]
fn unsatisfiable_range_is_416_with_the_length_and_keeps_the_connection() {
    let mut h = Harness::new();
    h.put("/d", "0123456789");
    let r = get_with(&mut h, "/d", "Range: bytes=10-\r\n");
    assert_eq!(status_of(&r), 416, "{r}");
    assert_eq!(header(&r, "content-range"), Some("bytes */10"));
    assert!(!h.conn.finished());
    assert_eq!(h.counters.errors_of(ErrorKind::RangeNotSatisfiable), 1);
    assert_eq!(status_of(&h.get("/d")), 200);
}

#[test]
fn ranges_that_need_more_than_one_part_or_are_invalid_get_the_whole_body() {
    let mut h = Harness::new();
    h.put("/d", "0123456789");
    for range in ["bytes=0-1,5-6", "bytes=5-2", "bytes=x", "pages=1-2"] {
        let r = get_with(&mut h, "/d", &format!("Range: {range}\r\n"));
        assert_eq!(status_of(&r), 200, "{range}");
        assert_eq!(body(&r), "0123456789");
        assert_eq!(header(&r, "content-range"), None);
    }
}

#[test]
fn range_is_ignored_for_head_and_for_missing_objects() {
    let mut h = Harness::new();
    h.put("/d", "0123456789");
    let r = h.feed(b"HEAD /d HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n");
    assert_eq!(status_of(&r), 200, "{r}");
    assert_eq!(header(&r, "content-length"), Some("10"));
    assert_eq!(body(&r), "");
    let r = get_with(&mut h, "/none", "Range: bytes=0-1\r\n");
    assert_eq!(status_of(&r), 404);
}

#[test]
fn if_range_with_the_current_strong_etag_gives_206_otherwise_200() {
    let mut h = Harness::new();
    h.put("/d", "0123456789");
    let etag = etag_of(&mut h, "/d");
    let r = get_with(
        &mut h,
        "/d",
        &format!("Range: bytes=0-1\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!((status_of(&r), body(&r)), (206, "01"), "{r}");
    for stale in ["\"other\"".to_string(), format!("W/{etag}")] {
        let r = get_with(
            &mut h,
            "/d",
            &format!("Range: bytes=0-1\r\nIf-Range: {stale}\r\n"),
        );
        assert_eq!((status_of(&r), body(&r)), (200, "0123456789"), "{stale}");
    }
}

#[test]
fn if_range_with_a_date_needs_exactly_last_modified_and_a_strong_date() {
    let mut h = Harness::new();
    h.put("/d", "0123456789");
    let ask = |h: &mut Harness, date: &str| {
        let r = get_with(
            h,
            "/d",
            &format!("Range: bytes=0-1\r\nIf-Range: {date}\r\n"),
        );
        status_of(&r)
    };
    // Modified in the current second: the date could name two versions.
    assert_eq!(ask(&mut h, LM), 200);
    h.now += Duration::from_secs(2);
    assert_eq!(ask(&mut h, LM), 206);
    assert_eq!(ask(&mut h, BEFORE_LM), 200);
    assert_eq!(ask(&mut h, "not a date"), 200);
}

#[test]
fn if_modified_since_at_or_after_last_modified_is_304_with_validators() {
    let mut h = Harness::new();
    h.put("/d", "0123456789");
    let etag = etag_of(&mut h, "/d");
    for ims in [
        LM,
        "Thu, 01 Jan 1970 00:05:00 GMT",
        "Thursday, 01-Jan-70 00:01:40 GMT",
    ] {
        let r = get_with(&mut h, "/d", &format!("If-Modified-Since: {ims}\r\n"));
        assert_eq!(status_of(&r), 304, "{ims}: {r}");
        assert_eq!(header(&r, "etag"), Some(etag.as_str()));
        assert_eq!(header(&r, "last-modified"), Some(LM));
        assert_eq!(header(&r, "content-length"), None);
        assert_eq!(body(&r), "");
    }
    for ims in [BEFORE_LM, "garbage", &format!("{LM}, {LM}")] {
        let r = get_with(&mut h, "/d", &format!("If-Modified-Since: {ims}\r\n"));
        assert_eq!(status_of(&r), 200, "{ims}");
    }
    // HEAD too; PUT ignores it.
    let r = h
        .feed(format!("HEAD /d HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: {LM}\r\n\r\n").as_bytes());
    assert_eq!(status_of(&r), 304);
    let r = h.feed(
        format!(
            "PUT /d HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: {LM}\r\nContent-Length: 1\r\n\r\nx"
        )
        .as_bytes(),
    );
    assert_eq!(status_of(&r), 204);
}

#[test]
fn if_none_match_takes_precedence_over_if_modified_since() {
    let mut h = Harness::new();
    h.put("/d", "0123456789");
    let etag = etag_of(&mut h, "/d");
    let r = get_with(
        &mut h,
        "/d",
        &format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {LM}\r\n"),
    );
    assert_eq!(status_of(&r), 200, "IMS is ignored next to If-None-Match");
    let r = get_with(
        &mut h,
        "/d",
        &format!("If-None-Match: {etag}\r\nIf-Modified-Since: {BEFORE_LM}\r\n"),
    );
    assert_eq!(status_of(&r), 304);
}

#[test]
fn if_match_and_if_unmodified_since_guard_reads_and_writes_with_412() {
    let mut h = Harness::new();
    h.put("/d", "one");
    let etag = etag_of(&mut h, "/d");
    let r = get_with(&mut h, "/d", "If-Match: \"stale\"\r\n");
    assert_eq!(status_of(&r), 412, "{r}");
    assert!(!h.conn.finished());
    assert_eq!(status_of(&get_with(&mut h, "/d", "If-Match: *\r\n")), 200);
    let put = |h: &mut Harness, path: &str, fields: &str| {
        let r = h.feed(
            format!("PUT {path} HTTP/1.1\r\nHost: x\r\n{fields}Content-Length: 3\r\n\r\ntwo")
                .as_bytes(),
        );
        status_of(&r)
    };
    assert_eq!(put(&mut h, "/d", "If-Match: \"stale\"\r\n"), 412);
    assert_eq!(
        put(
            &mut h,
            "/d",
            &format!("If-Unmodified-Since: {BEFORE_LM}\r\n")
        ),
        412
    );
    assert_eq!(
        put(&mut h, "/d", "If-None-Match: *\r\n"),
        412,
        "create-only"
    );
    assert_eq!(body(&h.get("/d")), "one", "no failed PUT changed it");
    assert_eq!(
        put(&mut h, "/new", "If-Match: *\r\n"),
        412,
        "nothing to match"
    );
    assert_eq!(put(&mut h, "/new", "If-None-Match: *\r\n"), 201);
    // If-Match decides alone: If-Unmodified-Since is not evaluated next to it.
    let both = format!("If-Match: {etag}\r\nIf-Unmodified-Since: {BEFORE_LM}\r\n");
    assert_eq!(put(&mut h, "/d", &both), 204);
    let r = h.feed(b"DELETE /d HTTP/1.1\r\nHost: x\r\nIf-Match: \"stale\"\r\n\r\n");
    assert_eq!(status_of(&r), 412);
    assert!(h.store.contains("/d"));
    assert_eq!(h.counters.errors_of(ErrorKind::PreconditionFailed), 6);
}

#[test]
fn failed_if_match_wins_over_a_matching_if_none_match() {
    let mut h = Harness::new();
    h.put("/d", "x");
    let etag = etag_of(&mut h, "/d");
    let r = get_with(
        &mut h,
        "/d",
        &format!("If-Match: \"stale\"\r\nIf-None-Match: {etag}\r\n"),
    );
    assert_eq!(status_of(&r), 412, "step 1 before step 3");
    let r = get_with(
        &mut h,
        "/d",
        &format!("If-Unmodified-Since: {LM}\r\nIf-None-Match: {etag}\r\n"),
    );
    assert_eq!(status_of(&r), 304, "IUS true, then INM false");
}

#[test]
fn preconditions_are_ignored_when_the_answer_would_be_404() {
    let mut h = Harness::new();
    assert_eq!(
        status_of(&get_with(&mut h, "/none", "If-Match: *\r\n")),
        404
    );
    let r = h.feed(b"DELETE /none HTTP/1.1\r\nHost: x\r\nIf-Match: *\r\n\r\n");
    assert_eq!(status_of(&r), 404);
}
