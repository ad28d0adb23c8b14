#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Checks that every contract id cited in the repository is defined in docs/design.md, and
that no document or comment points outside the repository.

Usage: tools/check_contract_ids.py [repo-root]   (default: the git checkout it lives in)

What is read (docs/design.md, "The citation check", says the same in prose):
- tracked files (`git ls-files`) with a known extension or name, minus fuzz corpora;
- in C++ files only comments (string and character literals skipped), in Python, CMake and
  shell files only `#` comments, in Markdown every line outside fenced code blocks.
A citation there is a capital letter and one or two digits, with no letter, digit, `_`,
`-`, `.`, `/`, `\\`, `$`, `%` or quote mark right before it and no letter, digit or `_`
right after it; `K1–K4` or `K1-K4` (one letter) cites every id of the range. An id is
defined by a line of docs/design.md that starts with `- **<id>**`; a rule not marked
`(planned)` must name its tests ("Tests: `area/name`"), and they must exist under tests/.

Exit status 0 when every citation is defined and no outside reference is found, else 1
with one `file:line: ...` line per problem.
"""

import glob
import os
import re
import subprocess
import sys

DESIGN = "docs/design.md"
SELF = "tools/check_contract_ids.py"

CPP_EXT = (".hpp", ".cpp", ".h", ".cc")
HASH_EXT = (".py", ".cmake", ".in", ".txt", ".sh")
HASH_NAMES = ("tools/dev", ".ci/run")
MD_EXT = (".md",)
SKIP_PREFIXES = ("tests/fuzz/corpus/",)

DEFINITION = re.compile(r"^- \*\*([A-Z][0-9]{1,2})\*\*[ :]")
BEFORE = r"(?<![A-Za-z0-9_\-./\\$%\"'])"
AFTER = r"(?![A-Za-z0-9_])"
RANGE = re.compile(BEFORE + r"([A-Z])([0-9]{1,2})\s?[–-]\s?\1([0-9]{1,2})" + AFTER)
SINGLE = re.compile(BEFORE + r"([A-Z])([0-9]{1,2})" + AFTER)

# Wording that points at notes, issues or drafts kept outside the repository. Checked on the
# whole text of every file read (code included), except this script.
OUTSIDE = [
    (re.compile(r"ARCHITECTURE(?:\.md|\s*§)"), "the architecture notes outside the repository"),
    (re.compile(r"\barchitecture notes\b", re.I), "the architecture notes outside the repository"),
    (re.compile(r"\bbeside its issues\b", re.I), "the issue tracker"),
    (re.compile(r"\breference notes\b|\bthe (?:project's )?notes\b", re.I),
     "the reference notes outside the repository"),
    (re.compile(r"(?:\.\./|/work/)shared\b|/work/main\b"), "a path outside the repository"),
    (re.compile(r"\b(?:STYLE|style-anchors|stakker-reference|cpp-async-ecosystem|"
                r"async-await-interfacing)\.md\b"), "a document outside the repository"),
    # "the seed": the article on mapping push callbacks to async/await (not a random seed).
    (re.compile(r"\b[Tt]he seed(?:'s\b| (?:calls|article|post|mapping|says)\b)|"
                r"\b(?:from|in|mirrors|per) the seed\b|\bseed \"[A-Z]|^\|\s*seed\s*\|"),
     "the seed article (state the mapping in docs/design.md instead)"),
    (re.compile(r"\b[Ii]ssue(?:'s)? (?:[0-9]|target)|\b(?:this|the) issue\b|\bissue's\b"),
     "an issue of the tracker (state what it says instead)"),
]


def tracked_files(root):
    out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                         capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p]


def kind_of(path):
    if path.startswith(SKIP_PREFIXES):
        return None
    if path.endswith(CPP_EXT):
        return "cpp"
    if path.endswith(MD_EXT):
        return "md"
    if path.endswith(HASH_EXT) or path in HASH_NAMES or os.path.basename(path) == "CMakeLists.txt":
        return "hash"
    return None


def cpp_comments(text):
    """Returns, per line, the comment text of C++ source (code and literals blanked)."""
    out = []
    i, n = 0, len(text)
    line = []
    state = "code"
    raw_end = ""
    while i < n:
        c = text[i]
        if c == "\n":
            out.append("".join(line))
            line = []
            if state == "line":
                state = "code"
            i += 1
            continue
        if state == "code":
            if text.startswith("//", i):
                state = "line"
                i += 2
                continue
            if text.startswith("/*", i):
                state = "block"
                i += 2
                continue
            m = re.match(r'R"([^ ()\\\t\n]{0,16})\(', text[i:i + 20])
            if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                state = "raw"
                raw_end = ")" + m.group(1) + '"'
                i += m.end()
                continue
            if c == '"':
                state = "string"
            elif c == "'" and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
                state = "char"  # (a quote after a digit is a digit separator)
            i += 1
            continue
        if state in ("line", "block"):
            if state == "block" and text.startswith("*/", i):
                state = "code"
                i += 2
                continue
            line.append(c)
            i += 1
            continue
        if state == "raw":
            if text.startswith(raw_end, i):
                state = "code"
                i += len(raw_end)
                continue
            i += 1
            continue
        # string or char literal
        if c == "\\":
            i += 2
            continue
        if (state == "string" and c == '"') or (state == "char" and c == "'"):
            state = "code"
        i += 1
    out.append("".join(line))
    return out


def hash_comments(text):
    """`#` comments: a `#` at the start of a line or after whitespace, outside quotes."""
    out = []
    for raw in text.split("\n"):
        quote = None
        found = ""
        for j, c in enumerate(raw):
            if quote:
                if c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == "#" and (j == 0 or raw[j - 1] in " \t"):
                found = raw[j + 1:]
                break
        out.append(found)
    return out


def markdown_prose(text):
    out = []
    fence = None
    for raw in text.split("\n"):
        m = re.match(r"\s*(`{3,}|~{3,})", raw)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            out.append("")
        elif m:
            fence = m.group(1)
            out.append("")
        else:
            out.append(raw)
    return out


def cited_ids(line):
    ids = []
    for m in RANGE.finditer(line):
        letter, lo, hi = m.group(1), int(m.group(2)), int(m.group(3))
        ids += [f"{letter}{k}" for k in range(min(lo, hi), max(lo, hi) + 1)]
    line = RANGE.sub(lambda m: " " * len(m.group(0)), line)
    ids += [m.group(1) + m.group(2) for m in SINGLE.finditer(line)]
    return ids


def check_tests_named(root, design):
    """Every rule that is not marked (planned) names its tests ("Tests: `area/name`", paths
    under tests/ without .cpp, `*` allowed), and every test it names exists."""
    problems = []
    k = 0
    while k < len(design):
        m = DEFINITION.match(design[k])
        if not m:
            k += 1
            continue
        start, body = k + 1, [design[k]]
        k += 1
        while k < len(design) and design[k].startswith("  ") and not DEFINITION.match(design[k]):
            body.append(design[k])
            k += 1
        text = " ".join(body)
        if re.match(r"- \*\*[A-Z][0-9]{1,2}\*\* \(planned\)", text):
            continue
        if "Tests:" not in text:
            problems.append(f"{DESIGN}:{start}: {m.group(1)} names no tests ('Tests: ...')")
            continue
        for name in re.findall(r"`([a-z_]+/[a-z_*]+)`", text.split("Tests:", 1)[1]):
            if not glob.glob(os.path.join(root, "tests", name + ".cpp")):
                problems.append(f"{DESIGN}:{start}: {m.group(1)} names tests/{name}.cpp, "
                                "which does not exist")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    root = os.path.abspath(root)
    with open(os.path.join(root, DESIGN), encoding="utf-8") as f:
        design = f.read().split("\n")
    defined = {}
    problems = []
    for k, line in enumerate(design, 1):
        m = DEFINITION.match(line)
        if m:
            if m.group(1) in defined:
                problems.append(f"{DESIGN}:{k}: {m.group(1)} defined twice "
                                f"(first on line {defined[m.group(1)]})")
            defined.setdefault(m.group(1), k)

    problems += check_tests_named(root, design)
    cited = 0
    for path in tracked_files(root):
        kind = kind_of(path)
        full = os.path.join(root, path)
        if kind is None or not os.path.isfile(full):
            continue
        try:
            with open(full, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError:
            continue
        lines = {"cpp": cpp_comments, "hash": hash_comments, "md": markdown_prose}[kind](text)
        for k, line in enumerate(lines, 1):
            for cid in cited_ids(line):
                cited += 1
                if cid not in defined:
                    problems.append(f"{path}:{k}: {cid} is cited but not defined in {DESIGN}")
        if path == SELF:
            continue
        for k, line in enumerate(text.split("\n"), 1):
            for pattern, what in OUTSIDE:
                m = pattern.search(line)
                if m:
                    problems.append(f"{path}:{k}: '{m.group(0)}' refers to {what}")

    if problems:
        print("contract ids and outside references:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print(f"contract ids: {cited} citations, all defined among the {len(defined)} ids of "
          f"{DESIGN}; no reference outside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main())
