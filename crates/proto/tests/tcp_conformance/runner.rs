//! The script runner: parses packetdrill-style lines and drives `Tcp`.

use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::Duration;

use xskd_proto::stack::tcp::{
    CongestionAlgorithm, ConnId, KeepaliveConfig, ListenerId, Tcp, TcpConfig,
};
use xskd_proto::stack::DropReason;
use xskd_proto::time::Instant;
use xskd_proto::wire::tcp::{flags, TcpOption, TcpOptions, TcpPacket, TcpRepr};

pub use xskd_proto::testkit::{CLIENT as REMOTE, SERVER as LOCAL};
const TOLERANCE: Duration = Duration::from_millis(10);

pub use xskd_proto::testkit::Segments as Sink;

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
            // Scripts see every ACK at once unless they opt into delayed
            // ACKs with `%config delayed_ack=0.04`: most scripts are about
            // the state machine, not ACK pacing.
            // No autotuning unless a script asks for it (`*_buffer_max`):
            // windows and the window scale then follow `*_buffer` alone.
            cfg: TcpConfig {
                delayed_ack: None,
                send_buffer_max: TcpConfig::default().send_buffer,
                recv_buffer_max: TcpConfig::default().recv_buffer,
                ..TcpConfig::default()
            },
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
            "max_time_wait" => c.max_time_wait = num(v)?,
            "msl" => c.msl = parse_secs(v)?,
            "fin_wait2_timeout" => c.fin_wait2_timeout = parse_secs(v)?,
            "close_wait_timeout" => c.close_wait_timeout = parse_secs(v)?,
            "syn_retries" => c.syn_retries = num(v)?,
            "synack_retries" => c.synack_retries = num(v)?,
            "max_retries" => c.max_retries = num(v)?,
            "rto_min" => c.rto_min = parse_secs(v)?,
            "rto_initial" => c.rto_initial = parse_secs(v)?,
            "user_timeout" => c.user_timeout = parse_secs(v)?,
            "send_buffer" => {
                // Autotuning stays off; a later `send_buffer_max` turns it on.
                c.send_buffer = num(v)?;
                c.send_buffer_max = c.send_buffer;
            }
            "recv_buffer" => {
                c.recv_buffer = num(v)?;
                c.recv_buffer_max = c.recv_buffer;
            }
            "send_buffer_max" => c.send_buffer_max = num(v)?,
            "recv_buffer_max" => c.recv_buffer_max = num(v)?,
            "buffer_budget" => c.buffer_budget = num(v)?,
            "challenge_ack_per_sec" => c.challenge_ack_per_sec = num(v)?,
            "syn_cookies" => c.syn_cookies = v == "1",
            "timestamps" => c.timestamps = v == "1",
            "window_scaling" => c.window_scaling = v == "1",
            "sack" => c.sack = v == "1",
            "delayed_ack" => {
                let d = parse_secs(v)?;
                c.delayed_ack = (!d.is_zero()).then_some(d);
            }
            "congestion" => {
                c.congestion = match v {
                    "newreno" => CongestionAlgorithm::NewReno,
                    "cubic" => CongestionAlgorithm::Cubic,
                    _ => return Err(format!("unknown congestion `{v}`")),
                }
            }
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
        if r.control == xskd_proto::wire::tcp::Control::Syn && self.our_isn.is_none() {
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
                TcpOption::SackRange(blocks) => {
                    let b: Vec<String> = blocks
                        .iter()
                        .flatten()
                        .map(|(l, r)| format!("{}:{}", l.0, r.0))
                        .collect();
                    format!("sack {}", b.join(" "))
                }
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
            // `<...>` accepts any options; `<>` means none.
            if !w.iter().any(|o| o == "...") && normalise(w) != normalise(g) {
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
        p.set_seq_number(xskd_proto::wire::tcp::SeqNumber(seg.start));
        p.set_ack_number(xskd_proto::wire::tcp::SeqNumber(seg.ack.map_or(0, |a| {
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
            "nodelay" => {
                let c = self.conn()?;
                self.tcp()
                    .set_nodelay(c, arg == "1")
                    .map_err(|e| e.to_string())?;
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
pub fn run_script(name: &str, text: &str) -> Result<(), String> {
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
