#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Draws a trace (Trace Event JSON, as the runtime exports it) as a static timeline page.

Usage: tools/trace_view.py TRACE.json -o OUT.html [--svg OUT.svg] [--title T] [--width PX]
                           [--from-us A --to-us B] [--max-events N]

The page is self-contained (one inline SVG, no script, no network): one track per (pid, tid)
labelled with its thread_name, grouped per pid under its process_name (a runtime or shard),
tracks in thread_sort_index order, then tid. Complete slices ("X", and "B"/"E" pairs) are
boxes coloured by category (shades by name within a category, the same in every page),
named when wide enough, with a tooltip (name, start, duration, args); instants ("i") are
diamonds; flows ("s" to "f" with the same id) are arrows between tracks. A time axis, a
legend of the categories and a summary line (events, runtimes, span, what the recorder lost)
frame it. Other phases are counted and ignored. Above --max-events drawable events the
longest slices are kept and a note says how many were left out: --from-us/--to-us draws a
window in full. Standard library only; the same input gives the same files.

Exit status 0, or 2 with a message when the file is not a trace.
"""

import argparse
import html
import json
import math
import sys
import zlib

MAX_EVENTS = 20000  # drawable events (slices, instants, flows) drawn at most, by default
MAX_DEPTH = 6  # nested slices drawn on at most this many rows per track
FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"
CHAR_W = 0.6  # the average glyph width of FONT, in font sizes (to fit names in boxes)

# Layout, in px.
MARGIN = 16
LABEL_W = 250  # the track labels' column
ROW_H = 20  # one row of slices
TRACK_PAD = 5  # above and below a track's rows
GROUP_H = 26  # a runtime's header band
AXIS_H = 30
SLICE_FONT = 11
LABEL_FONT = 12

# Known categories: (hue, saturation, lightness) of the base colour, and the legend's words.
CATEGORIES = {
    "call": ((212, 62, 56), "call (an actor's method run)"),
    "task": ((145, 50, 42), "task (a coroutine step)"),
    "loop": ((210, 12, 80), "loop (waiting for work)"),
    "timer": ((275, 45, 55), "timer"),
    "cross-thread": ((18, 80, 52), "cross-thread (wake, inbox)"),
    "flow": ((215, 20, 30), "flow (a call to its run)"),
}
TEXT_DARK = "#1f2328"
TEXT_LIGHT = "#ffffff"
GRID = "#e4e8ec"
UNITS = [("s", 1e6), ("ms", 1e3), ("µs", 1.0), ("ns", 1e-3)]  # sizes in µs


class NotATrace(Exception):
    """The input is not a Trace Event file; the message says why."""


# --- reading -----------------------------------------------------------------------------------


def load_trace(path):
    """The trace's (events, otherData). Accepts the object form ({"traceEvents": [...]}) and
    the bare array form; raises NotATrace for anything else."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise NotATrace(f"cannot read it ({e.strerror})") from e
    except UnicodeDecodeError as e:
        raise NotATrace("not UTF-8 text") from e
    except json.JSONDecodeError as e:
        raise NotATrace(f"not JSON ({e.msg} at line {e.lineno} column {e.colno})") from e
    if isinstance(data, list):
        events, other = data, {}
    elif isinstance(data, dict) and isinstance(data.get("traceEvents"), list):
        events, other = data["traceEvents"], data.get("otherData") or {}
    else:
        raise NotATrace("no traceEvents list (not a Trace Event JSON file)")
    if not all(isinstance(e, dict) for e in events):
        raise NotATrace("traceEvents holds something other than objects")
    return events, other if isinstance(other, dict) else {}


def number(value, default=None):
    """A JSON number as a float, or default for anything else (strings, null, booleans)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return default


class Trace:
    """The events sorted out: names, sort keys, slices, instants, flows, skipped phases."""

    def __init__(self, events, other):
        self.other = other
        self.process_names, self.thread_names = {}, {}
        self.process_sort, self.thread_sort = {}, {}
        self.slices, self.instants, self.flows = [], [], []
        self.unknown = {}  # phase -> count of events not drawn
        self.total = len(events)
        starts, begins = {}, {}
        for e in events:
            ph = e.get("ph")
            pid, tid = e.get("pid", 0), e.get("tid", 0)
            ts = number(e.get("ts"))
            args = e.get("args") if isinstance(e.get("args"), dict) else {}
            if ph == "M":
                self.metadata(e.get("name"), pid, tid, args)
            elif ts is None:
                self.unknown[str(ph)] = self.unknown.get(str(ph), 0) + 1
            elif ph == "X":
                self.slices.append(slice_of(e, pid, tid, ts, number(e.get("dur"), 0.0), args))
            elif ph == "B":
                begins.setdefault((pid, tid), []).append(e)
            elif ph == "E":
                stack = begins.get((pid, tid))
                if stack:
                    b = stack.pop()
                    begin = number(b.get("ts"))
                    merged = dict(b.get("args") or {}, **args)
                    self.slices.append(slice_of(b, pid, tid, begin, max(0.0, ts - begin), merged))
            elif ph in ("i", "I"):
                self.instants.append({"name": str(e.get("name", "")), "cat": str(e.get("cat", "")),
                                      "pid": pid, "tid": tid, "ts": ts, "scope": e.get("s", "t"),
                                      "args": args})
            elif ph == "s":
                starts[(e.get("cat"), e.get("id"))] = (pid, tid, ts, str(e.get("name", "")))
            elif ph == "f":
                start = starts.pop((e.get("cat"), e.get("id")), None)
                if start is not None:
                    self.flows.append({"from": start[:2], "to": (pid, tid), "ts0": start[2],
                                       "ts1": ts, "name": start[3], "id": e.get("id"),
                                       "cat": str(e.get("cat", "flow"))})
            else:
                self.unknown[str(ph)] = self.unknown.get(str(ph), 0) + 1
        for stack in begins.values():  # a "B" never ended: not drawn
            for _ in stack:
                self.unknown["B"] = self.unknown.get("B", 0) + 1

    def metadata(self, name, pid, tid, args):
        """Records one "M" event (process_name, thread_name and their sort indices)."""
        if name == "process_name":
            self.process_names[pid] = str(args.get("name", ""))
        elif name == "thread_name":
            self.thread_names[(pid, tid)] = str(args.get("name", ""))
        elif name == "process_sort_index":
            self.process_sort[pid] = number(args.get("sort_index"), 0.0)
        elif name == "thread_sort_index":
            self.thread_sort[(pid, tid)] = number(args.get("sort_index"), 0.0)

    def drawable(self):
        """How many events the timeline draws (slices, instants and flows)."""
        return len(self.slices) + len(self.instants) + len(self.flows)


def slice_of(e, pid, tid, ts, dur, args):
    """A slice as the timeline draws it."""
    return {"name": str(e.get("name", "")), "cat": str(e.get("cat", "")), "pid": pid, "tid": tid,
            "ts": ts, "dur": max(0.0, dur), "args": args}


def sort_key(value):
    """pids and tids are numbers in practice, strings are tolerated: numbers first."""
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


# --- choosing what to draw ---------------------------------------------------------------------


def window(trace, t0, t1):
    """Keeps only what overlaps [t0, t1] (either may be None: unbounded)."""
    lo = -math.inf if t0 is None else t0
    hi = math.inf if t1 is None else t1
    trace.slices = [s for s in trace.slices if s["ts"] <= hi and s["ts"] + s["dur"] >= lo]
    trace.instants = [i for i in trace.instants if lo <= i["ts"] <= hi]
    trace.flows = [f for f in trace.flows if f["ts0"] <= hi and f["ts1"] >= lo]


def cap(trace, limit):
    """Keeps at most `limit` drawable events: the longest slices first, then flows, then
    instants, each in time order. Returns how many were left out."""
    total = trace.drawable()
    if total <= limit:
        return 0
    slices = sorted(trace.slices, key=lambda s: -s["dur"])[:limit]
    room = limit - len(slices)
    flows = sorted(trace.flows, key=lambda f: f["ts0"])[:room]
    room -= len(flows)
    instants = sorted(trace.instants, key=lambda i: i["ts"])[:room]
    trace.slices = sorted(slices, key=lambda s: s["ts"])
    trace.flows, trace.instants = flows, instants
    return total - trace.drawable()


def tracks_of(trace):
    """[(pid, [tid, ...])] in display order: named threads and threads with events."""
    keys = set(trace.thread_names)
    keys.update((s["pid"], s["tid"]) for s in trace.slices)
    keys.update((i["pid"], i["tid"]) for i in trace.instants if i["scope"] == "t")
    for f in trace.flows:
        keys.update((f["from"], f["to"]))
    pids = {pid for pid, _ in keys} | set(trace.process_names)
    groups = []
    for pid in sorted(pids, key=lambda p: (trace.process_sort.get(p, 0.0), sort_key(p))):
        tids = sorted((t for p, t in keys if p == pid),
                      key=lambda t: (trace.thread_sort.get((pid, t), 0.0), sort_key(t)))
        groups.append((pid, tids))
    return groups


def nest(slices):
    """Gives each slice of one track its row (its nesting depth); returns the row count."""
    ends, rows = [], 1
    for s in sorted(slices, key=lambda s: (s["ts"], -s["dur"])):
        while ends and ends[-1] <= s["ts"]:
            ends.pop()
        s["row"] = min(len(ends), MAX_DEPTH - 1)
        rows = max(rows, s["row"] + 1)
        ends.append(s["ts"] + s["dur"])
    return rows


# --- colours and words -------------------------------------------------------------------------


def hsl(h, s, l):
    """An HSL colour as #rrggbb."""
    s, l = s / 100.0, l / 100.0
    c = (1 - abs(2 * l - 1)) * s
    x = c * (1 - abs((h / 60.0) % 2 - 1))
    m = l - c / 2
    r, g, b = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(h // 60) % 6]
    return "#" + "".join(f"{round((v + m) * 255):02x}" for v in (r, g, b))


def base_colour(cat):
    """(hue, saturation, lightness) of a category: fixed for the known ones, else by a hash
    of the name (the same in every page)."""
    if cat in CATEGORIES:
        return CATEGORIES[cat][0]
    return (zlib.crc32(cat.encode("utf-8")) % 360, 45, 55)


def slice_colour(cat, name):
    """A slice's fill: its category's hue, a shade picked by its name's hash."""
    h, s, l = base_colour(cat)
    shade = zlib.crc32(name.encode("utf-8")) % 5 - 2  # -2 .. 2
    return hsl((h + 7 * shade) % 360, s, max(20, min(88, l + 5 * shade)))


def text_on(fill):
    """Dark or light text, whichever reads better on the fill."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return TEXT_DARK if 0.299 * r + 0.587 * g + 0.114 * b > 150 else TEXT_LIGHT


def fmt_time(us, step=None):
    """A time in µs in a readable unit: the unit of `step` (an axis) or of the value itself."""
    size = abs(step if step else us)
    for unit, scale in UNITS:
        if size >= scale or unit == "ns":
            value = us / scale
            break
    if step:
        digits = max(0, -math.floor(math.log10(step / scale) + 1e-9))
        return f"{value:.{digits}f} {unit}" if value else "0"
    return f"{value:.3g} {unit}" if abs(value) < 1000 else f"{value:,.0f} {unit}"


def nice_step(span, pixels, every=110):
    """An axis step of 1, 2 or 5 times a power of ten, about every `every` px (at least
    three quarters of that)."""
    raw = span * every / max(pixels, 1)
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if mult * power >= 0.75 * raw:
            return mult * power
    return 10 * power


def fit(text, width, font=SLICE_FONT):
    """The text, shortened with an ellipsis to fit `width` px, or "" when nothing fits."""
    room = int(width / (font * CHAR_W))
    if len(text) <= room:
        return text
    return text[:room - 1] + "…" if room >= 4 else ""


def esc(text):
    """Text safe in SVG/HTML content and in double-quoted attributes."""
    return html.escape(str(text), quote=True)


def describe_args(args):
    """Tooltip lines for an event's args."""
    return [f"{k}: {json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}"
            for k, v in args.items()]


# --- drawing -----------------------------------------------------------------------------------


class Canvas:
    """Collects SVG elements; y grows as sections are added."""

    def __init__(self, width):
        self.width, self.y, self.parts = width, MARGIN, []

    def add(self, element):
        self.parts.append(element)

    def text(self, x, y, content, size=LABEL_FONT, cls="", weight="normal", anchor="start",
             colour=TEXT_DARK, title=None):
        tip = f"<title>{esc(title)}</title>" if title else ""
        self.add(f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" font-size="{size}" '
                 f'font-weight="{weight}" text-anchor="{anchor}" fill="{colour}">'
                 f"{tip}{esc(content)}</text>")


def draw(trace, args, title):
    """The whole SVG as text."""
    width = max(args.width, LABEL_W + 300)
    c = Canvas(width)
    c.text(MARGIN, c.y + 16, title, size=17, weight="bold", cls="title")
    c.y += 30
    summary, notes = summary_lines(trace, args)
    c.text(MARGIN, c.y + 12, summary, size=12, cls="summary", colour="#424a53")
    c.y += 20
    for note in notes:
        c.text(MARGIN, c.y + 12, note, size=12, cls="note", colour="#9a3b00")
        c.y += 18
    groups = tracks_of(trace)
    if not trace.drawable():
        windowed = args.from_us is not None or args.to_us is not None
        what = ("No events in this window: nothing to draw." if windowed and trace.total else
                "No events in this trace: nothing to draw.")
        c.y += 10
        c.text(MARGIN, c.y + 14, what, size=14, cls="empty")
        c.y += 30
        return finish(c)
    c.y += 6
    legend(c, trace)
    c.y += 10

    # The time range: the window, or the events' extent.
    ends = [s["ts"] + s["dur"] for s in trace.slices] + [i["ts"] for i in trace.instants]
    ends += [f["ts1"] for f in trace.flows]
    starts = [s["ts"] for s in trace.slices] + [i["ts"] for i in trace.instants]
    starts += [f["ts0"] for f in trace.flows]
    t0 = args.from_us if args.from_us is not None else min(starts)
    t1 = args.to_us if args.to_us is not None else max(ends)
    if t1 <= t0:
        t1 = t0 + 1.0
    x0, x1 = MARGIN + LABEL_W, width - MARGIN
    scale = (x1 - x0) / (t1 - t0)

    def x_of(ts):
        return x0 + (min(max(ts, t0), t1) - t0) * scale

    # Track geometry.
    by_track = {}
    for s in trace.slices:
        by_track.setdefault((s["pid"], s["tid"]), []).append(s)
    axis_y = c.y
    c.y += AXIS_H
    top = c.y
    layout = []  # (kind, pid, tid, y, height)
    for pid, tids in groups:
        layout.append(("group", pid, None, c.y, GROUP_H))
        c.y += GROUP_H
        for tid in tids:
            rows = nest(by_track.get((pid, tid), []))
            h = rows * ROW_H + 2 * TRACK_PAD
            layout.append(("track", pid, tid, c.y, h))
            c.y += h
    bottom = c.y
    track_y = {(pid, tid): (y, h) for kind, pid, tid, y, h in layout if kind == "track"}
    group_y = {pid: y for kind, pid, _, y, _ in layout if kind == "group"}

    # Backgrounds, grid and labels.
    step = nice_step(t1 - t0, x1 - x0)
    ticks = [t0 + k * step for k in range(int((t1 - t0) / step + 1e-9) + 1)]
    for i, (kind, pid, tid, y, h) in enumerate(layout):
        if kind == "group":
            name = trace.process_names.get(pid) or f"process {pid}"
            count = sum(1 for k in layout if k[0] == "track" and k[1] == pid)
            c.add(f'<rect class="group-band" x="{MARGIN}" y="{y:.1f}" width="{width - 2 * MARGIN}" '
                  f'height="{h}" fill="#eef1f4"/>')
            c.text(MARGIN + 6, y + 17, f"{name}", size=13, weight="bold", cls="group-label")
            c.text(x1 - 4, y + 17, f"pid {pid} · {count} track{'s' if count != 1 else ''}",
                   size=11, anchor="end", colour="#57606a", cls="group-info")
        else:
            shade = "#fafbfc" if i % 2 else "#ffffff"
            c.add(f'<rect class="track-band" x="{MARGIN}" y="{y:.1f}" width="{width - 2 * MARGIN}" '
                  f'height="{h}" fill="{shade}"/>')
    for t in ticks:
        x = x_of(t)
        c.add(f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
              f'stroke="{GRID}" stroke-width="1"/>')
    c.add(f'<line x1="{x0}" y1="{top}" x2="{x0}" y2="{bottom}" stroke="#afb8c1"/>')
    c.add(f'<line x1="{MARGIN}" y1="{bottom}" x2="{x1}" y2="{bottom}" stroke="#afb8c1"/>')
    draw_axis(c, ticks, step, t0, x_of, axis_y)

    for (pid, tid), (y, h) in track_y.items():
        name = trace.thread_names.get((pid, tid)) or f"thread {tid}"
        c.add(f'<g class="track" id="track-{esc(pid)}-{esc(tid)}" data-pid="{esc(pid)}" '
              f'data-tid="{esc(tid)}">')
        c.text(MARGIN + 14, y + TRACK_PAD + ROW_H / 2 + 4, fit(name, LABEL_W - 20, LABEL_FONT - 1),
               cls="track-label", title=f"{name} (pid {pid}, tid {tid})")
        for s in by_track.get((pid, tid), []):
            draw_slice(c, s, x_of, y)
        c.add("</g>")

    for inst in trace.instants:
        if inst["scope"] in ("p", "g"):
            pids = [inst["pid"]] if inst["scope"] == "p" else list(group_y)
            for pid in pids:
                ys = [yh for (p, _), yh in track_y.items() if p == pid]
                if ys:
                    draw_span_instant(c, inst, x_of(inst["ts"]), min(y for y, _ in ys),
                                      max(y + h for y, h in ys))
        elif (inst["pid"], inst["tid"]) in track_y:
            y, _ = track_y[(inst["pid"], inst["tid"])]
            draw_instant(c, inst, x_of(inst["ts"]), y + TRACK_PAD + ROW_H - 2)  # under names

    for f in trace.flows:
        if f["from"] in track_y and f["to"] in track_y:
            ya = track_y[f["from"]][0] + TRACK_PAD + ROW_H / 2
            yb = track_y[f["to"]][0] + TRACK_PAD + ROW_H / 2
            if yb != ya:  # from the edge of one first row to the edge of the other
                edge = (ROW_H / 2 - 1) * (1 if yb > ya else -1)
                ya, yb = ya + edge, yb - edge
            draw_flow(c, f, x_of(f["ts0"]), ya, x_of(f["ts1"]), yb)
    c.y = bottom + 8
    return finish(c)


def draw_axis(c, ticks, step, t0, x_of, y):
    """The time axis above the tracks: tick marks and labels relative to t0."""
    c.text(MARGIN, y + 18, f"0 = ts {t0:,.3f} µs", size=11, colour="#57606a",
           cls="axis-title")
    for t in ticks:
        x = x_of(t)
        c.add(f'<line x1="{x:.1f}" y1="{y + AXIS_H - 6}" x2="{x:.1f}" y2="{y + AXIS_H}" '
              f'stroke="#57606a"/>')
        c.text(x, y + AXIS_H - 10, fmt_time(t - t0, step), size=11, anchor="middle",
               colour="#424a53", cls="tick")


def draw_slice(c, s, x_of, track_top):
    """One slice: a box, its name when it fits, a tooltip."""
    xa, xb = x_of(s["ts"]), x_of(s["ts"] + s["dur"])
    w = max(xb - xa, 1.0)
    y = track_top + TRACK_PAD + s["row"] * ROW_H
    fill = slice_colour(s["cat"], s["name"])
    tip = "\n".join([s["name"], f"category: {s['cat'] or '(none)'}",
                     f"start: {fmt_time(s['ts'])}", f"duration: {fmt_time(s['dur'])}"]
                    + describe_args(s["args"]))
    c.add(f'<g class="slice" data-cat="{esc(s["cat"])}" data-name="{esc(s["name"])}" '
          f'data-ts="{s["ts"]!r}" data-dur="{s["dur"]!r}"><title>{esc(tip)}</title>'
          f'<rect x="{xa:.2f}" y="{y + 1:.1f}" width="{w:.2f}" height="{ROW_H - 2}" rx="2" '
          f'fill="{fill}" stroke="#00000022" stroke-width="0.5"/>')
    label = fit(s["name"], w - 6)
    if not label or (label.endswith("…") and "::" in s["name"]):  # the method's own name
        label = fit(s["name"].rsplit("::", 1)[-1], w - 6) or label
    if label:
        c.text(xa + 3, y + ROW_H / 2 + 4, label, size=SLICE_FONT, colour=text_on(fill),
               cls="slice-label")
    c.add("</g>")


def draw_instant(c, inst, x, y):
    """A thread-scoped instant: a diamond with a tooltip."""
    fill = hsl(*base_colour(inst["cat"]))
    tip = "\n".join([inst["name"], f"category: {inst['cat'] or '(none)'}",
                     f"at: {fmt_time(inst['ts'])}"] + describe_args(inst["args"]))
    r = 5
    c.add(f'<g class="instant" data-cat="{esc(inst["cat"])}" data-name="{esc(inst["name"])}" '
          f'data-ts="{inst["ts"]!r}"><title>{esc(tip)}</title>'
          f'<path d="M{x:.2f},{y - r:.1f} L{x + r:.2f},{y:.1f} L{x:.2f},{y + r:.1f} '
          f'L{x - r:.2f},{y:.1f} Z" fill="{fill}" stroke="#ffffff" stroke-width="1"/></g>')


def draw_span_instant(c, inst, x, y0, y1):
    """A process- or global-scoped instant: a dashed line across the tracks it covers."""
    fill = hsl(*base_colour(inst["cat"]))
    tip = "\n".join([inst["name"], f"at: {fmt_time(inst['ts'])}"] + describe_args(inst["args"]))
    c.add(f'<g class="instant" data-cat="{esc(inst["cat"])}" data-name="{esc(inst["name"])}" '
          f'data-ts="{inst["ts"]!r}"><title>{esc(tip)}</title>'
          f'<line x1="{x:.2f}" y1="{y0:.1f}" x2="{x:.2f}" y2="{y1:.1f}" stroke="{fill}" '
          f'stroke-width="1.5" stroke-dasharray="4 3"/></g>')


def draw_flow(c, f, xa, ya, xb, yb):
    """A flow: a curve from its start on one track to its end on another, with an arrowhead."""
    mid = (ya + yb) / 2
    tip = (f"{f['name'] or 'flow'} (id {f['id']}): {fmt_time(f['ts0'])} → {fmt_time(f['ts1'])}"
           f" (+{fmt_time(f['ts1'] - f['ts0'])})")
    c.add(f'<g class="flow" data-id="{esc(f["id"])}" data-ts0="{f["ts0"]!r}" '
          f'data-ts1="{f["ts1"]!r}"><title>{esc(tip)}</title>'
          f'<circle cx="{xa:.2f}" cy="{ya:.1f}" r="2.2" fill="#3d4650"/>'
          f'<path d="M{xa:.2f},{ya:.1f} C{xa:.2f},{mid:.1f} {xb:.2f},{mid:.1f} {xb:.2f},{yb:.1f}" '
          f'fill="none" stroke="#3d4650" stroke-opacity="0.75" stroke-width="1.3" '
          f'marker-end="url(#arrow)"/></g>')


def legend(c, trace):
    """The categories drawn, each with its colour and count, then the marks' meanings."""
    counts, boxes = {}, set()  # boxes: categories with slices (else diamonds: instants only)
    for s in trace.slices:
        counts[s["cat"]] = counts.get(s["cat"], 0) + 1
        boxes.add(s["cat"])
    for i in trace.instants:
        counts[i["cat"]] = counts.get(i["cat"], 0) + 1
    x, y = MARGIN, c.y
    items = [(cat, counts[cat]) for cat in sorted(counts, key=lambda k: (k not in CATEGORIES,
             list(CATEGORIES).index(k) if k in CATEGORIES else 0, k))]
    for cat, n in items:
        words = CATEGORIES[cat][1] if cat in CATEGORIES else (cat or "(no category)")
        label = f"{words}: {n:,}"
        w = 22 + len(label) * 12 * CHAR_W + 18
        if x + w > c.width - MARGIN:
            x, y = MARGIN, y + 20
        fill = hsl(*base_colour(cat))
        swatch = (f'<rect x="{x}" y="{y + 2}" width="14" height="12" rx="2" fill="{fill}"/>'
                  if cat in boxes else
                  f'<path d="M{x + 7},{y + 1} L{x + 13},{y + 8} L{x + 7},{y + 15} L{x + 1},{y + 8} '
                  f'Z" fill="{fill}"/>')
        c.add(f'<g class="legend-item" data-cat="{esc(cat)}">{swatch}')
        c.text(x + 20, y + 12, label, size=12, cls="legend-label")
        c.add("</g>")
        x += w
    if trace.flows:
        label = f"flows (call → run): {len(trace.flows):,}"
        w = 30 + len(label) * 12 * CHAR_W
        if x + w > c.width - MARGIN:
            x, y = MARGIN, y + 20
        c.add(f'<path d="M{x},{y + 8} L{x + 18},{y + 8}" stroke="#3d4650" stroke-width="1.3" '
              f'marker-end="url(#arrow)"/>')
        c.text(x + 26, y + 12, label, size=12, cls="legend-label")
    c.y = y + 20


def summary_lines(trace, args):
    """(the summary line, notes on what is not drawn)."""
    pids = {s["pid"] for s in trace.slices} | {i["pid"] for i in trace.instants}
    pids |= set(trace.process_names)
    times = [s["ts"] for s in trace.slices] + [i["ts"] for i in trace.instants]
    ends = [s["ts"] + s["dur"] for s in trace.slices] + times
    span = f", span {fmt_time(max(ends) - min(times))}" if times else ""
    runtimes = f"{len(pids)} runtime{'s' if len(pids) != 1 else ''}"
    line = f"{trace.total:,} events ({trace.drawable():,} drawn), {runtimes}{span}"
    if "recorded" in trace.other:
        line += f"; recorded {trace.other['recorded']:,}" if isinstance(
            trace.other["recorded"], int) else f"; recorded {trace.other['recorded']}"
    if "overwritten" in trace.other:
        line += f", overwritten {trace.other['overwritten']}"
        if trace.other["overwritten"]:
            line += " (the oldest events were lost: the recorder's ring was full)"
    notes = []
    if args.from_us is not None or args.to_us is not None:
        lo = "the start" if args.from_us is None else f"ts {args.from_us:,.3f} µs"
        hi = "the end" if args.to_us is None else f"ts {args.to_us:,.3f} µs"
        notes.append(f"Window: {lo} to {hi} (--from-us/--to-us); events outside it not drawn.")
    if args.skipped:
        notes.append(f"{args.skipped:,} events not drawn (more than {args.max_events:,}: the "
                     f"longest slices were kept); draw a window with --from-us/--to-us to see "
                     f"them all.")
    if trace.unknown:
        kinds = ", ".join(f"{ph} ({n:,})" for ph, n in sorted(trace.unknown.items()))
        notes.append(f"Not drawn: events of other phases or without a time: {kinds}.")
    return line, notes


def finish(c):
    """The SVG document around the collected elements."""
    height = c.y + MARGIN
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{c.width}" '
            f'height="{height:.0f}" viewBox="0 0 {c.width} {height:.0f}" '
            f'font-family="{FONT}">'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
            'markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            'fill="#3d4650"/></marker></defs>'
            f'<rect width="{c.width}" height="{height:.0f}" fill="#ffffff"/>')
    return head + "\n" + "\n".join(c.parts) + "\n</svg>\n"


PAGE = """<!DOCTYPE html>
<!-- SPDX-License-Identifier: MIT OR Apache-2.0 -->
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ margin: 0; padding: 8px; background: #ffffff; color: #1f2328;
       font-family: {font}; }}
.timeline .slice:hover rect {{ stroke: #000000; stroke-width: 1.5; }}
.timeline .instant:hover path {{ stroke: #000000; }}
.timeline .flow:hover path {{ stroke-opacity: 1; stroke-width: 2.2; }}
.timeline text {{ pointer-events: none; }}
.timeline .track-label, .timeline title {{ pointer-events: auto; }}
p.hint {{ font-size: 12px; color: #57606a; margin: 4px {margin}px; }}
</style>
</head>
<body>
{svg}<p class="hint">Generated by tools/trace_view.py from {source}. Hover a slice, a mark
or an arrow for its details.</p>
</body>
</html>
"""


def main(argv):
    """The command line; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trace", help="Trace Event JSON file")
    p.add_argument("-o", "--output", required=True, help="the HTML page to write")
    p.add_argument("--svg", help="also write the bare SVG here")
    p.add_argument("--title", help="the page's title (default: the trace file's name)")
    p.add_argument("--width", type=int, default=1380, help="the timeline's width in px")
    p.add_argument("--from-us", type=float, help="draw from this time (µs, as ts)")
    p.add_argument("--to-us", type=float, help="draw up to this time (µs, as ts)")
    p.add_argument("--max-events", type=int, default=MAX_EVENTS,
                   help=f"draw at most this many events (default {MAX_EVENTS})")
    args = p.parse_args(argv)
    if args.from_us is not None and args.to_us is not None and args.to_us <= args.from_us:
        print("trace_view: --to-us must be after --from-us", file=sys.stderr)
        return 2
    try:
        events, other = load_trace(args.trace)
    except NotATrace as e:
        print(f"trace_view: {args.trace}: not a trace: {e}", file=sys.stderr)
        return 2
    trace = Trace(events, other)
    if args.from_us is not None or args.to_us is not None:
        window(trace, args.from_us, args.to_us)
    args.skipped = cap(trace, max(1, args.max_events))
    title = args.title or f"Trace: {args.trace.rsplit('/', 1)[-1]}"
    svg = draw(trace, args, title)
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as f:
            f.write(svg)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(PAGE.format(title=esc(title), font=FONT, svg=svg, margin=MARGIN,
                            source=esc(args.trace.rsplit("/", 1)[-1])))
    print(f"trace_view: wrote {args.output}" + (f" and {args.svg}" if args.svg else "")
          + f" ({trace.drawable():,} events drawn)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
