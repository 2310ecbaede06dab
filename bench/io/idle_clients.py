"""W12: memory a RESP server spends per idle connection.

    idle_clients.py --port P --pid PID [--host H] [--connections 10000]

Reads the server's VmRSS (/proc/PID/status), opens the connections in
batches (fewer than any listen backlog), sends one PING on each and waits
for its +PONG (so each has been accepted and served once), lets the server
settle, reads VmRSS again
while every connection is still open and idle (nothing more is sent), and
prints one JSON line: KiB per connection = (after - before) / connections.
Any connection that fails or gets another answer fails the whole run
(exit status 1, the reason on stderr): a failure is not a number.
"""
import argparse
import json
import resource
import socket
import sys
import time

PING = b"*1\r\n$4\r\nPING\r\n"
PONG = b"+PONG\r\n"
SETTLE_SECONDS = 1.0
BATCH = 100


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        raise RuntimeError(f"RLIMIT_NOFILE's hard limit is {hard}: {wanted} connections need more")
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def read_pong(sock):
    got = b""
    while len(got) < len(PONG):
        part = sock.recv(len(PONG) - len(got))
        if not part:
            raise RuntimeError(f"the server closed a connection; it had answered {got!r}")
        got += part
    if got != PONG:
        raise RuntimeError(f"PING got {got!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="the server's process id")
    ap.add_argument("--connections", type=int, default=10000)
    args = ap.parse_args()
    if args.connections < 1:
        ap.error("--connections must be at least 1")
    held = []
    try:
        raise_fd_limit(args.connections + 64)
        before = vm_rss_kib(args.pid)
        while len(held) < args.connections:
            first = len(held)
            for _ in range(min(BATCH, args.connections - first)):
                held.append(socket.create_connection((args.host, args.port), timeout=10))
            for sock in held[first:]:
                sock.sendall(PING)
            for i, sock in enumerate(held[first:], first + 1):
                try:
                    read_pong(sock)
                except (OSError, RuntimeError) as e:
                    raise RuntimeError(f"connection {i}: {e}") from e
        time.sleep(SETTLE_SECONDS)
        after = vm_rss_kib(args.pid)
    except (OSError, RuntimeError) as e:
        print(f"idle_clients: {e} ({len(held)} connections open)", file=sys.stderr)
        return 1
    finally:
        for sock in held:
            sock.close()
    print(json.dumps({
        "connections": args.connections,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_conn": round((after - before) / args.connections, 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
