//! Request-targets, OPTIONS and HTTP versions on the connection state
//! machine (the harness of tests.rs).

use super::tests::{body, header, status_of, statuses, Harness};
use super::*;

#[test]
fn equivalent_targets_name_one_object_for_every_method() {
    let mut h = Harness::new();
    assert_eq!(status_of(&h.put("/abc", "x")), 201);
    for t in [
        "/%61bc",
        "/%61%62%63",
        "/./abc",
        "/zz/../abc",
        "/abc?q=1",
        "http://h/%61bc",
    ] {
        let r = h.get(t);
        assert_eq!((status_of(&r), body(&r)), (200, "x"), "{t}");
    }
    // PUT and DELETE use the same key: one object, one name.
    assert_eq!(status_of(&h.put("/d/../%61bc", "y")), 204, "replaces /abc");
    assert_eq!(body(&h.get("/abc")), "y");
    let r = h.feed(b"DELETE /%61%62c HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 204);
    assert_eq!(h.store.objects(), 0);
    // Location names the normalized key.
    let r = h.put("/new/./%7Eme", "z");
    assert_eq!(header(&r, "location"), Some("/new/~me"));
    // Reserved characters stay encoded (upper-cased): %2F is not '/'.
    h.put("/a%2fb", "slash");
    assert_eq!(body(&h.get("/a%2Fb")), "slash");
    assert_eq!(status_of(&h.get("/a/b")), 404);
}

#[test]
fn bad_encodings_and_targets_above_the_root_are_400_then_close() {
    for t in [
        "/%zz",
        "/a%2",
        "/..",
        "/a/../..",
        "/%2e%2e/x",
        "http://h/../x",
    ] {
        for method in ["GET", "PUT", "DELETE"] {
            let mut h = Harness::new();
            let r = h.feed(
                format!("{method} {t} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").as_bytes(),
            );
            assert_eq!(status_of(&r), 400, "{method} {t}: {r}");
            assert!(h.conn.finished());
            assert_eq!(h.store.objects(), 0);
        }
    }
}

#[test]
fn preloaded_file_names_are_served_at_their_encoded_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("my file.txt"), "spaced").unwrap();
    std::fs::write(dir.path().join("100%.txt"), "pct").unwrap();
    let store = Store::shared(StoreConfig::default());
    assert_eq!(store.preload(dir.path()).unwrap(), 2);
    let mut h = Harness::with_store(HttpConfig::default(), store);
    assert_eq!(body(&h.get("/my%20file.txt")), "spaced");
    assert_eq!(body(&h.get("/100%25.txt")), "pct");
}

#[test]
fn options_asterisk_and_per_path_answer_200_with_allow() {
    let mut h = Harness::new();
    let r = h.feed(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 200, "{r}");
    assert_eq!(
        header(&r, "allow"),
        Some("GET, HEAD, PUT, POST, DELETE, OPTIONS")
    );
    assert_eq!(header(&r, "content-length"), Some("0"));
    assert_eq!(body(&r), "");
    h.put("/obj", "x");
    let r = h.feed(b"OPTIONS /obj HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(header(&r, "allow"), Some("GET, HEAD, PUT, DELETE, OPTIONS"));
    let r = h.feed(b"OPTIONS /coll/ HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        header(&r, "allow"),
        Some("GET, HEAD, PUT, POST, DELETE, OPTIONS")
    );
    // A body is read and dropped; the connection stays in sync.
    let r = h.feed(b"OPTIONS /obj HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /obj HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(statuses(&r), vec![200, 200], "{r}");
    assert!(!h.conn.finished());
    assert_eq!(h.counters.requests_of(Method::Options), 4);
    // The asterisk is for OPTIONS only.
    let r = h.feed(b"GET * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 400);
}

#[test]
fn higher_http1_minor_versions_are_served_as_1_1() {
    let mut h = Harness::new();
    h.put("/v", "ver");
    for v in ["1.2", "1.9"] {
        let r = h.feed(format!("GET /v HTTP/{v}\r\nHost: x\r\n\r\n").as_bytes());
        assert_eq!(status_of(&r), 200, "{v}: {r}");
        assert!(r.starts_with("HTTP/1.1 200"));
        assert_eq!(body(&r), "ver");
        assert_eq!(header(&r, "connection"), None, "persistent like 1.1");
    }
    // Like 1.1, a Host is required; other majors and malformed versions are not HTTP/1.
    for bad in [
        "GET /v HTTP/1.2\r\n\r\n",
        "GET /v HTTP/2.0\r\nHost: x\r\n\r\n",
        "GET /v HTTP/1.10\r\nHost: x\r\n\r\n",
        "GET /v HTTP/1.x\r\nHost: x\r\n\r\n",
    ] {
        let mut h = Harness::new();
        assert_eq!(status_of(&h.feed(bad.as_bytes())), 400, "{bad}");
    }
    // A head split across reads still parses.
    let mut h = Harness::new();
    assert_eq!(h.feed(b"GET /v HTTP/1."), "");
    assert_eq!(h.feed(b"2\r\nHost: x\r\n"), "");
    assert_eq!(status_of(&h.feed(b"\r\n")), 404);
}
