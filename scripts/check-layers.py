#!/usr/bin/env python3
"""Checks that src/ is layered one way: no import circle, no import from a lower floor up.

Usage: scripts/check-layers.py [-v] [SRC_DIR]   (default: the src/ next to this script;
-v also prints every edge)
Exit 0 when clean; 1 with every cycle and upward import printed; 2 on a usage error.

Why a script and not `cargo modules`: it needs no extra tool, runs in a second and reads
exactly what the compiler reads. It walks the module tree from lib.rs along `mod` lines
(also `#[path]` ones; `#[cfg(test)]` modules and inline `mod tests { }` blocks are test
code and left out), collects every `crate::`, `super::`, `self::` and child-module path in
`use` lines and in code (comments and strings stripped), follows `pub use` re-exports to
where an item is defined, and builds two graphs:
- top level: one node per module of lib.rs (app, http, config, net, relay, ...);
- inside each package below (relay, signaling): one node per child module, plus the
  package's own file (its mod.rs) as the node named like the package.
A module's `pub use` of its own children is its public face, not a dependency: such lines
add no edge (a `pub use` of anything else does). Inline `mod x { }` blocks other than test
ones are read as part of their file (homedrop has none: modules are files).

Floors, lowest first. A module may use modules on its own floor or below, never above;
the cycle check forbids circles, also within a floor. A module on no floor is an error
too: place every new module on purpose.

Top level:
  0  net, logring                      addresses, interfaces, subnets, URLs; the
                                       in-memory ring of recent log lines
  1  config                            flags, environment, file -> one Config
  2  relay, probe, mdns, startup       the STUN/TURN relay, the connection check, mDNS,
                                       the start-up URLs
  3  signaling, acme                   WebSocket protocol, registry, sessions (hands out
                                       relay credentials); certificates by ACME into certs
  4  metrics                           the counters snapshot of hub, probe and relay
  5  http                              server, routes, handlers and their shared state
  6  app                               builds everything from Config, runs, drains

relay/ (the sans-IO core below its tokio shell):
  0  core: relay (its mod.rs: the vocabulary types), wire, framing, auth, policy,
     txcache, counters, reservation, allocation, config, server, ports, relaying
  1  shell                             the router: feeds the core, routes its outputs
  2  udp, tcp                          transports: sockets and tasks around the router
  3  service                           assembly: bind, build, run (`Relay`)

signaling/:
  0  protocol                          the wire contract (serde enums)
  1  ice, registry                     ICE servers; the pure registry
  2  signaling (its mod.rs: the Hub)   joins registry and connection queues
  3  session                           one WebSocket's loop
"""

import os
import re
import sys

FLOORS = [
    ["net", "logring"],
    ["config"],
    ["relay", "probe", "mdns", "startup", "certs", "remote", "portmap"],
    ["signaling", "acme"],
    ["metrics"],
    ["http"],
    ["app"],
]

PACKAGE_FLOORS = {
    "relay": [
        [
            "relay", "wire", "framing", "auth", "policy", "txcache", "counters",
            "reservation", "allocation", "config", "server", "ports", "relaying",
        ],
        ["shell"],
        ["udp", "tcp"],
        ["service"],
    ],
    "signaling": [
        ["protocol"],
        ["ice", "registry", "outq"],
        ["signaling"],
        ["session"],
    ],
}


def strip_code(text):
    """The source with comments, string and char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and not (
            i and (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
            i = end
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            out.append('""')
            i += 1
        elif c == "'":
            if text.startswith("\\", i + 1):
                j = text.find("'", i + 2)
                i = n if j < 0 else j + 1
                out.append("' '")
            elif i + 2 < n and text[i + 2] == "'":
                i += 3
                out.append("' '")
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_test_blocks(code):
    """`#[cfg(test)] mod x { ... }` blocks removed (their `super::` is the file itself)."""
    pattern = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub\s+)?mod\s+\w+\s*\{")
    while True:
        m = pattern.search(code)
        if not m:
            return code
        depth, i = 1, m.end()
        while i < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            i += 1
        code = code[: m.start()] + code[i:]


MOD_RE = re.compile(
    r"((?:#\[[^\]]*\]\s*)*)(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;"
)


def child_mods(code):
    """[(name, path attribute or None)] of the non-test `mod x;` lines."""
    found = []
    for m in MOD_RE.finditer(code):
        attrs, name = m.group(1), m.group(2)
        if "cfg(test)" in attrs:
            continue
        p = re.search(r'path\s*=\s*"([^"]*)"', attrs)
        found.append((name, p.group(1) if p else None))
    return found


def expand_use(tree):
    """`a::{b, c::{d, e as f}}` -> [[a, b], [a, c, d], [a, c, e]]."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += {"{": 1, "}": -1}.get(ch, 0)
            cur += ch
        if cur:
            parts.append(cur)
        return parts

    def walk(s):
        brace = s.find("{")
        if brace < 0:
            return [s.split("::")] if s else []
        prefix = [p for p in s[:brace].split("::") if p]
        inner = s[brace + 1: s.rfind("}")]
        paths = []
        for part in split_top(inner):
            for sub in walk(part):
                sub = [x for x in sub if x and x != "self"] or []
                paths.append(prefix + sub)
        return paths

    return [[seg for seg in p if seg] for p in walk(tree)]


class Module:
    def __init__(self, path, file, code):
        self.path = path  # ["relay", "udp"]
        self.file = file
        self.code = code
        self.children = {}
        self.reexports = {}  # name -> absolute path


def load_tree(src):
    """Every non-test module reachable from lib.rs: {tuple(path): Module}."""
    modules = {}

    def visit(path, file):
        with open(file, encoding="utf-8") as f:
            code = strip_test_blocks(strip_code(f.read()))
        m = Module(path, file, code)
        modules[tuple(path)] = m
        base = os.path.basename(file)
        here = os.path.dirname(file)
        own_dir = here if base in ("mod.rs", "lib.rs") else os.path.join(here, base[:-3])
        for name, attr in child_mods(code):
            if attr:
                child = os.path.join(here, attr)
            else:
                child = os.path.join(own_dir, name + ".rs")
                if not os.path.exists(child):
                    child = os.path.join(own_dir, name, "mod.rs")
            if os.path.exists(child):
                m.children[name] = child
                visit(path + [name], child)

    visit([], os.path.join(src, "lib.rs"))
    return modules


USE_RE = re.compile(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);")
PATH_RE = re.compile(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+|[a-z_]\w*::\w+(?:::\w+)*)")


def absolute(module, segs):
    """A path as written in `module` -> absolute segments, or None when not ours."""
    if not segs:
        return None
    head, rest = segs[0], segs[1:]
    if head == "crate":
        return rest
    if head == "self":
        return module.path + rest
    if head == "super":
        base = module.path
        while segs and segs[0] == "super":
            base, segs = base[:-1], segs[1:]
        return base + segs
    if head in module.children:
        return module.path + segs
    return None


def resolve(modules, segs, depth=0):
    """Follow `pub use` re-exports to the module that defines the item."""
    for cut in range(len(segs), 0, -1):
        mod = modules.get(tuple(segs[:cut]))
        if mod is None:
            continue
        if cut < len(segs) and segs[cut] in mod.reexports and depth < 8:
            return resolve(modules, mod.reexports[segs[cut]] + segs[cut + 1:], depth + 1)
        return segs
    return segs


def collect_reexports(modules):
    for mod in modules.values():
        for m in USE_RE.finditer(mod.code):
            if not m.group(1):
                continue
            for segs in expand_use(m.group(2)):
                target = absolute(mod, segs)
                if target and segs[-1] != "*":
                    mod.reexports[segs[-1]] = target


def references(modules, mod):
    """Absolute paths `mod` uses (own-subtree re-exports are its face, not a use)."""
    found = []
    code = mod.code
    for m in USE_RE.finditer(code):
        for segs in expand_use(m.group(2)):
            target = absolute(mod, segs)
            if target is None:
                continue
            if m.group(1) and target[: len(mod.path)] == mod.path:
                continue
            found.append(target)
    code = USE_RE.sub(" ", code)
    code = MOD_RE.sub(" ", code)
    for m in PATH_RE.finditer(code):
        target = absolute(mod, m.group(1).split("::"))
        if target is not None:
            found.append(target)
    return [resolve(modules, t) for t in found]


def node(modules, path, package=None):
    """The graph node a path belongs to (top level, or a package's child level)."""
    if not path:
        return None
    if package is None:
        return path[0] if (path[0],) in modules else None
    if path[0] != package:
        return None
    if len(path) > 1 and (package, path[1]) in modules:
        return path[1]
    return package


def cycles(edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
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

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def cycle_path(edges, comp):
    """One circle through a component, as `a -> b -> a`."""
    start = comp[0]
    members = set(comp)
    prev, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, ())):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return " -> ".join(reversed(path)) + " -> " + start
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return " <-> ".join(comp)


def check(title, edges, where, floors, nodes):
    """Problems of one graph, as lines."""
    problems = []
    floor_of = {m: i for i, names in enumerate(floors) for m in names}
    for n in sorted(nodes):
        if n not in floor_of:
            problems.append(f"{title}: `{n}` is on no floor (add it to the floor list)")
    for comp in cycles(edges):
        line = f"{title}: import circle {cycle_path(edges, comp)}"
        problems.append(line)
    for a in sorted(edges):
        for b in sorted(edges[a]):
            if a in floor_of and b in floor_of and floor_of[b] > floor_of[a]:
                files = ", ".join(sorted(where[(a, b)]))
                problems.append(
                    f"{title}: upward import {a} (floor {floor_of[a]}) -> "
                    f"{b} (floor {floor_of[b]}) in {files}"
                )
    return problems


def graph(modules, src, package=None):
    edges, where, nodes = {}, {}, set()
    for mod in modules.values():
        a = node(modules, mod.path, package)
        if a is None:
            continue
        nodes.add(a)
        for target in references(modules, mod):
            b = node(modules, target, package)
            if b is None or b == a:
                continue
            edges.setdefault(a, set()).add(b)
            where.setdefault((a, b), set()).add(os.path.relpath(mod.file, src))
    return edges, where, nodes


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    verbose = "-v" in argv
    args = [a for a in argv[1:] if a != "-v"]
    src = args[0] if args else os.path.join(here, "..", "src")
    if not os.path.exists(os.path.join(src, "lib.rs")):
        print(f"check-layers: no lib.rs in {src}", file=sys.stderr)
        return 2
    modules = load_tree(src)
    collect_reexports(modules)
    problems = []
    edges, where, nodes = graph(modules, src)
    problems += check("src", edges, where, FLOORS, nodes)
    report = ["src: " + ", ".join(f"{a} -> {{{', '.join(sorted(b))}}}" for a, b in sorted(edges.items()))]
    for package, floors in PACKAGE_FLOORS.items():
        if (package,) not in modules:
            continue
        edges, where, nodes = graph(modules, src, package)
        problems += check(f"{package}/", edges, where, floors, nodes)
        report.append(
            f"{package}/: "
            + ", ".join(f"{a} -> {{{', '.join(sorted(b))}}}" for a, b in sorted(edges.items()))
        )
    if verbose:
        print("\n".join(report))
    if problems:
        print("\n".join(problems))
        print(f"check-layers: {len(problems)} problem(s); the floors are listed in {__file__}")
        return 1
    print("check-layers: no import circle, no upward import")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
