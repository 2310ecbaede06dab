"""The command line and result line of W13's and W14's Python programs, as
oneshot.h is the C and C++ programs': every one takes `--impl
asyncio|uvloop`, a mode and its arguments, and prints one JSON line
{"impl", "case", "count", "seconds", "value"}."""
import argparse
import asyncio
import json
import sys
import time
from pathlib import Path


def parse_args(prog, modes, with_path):
    ap = argparse.ArgumentParser(prog=prog)
    ap.add_argument("--impl", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument("mode", choices=modes)
    if with_path:
        ap.add_argument("path", type=Path)
    ap.add_argument("count", type=int)
    return ap.parse_args()


def run(prog, args, main):
    """Runs the coroutine main() on the loop args.impl names and prints the
    result line; main's value is the line's value. An OSError (a missing
    program or file) ends the process with one line saying why."""
    if args.impl == "uvloop":
        import uvloop
        uvloop.install()
    start = time.monotonic()
    try:
        value = asyncio.run(main())
    except OSError as e:
        sys.exit(f"{prog} {args.mode}: {e}")
    print(json.dumps({"impl": args.impl, "case": args.mode, "count": args.count,
                      "seconds": round(time.monotonic() - start, 6), "value": round(value, 1)}), flush=True)
