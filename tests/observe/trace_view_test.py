#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""CTest observe: tools/trace_view.py on small traces written here, its SVG read back as XML.

Usage: trace_view_test.py [unittest options]   (TRACE_VIEW=path overrides the tool's path)

Checks the tracks (one per pid and tid, labelled, grouped per runtime, in sort order), the
slices in their tracks and in time order, the instants, a flow between two tracks, the
legend and the summary; a file that is not a trace (exit status 2 and a message); a trace
with no events; the time window; the cap on drawn events; names with markup characters;
unknown phases; and the same input giving the same files."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.environ.get("TRACE_VIEW") or os.path.join(HERE, "..", "..", "tools", "trace_view.py")
SVG = "{http://www.w3.org/2000/svg}"

# The format the runtime exports, as its design states it (one runtime, the example events).
KNOWN = {
    "displayTimeUnit": "ns",
    "otherData": {"runtime": 1, "recorded": 1234, "overwritten": 0},
    "traceEvents": [
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "runtime 1"}},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 0,
         "args": {"name": "runtime (loop, closures, timers)"}},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 17, "args": {"name": "chat::room #17"}},
        {"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": 17, "args": {"sort_index": 17}},
        {"ph": "X", "cat": "call", "name": "chat::room::say", "pid": 1, "tid": 17, "ts": 12.345,
         "dur": 0.250, "args": {"actor": 17}},
        {"ph": "s", "cat": "flow", "name": "call", "id": 5, "pid": 1, "tid": 3, "ts": 12.100},
        {"ph": "f", "cat": "flow", "name": "call", "bp": "e", "id": 5, "pid": 1, "tid": 17,
         "ts": 12.345},
        {"ph": "X", "cat": "task", "name": "task", "pid": 1, "tid": 17, "ts": 13.0, "dur": 1.5,
         "args": {"chain": "0x7f00"}},
        {"ph": "i", "cat": "timer", "name": "timer set", "s": "t", "pid": 1, "tid": 17,
         "ts": 14.0, "args": {"due_in_ns": 1000000}},
        {"ph": "i", "cat": "timer", "name": "timers due", "s": "t", "pid": 1, "tid": 0,
         "ts": 15.0, "args": {"count": 3}},
        {"ph": "X", "cat": "loop", "name": "loop wait", "pid": 1, "tid": 0, "ts": 16.0,
         "dur": 100.0},
        {"ph": "i", "cat": "cross-thread", "name": "wake", "s": "t", "pid": 1, "tid": 0,
         "ts": 17.0, "args": {"count": 2}},
    ],
}


def x_slice(name, pid, tid, ts, dur, cat="call"):
    """A complete slice event."""
    return {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": ts, "dur": dur}


def meta(name, pid, value, tid=None):
    """A metadata event (process_name, thread_name, *_sort_index)."""
    e = {"ph": "M", "name": name, "pid": pid,
         "args": {"sort_index" if name.endswith("sort_index") else "name": value}}
    if tid is not None:
        e["tid"] = tid
    return e


class TraceViewTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="trace_view_test.")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def run_tool(self, trace, *options, raw=None):
        """Runs the tool on a trace (a dict, or raw file text); returns (status, stderr,
        the HTML, the parsed SVG root)."""
        path = os.path.join(self.dir, "trace.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(raw if raw is not None else json.dumps(trace))
        out, svg = os.path.join(self.dir, "out.html"), os.path.join(self.dir, "out.svg")
        for stale in (out, svg):
            if os.path.exists(stale):
                os.remove(stale)
        done = subprocess.run([sys.executable, TOOL, path, "-o", out, "--svg", svg,
                               *options], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return done.returncode, done.stderr, None, None
        with open(out, encoding="utf-8") as f:
            page = f.read()
        with open(svg, encoding="utf-8") as f:
            svg_text = f.read()
        self.assertIn(svg_text.strip(), page, "the page embeds the --svg file")
        self.assertNotRegex(page, r"(?i)<script|<link|https?://(?!www\.w3\.org/2000/svg)",
                            "the page is self-contained")
        return 0, done.stderr, page, ET.fromstring(svg_text)

    @staticmethod
    def tracks(root):
        """{track id: its <g>} in document order."""
        return {g.get("id"): g for g in root.iter(SVG + "g") if g.get("class") == "track"}

    @staticmethod
    def of_class(root, cls):
        return [e for e in root.iter() if e.get("class") == cls]

    @staticmethod
    def shown(element):
        """The text an element shows (its <title> tooltip left out)."""
        return "".join(t for t in [element.text] + [c.tail for c in element] if t).strip()

    @classmethod
    def texts(cls, root, kind):
        return [cls.shown(e) for e in root.iter(SVG + "text") if e.get("class") == kind]

    @staticmethod
    def box(group):
        """The (x, width) of a slice's rectangle."""
        rect = group.find(SVG + "rect")
        return float(rect.get("x")), float(rect.get("width"))

    def test_a_known_trace_draws_its_tracks_slices_instants_and_flow(self):
        status, _, page, root = self.run_tool(KNOWN)
        self.assertEqual(status, 0)
        tracks = self.tracks(root)
        # tid 3 has no name (it is only a flow's start): drawn as "thread 3", in tid order
        self.assertEqual(list(tracks), ["track-1-0", "track-1-3", "track-1-17"])
        labels = self.texts(root, "track-label")
        self.assertEqual(labels, ["runtime (loop, closures, timers)", "thread 3",
                                  "chat::room #17"])
        self.assertEqual(self.texts(root, "group-label"), ["runtime 1"])

        room = [g for g in tracks["track-1-17"] if g.get("class") == "slice"]
        self.assertEqual([g.get("data-name") for g in room], ["chat::room::say", "task"])
        loop = [g for g in tracks["track-1-0"] if g.get("class") == "slice"]
        self.assertEqual([(g.get("data-name"), g.get("data-cat")) for g in loop],
                         [("loop wait", "loop")])
        say, task, wait = (self.box(g) for g in (room[0], room[1], loop[0]))
        self.assertLess(say[0], task[0])
        self.assertLess(task[0], wait[0])
        self.assertLess(say[1], task[1])  # 0.25 µs is narrower than 1.5 µs
        self.assertGreater(wait[1], 10 * task[1])
        # the loop wait is wide enough to be named; the tooltip has the name, times and args
        self.assertIn("loop wait", "".join(loop[0].itertext()))
        tip = room[0].find(SVG + "title").text
        self.assertIn("chat::room::say", tip)
        self.assertIn("duration: 250 ns", tip)
        self.assertIn("actor: 17", tip)

        instants = self.of_class(root, "instant")
        self.assertEqual(sorted(i.get("data-name") for i in instants),
                         ["timer set", "timers due", "wake"])
        flows = self.of_class(root, "flow")
        self.assertEqual(len(flows), 1)
        self.assertEqual(flows[0].get("data-id"), "5")
        path = flows[0].find(SVG + "path").get("d")
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
        (xa, ya), (xb, yb) = numbers[:2], numbers[-2:]
        self.assertLess(xa, xb)  # 12.100 µs before 12.345 µs
        self.assertLess(ya, yb)  # from thread 3 down to the room's track
        self.assertAlmostEqual(xb, say[0], delta=0.1)  # it ends where the call starts

        legend = [g.get("data-cat") for g in self.of_class(root, "legend-item")]
        self.assertEqual(legend, ["call", "task", "loop", "timer", "cross-thread"])
        summary = self.texts(root, "summary")[0]
        self.assertIn("12 events (7 drawn), 1 runtime", summary)
        self.assertIn("recorded 1,234, overwritten 0", summary)
        ticks = self.texts(root, "tick")
        self.assertGreaterEqual(len(ticks), 4)
        self.assertEqual(ticks[0], "0")
        self.assertTrue(all(t.endswith("µs") for t in ticks[1:]), ticks)
        self.assertIn("<title>Trace: trace.json</title>", page)

    def test_runtimes_are_grouped_and_tracks_follow_their_sort_index(self):
        trace = {"traceEvents": [
            meta("process_name", 1, "runtime 1"), meta("process_name", 2, "runtime 2"),
            meta("process_sort_index", 2, -1),  # runtime 2 first
            meta("thread_name", 1, "alpha #5", 5), meta("thread_name", 1, "beta #40", 40),
            meta("thread_sort_index", 1, 1, 40), meta("thread_sort_index", 1, 2, 5),
            meta("thread_name", 2, "gamma #5", 5),
            x_slice("alpha::run", 1, 5, 10.0, 4.0), x_slice("beta::run", 1, 40, 11.0, 4.0),
            x_slice("gamma::run", 2, 5, 12.0, 4.0),
            {"ph": "s", "cat": "flow", "name": "call", "id": 9, "pid": 1, "tid": 40, "ts": 12.0},
            {"ph": "f", "cat": "flow", "name": "call", "bp": "e", "id": 9, "pid": 2, "tid": 5,
             "ts": 13.0},
        ]}
        status, _, _, root = self.run_tool(trace)
        self.assertEqual(status, 0)
        self.assertEqual(list(self.tracks(root)), ["track-2-5", "track-1-40", "track-1-5"])
        self.assertEqual(self.texts(root, "group-label"), ["runtime 2", "runtime 1"])
        bands = [float(r.get("y")) for r in self.of_class(root, "group-band")]
        label_y = {t: float(y) for t, y in
                   ((self.shown(e), e.get("y")) for e in root.iter(SVG + "text")
                    if e.get("class") == "track-label")}
        self.assertLess(bands[0], label_y["gamma #5"])
        self.assertLess(label_y["gamma #5"], bands[1])
        self.assertLess(bands[1], label_y["beta #40"])
        self.assertLess(label_y["beta #40"], label_y["alpha #5"])
        self.assertIn("2 runtimes", self.texts(root, "summary")[0])
        # a flow across runtimes (pid 1 to pid 2) goes up, from runtime 1 to runtime 2
        flow = self.of_class(root, "flow")
        self.assertEqual(len(flow), 1)
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?",
                                                flow[0].find(SVG + "path").get("d"))]
        self.assertGreater(numbers[1], numbers[-1])

    def test_a_file_that_is_not_a_trace_is_refused_with_status_2(self):
        cases = [("{not json", "not JSON"), ('{"events": []}', "no traceEvents"),
                 ('"a string"', "no traceEvents"), ('{"traceEvents": [1, 2]}', "other than")]
        for raw, words in cases:
            with self.subTest(raw=raw):
                status, err, _, _ = self.run_tool(None, raw=raw)
                self.assertEqual(status, 2)
                self.assertIn("trace_view:", err)
                self.assertIn("not a trace", err)
                self.assertIn(words, err)
                self.assertNotIn("Traceback", err)
        missing = subprocess.run([sys.executable, TOOL, os.path.join(self.dir, "none.json"),
                                  "-o", os.path.join(self.dir, "x.html")],
                                 capture_output=True, text=True, check=False)
        self.assertEqual(missing.returncode, 2)
        self.assertIn("cannot read it", missing.stderr)

    def test_a_trace_without_events_says_so(self):
        for trace in ({"traceEvents": []}, [], {"traceEvents": [meta("process_name", 1, "r")]}):
            with self.subTest(trace=trace):
                status, _, page, root = self.run_tool(trace)
                self.assertEqual(status, 0)
                self.assertIn("No events in this trace", page)
                self.assertEqual(self.of_class(root, "slice"), [])

    def test_the_window_draws_only_what_overlaps_it(self):
        trace = {"traceEvents": [x_slice(f"step{i}", 1, 1, 100.0 * i, 50.0) for i in range(10)]}
        status, _, _, root = self.run_tool(trace, "--from-us", "320", "--to-us", "560")
        self.assertEqual(status, 0)
        names = [g.get("data-name") for g in self.of_class(root, "slice")]
        self.assertEqual(names, ["step3", "step4", "step5"])  # step3 ends at 350, in it
        self.assertIn("Window:", " ".join(self.texts(root, "note")))
        boxes = [self.box(g) for g in self.of_class(root, "slice")]
        left = float(root.find(f".//{SVG}line[@stroke='#afb8c1']").get("x1"))
        self.assertAlmostEqual(boxes[0][0], left, delta=0.1)  # step3 is cut at the window
        self.assertEqual(self.texts(root, "axis-title"), ["0 = ts 320.000 µs"])
        status, _, page, _ = self.run_tool(trace, "--from-us", "2000", "--to-us", "3000")
        self.assertEqual(status, 0)
        self.assertIn("No events in this window", page)
        status, err, _, _ = self.run_tool(trace, "--from-us", "5", "--to-us", "5")
        self.assertEqual(status, 2)
        self.assertIn("--to-us", err)

    def test_above_the_cap_the_longest_slices_are_drawn_and_the_rest_counted(self):
        trace = {"traceEvents": [x_slice(f"s{i}", 1, 1, 10.0 * i, 1.0 + i) for i in range(9)]}
        status, _, _, root = self.run_tool(trace, "--max-events", "3")
        self.assertEqual(status, 0)
        names = [g.get("data-name") for g in self.of_class(root, "slice")]
        self.assertEqual(names, ["s6", "s7", "s8"])
        self.assertIn("6 events not drawn", " ".join(self.texts(root, "note")))

    def test_names_with_markup_characters_are_escaped(self):
        name = 'a<b> & "c" \'d\''
        trace = {"traceEvents": [meta("process_name", 1, "<runtime & co>"),
                                 meta("thread_name", 1, 'actor "x" <y>', 2),
                                 x_slice(name, 1, 2, 0.0, 1000.0, cat="<odd>&cat"),
                                 {"ph": "i", "name": "</svg>", "s": "t", "pid": 1, "tid": 2,
                                  "ts": 5.0, "args": {"k<": "v&"}}]}
        status, _, page, root = self.run_tool(trace, "--title", "t <&> \"q\"")
        self.assertEqual(status, 0)
        self.assertNotIn("a<b>", page)
        slices = self.of_class(root, "slice")
        self.assertEqual(slices[0].get("data-name"), name)
        self.assertIn(name, "".join(slices[0].itertext()))
        self.assertEqual(self.texts(root, "group-label"), ["<runtime & co>"])
        self.assertEqual(self.texts(root, "track-label"), ['actor "x" <y>'])
        self.assertEqual(self.texts(root, "title"), ['t <&> "q"'])
        self.assertIn("<odd>&cat", [g.get("data-cat") for g in self.of_class(root, "legend-item")])
        self.assertIn("k<: v&", self.of_class(root, "instant")[0].find(SVG + "title").text)

    def test_unknown_phases_and_begin_end_pairs_are_tolerated(self):
        trace = {"traceEvents": [
            {"ph": "C", "name": "counter", "pid": 1, "ts": 1.0, "args": {"v": 3}},
            {"ph": "b", "cat": "async", "name": "op", "id": 1, "pid": 1, "ts": 2.0},
            {"ph": "B", "name": "outer", "pid": 1, "tid": 1, "ts": 10.0},
            {"ph": "B", "name": "inner", "pid": 1, "tid": 1, "ts": 11.0},
            {"ph": "E", "pid": 1, "tid": 1, "ts": 12.0},
            {"ph": "E", "pid": 1, "tid": 1, "ts": 20.0},
            {"ph": "X", "name": "no time", "pid": 1, "tid": 1},
            {"ph": "X", "cat": "mystery", "name": "odd", "pid": 1, "tid": 1, "ts": 30.0,
             "dur": "long"},
        ]}
        status, _, _, root = self.run_tool(trace)
        self.assertEqual(status, 0)
        slices = {g.get("data-name"): g for g in self.of_class(root, "slice")}
        self.assertEqual(sorted(slices), ["inner", "odd", "outer"])
        self.assertEqual(float(slices["outer"].get("data-dur")), 10.0)
        # nested: inner is drawn on the row below outer
        outer_y = float(slices["outer"].find(SVG + "rect").get("y"))
        inner_y = float(slices["inner"].find(SVG + "rect").get("y"))
        self.assertGreater(inner_y, outer_y)
        note = " ".join(self.texts(root, "note"))
        self.assertIn("C (1)", note)
        self.assertIn("b (1)", note)
        self.assertIn("X (1)", note)

    def test_the_same_trace_gives_the_same_files(self):
        path = os.path.join(HERE, "data", "sample_trace.json")
        outputs = []
        for n in range(2):
            out = os.path.join(self.dir, f"{n}.html")
            subprocess.run([sys.executable, TOOL, path, "-o", out], check=True,
                           capture_output=True)
            with open(out, encoding="utf-8") as f:
                outputs.append(f.read())
        self.assertEqual(outputs[0], outputs[1])
        root = ET.fromstring(re.search(r"<svg.*</svg>", outputs[0], re.S).group(0))
        self.assertEqual(len(self.texts(root, "group-label")), 2)
        self.assertEqual(len(self.tracks(root)), 8)


if __name__ == "__main__":
    unittest.main()
