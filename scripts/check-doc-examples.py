#!/usr/bin/env python3
"""Builds and runs the whole programs the documentation shows.

Every ```c or ```cpp block with a main() in README.md and docs/*.md is
compiled against the built library with warnings as errors and run: it must
exit 0, or, for a program that prints "listening on HOST:PORT" first, echo a
line back to a client and then end on Ctrl-C as an interrupted run does
(status 130). Blocks without a main() are fragments and are not programs.

Usage: check-doc-examples.py BUILD_DIR
"""
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```(c|cpp)\n(.*?)^```$", re.M | re.S)
FLAGS = {
    "c": ["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L"],
    "cpp": ["c++", "-std=c++20"],
}
WARNINGS = ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror"]


def programs():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for n, m in enumerate(BLOCK.finditer(doc.read_text())):
            if re.search(r"^int main\(", m.group(2), re.M):
                yield f"{doc.relative_to(ROOT)} block {n + 1}", m.group(1), m.group(2)


def build(lang, source, workdir, lib):
    src = workdir / f"prog.{lang}"
    exe = workdir / "prog"
    src.write_text(source)
    cmd = FLAGS[lang] + WARNINGS + [
        f"-I{ROOT / 'capi/include'}", f"-I{ROOT / 'cpp/include'}", str(src),
        f"-L{lib}", "-luvrun", f"-Wl,-rpath,{lib}", "-o", str(exe)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    return exe if out.returncode == 0 else out.stderr[-2000:]


def echo_server(proc, first):
    """A server's first line names its port: a line goes there and back."""
    host, port = first.split()[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as c:
        c.sendall(b"hello\n")
        got = b""
        while not got.endswith(b"\n"):
            chunk = c.recv(100)
            if not chunk:
                break
            got += chunk
    if got != b"hello\n":
        return f"echoed {got!r}"
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=10)
    return None if code == 130 else f"exit status {code} after Ctrl-C, not 130"


def run(exe):
    proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline() if proc.poll() is None else ""
        if first.startswith("listening on "):
            return echo_server(proc, first)
        code = proc.wait(timeout=20)
        return None if code == 0 else f"exit status {code}: {proc.stderr.read()[-500:]}"
    except (OSError, subprocess.TimeoutExpired, ValueError) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    lib = pathlib.Path(sys.argv[1]).resolve() / "core"
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, lang, source in programs():
            exe = build(lang, source, pathlib.Path(tmp), lib)
            why = run(exe) if isinstance(exe, pathlib.Path) else f"does not build:\n{exe}"
            if why is None:
                passed += 1
                print(f"ok {name}")
            else:
                failed += 1
                print(f"FAIL {name}: {why}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
