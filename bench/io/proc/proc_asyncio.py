"""W13 on asyncio's create_subprocess_exec, on asyncio's own loop or
uvloop's (usage in ../oneshot.h):

    python3 proc_asyncio.py [--impl asyncio|uvloop] spawn N | cat BYTES

spawn: create_subprocess_exec("true") and await its wait(), N times in turn.
cat: one task writes 64 KiB chunks into cat's stdin (write, then drain)
while the main task reads its stdout to the end.
"""
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import oneshot  # noqa: E402  (bench/io/oneshot.py)

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
    args = oneshot.parse_args("proc_asyncio.py", ["spawn", "cat"], with_path=False)
    oneshot.run("proc_asyncio", args,
                lambda: spawn_true(args.count) if args.mode == "spawn" else cat_round_trip(args.count))


if __name__ == "__main__":
    main()
