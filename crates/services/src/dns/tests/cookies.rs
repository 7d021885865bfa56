//! The amplification cap, DNS cookies, and a real dig query.

use super::*;

#[test]
fn answer_over_amplification_cap_becomes_minimal_tc() {
    let mut r = DnsResponder::with_cookie_secret(&config(10, 3.0), SECRET).unwrap();
    let q = with_opt(query("many.xskd.test.", RecordType::A), 1232, 0, false, &[]);
    let (raw, m) = ask(&mut r, &q);
    assert!(raw.len() <= 3 * q.len());
    assert!(m.truncated());
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.answers().is_empty() && m.name_servers().is_empty());
    assert_eq!(m.queries().len(), 1);
    assert!(m.extensions().is_some());
    assert_eq!(r.counters().truncated_amplification, 1);
    assert_eq!(r.counters().truncated(), 1);
}

#[test]
fn answer_under_amplification_cap_sent_whole() {
    let mut r = DnsResponder::with_cookie_secret(&config(10, 20.0), SECRET).unwrap();
    let (_, m) = ask(&mut r, &query("many.xskd.test.", RecordType::A));
    assert_eq!(a_addrs(&m).len(), 10);
    assert!(!m.truncated());
}

#[test]
fn valid_server_cookie_lifts_amplification_cap() {
    let mut r = DnsResponder::with_cookie_secret(&config(10, 3.0), SECRET).unwrap();
    // First contact: client cookie only. Minimal TC, but a server cookie.
    let q = with_opt(
        query("many.xskd.test.", RecordType::A),
        1232,
        0,
        false,
        &COOKIE,
    );
    let (_, m) = ask_with(&mut r, &ctx(), &q);
    assert!(m.truncated());
    let cookie = server_cookie(&m).expect("cookie in the TC response");
    assert_eq!(cookie.len(), 24);
    assert_eq!(cookie[..8], COOKIE);
    // Second query presents it: full answer.
    let q = with_opt(
        query("many.xskd.test.", RecordType::A),
        1232,
        0,
        false,
        &cookie,
    );
    let (_, m) = ask_with(&mut r, &ctx(), &q);
    assert!(!m.truncated());
    assert_eq!(a_addrs(&m).len(), 10);
    assert_eq!(r.counters().cookies_valid, 1);
}

#[test]
fn server_cookie_from_other_address_or_too_old_not_valid() {
    let mut r = DnsResponder::with_cookie_secret(&config(10, 3.0), SECRET).unwrap();
    let q = with_opt(
        query("many.xskd.test.", RecordType::A),
        1232,
        0,
        false,
        &COOKIE,
    );
    let (_, m) = ask_with(&mut r, &ctx(), &q);
    let cookie = server_cookie(&m).unwrap();
    let q = with_opt(
        query("many.xskd.test.", RecordType::A),
        1232,
        0,
        false,
        &cookie,
    );

    let spoofed = QueryContext {
        client: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 99)),
        ..ctx()
    };
    let (_, m) = ask_with(&mut r, &spoofed, &q);
    assert!(m.truncated(), "other source address");

    let later = QueryContext {
        now_unix_secs: NOW + 3601,
        ..ctx()
    };
    let (_, m) = ask_with(&mut r, &later, &q);
    assert!(m.truncated(), "older than an hour");

    let earlier = QueryContext {
        now_unix_secs: NOW - 301,
        ..ctx()
    };
    let (_, m) = ask_with(&mut r, &earlier, &q);
    assert!(m.truncated(), "more than 5 minutes in the future");

    let mut forged = cookie.clone();
    forged[23] ^= 1;
    let q = with_opt(
        query("many.xskd.test.", RecordType::A),
        1232,
        0,
        false,
        &forged,
    );
    let (_, m) = ask_with(&mut r, &ctx(), &q);
    assert!(m.truncated(), "hash mismatch");

    let other_secret = DnsResponder::with_cookie_secret(&config(10, 3.0), [8; 16]);
    let (_, m) = ask_with(&mut other_secret.unwrap(), &ctx(), &q);
    assert!(m.truncated(), "other secret");
    assert_eq!(r.counters().cookies_valid, 0);
}

#[test]
fn empty_question_with_client_cookie_gets_noerror_and_server_cookie() {
    let mut r = responder();
    let mut q = query("www.xskd.test.", RecordType::A)[..12].to_vec();
    q[5] = 0;
    let q = with_opt(q, 1232, 0, false, &COOKIE);
    let (_, m) = ask_with(&mut r, &ctx(), &q);
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.queries().is_empty() && m.answers().is_empty());
    let cookie = server_cookie(&m).unwrap();
    assert_eq!(cookie.len(), 24);
    // Without a client address there are no cookies, so it is malformed.
    assert_formerr(&mut r, &q);
    let mut out = [0u8; 512];
    let n = r.respond_tcp(&q, &mut out).unwrap();
    assert_eq!(out[3] & 0x0f, 1, "FORMERR over TCP too");
    assert_eq!(n, 12);
}

#[test]
fn respond_without_context_ignores_cookies() {
    let mut r = DnsResponder::with_cookie_secret(&config(10, 3.0), SECRET).unwrap();
    let q = with_opt(
        query("www.xskd.test.", RecordType::A),
        1232,
        0,
        false,
        &COOKIE,
    );
    let (_, m) = ask(&mut r, &q);
    assert!(m.extensions().is_some());
    assert_eq!(server_cookie(&m), None);
}

/// RFC 9018 Appendix A.1, "Learning a New Server Cookie".
#[test]
fn server_cookie_matches_rfc9018_test_vector() {
    let secret = [
        0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f, 0x48, 0xe7, 0xdc, 0x84, 0x9e, 0x37, 0xbf,
        0xcf,
    ];
    let jar = cookie::CookieJar::new(secret);
    let client_cookie = [0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];
    let client = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 100));
    let minted = jar.mint(&client_cookie, client, 1_559_731_985);
    assert_eq!(
        minted,
        [
            0x01, 0x00, 0x00, 0x00, 0x5c, 0xf7, 0x9f, 0x11, 0x1f, 0x81, 0x30, 0xc3, 0xee, 0xe2,
            0x94, 0x80
        ]
    );
    assert!(jar.verify(&client_cookie, &minted, client, 1_559_731_985 + 60));
}

/// `dig @127.0.0.1 -p 5399 www.xskd.test A`, captured from DiG
/// 9.18.49-1~deb12u3-Debian: RD and AD set, EDNS with a 1232-byte payload
/// and an 8-byte client cookie.
const DIG_QUERY: [u8; 54] = [
    0x32, 0x17, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // header
    0x03, b'w', b'w', b'w', 0x04, b'x', b's', b'k', b'd', 0x04, b't', b'e', b's', b't', 0x00, 0x00,
    0x01, 0x00, 0x01, // A IN
    0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, // OPT, RDLEN 12
    0x00, 0x0a, 0x00, 0x08, 0x97, 0x40, 0x4e, 0xb1, 0x90, 0x30, 0xc0, 0x70, // COOKIE
];

#[test]
fn dig_query_bytes_answered_with_address_and_cookie() {
    let mut r = responder();
    let (_, m) = ask_with(&mut r, &ctx(), &DIG_QUERY);
    assert_eq!(m.id(), 0x3217);
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.authoritative() && m.recursion_desired() && !m.truncated());
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 1)]);
    assert_eq!(m.queries()[0].name().to_ascii(), "www.xskd.test.");
    let cookie = server_cookie(&m).unwrap();
    assert_eq!(cookie[..8], DIG_QUERY[46..54]);
    assert_eq!(cookie[8], 1, "RFC 9018 version 1 server cookie");

    let (_, m) = ask(&mut r, &DIG_QUERY);
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 1)]);
}
