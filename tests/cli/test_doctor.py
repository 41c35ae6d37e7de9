"""`tracker doctor` on a real store of corpus posts indexed with the packaged model: it finds
each kind of damage, names the command that mends it, and `--repair` mends what it can."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.index.conftest import corpus_slice, put
from tracker.cli import cli
from tracker.config import load_settings
from tracker.index.sqlite import vector_file
from tracker.store.engine import make_engine


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout + result.stderr


def findings(*args: str) -> tuple[int, dict[str, dict[str, str]]]:
    result = CliRunner().invoke(cli, ["doctor", "--json", *args])
    return result.exit_code, {f["part"]: f for f in json.loads(result.stdout)}


@pytest.fixture(scope="module")
def built(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TRACKER_HOME holding 12 real posts, split and embedded by `tracker index` (MiniLM):
    built once, copied for each test."""
    home = tmp_path_factory.mktemp("doctor-home")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TRACKER_HOME", str(home))
        engine = make_engine(load_settings().sqlalchemy_url)
        put(engine, *corpus_slice(shared, 12))
        engine.dispose()
        code, out = run("index")
    assert code == 0, out
    return home


@pytest.fixture
def indexed(built: Path) -> Iterator[Path]:
    """This test's copy of the built store (TRACKER_HOME is the test's own folder)."""
    settings = load_settings()
    database = Path(settings.sqlalchemy_url.removeprefix("sqlite:///"))
    shutil.copytree(built, database.parent, dirs_exist_ok=True)
    yield database


def test_a_sound_store_is_ok_everywhere(indexed: Path) -> None:
    code, found = findings()
    assert code == 0
    assert {part: f["state"] for part, f in found.items()} == {
        "database": "ok", "model": "ok", "keyword index": "ok", "vectors": "ok", "index": "ok"}
    code, out = run("doctor")
    assert code == 0 and len(out.strip().splitlines()) == 5


def test_keyword_index_out_of_step_is_found_and_rebuilt(indexed: Path) -> None:
    from tracker.index.tantivyindex import TantivyKeywordIndex, keyword_folder
    from tracker.store.engine import make_engine

    engine = make_engine(f"sqlite:///{indexed}")
    index = TantivyKeywordIndex(engine, keyword_folder(indexed))
    writer = index.writer()  # drop one passage from the index, not the table
    writer.delete([index.max_passage_id() - 1])
    writer.commit()
    writer.close()
    engine.dispose()
    code, out = run("doctor")
    assert code == 1
    line = next(x for x in out.splitlines() if "keyword index" in x)
    assert line.startswith("broken") and "out of step" in line
    assert line.endswith("run: tracker doctor --repair")
    code, out = run("doctor", "--repair")
    assert code == 0, out
    assert "repaired: keyword index (tantivy) rebuilt" in out
    assert findings()[1]["keyword index"]["state"] == "ok"


def test_vectors_without_records_and_records_without_vectors(indexed: Path) -> None:
    with sqlite3.connect(indexed) as conn:
        conn.execute("DELETE FROM passageembedding WHERE passage_id IN "
                     "(SELECT passage_id FROM passageembedding LIMIT 3)")
    code, found = findings()
    assert code == 1
    assert found["vectors"]["state"] == "broken"
    assert "3 vectors have no passage" in found["vectors"]["what"]
    code, found = findings("--repair")
    assert code == 0
    assert found["vectors"]["state"] == "ok"
    assert found["index"] == {"part": "index", "state": "behind", "fix": "tracker index",
                              "what": "0 documents to split, 3 passages to embed"}
    assert run("index")[0] == 0
    assert findings()[1]["index"]["state"] == "ok"


def test_an_unreadable_vector_file_is_moved_aside(indexed: Path) -> None:
    path = vector_file(indexed, load_settings().index.model)
    path.write_bytes(b"not a usearch file" * 10)
    code, found = findings()
    assert code == 1
    assert found["vectors"]["state"] == "broken" and "Cannot read" in found["vectors"]["what"]
    code, found = findings("--repair")
    assert code == 0
    assert (path.parent / (path.name + ".unreadable")).exists()
    assert found["index"]["state"] == "behind" and found["index"]["fix"] == "tracker index"


def test_missing_model_files_name_the_setup_command(indexed: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_INDEX__MODEL", str(indexed.parent / "no-such-model"))
    code, found = findings()
    assert code == 1
    assert found["model"]["state"] == "broken"
    assert "scripts/setup" in (found["model"]["fix"] or "")


def test_a_damaged_database_file_fails_the_integrity_check(indexed: Path) -> None:
    with sqlite3.connect(indexed) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'passage'").fetchone()[0]
    with open(indexed, "r+b") as db:  # scribble over the passage table's root page
        db.seek((root - 1) * page)
        db.write(b"\xff" * page)
    code, out = run("doctor")
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0].startswith("broken  database: integrity check failed")
    assert ".recover" in lines[0]
    assert "Traceback" not in out and len(lines) == 5
    # tantivy's folder is not in the damaged file: its line may say ok, but it is there.
    assert any(" keyword index:" in x for x in lines)
