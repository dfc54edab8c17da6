"""The house's import rules, checked by walking every module's imports with `ast`:

- `flows` and `storage` never import `bot` (imports point one way: bot → flows, bot → storage);
  `flows` (markets only, no SQL) never imports `storage`;
- only `bot/adapters/` imports slack, slack_sdk, slack_bolt or discord;
- no import circle inside `flows/` (function-level imports count: a lazy import only hides a
  circle; imports under `if TYPE_CHECKING:` do not run and do not count).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "storage", "bot")
CHAT_LIBRARIES = ("slack", "slack_sdk", "slack_bolt", "discord")


@dataclass(frozen=True)
class Import:
    importer: str
    """Dotted module name of the importing file."""
    target: str
    """Dotted module imported (for `from pkg import name`: `pkg.name` when that is a module)."""
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under `node`, skipping `if TYPE_CHECKING:` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            yield from (n for stmt in child.orelse for n in [stmt, *_walk(stmt)])
            continue
        yield child
        yield from _walk(child)


def imports_of(path: Path, root: Path, modules: set[str]) -> list[Import]:
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in _walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append(Import(name, candidate if candidate in modules else base, node.lineno))
    return found


def all_imports(root: Path) -> list[Import]:
    files = [p for package in PACKAGES for p in sorted((root / package).rglob("*.py"))]
    modules = {module_name(path, root) for path in files}
    return [i for path in files for i in imports_of(path, root, modules)]


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def upward_imports(imports: list[Import]) -> list[str]:
    problems = []
    for i in imports:
        top, target = _top(i.importer), _top(i.target)
        if top in ("flows", "storage") and target == "bot":
            problems.append(f"{i.importer}:{i.line} imports {i.target} ({top} must not import bot)")
        if top == "flows" and target == "storage":
            problems.append(f"{i.importer}:{i.line} imports {i.target} (flows does no SQL)")
        if target in CHAT_LIBRARIES and not i.importer.startswith("bot.adapters"):
            problems.append(f"{i.importer}:{i.line} imports {i.target} (only bot.adapters may)")
    return problems


def circles(imports: list[Import], package: str) -> list[list[str]]:
    """Every strongly connected group of more than one module (or a module importing itself)
    among the modules of `package`, each as a sorted list (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for i in imports:
        if _top(i.importer) == package and _top(i.target) == package:
            graph.setdefault(i.importer, set()).add(i.target)
            graph.setdefault(i.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# --- the house ---------------------------------------------------------------------------------


def test_no_upward_or_chat_library_import_outside_its_layer():
    assert upward_imports(all_imports(ROOT)) == []


def test_no_import_circle_inside_flows():
    assert circles(all_imports(ROOT), "flows") == []


def test_the_walk_sees_the_real_imports():
    """Guard against a walker that finds nothing and so passes: known edges are present."""
    edges = {(i.importer, i.target) for i in all_imports(ROOT)}
    assert ("flows.status", "flows.models.leveraged") in edges
    assert ("bot.adapters.slack", "slack_bolt.async_app") in edges or any(
        importer == "bot.adapters.slack" and _top(target) in CHAT_LIBRARIES
        for importer, target in edges
    )
    assert any(_top(importer) == "bot" and _top(target) == "storage" for importer, target in edges)


# --- the checker itself, on a constructed tree ----------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in PACKAGES:
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").touch()
    return root


def test_the_checker_fails_on_each_broken_rule(tmp_path):
    root = _tree(
        tmp_path,
        {
            "flows/a.py": "from flows import b\n",
            "flows/b.py": "def f():\n    from . import a\n",  # a lazy, relative circle
            "flows/c.py": "import bot.settings\nfrom storage.store import Store\n",
            "storage/q.py": "from bot import cli\n",
            "bot/render/x.py": "import discord\n",
            "bot/adapters/slack.py": "from slack_bolt.async_app import AsyncApp\n",
            "flows/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from flows import e\n",
            "flows/e.py": "from flows import d\n",  # not a circle: d's import never runs
        },
    )
    imports = all_imports(root)
    problems = upward_imports(imports)
    assert any(p.startswith("flows.c:1 imports bot.settings") for p in problems)
    assert any(p.startswith("flows.c:2 imports storage.store") for p in problems)
    assert any(p.startswith("storage.q:1 imports bot") for p in problems)
    assert any(p.startswith("bot.render.x:1 imports discord") for p in problems)
    assert not any("bot.adapters.slack" in p for p in problems)
    assert circles(imports, "flows") == [["flows.a", "flows.b"]]
