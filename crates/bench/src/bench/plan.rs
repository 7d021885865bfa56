//! What a run measures: the loads, which subjects a set of parts needs
//! and which loads each subject gets.

use serde::Serialize;

use super::servers::Subject;
use super::{Generator, Part, PollArg};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Load {
    UdpLatency,
    UdpThroughput,
    /// The UDP throughput load from the AF_XDP generator.
    UdpThroughputXdp,
    TcpRr,
    #[serde(rename = "http-keepalive-64")]
    HttpKeepAliveSmall,
    #[serde(rename = "http-keepalive-16k")]
    HttpKeepAliveLarge,
    #[serde(rename = "http-close-64")]
    HttpCloseSmall,
    #[serde(rename = "http-close-16k")]
    HttpCloseLarge,
    Bulk,
    /// Full TLS 1.3 handshakes, no resumption (`openssl s_time -new`).
    TlsFullHandshake,
    #[serde(rename = "https-keepalive-64")]
    HttpsKeepAliveSmall,
    /// One GET per connection over TLS: a full handshake each (neither
    /// server resumes in the `tls` part).
    #[serde(rename = "https-close-64")]
    HttpsCloseSmall,
    /// The AF_XDP transmit ceiling: 1514-byte frames from xskd's veth end
    /// into the kernel peer, nothing received.
    #[serde(rename = "af-xdp-tx-1514")]
    TxMtu,
}

/// The HTTP objects both servers hold (paths under the web root).
pub const SMALL_OBJECT: &str = "obj-64";
pub const LARGE_OBJECT: &str = "obj-16k";
pub const BULK_OBJECT: &str = "bulk";
pub const SMALL_BYTES: usize = 64;
pub const LARGE_BYTES: usize = 16 * 1024;
/// TCP request/response message size.
pub const TCP_MSG: usize = 64;

impl Load {
    /// (object, `Connection: close`) of an HTTP load.
    pub fn http(self) -> Option<(&'static str, bool)> {
        match self {
            Load::HttpKeepAliveSmall => Some((SMALL_OBJECT, false)),
            Load::HttpKeepAliveLarge => Some((LARGE_OBJECT, false)),
            Load::HttpCloseSmall => Some((SMALL_OBJECT, true)),
            Load::HttpCloseLarge => Some((LARGE_OBJECT, true)),
            Load::HttpsKeepAliveSmall => Some((SMALL_OBJECT, false)),
            Load::HttpsCloseSmall => Some((SMALL_OBJECT, true)),
            _ => None,
        }
    }

    /// Whether this load is over TLS (port 443).
    pub fn tls(self) -> bool {
        matches!(
            self,
            Load::TlsFullHandshake | Load::HttpsKeepAliveSmall | Load::HttpsCloseSmall
        )
    }
}

pub const HTTP_LOADS: [Load; 4] = [
    Load::HttpKeepAliveSmall,
    Load::HttpKeepAliveLarge,
    Load::HttpCloseSmall,
    Load::HttpCloseLarge,
];

pub const TLS_LOADS: [Load; 3] = [
    Load::TlsFullHandshake,
    Load::HttpsCloseSmall,
    Load::HttpsKeepAliveSmall,
];

/// Who is measured, in the order each round measures them.
pub fn subjects(parts: &[Part], poll: PollArg) -> Vec<Subject> {
    let has = |p| parts.contains(&p);
    let echo = has(Part::Udp) || has(Part::Tcp);
    let mut v = Vec::new();
    // Busy-polling xskd is the stack side of the ceiling, HTTP and bulk
    // pairs too; the echo and TLS pairs measure the polls asked for.
    let web = has(Part::Http) || has(Part::Bulk);
    let polled = echo || has(Part::Tls);
    if has(Part::Ceiling) || web || (polled && poll != PollArg::Backoff) {
        v.push(Subject::Xskd);
    }
    if polled && poll != PollArg::Busy {
        v.push(Subject::XskdBackoff);
    }
    if echo {
        v.push(Subject::Kernel);
    }
    if has(Part::Ceiling) {
        v.push(Subject::Reflector);
    }
    if web || has(Part::Tls) {
        v.push(Subject::Nginx);
    }
    if has(Part::Bulk) {
        v.push(Subject::NginxOffload);
    }
    v
}

/// What each subject is measured with.
pub fn loads(subject: Subject, parts: &[Part], poll: PollArg, generator: Generator) -> Vec<Load> {
    let has = |p| parts.contains(&p);
    let echo_poll = match subject {
        Subject::Xskd => poll != PollArg::Backoff,
        Subject::XskdBackoff | Subject::Kernel => true,
        _ => false,
    };
    let mut v = Vec::new();
    let ceiling = has(Part::Ceiling) && matches!(subject, Subject::Xskd | Subject::Reflector);
    if has(Part::Udp) && echo_poll {
        v.extend([Load::UdpLatency, Load::UdpThroughput]);
    } else if ceiling && generator == Generator::Socket {
        v.push(Load::UdpThroughput);
    }
    if ceiling && generator == Generator::Xdp {
        v.push(Load::UdpThroughputXdp);
    }
    if has(Part::Tcp) && echo_poll {
        v.push(Load::TcpRr);
    }
    if has(Part::Http) && matches!(subject, Subject::Xskd | Subject::Nginx) {
        v.extend(HTTP_LOADS);
    }
    if has(Part::Bulk)
        && matches!(
            subject,
            Subject::Xskd | Subject::Nginx | Subject::NginxOffload
        )
    {
        v.push(Load::Bulk);
    }
    // Back-off polling too: a busy-polling worker's CPU per handshake is
    // the offered load's inverse, not the handshake's cost.
    let tls_xskd = match subject {
        Subject::Xskd => poll != PollArg::Backoff,
        Subject::XskdBackoff => true,
        _ => false,
    };
    if has(Part::Tls) && (tls_xskd || subject == Subject::Nginx) {
        v.extend(TLS_LOADS);
    }
    v
}
