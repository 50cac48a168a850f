#!/usr/bin/env python3
"""Stalling HTTP/1.1 keep-alive server for coordinated-omission benchmarks.

    python3 scripts/bench/stall_server.py PORT [--period 5] [--stall 1] [--delay 0] [--max-lifetime SECONDS]

Listens on 127.0.0.1:PORT only. Every GET (or HEAD) gets a small 200 response.
Time is divided into cycles of --period seconds counted from server start; during the
last --stall seconds of every cycle (by default seconds [4, 5) of each 5-second cycle)
the server holds every response, and releases them all when the stall ends.
A request that arrives during a stall is answered at the end of that stall.
With --delay D every response is also held D seconds (per connection, one request at a time), so
C keep-alive connections get at most C / D answers a second: a target of known capacity.

Responses carry `X-Stall-Ms: <ms held>` so a client can see the stall.
Prints one line "listening 127.0.0.1:PORT" on stdout once ready.
Stdlib only.
"""

import argparse
import asyncio
import signal
import sys
import time

BODY = b"ok\n"
MAX_HEADER_BYTES = 64 * 1024


class StallClock:
    def __init__(self, period: float, stall: float):
        if not 0 <= stall < period:
            raise ValueError("need 0 <= stall < period")
        self.period = period
        self.stall = stall
        self.start = time.monotonic()

    def delay(self) -> float:
        """Seconds to hold a response produced now (0 outside a stall)."""
        if self.stall <= 0:
            return 0.0
        t = time.monotonic() - self.start
        phase = t % self.period
        stall_begin = self.period - self.stall
        if phase >= stall_begin:
            return self.period - phase
        return 0.0


def build_response(status: str, body: bytes, keep_alive: bool, head: bool, stalled_ms: int) -> bytes:
    headers = [
        f"HTTP/1.1 {status}",
        "Content-Type: text/plain",
        f"Content-Length: {len(body)}",
        f"X-Stall-Ms: {stalled_ms}",
        "Connection: keep-alive" if keep_alive else "Connection: close",
    ]
    out = ("\r\n".join(headers) + "\r\n\r\n").encode("ascii")
    return out if head else out + body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, clock: StallClock, stats: dict,
                 fixed_delay: float = 0.0):
    stats["connections"] += 1
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # client closed
            except asyncio.LimitOverrunError:
                writer.write(build_response("431 Request Header Fields Too Large", b"", False, False, 0))
                await writer.drain()
                return

            lines = head.decode("latin-1").split("\r\n")
            request_line = lines[0]
            parts = request_line.split(" ")
            if len(parts) != 3:
                writer.write(build_response("400 Bad Request", b"bad request\n", False, False, 0))
                await writer.drain()
                return
            method, _target, version = parts

            headers = {}
            for line in lines[1:]:
                if not line:
                    continue
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()

            # discard any request body (Content-Length only; chunked bodies are not supported)
            if "chunked" in headers.get("transfer-encoding", "").lower():
                writer.write(build_response("501 Not Implemented", b"chunked body not supported\n", False, False, 0))
                await writer.drain()
                return
            length = int(headers.get("content-length", "0") or 0)
            if length > 0:
                await reader.readexactly(length)

            conn_hdr = headers.get("connection", "").lower()
            if version == "HTTP/1.0":
                keep_alive = "keep-alive" in conn_hdr
            else:
                keep_alive = "close" not in conn_hdr

            delay = clock.delay() + fixed_delay
            if delay > 0:
                stats["stalled"] += 1
                await asyncio.sleep(delay)
            stalled_ms = int(round(delay * 1000))

            if method in ("GET", "HEAD"):
                resp = build_response("200 OK", BODY, keep_alive, method == "HEAD", stalled_ms)
            else:
                resp = build_response("405 Method Not Allowed", b"method not allowed\n", keep_alive, False, stalled_ms)
            stats["requests"] += 1
            writer.write(resp)
            await writer.drain()
            if not keep_alive:
                return
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        try:
            writer.close()
            await writer.wait_closed()
        except Exception:
            pass


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", type=int)
    ap.add_argument("--period", type=float, default=5.0, help="cycle length, seconds (default 5)")
    ap.add_argument("--stall", type=float, default=1.0, help="stall at the end of each cycle, seconds (default 1)")
    ap.add_argument("--delay", type=float, default=0.0,
                    help="hold every response this many seconds as well (default 0)")
    ap.add_argument("--max-lifetime", type=float, default=0.0,
                    help="exit by itself after this many seconds (0 = run until signalled)")
    args = ap.parse_args()

    clock = StallClock(args.period, args.stall)
    stats = {"connections": 0, "requests": 0, "stalled": 0}
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, clock, stats, args.delay), "127.0.0.1", args.port,
        limit=MAX_HEADER_BYTES, backlog=1024, reuse_address=True,
    )
    # the stall cycle counts from the moment we are ready
    clock.start = time.monotonic()
    print(f"listening 127.0.0.1:{args.port} period={args.period}s stall={args.stall}s", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.max_lifetime > 0:
        loop.call_later(args.max_lifetime, stop.set)

    await stop.wait()
    # do not wait for keep-alive connections to go away; asyncio.run cancels their handlers
    server.close()
    print(f"stopped: connections={stats['connections']} requests={stats['requests']} "
          f"stalled={stats['stalled']}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
