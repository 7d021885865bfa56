//! Tests for the DNS responder: queries are built as bytes (with hickory or
//! by hand), responses are decoded with hickory and checked field by field.
//! Helpers live here; the tests are grouped by topic in the submodules.

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use proptest::prelude::*;

use super::*;

mod answers;
mod config;
mod cookies;
mod errors;
mod limits;
mod props;

pub(super) const SECRET: [u8; 16] = [7; 16];
pub(super) const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
pub(super) const NOW: u32 = 1_700_000_000;
pub(super) const COOKIE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

pub(super) fn rec(name: &str, ip: [u8; 4]) -> DnsRecord {
    DnsRecord {
        name: name.to_owned(),
        ipv4: Ipv4Addr::from(ip),
        ttl: 60,
    }
}

/// The example zone plus a multi-address name, a deep name (making
/// `b.xskd.test.` an empty non-terminal) and `many` with `n` addresses.
pub(super) fn config(many: usize, max_amplification: f64) -> DnsConfig {
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

pub(super) fn responder() -> DnsResponder {
    DnsResponder::with_cookie_secret(&config(0, 3.0), SECRET).unwrap()
}

pub(super) fn query_msg(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::new();
    m.set_id(0xbeef)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m
}

pub(super) fn query(name: &str, qtype: RecordType) -> Vec<u8> {
    query_msg(name, qtype).to_vec().unwrap()
}

/// Append an OPT record by hand and bump ARCOUNT.
pub(super) fn with_opt(
    mut q: Vec<u8>,
    payload: u16,
    version: u8,
    dnssec_ok: bool,
    cookie: &[u8],
) -> Vec<u8> {
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

pub(super) fn ask(r: &mut DnsResponder, q: &[u8]) -> (Vec<u8>, Message) {
    let mut out = [0u8; 2048];
    let n = r.respond(q, &mut out).expect("a response");
    let raw = out[..n].to_vec();
    let msg = Message::from_vec(&raw).expect("response decodes");
    (raw, msg)
}

pub(super) fn ask_with(r: &mut DnsResponder, ctx: &QueryContext, q: &[u8]) -> (Vec<u8>, Message) {
    let mut out = [0u8; 2048];
    let n = r.respond_with(ctx, q, &mut out).expect("a response");
    let raw = out[..n].to_vec();
    let msg = Message::from_vec(&raw).expect("response decodes");
    (raw, msg)
}

pub(super) fn a_addrs(m: &Message) -> Vec<Ipv4Addr> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// Exactly the synthesised SOA of xskd.test. in the authority section
/// (names compared case-insensitively: they point into the question).
pub(super) fn is_soa_authority(m: &Message) -> bool {
    let name = |s: &str| Name::from_ascii(s).unwrap();
    m.name_servers().len() == 1
        && m.name_servers()[0].name() == &name("xskd.test.")
        && m.name_servers()[0].ttl() == 60
        && matches!(m.name_servers()[0].data(), RData::SOA(soa)
            if soa.mname() == &name("ns.xskd.test.")
                && soa.rname() == &name("hostmaster.xskd.test.")
                && (soa.serial(), soa.refresh(), soa.retry(), soa.expire(), soa.minimum())
                    == (1, 3600, 600, 86400, 60))
}

pub(super) fn server_cookie(m: &Message) -> Option<Vec<u8>> {
    match m.extensions().as_ref()?.option(EdnsCode::Cookie)? {
        EdnsOption::Unknown(10, data) => Some(data.clone()),
        _ => None,
    }
}

pub(super) fn ctx() -> QueryContext {
    QueryContext {
        client: CLIENT,
        now_unix_secs: NOW,
    }
}

pub(super) fn assert_formerr(r: &mut DnsResponder, q: &[u8]) {
    let (raw, m) = ask(r, q);
    assert_eq!(m.response_code(), ResponseCode::FormErr, "{q:02x?}");
    assert_eq!(m.id(), u16::from_be_bytes([q[0], q[1]]));
    assert_eq!(raw.len(), 12);
}

pub(super) fn big_responder(n: usize) -> DnsResponder {
    let mut cfg = example_config();
    cfg.max_amplification = 3.0;
    for i in 0..n {
        cfg.records
            .push(rec("many", [198, 19, (i / 256) as u8, (i % 256) as u8]));
    }
    DnsResponder::with_cookie_secret(&cfg, SECRET).unwrap()
}
