#!/usr/bin/env python3
"""Hostile and malformed traffic against xskd, sent from the veth peer.

Usage: scapy_attack.py ATTACK IFACE XSKD_MAC

Each attack prints `key=value` lines that tests/attacks.rs asserts on
(answers seen, values in them). Everything is bounded in count and time.
"""
import random
import sys
import time

from scapy.all import (ARP, ICMP, IP, TCP, UDP, AsyncSniffer, Ether, IPOption_LSRR,
                       Raw, conf, get_if_hwaddr, srp1)
from scapy.all import sendp as _sendp

conf.verb = 0
XSKD = "198.18.0.1"
PEER = "198.18.0.2"
# A source address the peer kernel does not own: it never resets what
# xskd sends there, so scapy can hold a connection by hand.
GHOST = "198.18.0.77"

attack, iface, xmac = sys.argv[1], sys.argv[2], sys.argv[3]
pmac = get_if_hwaddr(iface)
E = Ether(src=pmac, dst=xmac)


def sendp(pkts, **kw):
    """scapy's sendp, retried: under parallel tests the socket can briefly
    fail with ENOBUFS."""
    for attempt in range(5):
        try:
            return _sendp(pkts, **kw)
        except OSError as e:
            print(f"sendp attempt {attempt}: {e}", file=sys.stderr, flush=True)
            time.sleep(0.1)
    return _sendp(pkts, **kw)


def out(key, value):
    print(f"{key}={value}", flush=True)


def answer(pkt, timeout=0.6):
    return srp1(E / pkt, iface=iface, timeout=timeout)


def answered(name, pkt, timeout=0.6):
    r = answer(pkt, timeout)
    out(name, "yes" if r is not None else "no")
    return r


def sport():
    return random.randint(20000, 60000)


def bad_flags():
    for name, flags in [("syn_fin", "SF"), ("syn_rst", "SR"), ("null", ""),
                        ("all", "FSRPAUEC")]:
        answered(name, IP(src=PEER, dst=XSKD) / TCP(sport=sport(), dport=7, flags=flags,
                                                    seq=1000, ack=1))


def bad_sources():
    answered("land", IP(src=XSKD, dst=XSKD) / TCP(sport=7, dport=7, flags="S"))
    for name, src in [("src_broadcast", "255.255.255.255"), ("src_zero", "0.0.0.0"),
                      ("src_subnet_broadcast", "198.18.0.255"),
                      ("src_multicast", "224.0.0.1")]:
        answered(name, IP(src=src, dst=XSKD) / TCP(sport=sport(), dport=7, flags="S"))


def bad_ipv4():
    ping = ICMP(id=7, seq=1) / Raw(b"x" * 32)
    # IHL 4: a header shorter than the minimum.
    answered("ihl_4", IP(src=PEER, dst=XSKD, ihl=4) / ping)
    # Total length past the end of the frame.
    answered("len_over_frame", IP(src=PEER, dst=XSKD, len=1000) / ping)
    # Total length under the header.
    answered("len_under_header", IP(src=PEER, dst=XSKD, len=12) / ping)
    # Total length inside the frame but cutting the ICMP message short:
    # the rest is padding, the ICMP checksum no longer matches.
    answered("len_cuts_payload", IP(src=PEER, dst=XSKD, len=20 + 8 + 4) / ping)
    answered("bad_checksum", IP(src=PEER, dst=XSKD, chksum=0x1234) / ping)
    answered("lsrr", IP(src=PEER, dst=XSKD,
                        options=[IPOption_LSRR(routers=["198.18.0.2", "198.18.0.9"])]) / ping)
    r = answered("ttl_0", IP(src=PEER, dst=XSKD, ttl=0) / ping)
    if r is not None and r.haslayer(ICMP):
        out("ttl_0_icmp_type", r[ICMP].type)


def frag_overlap():
    # Teardrop: the second fragment starts inside the first and ends before it.
    ident = 0x4242
    body = bytes(ICMP(id=9, seq=1) / Raw(b"T" * 64))
    f1 = IP(src=PEER, dst=XSKD, id=ident, flags="MF", frag=0, proto=1) / Raw(body[:48])
    f2 = IP(src=PEER, dst=XSKD, id=ident, frag=3, proto=1) / Raw(body[24:40])
    sendp([E / f1, E / f2], iface=iface)
    # Overlapping rewrite: same offset twice with different bytes.
    ident = 0x4343
    g1 = IP(src=PEER, dst=XSKD, id=ident, flags="MF", frag=0, proto=1) / Raw(body[:48])
    g2 = IP(src=PEER, dst=XSKD, id=ident, flags="MF", frag=2, proto=1) / Raw(b"Z" * 16)
    g3 = IP(src=PEER, dst=XSKD, id=ident, frag=6, proto=1) / Raw(body[48:])
    r = srp1([E / g1, E / g2, E / g3], iface=iface, timeout=0.6, multi=False)
    out("overlap_rewrite_answered", "yes" if r is not None else "no")


def frag_too_big():
    ident = 0x5151
    f1 = IP(src=PEER, dst=XSKD, id=ident, flags="MF", frag=0, proto=1) / Raw(
        bytes(ICMP(id=1, seq=1)) + b"A" * 1472)
    # Offset 8180 * 8 = 65440: with 1480 bytes the datagram would be 66940 long.
    f2 = IP(src=PEER, dst=XSKD, id=ident, frag=8180, proto=1) / Raw(b"B" * 1480)
    sendp([E / f1, E / f2], iface=iface)
    out("sent", 2)


def frag_train():
    # First fragments of 80 datagrams that never complete.
    pkts = [E / IP(src=PEER, dst=XSKD, id=0x6000 + i, flags="MF", frag=0, proto=17) /
            Raw(b"F" * 64) for i in range(80)]
    sendp(pkts, iface=iface)
    out("sent", len(pkts))


def bad_udp():
    r = answered("len_over_datagram", IP(src=PEER, dst=XSKD) /
                 UDP(sport=sport(), dport=7, len=100, chksum=0) / Raw(b"u" * 10))
    answered("len_under_header", IP(src=PEER, dst=XSKD) /
             UDP(sport=sport(), dport=7, len=4, chksum=0) / Raw(b"u" * 10))
    r = answered("len_under_datagram", IP(src=PEER, dst=XSKD) /
                 UDP(sport=sport(), dport=7, len=8 + 4, chksum=0) / Raw(b"abcdefghijklmnop"))
    if r is not None and r.haslayer(UDP):
        out("len_under_datagram_echo", bytes(r[UDP].payload)[:r[UDP].len - 8].decode())
    answered("dport_0", IP(src=PEER, dst=XSKD) / UDP(sport=sport(), dport=0) / Raw(b"zero"))


def icmp_redirect():
    # "Use 198.18.0.99 as the gateway for 198.18.0.2": quoting one of our
    # UDP echo replies. A host must not let this change where it sends.
    quoted = IP(src=XSKD, dst=PEER) / UDP(sport=7, dport=40000)
    answered("redirect", IP(src=PEER, dst=XSKD) / ICMP(type=5, code=1, gw="198.18.0.99") /
             Raw(bytes(quoted)[:28]))


def arp_conflict():
    # An unsolicited reply claiming xskd's own address.
    p = Ether(src=pmac, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=2, hwsrc=pmac, psrc=XSKD, hwdst="ff:ff:ff:ff:ff:ff", pdst=XSKD)
    sendp(p, iface=iface)
    out("sent", 1)


def arp_spoof():
    """Unsolicited replies re-pointing the peer's address at another MAC:
    a live entry must not be replaced (classic ARP cache poisoning)."""
    p = Ether(src="02:66:66:66:66:66", dst=xmac) / ARP(
        op=2, hwsrc="02:66:66:66:66:66", psrc=PEER, hwdst=xmac, pdst=XSKD)
    sendp([p] * 3, iface=iface)
    out("sent", 3)


def spoofed_onlink_syns():
    """SYNs from 150 on-link addresses nobody owns: every SYN-ACK needs ARP
    resolution that never completes. Held frames and requests are bounded."""
    pkts = [E / IP(src="198.18.0.%d" % (100 + i % 150), dst=XSKD) /
            TCP(sport=1024 + i, dport=7, flags="S", seq=i) for i in range(2000)]
    sendp(pkts, iface=iface)
    out("sent", len(pkts))


def arp_flood():
    pkts = []
    for i in range(5000):
        mac = "02:%02x:%02x:%02x:%02x:%02x" % (
            (i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0x5a)
        # Every address in the /24 and many off-link ones.
        src = "198.18.0.%d" % (4 + i % 250) if i % 2 else "198.18.%d.%d" % (1 + (i >> 8) % 200,
                                                                         i & 255)
        pkts.append(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
                    ARP(op=1, hwsrc=mac, psrc=src, pdst=XSKD))
    sendp(pkts, iface=iface)
    out("sent", len(pkts))


def handshake(dport, opts=None, win=8192):
    """A connection from GHOST, held by hand. Returns (sport, our_seq, their_seq)."""
    # Teach xskd where GHOST lives (an ARP request from it is learned).
    sendp(Ether(src=pmac, dst="ff:ff:ff:ff:ff:ff") /
          ARP(op=1, hwsrc=pmac, psrc=GHOST, pdst=XSKD), iface=iface)
    time.sleep(0.1)
    sp = sport()
    syn = IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=dport, flags="S", seq=1000,
                                        options=opts or [("MSS", 1460)])
    sa = answer(syn, 1.0)
    if sa is None or not sa.haslayer(TCP) or sa[TCP].flags != "SA":
        out("handshake", "failed")
        sys.exit(1)
    theirs = (sa[TCP].seq + 1) & 0xFFFFFFFF
    sendp(E / IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=dport, flags="A", seq=1001,
                                              ack=theirs, window=win), iface=iface)
    out("handshake", "ok")
    return sp, 1001, theirs


def blind_rst():
    sp, seq, theirs = handshake(7)
    base = IP(src=GHOST, dst=XSKD)
    tcp_from_xskd = f"tcp and src host {XSKD} and dst host {GHOST} and dst port {sp}"
    sn = AsyncSniffer(iface=iface, filter=tcp_from_xskd)
    sn.start()
    time.sleep(0.2)
    # RFC 5961 3.2: a RST in the window but not at RCV.NXT -> challenge ACK.
    sendp(E / base / TCP(sport=sp, dport=7, flags="R", seq=seq + 1000), iface=iface)
    time.sleep(0.3)
    # RFC 5961 4.2: a SYN on a synchronized connection -> challenge ACK.
    sendp(E / base / TCP(sport=sp, dport=7, flags="S", seq=seq + 5), iface=iface)
    time.sleep(0.3)
    # RST far outside the window: silently dropped.
    sendp(E / base / TCP(sport=sp, dport=7, flags="R", seq=seq + 0x40000000), iface=iface)
    time.sleep(0.3)
    got = sn.stop()
    acks = [p for p in got if p.haslayer(TCP) and p[TCP].flags == "A"]
    rsts = [p for p in got if p.haslayer(TCP) and "R" in str(p[TCP].flags)]
    out("challenge_acks_seen", len(acks))
    out("challenge_ack_acks_rcv_nxt", "yes" if any(p[TCP].ack == seq for p in acks) else "no")
    out("rsts_from_xskd", len(rsts))
    # The connection survived: data is still echoed.
    r = answer(base / TCP(sport=sp, dport=7, flags="PA", seq=seq, ack=theirs) / Raw(b"alive"), 1.0)
    echoed = False
    if r is not None and r.haslayer(Raw):
        echoed = bytes(r[Raw].load).startswith(b"alive")
    if not echoed:
        # The echo may follow a bare ACK.
        sn2 = AsyncSniffer(iface=iface, filter=tcp_from_xskd, timeout=1.0)
        sn2.start()
        sn2.join()
        echoed = any(p.haslayer(Raw) and b"alive" in bytes(p[Raw].load) for p in sn2.results)
    out("still_echoes", "yes" if echoed else "no")


def challenge_ack_limit():
    """RFC 5961 10 / CVE-2016-5696: challenge ACKs are rate limited, per
    connection here, so a burst cannot be used to count them."""
    sp, seq, theirs = handshake(7)
    flt = f"tcp and src host {XSKD} and dst host {GHOST} and dst port {sp}"
    sn = AsyncSniffer(iface=iface, filter=flt)
    sn.start()
    time.sleep(0.2)
    burst = [E / IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=7, flags="R", seq=seq + 100 + i)
             for i in range(60)]
    sendp(burst, iface=iface)
    time.sleep(0.5)
    got = sn.stop()
    out("burst", len(burst))
    out("challenge_acks_seen", len([p for p in got if p.haslayer(TCP) and p[TCP].flags == "A"]))


def tiny_mss():
    """A peer advertising MSS 1 must not make xskd send 1-byte segments
    (a CPU and packet-rate amplifier, cf. CVE-2019-11479)."""
    sp, seq, theirs = handshake(7, [("MSS", 1)])
    flt = f"tcp and src host {XSKD} and dst host {GHOST} and dst port {sp}"
    sn = AsyncSniffer(iface=iface, filter=flt)
    sn.start()
    time.sleep(0.2)
    data = b"m" * 1400
    sendp(E / IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=7, flags="PA", seq=seq, ack=theirs) /
          Raw(data), iface=iface)
    time.sleep(0.5)
    got = [p for p in sn.stop() if p.haslayer(Raw)]
    # Acknowledge whatever came, so the rest (if any) follows.
    end = max(((p[TCP].seq + len(p[Raw].load)) & 0xFFFFFFFF for p in got), default=theirs)
    sn = AsyncSniffer(iface=iface, filter=flt)
    sn.start()
    time.sleep(0.2)
    sendp(E / IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=7, flags="A", seq=seq + len(data),
                                              ack=end), iface=iface)
    time.sleep(0.5)
    got += [p for p in sn.stop() if p.haslayer(Raw)]
    sizes = sorted({len(p[Raw].load) for p in got})
    out("segments", len(got))
    out("min_seg", sizes[0] if sizes else 0)
    out("max_seg", sizes[-1] if sizes else 0)


def echo_check(sp, seq, theirs, data=b"alive"):
    """Send `data` at `seq` and report whether it comes back echoed."""
    flt = f"tcp and src host {XSKD} and dst host {GHOST} and dst port {sp}"
    sn = AsyncSniffer(iface=iface, filter=flt)
    sn.start()
    time.sleep(0.2)
    sendp(E / IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=7, flags="PA", seq=seq, ack=theirs) /
          Raw(data), iface=iface)
    time.sleep(0.6)
    got = sn.stop()
    return any(p.haslayer(Raw) and data in bytes(p[Raw].load) for p in got)


def ooo_flood():
    """Out-of-order 1-byte segments with gaps: the out-of-order store is
    bounded; the connection keeps working once the hole is filled."""
    sp, seq, theirs = handshake(7)
    pkts = [E / IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=7, flags="A", seq=seq + 2 * i + 10,
                                                ack=theirs) / Raw(b"o")
            for i in range(1, 201)]
    sendp(pkts, iface=iface)
    out("sent", len(pkts))
    out("still_echoes", "yes" if echo_check(sp, seq, theirs) else "no")


def icmp_errors_for_tcp():
    """RFC 5927: ICMP errors quoting one of our connections with a sequence
    number outside SND.UNA..SND.NXT (blind attacks), and hard errors for an
    established connection, must not kill it."""
    sp, seq, theirs = handshake(7)
    base = IP(src=PEER, dst=XSKD)
    for code, seqno in [(4, theirs + 100000), (3, theirs + 100000), (1, theirs), (4, theirs)]:
        quoted = bytes(IP(src=XSKD, dst=GHOST) / TCP(sport=7, dport=sp, seq=seqno, flags="A"))[:28]
        icmp = ICMP(type=3, code=code, nexthopmtu=68 if code == 4 else 0)
        sendp(E / base / icmp / Raw(quoted), iface=iface)
    out("sent", 4)
    out("still_echoes", "yes" if echo_check(sp, seq, theirs) else "no")


def ack_injection():
    """RFC 5961 5.2: data whose ACK acknowledges what we never sent is not
    accepted (an ACK is sent instead); the stream is not corrupted."""
    sp, seq, theirs = handshake(7)
    flt = f"tcp and src host {XSKD} and dst host {GHOST} and dst port {sp}"
    sn = AsyncSniffer(iface=iface, filter=flt)
    sn.start()
    time.sleep(0.2)
    sendp(E / IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=7, flags="PA", seq=seq,
                                              ack=(theirs + 0x20000000) & 0xFFFFFFFF) / Raw(b"INJECTED"),
          iface=iface)
    # Data far outside the receive window.
    sendp(E / IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=7, flags="PA", seq=seq + 0x30000000,
                                              ack=theirs) / Raw(b"OUTSIDE"), iface=iface)
    time.sleep(0.5)
    got = sn.stop()
    leaked = any(p.haslayer(Raw) and (b"INJECTED" in bytes(p[Raw].load) or
                                      b"OUTSIDE" in bytes(p[Raw].load)) for p in got)
    out("injected_echoed", "yes" if leaked else "no")
    out("acks_seen", len([p for p in got if p.haslayer(TCP) and p[TCP].flags == "A"]))
    out("still_echoes", "yes" if echo_check(sp, seq, theirs) else "no")


def closed_port_probes(cases=None):
    """RFC 9293 3.10.7.1: a segment without RST to a closed port is answered
    with RST; a stealth scanner then sees the port as closed."""
    for name, flags in cases or [("fin", "F"), ("xmas", "FPU"), ("ack", "A"),
                                 ("fin_ack", "FA"), ("syn", "S")]:
        # Sniff rather than srp1: scapy does not match a RST whose SEQ is 0
        # to a probe without ACK.
        sp = sport()
        sn = AsyncSniffer(iface=iface, filter=f"tcp and src host {XSKD} and dst port {sp}")
        sn.start()
        time.sleep(0.15)
        sendp(E / IP(src=PEER, dst=XSKD) / TCP(sport=sp, dport=81, flags=flags, seq=1000, ack=77),
              iface=iface)
        time.sleep(0.3)
        got = [p for p in sn.stop() if p.haslayer(TCP)]
        out(name, str(got[0][TCP].flags) if got else "none")


def zero_window():
    """A peer that closes its window: xskd holds the echo and only probes
    (RFC 9293 3.8.6.1), then sends it all once the window opens."""
    sp, seq, theirs = handshake(7, win=0)
    flt = f"tcp and src host {XSKD} and dst host {GHOST} and dst port {sp}"
    sn = AsyncSniffer(iface=iface, filter=flt)
    sn.start()
    time.sleep(0.2)
    sendp(E / IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=7, flags="PA", seq=seq, ack=theirs,
                                              window=0) / Raw(b"hello zero window"), iface=iface)
    time.sleep(2.5)
    held = sn.stop()
    data = [p for p in held if p.haslayer(Raw)]
    out("segments_while_closed", len(held))
    out("max_payload_while_closed", max((len(p[Raw].load) for p in data), default=0))
    sn = AsyncSniffer(iface=iface, filter=flt)
    sn.start()
    time.sleep(0.2)
    sendp(E / IP(src=GHOST, dst=XSKD) / TCP(sport=sp, dport=7, flags="A", seq=seq + 17, ack=theirs,
                                              window=65535), iface=iface)
    time.sleep(1.5)
    after = b"".join(bytes(p[Raw].load) for p in sn.stop() if p.haslayer(Raw))
    out("echo_after_open", "yes" if b"zero window" in after else "no")


def syn_options():
    cases = [
        ("mss_0", [("MSS", 0)]),
        ("mss_1", [("MSS", 1)]),
        ("mss_48", [("MSS", 48)]),
        ("wscale_15", [("MSS", 1460), ("WScale", 15)]),
        ("mss_huge", [("MSS", 65535)]),
        # Kind 2 (MSS) with length 1, length 0, and a length past the header.
        ("optlen_1", b"\x02\x01\x05\xb4"),
        ("optlen_0", b"\x02\x00\x05\xb4"),
        ("optlen_over", b"\x02\x28\x05\xb4"),
        ("dup_mss", [("MSS", 536), ("MSS", 9000)]),
        ("sack_reversed", [("MSS", 1460), ("SAckOK", b""), ("SAck", (5000, 1000))]),
    ]
    for name, opts in cases:
        t = TCP(sport=sport(), dport=7, flags="S", seq=1000)
        if isinstance(opts, bytes):
            t = TCP(sport=t.sport, dport=7, flags="S", seq=1000, dataofs=6) / Raw(opts)
            # dataofs 6: the 4 raw bytes are the options area.
            pkt = IP(src=PEER, dst=XSKD) / t
        else:
            t.options = opts
            pkt = IP(src=PEER, dst=XSKD) / t
        r = answer(pkt)
        if r is None or not r.haslayer(TCP):
            out(name, "none")
            continue
        f = str(r[TCP].flags)
        mss = dict((k, v) for k, v in r[TCP].options if isinstance(k, str)).get("MSS")
        ws = dict((k, v) for k, v in r[TCP].options if isinstance(k, str)).get("WScale")
        out(name, f"{f}:mss={mss}:ws={ws}")


{
    "bad_flags": bad_flags,
    "bad_sources": bad_sources,
    "bad_ipv4": bad_ipv4,
    "frag_overlap": frag_overlap,
    "frag_too_big": frag_too_big,
    "frag_train": frag_train,
    "bad_udp": bad_udp,
    "icmp_redirect": icmp_redirect,
    "arp_conflict": arp_conflict,
    "arp_flood": arp_flood,
    "arp_spoof": arp_spoof,
    "spoofed_onlink_syns": spoofed_onlink_syns,
    "blind_rst": blind_rst,
    "syn_options": syn_options,
    "challenge_ack_limit": challenge_ack_limit,
    "tiny_mss": tiny_mss,
    "ooo_flood": ooo_flood,
    "zero_window": zero_window,
    "icmp_errors_for_tcp": icmp_errors_for_tcp,
    "ack_injection": ack_injection,
    "closed_port_probes": closed_port_probes,
    "null_to_closed": lambda: closed_port_probes([("null", "")]),
}[attack]()
