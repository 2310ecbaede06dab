"""W14 on asyncio: asyncio.to_thread(Path.read_bytes), the way an asyncio
program reads a file without blocking its loop, on asyncio's own loop or
uvloop's (usage in ../oneshot.h):

    python3 files_asyncio.py [--impl asyncio|uvloop] small PATH N | big PATH N

The file is read whole N times in turn; `big` times each read and reports
the median.
"""
import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path


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
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument("mode", choices=["small", "big"])
    ap.add_argument("path", type=Path)
    ap.add_argument("count", type=int)
    a = ap.parse_args()
    if a.impl == "uvloop":
        import uvloop
        uvloop.install()
    start = time.monotonic()
    try:
        value = asyncio.run(read_files(a.path, a.count, a.mode == "big"))
    except OSError as e:
        sys.exit(f"files_asyncio {a.mode}: {e}")
    print(json.dumps({"impl": a.impl, "case": a.mode, "count": a.count,
                      "seconds": round(time.monotonic() - start, 6), "value": round(value, 1)}), flush=True)


if __name__ == "__main__":
    main()
