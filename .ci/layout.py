"""src/drafter -> the layout rules the issue asks for: no function over 80 lines, no import cycle between modules.

    python .ci/layout.py            # lists offenders; exit 1 when there is one

Functions are measured from `def` to their last line (decorators and docstrings included). Imports are all of
them, those inside functions too: an import moved into a function to dodge a cycle is still one (the CLI's lazy
imports point down the stages and make none); `if TYPE_CHECKING:` blocks are skipped.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src"
LIMIT = 80


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def long_functions(limit: int = LIMIT) -> list[tuple[str, int]]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > limit:
                    out.append((f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", length))
    return out


def _imports(path: Path, name: str) -> set[str]:
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
               and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def import_cycles() -> list[list[str]]:
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph = {name: sorted(m for m in _imports(path, name) if m in modules and m != name)
             for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in graph[name]:
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    return cycles


def main() -> int:
    long = long_functions()
    for where, length in long:
        print(f"function over {LIMIT} lines: {where} ({length} lines)")
    cycles = import_cycles()
    for cycle in cycles:
        print("import cycle: " + " -> ".join(cycle))
    print(f"layout: {len(long)} functions over {LIMIT} lines, {len(cycles)} import cycles")
    return 1 if long or cycles else 0


if __name__ == "__main__":
    sys.exit(main())
