//! Answers: A, NODATA, NXDOMAIN, REFUSED, apex, case.

use super::*;

#[test]
fn a_query_configured_name_answers_noerror_authoritative() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("www.xskd.test.", RecordType::A));
    assert_eq!(m.id(), 0xbeef);
    assert_eq!(m.message_type(), MessageType::Response);
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.authoritative());
    assert!(m.recursion_desired(), "RD is copied");
    assert!(!m.recursion_available());
    assert!(!m.truncated());
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 1)]);
    assert_eq!(m.answers()[0].ttl(), 60);
    assert_eq!(m.answers()[0].dns_class(), DNSClass::IN);
    assert!(m.name_servers().is_empty());
    assert!(m.extensions().is_none(), "no OPT without EDNS in the query");
    assert_eq!(r.counters().responses(DnsRcode::NoError), 1);
}

#[test]
fn a_query_name_with_two_addresses_returns_both() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("two.xskd.test.", RecordType::A));
    assert_eq!(
        a_addrs(&m),
        vec![Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 11)]
    );
}

#[test]
fn aaaa_query_existing_name_nodata_with_soa() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("www.xskd.test.", RecordType::AAAA));
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.authoritative());
    assert!(m.answers().is_empty());
    assert!(is_soa_authority(&m));
}

#[test]
fn mx_query_existing_name_nodata_with_soa() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("www.xskd.test.", RecordType::MX));
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.answers().is_empty());
    assert!(is_soa_authority(&m));
}

#[test]
fn a_query_unconfigured_name_in_zone_nxdomain_with_soa() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("nope.xskd.test.", RecordType::A));
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    assert!(m.authoritative());
    assert!(m.answers().is_empty());
    assert!(is_soa_authority(&m));
    assert_eq!(r.counters().responses(DnsRcode::NxDomain), 1);
}

#[test]
fn a_query_below_configured_name_nxdomain() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("x.www.xskd.test.", RecordType::A));
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
}

#[test]
fn a_query_empty_non_terminal_nodata_not_nxdomain() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("b.xskd.test.", RecordType::A));
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.answers().is_empty());
    assert!(is_soa_authority(&m));
    let (_, m) = ask(&mut r, &query("a.b.xskd.test.", RecordType::A));
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 12)]);
}

#[test]
fn a_query_outside_zone_refused_not_authoritative() {
    let mut r = responder();
    for name in ["example.com.", "test.", "evilxskd.test.", "."] {
        let (_, m) = ask(&mut r, &query(name, RecordType::A));
        assert_eq!(m.response_code(), ResponseCode::Refused, "{name}");
        assert!(!m.authoritative(), "{name}");
        assert!(m.answers().is_empty() && m.name_servers().is_empty());
        assert_eq!(m.queries().len(), 1, "question echoed");
    }
    assert_eq!(r.counters().responses(DnsRcode::Refused), 4);
}

#[test]
fn soa_query_apex_answers_soa() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("xskd.test.", RecordType::SOA));
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert_eq!(m.answers().len(), 1);
    assert!(matches!(m.answers()[0].data(), RData::SOA(_)));
    assert!(m.name_servers().is_empty());
}

#[test]
fn a_query_apex_without_record_nodata() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("xskd.test.", RecordType::A));
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.answers().is_empty());
    assert!(is_soa_authority(&m));
}

#[test]
fn any_query_answers_the_a_rrset() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("two.xskd.test.", RecordType::ANY));
    assert_eq!(a_addrs(&m).len(), 2);
}

#[test]
fn chaos_class_query_refused() {
    let mut r = responder();
    let mut msg = query_msg("www.xskd.test.", RecordType::A);
    msg.queries_mut()[0].set_query_class(DNSClass::CH);
    let (_, m) = ask(&mut r, &msg.to_vec().unwrap());
    assert_eq!(m.response_code(), ResponseCode::Refused);
}

#[test]
fn axfr_over_udp_refused() {
    let mut r = responder();
    let (_, m) = ask(&mut r, &query("xskd.test.", RecordType::AXFR));
    assert_eq!(m.response_code(), ResponseCode::Refused);
}

#[test]
fn a_query_mixed_case_preserves_case_in_question_and_answer() {
    let mut r = responder();
    let q = query("WwW.xSkD.TeSt.", RecordType::A);
    let (raw, m) = ask(&mut r, &q);
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 1)]);
    // The question goes back byte for byte ...
    let qlen = q.len() - 12;
    assert_eq!(raw[12..12 + qlen], q[12..]);
    // ... and the answer's owner is a pointer to it.
    assert_eq!(raw[12 + qlen..12 + qlen + 2], [0xc0, 0x0c]);
    assert!(m.answers()[0]
        .name()
        .eq_case(&Name::from_ascii("WwW.xSkD.TeSt.").unwrap()));
}

#[test]
fn record_configured_uppercase_matches_lowercase_query() {
    let mut cfg = example_config();
    cfg.records.push(rec("MAIL", [198, 18, 0, 25]));
    let mut r = DnsResponder::with_cookie_secret(&cfg, SECRET).unwrap();
    let (_, m) = ask(&mut r, &query("mail.xskd.test.", RecordType::A));
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 25)]);
}

#[test]
fn nxdomain_mixed_case_soa_compressed_into_question() {
    let mut r = responder();
    let q = query("NoPe.XsKd.TeSt.", RecordType::A);
    let (raw, m) = ask(&mut r, &q);
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    assert!(is_soa_authority(&m));
    // The SOA owner is a pointer to "XsKd.TeSt." inside the question.
    let after_question = q.len();
    assert_eq!(raw[after_question..after_question + 2], [0xc0, 12 + 5]);
}
