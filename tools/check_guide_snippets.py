#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Checks that the guides quote compiled code word for word.

In docs/guide-*.md, docs/coroutines.md, docs/nats.md and docs/observability.md, a ```cpp
block whose preceding line is

    <!-- snippet: examples/guide_core.cpp NAME -->

must equal the region of that file between the lines `// [guide:NAME]` and
`// [/guide:NAME]` (exclusive), with the region's common indentation removed. The examples
are built and run by CTest, so the guides' code compiles and does what the text says.

Also fails on: a tag not followed by a ```cpp block, a file or region that does not exist,
a region marked twice or left open, and a guide with no tagged block at all.

Usage: tools/check_guide_snippets.py [guide.md ...]
(default: docs/guide-*.md, docs/coroutines.md, docs/nats.md and docs/observability.md)
Exit status 0 when every tagged block matches, 1 otherwise (each mismatch is reported
with a diff). Runs from any directory; paths in tags are relative to the repository root.
"""

import difflib
import pathlib
import re
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
TAG = re.compile(r"^<!-- snippet: (\S+) (\S+) -->$")
OPEN = re.compile(r"^\s*// \[guide:([A-Za-z0-9_-]+)\]\s*$")
CLOSE = re.compile(r"^\s*// \[/guide:([A-Za-z0-9_-]+)\]\s*$")


def regions(path):
    """The marked regions of one source file: name -> dedented text."""
    found, open_at, errors = {}, {}, []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if m := OPEN.match(line):
            name = m.group(1)
            if name in open_at or name in found:
                errors.append(f"{path}:{i + 1}: region '{name}' marked twice")
            open_at[name] = i
        elif m := CLOSE.match(line):
            name = m.group(1)
            if name not in open_at:
                errors.append(f"{path}:{i + 1}: region '{name}' closed but not open")
                continue
            body = "\n".join(lines[open_at.pop(name) + 1 : i])
            found[name] = textwrap.dedent(body).strip("\n")
    for name, i in open_at.items():
        errors.append(f"{path}:{i + 1}: region '{name}' never closed")
    return found, errors


def blocks(guide):
    """The tagged ```cpp blocks of one guide: (line, file, region, text)."""
    out, errors = [], []
    lines = guide.read_text().splitlines()
    for i, line in enumerate(lines):
        m = TAG.match(line)
        if not m:
            continue
        if i + 1 >= len(lines) or lines[i + 1].strip() != "```cpp":
            errors.append(f"{guide}:{i + 1}: snippet tag not followed by a ```cpp block")
            continue
        try:
            end = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == "```")
        except StopIteration:
            errors.append(f"{guide}:{i + 2}: ```cpp block never closed")
            continue
        out.append((i + 1, m.group(1), m.group(2), "\n".join(lines[i + 2 : end]).strip("\n")))
    return out, errors


def check(guides):
    errors, checked, cache = [], 0, {}
    for guide in guides:
        tagged, errs = blocks(guide)
        errors += errs
        if not tagged and not errs:
            errors.append(f"{guide}: no tagged ```cpp block (tag each with <!-- snippet: ... -->)")
        for line, file, name, text in tagged:
            src = ROOT / file
            if not src.is_file():
                errors.append(f"{guide}:{line}: no such file: {file}")
                continue
            if src not in cache:
                cache[src] = regions(src)
                errors += cache[src][1]
            found = cache[src][0]
            if name not in found:
                errors.append(f"{guide}:{line}: no region '{name}' in {file}")
                continue
            checked += 1
            if found[name] != text:
                diff = difflib.unified_diff(
                    found[name].splitlines(), text.splitlines(),
                    f"{file} [guide:{name}]", f"{guide}:{line}", lineterm="")
                errors.append(f"{guide}:{line}: differs from {file} [guide:{name}]:\n"
                              + "\n".join(diff))
    return checked, errors


def main(argv):
    guides = [pathlib.Path(a).resolve() for a in argv] or (
        sorted(ROOT.glob("docs/guide-*.md")) + [ROOT / "docs/coroutines.md", ROOT / "docs/nats.md",
                                              ROOT / "docs/observability.md"])
    if not guides:
        print("no guides found (docs/guide-*.md)", file=sys.stderr)
        return 1
    checked, errors = check(guides)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"guide snippets: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    print(f"guide snippets: {checked} blocks in {len(guides)} guides match their examples")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
