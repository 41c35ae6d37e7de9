"""The import's fast paths keep their promises: `clean_text`'s printable shortcut lets no
control through, an import leaves the garbage collector as it found it, and documents rebuilt
from the workers' tuples know every field as set."""

from __future__ import annotations

import gc
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SHARED
from tracker.cli import cli
from tracker.text import clean_text

SAMPLE = SHARED / "corpus" / "sample" / "posts_sample.jsonl"
# What clean_text removes: C0 but tab and newline, DEL, C1, bidi controls, BOM.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
CONTROL_CHARS = [chr(n) for n in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0),
                                  *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF)]


def test_clean_text_removes_each_control_from_otherwise_printable_text() -> None:
    assert all(CONTROL.fullmatch(c) for c in CONTROL_CHARS)
    for char in CONTROL_CHARS:
        for text in (f"plain words {char}", f"{char}x", f"curly ’quotes’ {char} and é"):
            assert not CONTROL.search(clean_text(text)), repr(char)
    assert clean_text("printable ’text’ é ∑") == "printable ’text’ é ∑"
    assert clean_text("tab\tand\nnewline kept") == "tab\tand\nnewline kept"


def test_an_import_leaves_the_garbage_collector_as_it_found_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    result = CliRunner().invoke(cli, ["import", str(SAMPLE), "--no-split"])
    assert result.exit_code == 0, result.output
    assert "documents" in result.output
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == frozen


def test_documents_rebuilt_from_worker_tuples_have_every_field_set() -> None:
    from tracker.ingest.dumps import converter, detect_format, open_lines, parse_line
    from tracker.ingest.dumps import read_raw_lines as raw_lines
    from tracker.sync.importwire import pack, unpack

    with open_lines(SAMPLE) as handle:
        lines = [parse_line(raw) for raw in raw_lines(handle)][:40]
    convert = converter(detect_format(lines[0].record or {}, SAMPLE))
    documents = []
    for line in lines:
        try:
            documents.append(convert(line.record or {}))
        except ValueError:  # archive-only ids
            continue
    back = unpack(pack(documents))
    assert back == documents and any(doc.links for doc in back)
    for doc in back:
        assert doc.model_dump(exclude_unset=True) == doc.model_dump()
        for link in doc.links:
            assert link.model_dump(exclude_unset=True) == link.model_dump()
    # A change to one rebuilt document touches no other (the fields-set is shared).
    back[0].title = "changed"
    assert back[1].title == documents[1].title
    assert back[1].model_fields_set == set(type(back[1]).model_fields)
