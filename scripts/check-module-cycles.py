#!/usr/bin/env python3
"""Fails when the library's top-level modules (src/<name>.rs or src/<name>/) import each other
in a cycle, and prints each cycle.

An import is any `crate::<name>` path in code (comments are skipped), including the names of a
`use crate::{a, b::c}` group and `super::<name>` from a top-level module's own file; test code
counts too, so that a test cannot hide a dependency the layering forbids. `$crate::` (a macro
naming its own module) is not an import of the caller's.

    python3 scripts/check-module-cycles.py [src-dir]
"""

import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def top_module(src: Path, path: Path) -> str | None:
    """The top-level module a file belongs to; None for the crate root (lib.rs)."""
    parts = path.relative_to(src).parts
    if parts == ("lib.rs",):
        return None
    return parts[0][:-3] if len(parts) == 1 else parts[0]


def code_of(text: str) -> str:
    """The text without comments (line, doc and block comments) and string literals."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return re.sub(r"//[^\n]*", " ", text)


def group_names(body: str) -> list[str]:
    """The first path segment of each item of a `{...}` use group, at its top nesting level."""
    names, depth, item = [], 0, ""
    for char in body + ",":
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if char == "," and depth == 0:
            match = re.match(rf"\s*({IDENT})", item)
            if match:
                names.append(match.group(1))
            item = ""
        else:
            item += char
    return names


def group_body(code: str, start: int) -> str:
    """The text of the brace group opening at `start`, without its outer braces."""
    depth = 0
    for end in range(start, len(code)):
        depth += {"{": 1, "}": -1}.get(code[end], 0)
        if depth == 0:
            return code[start + 1 : end]
    return code[start + 1 :]


def imports_of(code: str, own_file_is_top: bool) -> set[str]:
    """The top-level module names a file's code refers to through `crate::` (or `super::`)."""
    found = set()
    prefixes = [r"(?<![$\w])crate::"]
    if own_file_is_top:
        # In src/x.rs or src/x/mod.rs, `super` is the crate root.
        prefixes.append(r"(?<![\w:])super::")
    for prefix in prefixes:
        for match in re.finditer(prefix + rf"(\{{|{IDENT})", code):
            if match.group(1) == "{":
                found.update(group_names(group_body(code, match.start(1))))
            else:
                found.add(match.group(1))
    return found


def graph_of(src: Path) -> dict[str, dict[str, str]]:
    """module -> {imported module -> a file that imports it}."""
    modules = {top_module(src, p) for p in src.rglob("*.rs")} - {None}
    graph: dict[str, dict[str, str]] = {m: {} for m in modules}
    for path in sorted(src.rglob("*.rs")):
        module = top_module(src, path)
        if module is None:
            continue
        parts = path.relative_to(src).parts
        own_file_is_top = len(parts) == 1 or parts[1:] == ("mod.rs",)
        for name in imports_of(code_of(path.read_text()), own_file_is_top):
            if name in modules and name != module:
                graph[module].setdefault(name, str(path.relative_to(src.parent)))
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def one_cycle(graph: dict[str, dict[str, str]], component: list[str]) -> list[str]:
    """A closed path through the component, starting at its first module."""
    members, start = set(component), component[0]
    path, seen = [start], {start}
    while True:
        # The shortest way back to the start, else any unvisited member.
        nexts = sorted(t for t in graph[path[-1]] if t in members)
        if start in nexts and len(path) > 1:
            return path + [start]
        fresh = [t for t in nexts if t not in seen]
        if not fresh:
            return path + [nexts[0]]
        path.append(fresh[0])
        seen.add(fresh[0])


def main() -> int:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent.parent / "src")
    graph = graph_of(src)
    found = cycles(graph)
    if not found:
        print(f"module cycles: none among {len(graph)} top-level modules of {src}")
        return 0
    for component in found:
        path = one_cycle(graph, component)
        steps = [f"{a} -> {b} ({graph[a][b]})" for a, b in zip(path, path[1:])]
        print(f"import cycle among {', '.join(component)}:", file=sys.stderr)
        for step in steps:
            print(f"  {step}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
