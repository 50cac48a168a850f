#!/usr/bin/env python3
"""The indexing window as Elasticsearch sees it, the same for every tool of scripts/bench/es_bulk.sh.

    es_index_window.py HOST:PORT INDEX TARGET OUT [INTERVAL_S]

Asks INDEX's primaries' indexing count (GET /INDEX/_stats/indexing, one kept-alive connection) every
INTERVAL_S (default 0.05) and writes "epoch_us count" lines to OUT (count 0 while the index does not
exist), until the count reaches TARGET or the process gets SIGTERM. es_bulk.sh turns the lines into the
window from the first indexed document to the TARGET-th (each end the midpoint between the two samples
around it), and the rate DOCS / window.
"""
import http.client
import json
import signal
import sys
import time

addr, index, target, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
interval = float(sys.argv[5]) if len(sys.argv) > 5 else 0.05
host, port = addr.rsplit(":", 1)
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
path = f"/{index}/_stats/indexing?filter_path=_all.primaries.indexing.index_total"
conn = http.client.HTTPConnection(host, int(port), timeout=5)
with open(out, "w") as f:
    while not stop:
        t = time.time()
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            n = json.loads(body)["_all"]["primaries"]["indexing"]["index_total"] if r.status == 200 else 0
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            n = -1
        f.write(f"{int(t * 1e6)} {n}\n")
        f.flush()
        if n >= target:
            break
        time.sleep(interval)
