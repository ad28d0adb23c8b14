#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""CTest bench_report: runs tools/bench_report.py on a fixture and checks its output.

Usage: check_report.py BENCH_REPORT_PY FIXTURE_JSON OUT_DIR

Fixtures (Google Benchmark JSON, written by hand in the format it emits):
- fixture.json: 3 repetitions, with decorated names, a failed run and missing peers;
- two_repetitions.json: --benchmark_repetitions=2 --benchmark_report_aggregates_only=false
  (each benchmark's 2 runs, then its mean, median, stddev and cv), across four groups;
- observe.json: the observe group (hooks in against compiled out, tracing, metrics), with
  targets against a peer and bounds on our own median (at_most, no peer), met and not;
- targets.json: targets on lower-is-better measures against a peer (cross-thread latency,
  median and p99: the ratio is peer/ours), one workload name in two groups told apart by
  its measure (the key-value server's requests per second and server CPU per request),
  bounds on our own median (timers, coroutine spawn), and the count of targets met.

Checks the table rows the fixture must give (medians, ratios, the wide-spread flag, the
targets with their measure, the count of targets met, a group's notes), one chart per group with data and no other, every chart an SVG
that parses as XML and is linked from the report, each implementation drawn in one colour
(its bars and its legend key) and the same colour in every chart, a chart per unit axis
(loop_echo has two units, so two axes), and the same input giving byte-identical files."""
import filecmp
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"

EXPECTED = {
    "fixture.json": {
        "lines": [
            "| self-send chain (10M) (ns per op) | **stakker** | 2.05 | 2.00 | 2.10 | 3 | — |  |",
            "|  | naive queue | 20.5 | 20.0 | 21.0 | 3 | 10.00× (peer/ours) |  |",
            "|  | Asio post | 31.0 | 30.0 | 45.0 | 3 | 15.12× (peer/ours) | wide spread (48%) |",
            "| ping-pong (10M) (ns per op) | **stakker** | 3.05 | 3.00 | 3.10 | 3 | — |  |",
            "|  | asio coroutines | 40,000 | 39,604 | 40,404 | 3 | 1.25× (ours/peer) |  |",
            "no data for naive queue (`peer_naive_ping_pong`)",
            "no data for CAF 1 worker (`peer_caf_ping_pong/single`)",
            # the targets table: met, and without data
            "| self-send chain (10M) | ns per op | Asio post | ≥ 1× | 15.12× | yes |",
            "| self-send chain (10M) | ns per op | CAF 1 worker | ≥ 30× | 24.39× | **no** |",
            "| ping-pong (10M) | ns per op | CAF 1 worker | ≥ 30× | no data | — |",
            # a decorated name (/min_time:0.500/real_time) matches its plain pattern
            "|  | CAF 1 worker | 50.0 | 48.0 | 52.0 | 3 | 24.39× (peer/ours) |  |",
            # a group's notes follow its table
            "CAF's default scheduler runs a tenth of each message-passing size",
            "| Compiler | g++ test |",
            "| Host | fixture-host |",
        ],
        "charts": {"asio_kv": ["stakker", "asio-coroutines"],
                   "asio_kv_cpu": ["stakker", "asio-coroutines"],
                   "core": ["stakker", "caf-1-worker", "asio-post", "naive-queue"]},
        "axes": {},
    },
    "two_repetitions.json": {
        "lines": [
            # medians of two runs; the aggregates (mean, median, stddev, cv) are not more runs
            "| self-send chain (10M) (ns per op) | **stakker** | 3.50 | 3.40 | 3.60 | 2 | — |  |",
            "|  | CAF 1 worker | 180 | 170 | 190 | 2 | 51.43× (peer/ours) |  |",
            "|  | Asio post | 20.0 | 19.0 | 21.0 | 2 | 5.71× (peer/ours) |  |",
            "|  | naive queue | 28.0 | 24.0 | 32.0 | 2 | 8.00× (peer/ours) | wide spread (29%) |",
            "| fork-join (1M actors) (ns per op) | **stakker** | 69.0 | 68.0 | 70.0 | 2 | — |  |",
            "|  | CAF 1 worker | 6,300 | 6,000 | 6,600 | 2 | 91.30× (peer/ours) |  |",
            "| idle actor (RSS delta over 1M) (bytes per actor) | **stakker** | 56.0 | 56.0 | "
            "56.0 | 2 | — |  |",
            "|  | CAF 1 worker | 1,241 | 1,240 | 1,242 | 2 | 22.16× (peer/ours) |  |",
            "|  | mutex queue | 61.0 | 60.0 | 62.0 | 2 | 1.97× (peer/ours) |  |",
            "|  | asio post | 105 | 100 | 110 | 2 | 3.39× (peer/ours) |  |",
            "|  | asio | 78,900 | 78,800 | 79,000 | 2 | 0.99× (peer/ours) |  |",
            "| stream, 1 connection (server CPU ns per KiB) | **stakker** | 399 | 398 | 400 | 2 "
            "| — |  |",
            "|  | asio | 634 | 630 | 638 | 2 | 1.59× (peer/ours) |  |",
            "| self-send chain (10M) | ns per op | CAF 1 worker | ≥ 30× | 51.43× | yes |",
            "| fork-join (1M actors) | ns per op | CAF 1 worker | ≥ 15× | 91.30× | yes |",
            "| idle actor (RSS delta over 1M) | bytes per actor | CAF 1 worker | ≥ 15× | 22.16× | yes |",
            "| self-send chain (10M) | ns per op | Asio post | ≥ 1× | 5.71× | yes |",
            "| ping-pong (10M) | ns per op | CAF 1 worker | ≥ 30× | no data | — |",
            "- self-send chain (10M): no data for CAF default (`peer_caf_self_call/default`)",
            "No data in this run for: Timers (schedule and fire; hand-written floors), Coroutines",
            "| Host | fixture-two-reps |",
        ],
        "charts": {"core": ["stakker", "caf-1-worker", "asio-post", "naive-queue"],
                   "memory": ["stakker", "caf-1-worker"],
                   # "asio post" here is "Asio post" in core: one implementation, one colour
                   "cross_thread": ["stakker", "mutex-queue", "asio-post"],
                   "loop_echo": ["stakker", "asio"]},
        # ns per op and server CPU ns per KiB: one axis each
        "axes": {"core": 1, "memory": 1, "cross_thread": 1, "loop_echo": 2},
    },
    "observe.json": {
        "lines": [
            "| self-call (ns per call) | **stakker** | 2.50 | 2.48 | 2.52 | 3 | — |  |",
            "|  | hooks compiled out | 2.48 | 2.46 | 2.50 | 3 | 0.99× (peer/ours) |  |",
            "| self-call, tracing on: per recorded event (ns per recorded event) | **stakker** | "
            "19.5 | 19.3 | 19.7 | 3 | — |  |",
            # ratio targets against a peer, met and not, and without data
            "| self-call | ns per call | hooks compiled out | ≥ 0.98× | 0.99× | yes |",
            "| ping-pong | ns per call | hooks compiled out | ≥ 0.98× | 0.94× | **no** |",
            "| self-call, metrics on | ns per call | all off | ≥ 0.97× | 0.38× | **no** |",
            "| self-call, logging filtered out | ns per call | hooks compiled out | ≥ 0.98× | no data "
            "| — |",
            # bounds on our own median (no peer): met, missed, and without data
            "| self-call, tracing on: per recorded event | ns per recorded event | (absolute) | "
            "≤ 25 | 19.5 | yes |",
            "| ping-pong, tracing on: per recorded event | ns per recorded event | (absolute) | "
            "≤ 25 | 26.0 | **no** |",
            "| Host | fixture-observe |",
        ],
        "charts": {"observe": ["stakker", "hooks-compiled-out", "all-off"]},
        # ns per call, ns per recorded event, and the paired ratio: one axis each
        "axes": {"observe": 3},
    },
    "targets.json": {
        "lines": [
            # lower is better (a latency): the ratio is peer/ours, met at the median and
            # missed at p99, where ours is the slower
            "| latency, back to back | median latency ns | mutex queue | ≥ 1.0× | 2.00× | yes |",
            "| latency, back to back (p99) | p99 latency ns | mutex queue | ≥ 1.0× | 0.50× | "
            "**no** |",
            "| latency, back to back (p99) (p99 latency ns) | **stakker** | 40,000 | 39,000 | "
            "41,000 | 3 | — |  |",
            "|  | mutex queue | 20,000 | 20,000 | 20,000 | 3 | 0.50× (peer/ours) |  |",
            # one workload name in two groups, told apart by the measure: higher is better
            # (ours/peer) in one, lower (peer/ours) in the other
            "| 50 clients, 64 B values | requests per second | asio coroutines | ≥ 1.0× | 1.07× "
            "| yes |",
            "| 50 clients, 64 B values | server CPU ns per request | asio coroutines | ≥ 1.0× | "
            "0.99× | **no** |",
            # bounds on our own median, missed and met
            "| 1M random delays in [1 ms, 10 s) | ns per op | (absolute) | ≤ 50 | 112 | **no** |",
            "| max/update-later | ns per op | (absolute) | ≤ 10 | 2.90 | yes |",
            # one workload, three targets: two ratios against one peer and a bound
            "| spawn + complete, batch 1 | ns per op | asio co_spawn | ≥ 1× | 11.00× | yes |",
            "| spawn + complete, batch 1 | ns per op | asio co_spawn | ≥ 5× | 11.00× | yes |",
            "| spawn + complete, batch 1 | ns per op | (absolute) | ≤ 15 | 25.9 | **no** |",
            "| Host | fixture-targets |",
        ],
        # the count above the table: met and missed from this fixture's data, the total and
        # those without data from the groups file's targets
        "patterns": [r"\*\*5 of \d+ targets met\*\* in this run; 4 missed, \d+ without data\."],
        "charts": {"cross_thread": ["stakker", "mutex-queue"],
                   "asio_kv": ["stakker", "asio-coroutines"],
                   "asio_kv_cpu": ["stakker", "asio-coroutines"],
                   "timers": ["stakker"],
                   "coro": ["stakker", "asio-co-spawn"]},
        # the median and the p99 latency: one axis each
        "axes": {"cross_thread": 2},
    },
}


def run_report(script, fixture, out_dir):
    """Runs the report into out_dir (emptied first); returns the markdown's text."""
    shutil.rmtree(out_dir, ignore_errors=True)  # no charts left from an earlier run
    report = os.path.join(out_dir, "benchmarks.md")
    subprocess.run([sys.executable, script, fixture, "-o", report, "--compiler", "g++ test",
                    "--flags=-O3"], check=True)
    with open(report, encoding="utf-8") as f:
        return f.read()


def fill_of(element):
    """The fill colour of an element drawn by matplotlib (its own style or its first path's)."""
    for e in element.iter():
        m = re.search(r"fill:\s*(#[0-9a-fA-F]{6})", e.get("style", ""))
        if m:
            return m.group(1).lower()
        if e.get("fill", "").startswith("#"):
            return e.get("fill").lower()
    return None


def chart_colours(root, problems, name):
    """{implementation id: colour} from the legend keys (legend-<id>), checking every bar
    (bar-<id>-<axis>-<n>) has its implementation's legend colour."""
    legend, bars = {}, []
    for e in root.iter():
        gid = e.get("id", "")
        if gid.startswith("legend-"):
            legend[gid[len("legend-"):]] = fill_of(e)
        elif gid.startswith("bar-"):
            bars.append((gid[len("bar-"):].rsplit("-", 2)[0], fill_of(e)))
    if not bars:
        problems.append(f"{name}: no bars found (ids bar-<implementation>-<axis>-<n>)")
    for impl, colour in bars:
        if impl not in legend:
            problems.append(f"{name}: bar of {impl} without a legend key")
        elif colour != legend[impl]:
            problems.append(f"{name}: a bar of {impl} is {colour}, its legend key {legend[impl]}")
    colours = list(legend.values())
    if None in colours or len(set(colours)) != len(colours):
        problems.append(f"{name}: implementations without a colour or sharing one: {legend}")
    return legend


def main():
    script, fixture, out_dir = sys.argv[1:4]
    expected = EXPECTED[os.path.basename(fixture)]
    text = run_report(script, fixture, out_dir)
    problems = [f"missing from the report: {line}" for line in expected["lines"]
                if line not in text]
    problems += [f"nothing in the report matches: {pattern}"
                 for pattern in expected.get("patterns", []) if not re.search(pattern, text)]

    svg_dir = os.path.join(out_dir, "bench")
    charts = sorted(os.listdir(svg_dir))
    want = sorted(f"{c}.svg" for c in expected["charts"])
    if charts != want:
        problems.append(f"charts in {svg_dir}: {charts}, expected one per group with data: {want}")
    seen = {}  # implementation id -> (colour, chart) where first seen
    for chart, impls in expected["charts"].items():
        name = f"{chart}.svg"
        path = os.path.join(svg_dir, name)
        if not os.path.exists(path):
            continue
        root = ET.parse(path).getroot()  # raises if not well-formed
        if root.tag != SVG + "svg" or "viewBox" not in root.attrib:
            problems.append(f"{name}: not a standalone SVG with a viewBox")
        if f"](bench/{name})" not in text:
            problems.append(f"{name} is not linked from the report")
        legend = chart_colours(root, problems, name)
        if sorted(legend) != sorted(impls):
            problems.append(f"{name}: legend keys {sorted(legend)}, expected {sorted(impls)}")
        for impl, colour in legend.items():
            first = seen.setdefault(impl, (colour, name))
            if first[0] != colour:
                problems.append(f"{impl} is {colour} in {name} but {first[0]} in {first[1]}")
        if chart in expected["axes"]:
            axes = [e for e in root.iter(SVG + "g") if re.fullmatch(r"axes_\d+", e.get("id", ""))]
            if len(axes) != expected["axes"][chart]:
                problems.append(f"{name}: {len(axes)} axes, expected {expected['axes'][chart]} "
                                "(one per unit)")

    # The same input, the same bytes (no date, no random ids): a rerun changes no file.
    again = out_dir.rstrip("/") + "_again"
    if run_report(script, fixture, again) != text:
        problems.append("a second run wrote a different report")
    cmp = filecmp.dircmp(svg_dir, os.path.join(again, "bench"))
    _, mismatch, errors = filecmp.cmpfiles(svg_dir, os.path.join(again, "bench"), cmp.common,
                                           shallow=False)
    if mismatch or errors or cmp.left_only or cmp.right_only:
        problems.append(f"a second run drew different charts: {mismatch + errors}")
    shutil.rmtree(again, ignore_errors=True)

    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
