"""W15 on asyncio's run_coroutine_threadsafe, with asyncio's own loop or
uvloop's running in a thread of its own (usage in bench_threads.h):

    python3 threads_asyncio.py [--impl asyncio|uvloop] roundtrip N | burst N

roundtrip: run_coroutine_threadsafe(answer(), loop).result(), N times in
turn, each timed. burst: N submissions without waiting, then each
concurrent.futures.Future's result() in turn.
"""
import argparse
import asyncio
import json
import statistics
import threading
import time


async def answer():
    return 42


def check(value):
    if value != 42:
        raise SystemExit(f"threads_asyncio: a task gave {value}, not 42")


def roundtrip(loop, n):
    trips = []
    for _ in range(n):
        t0 = time.perf_counter()
        check(asyncio.run_coroutine_threadsafe(answer(), loop).result())
        trips.append(time.perf_counter() - t0)
    trips.sort()
    return {"value": round(statistics.median(trips) * 1e6, 2), "p99": round(trips[int((n - 1) * 0.99)] * 1e6, 2)}


def burst(loop, n):
    start = time.perf_counter()
    futures = [asyncio.run_coroutine_threadsafe(answer(), loop) for _ in range(n)]
    for f in futures:
        check(f.result())
    return {"value": round(n / (time.perf_counter() - start), 1)}


def main():
    ap = argparse.ArgumentParser(prog="threads_asyncio.py")
    ap.add_argument("--impl", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument("mode", choices=["roundtrip", "burst"])
    ap.add_argument("count", type=int)
    args = ap.parse_args()
    if args.count < 1:
        ap.error("count must be at least 1")
    if args.impl == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        start = time.perf_counter()
        result = (roundtrip if args.mode == "roundtrip" else burst)(loop, args.count)
        seconds = round(time.perf_counter() - start, 6)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
    print(json.dumps({"impl": args.impl, "case": args.mode, "count": args.count, "seconds": seconds, **result}),
          flush=True)


if __name__ == "__main__":
    main()
