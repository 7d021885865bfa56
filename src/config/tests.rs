use super::*;

const MINIMAL: &str = "[interface]\nname = \"veth0\"\n[address]\nipv4 = \"198.18.0.1/24\"\n";

fn with(extra_interface: &str, extra_address: &str, rest: &str) -> String {
    format!(
        "[interface]\nname = \"veth0\"\n{extra_interface}\n[address]\nipv4 = \"198.18.0.1/24\"\n{extra_address}\n{rest}"
    )
}

fn err_key(text: &str) -> &'static str {
    Config::from_toml(text)
        .expect_err("config should be rejected")
        .key()
        .expect("error names a key")
}

#[test]
fn example_config_in_repo_is_valid() {
    let text = include_str!("../../config/xskd.toml");
    let c = Config::from_toml(text).expect("config/xskd.toml must stay valid");
    assert_eq!(
        c.interface.queues,
        vec![QueueConfig {
            queue: 0,
            core: Some(1)
        }]
    );
    assert_eq!(c.services.udp_echo_port, 7);
}

#[test]
fn minimal_config_gets_defaults() {
    let c = Config::from_toml(MINIMAL).unwrap();
    assert_eq!(c.interface.xdp_mode, XdpMode::Native);
    assert_eq!(c.interface.zero_copy, ZeroCopy::Auto);
    assert_eq!(c.umem.frame_size, 4096);
    assert_eq!(
        c.ipv4(),
        Ipv4Cidr {
            addr: Ipv4Addr::new(198, 18, 0, 1),
            prefix_len: 24
        }
    );
    assert_eq!(c.admin.listen, Some("127.0.0.1:9100".parse().unwrap()));
}

#[test]
fn missing_required_key_is_a_syntax_error_naming_it() {
    let e = Config::from_toml("[interface]\nname = \"veth0\"\n").unwrap_err();
    assert!(e.to_string().contains("address"), "{e}");
}

#[test]
fn unknown_key_is_rejected_with_its_name() {
    let e = Config::from_toml(&with("colour = \"blue\"", "", "")).unwrap_err();
    assert!(e.to_string().contains("colour"), "{e}");
}

#[test]
fn bad_values_name_their_key() {
    assert_eq!(
        err_key(&with("", "", "").replace("198.18.0.1/24", "198.18.0.1")),
        "address.ipv4"
    );
    assert_eq!(
        err_key(&with("", "", "").replace("198.18.0.1/24", "224.0.0.1/4")),
        "address.ipv4"
    );
    assert_eq!(
        err_key(&with("", "mac = \"01:00:5e:00:00:01\"", "")),
        "address.mac"
    );
    assert_eq!(err_key(&with("", "mac = \"zz\"", "")), "address.mac");
    assert_eq!(
        err_key(&with("", "gateway = \"10.0.0.1\"", "")),
        "address.gateway"
    );
    assert_eq!(err_key(&with("", "mtu = 100", "")), "address.mtu");
    assert_eq!(err_key(&with("queues = []", "", "")), "interface.queues");
    assert_eq!(
        err_key(&with("queues = [{ queue = 1 }, { queue = 1 }]", "", "")),
        "interface.queues.queue"
    );
    assert_eq!(
        err_key(&with("queues = [{ queue = 64 }]", "", "")),
        "interface.queues.queue"
    );
    assert_eq!(err_key(&MINIMAL.replace("veth0", "")), "interface.name");
    assert_eq!(
        err_key(&MINIMAL.replace("veth0", "a-name-that-is-far-too-long")),
        "interface.name"
    );
    assert_eq!(
        err_key(&with("", "", "[umem]\nframe_size = 3000")),
        "umem.frame_size"
    );
    assert_eq!(
        err_key(&with("", "", "[umem]\nrx_ring = 1000")),
        "umem.rx_ring"
    );
    assert_eq!(
        err_key(&with("", "", "[umem]\nframe_count = 100")),
        "umem.frame_count"
    );
    assert_eq!(err_key(&with("", "", "[umem]\nbatch = 0")), "umem.batch");
    assert_eq!(
        err_key(&with("", "mtu = 4000", "[umem]\nframe_size = 2048")),
        "address.mtu"
    );
}

#[test]
fn error_message_says_how_to_fix() {
    let e = Config::from_toml(&with("", "", "[umem]\nframe_size = 3000")).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("umem.frame_size") && msg.contains("2048 or 4096"),
        "{msg}"
    );
}

#[test]
fn enums_parse_lowercase() {
    let c = Config::from_toml(&with(
        "xdp_mode = \"generic\"\nzero_copy = \"off\"",
        "",
        "[worker]\npoll = \"backoff\"",
    ))
    .unwrap();
    assert_eq!(c.interface.xdp_mode, XdpMode::Generic);
    assert_eq!(c.interface.zero_copy, ZeroCopy::Off);
    assert_eq!(c.worker.poll, PollMode::Backoff);
    assert!(Config::from_toml(&with("xdp_mode = \"turbo\"", "", "")).is_err());
}

#[test]
fn mac_parser_accepts_only_six_hex_pairs() {
    assert_eq!(
        validate::parse_mac("02:00:00:00:00:0a"),
        Some([2, 0, 0, 0, 0, 10])
    );
    assert_eq!(validate::parse_mac("02:00:00:00:00"), None);
    assert_eq!(validate::parse_mac("02:00:00:00:00:00:00"), None);
    assert_eq!(validate::parse_mac("2:00:00:00:00:00"), None);
}

#[test]
fn tcp_section_overrides_defaults_and_is_validated() {
    let c = Config::from_toml(&with(
        "",
        "",
        "[tcp]\nmsl_secs = 5\nsyn_queue = 16\nkeepalive_idle_secs = 30\nrto_min_ms = 100",
    ))
    .unwrap();
    let t = c.tcp.to_tcp_config();
    assert_eq!(t.msl, std::time::Duration::from_secs(5));
    assert_eq!(t.syn_queue, 16);
    assert_eq!(t.rto_min, std::time::Duration::from_millis(100));
    assert_eq!(
        t.keepalive.unwrap().idle,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(
        err_key(&with("", "", "[tcp]\nrto_min_ms = 0")),
        "tcp.rto_min_ms"
    );
    assert_eq!(
        err_key(&with("", "", "[tcp]\nmax_conns = 0")),
        "tcp.max_conns"
    );
    assert_eq!(
        err_key(&with("", "", "[tcp]\nrto_initial_ms = 100000")),
        "tcp.rto_initial_ms"
    );
    assert!(
        Config::from_toml(&with("", "", "[tcp]\nmsl = 5")).is_err(),
        "unknown key"
    );
}

#[test]
fn autotuning_limits_are_checked_and_a_large_start_raises_its_maximum() {
    let c = Config::from_toml(&with("", "", "[tcp]\nsend_buffer = 8388608")).unwrap();
    let t = c.tcp.to_tcp_config();
    assert_eq!(t.send_buffer_max, 8 << 20, "no autotuning past the start");
    assert_eq!(t.recv_buffer_max, 6 << 20, "the default maximum");
    let c = Config::from_toml(&with("", "", "[tcp]\nrecv_buffer_max = 1048576")).unwrap();
    assert_eq!(c.tcp.to_tcp_config().recv_buffer_max, 1 << 20);
    assert_eq!(
        err_key(&with(
            "",
            "",
            "[tcp]\nsend_buffer = 65536\nsend_buffer_max = 4096"
        )),
        "tcp.send_buffer_max"
    );
    assert_eq!(
        err_key(&with("", "", "[tcp]\nbuffer_budget = 1000")),
        "tcp.buffer_budget"
    );
}

#[test]
fn dns_section_is_optional_and_validated() {
    assert!(Config::from_toml(MINIMAL).unwrap().dns.is_none());
    let ok = with(
        "",
        "",
        "[dns]\nzone = \"xskd.test.\"\nrecords = [{ name = \"www\", ipv4 = \"198.18.0.1\" }]",
    );
    assert_eq!(Config::from_toml(&ok).unwrap().dns.unwrap().port, 53);
    let bad = with("", "", "[dns]\nzone = \"xskd.test.\"\nrecords = [{ name = \"www.example.com.\", ipv4 = \"198.18.0.1\" }]");
    let e = Config::from_toml(&bad).unwrap_err().to_string();
    assert!(e.contains("dns.records[0].name"), "{e}");
}

#[test]
fn impair_section_absent_is_none_and_present_is_validated() {
    assert!(Config::from_toml(MINIMAL).unwrap().impair.is_none());
    let c = Config::from_toml(&with(
        "",
        "",
        "[impair]\nseed = 3\n[impair.tx]\ndrop = 0.01\nreorder = 0.05\n",
    ))
    .unwrap();
    let imp = c.impair.expect("[impair] present");
    assert_eq!((imp.seed, imp.tx.drop, imp.tx.reorder), (3, 0.01, 0.05));
    assert!(Config::from_toml(&with("", "", "[impair]\n"))
        .unwrap()
        .impair
        .is_some());
    assert_eq!(
        err_key(&with("", "", "[impair.rx]\ncorrupt = 2.0\n")),
        "impair.rx.corrupt"
    );
    assert!(Config::from_toml(&with("", "", "[impair.rx]\nlos = 0.1\n")).is_err());
}

#[test]
fn config_with_https_on_the_http_port_is_refused_naming_https_port() {
    let base = "[interface]\nname = \"eth0\"\n[address]\nipv4 = \"198.18.0.1/24\"\n";
    let ok = crate::config::Config::from_toml(&format!("{base}[https]\n")).unwrap();
    assert_eq!(ok.https.unwrap().port, 443);
    let e = crate::config::Config::from_toml(&format!("{base}[https]\nport = 80\n")).unwrap_err();
    assert_eq!(e.key(), Some("https.port"), "{e}");
    let none = crate::config::Config::from_toml(base).unwrap();
    assert!(none.https.is_none(), "absent = off");
}

#[test]
fn ephemeral_ports_must_leave_every_worker_a_usable_slice() {
    let two = "queues = [{ queue = 0 }, { queue = 1 }]";
    let narrow = "[tcp]\nephemeral_ports = [60000, 60400]";
    let one = Config::from_toml(&with("", "", narrow)).expect("401 ports for one worker");
    assert_eq!(one.tcp.to_tcp_config().ephemeral_ports, (60000, 60400));
    let e = Config::from_toml(&with(two, "", narrow)).unwrap_err();
    assert_eq!(e.key(), Some("tcp.ephemeral_ports"));
    let msg = e.to_string();
    assert!(
        msg.contains("2 workers") && msg.contains("200 each") && msg.contains("widen the range"),
        "{msg}"
    );
    assert!(
        Config::from_toml(&with(two, "", "")).is_ok(),
        "the default range fits two"
    );
    assert_eq!(
        err_key(&with("", "", "[tcp]\nephemeral_ports = [0, 100]")),
        "tcp.ephemeral_ports"
    );
}
