//! Tests for the DNS responder: queries are built as bytes (with hickory or
//! by hand), responses are decoded with hickory and checked field by field.

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use proptest::prelude::*;

use super::*;

const SECRET: [u8; 16] = [7; 16];
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
const NOW: u32 = 1_700_000_000;
const COOKIE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn rec(name: &str, ip: [u8; 4]) -> DnsRecord {
    DnsRecord {
        name: name.to_owned(),
        ipv4: Ipv4Addr::from(ip),
        ttl: 60,
    }
}

/// The example zone plus a multi-address name, a deep name (making
/// `b.xskd.test.` an empty non-terminal) and `many` with `n` addresses.
fn config(many: usize, max_amplification: f64) -> DnsConfig {
    let mut cfg = example_config();
    cfg.max_amplification = max_amplification;
    cfg.records.push(rec("two", [198, 18, 0, 10]));
    cfg.records.push(rec("two", [198, 18, 0, 11]));
    cfg.records.push(rec("a.b", [198, 18, 0, 12]));
    for i in 0..many {
        cfg.records.push(rec("many", [198, 18, 1, i as u8]));
    }
    cfg
}

fn responder() -> DnsResponder {
    DnsResponder::with_cookie_secret(&config(0, 3.0), SECRET).unwrap()
}

fn query_msg(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::new();
    m.set_id(0xbeef)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m
}

fn query(name: &str, qtype: RecordType) -> Vec<u8> {
    query_msg(name, qtype).to_vec().unwrap()
}

/// Append an OPT record by hand and bump ARCOUNT.
fn with_opt(mut q: Vec<u8>, payload: u16, version: u8, dnssec_ok: bool, cookie: &[u8]) -> Vec<u8> {
    q.push(0);
    q.extend_from_slice(&41u16.to_be_bytes());
    q.extend_from_slice(&payload.to_be_bytes());
    q.extend_from_slice(&[0, version, if dnssec_ok { 0x80 } else { 0 }, 0]);
    if cookie.is_empty() {
        q.extend_from_slice(&0u16.to_be_bytes());
    } else {
        q.extend_from_slice(&(4 + cookie.len() as u16).to_be_bytes());
        q.extend_from_slice(&10u16.to_be_bytes());
        q.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
        q.extend_from_slice(cookie);
    }
    let ar = u16::from_be_bytes([q[10], q[11]]) + 1;
    q[10..12].copy_from_slice(&ar.to_be_bytes());
    q
}

fn ask(r: &mut DnsResponder, q: &[u8]) -> (Vec<u8>, Message) {
    let mut out = [0u8; 2048];
    let n = r.respond(q, &mut out).expect("a response");
    let raw = out[..n].to_vec();
    let msg = Message::from_vec(&raw).expect("response decodes");
    (raw, msg)
}

fn ask_with(r: &mut DnsResponder, ctx: &QueryContext, q: &[u8]) -> (Vec<u8>, Message) {
    let mut out = [0u8; 2048];
    let n = r.respond_with(ctx, q, &mut out).expect("a response");
    let raw = out[..n].to_vec();
    let msg = Message::from_vec(&raw).expect("response decodes");
    (raw, msg)
}

fn a_addrs(m: &Message) -> Vec<Ipv4Addr> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

fn is_soa_authority(m: &Message) -> bool {
    m.name_servers().len() == 1
        && matches!(m.name_servers()[0].data(), RData::SOA(soa)
            if soa.mname().to_ascii() == "ns.xskd.test." && soa.minimum() == 60)
        && m.name_servers()[0].name().to_ascii() == "xskd.test."
}

fn server_cookie(m: &Message) -> Option<Vec<u8>> {
    match m.extensions().as_ref()?.option(EdnsCode::Cookie)? {
        EdnsOption::Unknown(10, data) => Some(data.clone()),
        _ => None,
    }
}

fn ctx() -> QueryContext {
    QueryContext {
        client: CLIENT,
        now_unix_secs: NOW,
    }
}

// ---- answers -----------------------------------------------------------

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

// ---- errors -----------------------------------------------------------

#[test]
fn notify_update_status_opcodes_notimp_echo_id_and_opcode() {
    let mut r = responder();
    for op in [
        OpCode::Notify,
        OpCode::Update,
        OpCode::Status,
        OpCode::Unknown(9),
    ] {
        let mut msg = query_msg("www.xskd.test.", RecordType::A);
        msg.set_op_code(op).set_id(0x1111);
        let (raw, m) = ask(&mut r, &msg.to_vec().unwrap());
        assert_eq!(m.response_code(), ResponseCode::NotImp, "{op:?}");
        assert_eq!(m.id(), 0x1111);
        assert_eq!(m.op_code(), op);
        assert_eq!(raw.len(), 12);
    }
    assert_eq!(r.counters().responses(DnsRcode::NotImp), 4);
}

fn assert_formerr(r: &mut DnsResponder, q: &[u8]) {
    let (raw, m) = ask(r, q);
    assert_eq!(m.response_code(), ResponseCode::FormErr, "{q:02x?}");
    assert_eq!(m.id(), u16::from_be_bytes([q[0], q[1]]));
    assert_eq!(raw.len(), 12);
}

#[test]
fn malformed_queries_formerr_echo_id() {
    let mut r = responder();
    let good = query("www.xskd.test.", RecordType::A);

    let mut no_question = good[..12].to_vec();
    no_question[5] = 0;
    assert_formerr(&mut r, &no_question);
    // QDCOUNT 0 with EDNS but no COOKIE.
    assert_formerr(&mut r, &with_opt(no_question.clone(), 1232, 0, false, &[]));

    let mut two_questions = good.clone();
    two_questions[5] = 2;
    two_questions.extend_from_slice(&good[12..]);
    assert_formerr(&mut r, &two_questions);

    let mut answer_count = good.clone();
    answer_count[7] = 1;
    assert_formerr(&mut r, &answer_count);

    let mut authority_count = good.clone();
    authority_count[9] = 1;
    assert_formerr(&mut r, &authority_count);

    assert_formerr(&mut r, &good[..good.len() - 1]); // truncated question
    assert_formerr(&mut r, &good[..14]); // name cut inside a label

    let mut trailing = good.clone();
    trailing.push(0);
    assert_formerr(&mut r, &trailing);

    let mut missing_additional = good.clone();
    missing_additional[11] = 1;
    assert_formerr(&mut r, &missing_additional);

    let mut bad_label = good.clone();
    bad_label[12] = 0x80; // reserved label type
    assert_formerr(&mut r, &bad_label);

    assert_formerr(&mut r, &query("www.xskd.test.", RecordType::OPT));

    assert_eq!(r.counters().responses(DnsRcode::FormErr), 11);
}

#[test]
fn two_opt_records_formerr() {
    let mut r = responder();
    let q = with_opt(query("www.xskd.test.", RecordType::A), 1232, 0, false, &[]);
    let q = with_opt(q, 1232, 0, false, &[]);
    assert_formerr(&mut r, &q);
}

#[test]
fn opt_with_non_root_owner_formerr() {
    let mut r = responder();
    let mut q = query("www.xskd.test.", RecordType::A);
    q.extend_from_slice(&[1, b'x', 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    q[11] = 1;
    assert_formerr(&mut r, &q);
}

#[test]
fn opt_option_overrunning_rdata_formerr() {
    let mut r = responder();
    let mut q = with_opt(query("www.xskd.test.", RecordType::A), 1232, 0, false, &[]);
    let len = q.len();
    q[len - 2..].copy_from_slice(&4u16.to_be_bytes()); // RDLEN 4
    q.extend_from_slice(&[0, 10, 0, 8]); // COOKIE of 8 bytes, none present
    assert_formerr(&mut r, &q);
}

#[test]
fn cookie_option_bad_lengths_formerr() {
    let mut r = responder();
    for len in [0usize, 7, 9, 15, 41] {
        let cookie = vec![0xab; len];
        let mut q = with_opt(query("www.xskd.test.", RecordType::A), 1232, 0, false, &[]);
        // Rewrite the OPT RDATA with a COOKIE option of `len` bytes.
        let rdlen_at = q.len() - 2;
        q.truncate(rdlen_at);
        q.extend_from_slice(&(4 + len as u16).to_be_bytes());
        q.extend_from_slice(&10u16.to_be_bytes());
        q.extend_from_slice(&(len as u16).to_be_bytes());
        q.extend_from_slice(&cookie);
        assert_formerr(&mut r, &q);
    }
}

#[test]
fn datagram_shorter_than_header_dropped_and_counted() {
    let mut r = responder();
    let mut out = [0u8; 512];
    for len in 0..12 {
        assert_eq!(r.respond(&vec![0u8; len], &mut out), None);
    }
    assert_eq!(r.counters().dropped(DnsDropReason::TooShort), 12);
    assert_eq!(r.counters().queries, 12);
}

#[test]
fn response_datagram_ignored_even_our_own() {
    let mut r = responder();
    let (raw, _) = ask(&mut r, &query("www.xskd.test.", RecordType::A));
    let mut out = [0u8; 512];
    assert_eq!(r.respond(&raw, &mut out), None);
    let mut qr_only = query("www.xskd.test.", RecordType::A);
    qr_only[2] |= 0x80;
    assert_eq!(r.respond(&qr_only, &mut out), None);
    assert_eq!(r.counters().dropped(DnsDropReason::IsResponse), 2);
}

// ---- sizes ------------------------------------------------------------

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

// ---- amplification and cookies ----------------------------------------

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

// ---- a real client's bytes --------------------------------------------

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

// ---- counters, allocation ------------------------------------------------

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

// ---- TCP ---------------------------------------------------------------------

fn big_responder(n: usize) -> DnsResponder {
    let mut cfg = example_config();
    cfg.max_amplification = 3.0;
    for i in 0..n {
        cfg.records
            .push(rec("many", [198, 19, (i / 256) as u8, (i % 256) as u8]));
    }
    DnsResponder::with_cookie_secret(&cfg, SECRET).unwrap()
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

// ---- config --------------------------------------------------------------

fn build(cfg: &DnsConfig) -> Result<DnsResponder, DnsConfigError> {
    DnsResponder::with_cookie_secret(cfg, SECRET)
}

#[test]
fn config_example_builds_with_defaults() {
    let r = DnsResponder::new(&example_config()).unwrap();
    assert_eq!(r.port(), 53);
    // apex, www
    assert_eq!(r.zone.node_count(), 2);
}

#[test]
fn config_names_absolute_relative_and_apex_accepted() {
    let mut cfg = example_config();
    cfg.zone = "XSKD.test".to_owned(); // no trailing dot, mixed case
    cfg.records = vec![
        rec("api.xskd.test.", [198, 18, 0, 3]),
        rec("@", [198, 18, 0, 4]),
    ];
    let mut r = build(&cfg).unwrap();
    let (_, m) = ask(&mut r, &query("api.xskd.test.", RecordType::A));
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 3)]);
    let (_, m) = ask(&mut r, &query("xskd.test.", RecordType::A));
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 4)]);
}

#[test]
fn config_bad_values_rejected_with_key_and_fix() {
    let base = example_config();
    let with = |f: &dyn Fn(&mut DnsConfig)| {
        let mut c = base.clone();
        f(&mut c);
        build(&c).unwrap_err()
    };
    let e = with(&|c| c.zone = ".".into());
    assert!(matches!(e, DnsConfigError::BadZone { .. }), "{e}");
    assert!(e.to_string().contains("dns.zone"));
    let e = with(&|c| c.zone = "bad..zone".into());
    assert!(matches!(e, DnsConfigError::BadZone { .. }), "{e}");
    let e = with(&|c| c.records.push(rec("www.example.com.", [1, 2, 3, 4])));
    assert!(
        matches!(e, DnsConfigError::OutsideZone { index: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("dns.records[1].name"));
    let e = with(&|c| c.records.push(rec("api.xskd.test", [1, 2, 3, 4])));
    assert!(
        matches!(e, DnsConfigError::MissingTrailingDot { .. }),
        "{e}"
    );
    let e = with(&|c| c.records.push(rec("www", [198, 18, 0, 1])));
    assert!(
        matches!(e, DnsConfigError::DuplicateRecord { index: 1, .. }),
        "{e}"
    );
    let e = with(&|c| {
        c.records.push(DnsRecord {
            ttl: 300,
            ..rec("www", [198, 18, 0, 2])
        })
    });
    assert!(
        matches!(
            e,
            DnsConfigError::TtlMismatch {
                index: 1,
                first_index: 0,
                ..
            }
        ),
        "{e}"
    );
    let e = with(&|c| c.records[0].ttl = u32::MAX);
    assert!(matches!(e, DnsConfigError::TtlTooLarge { .. }), "{e}");
    let e = with(&|c| c.records.push(rec("*", [1, 2, 3, 4])));
    assert!(matches!(e, DnsConfigError::BadRecordName { .. }), "{e}");
    let e = with(&|c| c.records.push(rec("", [1, 2, 3, 4])));
    assert!(matches!(e, DnsConfigError::BadRecordName { .. }), "{e}");
    let long = ["a"; 130].join(".");
    let e = with(&|c| c.records.push(rec(&long, [1, 2, 3, 4])));
    assert!(matches!(e, DnsConfigError::BadRecordName { .. }), "{e}");
    for value in [0.5, f64::NAN, f64::INFINITY] {
        let e = with(&|c| c.max_amplification = value);
        assert!(matches!(e, DnsConfigError::BadAmplification { .. }), "{e}");
    }
    let e = with(&|c| c.port = 0);
    assert_eq!(e, DnsConfigError::BadPort);
}

#[test]
fn config_toml_defaults_and_unknown_keys() {
    let cfg: DnsConfig = toml::from_str(
        r#"
        zone = "xskd.test."
        records = [{ name = "www", ipv4 = "198.18.0.1" }]
        "#,
    )
    .unwrap();
    assert_eq!(cfg.records[0].ttl, 60);
    assert_eq!(cfg.max_amplification, 3.0);
    assert_eq!(cfg.port, 53);
    let err = toml::from_str::<DnsConfig>("zone = \"x.\"\nzonee = 1\n").unwrap_err();
    assert!(err.to_string().contains("zonee"), "{err}");
    let err = toml::from_str::<DnsConfig>(
        "zone = \"x.\"\nrecords = [{ name = \"a\", ipv4 = \"1.2.3.4\", tll = 5 }]\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("tll"), "{err}");
}

// ---- properties -------------------------------------------------------------

fn check_invariants(r: &mut DnsResponder, q: &[u8], out_len: usize, with_ctx: bool) {
    let mut out = vec![0u8; out_len];
    let n = if with_ctx {
        r.respond_with(&ctx(), q, &mut out)
    } else {
        r.respond(q, &mut out)
    };
    if let Some(n) = n {
        assert!(n <= out_len);
        assert!(n <= 1232);
        assert!(n >= 12);
        assert!(q.len() >= 12);
        assert_eq!(out[..2], q[..2], "ID echoed");
        assert_eq!(out[2] & 0x80, 0x80, "QR set");
        assert_eq!(q[2] & 0x80, 0, "never answer a response");
        if !with_ctx {
            assert!(
                n as f64 <= 3.0 * q.len() as f64,
                "amplified {n} > 3 * {}",
                q.len()
            );
        }
        Message::from_vec(&out[..n]).expect("every response decodes");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic_or_amplify(
        q in proptest::collection::vec(any::<u8>(), 0..600),
        out_len in 0usize..1500,
        with_ctx in any::<bool>(),
    ) {
        let mut r = DnsResponder::with_cookie_secret(&config(20, 3.0), SECRET).unwrap();
        check_invariants(&mut r, &q, out_len, with_ctx);
    }

    #[test]
    fn mutated_queries_never_panic_or_amplify(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<usize>(),
        name in prop::sample::select(vec!["www.xskd.test.", "many.xskd.test.", "x.xskd.test.", "example.org."]),
        with_ctx in any::<bool>(),
    ) {
        let mut r = DnsResponder::with_cookie_secret(&config(20, 3.0), SECRET).unwrap();
        let mut q = with_opt(query(name, RecordType::A), 1232, 0, false, &COOKIE);
        for (at, b) in flips {
            let i = at % q.len();
            q[i] = b;
        }
        q.truncate(12 + cut % q.len());
        check_invariants(&mut r, &q, 1500, with_ctx);
    }
}
