//! The admin endpoint on the kernel stack (never the bypass path):
//! `/metrics` (Prometheus text format), `/connections` (JSON), `/healthz`.
//! One thread, one request per connection, bounded reads and timeouts: it
//! is for scrapers and operators, not for load.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::Result;

/// What the endpoint serves; implemented by the control state.
pub trait AdminSource: Send + Sync + 'static {
    fn metrics_text(&self) -> String;
    /// JSON for `/connections`; `query` is the raw query string.
    fn connections_json(&self, query: &str) -> String;
    /// (healthy, JSON detail).
    fn health(&self) -> (bool, String);
    /// A POST: (status, JSON body). Commands to the workers go here.
    fn post(&self, path: &str, query: &str, body: &[u8]) -> (u16, String) {
        let _ = (path, query, body);
        (404, "{\"error\":\"not found\"}".into())
    }
}

pub struct AdminServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

/// Request head plus body; action bodies are small.
const MAX_REQUEST: usize = 72 * 1024;

impl AdminServer {
    pub fn start(addr: SocketAddr, source: Arc<dyn AdminSource>) -> Result<AdminServer> {
        let listener = TcpListener::bind(addr).map_err(|e| {
            if crate::datapath::caps::is_denied(&e) {
                let denied = crate::datapath::caps::Denied::now(&[
                    crate::datapath::caps::Cap::NetBindService,
                ]);
                anyhow::anyhow!("binding the admin endpoint on {addr} failed: permission denied (config key admin.listen; ports below 1024 are privileged) — {denied}")
            } else {
                anyhow::Error::new(e).context(format!("binding the admin endpoint on {addr} (config key admin.listen; is the port taken?)"))
            }
        })?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = thread::Builder::new()
            .name("xskd-admin".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let _ = handle(stream, source.as_ref());
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(20))
                        }
                        Err(_) => thread::sleep(Duration::from_millis(20)),
                    }
                }
            })?;
        Ok(AdminServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(mut stream: TcpStream, source: &dyn AdminSource) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    let mut head_only = false;
    let (status, ctype, body) = loop {
        if len == buf.len() {
            break (431, "text/plain", "request headers too large\n".to_string());
        }
        let n = stream.read(&mut buf[len..])?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(head_len)) => {
                let method = req.method.unwrap_or("").to_string();
                // RFC 9110 9.3.2: HEAD gets the GET head and no content.
                head_only = method == "HEAD";
                let path = req.path.unwrap_or("").to_string();
                let body_len = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| {
                        std::str::from_utf8(h.value)
                            .ok()?
                            .trim()
                            .parse::<usize>()
                            .ok()
                    })
                    .unwrap_or(0);
                if head_len + body_len > buf.len() {
                    break (413, "text/plain", "body too large\n".to_string());
                }
                while len < head_len + body_len {
                    let n = stream.read(&mut buf[len..head_len + body_len])?;
                    if n == 0 {
                        return Ok(());
                    }
                    len += n;
                }
                break route(&method, &path, &buf[head_len..head_len + body_len], source);
            }
            Ok(httparse::Status::Partial) => continue,
            Err(_) => break (400, "text/plain", "bad request\n".to_string()),
        }
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\nServer: xskd\r\n{}\r\n",
        body.len(),
        if status == 405 { "Allow: GET, HEAD, POST\r\n" } else { "" }
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

fn route(
    method: &str,
    target: &str,
    body: &[u8],
    source: &dyn AdminSource,
) -> (u16, &'static str, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method == "POST" && path.starts_with("/actions/") {
        let (status, body) = source.post(path, query, body);
        return (status, "application/json", body);
    }
    if method != "GET" && method != "HEAD" {
        return (
            405,
            "text/plain",
            "only GET (and POST to /actions/...)\n".into(),
        );
    }
    match path {
        "/metrics" => (
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            source.metrics_text(),
        ),
        "/connections" => (200, "application/json", source.connections_json(query)),
        "/healthz" => {
            let (ok, detail) = source.health();
            (if ok { 200 } else { 503 }, "application/json", detail)
        }
        _ => (
            404,
            "text/plain",
            "not found: try /metrics, /connections, /healthz\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl AdminSource for Fixed {
        fn metrics_text(&self) -> String {
            "xskd_up 1\n".into()
        }
        fn connections_json(&self, query: &str) -> String {
            format!("{{\"query\":\"{query}\"}}")
        }
        fn health(&self) -> (bool, String) {
            (false, "{\"workers\":0}".into())
        }
    }

    fn get(addr: SocketAddr, raw: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn routes_answer_with_status_and_body() {
        let srv = AdminServer::start("127.0.0.1:0".parse().unwrap(), Arc::new(Fixed)).unwrap();
        let a = srv.local_addr();
        let h = get(a, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            h.starts_with("HTTP/1.1 200 OK") && h.contains("Content-Length: 10\r\n"),
            "{h}"
        );
        assert!(h.ends_with("\r\n\r\n"), "HEAD has no body: {h}");
        let m = get(a, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            m.starts_with("HTTP/1.1 200 OK") && m.ends_with("xskd_up 1\n"),
            "{m}"
        );
        let c = get(a, "GET /connections?state=ESTABLISHED HTTP/1.1\r\n\r\n");
        assert!(c.contains("{\"query\":\"state=ESTABLISHED\"}"), "{c}");
        let h = get(a, "GET /healthz HTTP/1.1\r\n\r\n");
        assert!(h.starts_with("HTTP/1.1 503"), "{h}");
        assert!(get(a, "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        let p = get(a, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(
            p.starts_with("HTTP/1.1 405") && p.contains("Allow: GET"),
            "{p}"
        );
        assert!(get(a, "\x01\x02garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
    }
}
