"""Aggregates scripts/bench.sh's raw results into bench/results/summary.md
(tables), ratios.png (chart) and results.json; the README links them. Nothing
here is typed by hand: every number comes from bench/results/raw/.

Usage: aggregate.py RESULTS_DIR"""
import json
import math
import os
import statistics
import sys

IMPLS = [
    ("uvrun-c", "uvrun C API"),
    ("uvrun-cpp", "uvrun C++"),
    ("asyncio", "asyncio"),
    ("uvloop", "uvloop"),
    ("asio", "asio"),
    ("tokio", "tokio (current-thread)"),
    ("libuv", "raw libuv (floor)"),
]
UVRUN = ["uvrun-c", "uvrun-cpp"]
PEERS = ["asyncio", "uvloop", "asio", "tokio", "libuv"]
FLOOR = "libuv"
FLOOR_TARGET = 1.5

WORKLOADS = [
    ("W1.fresh", "W1 fresh run() of a main that returns at once", "time"),
    ("W1.reused", "W1 reused runner's run()", "time"),
    ("W2.spawn", "W2 spawn 100k tasks, await all (per task)", "time"),
    ("W3.inline", "W3 await a trivial child coroutine inline", "time"),
    ("W3.yield", "W3 yield ping-pong between two tasks (per switch)", "time"),
    ("W4.wall", "W4 100k tasks sleeping 10 ms at once: wall time", "time"),
    ("W4.mem", "W4 memory per sleeping task (peak RSS delta / N)", "bytes"),
    ("W5.executor", "W5 round trip through the default executor", "time"),
    ("W6.threadsafe", "W6 callback posted from another thread (per callback, burst of 100k)", "time"),
    ("W7.cold", "W7 cold start of a process running a no-op main", "time"),
]

# Cells that cannot exist, and why (anything else missing is a failure).
NOT_APPLICABLE = {
    ("W3.inline", "uvrun-c"): "C has no coroutines: a child is a plain call",
    ("W6.threadsafe", "uvrun-cpp"): "no C++ wrapper: C++ calls uvrun_loop_call_soon_threadsafe (the C API row)",
    ("W2.spawn", "libuv"): "no tasks",
    ("W3.inline", "libuv"): "no tasks",
    ("W3.yield", "libuv"): "no tasks",
}


def fmt_time(ns):
    if ns is None or math.isnan(ns):
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def fmt_bytes(b):
    return "—" if b is None else f"{b:,.0f} B"


def load_jsonl(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError:
                        pass
    return out


def collect(raw):
    """{(workload, impl): {"median":, "min":, "max":, "n":, "unit":}}"""
    res = {}
    for r in load_jsonl(os.path.join(raw, "timed.jsonl")):
        res[(r["workload"], r["impl"])] = {"median": r["ns_per_op"], "min": r["min"], "max": r["max"],
                                           "n": r["samples"], "unit": "ns"}
    w4 = {}
    for r in load_jsonl(os.path.join(raw, "w4.jsonl")):
        w4.setdefault(r["impl"], []).append(r)
    for impl, rows in w4.items():
        wall = [r["wall_ms"] * 1e6 for r in rows]
        mem = [r["bytes_per_task"] for r in rows]
        res[("W4.wall", impl)] = {"median": statistics.median(wall), "min": min(wall), "max": max(wall),
                                  "n": len(rows), "unit": "ns"}
        res[("W4.mem", impl)] = {"median": statistics.median(mem), "min": min(mem), "max": max(mem),
                                 "n": len(rows), "unit": "B"}
    hf = os.path.join(raw, "w7.json")
    if os.path.exists(hf):
        with open(hf) as f:
            for r in json.load(f)["results"]:
                t = [x * 1e9 for x in r["times"]]
                res[("W7.cold", r["command"])] = {"median": statistics.median(t), "min": min(t),
                                                   "max": max(t), "n": len(t), "unit": "ns"}
    return res


def read_kv(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "\t" in line:
                    k, v = line.rstrip("\n").split("\t", 1)
                    out[k] = v
    return out


def cell(res, w, impl):
    r = res.get((w, impl))
    if r is None:
        return None
    return r["median"]


def ratio_cell(res, w, u, p):
    a, b = cell(res, w, u), cell(res, w, p)
    if a is None or b is None or b == 0:
        return None
    return a / b


def verdict(ratio, peer):
    if ratio is None:
        return ""
    if peer == FLOOR:
        return " ✓" if ratio <= FLOOR_TARGET else " ✗"
    return " ✓" if ratio < 1.0 else " ✗"


def main():
    out = sys.argv[1]
    raw = os.path.join(out, "raw")
    res = collect(raw)
    meta = read_kv(os.path.join(raw, "meta.tsv"))
    unavailable = read_kv(os.path.join(raw, "unavailable.tsv"))
    failures = read_kv(os.path.join(raw, "failures.tsv"))
    names = dict(IMPLS)

    def missing(w, impl):
        if impl in unavailable:
            return "not available"
        if (w, impl) in NOT_APPLICABLE:
            return "n/a"
        return "failed" if f"{w}/{impl}" in failures or impl in failures else "—"

    lines = []
    lines.append(f"Generated by `scripts/bench.sh` on {meta.get('date', '?')}: {meta.get('machine', '?')}.")
    lines.append("")
    lines.append(f"Load average when the measurements started: {meta.get('load_start', '?')}; "
                 f"at the end: {meta.get('load_end', '?')}.")
    if meta.get("load_note"):
        lines.append(f"**{meta['load_note']}**")
    lines.append("")
    lines.append("Versions: " + "; ".join(f"{k[8:]} {v}" for k, v in meta.items() if k.startswith("version_")) + ".")
    lines.append("")
    lines.append("### uvrun ÷ peer (lower is better; ✓ = uvrun ahead of the peer, or within "
                 f"{FLOOR_TARGET}× of the raw libuv floor)")
    lines.append("")
    peers = [p for p in PEERS]
    lines.append("| workload | uvrun | " + " | ".join(names[p] for p in peers) + " |")
    lines.append("|---|---|" + "---|" * len(peers))
    ratios = {}
    for w, label, _ in WORKLOADS:
        for u in UVRUN:
            if cell(res, w, u) is None:
                continue
            cells = []
            for p in peers:
                r = ratio_cell(res, w, u, p)
                ratios[(w, u, p)] = r
                cells.append(f"{r:.2f}{verdict(r, p)}" if r is not None else missing(w, p))
            lines.append(f"| {label} | {names[u]} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("### Medians (min–max over the repetitions)")
    lines.append("")
    lines.append("| workload | " + " | ".join(n for _, n in IMPLS) + " |")
    lines.append("|---|" + "---|" * len(IMPLS))
    for w, label, kind in WORKLOADS:
        cells = []
        for impl, _ in IMPLS:
            r = res.get((w, impl))
            if r is None:
                cells.append(missing(w, impl))
                continue
            f = fmt_bytes if kind == "bytes" else fmt_time
            cells.append(f"{f(r['median'])} ({f(r['min'])}–{f(r['max'])})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    quiet = [(w, cell(res, f"{w}.nosigint", "uvrun-c")) for w in ("W1.fresh", "W1.reused")]
    if all(q is not None for _, q in quiet):
        vs = "; ".join(f"{names[p]} {', '.join(fmt_ratio(q, cell(res, w, p)) for w, q in quiet)}"
                       for p in ("asio", "tokio"))
        lines.append(f"Reference point for W1: with Ctrl-C handling off (`handle_sigint = 0`; asio and tokio have "
                     f"none), uvrun C takes {fmt_time(quiet[0][1])} fresh and {fmt_time(quiet[1][1])} reused "
                     f"(÷ peer, fresh and reused: {vs}). The difference from the W1 rows is what R40 and "
                     f"R45's Ctrl-C handling costs a run on the main thread, chiefly its two `rt_sigaction` "
                     f"system calls.")
        lines.append("")
    bare, ours = cell(res, "W3.inline", "bare-cpp"), cell(res, "W3.inline", "uvrun-cpp")
    if bare is not None and ours is not None:
        lines.append(f"Reference point for W3 inline: a bare C++20 task built by the same compiler (frames from "
                     f"a free list, exceptions kept, nothing else; `bench/compare/bare_task.cpp`) takes "
                     f"{fmt_time(bare)}; uvrun C++ takes {ours / bare:.2f}× that.")
        lines.append("")
    notes = []
    for impl, why in unavailable.items():
        notes.append(f"- {names.get(impl, impl)}: not available: {why}")
    for key, why in failures.items():
        notes.append(f"- {key}: failed: {why}")
    for (w, impl), why in NOT_APPLICABLE.items():
        notes.append(f"- {w} / {names[impl]}: n/a: {why}")
    lines.append("Notes:")
    lines.append("")
    lines.extend(notes)
    lines.append("")
    lines.append("How each number is taken: `bench/compare/README.md`. Timed workloads: wall clock, "
                 f"{meta.get('samples', '?')} repetitions of batches of at least {meta.get('sample_ms', '?')} ms "
                 "after a warm-up; W4: one fresh process per repetition; W7: hyperfine.")
    body = "\n".join(lines) + "\n"

    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("# uvrun against its peers\n\n" + body + "\n![uvrun ÷ peer](ratios.png)\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "unavailable": unavailable, "failures": failures,
                   "results": [{"workload": w, "impl": i, **v} for (w, i), v in sorted(res.items())],
                   "ratios": [{"workload": w, "uvrun": u, "peer": p, "ratio": r}
                              for (w, u, p), r in ratios.items() if r is not None]}, f, indent=1)
    chart(out, ratios, names, meta)


def chart(out, ratios, names, meta):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("aggregate.py: matplotlib missing (python3-matplotlib): no chart", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(15, 8), sharey=True)
    labels = [w for w, _, _ in WORKLOADS]
    colors = {"asyncio": "#4C72B0", "uvloop": "#55A868", "asio": "#C44E52", "tokio": "#8172B2",
              "libuv": "#555555"}
    height = 0.16
    for ax, u in zip(axes, UVRUN):
        for k, p in enumerate(PEERS):
            ys, xs = [], []
            for j, w in enumerate(labels):
                r = ratios.get((w, u, p))
                if r is not None:
                    ys.append(j + (k - 2) * height)
                    xs.append(r)
            ax.barh(ys, xs, height=height, color=colors[p], label=names[p])
        ax.axvline(1.0, color="black", linewidth=1)
        ax.axvline(FLOOR_TARGET, color="black", linewidth=1, linestyle="--")
        ax.set_xscale("log")
        ax.set_title(f"{names[u]} ÷ peer (lower is better)")
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels)
        ax.grid(axis="x", which="both", alpha=0.3)
    axes[0].invert_yaxis()  # shared: once for both
    fig.suptitle(f"uvrun ÷ peer, {meta.get('date', '?')}, {meta.get('machine', '?')}, "
                 f"load {meta.get('load_start', '?').split(' ')[0]} at the start", fontsize=10)
    handles, legend_labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, legend_labels, loc="lower center", ncol=len(PEERS), fontsize=9,
               bbox_to_anchor=(0.5, 0.03))
    fig.text(0.5, 0.005, "solid line: parity; dashed: 1.5× (the target against the raw libuv floor)",
             ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(os.path.join(out, "ratios.png"), dpi=90)


if __name__ == "__main__":
    main()
