#!/usr/bin/env python3
"""Where a HiveServer2 client's time goes, seen on the wire (used by scripts/bench/hive_overhead.sh).

  hive_wire_timing.py proxy LISTEN_PORT TARGET_PORT LOG
      A TCP relay on 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT that writes one line per chunk it
      forwards: monotonic time, direction (C>S or S>C), bytes, and the TCLIService call name when the
      chunk starts a request (the name is in the first bytes of a Thrift binary message). Runs until
      killed. Both clients go through the same relay, so its own delay (a select loop) is the same.

  hive_wire_timing.py report LOG [WARMUP]
      Splits the log into statements (an ExecuteStatement request starts one; the first WARMUP, default
      1, are the warm-up and are left out, as are stretches with OpenSession/CloseSession) and prints
      key=value lines: statements, calls per statement, and per statement the median and mean of
        total_ms   from its ExecuteStatement to the next one (the client loop included)
        server_ms  the sum over its calls of (request forwarded -> last byte of the answer)
        client_ms  total - server: what the client spends between an answer and its next request
"""
import select
import socket
import statistics
import sys
import time

CALLS = [b"OpenSession", b"CloseSession", b"ExecuteStatement", b"GetOperationStatus",
         b"GetResultSetMetadata", b"FetchResults", b"CloseOperation", b"CancelOperation",
         b"GetInfo"]


def proxy(listen, target, log_path):
    log = open(log_path, "w", buffering=1)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen))
    ls.listen(16)
    peer = {}
    while True:
        ready, _, _ = select.select([ls, *peer], [], [])
        for s in ready:
            if s is ls:
                c, _ = ls.accept()
                u = socket.create_connection(("127.0.0.1", target))
                for x in (c, u):
                    x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                peer[c] = (u, "C>S")
                peer[u] = (c, "S>C")
                continue
            if s not in peer:
                continue
            data = s.recv(1 << 20)
            t = time.monotonic()
            other, direction = peer[s]
            if not data:
                for x in (s, other):
                    peer.pop(x, None)
                    x.close()
                continue
            other.sendall(data)
            name = next((n.decode() for n in CALLS if n in data[:64]), "-")
            log.write(f"{t:.6f} {direction} {len(data)} {name}\n")


def report(log_path, warmup=1):
    calls = []  # [name, sent, last answer byte]
    for line in open(log_path):
        f = line.split()
        t, direction, name = float(f[0]), f[1], f[3] if len(f) > 3 else "-"
        if direction == "C>S":
            if name != "-":
                calls.append([name, t, None])
        elif calls:
            calls[-1][2] = t
    starts = [i for i, c in enumerate(calls) if c[0] == "ExecuteStatement"]
    total, server, client, per = [], [], [], []
    for k, i in enumerate(starts[warmup:], start=warmup):
        end = starts[k + 1] if k + 1 < len(starts) else None
        stmt = calls[i:end]
        if any(c[0] in ("OpenSession", "CloseSession") for c in stmt) or stmt[-1][2] is None:
            continue
        stop = calls[end][1] if end is not None else stmt[-1][2]
        tot = (stop - stmt[0][1]) * 1000
        srv = sum((c[2] - c[1]) * 1000 for c in stmt if c[2] is not None)
        total.append(tot)
        server.append(srv)
        client.append(tot - srv)
        per.append(len(stmt))
    if not total:
        sys.exit("no complete statements in " + log_path)
    print(f"statements={len(total)}")
    print(f"calls_per_statement={statistics.median(per):g}")
    for key, v in (("total", total), ("server", server), ("client", client)):
        print(f"{key}_p50_ms={statistics.median(v):.3f}")
        print(f"{key}_mean_ms={statistics.fmean(v):.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "proxy":
        proxy(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "report":
        report(sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 1)
    else:
        sys.exit(__doc__)
