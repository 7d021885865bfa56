//! Unit tests of the TLS part's pure pieces: s_time and s_client output,
//! the pinned suite and group on both sides, nginx's TLS server block,
//! subjects and report rows.

use std::path::PathBuf;

use super::http;
use super::report;
use super::servers::Subject;
use super::tests::{args, cells, http_sample, info};
use super::{loads, subjects, tls, Generator, Load, Part, PollArg, Sample};
const S_TIME_OUT: &str = "Collecting connection statistics for 5 seconds
*****************************************************

2030 connections in 0.99s; 2050.51 connections/user sec, bytes read 0
2030 connections in 6 real seconds, 0 bytes read per connection
";

#[test]
fn s_time_output_real_seconds_line_gives_the_connections() {
    assert_eq!(tls::parse_s_time(S_TIME_OUT).expect("parses"), 2030);
    // Only the user-CPU line: no wall-clock count to trust.
    let user_only = "1 connections in 0.99s; 2050.51 connections/user sec, bytes read 0\n";
    assert!(tls::parse_s_time(user_only).is_err());
    assert!(tls::parse_s_time("ERROR\nconnect:errno=111\n").is_err());
    assert!(tls::parse_s_time("x connections in 6 real seconds, 0 bytes\n").is_err());
}

#[test]
fn s_client_brief_summary_gives_suite_and_group() {
    let brief = "depth=0 CN = 198.18.0.1
verify error:num=18:self-signed certificate
CONNECTION ESTABLISHED
Protocol version: TLSv1.3
Ciphersuite: TLS_AES_128_GCM_SHA256
Peer certificate: CN = 198.18.0.1
Signature type: ECDSA
Server Temp Key: X25519, 253 bits
";
    assert_eq!(
        tls::parse_s_client(brief).expect("parses"),
        ("TLS_AES_128_GCM_SHA256".to_string(), "X25519".to_string())
    );
    let newer = "Ciphersuite: TLS_AES_256_GCM_SHA384\nNegotiated TLS1.3 group: secp256r1\n";
    assert_eq!(
        tls::parse_s_client(newer).expect("parses"),
        (
            "TLS_AES_256_GCM_SHA384".to_string(),
            "secp256r1".to_string()
        )
    );
    assert!(tls::parse_s_client("connect:errno=111\n").is_err());
}

fn tls_files() -> tls::TlsFiles {
    tls::TlsFiles {
        cert: PathBuf::from("/lab/tls-cert.pem"),
        key: PathBuf::from("/lab/tls-key.pem"),
        client_conf: PathBuf::from("/lab/openssl-client.cnf"),
    }
}

#[test]
fn tls_configs_pin_one_suite_one_group_and_no_resumption_on_both_sides() {
    let n = tls::nginx_server("198.18.0.3:443", std::path::Path::new("/www"), &tls_files());
    for want in [
        "listen 198.18.0.3:443 ssl",
        "root /www;",
        "ssl_certificate /lab/tls-cert.pem;",
        "ssl_certificate_key /lab/tls-key.pem;",
        "ssl_protocols TLSv1.3;",
        "ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;",
        "ssl_ecdh_curve X25519;",
        "ssl_session_tickets off;",
        "ssl_session_cache off;",
    ] {
        assert!(n.contains(want), "{want:?} missing from\n{n}");
    }
    let x: toml::Value = toml::from_str(&tls::xskd_section(&tls_files())).expect("valid TOML");
    let h = &x["https"];
    assert_eq!(h["cert"].as_str(), Some("/lab/tls-cert.pem"));
    assert_eq!(h["key"].as_str(), Some("/lab/tls-key.pem"));
    assert_eq!(h["session_cache"].as_integer(), Some(0));
    assert_eq!(h["tickets"].as_bool(), Some(false));
    assert_eq!(h["port"].as_integer(), Some(443));
    let c = tls::client_conf_text();
    for want in [
        "Ciphersuites = TLS_AES_128_GCM_SHA256",
        "Groups = X25519",
        "MinProtocol = TLSv1.3",
        "system_default = system_default_sect",
    ] {
        assert!(c.contains(want), "{want:?} missing from\n{c}");
    }
    let a = tls::s_time_args("198.18.0.1:443", 0);
    assert!(
        a.contains(&"-new".to_string()) && !a.contains(&"-reuse".to_string()),
        "{a:?}"
    );
    assert_eq!(a.last().map(String::as_str), Some("1"), "at least 1 s");
}

#[test]
fn nginx_conf_with_tls_server_keeps_it_inside_the_http_block() {
    let files = tls_files();
    let mut text = http::nginx_conf(
        std::path::Path::new("/d"),
        std::path::Path::new("/r"),
        "198.18.0.3:80",
        0,
    );
    let at = text.trim_end().rfind('}').expect("http block");
    text.insert_str(
        at,
        &tls::nginx_server("198.18.0.3:443", std::path::Path::new("/r"), &files),
    );
    let opens = text.matches('{').count();
    assert_eq!(opens, text.matches('}').count(), "balanced:\n{text}");
    let http_at = text.find("http {").expect("http block");
    let ssl_at = text.find("ssl_certificate ").expect("ssl server");
    assert!(ssl_at > http_at && text.trim_end().ends_with('}'), "{text}");
}

#[test]
fn subjects_tls_part_measures_both_polls_against_nginx_with_tls_loads() {
    assert_eq!(
        subjects(&[Part::Tls], PollArg::Both),
        [Subject::Xskd, Subject::XskdBackoff, Subject::Nginx]
    );
    assert_eq!(
        subjects(&[Part::Tls], PollArg::Backoff),
        [Subject::XskdBackoff, Subject::Nginx]
    );
    assert_eq!(
        subjects(&[Part::Tls], PollArg::Busy),
        [Subject::Xskd, Subject::Nginx]
    );
    let tls_loads = [
        Load::TlsFullHandshake,
        Load::HttpsCloseSmall,
        Load::HttpsKeepAliveSmall,
    ];
    for s in [Subject::Xskd, Subject::XskdBackoff, Subject::Nginx] {
        assert_eq!(
            loads(s, &[Part::Tls], PollArg::Both, Generator::Xdp),
            tls_loads,
            "{s:?}"
        );
    }
    // The http part alone measures no TLS load and no back-off xskd.
    let x = loads(Subject::Xskd, &[Part::Http], PollArg::Both, Generator::Xdp);
    assert!(!x.iter().any(|l| l.tls()), "{x:?}");
    assert!(Load::HttpsKeepAliveSmall.http() == Some((super::SMALL_OBJECT, false)));
    assert!(Load::HttpsCloseSmall.http() == Some((super::SMALL_OBJECT, true)));
    assert!(Load::TlsFullHandshake.http().is_none() && Load::TlsFullHandshake.tls());
}

fn handshake_sample(subject: Subject, per_sec: f64, cpu_s: f64) -> Sample {
    Sample {
        round: 0,
        subject,
        load: Load::TlsFullHandshake,
        latency: None,
        throughput: None,
        http: None,
        bulk: None,
        handshakes: Some(tls::HandshakeResult {
            handshakes: per_sec as u64,
            seconds: 1.0,
            per_sec,
            clients: 4,
            suite: tls::SUITE.into(),
            group: tls::GROUP.into(),
        }),
        tx: None,
        worker: None,
        ops: per_sec as u64,
        server_cpu_s: cpu_s,
        server_core_busy_s: cpu_s,
        wall_s: 2.0,
        scrape: None,
    }
}

#[test]
fn table_tls_rows_hold_handshakes_to_nginx_and_keepalive_to_one_and_a_half() {
    let samples = vec![
        handshake_sample(Subject::Xskd, 2_000.0, 2.0),
        handshake_sample(Subject::Nginx, 2_500.0, 0.5),
        http_sample(Subject::Xskd, Load::HttpsKeepAliveSmall, 30_000.0, 900.0),
        http_sample(Subject::Nginx, Load::HttpsKeepAliveSmall, 20_000.0, 1000.0),
    ];
    let t = report::table(&samples, &args(PollArg::Busy), &[Part::Tls], &info());
    assert!(t.contains(report::TLS_SECTION), "{t}");
    assert_eq!(
        cells(&t, "TLS full handshakes/s (s_time -new x4)")[1..],
        ["2000", "2500", "0.80x", ">= 1x", "no"]
    );
    // 0.5 s of CPU over 2500 handshakes.
    assert_eq!(
        cells(&t, "server CPU per full handshake (us, process)")[1..3],
        ["1000.0", "200.0"]
    );
    assert_eq!(
        cells(&t, "server process CPU during handshakes (% of a core)")[1..3],
        ["100", "25"]
    );
    assert_eq!(
        cells(&t, "HTTPS keep-alive 64 B requests/s (wrk -c16)")[1..],
        ["30000", "20000", "1.50x", ">= 1.5x", "yes"]
    );
    assert_eq!(
        cells(&t, "HTTPS keep-alive 64 B p99 (us)")[1..3],
        ["900.0", "1000.0"]
    );
    // Not measured: dashes.
    assert_eq!(
        cells(
            &t,
            "HTTPS close 64 B requests/s (wrk -c16, full handshake each)"
        )[1],
        "-"
    );
    assert!(
        t.contains("TLS_AES_128_GCM_SHA256 and an X25519"),
        "notes: {t}"
    );
    assert!(
        report::summary(&samples[0]).contains("2000 handshakes/s"),
        "{}",
        report::summary(&samples[0])
    );
}
