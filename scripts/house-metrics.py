#!/usr/bin/env python3
"""The structure figures issue 11 asks for, read from src/: import loops between modules, `unsafe` blocks outside
the net layer, and functions over 60 lines. Text-level (no compiler), so it is an estimate that is the same
before and after a change: run it on both and compare.

Usage: scripts/house-metrics.py [SRC_DIR] [--list]
"""
import os
import re
import sys

SRC = next((a for a in sys.argv[1:] if not a.startswith("--")), "src")
LIST = "--list" in sys.argv
NET = ("net/", "main.rs")  # the net layer; main.rs's signal set-up is the binary's entry point


def rust_files():
    for root, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith(".rs"):
                p = os.path.join(root, f)
                yield os.path.relpath(p, SRC), open(p, encoding="utf-8").read()


def strip(text):
    """Source without comments and string contents (so braces and words in them do not count)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == '"' or (c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not text[i - 1].isalnum())):
            if c == "r":
                m = re.match(r'r(#*)"', text[i:])
                end = '"' + m.group(1)
                j = text.find(end, i + len(m.group(0)))
                seg = text[i:j + len(end)]
                i = j + len(end)
            else:
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                seg = text[i:j + 1]
                i = j + 1
            out.append('""' + "\n" * seg.count("\n"))
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_of(rel):
    """Top-level module a file belongs to: src/ping/icmp.rs -> ping, src/explain.rs -> explain."""
    head = rel.split(os.sep)[0]
    return head[:-3] if head.endswith(".rs") else head


def submodule_of(rel):
    """Module path of a file: ping/icmp.rs -> ping::icmp, ping/mod.rs -> ping."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return "::".join(parts)


def without_tests(code):
    """Code before the file's `#[cfg(test)] mod tests`: inside it `super::` names the file itself (`use super::*`
    imports the file's own items), so reading it as the file's parent would report a loop that is not there."""
    cut = re.search(r"#\[cfg\(test\)\]\s*mod\s+tests", code)
    return code[: cut.start()] if cut else code


def uses(rel, code):
    """Modules (submodule paths) this file refers to through crate:: or super:: paths, outside its tests."""
    code = without_tests(code)
    me = submodule_of(rel).split("::")
    is_mod = rel.endswith("mod.rs") or os.sep not in rel
    found = set()
    for m in re.finditer(r"\bcrate::([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?", code):
        found.add(m.group(1) + ("::" + m.group(2) if m.group(2) else ""))
    children = re.findall(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_][a-z0-9_]*)\s*;", code, re.M)
    for ch in children:
        if re.search(r"(?<![:\w])" + ch + r"::", code):
            found.add("::".join(me + [ch]) if me != [""] else ch)
    for m in re.finditer(r"\b((?:super::)+)([a-z_][a-z0-9_]*)?", code):
        ups = m.group(1).count("super::")
        base = me[: len(me) - ups] if not is_mod else me[: len(me) - ups]
        if not is_mod:
            base = me[: len(me) - ups]
        if m.group(2):
            found.add("::".join(base + [m.group(2)]))
        elif base:
            found.add("::".join(base))
    return found


def top_cycles(files):
    graph = {}
    for rel, code in files:
        a = module_of(rel)
        if a in ("lib", "main", "cli"):
            continue
        for u in uses(rel, code):
            b = u.split("::")[0]
            if b != a and b not in ("cli",):
                graph.setdefault(a, set()).add(b)
    return graph, strongly_connected(graph)


def sub_cycles(files, known):
    """Loops between sibling files inside one module (ping/mod.rs <-> ping/icmp.rs)."""
    graph = {}
    for rel, code in files:
        me = submodule_of(rel)
        for u in uses(rel, code):
            # resolve to the longest known module prefix
            parts = u.split("::")
            while parts and "::".join(parts) not in known:
                parts.pop()
            if not parts:
                continue
            t = "::".join(parts)
            if t != me and t.split("::")[0] == me.split("::")[0]:
                graph.setdefault(me, set()).add(t)
    return graph, strongly_connected(graph)


def strongly_connected(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    nodes = set(graph) | {b for v in graph.values() for b in v}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def unsafe_blocks(files):
    rows = []
    for rel, code in files:
        for m in re.finditer(r"\bunsafe\s*(\{|fn\b|impl\b)", code):
            line = code.count("\n", 0, m.start()) + 1
            rows.append((rel, line, m.group(1)))
    return rows


def long_fns(files, limit=60):
    rows = []
    for rel, code in files:
        # skip test modules: they are not the code the figure is about
        body = without_tests(code)
        for m in re.finditer(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)", body):
            j = body.find("{", m.end())
            semi = body.find(";", m.end())
            if j < 0 or (0 <= semi < j):
                continue
            depth, k = 0, j
            while k < len(body):
                if body[k] == "{":
                    depth += 1
                elif body[k] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            start = body.count("\n", 0, m.start()) + 1
            end = body.count("\n", 0, k) + 1
            lines = [l for l in body[m.start():k].split("\n") if l.strip()]
            if len(lines) > limit:
                rows.append((rel, start, m.group(1), len(lines)))
    return rows


def main():
    files = [(rel, strip(text)) for rel, text in rust_files()]
    known = {submodule_of(rel) for rel, _ in files}
    graph, cycles = top_cycles(files)
    sgraph, scycles = sub_cycles(files, known)
    unsafe = unsafe_blocks(files)
    outside = [u for u in unsafe if not u[0].startswith(NET)]
    longs = long_fns(files)
    print(f"import loops between top-level modules: {len(cycles)}")
    for c in cycles:
        print("  " + " <-> ".join(c))
    print(f"import loops between files of one module: {len(scycles)}")
    for c in scycles:
        print("  " + " <-> ".join(c))
    print(f"unsafe blocks/fns/impls: {len(unsafe)} in all, {len(outside)} outside the net layer (src/net/, main.rs)")
    if LIST:
        for u in outside:
            print(f"  {u[0]}:{u[1]} unsafe {u[2]}")
    print(f"functions over 60 non-blank lines (tests excluded): {len(longs)}")
    if LIST:
        for r in sorted(longs, key=lambda r: -r[3]):
            print(f"  {r[0]}:{r[1]} {r[2]} ({r[3]} lines)")


main()
