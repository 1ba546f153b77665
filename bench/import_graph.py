"""Figures of the portal's import graph: circles (between modules, and between whole apps), imports from ground
apps up into domain apps, the longest module, the longest function and the function-local imports. Point it at
another checkout to compare:

    python bench/import_graph.py [--tree PATH]

Imports inside `if TYPE_CHECKING:` are left out (they never run); every other import counts, at module top or in
a function (grimp reads both). The simulator and migrations are not the portal's code and are left out.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

import grimp

GROUND = ("portal.core", "portal.audit", "portal.scp", "portal.teams", "portal.config")
DOMAIN = ("portal.interfaces", "portal.approvals", "portal.drift", "portal.api", "portal.identity")


def _ours(module: str) -> bool:
    return not module.startswith("portal.simulator") and ".migrations" not in module


def _components(nodes: set[str], edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                member, component = None, set()
                while member != node:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                if len(component) > 1:
                    found.append(component)
    return found


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    tree = parser.parse_args(argv).tree.resolve()
    sys.path.insert(0, str(tree))
    graph = grimp.build_graph("portal", exclude_type_checking_imports=True)
    modules = {m for m in graph.modules if _ours(m)}
    app = {m: ".".join(m.split(".")[:2]) for m in modules}
    app_edges: dict[str, set[str]] = defaultdict(set)
    module_edges: dict[str, set[str]] = defaultdict(set)
    upward = 0
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in modules:
                continue
            module_edges[module].add(imported)
            if app[module] != app[imported] and "portal" not in (app[module], app[imported]):
                app_edges[app[module]].add(app[imported])
                if app[module] in GROUND and app[imported] in DOMAIN:
                    upward += 1
    apps = set(app.values()) - {"portal"}
    app_cycles = _components(apps, app_edges)
    inside = 0
    for name in sorted(apps):
        members = {m for m in modules if app[m] == name}
        inner = {m: {i for i in module_edges[m] if i in members} for m in members}
        inside += len(_components(members, inner))
    print(f"app-level circles: {len(app_cycles)} ({', '.join(sorted(len(c).__str__() + ' apps' for c in app_cycles))})")
    for component in app_cycles:
        print("  " + ", ".join(sorted(c.removeprefix("portal.") for c in component)))
    print(f"circles among the modules of one app: {inside}")
    print(f"circles among modules (across apps too): {len(_components(modules, module_edges))}")
    print(f"imports from ground apps up into domain apps: {upward}")
    sizes, longest_function, local = [], ("", 0), 0
    for path in sorted((tree / "portal").rglob("*.py")):
        if "migrations" in path.parts or "simulator" in path.parts:
            continue
        text = path.read_text()
        sizes.append((len(text.splitlines()), path.relative_to(tree).as_posix()))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > longest_function[1]:
                    longest_function = (f"{path.relative_to(tree).as_posix()}:{node.name}", length)
                for inner in ast.walk(node):
                    portal = isinstance(inner, ast.ImportFrom) and (
                        inner.level or (inner.module or "").startswith("portal")
                    )
                    if portal or (
                        isinstance(inner, ast.Import) and any(a.name.startswith("portal") for a in inner.names)
                    ):
                        local += 1
    lines, name = max(sizes)
    print(f"longest module: {name} ({lines} lines); longest function: {longest_function[0]} ({longest_function[1]})")
    print(f"function-local imports of the portal's own modules: {local}")


if __name__ == "__main__":
    main(sys.argv[1:])
