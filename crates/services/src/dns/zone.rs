//! The zone as the responder sees it: built once from [`DnsConfig`] at
//! startup, read-only afterwards. Names are keyed by their lowercased wire
//! form so a query is looked up without building a hickory `Name` key or
//! allocating.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use hickory_proto::rr::Name;

use super::{DnsConfig, DnsConfigError};

/// Longest name on the wire, root label included.
//= https://www.rfc-editor.org/rfc/rfc1035#section-2.3.4
//# names           255 octets or less
pub(crate) const MAX_WIRE_NAME: usize = 255;

/// RFC 2181 section 8: a TTL is an unsigned number with the top bit clear.
//= https://www.rfc-editor.org/rfc/rfc2181#section-8
//# a TTL value is an unsigned number, with a minimum value of 0, and a
//# maximum value of 2147483647.
const MAX_TTL: u32 = 2_147_483_647;

// The synthesised SOA: `<zone> SOA ns.<zone> hostmaster.<zone> 1 3600 600
// 86400 60`. Serial is fixed: the zone never changes at run time and there
// are no secondaries to notify.
pub(crate) const SOA_MNAME_LABEL: &[u8] = b"ns";
pub(crate) const SOA_RNAME_LABEL: &[u8] = b"hostmaster";
pub(crate) const SOA_SERIAL: u32 = 1;
pub(crate) const SOA_REFRESH: i32 = 3_600;
pub(crate) const SOA_RETRY: i32 = 600;
pub(crate) const SOA_EXPIRE: i32 = 86_400;
/// Negative caching TTL; also the SOA record's own TTL so that
/// `min(TTL, MINIMUM)` (RFC 2308 section 5) is this value.
pub(crate) const SOA_MINIMUM: u32 = 60;

/// One node of the zone tree. Names that exist only because a configured
/// name lies below them (empty non-terminals) have no addresses.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) addrs: Box<[Ipv4Addr]>,
    pub(crate) ttl: u32,
}

#[derive(Debug)]
pub(crate) struct Zone {
    /// The apex in lowercase wire form (labels + root byte).
    apex_wire: Box<[u8]>,
    /// Every existing name (apex, configured names, empty non-terminals).
    nodes: HashMap<Box<[u8]>, Node>,
}

/// What a name in the zone resolves to.
pub(crate) enum Lookup<'z> {
    /// Not below the apex: not ours.
    OutOfZone,
    /// Below the apex but no such node.
    NxDomain,
    /// The node exists; `apex` says whether it is the apex itself.
    Found { node: &'z Node, apex: bool },
}

impl Zone {
    pub(crate) fn build(cfg: &DnsConfig) -> Result<Self, DnsConfigError> {
        let apex = parse_zone(&cfg.zone)?;
        let apex_wire = lower_wire_boxed(&apex);
        // The SOA's RNAME is one label longer than the apex.
        if apex_wire.len() + 1 + SOA_RNAME_LABEL.len() > MAX_WIRE_NAME {
            return Err(DnsConfigError::BadZone {
                zone: cfg.zone.clone(),
                reason: "too long to hold the SOA name hostmaster.<zone>".into(),
            });
        }

        let mut staged: HashMap<Box<[u8]>, (Vec<Ipv4Addr>, u32, usize)> = HashMap::new();
        for (index, rec) in cfg.records.iter().enumerate() {
            let name = record_name(index, &rec.name, &apex, &cfg.zone)?;
            if rec.ttl > MAX_TTL {
                return Err(DnsConfigError::TtlTooLarge {
                    index,
                    ttl: rec.ttl,
                });
            }
            let key = lower_wire_boxed(&name);
            let entry = staged
                .entry(key)
                .or_insert_with(|| (Vec::new(), rec.ttl, index));
            if entry.1 != rec.ttl {
                //= https://www.rfc-editor.org/rfc/rfc2181#section-5.2
                //# the use of differing TTLs in an RRSet is hereby deprecated, the
                //# TTLs of all RRs in an RRSet must be the same.
                return Err(DnsConfigError::TtlMismatch {
                    index,
                    name: name.to_ascii(),
                    ttl: rec.ttl,
                    first_index: entry.2,
                    first_ttl: entry.1,
                });
            }
            if entry.0.contains(&rec.ipv4) {
                return Err(DnsConfigError::DuplicateRecord {
                    index,
                    name: name.to_ascii(),
                    ipv4: rec.ipv4,
                });
            }
            entry.0.push(rec.ipv4);
        }

        let mut nodes: HashMap<Box<[u8]>, Node> = HashMap::with_capacity(staged.len() * 2 + 1);
        // Empty non-terminals exist (they have children), so a query for one
        // is NODATA, not NXDOMAIN.
        //= https://www.rfc-editor.org/rfc/rfc8020#section-2
        //# When an iterative caching DNS resolver receives an NXDOMAIN response,
        //# it SHOULD store it in its cache and then all names and resource
        //# record sets (RRsets) at or below that node SHOULD be considered
        //# unreachable.
        for key in staged.keys() {
            let mut pos = 0usize;
            while let Some(&len) = key.get(pos) {
                if len == 0 {
                    break;
                }
                let suffix = &key[pos..];
                if suffix.len() < apex_wire.len() {
                    break;
                }
                nodes.entry(suffix.into()).or_insert_with(empty_node);
                pos += 1 + usize::from(len);
            }
        }
        nodes.entry(apex_wire.clone()).or_insert_with(empty_node);
        for (key, (addrs, ttl, _)) in staged {
            nodes.insert(
                key,
                Node {
                    addrs: addrs.into_boxed_slice(),
                    ttl,
                },
            );
        }

        Ok(Zone { apex_wire, nodes })
    }

    /// Length of the apex in wire form.
    pub(crate) fn apex_len(&self) -> usize {
        self.apex_wire.len()
    }

    /// Find `name` (any case). Allocation-free: the key is built on the stack.
    pub(crate) fn lookup(&self, name: &Name) -> Lookup<'_> {
        let mut buf = [0u8; MAX_WIRE_NAME + 1];
        let Some(len) = lower_wire(name, &mut buf) else {
            return Lookup::OutOfZone;
        };
        let wire = &buf[..len];
        if !in_zone(wire, &self.apex_wire) {
            return Lookup::OutOfZone;
        }
        match self.nodes.get(wire) {
            None => Lookup::NxDomain,
            Some(node) => Lookup::Found {
                node,
                apex: wire.len() == self.apex_wire.len(),
            },
        }
    }

    #[cfg(test)]
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

fn empty_node() -> Node {
    Node {
        addrs: Box::new([]),
        ttl: SOA_MINIMUM,
    }
}

/// Whether `wire` equals `apex` or ends with it at a label boundary.
fn in_zone(wire: &[u8], apex: &[u8]) -> bool {
    let mut pos = 0usize;
    loop {
        let Some(rest) = wire.get(pos..) else {
            return false;
        };
        if rest.len() < apex.len() {
            return false;
        }
        if rest == apex {
            return true;
        }
        match rest.first() {
            Some(&len) if len != 0 => pos += 1 + usize::from(len),
            _ => return false,
        }
    }
}

/// Write `name` lowercased in uncompressed wire form into `buf`; `None` if it
/// would not fit (a decoded name always fits; this keeps the path panic-free).
pub(crate) fn lower_wire(name: &Name, buf: &mut [u8; MAX_WIRE_NAME + 1]) -> Option<usize> {
    let mut pos = 0usize;
    for label in name.iter() {
        let len = u8::try_from(label.len()).ok()?;
        let end = pos.checked_add(1 + label.len())?;
        let dst = buf.get_mut(pos..end)?;
        let (head, tail) = dst.split_first_mut()?;
        *head = len;
        for (d, s) in tail.iter_mut().zip(label) {
            *d = s.to_ascii_lowercase();
        }
        pos = end;
    }
    *buf.get_mut(pos)? = 0;
    let total = pos + 1;
    (total <= MAX_WIRE_NAME).then_some(total)
}

fn lower_wire_boxed(name: &Name) -> Box<[u8]> {
    let mut buf = [0u8; MAX_WIRE_NAME + 1];
    // Names here came through hickory's parser, which caps them at 255.
    let len = lower_wire(name, &mut buf).unwrap_or(0);
    buf[..len].into()
}

fn parse_zone(zone: &str) -> Result<Name, DnsConfigError> {
    let bad = |reason: String| DnsConfigError::BadZone {
        zone: zone.to_owned(),
        reason,
    };
    let trimmed = zone.trim();
    if trimmed.is_empty() || trimmed == "." {
        return Err(bad("the root zone cannot be served".into()));
    }
    let mut name = Name::from_ascii(trimmed).map_err(|e| bad(e.to_string()))?;
    // A zone is always absolute, with or without the trailing dot.
    name.set_fqdn(true);
    if name.iter().any(|l| l == b"*") {
        return Err(bad("wildcard labels are not supported".into()));
    }
    Ok(name.to_lowercase())
}

/// Record names follow zone-file rules: `@` is the apex, a name ending in a
/// dot is absolute, anything else is relative to the zone.
fn record_name(index: usize, raw: &str, apex: &Name, zone: &str) -> Result<Name, DnsConfigError> {
    let bad = |reason: String| DnsConfigError::BadRecordName {
        index,
        name: raw.to_owned(),
        reason,
    };
    let raw_trimmed = raw.trim();
    if raw_trimmed.is_empty() {
        return Err(bad("the name is empty".into()));
    }
    let name = if raw_trimmed == "@" {
        apex.clone()
    } else {
        let parsed = Name::from_ascii(raw_trimmed).map_err(|e| bad(e.to_string()))?;
        if parsed.is_fqdn() {
            parsed
        } else {
            // "www.xskd.test" under zone "xskd.test." almost certainly meant
            // the absolute name; expanding it silently would hide the typo.
            let mut as_fqdn = parsed.clone();
            as_fqdn.set_fqdn(true);
            if apex.zone_of(&as_fqdn) {
                return Err(DnsConfigError::MissingTrailingDot {
                    index,
                    name: raw.to_owned(),
                });
            }
            parsed.append_domain(apex).map_err(|e| bad(e.to_string()))?
        }
    };
    if name.iter().any(|l| l == b"*") {
        return Err(bad(
            "wildcard labels are not supported; list each name".into()
        ));
    }
    if !apex.zone_of(&name) {
        return Err(DnsConfigError::OutsideZone {
            index,
            name: raw.to_owned(),
            zone: zone.to_owned(),
        });
    }
    Ok(name.to_lowercase())
}
