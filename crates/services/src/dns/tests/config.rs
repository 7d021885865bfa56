//! Configuration: names, defaults, errors that name the key.

use super::*;

fn build(cfg: &DnsConfig) -> Result<DnsResponder, DnsConfigError> {
    DnsResponder::with_cookie_secret(cfg, SECRET)
}

#[test]
fn config_example_builds_with_defaults() {
    let r = DnsResponder::new(&example_config()).unwrap();
    assert_eq!(r.port(), 53);
    // apex, www
    assert_eq!(r.zone.node_count(), 2);
}

#[test]
fn config_names_absolute_relative_and_apex_accepted() {
    let mut cfg = example_config();
    cfg.zone = "XSKD.test".to_owned(); // no trailing dot, mixed case
    cfg.records = vec![
        rec("api.xskd.test.", [198, 18, 0, 3]),
        rec("@", [198, 18, 0, 4]),
    ];
    let mut r = build(&cfg).unwrap();
    let (_, m) = ask(&mut r, &query("api.xskd.test.", RecordType::A));
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 3)]);
    let (_, m) = ask(&mut r, &query("xskd.test.", RecordType::A));
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 4)]);
}

#[test]
fn config_bad_values_rejected_with_key_and_fix() {
    let base = example_config();
    let with = |f: &dyn Fn(&mut DnsConfig)| {
        let mut c = base.clone();
        f(&mut c);
        build(&c).unwrap_err()
    };
    let e = with(&|c| c.zone = ".".into());
    assert!(matches!(e, DnsConfigError::BadZone { .. }), "{e}");
    assert!(e.to_string().contains("dns.zone"));
    let e = with(&|c| c.zone = "bad..zone".into());
    assert!(matches!(e, DnsConfigError::BadZone { .. }), "{e}");
    let e = with(&|c| c.records.push(rec("www.example.com.", [1, 2, 3, 4])));
    assert!(
        matches!(e, DnsConfigError::OutsideZone { index: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("dns.records[1].name"));
    let e = with(&|c| c.records.push(rec("api.xskd.test", [1, 2, 3, 4])));
    assert!(
        matches!(e, DnsConfigError::MissingTrailingDot { .. }),
        "{e}"
    );
    let e = with(&|c| c.records.push(rec("www", [198, 18, 0, 1])));
    assert!(
        matches!(e, DnsConfigError::DuplicateRecord { index: 1, .. }),
        "{e}"
    );
    let e = with(&|c| {
        c.records.push(DnsRecord {
            ttl: 300,
            ..rec("www", [198, 18, 0, 2])
        })
    });
    assert!(
        matches!(
            e,
            DnsConfigError::TtlMismatch {
                index: 1,
                first_index: 0,
                ..
            }
        ),
        "{e}"
    );
    let e = with(&|c| c.records[0].ttl = u32::MAX);
    assert!(matches!(e, DnsConfigError::TtlTooLarge { .. }), "{e}");
    let e = with(&|c| c.records.push(rec("*", [1, 2, 3, 4])));
    assert!(matches!(e, DnsConfigError::BadRecordName { .. }), "{e}");
    let e = with(&|c| c.records.push(rec("", [1, 2, 3, 4])));
    assert!(matches!(e, DnsConfigError::BadRecordName { .. }), "{e}");
    let long = ["a"; 130].join(".");
    let e = with(&|c| c.records.push(rec(&long, [1, 2, 3, 4])));
    assert!(matches!(e, DnsConfigError::BadRecordName { .. }), "{e}");
    for value in [0.5, f64::NAN, f64::INFINITY] {
        let e = with(&|c| c.max_amplification = value);
        assert!(matches!(e, DnsConfigError::BadAmplification { .. }), "{e}");
    }
    let e = with(&|c| c.zone = format!("{}.", ["z"; 123].join(".")));
    assert!(matches!(e, DnsConfigError::BadZone { .. }), "{e}");
    let e = with(&|c| c.port = 0);
    assert_eq!(e, DnsConfigError::BadPort);
}

#[test]
fn config_toml_defaults_and_unknown_keys() {
    let cfg: DnsConfig = toml::from_str(
        r#"
        zone = "xskd.test."
        records = [{ name = "www", ipv4 = "198.18.0.1" }]
        "#,
    )
    .unwrap();
    assert_eq!(cfg.records[0].ttl, 60);
    assert_eq!(cfg.max_amplification, 3.0);
    assert_eq!(cfg.port, 53);
    let err = toml::from_str::<DnsConfig>("zone = \"x.\"\nzonee = 1\n").unwrap_err();
    assert!(err.to_string().contains("zonee"), "{err}");
    let err = toml::from_str::<DnsConfig>(
        "zone = \"x.\"\nrecords = [{ name = \"a\", ipv4 = \"1.2.3.4\", tll = 5 }]\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("tll"), "{err}");
}
