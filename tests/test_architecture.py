"""The layering in DESIGN.md holds, and the CLI starts without heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

# Folders mapped into the `tracker` namespace by pyproject's package-dir.
MAPPED = {"ingest": "ingest", "index": "index", "tui": "tui"}


def _namespace_tree(root: Path) -> Path:
    """A `tracker` package of symlinks with the mapped folders inside, as installed.

    import-linter walks the file system from the package's folder, so the package-dir
    mapping of the editable install is invisible to it.
    """
    package = root / "tracker"
    package.mkdir(parents=True)
    for item in (REPO / "tracker").iterdir():
        if item.suffix == ".py" or (item.is_dir() and item.name != "__pycache__"):
            (package / item.name).symlink_to(item)
    for name, folder in MAPPED.items():
        (package / name).symlink_to(REPO / folder)
    return root


def test_import_contracts_hold(tmp_path: Path) -> None:
    tree = _namespace_tree(tmp_path / "tree")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command;"
               "lint_imports_command()", "--config", str(REPO / "pyproject.toml"), "--no-cache"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_types_check_strictly(tmp_path: Path) -> None:
    tree = _namespace_tree(tmp_path / "tree")
    env = {**os.environ, "MYPYPATH": str(tree)}
    command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
               "--cache-dir", str(tmp_path / "cache"), "-p", "tracker"]
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_cli_import_loads_no_heavy_stack() -> None:
    code = (
        "import sys, tracker.cli\n"
        "heavy = [m for m in ('textual', 'sentence_transformers', 'torch', 'feedparser',"
        " 'graphql') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == ""


def _import_cycles(tree: Path) -> list[list[str]]:
    """Strongly connected groups of modules in the import graph, imports inside functions and
    under TYPE_CHECKING included (grimp parses every import statement)."""
    code = (
        "import json, grimp\n"
        "graph = grimp.build_graph('tracker', cache_dir=None)\n"
        "print(json.dumps({m: sorted(graph.find_modules_directly_imported_by(m))"
        " for m in graph.modules}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    edges: dict[str, list[str]] = json.loads(result.stdout)
    return [group for group in _strongly_connected(edges) if len(group) > 1]


def _strongly_connected(edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, [])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, []))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))
    return groups


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert [g for g in _strongly_connected(edges) if len(g) > 1] == [["a", "b", "c"]]


def test_no_import_cycles_anywhere(tmp_path: Path) -> None:
    cycles = _import_cycles(_namespace_tree(tmp_path / "tree"))
    assert cycles == [], "import cycles:\n" + "\n".join(" <-> ".join(g) for g in cycles)
