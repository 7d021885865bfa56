//! Sizes: 512 bytes, EDNS payloads, the out buffer, TCP, the scratch buffer, counters.

use super::*;

#[test]
fn many_records_without_edns_truncated_at_512() {
    let mut r = DnsResponder::with_cookie_secret(&config(40, 1000.0), SECRET).unwrap();
    let (raw, m) = ask(&mut r, &query("many.xskd.test.", RecordType::A));
    assert!(raw.len() <= 512, "{}", raw.len());
    assert!(m.truncated());
    assert_eq!(m.response_code(), ResponseCode::NoError);
    let n = a_addrs(&m).len();
    assert!(
        n > 0 && n < 40,
        "answer section cut at a record boundary: {n}"
    );
    // Another record would not have fitted.
    assert!(raw.len() + 16 > 512);
    assert_eq!(r.counters().truncated_size, 1);
}

#[test]
fn many_records_with_edns_1232_fit_untruncated_with_opt() {
    let mut r = DnsResponder::with_cookie_secret(&config(40, 1000.0), SECRET).unwrap();
    let q = with_opt(query("many.xskd.test.", RecordType::A), 1232, 0, false, &[]);
    let (raw, m) = ask(&mut r, &q);
    assert!(!m.truncated());
    assert_eq!(a_addrs(&m).len(), 40);
    assert!(raw.len() > 512);
    let edns = m.extensions().as_ref().expect("OPT in the response");
    assert_eq!(edns.max_payload(), 1232);
    assert_eq!(edns.version(), 0);
}

#[test]
fn edns_payload_sizes_respected_and_capped() {
    let mut r = DnsResponder::with_cookie_secret(&config(100, 1000.0), SECRET).unwrap();
    for (advertised, limit) in [(600u16, 600usize), (4096, 1232), (100, 512), (1232, 1232)] {
        let q = with_opt(
            query("many.xskd.test.", RecordType::A),
            advertised,
            0,
            false,
            &[],
        );
        let (raw, m) = ask(&mut r, &q);
        assert!(raw.len() <= limit, "{advertised}: {} > {limit}", raw.len());
        assert!(
            raw.len() + 16 > limit,
            "{advertised}: filled up to the limit"
        );
        assert!(m.truncated(), "{advertised}");
        assert!(
            m.extensions().is_some(),
            "{advertised}: OPT kept when truncated"
        );
    }
}

#[test]
fn edns_dnssec_ok_bit_copied() {
    let mut r = responder();
    let q = with_opt(query("www.xskd.test.", RecordType::A), 1232, 0, true, &[]);
    let (_, m) = ask(&mut r, &q);
    assert!(m.extensions().as_ref().unwrap().flags().dnssec_ok);
    let q = with_opt(query("www.xskd.test.", RecordType::A), 1232, 0, false, &[]);
    let (_, m) = ask(&mut r, &q);
    assert!(!m.extensions().as_ref().unwrap().flags().dnssec_ok);
}

#[test]
fn edns_version_1_badvers_with_opt_version_0() {
    let mut r = responder();
    let q = with_opt(query("www.xskd.test.", RecordType::A), 1232, 1, false, &[]);
    let (raw, m) = ask(&mut r, &q);
    assert_eq!(raw[3] & 0x0f, 0, "low bits of BADVERS are zero");
    // 16 is both BADVERS and BADSIG; hickory names it the latter.
    assert_eq!(u16::from(m.response_code()), 16);
    assert!(m.answers().is_empty());
    let edns = m.extensions().as_ref().unwrap();
    assert_eq!(edns.version(), 0);
    assert_eq!(edns.rcode_high(), 1);
    assert_eq!(r.counters().responses(DnsRcode::BadVers), 1);
}

#[test]
fn out_buffer_smaller_than_header_drops_and_counts() {
    let mut r = responder();
    let mut out = [0u8; 11];
    assert_eq!(
        r.respond(&query("www.xskd.test.", RecordType::A), &mut out),
        None
    );
    assert_eq!(r.counters().dropped(DnsDropReason::NoRoom), 1);
}

#[test]
fn out_buffer_small_response_truncated_to_fit() {
    let mut r = responder();
    let q = query("two.xskd.test.", RecordType::A);
    let mut out = vec![0u8; q.len() + 16];
    let n = r.respond(&q, &mut out).unwrap();
    let m = Message::from_vec(&out[..n]).unwrap();
    assert!(m.truncated());
    assert_eq!(a_addrs(&m).len(), 1);
}

#[test]
fn tcp_query_after_tc_gets_whole_answer_without_cap() {
    let mut r = big_responder(200);
    let q = query("many.xskd.test.", RecordType::A);
    let (_, m) = ask(&mut r, &q);
    assert!(m.truncated(), "UDP: capped");
    let mut out = vec![0u8; 65_535];
    let n = r.respond_tcp(&q, &mut out).unwrap();
    let m = Message::from_vec(&out[..n]).unwrap();
    assert!(!m.truncated());
    assert_eq!(a_addrs(&m).len(), 200);
    assert!(n > 3 * q.len() && n > 1232);
}

#[test]
fn tcp_answer_over_65535_bytes_truncated() {
    let mut r = big_responder(4200);
    let q = query("many.xskd.test.", RecordType::A);
    let mut out = vec![0u8; 70_000];
    let n = r.respond_tcp(&q, &mut out).unwrap();
    assert!(n <= 65_535);
    let m = Message::from_vec(&out[..n]).unwrap();
    assert!(m.truncated());
    assert!(a_addrs(&m).len() > 4000);
}

#[test]
fn tcp_response_message_still_ignored() {
    let mut r = responder();
    let mut q = query("www.xskd.test.", RecordType::A);
    q[2] |= 0x80;
    assert_eq!(r.respond_tcp(&q, &mut [0u8; 512]), None);
}

#[test]
fn counters_label_every_rcode_and_drop_reason() {
    let mut r = responder();
    ask(&mut r, &query("www.xskd.test.", RecordType::A));
    ask(&mut r, &query("no.xskd.test.", RecordType::A));
    ask(&mut r, &query("example.com.", RecordType::A));
    let rcodes: Vec<_> = r.counters().responses_by_rcode().collect();
    assert_eq!(
        rcodes,
        vec![
            ("NOERROR", 1),
            ("FORMERR", 0),
            ("SERVFAIL", 0),
            ("NXDOMAIN", 1),
            ("NOTIMP", 0),
            ("REFUSED", 1),
            ("BADVERS", 0),
        ]
    );
    let reasons: Vec<_> = r.counters().dropped_by_reason().map(|(l, _)| l).collect();
    assert_eq!(
        reasons,
        ["too_short", "is_response", "amplification", "no_room"]
    );
    let mut total = DnsCounters::default();
    total.merge(r.counters());
    total.merge(r.counters());
    assert_eq!(total.responses(DnsRcode::NoError), 2);
    assert_eq!(total.queries, 6);
}

#[test]
fn scratch_buffer_never_grows() {
    let mut r = big_responder(4200);
    let cap = r.tx.scratch.capacity();
    for payload in [512u16, 1232, 4096, 65535] {
        let q = with_opt(
            query("many.xskd.test.", RecordType::A),
            payload,
            0,
            true,
            &COOKIE,
        );
        ask_with(&mut r, &ctx(), &q);
        let mut out = vec![0u8; 70_000];
        r.respond_tcp(&q, &mut out).unwrap();
    }
    assert_eq!(r.tx.scratch.capacity(), cap);
}
