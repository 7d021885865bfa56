//! packetdrill-style conformance scripts for the sans-IO TCP, run against
//! `xskd::stack::tcp::Tcp` with a virtual clock.
//!
//! Script syntax (one event per line, `#` comments):
//!
//! ```text
//! %config syn_queue=1 msl=1 keepalive=10,1,3   (before the first event)
//! +0   listen(8080)
//! +0   < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
//! +0   > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 0 ecr 100,nop,wscale 1>
//! +.1  < . 1:1(0) ack 1 win 257
//! +0   accept()
//! +0   state ESTABLISHED
//! +61  expect_none
//! ```
//!
//! Times are seconds, `+x` relative to the previous line or absolute.
//! Sequence numbers: the remote's are literal, ours are relative to our ISN
//! (learned from our first SYN). `ack` on inbound segments is relative to our
//! ISN; on outbound segments it is literal remote space. Outbound `win` and
//! `<options>` are compared only if given; TS `val` on outbound is ignored.
//! Calls: listen(P) accept() accept_none() connect(IP:P) write(N) read(N)
//! read_eof() read_error(Reset) shutdown() close() abort() unlisten();
//! checks: `state NAME` (or NONE), `conns N`, `counter NAME N`,
//! `last_drop REASON` / `last_ok`, `expect_none`. Per-line `from PORT`
//! overrides the remote port of an inbound segment.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use xskd::stack::tcp::{ConnId, KeepaliveConfig, ListenerId, Tcp, TcpConfig};
use xskd::stack::DropReason;
use xskd::time::Instant;
use xskd::wire::tcp::{flags, TcpOption, TcpOptions, TcpPacket, TcpRepr};

const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const TOLERANCE: Duration = Duration::from_millis(10);

type Sink = Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>;

struct Runner {
    cfg: TcpConfig,
    tcp: Option<Tcp>,
    now: Instant,
    queue: VecDeque<(Instant, Vec<u8>)>,
    local_port: u16,
    remote_port: u16,
    our_isn: Option<u32>,
    last_tsval: u32,
    last_seq: u32,
    listener: Option<ListenerId>,
    conn: Option<ConnId>,
    last_result: Result<(), DropReason>,
    start: Instant,
    /// The time of the previous line (relative times add to it).
    script_time: Instant,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let f: f64 = s.parse().map_err(|_| format!("bad number `{s}`"))?;
    Ok(Duration::from_secs_f64(f))
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad number `{s}`"))
}

/// An expected or sent segment in script syntax.
#[derive(Debug, Default, Clone)]
struct Seg {
    flags: u16,
    start: u32,
    len: u32,
    ack: Option<u32>,
    win: Option<u16>,
    options: Option<Vec<String>>,
    port: Option<u16>,
    /// Outbound: `*` seq (unpredictable, e.g. a SYN cookie).
    any_seq: bool,
    /// Inbound: `ack @N` = our last sent seq + N (absolute).
    ack_from_last: bool,
}

fn flag_string(f: u16) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (flags::SYN, 'S'),
        (flags::FIN, 'F'),
        (flags::RST, 'R'),
        (flags::PSH, 'P'),
        (flags::URG, 'U'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    if f & flags::ACK != 0 {
        s.push('.');
    }
    s
}

fn render(seg: &Seg) -> String {
    let mut s = format!(
        "{} {}:{}({})",
        flag_string(seg.flags),
        seg.start,
        seg.start.wrapping_add(seg.len),
        seg.len
    );
    if let Some(a) = seg.ack {
        s += &format!(" ack {a}");
    }
    if let Some(w) = seg.win {
        s += &format!(" win {w}");
    }
    if let Some(o) = &seg.options {
        s += &format!(" <{}>", o.join(","));
    }
    s
}

/// Normalised option list: NOP/EOL dropped, TS reduced to `TS ecr N`.
fn normalise(opts: &[String]) -> Vec<String> {
    opts.iter()
        .filter(|o| *o != "nop" && *o != "eol")
        .map(|o| {
            let t: Vec<&str> = o.split_whitespace().collect();
            if t.first() == Some(&"TS") && t.len() == 5 {
                format!("TS ecr {}", t[4])
            } else {
                o.clone()
            }
        })
        .collect()
}

fn parse_seg(toks: &[&str], opts: Option<&str>) -> Result<Seg, String> {
    let mut seg = Seg::default();
    let ftok = toks.first().ok_or("missing flags")?;
    for c in ftok.chars() {
        seg.flags |= match c {
            'S' => flags::SYN,
            'F' => flags::FIN,
            'R' => flags::RST,
            'P' => flags::PSH,
            'U' => flags::URG,
            '.' => flags::ACK,
            '0' => 0,
            _ => return Err(format!("bad flag `{c}`")),
        };
    }
    let range = toks.get(1).ok_or("missing seq range")?;
    if let Some(l) = range.strip_prefix("*(") {
        seg.any_seq = true;
        seg.len = num(l.trim_end_matches(')'))?;
    } else {
        let (a, rest) = range.split_once(':').ok_or("bad seq range")?;
        let (_, l) = rest.split_once('(').ok_or("bad seq range")?;
        seg.start = num(a)?;
        seg.len = num(l.trim_end_matches(')'))?;
    }
    let mut i = 2;
    while i < toks.len() {
        let v = toks.get(i + 1).ok_or("missing value")?;
        match toks[i] {
            "ack" => match v.strip_prefix('@') {
                Some(n) => {
                    seg.ack_from_last = true;
                    seg.ack = Some(num(n)?);
                }
                None => seg.ack = Some(num(v)?),
            },
            "win" => seg.win = Some(num(v)?),
            "from" | "to" => seg.port = Some(num(v)?),
            k => return Err(format!("unknown keyword `{k}`")),
        }
        i += 2;
    }
    if let Some(o) = opts {
        seg.options = Some(
            o.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
        );
    }
    Ok(seg)
}

impl Runner {
    fn new() -> Self {
        Runner {
            cfg: TcpConfig::default(),
            tcp: None,
            now: Instant::ZERO,
            queue: VecDeque::new(),
            local_port: 8080,
            remote_port: 40000,
            our_isn: None,
            last_tsval: 0,
            last_seq: 0,
            listener: None,
            conn: None,
            last_result: Ok(()),
            start: Instant::from_secs(1000),
            script_time: Instant::from_secs(1000),
        }
    }

    fn tcp(&mut self) -> &mut Tcp {
        if self.tcp.is_none() {
            self.tcp = Some(Tcp::new(self.cfg.clone(), LOCAL, [7u8; 32], 42));
        }
        self.tcp.as_mut().unwrap()
    }

    fn config(&mut self, kv: &str) -> Result<(), String> {
        let (k, v) = kv.split_once('=').ok_or("config wants key=value")?;
        let c = &mut self.cfg;
        match k {
            "mss" => c.mss = num(v)?,
            "syn_queue" => c.syn_queue = num(v)?,
            "accept_queue" => c.accept_queue = num(v)?,
            "max_conns" => c.max_conns = num(v)?,
            "msl" => c.msl = parse_secs(v)?,
            "fin_wait2_timeout" => c.fin_wait2_timeout = parse_secs(v)?,
            "close_wait_timeout" => c.close_wait_timeout = parse_secs(v)?,
            "syn_retries" => c.syn_retries = num(v)?,
            "synack_retries" => c.synack_retries = num(v)?,
            "max_retries" => c.max_retries = num(v)?,
            "rto_min" => c.rto_min = parse_secs(v)?,
            "rto_initial" => c.rto_initial = parse_secs(v)?,
            "user_timeout" => c.user_timeout = parse_secs(v)?,
            "send_buffer" => c.send_buffer = num(v)?,
            "recv_buffer" => c.recv_buffer = num(v)?,
            "challenge_ack_per_sec" => c.challenge_ack_per_sec = num(v)?,
            "syn_cookies" => c.syn_cookies = v == "1",
            "timestamps" => c.timestamps = v == "1",
            "window_scaling" => c.window_scaling = v == "1",
            "sack" => c.sack = v == "1",
            "keepalive" => {
                let p: Vec<&str> = v.split(',').collect();
                if p.len() != 3 {
                    return Err("keepalive=idle,interval,count".into());
                }
                c.keepalive = Some(KeepaliveConfig {
                    idle: parse_secs(p[0])?,
                    interval: parse_secs(p[1])?,
                    count: num(p[2])?,
                });
            }
            "remote_port" => self.remote_port = num(v)?,
            _ => return Err(format!("unknown config `{k}`")),
        }
        Ok(())
    }

    fn collect(&mut self, sink: Sink) {
        for (src, dst, bytes) in sink {
            assert_eq!(*src.ip(), LOCAL);
            assert_eq!(*dst.ip(), REMOTE);
            self.queue.push_back((self.now, bytes));
        }
    }

    /// Run timers up to `t`, then set the clock to `t`.
    fn advance_to(&mut self, t: Instant) -> Result<(), String> {
        for _ in 0..100_000 {
            let now = self.now;
            let at = self.tcp().poll_at();
            match at {
                Some(d) if d <= t => {
                    self.now = now.max(d);
                    let mut sink = Sink::new();
                    let n = self.now;
                    self.tcp().poll(n, &mut sink);
                    self.collect(sink);
                    if self.tcp().poll_at().is_some_and(|d2| d2 <= self.now) && d <= now {
                        // A deadline in the past that poll did not clear.
                        let again = self.tcp().poll_at();
                        let mut sink = Sink::new();
                        self.tcp().poll(n, &mut sink);
                        self.collect(sink);
                        if self.tcp().poll_at() == again && again.is_some_and(|a| a <= n) {
                            return Err(format!("poll_at stuck at {again:?}"));
                        }
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(t);
        Ok(())
    }

    fn seg_of(&mut self, bytes: &[u8]) -> Result<Seg, String> {
        let p = TcpPacket::new_checked(bytes).map_err(|e| format!("we sent garbage: {e}"))?;
        let r = TcpRepr::parse(&p, LOCAL, REMOTE).map_err(|e| format!("we sent garbage: {e}"))?;
        if r.control == xskd::wire::tcp::Control::Syn && self.our_isn.is_none() {
            self.our_isn = Some(r.seq.0);
            self.local_port = r.src_port;
        }
        if let Some((v, _)) = r.timestamp {
            self.last_tsval = v;
        }
        self.last_seq = r.seq.0;
        let base = self.our_isn.unwrap_or(0);
        let mut opts = Vec::new();
        for o in TcpOptions::new(p.options()) {
            opts.push(match o {
                TcpOption::EndOfList => "eol".into(),
                TcpOption::NoOperation => "nop".into(),
                TcpOption::MaxSegmentSize(m) => format!("mss {m}"),
                TcpOption::WindowScale(w) => format!("wscale {w}"),
                TcpOption::SackPermitted => "sackOK".into(),
                TcpOption::Timestamp { tsval, tsecr } => format!("TS val {tsval} ecr {tsecr}"),
                TcpOption::SackRange(_) => "sack".into(),
                TcpOption::Unknown { kind, .. } => format!("kind{kind}"),
            });
        }
        Ok(Seg {
            flags: p.flags() & 0x3f,
            start: r.seq.0.wrapping_sub(base),
            len: r.payload.len() as u32,
            ack: r.ack.map(|a| a.0),
            win: Some(r.window_len),
            options: Some(opts),
            port: Some(r.dst_port),
            ..Seg::default()
        })
    }

    fn expect_out(&mut self, want: &Seg, at: Instant) -> Result<(), String> {
        if self.queue.is_empty() {
            self.advance_to(at)?;
        }
        if self.queue.is_empty() {
            self.advance_to(at + TOLERANCE)?;
        }
        let Some((sent_at, bytes)) = self.queue.pop_front() else {
            return Err(format!(
                "expected `> {}`, but nothing was sent",
                render(want)
            ));
        };
        let got = self.seg_of(&bytes)?;
        let mut shown = got.clone();
        if want.options.is_none() {
            shown.options = None;
        }
        if want.win.is_none() {
            shown.win = None;
        }
        let mut diff = Vec::new();
        if got.flags != want.flags {
            diff.push("flags");
        }
        if (!want.any_seq && got.start != want.start) || got.len != want.len {
            diff.push("seq");
        }
        if want.flags & flags::ACK != 0 && want.ack.is_some() && got.ack != want.ack {
            diff.push("ack");
        }
        if want.win.is_some() && got.win != want.win {
            diff.push("win");
        }
        if want.port.is_some() && got.port != want.port {
            diff.push("port");
        }
        if let (Some(w), Some(g)) = (&want.options, &got.options) {
            if w.iter().any(|o| o != "...") && normalise(w) != normalise(g) {
                diff.push("options");
            }
        }
        let early = sent_at + TOLERANCE < at;
        let late = sent_at > at + TOLERANCE;
        if early || late {
            diff.push(if early {
                "time (too early)"
            } else {
                "time (too late)"
            });
        }
        if diff.is_empty() {
            return Ok(());
        }
        Err(format!(
            "mismatch in {}\n  expected at {:?}: > {}\n  got      at {:?}: > {}",
            diff.join(", "),
            at - self.start,
            render(want),
            sent_at - self.start,
            render(&shown),
        ))
    }

    fn inbound(&mut self, seg: &Seg) -> Result<(), String> {
        let base = self.our_isn.unwrap_or(0);
        let mut opts = Vec::new();
        for o in seg.options.iter().flatten() {
            let t: Vec<&str> = o.split_whitespace().collect();
            match t.as_slice() {
                ["nop"] => opts.push(1),
                ["eol"] => opts.push(0),
                ["mss", m] => {
                    opts.extend([2, 4]);
                    opts.extend(num::<u16>(m)?.to_be_bytes());
                }
                ["wscale", w] => opts.extend([3, 3, num::<u8>(w)?]),
                ["sackOK"] => opts.extend([4, 2]),
                ["TS", "val", v, "ecr", e] => {
                    opts.extend([8, 10]);
                    opts.extend(num::<u32>(v)?.to_be_bytes());
                    let ecr = if *e == "last" {
                        self.last_tsval
                    } else {
                        num::<u32>(e)?
                    };
                    opts.extend(ecr.to_be_bytes());
                }
                ["sack", blocks @ ..] => {
                    opts.extend([5, 2 + 8 * blocks.len() as u8]);
                    for b in blocks {
                        let (l, r) = b.split_once(':').ok_or("sack l:r")?;
                        opts.extend(base.wrapping_add(num(l)?).to_be_bytes());
                        opts.extend(base.wrapping_add(num(r)?).to_be_bytes());
                    }
                }
                ["raw", bytes @ ..] => {
                    for b in bytes {
                        opts.push(num::<u8>(b)?);
                    }
                }
                _ => return Err(format!("unknown option `{o}`")),
            }
        }
        while opts.len() % 4 != 0 {
            opts.push(0);
        }
        if opts.len() > 40 {
            return Err("options too long".into());
        }
        let hl = 20 + opts.len();
        let mut buf = vec![0u8; hl + seg.len as usize];
        for (i, b) in buf[hl..].iter_mut().enumerate() {
            *b = b'a' + (i % 26) as u8;
        }
        let mut p = TcpPacket::new_unchecked(&mut buf[..]);
        p.set_src_port(seg.port.unwrap_or(self.remote_port));
        p.set_dst_port(self.local_port);
        p.set_seq_number(xskd::wire::tcp::SeqNumber(seg.start));
        p.set_ack_number(xskd::wire::tcp::SeqNumber(seg.ack.map_or(0, |a| {
            if seg.ack_from_last {
                self.last_seq.wrapping_add(a)
            } else {
                base.wrapping_add(a)
            }
        })));
        p.set_header_len_and_flags(hl, seg.flags);
        p.set_window_len(seg.win.unwrap_or(65535));
        p.options_mut().copy_from_slice(&opts);
        p.fill_checksum(REMOTE, LOCAL);
        let mut sink = Sink::new();
        let now = self.now;
        self.last_result = self.tcp().on_segment(now, REMOTE, LOCAL, &buf, &mut sink);
        self.collect(sink);
        self.advance_to(now)
    }

    fn conn(&self) -> Result<ConnId, String> {
        self.conn
            .ok_or_else(|| "no connection (accept() or connect() first)".into())
    }

    fn call(&mut self, name: &str, arg: &str) -> Result<(), String> {
        match name {
            "listen" => {
                self.local_port = num(arg)?;
                let l = self.tcp().listen(num(arg)?).map_err(|e| e.to_string())?;
                self.listener = Some(l);
            }
            "unlisten" => {
                let l = self.listener.ok_or("no listener")?;
                self.tcp().unlisten(l).map_err(|e| e.to_string())?;
            }
            "accept" => {
                let l = self.listener.ok_or("no listener")?;
                self.conn = Some(self.tcp().accept(l).ok_or("accept(): nothing to accept")?);
            }
            "accept_none" => {
                let l = self.listener.ok_or("no listener")?;
                if let Some(c) = self.tcp().accept(l) {
                    return Err(format!("accept_none(): got {c:?}"));
                }
            }
            "connect" => {
                let a: SocketAddrV4 = arg.parse().map_err(|_| format!("bad address `{arg}`"))?;
                self.remote_port = a.port();
                let now = self.now;
                let mut sink = Sink::new();
                let c = self
                    .tcp()
                    .connect(now, a, &mut sink)
                    .map_err(|e| e.to_string())?;
                self.collect(sink);
                self.conn = Some(c);
            }
            "write" => {
                let n: usize = num(arg)?;
                let data: Vec<u8> = (0..n).map(|i| b'A' + (i % 26) as u8).collect();
                let c = self.conn()?;
                let got = self.tcp().send(c, &data).map_err(|e| e.to_string())?;
                if got != n {
                    return Err(format!("write({n}) wrote {got}"));
                }
            }
            "read" => {
                let n: usize = num(arg)?;
                let c = self.conn()?;
                let mut buf = vec![0u8; n + 1];
                let got = self.tcp().recv(c, &mut buf).map_err(|e| e.to_string())?;
                if got != n {
                    return Err(format!("read({n}) read {got}"));
                }
            }
            "read_eof" => {
                let c = self.conn()?;
                let r = self.tcp().recv(c, &mut [0u8; 16]);
                if r != Ok(0) {
                    return Err(format!("read_eof(): got {r:?}"));
                }
            }
            "read_error" => {
                let c = self.conn()?;
                let r = self.tcp().recv(c, &mut [0u8; 16]);
                if format!("{r:?}") != format!("Err({arg})") {
                    return Err(format!("read_error({arg}): got {r:?}"));
                }
            }
            "shutdown" => {
                let c = self.conn()?;
                self.tcp().shutdown_write(c).map_err(|e| e.to_string())?;
            }
            "close" => {
                let c = self.conn()?;
                self.tcp().close(c).map_err(|e| e.to_string())?;
            }
            "abort" => {
                let c = self.conn()?;
                self.tcp().abort(c).map_err(|e| e.to_string())?;
            }
            _ => return Err(format!("unknown call `{name}`")),
        }
        let now = self.now;
        self.advance_to(now)
    }

    fn check(&mut self, words: &[&str]) -> Result<(), String> {
        match words {
            ["state", want] => {
                let c = self.conn()?;
                let got = self.tcp().state(c).map_or("NONE", |s| s.as_str());
                let want = want.replace('_', "-");
                if got != want {
                    return Err(format!("state: expected {want}, got {got}"));
                }
            }
            ["conns", n] => {
                let got = self.tcp().connections().count();
                if got != num::<usize>(n)? {
                    return Err(format!("conns: expected {n}, got {got}"));
                }
            }
            ["counter", name, n] => {
                let dbg = format!("{:?}", self.tcp().counters());
                let key = format!("{name}: ");
                let i = dbg.find(&key).ok_or(format!("no counter `{name}`"))?;
                let v: String = dbg[i + key.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                if v != *n {
                    return Err(format!("counter {name}: expected {n}, got {v}"));
                }
            }
            ["last_ok"] => {
                if let Err(e) = self.last_result {
                    return Err(format!("last segment dropped: {e}"));
                }
            }
            ["last_drop", reason] => {
                let got = self.last_result.err().map(|e| e.as_str());
                if got != Some(*reason) {
                    return Err(format!("last_drop: expected {reason}, got {got:?}"));
                }
            }
            ["expect_none"] => {
                let now = self.now;
                self.advance_to(now)?;
                if let Some((t, b)) = self.queue.pop_front() {
                    let s = self.seg_of(&b)?;
                    return Err(format!(
                        "expected no output, got at {:?}: > {}",
                        t - self.start,
                        render(&s)
                    ));
                }
            }
            _ => return Err(format!("unknown line `{}`", words.join(" "))),
        }
        Ok(())
    }

    fn line(&mut self, line: &str) -> Result<(), String> {
        if let Some(rest) = line.strip_prefix("%config") {
            if self.tcp.is_some() {
                return Err("%config after the first event".into());
            }
            return rest.split_whitespace().try_for_each(|kv| self.config(kv));
        }
        let (time, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let t = if let Some(rel) = time.strip_prefix('+') {
            self.script_time + parse_secs(rel)?
        } else {
            self.start + parse_secs(time)?
        };
        self.script_time = t;
        if self.tcp.is_none() {
            self.now = self.start;
            self.tcp();
        }
        let (dir, body) = match rest.chars().next() {
            Some(c @ ('<' | '>')) => (Some(c), &rest[1..]),
            _ => (None, rest),
        };
        let (body, opts) = match (dir, body.split_once('<')) {
            (Some(_), Some((b, o))) => {
                let (o, tail) = o.split_once('>').ok_or("unclosed <options>")?;
                (format!("{b} {tail}"), Some(o.trim()))
            }
            _ => (body.to_string(), None),
        };
        let words: Vec<&str> = body.split_whitespace().collect();
        match dir {
            Some('<') => {
                self.advance_to(t)?;
                let seg = parse_seg(&words, opts)?;
                return self.inbound(&seg);
            }
            Some(_) => {
                let seg = parse_seg(&words, opts)?;
                self.expect_out(&seg, t)?;
                self.now = self.now.max(t);
                return Ok(());
            }
            None => {}
        }
        match words.first() {
            Some(w) if w.contains('(') => {
                self.advance_to(t)?;
                let (name, arg) = w.split_once('(').unwrap();
                self.call(name, arg.trim_end_matches(')'))
            }
            Some(_) => {
                self.advance_to(t)?;
                self.check(&words)
            }
            None => Err("empty event".into()),
        }
    }
}

/// Run a script; `Err` carries the failing line and a diff.
fn run_script(name: &str, text: &str) -> Result<(), String> {
    let mut r = Runner::new();
    for (no, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        r.line(line)
            .map_err(|e| format!("{name}:{}: `{line}`\n{e}", no + 1))?;
    }
    let now = r.now;
    r.advance_to(now)?;
    if let Some((t, b)) = r.queue.pop_front() {
        let s = r.seg_of(&b)?;
        return Err(format!(
            "{name}: unexpected output at end of script at {:?}: > {}",
            t - r.start,
            render(&s)
        ));
    }
    Ok(())
}

fn run_file(name: &str) {
    let path = format!(
        "{}/tests/tcp_scripts/{name}.pkt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if let Err(e) = run_script(name, &text) {
        panic!("\n{e}\n");
    }
}

macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        const ALL: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                run_file(stringify!($name));
            }
        )*
    };
}

scripts! {
    ack_outside_window_dropped,
    active_open_and_close,
    bad_flags_dropped,
    challenge_ack_rate_limited,
    close_wait_reaper,
    close_wait_segment_matrix,
    closed_port_answers_rst,
    closing_and_last_ack_rst,
    closing_segment_matrix,
    data_retransmit_backoff,
    established_segment_matrix,
    fin_wait2_reaper,
    fin_wait_rst,
    fin_wait_segment_matrix,
    half_close_peer_keeps_sending,
    half_close_we_keep_sending,
    keepalive_probes_then_drop,
    last_ack_segment_matrix,
    listen_segment_matrix,
    lost_final_ack_fin_retransmitted,
    passive_open_handshake_and_close,
    retransmitted_syn_gets_synack,
    rst_at_rcv_nxt_resets,
    rst_in_window_challenge_ack,
    rst_outside_window_dropped,
    seq_wrap_receive,
    simultaneous_close,
    simultaneous_open,
    syn_backoff_gives_up,
    syn_cookies_carry_options_in_timestamps,
    syn_cookies_when_syn_queue_full,
    syn_in_established_challenge_ack,
    syn_received_segment_matrix,
    syn_sent_segment_matrix,
    synack_backoff_gives_up,
    time_wait_fin_retransmit_restarts_timer,
    time_wait_ignores_rst,
    time_wait_reuse_higher_seq,
    time_wait_reuse_timestamp,
    time_wait_syn_not_newer_gets_ack,
    user_timeout_aborts,
}

#[test]
fn every_script_file_is_listed() {
    let dir = format!("{}/tests/tcp_scripts", env!("CARGO_MANIFEST_DIR"));
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pkt") {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            assert!(
                ALL.contains(&stem.as_str()),
                "{stem}.pkt is not in scripts!{{}}"
            );
        }
    }
}

#[test]
fn runner_wrong_expectation_fails_with_diff() {
    let text = "+0 listen(8080)\n+0 < S 0:0(0) win 1000\n+0 > S. 0:0(0) ack 2\n";
    let e = run_script("bad", text).unwrap_err();
    assert!(e.contains("mismatch in ack"), "{e}");
}

#[test]
fn runner_unexpected_output_fails() {
    let text = "+0 listen(8080)\n+0 < S 0:0(0) win 1000\n";
    let e = run_script("bad", text).unwrap_err();
    assert!(e.contains("unexpected output"), "{e}");
}

#[test]
fn runner_missing_output_fails() {
    let text = "+0 listen(8080)\n+0 > S. 0:0(0) ack 1\n";
    let e = run_script("bad", text).unwrap_err();
    assert!(e.contains("nothing was sent"), "{e}");
}

// ---------------------------------------------------------------------------
// Two `Tcp`s wired back to back, with the echo and discard services (compiled
// here from src/service until the library exports `service`).

mod stack {
    pub use xskd::stack::*;
}
mod time {
    pub use xskd::time::*;
}
// Accessors unused by these tests would warn in this crate only.
#[allow(dead_code)]
#[path = "../src/service/discard.rs"]
mod discard;
#[allow(dead_code)]
#[path = "../src/service/tcp_echo.rs"]
mod tcp_echo;

/// Client at REMOTE, server at LOCAL; `lose(n)` decides whether the n-th
/// segment on the wire is dropped.
struct Pair {
    client: Tcp,
    server: Tcp,
    /// Answers produced while receiving, delivered next round.
    to_server: Sink,
    to_client: Sink,
    now: Instant,
    wire_count: u64,
    lose: fn(u64) -> bool,
}

impl Pair {
    fn new(lose: fn(u64) -> bool) -> Self {
        Pair {
            client: Tcp::new(TcpConfig::default(), REMOTE, [1u8; 32], 1),
            server: Tcp::new(TcpConfig::default(), LOCAL, [2u8; 32], 2),
            to_server: Sink::new(),
            to_client: Sink::new(),
            now: Instant::from_secs(5),
            wire_count: 0,
            lose,
        }
    }

    /// Deliver everything in flight, run services, poll; advance the clock to
    /// the next deadline when idle. One call = one round.
    fn step(&mut self, services: &mut dyn FnMut(Instant, &mut Tcp)) {
        self.step_jump(services, true)
    }

    /// `jump`: the applications are idle too, so the clock may skip ahead.
    fn step_jump(&mut self, services: &mut dyn FnMut(Instant, &mut Tcp), jump: bool) {
        let mut c2s = std::mem::take(&mut self.to_server);
        let mut s2c = std::mem::take(&mut self.to_client);
        self.client.poll(self.now, &mut c2s);
        services(self.now, &mut self.server);
        self.server.poll(self.now, &mut s2c);
        let idle = c2s.is_empty() && s2c.is_empty();
        let idle = idle && self.to_client.is_empty() && self.to_server.is_empty();
        for (_, _, seg) in c2s {
            self.wire_count += 1;
            if !(self.lose)(self.wire_count) {
                let _ = self
                    .server
                    .on_segment(self.now, REMOTE, LOCAL, &seg, &mut self.to_client);
            }
        }
        for (_, _, seg) in s2c {
            self.wire_count += 1;
            if !(self.lose)(self.wire_count) {
                let _ = self
                    .client
                    .on_segment(self.now, LOCAL, REMOTE, &seg, &mut self.to_server);
            }
        }
        self.now += Duration::from_micros(100);
        if idle && jump {
            let next = [self.client.poll_at(), self.server.poll_at()]
                .into_iter()
                .flatten()
                .filter(|&t| t > self.now)
                .min();
            if let Some(t) = next {
                self.now = t;
            }
        }
    }
}

/// Send `data` through the echo service and read it back; returns the echo.
fn echo_roundtrip(lose: fn(u64) -> bool, data: &[u8]) -> (Vec<u8>, Pair, ConnId) {
    let mut p = Pair::new(lose);
    let mut echo = tcp_echo::TcpEcho::new(&mut p.server, 7).unwrap();
    let mut out = Sink::new();
    let c = p
        .client
        .connect(p.now, SocketAddrV4::new(LOCAL, 7), &mut out)
        .unwrap();
    for (_, _, seg) in out {
        let _ = p
            .server
            .on_segment(p.now, REMOTE, LOCAL, &seg, &mut p.to_client);
    }
    let (mut sent, mut got, mut shut) = (0, Vec::new(), false);
    let mut buf = vec![0u8; 8192];
    for _ in 0..200_000 {
        let mut busy = false;
        if sent < data.len() {
            if let Ok(n) = p.client.send(c, &data[sent..]) {
                sent += n;
                busy = n > 0;
            }
        } else if !shut {
            p.client.shutdown_write(c).unwrap();
            shut = true;
        }
        let r = p.client.recv(c, &mut buf);
        busy |= matches!(r, Ok(n) if n > 0);
        match r {
            Ok(0) => {
                if std::env::var("DEBUG_PAIR").is_ok() {
                    eprintln!("EOF at {:?} got {}", p.now, got.len());
                }
                break;
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        p.step_jump(&mut |now, tcp| echo.poll(now, tcp), !busy);
    }
    if std::env::var("DEBUG_PAIR").is_ok() {
        for i in p.client.connections().chain(p.server.connections()) {
            eprintln!("{i:?}");
        }
        eprintln!("{:?}\n{:?}", p.client.counters(), p.server.counters());
    }
    (got, p, c)
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn echo_service_echoes_bytes_exactly_and_both_sides_close() {
    let data = pattern(300_000);
    let (got, mut p, c) = echo_roundtrip(|_| false, &data);
    assert_eq!(got.len(), data.len());
    assert!(got == data, "echo differs");
    for _ in 0..100 {
        if p.server.connections().count() == 0 {
            break;
        }
        p.step(&mut |_, _| {});
    }
    // We closed first: TIME-WAIT on our side, nothing left on the server.
    assert_eq!(p.client.state(c).map(|s| s.as_str()), Some("TIME-WAIT"));
    assert_eq!(p.server.connections().count(), 0);
    assert_eq!(p.server.counters().retrans_segs, 0);
    assert_eq!(p.server.counters().out_rsts, 0);
    assert_eq!(p.client.counters().out_rsts, 0);
}

#[test]
fn echo_service_survives_loss_with_retransmission() {
    let data = pattern(100_000);
    let (got, mut p, _) = echo_roundtrip(|n| n % 13 == 5, &data);
    assert!(
        got == data,
        "echo differs under loss ({} of {})",
        got.len(),
        data.len()
    );
    assert!(p.client.counters().retrans_segs + p.server.counters().retrans_segs > 0);
    for _ in 0..100 {
        p.step(&mut |_, _| {});
    }
    assert_eq!(p.server.connections().count(), 0);
}

#[test]
fn discard_service_reads_everything_and_closes_on_peer_close() {
    let mut p = Pair::new(|_| false);
    let mut d = discard::Discard::new(&mut p.server, 9).unwrap();
    let mut out = Sink::new();
    let c = p
        .client
        .connect(p.now, SocketAddrV4::new(LOCAL, 9), &mut out)
        .unwrap();
    for (_, _, seg) in out {
        let _ = p
            .server
            .on_segment(p.now, REMOTE, LOCAL, &seg, &mut p.to_client);
    }
    let data = pattern(200_000);
    let mut sent = 0;
    for _ in 0..100_000 {
        if sent < data.len() {
            if let Ok(n) = p.client.send(c, &data[sent..]) {
                sent += n;
            }
        } else {
            let _ = p.client.close(c);
        }
        p.step(&mut |now, tcp| d.poll(now, tcp));
        if sent == data.len() && p.server.connections().count() == 0 {
            break;
        }
    }
    assert_eq!(d.bytes_discarded(), 200_000);
    assert_eq!(d.connections(), 0);
    assert_eq!(p.server.connections().count(), 0);
}
