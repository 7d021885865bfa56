//! Malformed and unanswerable datagrams: FORMERR, NOTIMP, drops.

use super::*;

#[test]
fn notify_update_status_opcodes_notimp_echo_id_and_opcode() {
    let mut r = responder();
    for op in [
        OpCode::Notify,
        OpCode::Update,
        OpCode::Status,
        OpCode::Unknown(9),
    ] {
        let mut msg = query_msg("www.xskd.test.", RecordType::A);
        msg.set_op_code(op).set_id(0x1111);
        let (raw, m) = ask(&mut r, &msg.to_vec().unwrap());
        assert_eq!(m.response_code(), ResponseCode::NotImp, "{op:?}");
        assert_eq!(m.id(), 0x1111);
        assert_eq!(m.op_code(), op);
        assert_eq!(raw.len(), 12);
    }
    assert_eq!(r.counters().responses(DnsRcode::NotImp), 4);
}

#[test]
fn malformed_queries_formerr_echo_id() {
    let mut r = responder();
    let good = query("www.xskd.test.", RecordType::A);

    let mut no_question = good[..12].to_vec();
    no_question[5] = 0;
    assert_formerr(&mut r, &no_question);
    // QDCOUNT 0 with EDNS but no COOKIE.
    assert_formerr(&mut r, &with_opt(no_question.clone(), 1232, 0, false, &[]));

    let mut two_questions = good.clone();
    two_questions[5] = 2;
    two_questions.extend_from_slice(&good[12..]);
    assert_formerr(&mut r, &two_questions);

    let mut answer_count = good.clone();
    answer_count[7] = 1;
    assert_formerr(&mut r, &answer_count);

    let mut authority_count = good.clone();
    authority_count[9] = 1;
    assert_formerr(&mut r, &authority_count);

    assert_formerr(&mut r, &good[..good.len() - 1]); // truncated question
    assert_formerr(&mut r, &good[..14]); // name cut inside a label

    let mut trailing = good.clone();
    trailing.push(0);
    assert_formerr(&mut r, &trailing);

    let mut missing_additional = good.clone();
    missing_additional[11] = 1;
    assert_formerr(&mut r, &missing_additional);

    let mut bad_label = good.clone();
    bad_label[12] = 0x80; // reserved label type
    assert_formerr(&mut r, &bad_label);

    assert_formerr(&mut r, &query("www.xskd.test.", RecordType::OPT));

    assert_eq!(r.counters().responses(DnsRcode::FormErr), 11);
}

#[test]
fn two_opt_records_formerr() {
    let mut r = responder();
    let q = with_opt(query("www.xskd.test.", RecordType::A), 1232, 0, false, &[]);
    let q = with_opt(q, 1232, 0, false, &[]);
    assert_formerr(&mut r, &q);
}

#[test]
fn opt_with_non_root_owner_formerr() {
    let mut r = responder();
    let mut q = query("www.xskd.test.", RecordType::A);
    q.extend_from_slice(&[1, b'x', 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    q[11] = 1;
    assert_formerr(&mut r, &q);
}

#[test]
fn opt_option_overrunning_rdata_formerr() {
    let mut r = responder();
    let mut q = with_opt(query("www.xskd.test.", RecordType::A), 1232, 0, false, &[]);
    let len = q.len();
    q[len - 2..].copy_from_slice(&4u16.to_be_bytes()); // RDLEN 4
    q.extend_from_slice(&[0, 10, 0, 8]); // COOKIE of 8 bytes, none present
    assert_formerr(&mut r, &q);
}

#[test]
fn cookie_option_bad_lengths_formerr() {
    let mut r = responder();
    for len in [0usize, 7, 9, 15, 41] {
        let cookie = vec![0xab; len];
        let mut q = with_opt(query("www.xskd.test.", RecordType::A), 1232, 0, false, &[]);
        // Rewrite the OPT RDATA with a COOKIE option of `len` bytes.
        let rdlen_at = q.len() - 2;
        q.truncate(rdlen_at);
        q.extend_from_slice(&(4 + len as u16).to_be_bytes());
        q.extend_from_slice(&10u16.to_be_bytes());
        q.extend_from_slice(&(len as u16).to_be_bytes());
        q.extend_from_slice(&cookie);
        assert_formerr(&mut r, &q);
    }
}

#[test]
fn datagram_shorter_than_header_dropped_and_counted() {
    let mut r = responder();
    let mut out = [0u8; 512];
    for len in 0..12 {
        assert_eq!(r.respond(&vec![0u8; len], &mut out), None);
    }
    assert_eq!(r.counters().dropped(DnsDropReason::TooShort), 12);
    assert_eq!(r.counters().queries, 12);
}

#[test]
fn response_datagram_ignored_even_our_own() {
    let mut r = responder();
    let (raw, _) = ask(&mut r, &query("www.xskd.test.", RecordType::A));
    let mut out = [0u8; 512];
    assert_eq!(r.respond(&raw, &mut out), None);
    let mut qr_only = query("www.xskd.test.", RecordType::A);
    qr_only[2] |= 0x80;
    assert_eq!(r.respond(&qr_only, &mut out), None);
    assert_eq!(r.counters().dropped(DnsDropReason::IsResponse), 2);
}
