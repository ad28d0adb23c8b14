#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""A/B: two builds of one benchmark binary, run interleaved, compared on CPU time.

    tools/bench_ab.py A_EXE B_EXE [--rounds N] [--label-a A] [--label-b B] [benchmark args]

Each round runs A and B once (one repetition of every selected benchmark), the two taking
turns to go first, so both see the same machine. Reported per benchmark: the median over the
rounds of A and of B, the ratio A / B (above 1: B is faster), and the range of the per-round
ratios, which says whether a difference is larger than the noise. Compared: the
benchmark's headline (the `ns_per_op` counter, in the time its source says, or else its rate:
`items_per_second`, `bytes_per_second`, where the ratio is B / A), the CPU time per
iteration as Google Benchmark measured it on the benchmark thread (the CPU-time A/B), and
the server CPU, latency and timer-phase counters where a benchmark reports them.

`tools/dev ab REV [benchmark args]` builds REV's binary and the working tree's, then runs
this. Exit status: 0, or 1 if a run failed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def run_once(exe, args, out):
    cmd = [exe, "--benchmark_repetitions=1", "--benchmark_report_aggregates_only=false",
           "--benchmark_out_format=json", f"--benchmark_out={out}", *args]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        sys.exit(f"bench_ab: {' '.join(cmd)} failed with status {done.returncode}")
    with open(out, encoding="utf-8") as f:
        return json.load(f)["benchmarks"]


# The figures compared for one benchmark: [(unit, value, higher_is_better)]. First the
# benchmark's own headline: `ns_per_op` where it reports one (its sources say in which time:
# a rate counter follows the benchmark's time, a timed phase may be wall time), else a rate,
# else nothing; then the CPU time per iteration as Google Benchmark measured it (the
# benchmark thread's; the iterations do the same work in both builds, so its ratio is the
# CPU-time A/B); then the counters that say more than the headline (server CPU, latency
# percentiles, the timers' two phases).
EXTRA = ("server_cpu_ns_per_op", "server_cpu_ns_per_req", "p50_ns", "p99_ns",
         "schedule_ns", "fire_ns")
TIME_SCALE = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def figures(bench):
    out = []
    if "ns_per_op" in bench:
        out.append(("ns/op", bench["ns_per_op"], False))
    else:
        for rate in ("items_per_second", "bytes_per_second"):
            if rate in bench:
                out.append((rate, bench[rate], True))
                break
    out.append(("cpu ns/iteration",
                bench["cpu_time"] * TIME_SCALE[bench.get("time_unit", "ns")], False))
    out += [(key, bench[key], False) for key in EXTRA if key in bench]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--label-a", default="A")
    parser.add_argument("--label-b", default="B")
    opts, bench_args = parser.parse_known_args()
    if opts.rounds < 1:
        sys.exit("bench_ab: --rounds must be at least 1")
    results = {opts.label_a: {}, opts.label_b: {}}
    order = []
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(opts.rounds):
            pair = [(opts.label_a, opts.a), (opts.label_b, opts.b)]
            if rnd % 2:
                pair.reverse()
            for label, exe in pair:
                print(f"bench_ab: round {rnd + 1}/{opts.rounds}: {label}", file=sys.stderr,
                      flush=True)
                out = os.path.join(tmp, f"{label}-{rnd}.json")
                for bench in run_once(exe, bench_args, out):
                    if bench.get("run_type") == "aggregate":
                        continue
                    name = bench["name"]
                    for unit, value, higher in figures(bench):
                        key = (name, unit, higher)
                        if key not in order:
                            order.append(key)
                        results[label].setdefault(key, []).append(value)
    a, b = results[opts.label_a], results[opts.label_b]
    print(f"| benchmark | unit | {opts.label_a} | {opts.label_b} | "
          f"{opts.label_a} / {opts.label_b} (>1: {opts.label_b} better) | range over rounds |")
    print("|---|---|--:|--:|--:|--:|")
    for key in order:
        name, unit, higher = key
        if key not in a or key not in b:
            print(f"| {name} | {unit} | {'—' if key not in a else ''} | "
                  f"{'—' if key not in b else ''} | only in one | |")
            continue
        va, vb = a[key], b[key]
        ratios = [(y / x if higher else x / y) for x, y in zip(va, vb) if x > 0 and y > 0]
        ma, mb = statistics.median(va), statistics.median(vb)
        ratio = (mb / ma if higher else ma / mb) if ma > 0 and mb > 0 else float("nan")
        spread = f"{min(ratios):.3f}–{max(ratios):.3f}" if ratios else ""
        print(f"| {name} | {unit} | {ma:.4g} | {mb:.4g} | **{ratio:.3f}** | {spread} |")


if __name__ == "__main__":
    main()
