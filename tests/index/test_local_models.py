"""Models made here from the real packaged MiniLM, through the CLI: the static first tier
(`tracker model distill`, `tracker index --static-tier`, two-tier search) and the adapted model
(`tracker model adapt`, `index.use_adapted`), with their provenance and their errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.index.test_real_model import short_posts, store_posts, tracker
from tracker.index.query import words
from tracker.index.tiered import rescore

# Distilling every one of MiniLM's ~30k word pieces takes minutes on two cores; the tests keep
# the special tokens and the ~1.4k lowercase word pieces of 1-3 letters (model2vec's own
# `token_remove_pattern`), which exercises the same code in seconds.
FEW_TOKENS = r"^(?!\[(?:CLS|SEP|UNK|PAD|MASK)\]$)(?![a-z]{1,3}$).*"


@pytest.fixture(scope="module")
def static_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static model distilled once for the module, through `tracker model distill`."""
    home = tmp_path_factory.mktemp("static-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_HOME", str(home))
        code, out, err = tracker("model", "distill", "--dims", "64", "--remove-tokens",
                                 FEW_TOKENS)
    assert code == 0, err
    folder = home / "models" / "static-all-MiniLM-L6-v2"
    assert str(folder) in out
    return folder


def install(folder: Path) -> None:
    """Copy a model made in another TRACKER_HOME into this test's data directory."""
    from tracker import paths

    shutil.copytree(folder, paths.data_dir() / "models" / folder.name)


def test_distill_records_provenance_and_lists_it(static_model: Path) -> None:
    install(static_model)
    provenance = json.loads((static_model / "provenance.json").read_text())
    assert provenance["base_model"] == "all-MiniLM-L6-v2"
    assert provenance["method"] == "model2vec.distill" and provenance["dim"] == 64
    assert 1000 < provenance["vocabulary"] < 2000 and provenance["code_version"]
    code, out, _ = tracker("model", "list", "--json")
    data = json.loads(out)
    assert code == 0 and data["active"] == "all-MiniLM-L6-v2" and not data["static_tier"]
    assert [m["name"] for m in data["models"]] == ["static-all-MiniLM-L6-v2"]


def test_static_tier_indexes_fast_and_search_rescores_with_minilm(
        shared: Path, static_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(static_model)
    posts = short_posts(shared, 8)
    store_posts(posts)
    code, out, err = tracker("index", "--static-tier")
    assert code == 0, err
    assert "embedded with static-all-MiniLM-L6-v2" in out
    assert "embedded with all-MiniLM-L6-v2" in out
    monkeypatch.setenv("TRACKER_INDEX__STATIC_TIER", "true")
    target = posts[2]
    query = " ".join(words(target.body_text)[:40][::-1])
    code, out, err = tracker("search", query, "--json", "--limit", "3")
    assert code == 0, err
    top = json.loads(out)["results"][0]
    assert top["document"]["native_id"] == target.native_id
    assert top["matched"]["vector_rank"] is not None
    code, out, _ = tracker("similar", target.native_id, "--json")
    assert code == 0 and json.loads(out)["results"]


def test_static_tier_without_a_distilled_model_is_one_clear_error(shared: Path) -> None:
    store_posts(short_posts(shared, 2))
    code, _, err = tracker("index", "--static-tier")
    assert code == 1
    assert "tracker model distill" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_rescore_reorders_only_the_places_of_passages_with_main_vectors() -> None:
    query = np.array([1.0, 0.0], dtype=np.float32)
    main = {2: np.array([0.2, 0.98], dtype=np.float32), 4: np.array([1.0, 0.0], dtype=np.float32)}
    pairs = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)]
    # 1 and 3 have no MiniLM vector yet: they keep their places; 4 overtakes 2 in theirs.
    assert [k for k, _ in rescore(pairs, main, query)] == [1, 4, 3, 2]
    assert rescore(pairs, {}, query) == pairs


def test_adapt_trains_on_the_store_and_use_adapted_indexes_with_it(
        shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    posts = short_posts(shared, 40)
    store_posts(posts)
    assert tracker("index", "--limit", "0")[0] == 0  # passages, no vectors: pairs need them
    code, out, err = tracker("model", "adapt", "--steps", "2", "--pairs", "64")
    assert code == 0, err
    assert "step 2/2" in err
    code, out, _ = tracker("model", "list", "--json")
    (made,) = json.loads(out)["models"]
    assert made["name"].startswith("adapted-") and made["base_model"] == "all-MiniLM-L6-v2"
    assert 32 <= made["training_pairs"] <= 64 and made["steps"] == 2
    assert set(made["pairs_by_kind"]) <= {"title", "anchor"}
    assert json.loads(out)["active"] == "all-MiniLM-L6-v2"  # off until index.use_adapted
    monkeypatch.setenv("TRACKER_INDEX__USE_ADAPTED", "true")
    assert json.loads(tracker("model", "list", "--json")[1])["active"] == made["name"]
    code, out, err = tracker("index")
    assert code == 0, err
    assert f"embedded with {made['name']}" in out
    target = posts[5]
    query = " ".join(words(target.body_text)[:40][::-1])
    code, out, err = tracker("search", query, "--json", "--limit", "3")
    assert code == 0, err
    top = json.loads(out)["results"][0]
    assert top["document"]["native_id"] == target.native_id
    assert top["matched"]["vector_rank"] is not None


def test_adapt_on_an_empty_store_is_one_clear_error() -> None:
    code, _, err = tracker("model", "adapt", "--steps", "1")
    assert code == 1
    assert "training pairs" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
