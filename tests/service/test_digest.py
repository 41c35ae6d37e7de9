"""The weekly digest on a seeded store with known new items and interests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlmodel import col, select

from tracker import store
from tracker.cli import cli
from tracker.config import load_settings
from tracker.models import (
    AuthorCreate,
    Claim,
    ClaimLink,
    Document,
    DocumentCreate,
    LinkCreate,
)
from tracker.store.engine import make_engine, session_scope

WEEK = "2026-W07"  # Monday 9 to Sunday 15 February 2026
LW = "https://www.lesswrong.com/posts"


def _doc(native_id: str, title: str, day: str, author: str, body: str, *, kind: str = "post",
         score: float = 0, comments: int = 0, post_id: str | None = None,
         links: list[str] = ()) -> DocumentCreate:
    slug = title.lower().replace(" ", "-")
    return DocumentCreate(
        source="lesswrong", native_id=native_id, kind=kind, title=title,
        url=f"{LW}/{post_id or native_id}/{slug}" + (f"#{native_id}" if post_id else ""),
        posted_at=datetime.fromisoformat(day).replace(tzinfo=UTC), score=score,
        comment_count=comments, post_id=post_id, body_text=body,
        authors=[AuthorCreate(name=author, slug=author.lower())], aliases=[f"lw:{native_id}"],
        links=[LinkCreate(url=f"{LW}/{t}/x", kind="post", target_key=f"lw:{t}") for t in links],
    )


def seed(engine: Engine) -> None:
    """Known items: two reward-hacking posts, Alice's posts, a claim argument, a busy old
    thread, and a post the user tagged long ago that a new post cites."""
    docs = [
        _doc("old1", "My old essay on corrigibility", "2025-06-01T10:00:00", "Erin",
             "Corrigibility is the property of accepting correction.\n\nMore about it."),
        _doc("old2", "An old thread about forecasting", "2025-07-01T10:00:00", "Frank",
             "Forecasting timelines is hard, and here is why it matters for everyone."),
        _doc("new1", "Reward hacking in practice", "2026-02-10T09:00:00", "Alice",
             "Introduction: this post collects examples from deployed systems over many "
             "years of practice.\n\nReward hacking shows up whenever the reward is a proxy; "
             "reward hacking in RL agents is the classic case.", score=50, comments=4),
        _doc("new2", "Another story", "2026-02-11T09:00:00", "Bob",
             "A short story in which an agent finds a bug in its environment.\n\n"
             "This is reward hacking again.", score=10),
        _doc("new3", "Interpretability notes", "2026-02-12T09:00:00", "Alice",
             "Notes on circuits and features, building on my earlier corrigibility essay "
             "which is still worth reading today.", score=5, links=["old1"]),
        _doc("new5", "Against inevitability", "2026-02-13T09:00:00", "Dave",
             "Careful specification avoids the failure entirely, as argued below in "
             "some detail with examples.", score=2),
        *[_doc(f"c{i}", "", f"2026-02-1{i}T12:00:00", "Carol",
               f"Comment {i}: I disagree about the forecasts.", kind="comment",
               post_id="old2") for i in (2, 3, 4)],
        _doc("new4", "Alice's next post", "2026-02-17T09:00:00", "Alice",
             "A follow-up that cites the corrigibility essay again for good measure.",
             links=["old1"]),
    ]
    with session_scope(engine) as session:
        store.upsert_documents(session=session, documents=docs)
    with session_scope(engine) as session:
        ids = {d.native_id: d.id for d in session.exec(select(Document)).all()}
        store.add_tags(session=session, reader="default", document_id=ids["old1"], names=["mine"])
        claim = Claim(text="Reward hacking is inevitable")
        session.add(claim)
        session.flush()
        quote = "Careful specification avoids the failure entirely"
        session.add(ClaimLink(
            claim_id=claim.id, document_id=ids["new5"], quote=quote, start=0, end=len(quote),
            stance="opposes", origin="user", status="confirmed",
            created_at=datetime(2026, 2, 14, 8, tzinfo=UTC)))


def tracker(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def seeded() -> None:
    engine = make_engine(load_settings().sqlalchemy_url)
    seed(engine)
    engine.dispose()
    for args in (("search", "reward", "hacking"), ("author", "Alice"), ("claim", "1")):
        assert tracker("follow", *args).exit_code == 0


def _digest(out: Path, week: str = WEEK) -> tuple[str, str]:
    result = tracker("digest", "--week", week, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return ((out / f"{week}.md").read_text(), (out / f"{week}.html").read_text())


def _sections(markdown: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = ""
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = line[3:]
            sections[current] = []
        elif line.startswith("### "):
            sections[current].append(line[4:].split("](")[0].lstrip("["))
    return sections


def test_items_per_interest_ranked_each_once_with_why_extract_and_link(
    seeded: None, tmp_path: Path
) -> None:
    markdown, html = _digest(tmp_path)
    assert _sections(markdown) == {
        "Search: reward hacking": ["Reward hacking in practice", "Another story"],
        "Author: Alice": ["Interpretability notes"],  # her other post is listed above
        "Claim 1: Reward hacking is inevitable — arguments against": ["Against inevitability"],
        "Most discussed threads": ["An old thread about forecasting"],
        "Older items that became relevant": ["My old essay on corrigibility"],
    }
    assert markdown.startswith(f"# tracker digest {WEEK}: 6 items")
    assert "*Why:* matches your search “reward hacking”" in markdown
    # The extract is the paragraph that matches, not the introduction.
    assert "> Reward hacking shows up whenever the reward is a proxy" in markdown
    assert "*Why:* argues against claim 1" in markdown
    assert "— arguments for" not in markdown  # no argument for it this week: no empty side
    assert "> Careful specification avoids the failure entirely" in markdown
    assert "*Why:* 3 new comments this week" in markdown
    assert "*Why:* newly cited by Interpretability notes" in markdown
    assert f"({LW}/new3/interpretability-notes)" in markdown
    assert html.count("<article>") == 6
    assert f'<a href="{LW}/old1/my-old-essay-on-corrigibility">' in html


def test_same_week_rebuilds_byte_identical_and_items_are_not_repeated(
    seeded: None, tmp_path: Path
) -> None:
    first = _digest(tmp_path)
    feed_first = (tmp_path / "feed.atom").read_bytes()
    assert _digest(tmp_path) == first
    assert (tmp_path / "feed.atom").read_bytes() == feed_first

    markdown, _ = _digest(tmp_path, "2026-W08")
    # Alice's new post is new; the old essay it cites was already shown in W07.
    assert _sections(markdown) == {"Author: Alice": ["Alice's next post"]}
    assert _digest(tmp_path) == first  # W07 still rebuilds the same

    feed = feedparser.parse((tmp_path / "feed.atom").read_bytes())
    assert not feed.bozo
    assert [e.title for e in feed.entries] == ["tracker digest 2026-W08: 1 items",
                                               "tracker digest 2026-W07: 6 items"]
    assert feed.entries[1].link.endswith(f"{WEEK}.html")
    assert "Reward hacking in practice" in feed.entries[1].content[0].value


def test_implicit_interests_come_from_tagging_and_can_be_turned_off(
    seeded: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads(tracker("interests", "--json").stdout)
    assert data["explicit"] == [{"kind": "search", "value": "reward hacking"},
                                {"kind": "author", "value": "Alice"},
                                {"kind": "claim", "value": "1"}]
    assert data["implicit"] == [{"kind": "tag", "value": "mine"}]

    monkeypatch.setenv("TRACKER_DIGEST__IMPLICIT_INTERESTS", "false")
    assert json.loads(tracker("interests", "--json").stdout)["implicit"] == []
    markdown, _ = _digest(tmp_path)
    assert "Older items that became relevant" not in markdown


def test_default_output_is_in_the_data_dir(seeded: None, tmp_path: Path) -> None:
    result = tracker("digest", "--week", "2026-w07")
    assert result.exit_code == 0
    assert (tmp_path / "home" / "digests" / f"{WEEK}.md").exists()
    assert (tmp_path / "home" / "digests" / "feed.atom").exists()
    engine = make_engine(load_settings().sqlalchemy_url)
    with session_scope(engine) as session:
        from tracker.models import Digest

        row = session.exec(select(Digest).where(col(Digest.week) == WEEK)).one()
        assert len(row.item_ids) == 6
    engine.dispose()


def test_follow_unfollow_and_errors(seeded: None) -> None:
    assert "already following" in tracker("follow", "author", "alice").stdout
    assert tracker("unfollow", "author", "Alice").exit_code == 0
    result = tracker("unfollow", "author", "Alice")
    assert result.exit_code == 1 and "You do not follow author 'Alice'" in result.stderr
    result = tracker("follow", "claim", "99")
    assert result.exit_code == 1 and "No claim 99" in result.stderr
    result = tracker("follow", "source", "arxiv")
    assert result.exit_code == 0
    assert "source  arxiv" in tracker("interests").stdout
    result = tracker("digest", "--week", "2026-W60")
    assert result.exit_code == 2 and "'2026-W60' is not an ISO week" in result.stderr


def test_index_runs_in_slices_and_stops_between_them(seeded: None) -> None:
    import threading

    from tests.index.conftest import HashEmbedder
    from tracker.index.backends import open_keyword_index
    from tracker.models import Passage, PassageEmbedding
    from tracker.service.scheduler import index_in_slices

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    stop = threading.Event()
    stop.set()
    assert index_in_slices(engine, settings, HashEmbedder(), stop, size=2) == (0, 0)
    stop.clear()
    documents, embedded = index_in_slices(engine, settings, HashEmbedder(), stop, size=2)
    with session_scope(engine) as session:
        passages = len(session.exec(select(Passage)).all())
        vectors = len(session.exec(select(PassageEmbedding)).all())
    assert documents == 10 and embedded == passages == vectors > 2
    assert open_keyword_index(engine).count() == passages
    engine.dispose()


def test_reading_history_makes_an_implicit_author_interest(
    seeded: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_DIGEST__IMPLICIT_INTERESTS", "false")
    assert tracker("show", "lesswrong:c2").exit_code == 0  # not recorded: history is off
    monkeypatch.delenv("TRACKER_DIGEST__IMPLICIT_INTERESTS")
    assert tracker("interests", "--json").stdout.count("Carol") == 0
    for ref in ("lesswrong:c2", "lesswrong:c3"):
        assert tracker("show", ref).exit_code == 0
    data = json.loads(tracker("interests", "--json").stdout)
    assert {"kind": "author", "value": "Carol"} in data["implicit"]
    assert "author  Carol  (from your reading and tagging)" in tracker("interests").stdout
    markdown, _ = _digest(tmp_path)
    sections = _sections(markdown)
    assert sections["Author: Carol (from your reading and tagging)"] == [
        "Comment on An old thread about forecasting"] * 3
    assert "*Why:* by Carol (from your reading and tagging)" in markdown
