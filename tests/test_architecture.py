"""The layering in DESIGN.md holds, and the CLI starts without heavy imports."""

from __future__ import annotations

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
