"""The RESP server of W8 on asyncio streams (start_server, StreamReader and
StreamWriter), on asyncio's own loop or uvloop's. The commands of
uvrun-resp-server: PING, ECHO, GET, SET, DEL, EXISTS, INCR, QUIT, CONFIG GET.

    python3 resp_asyncio.py [--impl asyncio|uvloop] [--host HOST] [--port PORT]
"""
import argparse
import asyncio
import signal

MAX_BULK = 512 << 20
MAX_ARGS = 1024
MAX_INLINE = 64 << 10


class ProtocolError(Exception):
    pass


def number_line(buf, pos, limit):
    """The number (0 to limit) on the "*N" or "$N" line at pos and the
    position past it, or None while the line is incomplete."""
    cr = buf.find(b"\r\n", pos)
    if cr < 0:
        if len(buf) - pos > 32:
            raise ProtocolError
        return None
    try:
        n = int(buf[pos + 1:cr])
    except ValueError:
        raise ProtocolError from None
    if not 0 <= n <= limit:
        raise ProtocolError
    return n, cr + 2


def parse(buf, pos):
    """One command at buf[pos:]: its arguments and the position past it, or
    None while it is incomplete."""
    if buf[pos] != 0x2A:  # not '*': an inline command, words up to a newline
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if len(buf) - pos > MAX_INLINE:
                raise ProtocolError
            return None
        return bytes(buf[pos:nl]).split(), nl + 1
    got = number_line(buf, pos, MAX_ARGS)
    if got is None:
        return None
    n, pos = got
    args = []
    for _ in range(n):
        if pos == len(buf):
            return None
        if buf[pos] != 0x24:  # '$'
            raise ProtocolError
        got = number_line(buf, pos, MAX_BULK)
        if got is None:
            return None
        size, pos = got
        if len(buf) - pos < size + 2:
            return None
        args.append(bytes(buf[pos:pos + size]))
        pos += size + 2
    return args, pos


def bulk(value):
    return b"$%d\r\n%s\r\n" % (len(value), value)


def run(db, args):
    """The reply to one command, and whether the connection must end."""
    name, argc = args[0].lower(), len(args)
    if name == b"ping" and argc <= 2:
        return (bulk(args[1]) if argc == 2 else b"+PONG\r\n"), False
    if name == b"echo" and argc == 2:
        return bulk(args[1]), False
    if name == b"get" and argc == 2:
        value = db.get(args[1])
        return (b"$-1\r\n" if value is None else bulk(value)), False
    if name == b"set" and argc == 3:
        db[args[1]] = args[2]
        return b"+OK\r\n", False
    if name == b"del" and argc >= 2:
        return b":%d\r\n" % sum(db.pop(key, None) is not None for key in args[1:]), False
    if name == b"exists" and argc >= 2:
        return b":%d\r\n" % sum(key in db for key in args[1:]), False
    if name == b"incr" and argc == 2:
        try:
            value = int(db.get(args[1], b"0")) + 1
        except ValueError:
            value = 1 << 63
        if not -(1 << 63) < value < 1 << 63:  # a signed 64-bit integer, as in Redis
            return b"-ERR value is not an integer or out of range\r\n", False
        db[args[1]] = b"%d" % value
        return b":%d\r\n" % value, False
    if name == b"quit":
        return b"+OK\r\n", True
    if name == b"config" and argc == 3 and args[1].lower() == b"get":
        return b"*0\r\n", False  # redis-benchmark asks at start-up
    return b"-ERR unknown command or wrong number of arguments for '%s'\r\n" % args[0][:32], False


async def serve(db, reader, writer):
    buf = bytearray()
    quit = False
    try:
        while not quit and (data := await reader.read(65536)):
            buf += data
            pos, replies = 0, []
            try:
                while not quit and pos < len(buf) and (got := parse(buf, pos)) is not None:
                    args, pos = got
                    if args:
                        reply, quit = run(db, args)
                        replies.append(reply)
            except ProtocolError:
                replies.append(b"-ERR Protocol error\r\n")
                quit = True
            del buf[:pos]
            if replies:
                writer.write(b"".join(replies))
                await writer.drain()
    except ConnectionError:
        pass  # the client went away
    finally:
        writer.close()


async def main(host, port):
    db = {}
    server = await asyncio.start_server(lambda r, w: serve(db, r, w), host, port)
    print(f"listening on {host}:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--impl", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    opts = ap.parse_args()
    if opts.impl == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(main(opts.host, opts.port))
