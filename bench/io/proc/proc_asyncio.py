"""W13 on asyncio's create_subprocess_exec, on asyncio's own loop or
uvloop's (usage in ../oneshot.h):

    python3 proc_asyncio.py [--impl asyncio|uvloop] spawn N | cat BYTES

spawn: create_subprocess_exec("true") and await its wait(), N times in turn.
cat: one task writes 64 KiB chunks into cat's stdin (write, then drain)
while the main task reads its stdout to the end.
"""
import argparse
import asyncio
import json
import sys
import time

CHUNK = 64 << 10


async def spawn_true(n):
    start = time.monotonic()
    for _ in range(n):
        p = await asyncio.create_subprocess_exec("true")
        if await p.wait() != 0:
            sys.exit(f"proc_asyncio: true returned {p.returncode}")
    return n / (time.monotonic() - start)


async def feed(stdin, n):
    chunk = b"x" * CHUNK
    while n > 0:
        stdin.write(chunk[:n] if n < CHUNK else chunk)
        n -= CHUNK
        await stdin.drain()
    stdin.close()  # cat sees the end
    await stdin.wait_closed()


async def cat_round_trip(n):
    p = await asyncio.create_subprocess_exec("cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    start = time.monotonic()
    feeder = asyncio.create_task(feed(p.stdin, n))
    back = 0
    while chunk := await p.stdout.read(CHUNK):
        back += len(chunk)
    await feeder
    if await p.wait() != 0 or back != n:
        sys.exit(f"proc_asyncio: cat returned {p.returncode} and gave back {back} of {n} bytes")
    return back / 1e6 / (time.monotonic() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument("mode", choices=["spawn", "cat"])
    ap.add_argument("count", type=int)
    a = ap.parse_args()
    if a.impl == "uvloop":
        import uvloop
        uvloop.install()
    start = time.monotonic()
    try:
        value = asyncio.run(spawn_true(a.count) if a.mode == "spawn" else cat_round_trip(a.count))
    except OSError as e:
        sys.exit(f"proc_asyncio {a.mode}: {e}")
    print(json.dumps({"impl": a.impl, "case": a.mode, "count": a.count,
                      "seconds": round(time.monotonic() - start, 6), "value": round(value, 1)}), flush=True)


if __name__ == "__main__":
    main()
