#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""CTest bench_report: runs tools/bench_report.py on fixture.json and checks its output.

Usage: check_report.py BENCH_REPORT_PY FIXTURE_JSON OUT_DIR
Checks the table rows the fixture must give (medians, ratios, the wide-spread flag, the
skipped failed run, the targets, a group's notes) and that every chart parses as XML and is an SVG with a viewBox."""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

script, fixture, out_dir = sys.argv[1:4]
shutil.rmtree(out_dir, ignore_errors=True)  # no charts left from an earlier run
report = os.path.join(out_dir, "benchmarks.md")
subprocess.run([sys.executable, script, fixture, "-o", report, "--compiler", "g++ test",
                "--flags=-O3"], check=True)
with open(report, encoding="utf-8") as f:
    text = f.read()

expected = [
    "| self-send chain (10M) (ns per op) | **stakker** | 2.05 | 2.00 | 2.10 | 3 | — |  |",
    "|  | naive queue | 20.5 | 20.0 | 21.0 | 3 | 10.00× (peer/ours) |  |",
    "|  | Asio post | 31.0 | 30.0 | 45.0 | 3 | 15.12× (peer/ours) | wide spread (48%) |",
    "| ping-pong (10M) (ns per op) | **stakker** | 3.05 | 3.00 | 3.10 | 3 | — |  |",
    "|  | asio coroutines | 40,000 | 39,604 | 40,404 | 3 | 1.25× (ours/peer) |  |",
    "no data for naive queue (`peer_naive_ping_pong`)",
    "no data for CAF 1 worker (`peer_caf_ping_pong/single`)",
    # the targets table: met, and without data
    "| self-send chain (10M) | Asio post | ≥ 1× | 15.12× | yes |",
    "| self-send chain (10M) | CAF 1 worker | ≥ 30× | 24.39× | **no** |",
    "| ping-pong (10M) | CAF 1 worker | ≥ 30× | no data | — |",
    # a decorated name (/min_time:0.500/real_time) matches its plain pattern
    "|  | CAF 1 worker | 50.0 | 48.0 | 52.0 | 3 | 24.39× (peer/ours) |  |",
    # a group's notes follow its table
    "CAF's default scheduler runs a tenth of each message-passing size",
    "| Compiler | g++ test |",
    "| Host | fixture-host |",
]
missing = [line for line in expected if line not in text]
for line in missing:
    print(f"missing from {report}: {line}")

svg_dir = os.path.join(out_dir, "bench")
charts = sorted(os.listdir(svg_dir))
if charts != ["asio_kv.svg", "asio_kv_cpu.svg", "core.svg"]:
    print(f"unexpected charts in {svg_dir}: {charts}")
    missing.append("charts")
for name in charts:
    root = ET.parse(os.path.join(svg_dir, name)).getroot()  # raises if not well-formed
    if root.tag != "{http://www.w3.org/2000/svg}svg" or "viewBox" not in root.attrib:
        print(f"{name}: not a standalone SVG with a viewBox")
        missing.append(name)
    if f"bench/{name}" not in text:
        print(f"{name} is not linked from the report")
        missing.append(name)
sys.exit(1 if missing else 0)
