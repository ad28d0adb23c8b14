#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""CTest observe: a trace drawn by tools/trace_view.py, opened in headless Chromium, really
shows a timeline.

Usage: trace_view_browser_test.py [TRACE.json [OUT_DIR]]

The trace: the argument, else $STAKKER_TRACE_VIEW_TRACE, else data/sample_trace.json (so
that CTest can feed it a trace a real program wrote). Chromium: $STAKKER_CHROMIUM, else
chromium or chromium-browser on the PATH; without one the test prints why and exits with
status 77 (CTest's SKIP_RETURN_CODE). The page is screenshot at 1400x900 with a fresh
profile, then the PNG is decoded here (zlib and struct only) and checked: its size, a fair
share of drawn pixels, the slices' colours (read from the SVG) found where the tracks are,
and dark text in the labels' column."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.environ.get("TRACE_VIEW") or os.path.join(HERE, "..", "..", "tools", "trace_view.py")
SVG = "{http://www.w3.org/2000/svg}"
SKIP = 77
WIDTH, HEIGHT = 1400, 900
PAGE_PADDING = 8  # the page's body padding (trace_view.py's PAGE), where the SVG starts
TIMEOUT = 60

TRACE = os.path.join(HERE, "data", "sample_trace.json")
OUT_DIR = None


def find_chromium():
    """The Chromium binary, or None."""
    wanted = os.environ.get("STAKKER_CHROMIUM")
    if wanted:
        return wanted if os.access(wanted, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(chromium, page, png, width=WIDTH, height=HEIGHT):
    """Opens the page in headless Chromium and writes its screenshot; returns Chromium's
    output (for a failure's message)."""
    with tempfile.TemporaryDirectory(prefix="trace_view_chromium.") as profile:
        done = subprocess.run(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             f"--user-data-dir={profile}", f"--window-size={width},{height}",
             f"--screenshot={png}", "file://" + os.path.abspath(page)],
            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    return done.returncode, done.stdout + done.stderr


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(path):
    """(width, height, rows): rows of (r, g, b) tuples. 8-bit RGB or RGBA, not interlaced
    (what Chromium writes); any other kind raises ValueError."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, header, idat = 8, None, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, "
                         f"interlace {interlace}")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                up_left = previous[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + paeth(left, previous[i], up_left)) & 0xFF
        elif kind != 0:
            raise ValueError(f"unknown PNG filter type {kind} in row {y}")
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        previous = line
    return width, height, rows


def hex_rgb(colour):
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def near(a, b, tolerance=6):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


class BrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chromium = find_chromium()
        if cls.chromium is None:
            raise unittest.SkipTest("chromium not found (Debian: apt-get install chromium)")
        cls.tmp = None
        if OUT_DIR:
            os.makedirs(OUT_DIR, exist_ok=True)
            cls.dir = OUT_DIR
        else:
            cls.tmp = tempfile.TemporaryDirectory(prefix="trace_view_browser.")
            cls.dir = cls.tmp.name
        cls.page = os.path.join(cls.dir, "timeline.html")
        cls.svg = os.path.join(cls.dir, "timeline.svg")
        cls.png = os.path.join(cls.dir, "timeline.png")
        subprocess.run([sys.executable, TOOL, TRACE, "-o", cls.page, "--svg", cls.svg],
                       check=True)
        status, output = screenshot(cls.chromium, cls.page, cls.png)
        if status != 0 or not os.path.exists(cls.png):
            raise AssertionError(f"chromium failed (status {status}):\n{output[-3000:]}")
        cls.width, cls.height, cls.rows = decode_png(cls.png)
        cls.root = ET.parse(cls.svg).getroot()
        print(f"trace_view_browser_test: {TRACE} drawn, screenshot in {cls.png}")

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "tmp", None):
            cls.tmp.cleanup()

    def track_region(self):
        """(x0, x1, y0, y1) of the tracks' area on the screenshot (from the SVG's layout),
        cut to the screenshot."""
        bands = [e for e in self.root.iter(SVG + "rect") if e.get("class") == "track-band"]
        self.assertTrue(bands, "the SVG has no tracks")
        y0 = min(float(b.get("y")) for b in bands)
        y1 = max(float(b.get("y")) + float(b.get("height")) for b in bands)
        x0 = float(bands[0].get("x"))
        x1 = x0 + float(bands[0].get("width"))
        clip = lambda v, hi: int(max(0, min(hi, v + PAGE_PADDING)))  # noqa: E731
        return clip(x0, self.width), clip(x1, self.width), clip(y0, self.height), \
            clip(y1, self.height)

    def test_the_screenshot_has_the_window_size(self):
        self.assertEqual((self.width, self.height), (WIDTH, HEIGHT))

    def test_a_fair_share_of_the_page_is_drawn(self):
        x0, x1, y0, y1 = self.track_region()
        pixels = [p for row in self.rows[y0:y1] for p in row[x0:x1]]
        drawn = sum(1 for p in pixels if not near(p, (255, 255, 255), 3))
        # the track bands alternate white and a light grey: count what is more than those
        marked = sum(1 for p in pixels if min(p) < 235)
        self.assertGreater(drawn / len(pixels), 0.10, f"{drawn} of {len(pixels)} drawn")
        self.assertGreater(marked / len(pixels), 0.02, f"{marked} of {len(pixels)} marked")

    def test_the_slices_colours_are_where_the_tracks_are(self):
        fills = {}
        for g in self.root.iter(SVG + "g"):
            if g.get("class") == "slice":
                rect = g.find(SVG + "rect")
                fills.setdefault(rect.get("fill"), []).append(float(rect.get("width")))
        wide = [f for f, widths in fills.items() if max(widths) >= 4]  # a few pixels at least
        self.assertGreaterEqual(len(wide), 3, f"too few slice colours drawn wide: {fills}")
        x0, x1, y0, y1 = self.track_region()
        present = {}
        for row in self.rows[y0:y1]:
            for p in row[x0:x1]:
                present[p] = present.get(p, 0) + 1
        found = [f for f in wide
                 if sum(n for p, n in present.items() if near(p, hex_rgb(f))) >= 8]
        self.assertGreaterEqual(len(found), min(3, len(wide)),
                                f"slice colours on screen: {found} of {wide}")

    def test_the_labels_are_drawn_as_text(self):
        _, _, y0, y1 = self.track_region()
        x0, x1 = PAGE_PADDING + 16, PAGE_PADDING + 16 + 240  # trace_view.py's label column
        dark = sum(1 for row in self.rows[y0:y1] for p in row[x0:x1] if max(p) < 110)
        self.assertGreater(dark, 200, "no dark text in the track labels' column")


if __name__ == "__main__":
    args = sys.argv[1:]
    TRACE = os.path.abspath(args[0]) if args else (
        os.environ.get("STAKKER_TRACE_VIEW_TRACE") or TRACE)
    OUT_DIR = args[1] if len(args) > 1 else None
    if find_chromium() is None:
        print("trace_view_browser_test: SKIPPED: chromium not found "
              "(Debian: apt-get install chromium; or set STAKKER_CHROMIUM)")
        sys.exit(SKIP)
    result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    sys.exit(0 if result.wasSuccessful() else 1)
