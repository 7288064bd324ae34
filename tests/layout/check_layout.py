#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""check_layout.py: the source tree keeps the shape docs/architecture.md
draws ("Modules" and "Who may include whom").

Checks, from the sources and (when a build directory is given) from the
object files:
  1. layers: every #include "..." of a source file is allowed for its part
     (the table LAYERS below: a part may include its own files and those of
     the parts listed for it, never a part above it);
  2. no include cycle between headers, and no two source files that call
     each other in a circle: the graph "object A uses a symbol object B
     defines" (from `nm` of the object files) has no cycle of two or more
     files;
  3. size: no source file over FILE_MAX lines, no function over FUNC_MAX
     lines (from its opening brace at column 0 to its closing one);
  4. names: no comment that points at an issue number instead of saying
     what the code does.

Usage: check_layout.py [--build DIR] [--max-file N] [--max-func N]
Exit 0 when clean; 1 with one line per finding.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# part -> the parts it may include (besides itself). Order from the bottom.
BASE = ["gateway/base"]
LOWER = ["drivers", "rules", "store", "protocols/modbus", "protocols/mqtt", "protocols/hooks"]
LAYERS = {
    "gateway/base": [],
    "drivers": BASE,
    "rules": BASE,
    "store": BASE,
    "protocols/modbus": BASE,
    "protocols/mqtt": BASE,
    "protocols/hooks": BASE,
    "gateway/config": BASE + ["drivers", "rules", "store"],
    "gateway/core": BASE + LOWER + ["gateway/config"],
    "gateway/north": BASE + LOWER + ["gateway/config", "gateway/core"],
    "gateway/notify": BASE + LOWER + ["gateway/config", "gateway/core"],
    "gateway/service": BASE + LOWER + ["gateway/config", "gateway/core"],
    "gateway": BASE + LOWER + ["gateway/config", "gateway/core", "gateway/north",
                               "gateway/notify", "gateway/service"],
    "gateway/ctl": BASE + LOWER + ["gateway/config", "gateway/core"],
}
SOURCE_DIRS = ["gateway", "drivers", "rules", "store", "protocols"]
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
ISSUE_RE = re.compile(r"\bissue\s*#?\d+", re.I)


def part_of(path):
    """The part (a key of LAYERS) a repository path belongs to."""
    best = None
    for p in LAYERS:
        if path.startswith(p + "/") and (best is None or len(p) > len(best)):
            best = p
    return best


def sources():
    out = []
    for d in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(dirpath, f), ROOT))
    return sorted(out)


def resolve(src, inc):
    """An include path as a repository path (quoted includes are rooted at
    the repository, or relative to the including file)."""
    if os.path.exists(os.path.join(ROOT, inc)):
        return inc
    rel = os.path.normpath(os.path.join(os.path.dirname(src), inc))
    if os.path.exists(os.path.join(ROOT, rel)):
        return rel
    return None


def check_layers(files, texts):
    bad = []
    for f in files:
        me = part_of(f)
        if me is None:
            continue
        for inc in INCLUDE_RE.findall(texts[f]):
            target = resolve(f, inc)
            if target is None:
                continue
            other = part_of(target)
            if other is None or other == me or other in LAYERS[me]:
                continue
            bad.append(f"layer: {f} ({me}) includes {target} ({other}), which it may not")
    return bad


def find_cycles(graph):
    """Strongly connected components of two or more nodes (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check_include_cycles(files, texts):
    graph = {}
    for f in files:
        if not f.endswith(".h"):
            continue
        graph[f] = set()
        for inc in INCLUDE_RE.findall(texts[f]):
            t = resolve(f, inc)
            if t and t.endswith(".h"):
                graph[f].add(t)
    return [f"include cycle: {' -> '.join(c)}" for c in find_cycles(graph)]


def nm_symbols(obj):
    out = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            used.add(name)
        elif kind in "TDBRVWGS":
            defined.add(name)
    return defined, used


def check_symbol_cycles(build, files):
    objs = {}
    present = set(f for f in files if f.endswith(".c"))
    for dirpath, _, files in os.walk(build):
        if "/tests/" in dirpath + "/" or "CMakeFiles" not in dirpath:
            continue
        for f in files:
            if f.endswith(".c.o"):
                p = os.path.join(dirpath, f)
                # .../CMakeFiles/<target>.dir/<relative source>.o
                src = p.split(".dir/", 1)[1][:-2]
                # an object left behind by a source that was moved or removed
                if not any(f == src or f.endswith("/" + src) for f in present):
                    continue
                objs[p] = src
    if not objs:
        return [f"symbols: no object files under {build}"]
    definer, uses = {}, {}
    for p, src in objs.items():
        d, u = nm_symbols(p)
        key = os.path.relpath(p, build)
        for s in d:
            definer.setdefault(s, key)
        uses[key] = u
    graph = {k: {definer[s] for s in u if s in definer and definer[s] != k}
             for k, u in uses.items()}
    pretty = lambda k: k.split(".dir/", 1)[1][:-2] if ".dir/" in k else k
    return [f"call cycle: {' <-> '.join(pretty(k) for k in c)}" for c in find_cycles(graph)]


FUNC_START = re.compile(r"^[A-Za-z_][^;{}()]*\b([A-Za-z_]\w*)\s*\(")


def check_sizes(files, texts, file_max, func_max):
    bad = []
    for f in files:
        lines = texts[f].split("\n")
        if len(lines) > file_max:
            bad.append(f"size: {f} has {len(lines)} lines (at most {file_max})")
        if not f.endswith(".c"):
            continue
        name, start = None, None
        for i, line in enumerate(lines):
            m = FUNC_START.match(line)
            if m and not line.startswith(("typedef", "struct", "static const", "const")):
                name = m.group(1)
            if line == "{" and name:
                start = i
            elif line == "}" and start is not None:
                n = i - start + 1
                if n > func_max:
                    bad.append(f"size: {f}: function {name} has {n} lines (at most {func_max})")
                name, start = None, None
    return bad


def check_names(files, texts):
    bad = []
    for f in files:
        for i, line in enumerate(texts[f].split("\n"), 1):
            if ISSUE_RE.search(line):
                bad.append(f"names: {f}:{i}: a comment names an issue: {line.strip()}")
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", help="build directory with the object files (symbol cycles)")
    ap.add_argument("--max-file", type=int, default=600)
    ap.add_argument("--max-func", type=int, default=80)
    args = ap.parse_args()
    files = sources()
    texts = {f: open(os.path.join(ROOT, f), encoding="utf-8").read() for f in files}
    bad = check_layers(files, texts)
    bad += check_include_cycles(files, texts)
    if args.build:
        bad += check_symbol_cycles(args.build, files)
    bad += check_sizes(files, texts, args.max_file, args.max_func)
    bad += check_names(files, texts)
    for b in bad:
        print(b)
    print(f"check_layout: {len(files)} files, {len(bad)} findings", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
