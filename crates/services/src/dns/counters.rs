//! Counters for `xskd_dns_*` metrics, labelled the way operators read them.

use hickory_proto::op::ResponseCode;

macro_rules! labelled {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $label:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            /// Every value, in declaration order (index == `as usize`).
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            pub const COUNT: usize = Self::ALL.len();

            /// The Prometheus label value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)*
                }
            }
        }
    };
}

labelled! {
    /// Response codes we send, labelled as `dig` prints them.
    DnsRcode {
        NoError => "NOERROR",
        FormErr => "FORMERR",
        ServFail => "SERVFAIL",
        NxDomain => "NXDOMAIN",
        NotImp => "NOTIMP",
        Refused => "REFUSED",
        BadVers => "BADVERS",
    }
}

labelled! {
    /// Why a datagram got no response at all.
    DnsDropReason {
        TooShort => "too_short",
        IsResponse => "is_response",
        Amplification => "amplification",
        NoRoom => "no_room",
    }
}

impl DnsRcode {
    pub(super) fn wire(self) -> ResponseCode {
        match self {
            DnsRcode::NoError => ResponseCode::NoError,
            DnsRcode::FormErr => ResponseCode::FormErr,
            DnsRcode::ServFail => ResponseCode::ServFail,
            DnsRcode::NxDomain => ResponseCode::NXDomain,
            DnsRcode::NotImp => ResponseCode::NotImp,
            DnsRcode::Refused => ResponseCode::Refused,
            DnsRcode::BadVers => ResponseCode::BADVERS,
        }
    }
}

/// What the responder did, for `xskd_dns_*` metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsCounters {
    /// Messages handed to `respond*`, answered or dropped.
    pub queries: u64,
    responses: [u64; DnsRcode::COUNT],
    dropped: [u64; DnsDropReason::COUNT],
    /// Responses sent with TC because they did not fit the UDP payload size.
    pub truncated_size: u64,
    /// Minimal TC responses sent instead of an amplifying answer.
    pub truncated_amplification: u64,
    /// Queries whose server cookie verified (amplification cap lifted).
    pub cookies_valid: u64,
}

impl DnsCounters {
    pub fn responses(&self, rcode: DnsRcode) -> u64 {
        self.responses[rcode as usize]
    }

    pub fn dropped(&self, reason: DnsDropReason) -> u64 {
        self.dropped[reason as usize]
    }

    /// All responses with TC set.
    pub fn truncated(&self) -> u64 {
        self.truncated_size + self.truncated_amplification
    }

    /// `(rcode label, count)` for `xskd_dns_responses_total{rcode=...}`.
    pub fn responses_by_rcode(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DnsRcode::ALL
            .iter()
            .map(|r| (r.as_str(), self.responses[*r as usize]))
    }

    /// `(reason label, count)` for `xskd_dns_dropped_total{reason=...}`.
    pub fn dropped_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DnsDropReason::ALL
            .iter()
            .map(|r| (r.as_str(), self.dropped[*r as usize]))
    }

    pub(super) fn count_response(&mut self, rcode: DnsRcode) {
        self.responses[rcode as usize] += 1;
    }

    pub(super) fn count_drop(&mut self, reason: DnsDropReason) {
        self.dropped[reason as usize] += 1;
    }

    /// Add another worker's counters into these.
    pub fn merge(&mut self, other: &DnsCounters) {
        self.queries += other.queries;
        for (a, b) in self.responses.iter_mut().zip(other.responses) {
            *a += b;
        }
        for (a, b) in self.dropped.iter_mut().zip(other.dropped) {
            *a += b;
        }
        self.truncated_size += other.truncated_size;
        self.truncated_amplification += other.truncated_amplification;
        self.cookies_valid += other.cookies_valid;
    }
}
