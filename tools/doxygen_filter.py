#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Doxygen INPUT_FILTER for the public headers (docs/Doxyfile): prints the header given as
the argument with its declaration comments turned into doc comments.

The headers document declarations with plain `//` comments just above them. This filter:

- turns a block of `//` lines written at line start (after indentation) into `///` lines,
  but only when the block is at namespace or class scope (not inside a function body, an
  initializer, or a namespace named `detail`) and the line right after it is a declaration
  (not blank, not a comment, not `}`, not an access label, not a preprocessor line but
  `#define`). Other comments stay `//`, which Doxygen ignores: a comment inside a function
  body would otherwise be appended to the function's documentation, and a section comment
  followed by a blank line would be attached to whatever comes next;
- turns the header's heading, the `//` lines right after its SPDX line (up to the first
  line that is not a comment), into the file's description: `///` lines with `\\file`
  appended to the last one. A `\\file` with nothing after it on its line documents the file
  it is in, and it may end the block, so the text keeps its lines (a `\\file` at the start
  would take the heading's first word as a file name). A heading that starts with a name in
  lower case (`fwd_stream: ...`, `ret<T>: ...`) gets that name in backticks: Doxygen
  capitalizes the first letter of every description in its lists (`Ret<T>`), but not in
  code;
- in the converted text, outside backtick code spans (a backtick without a partner on its
  line is escaped), writes `<` `>` `&` as HTML entities
  (so `ret<T>` is not read as an HTML tag), escapes `\\` `@` `%` `#` `$` with a
  backslash (so they are not read as commands, link requests or headings), and writes a
  `-` followed by another as `\\-` (Doxygen would print `--` as an en dash, `---` as an
  em dash: wrong for command-line options and decrements);
- leaves the SPDX line, `// clang-format` directives and all code unchanged, and prints
  exactly one line per input line, so Doxygen's warnings point at the header's own lines.
"""

import re
import sys

COMMENT = re.compile(r"^(\s*)//(?!/)(.*)$")
SCOPE_HEAD = re.compile(r"^(?:\[\[.*?\]\]\s*)*(namespace|class|struct|union|enum|extern\s*\"C\")\b")
NAMESPACE_NAME = re.compile(r"^namespace\s+([\w:]*)")
NOT_DECLARATION = re.compile(r"^\s*(?:$|//|}|(?:public|protected|private)\s*:|#(?!\s*define\b))")
ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
BACKSLASHED = set("\\@%#$")


def skipped(line):
    """Comment lines that are never documentation."""
    text = line.strip()
    return "SPDX-License-Identifier" in text or text.startswith("// clang-format")


def strip_template_heads(head):
    """Drops leading `template <...>` headers (balanced angle brackets) from a statement."""
    while True:
        m = re.match(r"template\s*<", head)
        if not m:
            return head
        depth, i = 1, m.end()
        while i < len(head) and depth > 0:
            depth += {"<": 1, ">": -1}.get(head[i], 0)
            i += 1
        head = head[i:].lstrip()
        m = re.match(r"requires\b", head)
        if m:  # a requires clause after the template header: skip to the entity's keyword
            k = re.search(r"\b(class|struct|union)\b", head)
            head = head[k.start():] if k else head


def code_scopes(lines):
    """For each line, whether its start is at namespace/class scope outside any `detail`
    namespace (True) or inside a function body, an initializer or a detail namespace."""
    stack = []  # one entry per open brace: True for a documentable scope, False otherwise
    head = ""  # the statement so far (since the last `;`, `{` or `}`)
    at_scope = []
    in_block_comment = False
    for line in lines:
        at_scope.append(all(stack))
        i, n = 0, len(line)
        quote = None
        while i < n:
            c = line[i]
            if in_block_comment:
                if line.startswith("*/", i):
                    in_block_comment = False
                    i += 1
            elif quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = None
            elif line.startswith("//", i):
                break
            elif line.startswith("/*", i):
                in_block_comment = True
                i += 1
            elif c in "\"'":
                # A digit separator (1'000) is not a character literal.
                if not (c == "'" and i > 0 and line[i - 1].isdigit()):
                    quote = c
            elif c == "{":
                stmt = strip_template_heads(" ".join(head.split()))
                m = SCOPE_HEAD.match(stmt)
                scope = bool(m)
                if scope and m.group(1) == "namespace":
                    name = NAMESPACE_NAME.match(stmt)
                    scope = not (name and "detail" in name.group(1).split("::"))
                stack.append(scope)
                head = ""
            elif c == "}":
                if stack:
                    stack.pop()
                head = ""
            elif c == ";":
                head = ""
            else:
                head += c
            i += 1
        if line.lstrip().startswith("#"):
            head = ""  # preprocessor lines are not part of a statement
        else:
            head += " "
    return at_scope


def escape(text):
    """Escapes what Doxygen would read as markup, outside backtick code spans."""
    out, in_code = [], False
    # A backtick without a partner on the line is no code span for Doxygen: escape it too.
    pairs = text.count("`") // 2 * 2
    for i, c in enumerate(text):
        if c == "`" and pairs > 0:
            pairs -= 1
            in_code = not in_code
            out.append(c)
        elif c == "`":
            out.append("\\`")
        elif in_code:
            out.append(c)
        elif c in ENTITIES:
            out.append(ENTITIES[c])
        elif c in BACKSLASHED:
            out.append("\\" + c)
        elif c == "-" and text.startswith("-", i + 1):
            out.append("\\-")  # so `--` becomes `\--` and `---` `\-\--`: printed as they are
        else:
            out.append(c)
    return "".join(out)


LEADING_NAME = re.compile(r"^(\s*)([a-z_][\w:]*(?:<[^<>]*>)?)(?=[\s:,;.(]|$)")


def heading(lines):
    """The range of the heading's lines: the comment lines right after the SPDX line."""
    spdx = next((k for k, line in enumerate(lines[:3]) if "SPDX-License-Identifier" in line), None)
    if spdx is None:
        return range(0)
    end = spdx + 1
    while end < len(lines) and COMMENT.match(lines[end]) and not skipped(lines[end]):
        end += 1
    return range(spdx + 1, end)


def convert(lines):
    at_scope = code_scopes(lines)
    out = list(lines)
    head = heading(lines)
    for k in head:
        indent, text = COMMENT.match(lines[k]).groups()
        if k == head[0]:
            text = LEADING_NAME.sub(r"\1`\2`", text, count=1)
        out[k] = indent + "///" + escape(text) + (" \\file" if k == head[-1] else "")
    i = head.stop if head else 0
    while i < len(lines):
        if not COMMENT.match(lines[i]) or skipped(lines[i]):
            i += 1
            continue
        j = i
        while j < len(lines) and COMMENT.match(lines[j]) and not skipped(lines[j]):
            j += 1
        follows = lines[j] if j < len(lines) else ""
        if at_scope[i] and not NOT_DECLARATION.match(follows):
            for k in range(i, j):
                indent, text = COMMENT.match(lines[k]).groups()
                out[k] = indent + "///" + escape(text)
        i = j
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: doxygen_filter.py <header>")
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = f.read().split("\n")
    sys.stdout.write("\n".join(convert(lines)))


if __name__ == "__main__":
    main()
