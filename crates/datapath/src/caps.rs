//! The Linux capabilities xskd's startup steps need, and the fix to print
//! when a step is refused. xskd runs as an unprivileged user holding only
//! these (config/xskd.service); a step that fails with EPERM/EACCES names
//! the capability it lacked, read from our own effective set. Also the
//! locked-memory limit the UMEMs are charged to without CAP_IPC_LOCK.

use std::fmt;
use std::io;

/// A capability some startup step needs (bit numbers from
/// `<linux/capability.h>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// Binding a TCP port below 1024 (the admin endpoint, if so configured).
    NetBindService = 10,
    /// XDP program type, XSKMAP map type, attaching to an interface.
    NetAdmin = 12,
    /// `socket(AF_XDP)`.
    NetRaw = 13,
    /// The bpf() syscall: BTF, maps, programs.
    Bpf = 39,
}

impl Cap {
    pub fn name(self) -> &'static str {
        match self {
            Cap::NetBindService => "CAP_NET_BIND_SERVICE",
            Cap::NetAdmin => "CAP_NET_ADMIN",
            Cap::NetRaw => "CAP_NET_RAW",
            Cap::Bpf => "CAP_BPF",
        }
    }

    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

/// The `CapEff:` mask of a `/proc/<pid>/status` text.
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

/// Our effective capabilities, if /proc tells.
pub fn effective() -> Option<u64> {
    parse_cap_eff(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// RLIMIT_MEMLOCK as `ulimit -l` would say it.
pub fn memlock_limit() -> String {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
        return "unknown".into();
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        format!("{} KiB", lim.rlim_cur / 1024)
    }
}

/// True when `err` is the kernel refusing for lack of privilege.
pub fn is_denied(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

/// What to tell the operator after a step needing `needed` was denied,
/// given our effective set `eff` (None: unknown, name them all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    /// The needed capabilities we do not hold (all of them when `eff` is
    /// unknown); empty when we hold them all and something else refused.
    pub missing: Vec<Cap>,
    needed: Vec<Cap>,
}

impl Denied {
    pub fn new(needed: &[Cap], eff: Option<u64>) -> Denied {
        let missing = needed
            .iter()
            .copied()
            .filter(|c| eff.is_none_or(|e| e & c.bit() == 0))
            .collect();
        Denied {
            missing,
            needed: needed.to_vec(),
        }
    }

    /// For a step that just failed, against our current effective set.
    pub fn now(needed: &[Cap]) -> Denied {
        Denied::new(needed, effective())
    }
}

fn names(caps: &[Cap]) -> String {
    caps.iter().map(|c| c.name()).collect::<Vec<_>>().join(" ")
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.missing.is_empty() {
            return write!(
                f,
                "xskd holds {} but the kernel still refused: a security module \
                 (SELinux, AppArmor) or a sysctl forbids it",
                names(&self.needed)
            );
        }
        let list = names(&self.missing);
        let setpriv = self
            .missing
            .iter()
            .map(|c| format!("+{}", c.name()["CAP_".len()..].to_lowercase()))
            .collect::<Vec<_>>()
            .join(",");
        write!(
            f,
            "xskd needs {list} (run it as root, or grant {}: under systemd, \
             AmbientCapabilities={list} and CapabilityBoundingSet={list} in xskd.service; \
             by hand, setpriv --inh-caps={setpriv} --ambient-caps={setpriv})",
            if self.missing.len() == 1 {
                "it"
            } else {
                "them"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\txskd\nCapInh:\t0000000000000000\nCapPrm:\t000000800000f000\n\
                          CapEff:\t000000800000b000\nCapBnd:\t000001ffffffffff\n";

    #[test]
    fn cap_eff_is_read_from_proc_status() {
        assert_eq!(parse_cap_eff(STATUS), Some(0x8000_00b000));
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
    }

    #[test]
    fn denied_names_only_what_is_missing() {
        // 0x80_0000_b000: CAP_NET_ADMIN, CAP_NET_RAW, bit 15 and CAP_BPF.
        let eff = parse_cap_eff(STATUS);
        let d = Denied::new(&[Cap::NetRaw, Cap::NetBindService, Cap::Bpf], eff);
        assert_eq!(d.missing, [Cap::NetBindService]);
        let text = d.to_string();
        assert_eq!(
            text,
            "xskd needs CAP_NET_BIND_SERVICE (run it as root, or grant it: under systemd, \
             AmbientCapabilities=CAP_NET_BIND_SERVICE and \
             CapabilityBoundingSet=CAP_NET_BIND_SERVICE in xskd.service; by hand, \
             setpriv --inh-caps=+net_bind_service --ambient-caps=+net_bind_service)"
        );
    }

    #[test]
    fn denied_with_every_capability_held_blames_something_else() {
        let d = Denied::new(&[Cap::NetAdmin, Cap::Bpf], parse_cap_eff(STATUS));
        assert!(d.missing.is_empty());
        assert!(d.to_string().contains("security module"), "{d}");
    }

    #[test]
    fn unknown_effective_set_names_every_needed_capability() {
        let d = Denied::new(&[Cap::Bpf, Cap::NetAdmin], None);
        assert_eq!(d.missing, [Cap::Bpf, Cap::NetAdmin]);
        let text = d.to_string();
        assert!(text.contains("CAP_BPF CAP_NET_ADMIN (run it as root, or grant them"));
        assert!(text.contains("--ambient-caps=+bpf,+net_admin)"), "{text}");
    }
}
