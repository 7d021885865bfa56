//! CPU time from /proc: a server process's utime+stime (all its threads),
//! and how busy one core was (every task and interrupt on it).

use anyhow::{bail, Context, Result};
use nix::unistd::{sysconf, SysconfVar};

/// Clock ticks per second, the unit of /proc/PID/stat and /proc/stat.
pub(super) fn ticks_per_sec() -> f64 {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as f64,
        _ => 100.0,
    }
}

/// utime + stime of process `pid`, in seconds.
pub fn process_seconds(pid: u32) -> Result<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    Ok(stat_ticks(&text)? as f64 / ticks_per_sec())
}

/// utime + stime, in clock ticks, from the text of /proc/PID/stat.
pub fn stat_ticks(text: &str) -> Result<u64> {
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields from the last ')'. Field 3 (state) is then index 0, so
    // utime (14) and stime (15) are 11 and 12.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/PID/stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (Some(u), Some(s)) = (f.get(11), f.get(12)) else {
        bail!("short /proc/PID/stat");
    };
    Ok(u.parse::<u64>()? + s.parse::<u64>()?)
}

/// The command name of process `pid` (to check we watch the right one).
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Seconds core `core` spent not idle (user, system, irq, softirq, ...).
pub fn core_busy_seconds(core: usize) -> Result<f64> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let name = format!("cpu{core}");
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .with_context(|| format!("no {name} in /proc/stat"))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let busy: u64 = v
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, x)| x)
        .sum();
    Ok(busy as f64 / ticks_per_sec())
}

/// The parent pid in the text of /proc/PID/stat.
pub fn stat_ppid(text: &str) -> Option<u32> {
    let rest = text.rsplit_once(')')?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The processes whose parent is `pid` (nginx's workers under its master).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|t| stat_ppid(&t))
                == Some(pid)
        })
        .collect()
}

/// utime + stime of `pid` and its children (a master and its workers), in
/// seconds. A child that exits between two readings takes its time with it;
/// the servers under test keep theirs for the whole measurement.
pub fn tree_seconds(pid: u32) -> Result<f64> {
    let mut s = process_seconds(pid)?;
    for c in children(pid) {
        s += process_seconds(c).unwrap_or(0.0);
    }
    Ok(s)
}
