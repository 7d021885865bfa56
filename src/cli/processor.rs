//! Builds each worker's processor from the config: the stack with its
//! services, or the bare reflector.

use anyhow::{bail, Context, Result};
use xskd::config::Config;
use xskd::service::discard::Discard;
use xskd::service::dns_tcp::DnsTcp;
use xskd::service::dns_udp::DnsUdp;
use xskd::service::http::{HttpConfig, HttpService, SharedStore, Store, StoreConfig};
use xskd::service::https::{HttpsService, HttpsSetup};
use xskd::service::tcp_echo::TcpEcho;
use xskd::service::UdpEcho;
use xskd::stack::{Shard, Stack, StackConfig};
use xskd::wire::EthernetAddress;
use xskd::worker::node::{Node, TcpApp};
use xskd::worker::reflector::Reflector;
use xskd::worker::Place;

pub struct StackSetup {
    base: StackConfig,
    services: xskd::config::ServicesConfig,
    dns: Option<xskd::service::dns::DnsConfig>,
    /// One DNS cookie secret for all workers.
    dns_cookie_secret: [u8; 16],
    /// Wall-clock seconds at the monotonic clock's zero.
    unix_at_zero: u64,
    /// One object store for the whole daemon.
    store: SharedStore,
    http: HttpConfig,
    /// Built once; its `Arc<rustls::ServerConfig>` is shared by the workers.
    https: Option<HttpsSetup>,
    /// One key for the fragment owner hash, so all workers agree.
    frag_key: u64,
}

impl StackSetup {
    pub fn from_config(config: &Config) -> Result<Self> {
        let iface = &config.interface.name;
        let mac = match &config.address.mac {
            Some(m) => xskd::config::parse_mac_str(m).context("address.mac")?,
            None => match xskd::datapath::iface::mac_address(iface) {
                Some(m) => m,
                None => bail!(
                    "cannot read the MAC of {iface} (set address.mac, or check interface.name)"
                ),
            },
        };
        let cidr = config.ipv4();
        let mut base = StackConfig::new(EthernetAddress(mac), cidr.addr, cidr.prefix_len);
        base.gateway = config.address.gateway;
        base.mtu = config.address.mtu;
        base.tcp = config.tcp.to_tcp_config();
        let unix_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mono_secs = xskd::worker::clock::monotonic().as_nanos() / 1_000_000_000;
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mono = std::time::Duration::from_nanos(xskd::worker::clock::monotonic().as_nanos());
        let h = &config.http;
        let http = HttpConfig {
            max_body: h.max_body_bytes,
            max_header_bytes: h.max_header_bytes,
            header_timeout: std::time::Duration::from_millis(h.header_timeout_ms),
            body_timeout: std::time::Duration::from_millis(h.body_timeout_ms),
            idle_timeout: std::time::Duration::from_millis(h.idle_timeout_ms),
            unix_time_at_zero: wall.saturating_sub(mono),
            ..HttpConfig::default()
        };
        let store = Store::shared(StoreConfig {
            max_bytes: h.store_max_bytes,
            max_objects: h.store_max_objects,
            ..StoreConfig::default()
        });
        if let Some(dir) = &h.preload_dir {
            let n = store
                .preload(dir)
                .with_context(|| format!("http.preload_dir = {:?}", dir.display()))?;
            tracing::info!(files = n, dir = %dir.display(), "object store preloaded");
        }
        let https = match &config.https {
            Some(sec) => Some(https_setup(sec, cidr.addr)?),
            None => None,
        };
        Ok(StackSetup {
            https,
            store,
            http,
            base,
            services: config.services.clone(),
            dns: config.dns.clone(),
            dns_cookie_secret: rand::random(),
            frag_key: rand::random(),
            unix_at_zero: unix_now.saturating_sub(mono_secs),
        })
    }

    /// The processor of one queue. Secrets differ per worker and per run.
    pub fn make(&self, place: Place) -> Result<Node> {
        let queue = place.queue;
        let mut cfg = self.base.clone();
        cfg.shard = Shard {
            index: place.index as u16,
            count: place.count as u16,
            frag_key: self.frag_key,
        };
        cfg.arp.hash_key = rand::random();
        // Distinct IPv4 ident ranges per worker (RFC 6864: unique per
        // source/destination/protocol while a datagram may be in flight).
        cfg.ident_seed = ((queue as u16) << 12) | (rand::random::<u16>() & 0x0fff);
        cfg.tcp_secret = rand::random();
        cfg.tcp_seed = rand::random();
        let mut stack = Stack::new(cfg);
        let sv = &self.services;
        let mut udp = Vec::new();
        if sv.udp_echo_port != 0 {
            stack
                .bind_udp(sv.udp_echo_port, Box::new(UdpEcho::new()))
                .context("services.udp_echo_port")?;
            udp.push((sv.udp_echo_port, "udp_echo"));
        }
        if let Some(dns) = &self.dns {
            let svc =
                DnsUdp::new(dns, self.dns_cookie_secret, self.unix_at_zero).context("[dns]")?;
            let port = svc.port();
            stack.bind_udp(port, Box::new(svc)).context("dns.port")?;
            udp.push((port, "dns"));
        }
        let mut tcp = Vec::new();
        if sv.tcp_echo_port != 0 {
            let echo = TcpEcho::new(stack.tcp_mut(), sv.tcp_echo_port)
                .context("services.tcp_echo_port")?;
            tcp.push(TcpApp::Echo(echo));
        }
        if sv.discard_port != 0 {
            let d =
                Discard::new(stack.tcp_mut(), sv.discard_port).context("services.discard_port")?;
            tcp.push(TcpApp::Discard(d));
        }
        if sv.http_port != 0 {
            let mut h = HttpService::new(
                stack.tcp_mut(),
                sv.http_port,
                self.store.clone(),
                self.http.clone(),
            )
            .context("services.http_port")?;
            h.set_clock(xskd::worker::clock::monotonic_at);
            tcp.push(TcpApp::Http(Box::new(h)));
        }
        if let Some(dns) = self.dns.as_ref().filter(|d| d.tcp) {
            let d = DnsTcp::new(stack.tcp_mut(), dns).context("dns.port (TCP)")?;
            tcp.push(TcpApp::Dns(Box::new(d)));
        }
        if let Some(hs) = &self.https {
            let mut h = HttpsService::new(
                stack.tcp_mut(),
                hs.port,
                self.store.clone(),
                self.http.clone(),
                hs.config.clone(),
            )
            .context("https.port")?;
            h.set_clock(xskd::worker::clock::monotonic_at);
            tcp.push(TcpApp::Https(Box::new(h)));
        }
        Ok(Node::new(stack, udp, tcp))
    }
}

fn https_setup(sec: &xskd::config::HttpsSection, addr: std::net::Ipv4Addr) -> Result<HttpsSetup> {
    let setup = HttpsSetup::from_section(sec, addr, xskd::worker::clock::unix_epoch())
        .context("[https]")?;
    if setup.generated_pem.is_some() {
        tracing::warn!(
            %addr,
            written_to = ?sec.write_generated_cert,
            "https: serving a generated SELF-SIGNED certificate: for tests and demos only, \
             not for production (set https.cert and https.key)"
        );
    }
    tracing::info!(
        port = setup.port,
        tls12 = sec.tls12,
        "https: TLS 1.3 via rustls (ring)"
    );
    Ok(setup)
}

pub fn reflector(_place: Place) -> Result<Reflector> {
    Ok(Reflector::default())
}
