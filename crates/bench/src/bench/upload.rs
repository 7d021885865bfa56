//! `xskd-bench client tcp-upload`: the `loss` part's upload. Connect, write
//! BYTES, half-close, and wait for the server's close: the server closes
//! only after reading to our FIN, so the time to that EOF is the time for
//! every byte to arrive. Bounded by `--timeout`; running out of time is a
//! result (`completed: false`), not an error.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// What one upload did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UploadResult {
    /// Bytes written (all of them when completed).
    pub bytes: u64,
    /// From connect to the server's close (or to the timeout).
    pub seconds: f64,
    pub mbit_per_s: f64,
    /// The server read everything and closed within the timeout.
    pub completed: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn tcp_upload(target: SocketAddr, bytes: u64, timeout: Duration) -> Result<UploadResult> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut r = UploadResult::default();
    let outcome = upload(target, bytes, deadline, &mut r.bytes);
    r.seconds = start.elapsed().as_secs_f64();
    r.mbit_per_s = r.bytes as f64 * 8.0 / 1e6 / r.seconds.max(1e-9);
    match outcome {
        Ok(()) => r.completed = true,
        Err(e) => r.error = Some(format!("{e:#}")),
    }
    Ok(r)
}

fn left(deadline: Instant) -> Result<Duration> {
    let d = deadline.saturating_duration_since(Instant::now());
    if d.is_zero() {
        anyhow::bail!("timed out");
    }
    Ok(d)
}

fn upload(target: SocketAddr, bytes: u64, deadline: Instant, written: &mut u64) -> Result<()> {
    let mut s = TcpStream::connect_timeout(&target, left(deadline)?)
        .with_context(|| format!("connecting to {target}"))?;
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| b"xskd-upload\n"[i % 12]).collect();
    while *written < bytes {
        s.set_write_timeout(Some(left(deadline)?))?;
        let n = (bytes - *written).min(chunk.len() as u64) as usize;
        match s.write(&chunk[..n]) {
            Ok(0) => anyhow::bail!("the connection took no more data"),
            Ok(k) => *written += k as u64,
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                left(deadline)?;
            }
            Err(e) => return Err(e).context("writing"),
        }
    }
    s.shutdown(Shutdown::Write).context("half-closing")?;
    let mut buf = [0u8; 4096];
    loop {
        s.set_read_timeout(Some(left(deadline)?))?;
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => anyhow::bail!("the discard server sent data"),
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                left(deadline)?;
            }
            Err(e) => return Err(e).context("waiting for the server's close"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn upload_completes_when_the_server_closes_after_our_fin() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut v = Vec::new();
            c.read_to_end(&mut v).unwrap();
            v.len()
        });
        let r = tcp_upload(addr, 1_000_000, Duration::from_secs(10)).unwrap();
        assert!(r.completed, "{r:?}");
        assert_eq!(r.bytes, 1_000_000);
        assert_eq!(server.join().unwrap(), 1_000_000);
    }

    #[test]
    fn upload_to_a_server_that_never_closes_times_out_as_a_result() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        // Accepts and holds the connection open without reading.
        let hold = std::thread::spawn(move || {
            let c = l.accept().unwrap();
            std::thread::sleep(Duration::from_secs(2));
            drop(c);
        });
        let r = tcp_upload(addr, 1000, Duration::from_millis(300)).unwrap();
        assert!(!r.completed);
        assert_eq!(r.error.as_deref(), Some("timed out"));
        hold.join().unwrap();
    }
}
