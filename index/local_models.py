"""Models made here, from the packaged MiniLM: folders in `<data dir>/models` with provenance.

`static-<base>` is a model2vec static model distilled from the base (`tracker model distill`);
`adapted-<stamp>` is the base fine-tuned on the user's own store (`tracker model adapt`). Each
folder holds `provenance.json` (base model, what it was made from, date, code version). A
model's folder name is its name: vectors are filed under it, so a new adapted model (a new
stamp) is embedded into a vector index of its own and never mixes with an older one.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from tracker import paths

STATIC_PREFIX = "static-"
ADAPTED_PREFIX = "adapted-"
PROVENANCE = "provenance.json"
_NAME = re.compile(r"^(static|adapted)-[A-Za-z0-9._-]+$")


def models_dir() -> Path:
    """Where models made here live (created on demand)."""
    path = paths.data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def local_model_path(name: str) -> Path | None:
    """The folder of a model made here, if `name` is one and it is complete."""
    if not _NAME.match(name):
        return None
    path = paths.data_dir() / "models" / name
    return path if (path / PROVENANCE).is_file() else None


def static_name(base: str) -> str:
    """The name of the static model distilled from `base`."""
    return STATIC_PREFIX + re.sub(r"[^A-Za-z0-9._-]+", "_", Path(base).name)


def new_adapted_name(now: datetime | None = None) -> str:
    """A fresh name for an adapted model (the time it was made, to the second)."""
    return ADAPTED_PREFIX + (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


def newest_adapted() -> str | None:
    """The most recently made complete adapted model, if any."""
    root = paths.data_dir() / "models"
    if not root.is_dir():
        return None
    names = sorted(p.name for p in root.iterdir()
                   if p.name.startswith(ADAPTED_PREFIX) and (p / PROVENANCE).is_file())
    return names[-1] if names else None


def write_provenance(folder: Path, **facts: Any) -> dict[str, Any]:
    """Record where a model came from; written last, so its presence marks a complete model."""
    record = {"name": folder.name, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "code_version": _code_version(), **facts}
    (folder / PROVENANCE).write_text(json.dumps(record, indent=2) + "\n")
    return record


def read_provenance(folder: Path) -> dict[str, Any]:
    """The provenance of a model folder ({} when unreadable)."""
    try:
        data = json.loads((folder / PROVENANCE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def list_models() -> list[dict[str, Any]]:
    """Every complete model made here, with its provenance, by name."""
    root = paths.data_dir() / "models"
    if not root.is_dir():
        return []
    return [{**read_provenance(p), "name": p.name, "path": str(p)}
            for p in sorted(root.iterdir())
            if _NAME.match(p.name) and (p / PROVENANCE).is_file()]  # not the ONNX export


def _code_version() -> str:
    try:
        return metadata.version("tracker")
    except metadata.PackageNotFoundError:
        return "unknown"
