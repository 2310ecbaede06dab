#!/usr/bin/env python3
"""Drives build/examples/uvrun-http-hello with curl, and raw sockets for
pipelining, bad requests and abrupt closes. Prints "ok NAME" or "FAIL NAME"
per check, then "N passed, N failed".

usage: http_hello_test.py PATH-TO-uvrun-http-hello"""
import signal
import socket
import struct
import subprocess
import sys

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
    return summary()


if __name__ == "__main__":
    sys.exit(main())
