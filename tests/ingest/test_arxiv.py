"""The arXiv source against a local export API serving the real recorded responses."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import select

from tests.servers.arxiv import ArxivServer, Paper, load_fixtures, load_papers
from tests.servers.local import Reply
from tracker import store
from tracker.cli import cli
from tracker.config import ArxivSettings, Settings, load_settings
from tracker.errors import NotFoundError, SourceError
from tracker.ingest.arxiv import ArxivSource, paper_id
from tracker.ingest.html import parse_body
from tracker.ingest.http import make_client
from tracker.ingest.links import classify_url
from tracker.models import AuthorCreate, Document, DocumentCreate
from tracker.store.engine import make_engine, session_scope
from tracker.sync.sources import sync_source

JULY_1 = datetime(2025, 7, 1, tzinfo=UTC)
JULY_15 = datetime(2025, 7, 15, tzinfo=UTC)


@pytest.fixture(scope="session")
def corpus_papers(shared: Path) -> list[Paper]:
    return load_papers(shared / "corpus")


@pytest.fixture
def server(shared: Path, corpus_papers: list[Paper]) -> Iterator[ArxivServer]:
    papers = copy.deepcopy(corpus_papers)
    with ArxivServer(papers, load_fixtures(shared / "fixtures" / "arxiv")) as running:
        yield running


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'arxiv.db'}")
    yield engine
    engine.dispose()


def settings_for(server: ArxivServer, **overrides: object) -> ArxivSettings:
    values: dict[str, object] = {"endpoint": server.url, "delay": 0, "page_size": 25,
                                 "max_retries": 2, "backoff": 0, "window_days": 7}
    values.update(overrides)
    return ArxivSettings.model_validate(values)


def client_for(delay: float = 0, retries: int = 2, max_backoff: float = 0) -> httpx.Client:
    return make_client("arxiv", user_agent="tracker-tests (contact: tests@example.org)",
                       delay=delay, timeout=10, max_retries=retries, backoff=0,
                       max_backoff=max_backoff)


def app_settings(monkeypatch: pytest.MonkeyPatch, server: ArxivServer, **env: str) -> Settings:
    monkeypatch.setenv("TRACKER_SOURCES__ARXIV__ENDPOINT", server.url)
    monkeypatch.setenv("TRACKER_SOURCES__ARXIV__DELAY", "0")
    monkeypatch.setenv("TRACKER_SOURCES__ARXIV__BACKOFF", "0")
    monkeypatch.setenv("TRACKER_SOURCES__ARXIV__MAX_RETRIES", "1")
    for name, value in env.items():
        monkeypatch.setenv(f"TRACKER_SOURCES__ARXIV__{name.upper()}", value)
    return load_settings()


def expected_ids(server: ArxivServer, low: datetime, high: datetime) -> set[str]:
    return {p.arxiv_id for p in server.papers.values()
            if low <= p.published.replace(second=0) <= high}


# --- the recorded responses ------------------------------------------------------------------


def test_one_paper_from_the_recorded_response(server: ArxivServer) -> None:
    with client_for() as client:
        doc = ArxivSource(settings_for(server)).fetch_one(client, "1605.08386")
    assert (doc.source, doc.native_id, doc.kind) == ("arxiv", "1605.08386", "paper")
    assert doc.title == "Heat-bath random walks with Markov bases"
    assert doc.url == "https://arxiv.org/abs/1605.08386"
    assert doc.authors == [AuthorCreate(name="Caprice Stanley"),
                           AuthorCreate(name="Tobias Windisch")]
    assert doc.posted_at == datetime(2016, 5, 26, 17, 59, 46, tzinfo=UTC)
    assert doc.body_text.startswith("Graphs on lattice points are studied whose edges come")
    assert "\n" not in doc.body_text
    assert doc.aliases == ["arxiv:1605.08386"]
    assert doc.extra["categories"] == ["math.CO", "math.ST"]
    assert doc.extra["primary_category"] == "math.CO"
    assert doc.extra["comment"] == "20 pages, 3 figures"
    assert doc.extra["version"] == 1
    assert doc.extra["abs_url"] == "https://arxiv.org/abs/1605.08386v1"
    assert doc.extra["pdf_url"] == "https://arxiv.org/pdf/1605.08386v1"
    [request] = server.query_requests()
    assert request.params["id_list"] == "1605.08386"
    assert "tracker-tests" in request.headers["user-agent"]


def test_old_style_id_with_slash_and_journal_ref(server: ArxivServer) -> None:
    with client_for() as client:
        doc = ArxivSource(settings_for(server)).fetch_one(client, "astro-ph/0601001v1")
    assert doc.native_id == "astro-ph/0601001"
    assert doc.aliases == ["arxiv:astro-ph/0601001"]
    assert doc.url == "https://arxiv.org/abs/astro-ph/0601001"
    assert doc.extra["journal_ref"] == "ActaAstron.56:1-50,2006"
    # The comment names a URL: it becomes a citation.
    assert [link.url for link in doc.links] == [
        "http://www.astronomy.ohio-state.edu/~gould/ogle_hot_jupiters.ps.gz"]


def test_unknown_id_is_not_found(server: ArxivServer) -> None:
    with client_for() as client, pytest.raises(NotFoundError) as caught:
        ArxivSource(settings_for(server)).fetch_one(client, "0000.0000")
    assert "arXiv has no paper '0000.0000'" in caught.value.msg


def test_400_error_feed_quotes_the_arxiv_message(server: ArxivServer) -> None:
    with client_for() as client, pytest.raises(SourceError) as caught:
        ArxivSource(settings_for(server)).fetch_one(client, "abc")
    assert caught.value.msg.startswith("arxiv: the API refused the request (HTTP 400): "
                                       "incorrect id format for abc.")
    assert len(server.query_requests()) == 1  # a 400 is an answer: not retried


def test_paging_the_recorded_query_and_dois(server: ArxivServer) -> None:
    source = ArxivSource(settings_for(server, page_size=10))
    params = {"search_query": "testing", "sortBy": "relevance", "sortOrder": "descending"}
    with client_for() as client:
        pages = list(source.search(client, params, limit=20))
    assert [(p.start, p.entries, p.total) for p in pages] == [(0, 10, 214881), (10, 10, 214881)]
    docs = [d for p in pages for d in p.documents]
    assert len({d.native_id for d in docs}) == 20
    dois = [a for d in docs for a in d.aliases if a.startswith("doi:")]
    assert "doi:10.1109/icstw55395.2022.00035" in dois
    first = next(d for d in docs if d.native_id == "2202.12139")
    assert first.extra["doi"] == "10.1109/ICSTW55395.2022.00035"
    assert first.extra["journal_ref"].startswith("Artificial Intelligence in Software Testing")
    assert [r.params["start"] for r in server.query_requests()] == ["0", "10"]


@pytest.mark.parametrize(("ref", "expected"), [
    ("arxiv:2306.12345", "2306.12345"), ("arXiv:2306.12345v2", "2306.12345"),
    ("2306.12345", "2306.12345"), ("astro-ph/0601001", "astro-ph/0601001"),
    ("https://arxiv.org/abs/1605.08386v1", "1605.08386"),
    ("https://arxiv.org/pdf/1605.08386v1", "1605.08386"),
    ("doi:10.48550/arXiv.2306.12345", "2306.12345"),
    ("abc", None), ("https://www.lesswrong.com/posts/x", None), ("doi:10.1109/x", None),
])
def test_paper_references(ref: str, expected: str | None) -> None:
    assert paper_id(ref) == expected


# --- incremental windows ---------------------------------------------------------------------


def test_incremental_windows_cover_every_paper_once(server: ArxivServer) -> None:
    source = ArxivSource(settings_for(server), now=lambda: JULY_15)
    with client_for() as client:
        batches = list(source.fetch(client, {}, since=JULY_1))
    got = [d.native_id for b in batches for d in b.documents]
    assert set(got) == expected_ids(server, JULY_1, JULY_15)
    assert len(got) > 100
    cursors = [b.cursor["submitted"] for b in batches if "submitted" in b.cursor]
    assert cursors == sorted(cursors) and cursors[-1] == "2025-07-15T00:00:00+00:00"
    assert batches[-1].cursor == {"updated": "2025-07-15T00:00:00+00:00"}
    requests = server.query_requests()
    assert all(r.params["sortBy"] == "submittedDate" for r in requests)
    queries = {r.params["search_query"] for r in requests}
    assert queries == {
        f"({source.settings.query}) AND submittedDate:[202507010000 TO 202507080000]",
        f"({source.settings.query}) AND submittedDate:[202507080000 TO 202507150000]",
    }
    assert "cat:cs.AI" in source.settings.query and "cat:stat.ML" in source.settings.query


def test_a_window_too_big_to_page_is_halved(
    server: ArxivServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tracker.ingest.arxiv.MAX_WINDOW_RESULTS", 60)
    source = ArxivSource(settings_for(server, window_days=14, updates=False),
                         now=lambda: JULY_15)
    with client_for() as client:
        got = [d.native_id for b in source.fetch(client, {}, since=JULY_1) for d in b.documents]
    assert sorted(got) == sorted(expected_ids(server, JULY_1, JULY_15))
    ranges = {r.params["search_query"].rsplit("submittedDate:", 1)[1]
              for r in server.query_requests()}
    assert "[202507010000 TO 202507150000]" in ranges and len(ranges) > 3


def test_next_sync_starts_from_the_cursor_minus_refresh_days(server: ArxivServer) -> None:
    later = JULY_15 + timedelta(days=10)
    source = ArxivSource(settings_for(server, refresh_days=4, updates=False), now=lambda: later)
    with client_for() as client:
        list(source.fetch(client, {"submitted": "2025-07-15T00:00:00+00:00"}))
    first = server.query_requests()[0].params["search_query"]
    assert first.endswith("submittedDate:[202507150000 TO 202507220000]")
    recent = ArxivSource(settings_for(server, refresh_days=4, updates=False), now=lambda: later)
    server.requests.clear()
    with client_for() as client:
        list(recent.fetch(client, {"submitted": "2025-07-24T12:00:00+00:00"}))
    # Papers are listed days after their submission date: the last 4 days are read again.
    assert server.query_requests()[0].params["search_query"].endswith(
        "submittedDate:[202507210000 TO 202507250000]")


def test_empty_middle_page_is_asked_again(server: ArxivServer) -> None:
    server.faults = [None, "empty"]
    source = ArxivSource(settings_for(server), now=lambda: JULY_15)
    with client_for() as client:
        got = {d.native_id for b in source.fetch(client, {}, since=JULY_1) for d in b.documents}
    assert got == expected_ids(server, JULY_1, JULY_15)
    starts = [r.params["start"] for r in server.query_requests()[:3]]
    assert starts == ["0", "25", "25"]


def test_empty_page_that_persists_is_a_clear_error(server: ArxivServer) -> None:
    server.faults = [None, "empty", "empty", "empty"]
    source = ArxivSource(settings_for(server, max_retries=2), now=lambda: JULY_15)
    with client_for() as client, pytest.raises(SourceError) as caught:
        list(source.fetch(client, {}, since=JULY_1))
    assert "kept sending an empty page at start=25 of" in caught.value.msg
    assert "run `tracker sync arxiv` again later" in caught.value.msg


def test_garbled_xml_is_asked_again_and_html_is_refused(server: ArxivServer) -> None:
    server.faults = ["garbled"]
    with client_for() as client:
        doc = ArxivSource(settings_for(server)).fetch_one(client, "1605.08386")
    assert doc.native_id == "1605.08386"
    server.faults = ["html"]
    with client_for() as client, pytest.raises(SourceError) as caught:
        ArxivSource(settings_for(server)).fetch_one(client, "1605.08386")
    assert "an HTML page where an Atom feed was expected" in caught.value.msg


def test_waits_the_delay_between_requests_and_honours_retry_after(server: ArxivServer) -> None:
    server.faults = [None, Reply(429, b"Rate exceeded.", headers={"Retry-After": "1"})]
    source = ArxivSource(settings_for(server, page_size=40), now=lambda: JULY_15)
    with client_for(delay=0.3, max_backoff=5) as client:
        got = {d.native_id for b in source.fetch(client, {}, since=JULY_1) for d in b.documents}
    assert got == expected_ids(server, JULY_1, JULY_15)
    times = [r.at for r in server.query_requests()]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) >= 4
    assert min(gaps) >= 0.3
    assert gaps[1] >= 1.0  # the retry of the 429 came after Retry-After


# --- through the store and the CLI -----------------------------------------------------------


def _stored(engine: Engine, source: str = "arxiv") -> list[str]:
    with session_scope(engine) as session:
        rows = session.exec(select(Document.native_id).where(Document.source == source))
        return list(rows)


def test_failed_sync_loses_nothing_and_rerun_adds_the_rest(
    server: ArxivServer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = app_settings(monkeypatch, server, window_days="120", page_size="25")
    since = datetime(2025, 6, 1, tzinfo=UTC)
    want = expected_ids(server, since, datetime.now(UTC))
    server.faults = [None, None, None, None, None, Reply(500, b"oops"), Reply(500, b"oops")]
    first = sync_source(engine, settings, "arxiv", since=since)
    assert first.status == "failed" and "HTTP 500" in (first.error or "")
    part = _stored(engine)
    assert len(part) == 5 * 25 == first.counts.new
    with session_scope(engine) as session:
        saved = store.get_cursor(session=session, source="arxiv")["submitted"]
    assert saved.startswith("2025-06-")  # moved with the committed pages only
    server.requests.clear()
    second = sync_source(engine, settings, "arxiv")
    assert second.status == "ok", second.error
    stored = _stored(engine)
    assert sorted(stored) == sorted(want)  # everything, once
    first_query = server.query_requests()[0].params["search_query"]
    assert f"submittedDate:[{saved[:10].replace('-', '')}" in first_query


def test_new_version_updates_the_paper_and_keeps_the_old_abstract(
    server: ArxivServer, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = app_settings(monkeypatch, server, window_days="300")
    since = datetime(2025, 7, 25, tzinfo=UTC)
    assert sync_source(sqlite_engine, settings, "arxiv", since=since).status == "ok"
    target = sorted(expected_ids(server, since, datetime.now(UTC)))[0]
    old = server.papers[target].abstract
    server.bump(target, "A revised abstract about reward hacking.",
                datetime.now(UTC) - timedelta(hours=20))
    report = sync_source(sqlite_engine, settings, "arxiv")
    assert report.status == "ok" and report.counts.updated == 1
    with session_scope(sqlite_engine) as session:
        doc = store.get_document(session=session, ref=f"arxiv:{target}")
        assert doc.body_text == "A revised abstract about reward hacking."
        assert doc.extra["version"] == 2
        assert doc.id is not None
        [revision] = store.get_revisions(session=session, document_id=doc.id)
        assert revision.body_text == " ".join(old.split())
    sorts = {r.params["sortBy"] for r in server.query_requests()}
    assert "lastUpdatedDate" in sorts


def forum_post_citing(url: str) -> DocumentCreate:
    """A LessWrong link post (real: 'Modeling AGI Safety Frameworks with Causal Influence
    Diagrams', HE5DL6XeomYxFab74) whose body links the paper."""
    html = (f'<p>Ramana Kumar and I have a new paper: <a href="{url}">Modeling AGI Safety '
            f"Frameworks with Causal Influence Diagrams</a>.</p>")
    body = parse_body(html, base_url="https://www.lesswrong.com/posts/HE5DL6XeomYxFab74/x")
    link = classify_url(url)
    assert link is not None
    return DocumentCreate(
        source="lesswrong", native_id="HE5DL6XeomYxFab74", kind="post",
        url="https://www.lesswrong.com/posts/HE5DL6XeomYxFab74/modeling-agi-safety-frameworks",
        title="Modeling AGI Safety Frameworks with Causal Influence Diagrams",
        posted_at=datetime(2019, 6, 21, 12, 50, 8, tzinfo=UTC), link_url=url, body_html=html,
        body_text=body.text, authors=[AuthorCreate(name="Tom Everitt", slug="tom4everitt")],
        aliases=["lw:HE5DL6XeomYxFab74"], links=body.links,
    )


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _citers(ref: str) -> list[str]:
    code, out, err = run("links", ref, "--cited-by", "--json")
    assert code == 0, err
    return [row["document"]["native_id"] for row in json.loads(out)["links"] if row["document"]]


@pytest.mark.parametrize("paper_first", [True, False])
def test_forum_citation_resolves_whichever_arrives_first(
    server: ArxivServer, monkeypatch: pytest.MonkeyPatch, paper_first: bool
) -> None:
    app_settings(monkeypatch, server)
    engine = make_engine(load_settings().sqlalchemy_url)
    post = forum_post_citing("https://arxiv.org/abs/1906.08663v2")
    assert [link.target_key for link in post.links] == ["arxiv:1906.08663"]
    if not paper_first:
        with session_scope(engine) as session:
            store.upsert_documents(session=session, documents=[post])
    code, out, err = run("add", "https://arxiv.org/abs/1906.08663")
    assert code == 0, err
    assert out.startswith("new: [") and "arxiv:1906.08663 Modeling AGI Safety" in out
    if paper_first:
        with session_scope(engine) as session:
            store.upsert_documents(session=session, documents=[post])
    assert _citers("arxiv:1906.08663") == ["HE5DL6XeomYxFab74"]
    engine.dispose()


def test_doi_link_resolves_to_the_paper(
    server: ArxivServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_settings(monkeypatch, server)
    assert run("add", "arxiv:2202.12139")[0] == 1  # not in the recorded query page
    server.papers["2202.12139"] = Paper(
        arxiv_id="2202.12139", title="Testing Deep Learning Models", abstract="Abstract.",
        authors=["Mohit Kumar Ahuja"], published=datetime(2022, 2, 24, tzinfo=UTC),
        updated=datetime(2022, 2, 24, tzinfo=UTC), doi="10.1109/ICSTW55395.2022.00035")
    assert run("add", "arxiv:2202.12139")[0] == 0
    engine = make_engine(load_settings().sqlalchemy_url)
    post = forum_post_citing("https://doi.org/10.1109/ICSTW55395.2022.00035")
    with session_scope(engine) as session:
        store.upsert_documents(session=session, documents=[post])
    assert _citers("arxiv:2202.12139") == ["HE5DL6XeomYxFab74"]
    engine.dispose()


def test_cli_add_show_and_errors(server: ArxivServer, monkeypatch: pytest.MonkeyPatch) -> None:
    app_settings(monkeypatch, server)
    code, out, _ = run("add", "arxiv:1605.08386")
    assert code == 0
    assert out == "new: [1] arxiv:1605.08386 Heat-bath random walks with Markov bases\n"
    assert run("add", "1605.08386v1")[1].startswith("unchanged: [1]")
    code, out, _ = run("show", "arxiv:1605.08386")
    assert code == 0
    assert "Caprice Stanley, Tobias Windisch" in out
    assert "arXiv 1605.08386v1 · math.CO math.ST · comment: 20 pages, 3 figures" in out
    assert "PDF: https://arxiv.org/pdf/1605.08386v1" in out
    code, _, err = run("add", "abc")
    assert code == 2 and "'abc' is not an arXiv id or URL" in err
    code, _, err = run("add", "arxiv:0000.0000")
    assert code == 1 and "arXiv has no paper '0000.0000'" in err
    code, out, _ = run("add", "astro-ph/0601001", "--json")
    assert code == 0 and json.loads(out)["native_id"] == "astro-ph/0601001"


def test_cli_sync_arxiv_and_status(server: ArxivServer, monkeypatch: pytest.MonkeyPatch) -> None:
    app_settings(monkeypatch, server, window_days="200")
    code, out, err = run("sync", "arxiv", "--since", "2025-07-20")
    assert code == 0, err
    want = len(expected_ids(server, datetime(2025, 7, 20, tzinfo=UTC), datetime.now(UTC)))
    assert out.startswith(f"arxiv: ok · {want} new, 0 updated")
    code, out, _ = run("status", "--json")
    arxiv = next(s for s in json.loads(out)["sources"] if s["source"] == "arxiv")
    assert arxiv["documents"] == {"paper": want} and arxiv["last_run"]["status"] == "ok"
    server.faults = [Reply(500, b"down"), Reply(500, b"down")]
    code, _, err = run("sync", "arxiv")
    assert code == 1 and "arxiv: 127.0.0.1 answered HTTP 500" in err
    code, out, _ = run("status", "--json")
    arxiv = next(s for s in json.loads(out)["sources"] if s["source"] == "arxiv")
    assert arxiv["documents"] == {"paper": want}  # nothing lost
    assert "HTTP 500" in arxiv["last_error"]["error"]
