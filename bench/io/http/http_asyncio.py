"""An HTTP/1.1 hello server on asyncio streams (or uvloop's loop under them).

GET / answers "hello", anything else 404, a request that does not parse 400
and close. Keep-alive and pipelining: requests on a connection are read and
answered in turn.

    http_asyncio.py [--impl asyncio|uvloop] [--host HOST] [--port PORT]

Port 0 picks a free port; the first line on stdout is "listening on
HOST:PORT". SIGINT and SIGTERM end it.
"""
import argparse
import asyncio
import sys

MAX_HEAD = 65536


def reply(status, body, keep_alive):
    connection = b"" if keep_alive else b"Connection: close\r\n"
    return b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s" % (
        status, len(body), connection, body)


BAD_REQUEST = reply(b"400 Bad Request", b"bad request\n", False)


def parse_head(head):
    """(hello, keep_alive, body_length) of a request head; ValueError if it is not HTTP/1.x."""
    request_line, *headers = head[:-4].split(b"\r\n")
    method, target, version = request_line.split(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise ValueError(version)
    keep_alive, body_length = version == b"HTTP/1.1", 0
    for header in headers:
        name, value = header.split(b":", 1)
        name, value = name.lower(), value.strip().lower()
        if name == b"connection":
            keep_alive = {b"close": False, b"keep-alive": True}.get(value, keep_alive)
        elif name == b"content-length":
            body_length = int(value)
            if body_length < 0:
                raise ValueError(body_length)
    hello = method == b"GET" and target.split(b"?", 1)[0] == b"/"
    return hello, keep_alive, body_length


async def serve(reader, writer):
    try:
        keep_alive = True
        while keep_alive:
            head = await reader.readuntil(b"\r\n\r\n")
            try:
                hello, keep_alive, body_length = parse_head(head)
            except ValueError:
                writer.write(BAD_REQUEST)
                break
            await reader.readexactly(body_length)
            if hello:
                writer.write(reply(b"200 OK", b"hello", keep_alive))
            else:
                writer.write(reply(b"404 Not Found", b"not found\n", keep_alive))
            await writer.drain()
    except asyncio.LimitOverrunError:
        writer.write(BAD_REQUEST)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client is done, or gone
    writer.close()


async def main(host, port):
    server = await asyncio.start_server(serve, host, port, limit=MAX_HEAD)
    print(f"listening on {host}:{server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


def run():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    loop_factory = None
    if args.impl == "uvloop":
        import uvloop
        loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main(args.host, args.port))
    except KeyboardInterrupt:
        pass
    except OSError as e:  # the address does not resolve, or is taken
        sys.exit(f"http_asyncio.py: {e}")


if __name__ == "__main__":
    run()
