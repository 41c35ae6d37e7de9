"""Claim fixtures: a CLI runner, documents to quote, and the hashing embedder of the index tests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from tests.index.conftest import HashEmbedder, doc, put  # noqa: F401  (re-exported)
from tracker import store
from tracker.cli import cli
from tracker.models import ClaimLink
from tracker.store.engine import session_scope

GOODHART = (
    "Goodhart's law says: “When a measure becomes a target, it ceases to be a good measure.”\n\n"
    "## Four kinds\n\n"
    "- Regressional Goodhart: selecting on a proxy also selects for noise.\n"
    "- Extremal Goodhart: at the extremes the proxy and the goal come apart.\n\n"
    "> Optimisation pressure   finds the cracks in any proxy.\n\n"
    "So an agent that optimises a proxy hard will break the proxy. The proxy breaks again."
)


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    """The CLI in-process: exit code, stdout, stderr."""
    result = CliRunner().invoke(cli, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> Any:
    """The CLI with `--json`, parsed; the command must succeed."""
    code, out, err = run(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def one_line_error(err: str) -> str:
    """The single `Error: …` line of an expected failure."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    return lines[0]


def new_claim(engine: Engine, text: str = "Optimising a proxy hard breaks it") -> int:
    """A claim's id."""
    with session_scope(engine) as session:
        claim = store.add_claim(session=session, text=text)
        assert claim.id is not None
        return claim.id


def tag(engine: Engine, claim_id: int, ref: str, quote: str, stance: str = "supports",
        **options: Any) -> ClaimLink:
    """Tag a passage through the store."""
    with session_scope(engine) as session:
        document = store.get_document(session=session, ref=ref)
        link, _ = store.tag(session=session, claim_id=claim_id, document=document, quote=quote,
                             stance=stance, **options)
        return link


def links(engine: Engine, claim_id: int) -> list[ClaimLink]:
    """A claim's links, oldest first."""
    with session_scope(engine) as session:
        return store.claim_links(session=session, claim_id=claim_id)


@pytest.fixture
def embedder() -> HashEmbedder:
    """256 dimensions: fewer hash collisions than the index tests' 64 on these short texts."""
    return HashEmbedder(dim=256, name="test-hash-256")
