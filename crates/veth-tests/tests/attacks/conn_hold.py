#!/usr/bin/python3
"""Hold many real (kernel) TCP connections to an echo port, from many
source addresses, to fill xskd's connection table.

    conn_hold.py TARGET PORT PER_ADDR ADDR[,ADDR...]

Opens PER_ADDR connections from each address, sends one byte on each and
waits for the echo. Connections beyond xskd's `tcp.max_conns` are answered
with a SYN cookie (the kernel's connect() succeeds) but the completing ACK
and the data are dropped (`tcp_conn_table_full`), so no echo comes back:
those are reset (SO_LINGER 0) so only the served ones stay. Prints
`key=value` lines, then obeys commands on stdin:

    close N    close N served connections (FIN), print closed=N
    close all  close the rest, print closed=N, exit
"""

import errno
import select
import socket
import struct
import sys
import time


def main():
    target, port, per_addr, addrs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    socks = []
    for a in addrs.split(","):
        for _ in range(per_addr):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((a, 0))
            s.setblocking(False)
            err = s.connect_ex((target, port))
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, "connect from %s" % a)
            socks.append(s)
    # Wait for every handshake (a cookie SYN-ACK completes one too).
    pending = set(socks)
    deadline = time.time() + 10
    failed = 0
    while pending and time.time() < deadline:
        _, w, _ = select.select([], list(pending), [], 0.5)
        for s in w:
            pending.discard(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                failed += 1
    print("connected=%d" % (len(socks) - len(pending) - failed))
    print("connect_failed=%d" % (failed + len(pending)))
    for s in socks:
        try:
            s.send(b"x")
        except OSError:
            pass
    # Served connections echo the byte back.
    served = []
    waiting = set(socks)
    deadline = time.time() + 4
    while waiting and time.time() < deadline:
        r, _, _ = select.select(list(waiting), [], [], 0.5)
        for s in r:
            waiting.discard(s)
            try:
                if s.recv(16) == b"x":
                    served.append(s)
            except OSError:
                pass
    print("served=%d" % len(served))
    # The rest never got in: reset them so they do not come back later.
    unserved = [s for s in socks if s not in served]
    for s in unserved:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    print("reset=%d" % len(unserved))
    print("ready")
    sys.stdout.flush()
    for line in sys.stdin:
        cmd = line.split()
        if cmd[:1] != ["close"]:
            continue
        n = len(served) if cmd[1] == "all" else int(cmd[1])
        for s in served[:n]:
            s.close()
        served = served[n:]
        print("closed=%d" % n)
        sys.stdout.flush()
        if cmd[1] == "all":
            break


if __name__ == "__main__":
    main()
