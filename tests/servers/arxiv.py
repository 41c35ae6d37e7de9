"""A local arXiv export API (`/api/query`, Atom) for tests, over real HTTP on 127.0.0.1.

It answers the six real recorded responses in shared/fixtures/arxiv/ when a request's
parameters match the recorded URL's (`id_list`, or `search_query` + `start` + `max_results`),
and otherwise generates pages in the same 2026 format from the corpus papers that have an
arXiv id: `submittedDate:[A TO B]` ranges, `sortBy`/`sortOrder`, `start`/`max_results`,
`id_list`, new versions (`bump`), the 400 error feed for a bad id, and faults queued in
`server.faults` (429 with Retry-After, 500, an empty page, garbled XML, an HTML page).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape, quoteattr

from tests.servers.local import LocalServer, Reply, Request

ATOM_TYPE = "application/atom+xml; charset=UTF-8"
_DATES = re.compile(r"submittedDate:\[(\d{12}) TO (\d{12})\]")
_NEW_ID = re.compile(r"\d{4}\.\d{4,5}")
_OLD_ID = re.compile(r"[a-z-]+(?:\.[A-Z]{2})?/\d{7}")
_CATEGORIES = ("cs.AI", "cs.LG", "cs.CL", "cs.CY", "stat.ML")


@dataclass
class Paper:
    """A paper the server lists."""

    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    published: datetime
    updated: datetime
    version: int = 1
    categories: list[str] = field(default_factory=lambda: ["cs.AI"])
    doi: str | None = None
    comment: str | None = None
    journal_ref: str | None = None


@dataclass
class Fixture:
    """A recorded response and the parameters of the request that produced it."""

    name: str
    params: dict[str, str]
    status: int
    body: bytes


def load_fixtures(directory: Path) -> list[Fixture]:
    """The recorded responses; bodies decoded from latin-1 to their original bytes."""
    fixtures = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        params = dict(parse_qsl(urlsplit(data["url"]).query, keep_blank_values=True))
        fixtures.append(
            Fixture(path.stem, params, data["status_code"], data["body"].encode("latin-1"))
        )
    return fixtures


def load_papers(corpus: Path) -> list[Paper]:
    """Corpus papers with an arXiv id and a full date, one per id (the one with an abstract)."""
    rows: dict[str, dict[str, object]] = {}
    with (corpus / "papers.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if not row.get("arxiv_id") or len(row.get("date") or "") != 10:
                continue
            known = rows.get(row["arxiv_id"])
            if known is None or (row.get("abstract") and not known.get("abstract")):
                rows[row["arxiv_id"]] = row
    return [_paper(row) for row in rows.values()]


def _paper(row: dict[str, object]) -> Paper:
    arxiv_id = str(row["arxiv_id"])
    digest = int(hashlib.sha1(arxiv_id.encode()).hexdigest()[:8], 16)
    day = datetime.fromisoformat(str(row["date"])).replace(tzinfo=UTC)
    published = day + timedelta(minutes=digest % 1440, seconds=digest % 60)
    authors = [str(a) for a in row.get("authors") or []]  # type: ignore[attr-defined]
    abstract = str(row.get("abstract") or row.get("summary") or row["title"])
    category = _CATEGORIES[digest % len(_CATEGORIES)]
    return Paper(
        arxiv_id=arxiv_id,
        title=str(row["title"]),
        abstract=abstract,
        authors=authors,
        published=published,
        updated=published,
        categories=list(dict.fromkeys([category, "cs.AI"])),
    )


class ArxivServer(LocalServer):
    """The export API over `papers`, with the recorded fixtures taking precedence."""

    def __init__(self, papers: Iterable[Paper], fixtures: list[Fixture]) -> None:
        super().__init__(self._handle)
        self.papers = {p.arxiv_id: p for p in papers}
        self.fixtures = fixtures
        self.faults: list[str | Reply | None] = []
        """Answers for the next requests, in order: a Reply, "empty" / "garbled" / "html",
        or None for a normal answer."""
        self.url = f"{self.base}/api/query"

    def bump(self, arxiv_id: str, abstract: str, updated: datetime) -> Paper:
        """Publish a new version of a paper with a new abstract."""
        paper = self.papers[arxiv_id]
        paper.version += 1
        paper.abstract = abstract
        paper.updated = updated
        return paper

    def query_requests(self) -> list[Request]:
        """The requests made to /api/query."""
        return [r for r in self.requests if r.path == "/api/query"]

    # --- answering ------------------------------------------------------------------------

    def _handle(self, request: Request) -> Reply:
        if request.path != "/api/query":
            return Reply(404, b"not found")
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Reply):
                return fault
            if fault is not None:
                return self._fault(fault, request)
        params = request.params
        fixture = self._fixture(params)
        if fixture is not None:
            return Reply(fixture.status, fixture.body, ATOM_TYPE)
        if params.get("id_list"):
            return self._by_ids(params)
        return self._search(params)

    def _fixture(self, params: dict[str, str]) -> Fixture | None:
        for fixture in self.fixtures:
            recorded = fixture.params
            if recorded.get("id_list"):
                if params.get("id_list") == recorded["id_list"]:
                    return fixture
            elif all(
                params.get(k) == recorded.get(k) for k in ("search_query", "start", "max_results")
            ) and not params.get("id_list"):
                return fixture
        return None

    def _by_ids(self, params: dict[str, str]) -> Reply:
        ids = [i.strip() for i in params["id_list"].split(",") if i.strip()]
        for ident in ids:
            bare = re.sub(r"v\d+$", "", ident)
            if not (_NEW_ID.fullmatch(bare) or _OLD_ID.fullmatch(bare)):
                return error_feed(f"incorrect id format for {ident}", params)
        found = [self.papers[p] for p in (re.sub(r"v\d+$", "", i) for i in ids) if p in self.papers]
        return Reply(200, feed(found, total=len(found), start=0, params=params), ATOM_TYPE)

    def _search(self, params: dict[str, str]) -> Reply:
        query = params.get("search_query", "")
        if "BADQUERY" in query:
            return error_feed("malformed query: unbalanced parentheses", params)
        papers = list(self.papers.values())
        match = _DATES.search(query)
        if match:
            low, high = (
                datetime.strptime(g, "%Y%m%d%H%M").replace(tzinfo=UTC) for g in match.groups()
            )
            papers = [p for p in papers if low <= p.published.replace(second=0) <= high]
        key = {
            "submittedDate": lambda p: (p.published, p.arxiv_id),
            "lastUpdatedDate": lambda p: (p.updated, p.arxiv_id),
        }.get(params.get("sortBy", ""), lambda p: (p.published, p.arxiv_id))
        papers.sort(key=key, reverse=params.get("sortOrder", "descending") == "descending")
        start = int(params.get("start") or 0)
        size = min(int(params.get("max_results") or 10), 2000)
        page = papers[start : start + size]
        return Reply(200, feed(page, total=len(papers), start=start, params=params), ATOM_TYPE)

    def _fault(self, kind: str, request: Request) -> Reply:
        if kind == "empty":
            start = int(request.params.get("start") or 0)
            return Reply(
                200, feed([], total=len(self.papers), start=start, params=request.params), ATOM_TYPE
            )
        if kind == "garbled":
            return Reply(200, b"<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns=", ATOM_TYPE)
        if kind == "html":
            return Reply(
                200,
                b"<!DOCTYPE html><html><body>maintenance</body></html>",
                "text/html; charset=utf-8",
            )
        raise ValueError(f"unknown fault {kind!r}")


# --- Atom, as arXiv wrote it in 2026 ---------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _head(title: str, total: int, start: int, size: int) -> str:
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        "  <id>https://arxiv.org/api/localtestserver</id>\n"
        f"  <title>{escape(title)}</title>\n"
        f"  <updated>{_stamp(datetime.now(UTC))}</updated>\n"
        f"  <opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>\n"
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
    )


def entry(paper: Paper) -> str:
    """One paper as an Atom entry."""
    versioned = f"{paper.arxiv_id}v{paper.version}"
    parts = [
        "  <entry>",
        f"    <id>http://arxiv.org/abs/{versioned}</id>",
        f"    <title>{escape(paper.title)}</title>",
        f"    <updated>{_stamp(paper.updated)}</updated>",
        f'    <link href="https://arxiv.org/abs/{versioned}" rel="alternate" type="text/html"/>',
        f'    <link href="https://arxiv.org/pdf/{versioned}" rel="related" '
        f'type="application/pdf" title="pdf"/>',
    ]
    if paper.doi:
        parts.append(f'    <link rel="related" href="https://doi.org/{paper.doi}" title="doi"/>')
    parts.append(f"    <summary>{escape(paper.abstract)}</summary>")
    parts += [
        f'    <category term={quoteattr(c)} scheme="http://arxiv.org/schemas/atom"/>'
        for c in paper.categories
    ]
    parts.append(f"    <published>{_stamp(paper.published)}</published>")
    if paper.comment:
        parts.append(f"    <arxiv:comment>{escape(paper.comment)}</arxiv:comment>")
    parts.append(f"    <arxiv:primary_category term={quoteattr(paper.categories[0])}/>")
    if paper.journal_ref:
        parts.append(f"    <arxiv:journal_ref>{escape(paper.journal_ref)}</arxiv:journal_ref>")
    parts += [f"    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in paper.authors]
    if paper.doi:
        parts.append(f"    <arxiv:doi>{escape(paper.doi)}</arxiv:doi>")
    parts.append("  </entry>")
    return "\n".join(parts) + "\n"


def feed(papers: list[Paper], *, total: int, start: int, params: dict[str, str]) -> bytes:
    """A result page."""
    title = "arXiv Query: " + "&".join(f"{k}={v}" for k, v in params.items())
    body = _head(title, total, start, len(papers)) + "".join(entry(p) for p in papers)
    return (body + "</feed>\n").encode("utf-8")


def error_feed(message: str, params: dict[str, str]) -> Reply:
    """arXiv's HTTP 400 error feed."""
    anchor = re.sub(r"\W+", "_", message)
    body = _head("arXiv Query: " + "&".join(f"{k}={v}" for k, v in params.items()), 1, 0, 1)
    body += (
        "  <entry>\n"
        f"    <id>https://arxiv.org/api/errors#{anchor}</id>\n"
        "    <title>Error</title>\n"
        f"    <summary>{escape(message)}</summary>\n"
        f"    <updated>{_stamp(datetime.now(UTC))}</updated>\n"
        f'    <link href="https://arxiv.org/api/errors#{anchor}" rel="alternate" '
        'type="text/html"/>\n'
        "    <author>\n      <name>arXiv api core</name>\n    </author>\n"
        "  </entry>\n</feed>\n"
    )
    return Reply(400, body.encode("utf-8"), ATOM_TYPE)
