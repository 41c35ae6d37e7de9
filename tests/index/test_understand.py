"""Query understanding: the alias map (curated, mined from titles and tags), first-name author
hints and pseudo-relevance feedback, unit by unit and through `tracker search`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from tests.index.conftest import HashEmbedder, doc, put, run_index, searcher
from tracker.cli import cli
from tracker.config import load_settings
from tracker.index.base import SearchFilters
from tracker.index.catalog import AuthorInfo
from tracker.index.hybrid import Understanding
from tracker.index.understand import AliasMap, FirstNames
from tracker.store.engine import make_engine


def test_curated_abbreviations_expand_and_synonyms_work_both_ways() -> None:
    aliases = AliasMap()
    assert aliases.expand("problems with RLHF").terms == (
        "reinforcement learning from human feedback",)
    assert aliases.expand("coherent extrapolated volition critique").terms == ()
    assert "mesa optimizer" in aliases.expand("inner misalignment in toy models").terms
    assert "inner misalignment" in aliases.expand("a mesa-optimizer story").terms
    assert aliases.expand("AGI timelines and ML scaling").terms == ()  # mainstream: left out
    assert aliases.expand("a post about bednets").terms == ()
    # Already spelled out: nothing is added twice.
    assert "reinforcement learning from human feedback" not in aliases.expand(
        "RLHF reinforcement learning from human feedback").terms


def test_aliases_mined_from_titles_and_tags() -> None:
    aliases = AliasMap(titles=["Notes on Debate Amplification Protocols (DAP)",
                               "A Title (XYZ) whose letters do not match"],
                       tags=["Logical Induction Theory", "AI"], curated={})
    assert aliases.expand("what was DAP again").terms == ("debate amplification protocols",)
    assert aliases.expand("xyz").terms == ()
    assert aliases.expand("LIT overview").terms == ("logical induction theory",)
    assert len(aliases) == 2


def test_first_names_need_a_possessive_and_a_prolific_author() -> None:
    authors = [AuthorInfo(1, "Scott Alexander", "yvain", 40),
               AuthorInfo(2, "Scott Garrabrant", "scott-garrabrant", 25),
               AuthorInfo(3, "Scott Nobody", None, 1),
               AuthorInfo(4, "Paul Christiano", "paulfchristiano", 30)]
    names = FirstNames(authors)
    assert [a.id for a in names.match("Scott's essay on rent")] == [1, 2]
    assert [a.id for a in names.match("something by Paul on amplification")] == [4]
    assert names.match("scott essay on rent") == []  # a bare first name is not a hint
    assert names.match("Bob's post") == []


def test_prf_adds_a_second_vector_list(engine: Engine, embedder: HashEmbedder) -> None:
    put(engine, *[doc(f"d{i}", f"Note {i}", f"Gradient descent and loss landscapes, part {i}.")
                  for i in range(6)],
        doc("far", "Bednets", "Malaria nets save lives cheaply."))
    run_index(engine, embedder)
    s = searcher(engine, embedder)
    s.understanding = Understanding(prf_passages=3)
    feedback = s.gather("loss landscapes", SearchFilters()).lists["prf"]
    assert feedback and feedback[0].document_id != s.gather(
        "bednets", SearchFilters()).lists["prf"][0].document_id
    s.understanding = Understanding()
    assert "prf" not in s.gather("loss landscapes", SearchFilters()).lists


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small store, split and keyword-indexed through `tracker index --limit 0`."""
    home = tmp_path_factory.mktemp("understand")
    docs = [
        doc("target", "Trouble with preference training",
            "Reinforcement learning from human feedback trains a reward model from human "
            "comparisons, and the policy learns to please the raters.", author="Ann Writer"),
        *[doc(f"noise{i}", f"Problems of kind {i}", f"Problems and more problems, number {i}.",
              author="Bob Other") for i in range(5)],
        doc("paul1", "Weighted regression", "Policy gradients reduce to a weighted regression.",
            author="Paul Christiano"),
        doc("paul2", "Amplification", "Amplify a weak overseer by letting it consult copies.",
            author="Paul Christiano"),
        doc("paul3", "Prosaic alignment", "Align systems built from today's techniques.",
            author="Paul Christiano"),
        doc("graham", "A note on regression", "Paul Graham's note on regression: regression to "
            "the mean, regression in startups, regression everywhere.", author="Carl Someone"),
    ]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACKER_HOME", str(home))
        engine = make_engine(load_settings().sqlalchemy_url)
        put(engine, *docs)
        engine.dispose()
        result = CliRunner().invoke(cli, ["index", "--limit", "0"])
        assert result.exit_code == 0, result.output
    return str(home)


def search_ids(monkeypatch: pytest.MonkeyPatch, home: str, query: str,
               **env: str) -> list[str]:
    monkeypatch.setenv("TRACKER_HOME", home)
    for key, value in env.items():
        monkeypatch.setenv(f"TRACKER_INDEX__{key}", value)
    result = CliRunner().invoke(cli, ["search", query, "--json", "--limit", "5"])
    assert result.exit_code == 0, result.output
    return [r["document"]["native_id"] for r in json.loads(result.stdout)["results"]]


def test_cli_alias_expansion_finds_the_spelled_out_post(
        monkeypatch: pytest.MonkeyPatch, cli_store: str) -> None:
    assert "target" not in search_ids(monkeypatch, cli_store, "RLHF problems")
    assert search_ids(monkeypatch, cli_store, "RLHF problems", ALIASES="true")[0] == "target"


def test_cli_first_name_hint_prefers_that_author(
        monkeypatch: pytest.MonkeyPatch, cli_store: str) -> None:
    assert search_ids(monkeypatch, cli_store, "Paul's note on regression")[0] == "graham"
    assert search_ids(monkeypatch, cli_store, "Paul's note on regression",
                      AUTHOR_FIRST_NAMES="true")[0] == "paul1"
