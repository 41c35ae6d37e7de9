"""Where tracker keeps its data and configuration. Nothing else computes paths."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "tracker"


def home() -> Path | None:
    """The `TRACKER_HOME` override, if set: it holds both data and config."""
    value = os.environ.get("TRACKER_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """The data directory (database, vector index, digests), created on demand."""
    path = home() or platformdirs.user_data_path(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """The configuration directory, created on demand."""
    path = home() or platformdirs.user_config_path(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_file() -> Path:
    """The `config.toml` file; it need not exist."""
    return config_dir() / "config.toml"


def database_file() -> Path:
    """The default SQLite database file."""
    return data_dir() / "tracker.db"
