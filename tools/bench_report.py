#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Turns Google Benchmark JSON output into a markdown report with one SVG bar chart per group.

Usage: tools/bench_report.py [options] RESULTS.json [MORE.json ...]

The workloads, and which benchmark is ours and which are the peers', come from
tools/bench_groups.json (see its _comment). Repetitions (--benchmark_repetitions=N with
--benchmark_report_aggregates_only=false) give median, min and max; several JSON files are
merged as more repetitions. Python 3 with matplotlib (Debian: python3-matplotlib), which draws
the charts (SVG, the Agg backend; the same input gives the same files).
"""

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import zlib

try:
    import matplotlib
except ImportError:
    sys.exit("bench_report: matplotlib not found (Debian: apt-get install python3-matplotlib)")
matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)
from matplotlib import ticker  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

# The same JSON gives byte-identical charts: fixed ids (salted, not random) and no date.
matplotlib.rcParams["svg.hashsalt"] = "stakker-bench-report"
matplotlib.rcParams["font.size"] = 9

HERE = os.path.dirname(os.path.abspath(__file__))
WIDE_SPREAD = 0.20  # (max - min) / median above this is flagged
LOG_SCALE_RATIO = 30.0  # a chart uses a log scale when max / min across it exceeds this

# Metrics the script knows: label, and whether higher is better. Any other name is a counter,
# shown under its own name, lower is better unless the group says "higher_is_better".
KNOWN_METRICS = {
    "ns_per_op": ("ns per op", False),
    "real_time": ("real time per iteration", False),
    "cpu_time": ("CPU time per iteration", False),
    "items_per_second": ("items per second", True),
    "bytes_per_second": ("bytes per second", True),
}
TIME_UNITS_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# Google Benchmark's decorations, removed from run names before matching.
DECORATIONS = re.compile(r"/(repeats|iterations|min_time|threads):[^/]+|/(real|manual)_time")

OURS = "stakker"  # how our implementation is labelled in tables and charts


# --- reading -----------------------------------------------------------------------------------


def plain_name(run_name):
    """The benchmark's name without Google Benchmark's decorations (/repeats:5, /real_time...)."""
    return DECORATIONS.sub("", run_name)


def load_results(paths):
    """Reads the JSON files: returns (context of the first file, {plain name: [runs]}).

    Each run is one repetition's JSON object. Aggregates (mean, median, ...) are ignored when
    the repetitions themselves are present, else their median stands in as a single run."""
    context, runs, aggregates = None, {}, {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if context is None:
            context = data.get("context", {})
        for b in data.get("benchmarks", []):
            if b.get("error_occurred") or b.get("skipped"):
                continue
            name = plain_name(b.get("run_name", b.get("name", "")))
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    aggregates.setdefault(name, []).append(b)
            else:
                runs.setdefault(name, []).append(b)
    for name, agg in aggregates.items():
        runs.setdefault(name, agg)
    return context or {}, runs


def find_runs(runs, pattern):
    """The runs of the benchmark `pattern` names: exactly, or a regex when it starts with ^."""
    if not pattern.startswith("^"):
        return runs.get(pattern, [])
    for name in sorted(runs):
        if re.fullmatch(pattern, name):
            return runs[name]
    return []


def metric_value(run, metric):
    """One run's value of `metric`; times in ns. None when the run does not have it."""
    if metric in ("real_time", "cpu_time"):
        if metric not in run:
            return None
        return float(run[metric]) * TIME_UNITS_NS.get(run.get("time_unit", "ns"), 1.0)
    value = run.get(metric)
    return None if value is None else float(value)


def summarize(runs, metric):
    """Median, min, max and count of `metric` over the runs, or None if none has it."""
    values = [v for v in (metric_value(r, metric) for r in runs) if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


# --- the machine -------------------------------------------------------------------------------


def cpu_model():
    """The CPU model name and logical core count of this machine, from /proc/cpuinfo."""
    model, cores = None, 0
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "processor":
                    cores += 1
                elif key.strip() == "model name" and model is None:
                    model = value.strip()
    except OSError:
        pass
    return model or "unknown", cores or os.cpu_count()


def compiler_from_cache(cache_path):
    """(compiler with version, flags) from a CMakeCache.txt, or (None, None)."""
    try:
        with open(cache_path, encoding="utf-8") as f:
            cache = dict(re.match(r"([^:#/]+)(?::[A-Z]+)?=(.*)", line.strip()).groups()
                         for line in f if re.match(r"[^:#/]+(:[A-Z]+)?=", line))
    except OSError:
        return None, None
    cxx = cache.get("CMAKE_CXX_COMPILER", "")
    build_type = cache.get("CMAKE_BUILD_TYPE", "")
    flags = " ".join(x for x in (cache.get("CMAKE_CXX_FLAGS", ""),
                                 cache.get("CMAKE_CXX_FLAGS_" + build_type.upper(), "")) if x)
    try:
        version = subprocess.run([cxx, "--version"], capture_output=True, text=True,
                                 check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        version = cxx
    return version or None, flags or None


def machine_section(context, args):
    """The markdown lines describing the machine, the build and the run."""
    model, cores = cpu_model()
    compiler, flags = args.compiler, args.flags
    if args.cmake_cache and (compiler is None or flags is None):
        cache_compiler, cache_flags = compiler_from_cache(args.cmake_cache)
        compiler, flags = compiler or cache_compiler, flags or cache_flags
    rows = [
        ("CPU", f"{model} ({cores} logical cores here; {context.get('num_cpus', '?')} "
                f"seen by the benchmark at {context.get('mhz_per_cpu', '?')} MHz)"),
        ("Host", context.get("host_name", "?")),
        ("Date", context.get("date", "?")),
        ("CPU scaling", "enabled (timings noisier)" if context.get("cpu_scaling_enabled")
         else "disabled or unknown"),
        ("Load average", ", ".join(f"{x:.2f}" for x in context.get("load_avg", [])) or "?"),
        ("Compiler", compiler or "not given (--compiler)"),
        ("Flags", flags or "not given (--flags)"),
        ("Google Benchmark", f"{context.get('library_version', 'version not reported')}, "
                             f"library built as {context.get('library_build_type', '?')}"),
        ("Executable", context.get("executable", "?")),
    ]
    lines = ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {md_escape(str(value))} |" for key, value in rows]
    return lines


# --- tables ------------------------------------------------------------------------------------


def md_escape(text):
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def fmt(value):
    """A value with about 3 significant digits, thousands separated."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    digits = max(0, 2 - int(math.floor(math.log10(abs(value)))))
    return f"{value:,.{digits}f}"


def metric_of(group, workload):
    """(metric, label, higher_is_better) for a workload, the group's unless it overrides."""
    metric = workload.get("metric", group.get("metric", "ns_per_op"))
    label, higher = KNOWN_METRICS.get(metric, (metric.replace("_", " "), False))
    label = workload.get("label", group.get("label", label))
    higher = workload.get("higher_is_better", group.get("higher_is_better", higher))
    return metric, label, higher


def collect_group(group, runs):
    """Summaries for each workload of a group that has data, and notes for what is missing.

    Returns (rows, notes): rows are dicts with workload, unit, higher, and impls, a list of
    (label, is_ours, summary) with ours first."""
    rows, notes = [], []
    for w in group["workloads"]:
        metric, label, higher = metric_of(group, w)
        ours = summarize(find_runs(runs, w["ours"]), metric)
        if ours is None:
            notes.append(f"{w['name']}: no data for ours (`{w['ours']}`), skipped")
            continue
        impls = [(OURS, True, ours)]
        for peer, pattern in w.get("peers", {}).items():
            s = summarize(find_runs(runs, pattern), metric)
            if s is None:
                notes.append(f"{w['name']}: no data for {peer} (`{pattern}`)")
            else:
                impls.append((peer, False, s))
        rows.append({"workload": w["name"], "metric": metric, "unit": label, "higher": higher,
                     "impls": impls})
    return rows, notes


def ratio(row, summary):
    """How many times better ours is than this peer: peer/ours, or ours/peer for throughput."""
    ours = row["impls"][0][2]["median"]
    if ours == 0 or summary["median"] == 0:
        return None
    return ours / summary["median"] if row["higher"] else summary["median"] / ours


def group_table(rows):
    """The markdown table of a group: one line per implementation per workload."""
    lines = ["| Workload | Implementation | Median | Min | Max | Runs | Ratio (>1: ours better) | Note |",
             "|---|---|--:|--:|--:|--:|--:|---|"]
    for row in rows:
        for i, (impl, is_ours, s) in enumerate(row["impls"]):
            name = md_escape(row["workload"]) + f" ({md_escape(row['unit'])})" if i == 0 else ""
            r = None if is_ours else ratio(row, s)
            how = "ours/peer" if row["higher"] else "peer/ours"
            times = "—" if r is None else f"{r:.2f}× ({how})"
            spread = (s["max"] - s["min"]) / s["median"] if s["median"] else 0.0
            note = f"wide spread ({spread:.0%})" if spread > WIDE_SPREAD else ""
            impl_cell = f"**{impl}**" if is_ours else md_escape(impl)
            lines.append(f"| {name} | {impl_cell} | {fmt(s['median'])} | {fmt(s['min'])} | "
                         f"{fmt(s['max'])} | {s['n']} | {times} | {note} |")
    return lines


def targets_table(targets, groups, runs):
    """The markdown lines of the targets: a count of those met, then a table with what this
    run measured. A target is either a minimum ratio against one peer on one workload
    ({"group", "workload", "peer", "at_least"}), or a bound on our own value of the
    workload's metric, with no peer ({"group", "workload", "at_most"} or "at_least"), e.g. at
    most 25 ns per recorded event. Each line names the workload's measure (its metric's
    label), so that two groups with the same workloads on different metrics (requests per
    second, server CPU per request) give lines that can be told apart. A ratio is the one
    the group's table shows: peer/ours when lower is better (times, latencies), ours/peer
    when higher is. A target naming a group, workload or peer the groups file does not have
    is an error."""
    lines = ["| Workload | Measure | Against | Wanted | Measured | Met |",
             "|---|---|---|--:|--:|---|"]
    by_id = {g["id"]: g for g in groups}
    counts = {"yes": 0, "no": 0, "no data": 0}
    for t in targets:
        group = by_id.get(t["group"])
        workload = next((w for w in (group or {}).get("workloads", [])
                         if w["name"] == t["workload"]), None)
        absolute = "peer" not in t
        if workload is None or (not absolute and t["peer"] not in workload.get("peers", {})):
            raise ValueError(f"target {t}: no such group, workload or peer in the groups file")
        if absolute and ("at_most" in t) == ("at_least" in t):
            raise ValueError(f"target {t}: without a peer, give one of at_most and at_least")
        if not absolute and "at_least" not in t:
            raise ValueError(f"target {t}: against a peer, give at_least (a minimum ratio)")
        rows, _ = collect_group(dict(group, workloads=[workload]), runs)
        _, label, _ = metric_of(group, workload)
        if absolute:
            line, met = absolute_target_line(t, label, rows)
        else:
            peer = next((s for row in rows for impl, _, s in row["impls"] if impl == t["peer"]),
                        None)
            r = ratio(rows[0], peer) if rows and peer is not None else None
            if r is None:
                measured, met = "no data", None
            else:  # judged on the figure shown
                r = round(r, 2)
                measured, met = f"{r:.2f}×", r >= t["at_least"]
            line = (f"| {md_escape(t['workload'])} | {md_escape(label)} | {md_escape(t['peer'])} "
                    f"| ≥ {t['at_least']}× | {measured} | {met_cell(met)} |")
        counts["no data" if met is None else "yes" if met else "no"] += 1
        lines.append(line)
    summary = (f"**{counts['yes']} of {len(targets)} targets met** in this run; "
               f"{counts['no']} missed, {counts['no data']} without data.")
    return [summary, ""] + lines


def met_cell(met):
    """The Met cell: yes, **no** (missed), or — (no data)."""
    return "—" if met is None else "yes" if met else "**no**"


def absolute_target_line(t, label, rows):
    """(the targets table's line, met: True, False or None without data) for a bound on our
    own median (no peer), in the workload's measure `label`."""
    most = "at_most" in t
    bound = t["at_most"] if most else t["at_least"]
    if not rows:
        measured, met = "no data", None
    else:  # judged on the figure shown
        shown = fmt(rows[0]["impls"][0][2]["median"])
        value = float(shown.replace(",", ""))
        measured = shown
        met = value <= bound if most else value >= bound
    return (f"| {md_escape(t['workload'])} | {md_escape(label)} | (absolute) | "
            f"{'≤' if most else '≥'} {bound} | {measured} | {met_cell(met)} |"), met


# --- charts ------------------------------------------------------------------------------------

# One colour per implementation, the same in every chart (keys compared case-insensitively, so
# "Asio post" and "asio post" match). Families share a hue: CAF oranges, Asio greens and teals.
IMPL_COLOURS = {
    "stakker": "#1f77b4",
    "rust stakker": "#9467bd",
    "caf 1 worker": "#ff7f0e",
    "caf default": "#f5b971",
    "caf 2 workers": "#d95f02",
    "stakker, 1 shard": "#6baed6",
    "stakker, 50 us spin": "#08519c",
    "naive queue": "#7f7f7f",
    "mutex queue": "#8c564b",
    "asio": "#2ca02c",
    "asio post": "#2ca02c",
    "asio steady_timer": "#98df8a",
    "asio co_spawn": "#17becf",
    "asio async_initiate": "#bcbd22",
    "asio awaitable": "#1b9e77",
    "asio awaitable (reactor)": "#66c2a5",
    "asio awaitable_operators": "#9edae5",
    "asio channel": "#dbdb8d",
    "asio handler": "#006d2c",
    "asio handler (reactor)": "#74c476",
    "asio coroutines": "#0b6e4f",
    "asio 1 io_context": "#a1d99b",
    "asio 2 io_contexts": "#31a354",
    "hooks compiled out": "#c7c7c7",
    "all off": "#aec7e8",
}
# For a name not above: picked by a stable hash of the name, so still the same in every chart.
FALLBACK_COLOURS = ["#e377c2", "#d62728", "#c49c94", "#f7b6d2", "#c5b0d5", "#393b79", "#843c39"]
# Time units an axis can be shown in, by their size in ns.
TIME_DISPLAY = [("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1.0)]


def impl_colour(name):
    """The fixed colour of an implementation."""
    key = name.lower()
    if key in IMPL_COLOURS:
        return IMPL_COLOURS[key]
    return FALLBACK_COLOURS[zlib.crc32(key.encode("utf-8")) % len(FALLBACK_COLOURS)]


def impl_id(name):
    """An implementation's name as an SVG id fragment (tests find bars and legend keys by it)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "impl"


def display_unit(unit, values, log):
    """(divisor, label) so that one axis shows one unit with readable numbers.

    A unit naming ns ("ns per op", "server CPU ns per KiB") is shown in ns, µs, ms or s: on a
    log scale the largest unit the smallest value is at least 1 of, otherwise the largest the
    largest value is at least 10 of. Other units are shown in thousands or millions when the
    values are that large on a linear scale."""
    lo, hi = min(values), max(values)
    words = unit.split()
    if "ns" in words:
        for name, size in TIME_DISPLAY:
            if (lo if log else hi / 10) >= size or size == 1.0:
                return size, " ".join(name if w == "ns" else w for w in words)
    if not log and hi >= 1e7:
        return 1e6, f"{unit}, millions"
    if not log and hi >= 1e4:
        return 1e3, f"{unit}, thousands"
    return 1.0, unit


def tick_label(value, _pos=None):
    """An axis tick: thousands separated, no exponent."""
    if value == 0:
        return "0"
    if value >= 1 and value == int(value):
        return f"{value:,.0f}"
    return f"{value:g}"


def draw_axis(ax, rows, index=0):
    """One axis of a chart: horizontal bars (median, whiskers min to max), one per
    implementation per workload, the workload's name in bold above its bars."""
    unit = rows[0]["unit"]
    medians = [s["median"] for row in rows for _, _, s in row["impls"] if s["median"] > 0]
    lo, hi = min(medians), max(medians)
    log = hi / lo > LOG_SCALE_RATIO
    lows = [s["min"] for row in rows for _, _, s in row["impls"] if s["min"] > 0]
    divisor, label = display_unit(unit, lows + medians, log)
    y, ticks, tick_text, bold = 0, [], [], []
    top = max(s["max"] for row in rows for _, _, s in row["impls"]) / divisor
    for row in rows:
        ticks.append(y)
        tick_text.append(row["workload"])
        bold.append(True)
        y += 1
        for impl, _, s in row["impls"]:
            med, mn, mx = (s[k] / divisor for k in ("median", "min", "max"))
            bar = ax.barh(y, med, height=0.75, color=impl_colour(impl),
                          xerr=[[med - mn], [mx - med]],
                          error_kw={"ecolor": "#444444", "elinewidth": 0.8, "capsize": 2})
            bar.patches[0].set_gid(f"bar-{impl_id(impl)}-{index}-{y}")
            ax.annotate(fmt(med), (max(mx, med), y), xytext=(4, 0), textcoords="offset points",
                        va="center", ha="left", fontsize=8)
            ticks.append(y)
            tick_text.append(impl)
            bold.append(False)
            y += 1
    ax.set_yticks(ticks)
    ax.set_yticklabels(tick_text)
    for text, is_bold in zip(ax.get_yticklabels(), bold):
        if is_bold:
            text.set_fontweight("bold")
    for tick, is_bold in zip(ax.yaxis.get_major_ticks(), bold):
        if is_bold:
            tick.tick1line.set_visible(False)
    ax.set_ylim(y - 0.4, -0.6)
    if log:
        ax.set_xscale("log")
        bottom = min(lows) / divisor
        ax.set_xlim(10 ** math.floor(math.log10(bottom)),
                    10 ** math.ceil(math.log10(top * 4)))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    else:
        ax.set_xlim(0, top * 1.2)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(tick_label))
    higher = {row["higher"] for row in rows}
    direction = "higher is better" if higher == {True} else (
        "lower is better" if higher == {False} else "see each workload")
    ax.set_xlabel(f"{label}: median, whiskers min to max ({direction}"
                  f"{', log scale' if log else ''})")
    ax.grid(axis="x", which="major", color="#d0d7de", linestyle=":", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def draw_chart(path, title, rows):
    """Writes one group's SVG chart: one axis per unit (workloads in the same unit share one),
    the legend to the right of the plot, outside it."""
    by_unit = {}
    for row in rows:
        by_unit.setdefault(row["unit"], []).append(row)
    parts = list(by_unit.values())
    heights = [sum(1 + len(row["impls"]) for row in part) for part in parts]
    fig, axes = plt.subplots(len(parts), 1, squeeze=False, layout="constrained",
                             figsize=(9.0, 0.24 * sum(heights) + 1.0 * len(parts) + 0.4),
                             gridspec_kw={"height_ratios": heights})
    for index, (ax, part) in enumerate(zip(axes[:, 0], parts)):
        draw_axis(ax, part, index)
    names = []
    for row in rows:
        names += [impl for impl, _, _ in row["impls"] if impl not in names]
    handles = [Patch(facecolor=impl_colour(name), label=name) for name in names]
    top_ax = axes[0, 0]
    top_ax.set_title(title, loc="left", fontweight="bold", fontsize=12)
    legend = top_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                           borderaxespad=0.0, frameon=False)
    keys = getattr(legend, "legend_handles", None) or getattr(legend, "legendHandles")
    for key, name in zip(keys, names):
        key.set_gid(f"legend-{impl_id(name)}")
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


# --- the report --------------------------------------------------------------------------------


def write_report(args):
    """Reads the results, writes the markdown report and the charts; returns 0 on success."""
    context, runs = load_results(args.results)
    with open(args.groups, encoding="utf-8") as f:
        groups_file = json.load(f)
    groups = groups_file["groups"]
    os.makedirs(args.svg_dir, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    reps = max((len(r) for r in runs.values()), default=0)
    lines = [f"# {args.title}", "",
             "Generated by `tools/bench_report.py` from "
             + ", ".join(f"`{os.path.basename(p)}`" for p in args.results)
             + f" (up to {reps} repetitions per benchmark). Do not edit by hand: run "
             "`tools/dev bench --update-docs` again.", "",
             "Each table gives the median, min and max over the repetitions. The ratio "
             "is peer/ours for times and ours/peer for throughputs, so above 1 always means this "
             "library is faster. A spread (max - min) above "
             f"{WIDE_SPREAD:.0%} of the median is flagged *wide spread*: the machine was noisy.",
             ""]
    lines += machine_section(context, args)
    if groups_file.get("targets"):
        lines += ["", "## Targets", "",
                  "Every goal the project set, against what this run measured: the ratio "
                  "of medians against one peer (above 1: ours better; peer/ours for times "
                  "and latencies, ours/peer for throughputs, as in the tables below), or, "
                  "against no peer (absolute), our own median in the measure shown.", ""]
        lines += targets_table(groups_file["targets"], groups, runs)
    skipped, charts = [], 0
    for group in groups:
        rows, notes = collect_group(group, runs)
        if not rows:
            skipped.append(group["title"])
            continue
        svg_path = os.path.join(args.svg_dir, group["id"] + ".svg")
        draw_chart(svg_path, group["title"], rows)
        charts += 1
        rel = os.path.relpath(svg_path, os.path.dirname(os.path.abspath(args.output)))
        lines += ["", f"## {group['title']}", "", f"![{group['title']}]({rel})", ""]
        lines += group_table(rows)
        if group.get("notes"):
            for note in group["notes"]:
                lines += ["", note]
        if notes:
            lines += ["", "Not in this run:", ""] + [f"- {md_escape(n)}" for n in notes]
    if skipped:
        lines += ["", "## Not measured", "",
                  "No data in this run for: " + ", ".join(skipped) + "."]
    with open(args.output, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"bench_report: wrote {args.output} and {charts} charts in {args.svg_dir}")
    return 0 if charts else 1


def parse_args(argv):
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", help="Google Benchmark JSON output file(s)")
    p.add_argument("-o", "--output", default="docs/benchmarks.md", help="markdown report")
    p.add_argument("--svg-dir", default=None, help="chart folder (default: <output dir>/bench)")
    p.add_argument("--groups", default=os.path.join(HERE, "bench_groups.json"),
                   help="workload groups (default: tools/bench_groups.json)")
    p.add_argument("--compiler", help='compiler, e.g. "g++ 12.2"')
    p.add_argument("--flags", help='compile flags, e.g. --flags="-O3 -DNDEBUG" (with "=")')
    p.add_argument("--cmake-cache", help="CMakeCache.txt to read the compiler and flags from")
    p.add_argument("--title", default="Benchmarks: stakker-cpp and its peers")
    args = p.parse_args(argv)
    if args.svg_dir is None:
        args.svg_dir = os.path.join(os.path.dirname(args.output) or ".", "bench")
    return args


if __name__ == "__main__":
    sys.exit(write_report(parse_args(sys.argv[1:])))
