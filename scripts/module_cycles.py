#!/usr/bin/env python3
"""Report import cycles between the modules of one crate.

Usage: scripts/module_cycles.py crates/proto/src [--allow a<->b ...]

Reads every .rs file under the crate's src, maps it to its module path
(`stack/tcp/input.rs` -> stack::tcp::input, `mod.rs`/`lib.rs` -> its
directory), and collects the edges `use crate::...` / `use super::...` /
`crate::x::y` paths make from one module to another. Test modules
(`tests.rs`, `*_tests.rs`, `tests/`) and `#[cfg(test)]` code are left out:
the rule is about the shipped layering. An edge to a module's ancestor is
not counted (a child may use what its parent re-exports from below only
through the parent, which is where the parent's `pub use` lines are
checked). Exit 1 and print each strongly connected component of size > 1.
"""
import os
import re
import sys

def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)

def is_test_file(mod):
    return any(p == "tests" or p.endswith("_tests") or p == "testkit" for p in mod)

def strip_cfg_test(text):
    # Drop `#[cfg(test)] mod x { ... }` blocks and `#[cfg(test)] mod x;` lines.
    out, i = [], 0
    pat = re.compile(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*\{")
    while True:
        m = pat.search(text, i)
        if not m:
            out.append(text[i:])
            break
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    return "".join(out)

PATH = re.compile(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)")
GROUP = re.compile(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)*)::\{([^}]*)\}", re.S)

def resolve(mod, head, parts, modules, is_dir):
    if head == "crate":
        base = ()
    else:
        # `super` from a file module is its parent; from mod.rs too (the
        # directory is the module itself, its parent is one up).
        base = mod[:-1]
        while parts and parts[0] == "super":
            base, parts = base[:-1], parts[1:]
    cand = base + tuple(parts)
    while cand and cand not in modules:
        cand = cand[:-1]
    return cand

def main():
    args = sys.argv[1:]
    root = args[0]
    allow = set()
    if "--allow" in args:
        for a in args[args.index("--allow") + 1:]:
            x, y = a.split("<->")
            allow.add(frozenset((tuple(x.split("::")), tuple(y.split("::")))))
    files = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            if f.endswith(".rs"):
                p = os.path.join(d, f)
                files[module_of(root, p)] = p
    modules = set(files)
    edges = {m: set() for m in modules}
    for mod, p in files.items():
        if is_test_file(mod):
            continue
        text = strip_cfg_test(open(p).read())
        text = re.sub(r"//[^\n]*", "", text)
        found = []
        for m in GROUP.finditer(text):
            for item in m.group(3).split(","):
                item = item.strip().split(" as ")[0].strip()
                if re.match(r"^[a-z_][a-z0-9_]*(::[a-z_][a-z0-9_]*)*$", item):
                    found.append((m.group(1), (m.group(2) + "::" + item).strip(":").split("::")))
        for m in PATH.finditer(text):
            found.append((m.group(1), m.group(2).strip(":").split("::")))
        for head, parts in found:
            parts = [x for x in parts if x]
            t = resolve(mod, head, parts, modules, False)
            if t and t != mod and mod[:len(t)] != t and t[:len(mod)] != mod:
                edges[mod].add(t)
    # Tarjan's SCC.
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1
        stack.append(v); on.add(v)
        for w in edges[v]:
            if frozenset((v, w)) in allow:
                continue
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    for comp in out:
        names = sorted("::".join(c) for c in comp)
        print("module cycle: " + " <-> ".join(names))
        for c in sorted(comp):
            inside = sorted("::".join(t) for t in edges[c] if t in comp)
            print(f"  {'::'.join(c)} uses {', '.join(inside)}")
    if out:
        sys.exit(1)
    print(f"{root}: {len(modules)} modules, no import cycles")

main()
