"""Turns bench/results/raw/REPORT.jsonl into bench/results/REPORT.md: one
table per workload and case (median of the rounds, min-max, ratios to uvrun
and to raw libuv), the issue's goals with met or not met, the failures, and
the implementations that were not available and why; and REPORT.png, a chart
of uvrun's lead over each peer in every case. REPORT is `io` (W8-W12,
scripts/bench-io.sh), `proc-fs` (W13, W14, scripts/bench-proc-fs.sh),
`threads` (W15, scripts/bench-threads.sh) or `loops` (W16, scripts/bench-loops.sh).

    aggregate_io.py RESULTS_DIR [io|proc-fs|threads|loops]
"""
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

IMPLS = ["uvrun", "uvrun-2loops", "uvrun-cpp", "redis", "libuv", "asio", "tokio", "asyncio", "uvloop", "node"]
PEERS = [i for i in IMPLS if not i.startswith("uvrun")]
NAMES = {
    "uvrun": "uvrun",
    "uvrun-2loops": "uvrun --loops 2",
    "uvrun-cpp": "uvrun C++",
    "redis": "redis-server",
    "libuv": "raw libuv",
    "asio": "asio",
    "tokio": "tokio",
    "asyncio": "asyncio",
    "uvloop": "uvloop",
    "node": "Node",
}
LOWER_IS_BETTER = {"ms", "KiB/conn", "µs"}
WORKLOADS = {
    "W8": ("RESP requests/s", "resp", "`redis-benchmark -c 50 -n N -t TEST -P 1|16 --csv`"),
    "W9": ("HTTP hello", "http", "`wrk -t1 -c64 --latency`"),
    "W10": ("bulk bytes through loopback", "bulk", "`bulk-* source` into `bulk-* sink`"),
    "W11": ("new connections/s", "http", "`ab -q -c 50`, no keep-alive: one connection per request"),
    "W12": ("memory per idle connection", "resp", "`idle_clients.py`: the server's VmRSS growth / connections"),
    "W13": ("child processes", "proc", "`proc-IMPL spawn N` (spawn `true` and wait, N times in turn), "
            "`proc-IMPL cat BYTES` (write BYTES into `cat` while reading them back)"),
    "W14": ("whole-file reads", "files", "`files-IMPL small PATH N` (read a 4 KiB file whole N times in turn), "
            "`files-IMPL big PATH N` (the median of N reads of the big file)"),
    "W15": ("tasks handed to a loop in another thread", "threads",
            "`threads-IMPL roundtrip N` (W15a: submit a task returning an int and block for its result, N times in "
            "turn, each timed), `threads-IMPL burst N` (W15b: N submissions without waiting, then wait for each "
            "future; submissions completed per second)"),
    "W16": ("HTTP hello on one loop and on two", "http", "`wrk -t2 -c64 --latency` against "
            "`uvrun-http-hello --loops 1` (\"uvrun\") and `--loops 2`"),
}
# Each report: its title, workloads, whose goals, what "Client" means, how
# a run is set up.
REPORTS = {
    "io": ("I/O benchmarks (W8–W12)", ["W8", "W9", "W10", "W11", "W12"], "issue 17", "Client", "server",
           "every round starts each server afresh and turns their order by one. The server runs on one core, the "
           "client on the other (`taskset`).", "../io/README.md"),
    "proc-fs": ("Child processes and files (W13, W14)", ["W13", "W14"], "issue 18", "Programs", "program",
                "every round runs each program afresh, in an order turned by one each round, on both cores. "
                "\"uvrun\" is the C API, \"uvrun C++\" the C++ layer over it.", "../io/README.md"),
    "threads": ("Tasks from another thread (W15)", ["W15"], "issue 19", "Programs", "program",
                "every round runs each program afresh, in an order turned by one each round, on both cores (the "
                "loop's thread and the submitting one). \"uvrun\" is the C API, \"uvrun C++\" the C++ layer "
                "over it.", "../threads/README.md"),
    "loops": ("One loop per core (W16)", ["W16"], "issue 19", "Client", "server",
              "every round starts each server afresh, in an order turned by one each round. Server and client "
              "share both cores, unpinned: \"× uvrun\" is what the second loop adds on this machine, not "
              "what it adds on a free core (bench/io/README.md models that).", "../io/README.md"),
}
HTTP_PEERS = ["asyncio", "asio", "tokio", "node"]
# Issues 17's and 18's goals: (workload, case prefix or None for every case, peer, test, threshold, text).
# "ge": uvrun >= threshold x the peer; "gt": uvrun ahead; "lt": uvrun below (lower is better).
GOALS = (
    [("W8", None, "redis", "ge", 1.0, "≥ redis-server")]
    + [("W8", None, p, "gt", 1.0, f"ahead of {NAMES[p]}") for p in ["asyncio", "uvloop", "asio", "tokio", "node"]]
    + [("W8", None, "libuv", "ge", 0.8, "≥ 0.8× raw libuv")]
    + [("W9", "requests/s", p, "gt", 1.0, f"ahead of {NAMES[p]} (requests/s)") for p in HTTP_PEERS]
    + [("W9", "requests/s", "libuv", "ge", 0.8, "≥ 0.8× raw libuv with http-parser (requests/s)")]
    + [("W10", None, "libuv", "ge", 0.9, "≥ 0.9× raw libuv")]
    + [("W11", None, "libuv", "ge", 0.8, "≥ 0.8× raw libuv")]
    + [("W11", None, p, "gt", 1.0, f"ahead of {NAMES[p]}") for p in HTTP_PEERS + ["uvloop"]]
    + [("W12", None, p, "lt", 1.0, f"below {NAMES[p]}") for p in PEERS]
    + [("W13", c, p, "gt", 1.0, f"ahead of {NAMES[p]} ({c})") for c in ["spawn true", "cat round trip"]
       for p in ["asyncio", "tokio", "node"]]
    + [("W13", "cat round trip", "libuv", "ge", 0.8, "≥ 0.8× raw libuv (cat round trip)")]
    + [("W14", None, p, "gt", 1.0, f"ahead of {NAMES[p]}") for p in ["asyncio", "tokio", "node"]]
    + [("W15", c, p, t, 1.0, f"ahead of {NAMES[p]} ({c[5:]})")
       for c, t in [("W15a round trip, median", "lt"), ("W15b burst", "gt")] for p in ["asyncio", "tokio", "asio"]]
)


def load(path):
    rows, failures, unavailable, meta = [], [], [], {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if "meta" in r:
            meta[r["meta"]] = r
        elif "unavailable" in r:
            unavailable.append(r)
        elif "failed" in r:
            failures.append(r)
        else:
            rows.append(r)
    return rows, failures, unavailable, meta


def fmt(value, unit):
    if unit in ("req/s", "conn/s", "MB/s", "spawns/s", "reads/s", "submissions/s"):
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.3f}"
    if unit == "µs":
        return f"{value:.1f}"
    return f"{value:.2f}"


def impl_order(impl):
    return IMPLS.index(impl) if impl in IMPLS else len(IMPLS)


class Results:
    def __init__(self, rows):
        # (workload, case) -> impl -> [values]; (workload, case) -> unit
        self.values = defaultdict(lambda: defaultdict(list))
        self.unit = {}
        for r in rows:
            key = (r["workload"], r["case"])
            self.values[key][r["impl"]].append(r["value"])
            self.unit[key] = r["unit"]

    def cases(self, workload):
        return [k for k in self.values if k[0] == workload]

    def median(self, key, impl):
        v = self.values[key].get(impl)
        return statistics.median(v) if v else None


def why_missing(workload, impl, unavailable, failures):
    kind = WORKLOADS[workload][1]
    for u in unavailable:
        if u["kind"] == kind and u["impl"] == impl:
            return f"not available: {u['unavailable']}"
    for f in failures:
        if f["workload"] == workload and f["impl"] == impl:
            return f"failed: {f['failed']}"
    return None


def table(res, key, unavailable, failures):
    unit = res.unit[key]
    better = "lower is better" if unit in LOWER_IS_BETTER else "higher is better"
    out = [f"| impl | median {unit} ({better}) | min–max | × uvrun | × raw libuv | rounds |",
           "|---|---:|---|---:|---:|---:|"]
    u, lib = res.median(key, "uvrun"), res.median(key, "libuv")
    kind = WORKLOADS[key[0]][1]
    shown = set(res.values[key])
    for impl in sorted(shown, key=impl_order):
        v = res.values[key][impl]
        m = statistics.median(v)
        ru = f"{m / u:.2f}" if u else "—"
        rl = f"{m / lib:.2f}" if lib else "—"
        out.append(f"| {NAMES.get(impl, impl)} | {fmt(m, unit)} | {fmt(min(v), unit)}–{fmt(max(v), unit)} "
                   f"| {ru} | {rl} | {len(v)} |")
    for u_ in unavailable:
        if u_["kind"] == kind and u_["impl"] not in shown:
            out.append(f"| {NAMES.get(u_['impl'], u_['impl'])} | not available (see below) | | | | 0 |")
            shown.add(u_["impl"])
    failed_here = {f["impl"] for f in failures if f["workload"] == key[0] and f["case"] in ("", key[1])}
    for impl in sorted(failed_here - shown, key=impl_order):
        out.append(f"| {NAMES.get(impl, impl)} | failed in every round (see Failures) | | | | 0 |")
    return out


def check_goal(res, goal, unavailable, failures):
    workload, case, peer, test, threshold, text = goal
    keys = [k for k in res.cases(workload) if case is None or k[1].startswith(case)]
    met, missed, unchecked = [], [], []
    for key in keys:
        u, p = res.median(key, "uvrun"), res.median(key, peer)
        if u is None or p is None:
            unchecked.append(key[1])
            continue
        if test == "lt":
            ok, shown = u < p, f"{u / p:.2f}× its {'memory' if res.unit[key] == 'KiB/conn' else 'time'}"
        else:
            ratio = u / p
            ok = ratio >= threshold if test == "ge" else ratio > threshold
            shown = f"{ratio:.2f}×"
        (met if ok else missed).append(f"{key[1]} {shown}")
    if not keys or (unchecked and not met and not missed):
        reason = why_missing(workload, peer, unavailable, failures) or why_missing(workload, "uvrun", unavailable, failures)
        return text, f"not checked ({NAMES[peer]} {reason or 'not measured in this run'})"
    parts = []
    if missed:
        parts.append(f"**not met** in {len(missed)} of {len(met) + len(missed)}: " + "; ".join(missed))
    else:
        parts.append(f"**met** in all {len(met)}: " + "; ".join(met))
    if unchecked:
        parts.append("not checked: " + ", ".join(unchecked))
    return text, ". ".join(parts)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
    report = sys.argv[2] if len(sys.argv) > 2 else "io"
    title, workloads, issue, how_label, noun, setup, readme = REPORTS[report]
    rows, failures, unavailable, meta = load(out / "raw" / f"{report}.jsonl")
    res = Results(rows)
    start, end, versions = meta.get("start", {}), meta.get("end", {}), meta.get("versions", {})
    md = [f"# {title}", ""]
    md.append(f"Measured {start.get('date', '?')} on {versions.get('machine', '?')}; 1/5/15-minute load "
              f"{start.get('load', '?')} at the start, {end.get('load', '?')} at the end.")
    load1 = float(start.get("load", "0").split()[0] or 0)
    if load1 >= 0.7:
        md += ["", f"**Measured on a busy machine** (1-minute load {load1} ≥ 0.7 at the start): treat the "
                   "numbers and ratios with care."]
    md += ["", f"Each number is the median of the rounds (min–max beside it); {setup} \"× uvrun\" and "
               "\"× raw libuv\" divide an implementation's median by uvrun's and by raw libuv's. How each number "
               f"is taken: [bench/{readme[3:]}]({readme}).", ""]
    md.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()
                                        if k not in ("meta", "machine", "knobs")) + ".")
    md += ["", f"Settings: {versions.get('knobs', '?')}."]
    goals = [g for g in GOALS if g[0] in workloads]
    if goals:  # W16's goal is the README's model, not a number
        md += ["", f"## Goals ({issue})", "", "| workload | goal | result (uvrun ÷ peer) |", "|---|---|---|"]
    for goal in goals:
        text, result = check_goal(res, goal, unavailable, failures)
        md.append(f"| {goal[0]} | {text} | {result} |")
    for w in workloads:
        what, _, how = WORKLOADS[w]
        md += ["", f"## {w}: {what}", "", f"{how_label}: {how}."]
        cases = res.cases(w)  # in the order they were measured
        if not cases:
            md += ["", "Nothing measured (see Failures and Not available)."]
        for key in cases:
            md += ["", f"### {w} {key[1]}", ""] + table(res, key, unavailable, failures)
    md += ["", "## Failures", ""]
    md += [f"- {' '.join(filter(None, (f['workload'], f['case'], NAMES.get(f['impl'], f['impl']))))}, "
           f"round {f['round']}: {f['failed']}" for f in failures] or ["None."]
    md += ["", "## Not available", ""]
    md += [f"- {u['kind']} {noun} {NAMES.get(u['impl'], u['impl'])}: {u['unavailable']}"
           for u in unavailable] or [f"None: every {noun} ran."]
    if chart(out / f"{report}.png", res, start, workloads):
        md += ["", f"![uvrun's lead over each peer]({report}.png)"]
    (out / f"{report}.md").write_text("\n".join(md) + "\n")


def lead(res, key, peer):
    """How far uvrun is ahead of peer in one case: above 1 it is ahead."""
    u, p = res.median(key, "uvrun"), res.median(key, peer)
    if not u or not p:
        return None
    return p / u if res.unit[key] in LOWER_IS_BETTER else u / p


def chart(path, res, start, workloads):
    """Draws the chart; whether there was one to draw."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("aggregate_io.py: matplotlib missing (python3-matplotlib): no chart", file=sys.stderr)
        return False
    keys = [k for w in workloads for k in res.cases(w)]
    peers = [p for p in PEERS if any(lead(res, k, p) for k in keys)]
    if not keys or not peers:
        return False
    fig, ax = plt.subplots(figsize=(11, 0.42 * len(keys) * max(1, len(peers) / 3) + 2))
    height = 0.8 / len(peers)
    for n, peer in enumerate(peers):
        rows = [(j, lead(res, k, peer)) for j, k in enumerate(keys)]
        rows = [(j + (n - (len(peers) - 1) / 2) * height, r) for j, r in rows if r]
        ax.barh([y for y, _ in rows], [r for _, r in rows], height=height, label=NAMES[peer])
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(range(len(keys)))
    ax.set_yticklabels([f"{w} {c}" for w, c in keys], fontsize=8)
    ax.invert_yaxis()
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.set_xlabel("uvrun's lead (right of 1: uvrun ahead; memory and latency inverted so that right is better)")
    ax.set_title(f"uvrun against each peer, {start.get('date', '?')}, load {start.get('load', '?').split(' ')[0]} "
                 "at the start", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return True


if __name__ == "__main__":
    main()
