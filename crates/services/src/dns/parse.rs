//! Reading one query datagram with hickory's decoder. Only the question is
//! materialised as hickory types; the additional section is walked in place
//! (OPT and its options are read as slices, other records are skipped), so a
//! query costs no heap allocation unless its name is longer than hickory's
//! inline buffer (32 bytes of label data).

use hickory_proto::op::{Header, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// Bytes in the fixed header.
pub(crate) const HEADER_LEN: usize = 12;

/// Largest UDP payload we agree to, whatever the client advertises: the
/// DNS Flag Day 2020 value, which fits a 1280-byte IPv6 minimum MTU with
/// headers and so avoids IP fragmentation (see RFC 9715).
pub(crate) const MAX_EDNS_PAYLOAD: u16 = 1232;

/// Payload size for a query without EDNS.
//= https://www.rfc-editor.org/rfc/rfc1035#section-4.2.1
//# Messages carried by UDP are restricted to 512 bytes (not counting the IP
//# or UDP headers).
pub(crate) const CLASSIC_PAYLOAD: u16 = 512;

const OPTION_COOKIE: u16 = 10;
pub(crate) const CLIENT_COOKIE_LEN: usize = 8;
const SERVER_COOKIE_MIN: usize = 8;
pub(crate) const SERVER_COOKIE_MAX: usize = 32;

/// The header fields a response echoes, available whenever 12 bytes are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Echo {
    pub(crate) id: u16,
    pub(crate) op_code: OpCode,
    pub(crate) recursion_desired: bool,
    pub(crate) checking_disabled: bool,
}

/// What the client's OPT record said.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EdnsQuery {
    pub(crate) payload: u16,
    pub(crate) version: u8,
    pub(crate) dnssec_ok: bool,
    pub(crate) cookie: Option<Cookie>,
}

/// A well-formed COOKIE option from the query.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cookie {
    pub(crate) client: [u8; CLIENT_COOKIE_LEN],
    server: [u8; SERVER_COOKIE_MAX],
    server_len: u8,
}

impl Cookie {
    pub(crate) fn server(&self) -> &[u8] {
        self.server
            .get(..usize::from(self.server_len))
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub(crate) struct ParsedQuery {
    pub(crate) echo: Echo,
    /// `None` only for a server-cookie query (QDCOUNT 0 with a COOKIE).
    pub(crate) question: Option<Query>,
    pub(crate) edns: Option<EdnsQuery>,
}

/// Why a datagram gets no ordinary answer.
#[derive(Debug)]
pub(crate) enum Reject {
    /// Shorter than a header: nothing to echo, nothing to send.
    TooShort,
    /// QR=1: never answer a response (that is how reflection loops start).
    IsResponse,
    /// Opcode other than QUERY.
    NotImp(Echo),
    /// Malformed after a readable header.
    FormErr(Echo),
}

pub(crate) fn parse(datagram: &[u8]) -> Result<ParsedQuery, Reject> {
    if datagram.len() < HEADER_LEN {
        return Err(Reject::TooShort);
    }
    let mut dec = BinDecoder::new(datagram);
    let header = Header::read(&mut dec).map_err(|_| Reject::TooShort)?;
    if header.message_type() == MessageType::Response {
        return Err(Reject::IsResponse);
    }
    let echo = Echo {
        id: header.id(),
        op_code: header.op_code(),
        recursion_desired: header.recursion_desired(),
        checking_disabled: header.checking_disabled(),
    };
    //= https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1
    //# 4               Not Implemented - The name server does
    //#                 not support the requested kind of query.
    if echo.op_code != OpCode::Query {
        return Err(Reject::NotImp(echo));
    }
    let formerr = |_| Reject::FormErr(echo);

    // RFC 9619 (updates RFC 1035 section 4.1.2): a QUERY carries exactly
    // one question, and a responder answers other counts with FORMERR; the
    // one exception is QDCOUNT 0 to fetch a server cookie (checked below).
    // A query also has nothing in the answer or authority sections;
    // anything else is not a query we can interpret.
    if header.query_count() > 1 || header.answer_count() != 0 || header.name_server_count() != 0 {
        return Err(Reject::FormErr(echo));
    }
    let question = if header.query_count() == 1 {
        let question = Query::read(&mut dec).map_err(formerr)?;
        if question.query_type() == RecordType::OPT {
            // OPT is a pseudo-RR, never a question.
            return Err(Reject::FormErr(echo));
        }
        Some(question)
    } else {
        None
    };

    let mut edns = None;
    for _ in 0..header.additional_count() {
        if let Some(found) = read_additional(&mut dec).map_err(|()| Reject::FormErr(echo))? {
            //= https://www.rfc-editor.org/rfc/rfc6891#section-6.1.1
            //# If a query message with more than one
            //# OPT RR is received, a FORMERR (RCODE=1) MUST be returned.
            if edns.is_some() {
                return Err(Reject::FormErr(echo));
            }
            edns = Some(found);
        }
    }
    // Bytes past the last counted record mean the counts are wrong.
    if !dec.is_empty() {
        return Err(Reject::FormErr(echo));
    }
    //= https://www.rfc-editor.org/rfc/rfc7873#section-5.4
    //# For servers with DNS Cookies enabled, the QUERY opcode behavior is
    //# extended to support queries with an empty Question Section (a QDCOUNT
    //# of zero (0)), provided that an OPT record is present with a COOKIE
    //# option.
    if question.is_none() && edns.as_ref().is_none_or(|e| e.cookie.is_none()) {
        return Err(Reject::FormErr(echo));
    }
    Ok(ParsedQuery {
        echo,
        question,
        edns,
    })
}

/// Read one additional record; `Some` for OPT, `None` for anything else
/// (skipped: we neither verify TSIG nor need other data).
fn read_additional(dec: &mut BinDecoder<'_>) -> Result<Option<EdnsQuery>, ()> {
    let name = Name::read(dec).map_err(drop)?;
    let rtype = RecordType::from(dec.read_u16().map_err(drop)?.unverified());
    let class = dec.read_u16().map_err(drop)?.unverified();
    let ttl = dec.read_u32().map_err(drop)?.unverified();
    let rdlen = dec.read_u16().map_err(drop)?.unverified();
    let rdata = dec
        .read_slice(usize::from(rdlen))
        .map_err(drop)?
        .unverified();
    if rtype != RecordType::OPT {
        return Ok(None);
    }
    //= https://www.rfc-editor.org/rfc/rfc6891#section-6.1.2
    //# NAME         domain name  MUST be 0 (root domain)
    if !name.is_root() {
        return Err(());
    }
    //= https://www.rfc-editor.org/rfc/rfc6891#section-6.2.5
    //# Values lower than 512 MUST be treated as equal to 512.
    let payload = class.max(CLASSIC_PAYLOAD);
    let version = ttl.to_be_bytes()[1];
    let dnssec_ok = ttl & 0x0000_8000 != 0;
    let cookie = read_options(rdata)?;
    Ok(Some(EdnsQuery {
        payload,
        version,
        dnssec_ok,
        cookie,
    }))
}

/// Walk `{code, length, data}` options; a length running past the RDATA is
/// malformed. Returns the COOKIE option if there is one.
fn read_options(rdata: &[u8]) -> Result<Option<Cookie>, ()> {
    let mut dec = BinDecoder::new(rdata);
    let mut cookie = None;
    while !dec.is_empty() {
        let code = dec.read_u16().map_err(drop)?.unverified();
        let len = dec.read_u16().map_err(drop)?.unverified();
        let data = dec.read_slice(usize::from(len)).map_err(drop)?.unverified();
        if code != OPTION_COOKIE {
            continue;
        }
        if cookie.is_some() {
            return Err(());
        }
        cookie = Some(read_cookie(data)?);
    }
    Ok(cookie)
}

//= https://www.rfc-editor.org/rfc/rfc7873#section-5.2.2
//# If the COOKIE option is too short to contain a Client Cookie, then
//# FORMERR is generated.  If the COOKIE option is longer than that
//# required to hold a COOKIE option with just a Client Cookie (8 bytes)
//# but is shorter than the minimum COOKIE option with both a Client
//# Cookie and a Server Cookie (16 bytes), then FORMERR is generated.  If
//# the COOKIE option is longer than the maximum valid COOKIE option (40
//# bytes), then FORMERR is generated.
fn read_cookie(data: &[u8]) -> Result<Cookie, ()> {
    let (client, server) = data.split_at_checked(CLIENT_COOKIE_LEN).ok_or(())?;
    if !server.is_empty() && !(SERVER_COOKIE_MIN..=SERVER_COOKIE_MAX).contains(&server.len()) {
        return Err(());
    }
    let mut cookie = Cookie {
        client: client.try_into().map_err(drop)?,
        server: [0; SERVER_COOKIE_MAX],
        server_len: u8::try_from(server.len()).map_err(drop)?,
    };
    cookie
        .server
        .get_mut(..server.len())
        .ok_or(())?
        .copy_from_slice(server);
    Ok(cookie)
}
