"""W14 on asyncio: asyncio.to_thread(Path.read_bytes), the way an asyncio
program reads a file without blocking its loop, on asyncio's own loop or
uvloop's (usage in ../oneshot.h):

    python3 files_asyncio.py [--impl asyncio|uvloop] small PATH N | big PATH N

The file is read whole N times in turn; `big` times each read and reports
the median.
"""
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import oneshot  # noqa: E402  (bench/io/oneshot.py)


async def read_files(path, n, big):
    rates, size = [], None
    start = time.monotonic()
    for _ in range(n):
        t = time.monotonic()
        data = await asyncio.to_thread(path.read_bytes)
        if size is None:
            size = len(data)
        if len(data) != size or size == 0:
            sys.exit(f"files_asyncio: read {size} bytes, then {len(data)}")
        if big:
            rates.append(size / 1e6 / (time.monotonic() - t))
    return statistics.median(rates) if big else n / (time.monotonic() - start)


def main():
    args = oneshot.parse_args("files_asyncio.py", ["small", "big"], with_path=True)
    oneshot.run("files_asyncio", args, lambda: read_files(args.path, args.count, args.mode == "big"))


if __name__ == "__main__":
    main()
