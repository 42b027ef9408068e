#!/usr/bin/env python3
"""The names revos's own SQL text mentions, for tests/hostile_names.sh (issue 17).

Reads the SQL revos runs: every sql/*.sql file, and every string literal ("...", r"...",
r#"..."#) of src/**/*.rs (the statements revos prepares, and the fragments the planner pastes
together: defaults, policies, casts). Prints one candidate per line:

    f <name>      a word followed by "(": a function call (or a keyword; the database keeps only
                  the names pg_catalog has as functions)
    o <symbol>    an operator symbol, written or implied by SQL syntax (NULLIF, IN, CASE x WHEN,
                  IS DISTINCT FROM -> "="; LIKE -> "~~"; BETWEEN -> ">=", "<="; ...)
    t <name>      a type name after "::"
    r <name>      a relation read or written (after FROM, JOIN, INTO, UPDATE), schema-qualified or not

Nothing here decides what exists: the suite intersects these candidates with pg_proc,
pg_operator and pg_type, so a candidate that is not a pg_catalog object costs nothing.
Usage: extract.py REPO_ROOT
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")

OP_CHARS = set("+-*/<>=~!@#%^&|`?")
# syntax that PostgreSQL turns into an operator looked up by name on the search_path
IMPLIED = [
    (r"\bnullif\b", ["="]),
    (r"\bin\s*\(", ["="]),
    (r"\bnot\s+in\b", ["<>"]),
    (r"\bany\s*\(", ["="]),
    (r"\bcase\s+[^w\s][^\n]*?\bwhen\b", ["="]),
    (r"\bis\s+(not\s+)?distinct\s+from\b", ["="]),
    (r"\bnot\s+like\b", ["!~~"]),
    (r"\blike\b", ["~~"]),
    (r"\bnot\s+ilike\b", ["!~~*"]),
    (r"\bilike\b", ["~~*"]),
    (r"\bbetween\b", [">=", "<="]),
    (r"\bsimilar\s+to\b", ["~"]),
]


def rust_literals(text):
    """String literals of Rust source (comments skipped): normal, byte and raw strings."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            hashes = m.group(1)
            end = '"' + hashes
            start = i + len(m.group(0))
            j = text.find(end, start)
            out.append(text[start:j])
            i = j + len(end)
        elif c == "'":
            # a char literal ('x', '\n', '\'') or a lifetime ('a): skip it without reading a string
            m = re.match(r"'(\\.|[^\\'])'", text[i:])
            i += len(m.group(0)) if m else 1
        elif c == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    if nxt == "\n":  # line continuation: skip the newline and leading blanks
                        j += 2
                        while j < n and text[j] in " \t":
                            j += 1
                        buf.append(" ")
                        continue
                    buf.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(nxt, nxt))
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            out.append("".join(buf))
            i = j + 1
        else:
            i += 1
    return out


def strip_sql_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"--[^\n]*", " ", text)


def operators(sql):
    ops = set()
    # string constants are SQL text too (EXECUTE format(...) bodies, regexes); keep them, but drop
    # the quote characters themselves
    for run in re.findall(r"[+\-*/<>=~!@#%^&|`?]+", sql):
        if run.startswith("--") or run.startswith("/*"):
            continue
        ops.add(run)
        # a run may be two operators side by side (a =-1, x||-y): every single character too,
        # and every prefix/suffix, so that the database can keep whichever exist
        for k in range(1, len(run)):
            ops.add(run[:k])
            ops.add(run[k:])
    low = sql.lower()
    for pattern, implied in IMPLIED:
        if re.search(pattern, low, flags=re.S):
            ops.update(implied)
    return ops


def main():
    texts = []
    for p in sorted((root / "sql").glob("*.sql")):
        texts.append(strip_sql_comments(p.read_text()))
    for p in sorted((root / "src").rglob("*.rs")):
        texts.extend(rust_literals(p.read_text()))
    funcs, ops, types, rels = set(), set(), set(), set()
    for t in texts:
        for m in re.finditer(r"(?<![A-Za-z0-9_$\"])([A-Za-z_][A-Za-z0-9_$]*)\s*\(", t):
            funcs.add(m.group(1).lower())
        for m in re.finditer(r"::\s*(?:pg_catalog\s*\.\s*)?([A-Za-z_][A-Za-z0-9_]*)", t):
            types.add(m.group(1).lower())
        for m in re.finditer(r"\b(?:from|join|into|update)\s+(?:only\s+)?(?:[A-Za-z_][A-Za-z0-9_]*\s*\.\s*)?([A-Za-z_][A-Za-z0-9_]*)", t, flags=re.I):
            rels.add(m.group(1).lower())
        ops |= operators(t)
    for f in sorted(funcs):
        print("f", f)
    for o in sorted(ops):
        print("o", o)
    for ty in sorted(types):
        print("t", ty)
    for r in sorted(rels):
        print("r", r)


main()
