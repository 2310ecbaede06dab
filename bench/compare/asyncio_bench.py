"""The comparison workloads in Python asyncio, on its own loop or uvloop's.

Usage: python3 asyncio_bench.py --impl asyncio|uvloop [w1 w2 w3 w5 w6]
       python3 asyncio_bench.py --impl ... w4 [N]
Measures exactly as bench/compare/harness.h does and prints the same JSON
lines (see bench/compare/README.md)."""
import asyncio
import json
import os
import resource
import sys
import threading
import time

SPAWN = 100_000
BURST = 100_000


def report(workload, impl, ns, ops_per_sample):
    s = sorted(ns)
    n = len(s)
    median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    print(json.dumps({"workload": workload, "impl": impl, "ns_per_op": round(median, 3),
                      "min": round(s[0], 3), "max": round(s[-1], 3), "samples": n,
                      "ops_per_sample": ops_per_sample, "all": [round(x, 3) for x in ns]}), flush=True)


def measure(workload, impl, fn, ops_per_iter):
    target = int(os.environ.get("BENCH_SAMPLE_MS", "50")) * 1e6
    samples = max(1, min(64, int(os.environ.get("BENCH_SAMPLES", "7"))))
    fn(1)  # warm-up
    iters = 1
    while True:
        t0 = time.perf_counter_ns()
        fn(iters)
        dt = time.perf_counter_ns() - t0
        if dt >= target:
            break
        grow = min(10.0, max(2.0, target * 1.2 / dt if dt > 0 else 10.0))
        iters = int(iters * grow)
    ns = []
    for _ in range(samples):
        t0 = time.perf_counter_ns()
        fn(iters)
        ns.append((time.perf_counter_ns() - t0) / (iters * ops_per_iter))
    report(workload, impl, ns, iters * ops_per_iter)


async def noop():
    pass


async def leaf(i):
    return i


async def spawn_all(n):
    tasks = [asyncio.create_task(leaf(1)) for _ in range(n)]
    total = 0
    for t in tasks:
        total += await t
    assert total == n


async def inline_awaits(n):
    total = 0
    for _ in range(n):
        total += await leaf(1)
    return total


async def yielder(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def pingpong(n):
    other = asyncio.create_task(yielder(n))
    for _ in range(n):
        await asyncio.sleep(0)
    await other


def nothing():
    pass


async def executor_round_trips(n):
    for _ in range(n):
        await asyncio.to_thread(nothing)


async def burst(n):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    seen = 0

    def count_one():
        nonlocal seen
        seen += 1
        if seen == n:
            done.set_result(None)

    def produce():
        call = loop.call_soon_threadsafe
        for _ in range(n):
            call(count_one)

    producer = threading.Thread(target=produce)
    producer.start()
    await done
    producer.join()


async def sleepers(n):
    tasks = [asyncio.create_task(asyncio.sleep(0.010)) for _ in range(n)]
    for t in tasks:
        await t


def main():
    args = sys.argv[1:]
    impl = "asyncio"
    if args[:1] == ["--impl"]:
        impl, args = args[1], args[2:]
    factory = None
    if impl == "uvloop":
        import uvloop
        factory = uvloop.new_event_loop

    def fresh_run(coro):
        with asyncio.Runner(loop_factory=factory) as r:
            return r.run(coro)

    if args[:1] == ["w4"]:
        n = int(args[1]) if len(args) > 1 else SPAWN
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        t0 = time.perf_counter_ns()
        fresh_run(sleepers(n))
        wall = time.perf_counter_ns() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({"workload": "W4", "impl": impl, "tasks": n, "wall_ms": round(wall / 1e6, 3),
                          "bytes_per_task": round((peak - before) / n, 1)}), flush=True)
        return

    wanted = set(args) or {"w1", "w2", "w3", "w5", "w6"}
    runner = asyncio.Runner(loop_factory=factory)

    def reused(make):
        return lambda iters: runner.run(make(iters))

    if "w1" in wanted:
        if impl == "asyncio":
            measure("W1.fresh", impl, lambda iters: [asyncio.run(noop()) for _ in range(iters)], 1)
        else:
            measure("W1.fresh", impl, lambda iters: [fresh_run(noop()) for _ in range(iters)], 1)

        def reused_noop(iters):
            for _ in range(iters):
                runner.run(noop())
        measure("W1.reused", impl, reused_noop, 1)
    if "w2" in wanted:
        def spawn(iters):
            for _ in range(iters):
                runner.run(spawn_all(SPAWN))
        measure("W2.spawn", impl, spawn, SPAWN)
    if "w3" in wanted:
        measure("W3.inline", impl, reused(inline_awaits), 1)
        measure("W3.yield", impl, reused(pingpong), 2)
    if "w5" in wanted:
        measure("W5.executor", impl, reused(executor_round_trips), 1)
    if "w6" in wanted:
        def bursts(iters):
            for _ in range(iters):
                runner.run(burst(BURST))
        measure("W6.threadsafe", impl, bursts, BURST)
    runner.close()


if __name__ == "__main__":
    main()
