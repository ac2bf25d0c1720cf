"""The layering of ARCHITECTURE.md, read from the source: the modules that do the work never import the ones that
show it (viz, explore) or run the course (course). The command line sits above them all; History.plot is the one
convenience allowed to reach up."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fmlab"
TOP = ("viz", "explore", "course")          # the layers that may import everything below them
ENTRY_POINTS = ("cli.py", "__main__.py")    # the command line, above every layer
ALLOWED = {("history.py", "History.plot")}  # (file, enclosing function) that may import from TOP anyway


def imported_modules(node: ast.AST, package: str) -> list[str]:
    """The absolute fmlab module names an import statement reads, relative imports resolved against ``package``."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if not node.level:
        return [node.module or ""]
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    if node.module:
        return [".".join([*base, node.module])]
    return [".".join([*base, a.name]) for a in node.names]  # from . import viz


def imports_with_scope(tree: ast.AST, scope: str = ""):
    """(import node, "Class.function" that encloses it, "" at module level) for every import in ``tree``."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from imports_with_scope(child, f"{scope}.{child.name}".lstrip("."))
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, scope
        else:
            yield from imports_with_scope(child, scope)


def test_no_module_below_viz_explore_and_course_imports_from_them():
    leaks = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in TOP or str(rel) in ENTRY_POINTS:
            continue
        package = ".".join(("fmlab", *rel.parent.parts))  # the same for a module and its folder's __init__
        for node, scope in imports_with_scope(ast.parse(path.read_text())):
            for module in imported_modules(node, package):
                top = module.split(".")
                if top[0] == "fmlab" and len(top) > 1 and top[1] in TOP and (str(rel), scope) not in ALLOWED:
                    leaks.append(f"fmlab/{rel}:{node.lineno} ({scope or 'module level'}) imports {module}")
    assert not leaks, "a lower layer imports a notebook-facing one (see ARCHITECTURE.md):\n" + "\n".join(leaks)


def test_the_scan_sees_relative_absolute_and_from_dot_imports():
    tree = ast.parse("from ..viz.plots import f\nimport fmlab.course\nclass A:\n    def f(self):\n"
                     "        from .. import explore\n")
    found = [(m, scope) for node, scope in imports_with_scope(tree) for m in imported_modules(node, "fmlab.data")]
    assert found == [("fmlab.viz.plots", ""), ("fmlab.course", ""), ("fmlab.explore", "A.f")]
