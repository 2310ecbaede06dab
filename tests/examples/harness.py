"""What the example tests share: counting checks, starting a server and
reading its "listening on HOST:PORT" line, sockets, graceful shutdown."""
import re
import socket
import subprocess
import sys
import time

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}"[:2000])
    sys.stdout.flush()


def summary():
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def start(server, *extra):
    """Starts server on a free port; returns (process, port)."""
    p = subprocess.Popen([server, "--port", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.match(r"listening on ([0-9.]+):(\d+)$", line.strip())
    if not m:
        p.kill()
        raise SystemExit(f"FAIL start: first line {line!r}, stderr {p.stderr.read()!r}")
    return p, int(m.group(2))


def recv_until(sock, want, timeout=10):
    sock.settimeout(timeout)
    buf = b""
    while not buf.endswith(want):
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    return buf


def closed(sock, timeout=5):
    """Whether the peer closed: an end of stream, or a reset (a server that
    closes with unread bytes in its socket makes the kernel send one)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(10) == b""
    except ConnectionResetError:
        return True


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except OSError:
        return True


def shutdown(server, sig, partial, rest, reply):
    """A graceful shutdown by sig: new clients refused, an idle connection
    closed at once, a request in flight (partial, then rest) answered with
    reply, and the process dies of sig."""
    p, port = start(server)
    idle = socket.create_connection(("127.0.0.1", port))
    busy = socket.create_connection(("127.0.0.1", port))
    busy.sendall(partial)
    time.sleep(0.2)
    p.send_signal(sig)
    time.sleep(0.2)
    check(f"{sig.name}: new clients are refused", refused(port))
    check(f"{sig.name}: an idle connection is closed at once", closed(idle, 3))
    busy.sendall(rest)
    got = recv_until(busy, reply[-8:])
    check(f"{sig.name}: the request in flight finishes", got.endswith(reply), repr(got[-200:]))
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    check(f"{sig.name}: the process dies of the signal", rc == -sig, f"exit {rc}")
