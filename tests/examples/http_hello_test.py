#!/usr/bin/env python3
"""Drives build/examples/uvrun-http-hello with curl, and raw sockets for
pipelining, bad requests and abrupt closes. Prints "ok NAME" or "FAIL NAME"
per check, then "N passed, N failed".

usage: http_hello_test.py PATH-TO-uvrun-http-hello"""
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from harness import check, closed, recv_until, shutdown, start, summary

SERVER = sys.argv[1]
HELLO = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


def curl(*args):
    r = subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def with_curl(port):
    url = f"http://127.0.0.1:{port}"
    rc, out, _ = curl(url + "/")
    check("GET / answers hello", rc == 0 and out == b"hello")
    rc, out, _ = curl("-o", "/dev/null", "-w", "%{http_code}", url + "/nope")
    check("another path: 404", out == b"404")
    rc, out, _ = curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-d", "x=1", url + "/")
    check("POST /: 405", out == b"405")
    rc, out, err = curl("-v", url + "/", url + "/", url + "/")
    check("three requests on one connection (keep-alive)",
          rc == 0 and out == b"hello" * 3 and err.count(b"Re-using existing connection") == 2, err[-500:])
    rc, out, err = curl("--http1.0", "-v", url + "/")
    check("HTTP/1.0: answered, then closed", rc == 0 and out == b"hello" and b"Connection: close" in err)
    rc, out, _ = curl("--limit-rate", "1k", "-H", "X-Padding: " + "p" * 3000, url + "/")
    check("a slow client (--limit-rate 1k)", rc == 0 and out == b"hello")
    rc, out, _ = curl(url + "/?q=1")
    check("a query string", out == b"hello")


def pipelining(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
    got = recv_until(s, HELLO * 50)
    check("50 pipelined requests answered in order", got == HELLO * 50)
    s.close()


def bad_request(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"BLAH / HTTP/1.1\r\n\r\n")
    got = recv_until(s, b"bad request\n")
    check("a request that does not parse: 400, then close",
          got.startswith(b"HTTP/1.1 400") and b"Connection: close" in got and closed(s), got)
    s.close()


def abrupt_close(port):
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 100)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    rc, out, _ = curl(f"http://127.0.0.1:{port}/")
    check("after clients reset mid-request, the server serves others", out == b"hello")


def per_loop_counts(p):
    """The requests each loop answered, from the line on stderr at exit."""
    m = re.search(r"requests answered per loop:((?: \d+)+)\n", p.stderr.read())
    return [int(n) for n in m.group(1).split()] if m else []


def two_loops():
    """H5: with --loops 2 both loops answer (the server counts each loop's
    requests and prints them at exit), and Ctrl-C lets the requests in
    flight on each loop finish."""
    p, port = start(SERVER, "--loops", "2")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: curl(f"http://127.0.0.1:{port}/")[1], range(200)))
    check("H5 --loops 2: 200 curl requests on new connections all answered", answers == [b"hello"] * 200)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=10)
    counts = per_loop_counts(p)
    check("H5 --loops 2: SIGTERM: the process dies of it, each loop answered some",
          rc == -signal.SIGTERM and len(counts) == 2 and sum(counts) == 200 and min(counts) > 0, f"{rc} {counts}")

    # 16 requests in flight, spread over both loops by the kernel.
    p, port = start(SERVER, "--loops", "2")
    req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    busy = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
    for s in busy:
        s.sendall(req[:10])
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    time.sleep(0.2)
    for s in busy:
        s.sendall(req[10:])
    got = [recv_until(s, b"hello") for s in busy]
    check("H5 --loops 2: SIGINT: every request in flight finishes", all(g.endswith(HELLO) for g in got))
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    counts = per_loop_counts(p)
    check("H5 --loops 2: SIGINT: the process dies of it, both loops had requests in flight",
          rc == -signal.SIGINT and counts and sum(counts) == 16 and min(counts) > 0, f"{rc} {counts}")
    for s in busy:
        s.close()


def main():
    p, port = start(SERVER)
    try:
        for part in (with_curl, pipelining, bad_request, abrupt_close):
            part(port)
        check("the server is alive at the end", p.poll() is None)
    finally:
        p.kill()
        p.wait()
    req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    for sig in (signal.SIGINT, signal.SIGTERM):
        shutdown(SERVER, sig, req[:10], req[10:], b"hello")
    r = subprocess.run([SERVER, "--port", "x"], capture_output=True)
    check("a bad --port: usage and exit 2", r.returncode == 2 and b"usage" in r.stderr)
    two_loops()
    for bad in ("0", "x", "65"):
        r = subprocess.run([SERVER, "--loops", bad], capture_output=True, timeout=10)
        check(f"--loops {bad}: usage and exit 2", r.returncode == 2 and b"usage" in r.stderr and b"--loops" in r.stderr)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
