//! Properties: no input panics, amplifies or yields an undecodable response.

use super::*;

fn check_invariants(r: &mut DnsResponder, q: &[u8], out_len: usize, with_ctx: bool) {
    let mut out = vec![0u8; out_len];
    let n = if with_ctx {
        r.respond_with(&ctx(), q, &mut out)
    } else {
        r.respond(q, &mut out)
    };
    if let Some(n) = n {
        assert!(n <= out_len);
        assert!(n <= 1232);
        assert!(n >= 12);
        assert!(q.len() >= 12);
        assert_eq!(out[..2], q[..2], "ID echoed");
        assert_eq!(out[2] & 0x80, 0x80, "QR set");
        assert_eq!(q[2] & 0x80, 0, "never answer a response");
        if !with_ctx {
            assert!(
                n as f64 <= 3.0 * q.len() as f64,
                "amplified {n} > 3 * {}",
                q.len()
            );
        }
        Message::from_vec(&out[..n]).expect("every response decodes");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic_or_amplify(
        q in proptest::collection::vec(any::<u8>(), 0..600),
        out_len in 0usize..1500,
        with_ctx in any::<bool>(),
    ) {
        let mut r = DnsResponder::with_cookie_secret(&config(20, 3.0), SECRET).unwrap();
        check_invariants(&mut r, &q, out_len, with_ctx);
    }

    #[test]
    fn mutated_queries_never_panic_or_amplify(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<usize>(),
        name in prop::sample::select(vec!["www.xskd.test.", "many.xskd.test.", "x.xskd.test.", "example.org."]),
        with_ctx in any::<bool>(),
    ) {
        let mut r = DnsResponder::with_cookie_secret(&config(20, 3.0), SECRET).unwrap();
        let mut q = with_opt(query(name, RecordType::A), 1232, 0, false, &COOKIE);
        for (at, b) in flips {
            let i = at % q.len();
            q[i] = b;
        }
        q.truncate(12 + cut % q.len());
        check_invariants(&mut r, &q, 1500, with_ctx);
    }
}
