//! Writing one response with hickory's `BinEncoder`, under a size limit.
//! Records are emitted one at a time; the first one that does not fit is
//! rolled back and the response is marked truncated, so the answer section is
//! cut at a record boundary and the OPT record (space reserved up front)
//! always makes it in.
//!
//! Names are compressed by hand rather than through hickory's `Name`
//! encoder, whose compression table allocates per label: every name in a
//! response is the question name, the apex (a suffix of it), or one label
//! in front of the apex, so two fixed pointers cover them all and encoding
//! allocates nothing. The question is written back label by label from the
//! parsed name, so the client's spelling survives byte for byte (DNS 0x20).

use std::net::Ipv4Addr;

use hickory_proto::op::{Header, MessageType, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_proto::{ProtoError, ProtoErrorKind};

use super::cookie::SERVER_COOKIE_LEN;
use super::parse::{Echo, CLIENT_COOKIE_LEN, MAX_EDNS_PAYLOAD};
use super::zone::{
    Zone, SOA_EXPIRE, SOA_MINIMUM, SOA_MNAME_LABEL, SOA_REFRESH, SOA_RETRY, SOA_RNAME_LABEL,
    SOA_SERIAL,
};

/// Where the question name starts: right after the header.
const QNAME_AT: usize = 12;

//= https://www.rfc-editor.org/rfc/rfc1035#section-4.1.4
//# The first two bits are ones.  This allows a pointer to be distinguished
//# from a label, since the label must begin with two zero bits because
//# labels are restricted to 63 octets or less.
const POINTER: u16 = 0xC000;

/// What goes in the answer section.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Answer<'z> {
    None,
    A {
        addrs: &'z [Ipv4Addr],
        ttl: u32,
    },
    /// The zone's SOA, owned by the query name (an apex SOA query).
    Soa,
}

/// The OPT record we send back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OptOut {
    pub(crate) dnssec_ok: bool,
    /// Upper 8 bits of a 12-bit extended RCODE (BADVERS).
    pub(crate) rcode_high: u8,
    pub(crate) cookie: Option<([u8; CLIENT_COOKIE_LEN], [u8; SERVER_COOKIE_LEN])>,
}

const OPT_FIXED_LEN: usize = 11;
const OPTION_HEADER_LEN: usize = 4;
const OPTION_COOKIE: u16 = 10;

impl OptOut {
    fn wire_len(&self) -> usize {
        OPT_FIXED_LEN
            + self.cookie.map_or(0, |_| {
                OPTION_HEADER_LEN + CLIENT_COOKIE_LEN + SERVER_COOKIE_LEN
            })
    }

    //= https://www.rfc-editor.org/rfc/rfc6891#section-6.1.2
    //# +------------+--------------+------------------------------+
    //# | Field Name | Field Type   | Description                  |
    //# +------------+--------------+------------------------------+
    //# | NAME       | domain name  | MUST be 0 (root domain)      |
    //# | TYPE       | u_int16_t    | OPT (41)                     |
    //# | CLASS      | u_int16_t    | requestor's UDP payload size |
    //# | TTL        | u_int32_t    | extended RCODE and flags     |
    //# | RDLEN      | u_int16_t    | length of all RDATA          |
    //# | RDATA      | octet stream | {attribute,value} pairs      |
    //# +------------+--------------+------------------------------+
    fn emit(&self, enc: &mut BinEncoder<'_>) -> Result<(), ProtoError> {
        enc.emit(0)?;
        enc.emit_u16(u16::from(RecordType::OPT))?;
        enc.emit_u16(MAX_EDNS_PAYLOAD)?;
        // Version 0: the only one we speak.
        let mut ttl = u32::from(self.rcode_high) << 24;
        //= https://www.rfc-editor.org/rfc/rfc3225#section-3
        //# The DO bit of the query MUST be copied in the response.
        if self.dnssec_ok {
            ttl |= 0x0000_8000;
        }
        enc.emit_u32(ttl)?;
        match &self.cookie {
            None => enc.emit_u16(0)?,
            Some((client, server)) => {
                let len = CLIENT_COOKIE_LEN + SERVER_COOKIE_LEN;
                enc.emit_u16((OPTION_HEADER_LEN + len) as u16)?;
                enc.emit_u16(OPTION_COOKIE)?;
                enc.emit_u16(len as u16)?;
                enc.emit_vec(client)?;
                enc.emit_vec(server)?;
            }
        }
        Ok(())
    }
}

/// Everything that decides one response's bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan<'a> {
    pub(crate) echo: Echo,
    pub(crate) rcode: ResponseCode,
    pub(crate) authoritative: bool,
    pub(crate) question: Option<&'a Query>,
    pub(crate) answer: Answer<'a>,
    pub(crate) authority_soa: bool,
    pub(crate) opt: Option<OptOut>,
    /// Send header, question and OPT only, with TC set.
    pub(crate) minimal: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Encoded {
    pub(crate) len: usize,
    pub(crate) truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum EncodeError {
    /// Not even header, question and OPT fit the limit.
    #[error("no room for header, question and OPT")]
    NoRoom,
    /// hickory refused to encode something we built (a bug: SERVFAIL).
    #[error("hickory could not encode the response: {0}")]
    Proto(ProtoError),
    /// The plan contradicts itself (a bug: SERVFAIL).
    #[error("inconsistent response plan: {0}")]
    Bug(&'static str),
}

fn classify(e: ProtoError) -> EncodeError {
    match e.kind() {
        ProtoErrorKind::MaxBufferSizeExceeded(_) => EncodeError::NoRoom,
        _ => EncodeError::Proto(e),
    }
}

/// Encode `plan` into `buf` (cleared first) in at most `limit` bytes.
pub(crate) fn encode(
    buf: &mut Vec<u8>,
    limit: usize,
    plan: &Plan<'_>,
    zone: &Zone,
) -> Result<Encoded, EncodeError> {
    buf.clear();
    let limit = u16::try_from(limit).unwrap_or(u16::MAX);
    let opt_len = plan.opt.as_ref().map_or(0, OptOut::wire_len);
    let body_limit = usize::from(limit)
        .checked_sub(opt_len)
        .ok_or(EncodeError::NoRoom)?;
    let mut enc = BinEncoder::new(buf);
    enc.set_max_size(u16::try_from(body_limit).unwrap_or(u16::MAX));

    let mut header = Header::new();
    header
        .set_id(plan.echo.id)
        .set_message_type(MessageType::Response)
        .set_op_code(plan.echo.op_code)
        .set_authoritative(plan.authoritative)
        //= https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1
        //# RD              Recursion Desired - this bit may be set in a query and
        //#                 is copied into the response.
        .set_recursion_desired(plan.echo.recursion_desired)
        .set_checking_disabled(plan.echo.checking_disabled)
        .set_response_code(plan.rcode);
    header.emit(&mut enc).map_err(classify)?;

    let mut truncated = plan.minimal;
    let (mut an, mut ns) = (0u16, 0u16);
    // Offset of the zone apex inside the question name, for pointers.
    let mut apex_at = None;
    if let Some(q) = plan.question {
        let name_len = emit_question(&mut enc, q).map_err(classify)?;
        header.set_query_count(1);
        apex_at = name_len
            .checked_sub(zone.apex_len())
            .and_then(|skip| u16::try_from(QNAME_AT + skip).ok());
    }
    if !truncated {
        match plan.answer {
            Answer::None => {}
            Answer::A { addrs, ttl } => {
                for addr in addrs {
                    if !emit_or_rollback(&mut enc, |e| emit_a(e, ttl, *addr))? {
                        truncated = true;
                        break;
                    }
                    an += 1;
                }
            }
            Answer::Soa => {
                let apex = apex_at.ok_or(EncodeError::Bug("SOA answer outside the zone"))?;
                // Only asked at the apex, so the owner is the question name.
                if emit_or_rollback(&mut enc, |e| emit_soa(e, QNAME_AT as u16, apex))? {
                    an += 1;
                } else {
                    truncated = true;
                }
            }
        }
    }
    //= https://www.rfc-editor.org/rfc/rfc2308#section-3
    //# Name servers authoritative for a zone MUST include the SOA record of
    //# the zone in the authority section of the response when reporting an
    //# NXDOMAIN or indicating that no data of the requested type exists.
    if plan.authority_soa && !truncated {
        let apex = apex_at.ok_or(EncodeError::Bug("negative answer outside the zone"))?;
        if emit_or_rollback(&mut enc, |e| emit_soa(e, apex, apex))? {
            ns += 1;
        } else {
            truncated = true;
        }
    }
    enc.set_max_size(limit);
    let mut ar = 0u16;
    if let Some(opt) = &plan.opt {
        //= https://www.rfc-editor.org/rfc/rfc6891#section-7
        //# The minimal response MUST be the DNS header, question section, and an
        //# OPT record.
        opt.emit(&mut enc).map_err(classify)?;
        ar = 1;
    }

    let len = enc.offset();
    header
        .set_truncated(truncated)
        .set_answer_count(an)
        .set_name_server_count(ns)
        .set_additional_count(ar);
    enc.set_offset(0);
    header.emit(&mut enc).map_err(classify)?;
    enc.set_offset(len);
    Ok(Encoded { len, truncated })
}

/// Run `emit`; `Ok(false)` (and nothing written) if it would pass the limit.
fn emit_or_rollback(
    enc: &mut BinEncoder<'_>,
    emit: impl FnOnce(&mut BinEncoder<'_>) -> Result<(), ProtoError>,
) -> Result<bool, EncodeError> {
    let mark = enc.offset();
    match emit(enc) {
        Ok(()) => Ok(true),
        Err(e) => match classify(e) {
            EncodeError::NoRoom => {
                enc.set_offset(mark);
                enc.trim();
                Ok(false)
            }
            other => Err(other),
        },
    }
}

/// The question as the client spelled it; returns the name's wire length.
fn emit_question(enc: &mut BinEncoder<'_>, q: &Query) -> Result<usize, ProtoError> {
    let start = enc.offset();
    for label in q.name().iter() {
        enc.emit_character_data(label)?;
    }
    enc.emit(0)?;
    let name_len = enc.offset() - start;
    enc.emit_u16(u16::from(q.query_type()))?;
    enc.emit_u16(u16::from(q.query_class()))?;
    Ok(name_len)
}

/// TYPE, CLASS, TTL and RDLENGTH of a record, after its owner name.
fn emit_rr_fixed(
    enc: &mut BinEncoder<'_>,
    rtype: RecordType,
    ttl: u32,
    rdlen: u16,
) -> Result<(), ProtoError> {
    enc.emit_u16(u16::from(rtype))?;
    enc.emit_u16(u16::from(DNSClass::IN))?;
    enc.emit_u32(ttl)?;
    enc.emit_u16(rdlen)
}

/// An A record owned by the question name.
fn emit_a(enc: &mut BinEncoder<'_>, ttl: u32, addr: Ipv4Addr) -> Result<(), ProtoError> {
    enc.emit_u16(POINTER | QNAME_AT as u16)?;
    emit_rr_fixed(enc, RecordType::A, ttl, 4)?;
    enc.emit_vec(&addr.octets())
}

/// The zone's SOA, owned by the name at `owner`, with MNAME and RNAME one
/// label in front of the apex at `apex`.
fn emit_soa(enc: &mut BinEncoder<'_>, owner: u16, apex: u16) -> Result<(), ProtoError> {
    const RDLEN: usize = (1 + SOA_MNAME_LABEL.len() + 2) + (1 + SOA_RNAME_LABEL.len() + 2) + 5 * 4;
    enc.emit_u16(POINTER | owner)?;
    emit_rr_fixed(enc, RecordType::SOA, SOA_MINIMUM, RDLEN as u16)?;
    enc.emit_character_data(SOA_MNAME_LABEL)?;
    enc.emit_u16(POINTER | apex)?;
    enc.emit_character_data(SOA_RNAME_LABEL)?;
    enc.emit_u16(POINTER | apex)?;
    enc.emit_u32(SOA_SERIAL)?;
    enc.emit_i32(SOA_REFRESH)?;
    enc.emit_i32(SOA_RETRY)?;
    enc.emit_i32(SOA_EXPIRE)?;
    enc.emit_u32(SOA_MINIMUM)
}
