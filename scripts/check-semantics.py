#!/usr/bin/env python3
"""Keeps docs/semantics.md and the tests in step.

Every behaviour id a test names (R41, D3, X2, A7, S3...) must have an item in
docs/semantics.md; every item must be named by at least one test; and every
test file an item lists must name that item. Prints one "ok"/"FAIL" line per
check and ends with "semantics: N passed, N failed" (scripts/test.sh counts
it). --list prints, for each id, the test files that name it.
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DOC = "docs/semantics.md"
TEST_DIRS = ["tests", "bindings/python/tests", "bindings/node/test"]
TEST_SUFFIXES = (".c", ".cpp", ".h", ".hpp", ".py", ".js", ".mjs", ".sh")
# R, D, X: the runner's items; A: the ported CPython tests; S, N, T, U, V, P,
# F, G, H, L: the I/O groups written down so far (streams, names, TCP, Unix
# sockets, servers, processes, files, datagrams, threads, life cycle); E (bad
# input) has no numbers.
ID = re.compile(r"\b([RDXASNTUVPFGHL])([0-9]{1,3})\b")
ITEM = re.compile(r"^- \*\*([RDXASNTUVPFGHL][0-9]{1,3})\b")
LISTED = re.compile(r"`((?:tests|bindings)/[^`]+)`")


def sort_key(ident):
    return (ident[0], int(ident[1:]))


def test_files():
    for top in TEST_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d not in ("node_modules", "corpus", "__pycache__")]
            for name in filenames:
                if name.endswith(TEST_SUFFIXES):
                    yield os.path.relpath(os.path.join(dirpath, name), ROOT)


def ids_named_by_tests():
    named = {}
    for path in test_files():
        with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
            for letter, number in ID.findall(f.read()):
                named.setdefault(letter + number, set()).add(path)
    return named


def doc_items():
    """{id: [listed test files]} from the document's '- **ID' bullets."""
    items, current = {}, None
    with open(os.path.join(ROOT, DOC), encoding="utf-8") as f:
        for line in f:
            m = ITEM.match(line)
            if m:
                current = m.group(1)
                items[current] = []
            elif not line.startswith("  "):
                current = None
            if current:
                items[current] += LISTED.findall(line)
    return items


def main():
    named = ids_named_by_tests()
    if "--list" in sys.argv:
        for ident in sorted(named, key=sort_key):
            print(ident, " ".join("`%s`" % p for p in sorted(named[ident])))
        return 0
    items = doc_items()
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(("ok   " if ok else "FAIL ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    for ident in sorted(set(named) | set(items), key=sort_key):
        if ident not in items:
            check(False, "%s is named by %s but has no item in %s" % (ident, ", ".join(sorted(named[ident])), DOC))
            continue
        if ident not in named:
            check(False, "%s has an item in %s but no test names it" % (ident, DOC))
            continue
        wrong = [p for p in items[ident] if p not in named[ident]]
        if not items[ident]:
            check(False, "%s lists no test file" % ident)
        elif wrong:
            check(False, "%s lists %s, which do not name it" % (ident, ", ".join(wrong)))
        else:
            check(True, "%s: %s" % (ident, ", ".join(items[ident])))
    print("semantics: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
