#!/usr/bin/env python3
"""Drives build/examples/uvrun-resp-server with real clients: redis-cli,
redis-benchmark, nc, and raw sockets for what those cannot do (a reset in
the middle of a reply, a request over the limit). Prints "ok NAME" or
"FAIL NAME" per check, then "N passed, N failed".

usage: resp_server_test.py PATH-TO-uvrun-resp-server"""
import random
import signal
import socket
import struct
import subprocess
import sys

from harness import check, closed, recv_until, shutdown, start, summary

SERVER = sys.argv[1]


def cli(port, *args, data=None):
    r = subprocess.run(["redis-cli", "-p", str(port), *args], input=data, capture_output=True, timeout=60)
    return r.stdout


def resp_cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def commands(port):
    check("PING", cli(port, "PING") == b"PONG\n")
    check("PING with a message", cli(port, "PING", "hi there") == b"hi there\n")
    check("ECHO", cli(port, "ECHO", "hello") == b"hello\n")
    check("SET", cli(port, "SET", "k1", "v1") == b"OK\n")
    check("GET", cli(port, "GET", "k1") == b"v1\n")
    check("GET of a missing key", cli(port, "GET", "nope") == b"\n")
    check("EXISTS counts", cli(port, "EXISTS", "k1", "nope", "k1") == b"2\n")
    check("DEL counts", cli(port, "DEL", "k1", "nope") == b"1\n" and cli(port, "EXISTS", "k1") == b"0\n")
    check("INCR of a missing key", cli(port, "INCR", "n") == b"1\n")
    check("INCR", cli(port, "INCR", "n") == b"2\n")
    cli(port, "SET", "s", "abc")
    check("INCR of a non-integer", b"ERR value is not an integer" in cli(port, "INCR", "s"))
    cli(port, "SET", "big", str(2**63 - 1))
    check("INCR overflow", b"overflow" in cli(port, "INCR", "big"))
    check("unknown command", b"ERR unknown command 'flushall'" in cli(port, "FLUSHALL"))
    check("wrong arity", b"wrong number of arguments for 'get'" in cli(port, "GET"))
    # Binary-safe: a value with NUL, CR, LF and every byte value.
    value = bytes(range(256)) * 4 + b"\r\n\x00end"
    cli(port, "-x", "SET", "bin", data=value)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(resp_cmd("GET", "bin"))
    want = b"$%d\r\n%s\r\n" % (len(value), value)
    check("binary value round trip", recv_until(s, b"end\r\n") == want)
    # A 1 MiB value.
    mib = bytes(random.getrandbits(8) for _ in range(1 << 20))
    cli(port, "-x", "SET", "mib", data=mib)
    s.sendall(resp_cmd("GET", "mib"))
    got = recv_until(s, mib[-16:] + b"\r\n")
    check("1 MiB value round trip", got == b"$%d\r\n%s\r\n" % (len(mib), mib))
    s.sendall(b"QUIT\r\n")
    check("QUIT replies OK, then closes", recv_until(s, b"\r\n") == b"+OK\r\n" and closed(s))
    s.close()


def pipelining(port):
    s = socket.create_connection(("127.0.0.1", port))
    batch = b"".join(resp_cmd("INCR", "pipe") for _ in range(1000)) + b"PING\r\n"
    s.sendall(batch)
    got = recv_until(s, b"+PONG\r\n")
    want = b"".join(b":%d\r\n" % i for i in range(1, 1001)) + b"+PONG\r\n"
    check("1000 pipelined requests answered in order", got == want)
    # A request split across many small writes.
    req = resp_cmd("SET", "split", "x" * 5000)
    for i in range(0, len(req), 7):
        s.sendall(req[i:i + 7])
    check("a request split in 7-byte pieces", recv_until(s, b"\r\n") == b"+OK\r\n")
    s.close()


def pipe_mode(port):
    data = b"".join(resp_cmd("SET", f"key:{i}", f"value:{i}") for i in range(100000))
    r = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data, capture_output=True, timeout=120)
    out = r.stdout.decode()
    check("redis-cli --pipe: 100,000 keys", r.returncode == 0 and "errors: 0, replies: 100000" in out, out)
    check("a key from the bulk insert", cli(port, "GET", "key:99999") == b"value:99999\n")


def benchmark(port):
    r = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "ping,set,get", "-n", "20000", "-q"],
                       capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    ok = r.returncode == 0 and out.count("requests per second") >= 4 and "error" not in out.lower()
    check("redis-benchmark -t ping,set,get -n 20000: no errors", ok, out)


def half_close(port):
    r = subprocess.run(["nc", "-N", "127.0.0.1", str(port)], input=b"PING\r\n", capture_output=True, timeout=20)
    check("nc -N (half-close) gets +PONG", r.stdout == b"+PONG\r\n", repr(r.stdout))


def reset_mid_reply(port):
    cli(port, "-x", "SET", "huge", data=b"z" * (8 << 20))
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(resp_cmd("GET", "huge") * 4)
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST in the middle of the reply
    check("after clients reset mid-reply, the server serves others", cli(port, "PING") == b"PONG\n")


def bad_input(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*1\r\n+PING\r\n")
    got = recv_until(s, b"\r\n")
    check("protocol error: -ERR line, then close", got.startswith(b"-ERR Protocol error") and closed(s))
    s.close()


def request_limit():
    p, port = start(SERVER, "--max-request", "65536")
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(resp_cmd("SET", "k", "v" * 100000))
        got = recv_until(s, b"\r\n")
        check("a request over --max-request: -ERR, then close", got.startswith(b"-ERR") and closed(s), got)
        s.close()
        check("the server goes on after it", cli(port, "PING") == b"PONG\n")
    finally:
        p.kill()
        p.wait()


def main():
    p, port = start(SERVER)
    try:
        for part in (commands, pipelining, pipe_mode, benchmark, half_close, reset_mid_reply, bad_input):
            part(port)
        check("the server is alive at the end", p.poll() is None)
    finally:
        p.kill()
        p.wait()
    request_limit()
    req = resp_cmd("SET", "k", "v" * 1000)
    for sig in (signal.SIGINT, signal.SIGTERM):
        shutdown(SERVER, sig, req[:100], req[100:], b"+OK\r\n")
    p = subprocess.run([SERVER, "--port", "99999"], capture_output=True)
    check("a bad --port: usage and exit 2", p.returncode == 2 and b"usage" in p.stderr)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
