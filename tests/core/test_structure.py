"""Structure checked by a tool, not by hope: no import circle among the portal's modules, no module past 450
lines, no function past 60.

The simulator is a stand-in for SCP, not the portal, and migrations are generated.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent / "portal"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" not in path.parts and "simulator" not in path.parts:
            yield path, path.relative_to(ROOT.parent).as_posix()


def test_no_module_of_the_portal_is_longer_than_450_lines():
    long = {name: n for path, name in _modules() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these by use case: {long}"


def test_no_function_of_the_portal_is_longer_than_60_lines():
    long = set()
    for path, name in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long.add(f"{name}:{node.name}")
    assert not long, f"split these: {sorted(long)}"


def test_no_module_of_the_portal_is_in_an_import_circle():
    """Whatever app it is in: a module never imports (however indirectly) one that imports it back. (Circles
    between whole apps are import-linter's, with today's listed in pyproject.toml.)"""
    import grimp

    graph = grimp.build_graph("portal", exclude_type_checking_imports=True)
    ours = {m for m in graph.modules if not m.startswith("portal.simulator") and ".migrations" not in m}
    circles = []
    for module in sorted(ours):
        for imported in sorted(graph.find_modules_directly_imported_by(module) & ours):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back and all(m in ours for m in back):
                circles.append((module, *back))
    assert not circles, f"import circles: {circles[:3]}"
