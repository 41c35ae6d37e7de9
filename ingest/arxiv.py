"""arXiv papers over the export API (Atom): `submittedDate` windows, then new versions.

Parsing goes by XML namespace, never by layout: the 2026 answers moved links to https, dropped
the `.pdf` suffix and left `primary_category` without a scheme (reference/sources.md §2.5).
A paper is one document across its versions: the native id has no `vN`, so a new version
updates the row and the store keeps the old abstract as a revision. Every request, retries
included, goes through the polite client: one every `delay` seconds (arXiv asks for 3).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import defusedxml.ElementTree as safe_xml
import httpx
from defusedxml import DefusedXmlException

from tracker.config import ArxivSettings
from tracker.errors import NotFoundError, SourceError
from tracker.ingest.base import Batch
from tracker.ingest.http import server_text
from tracker.ingest.links import arxiv_key, classify_url, doi_key, extract_text_mentions
from tracker.ingest.retry import Transient, policy
from tracker.models import AuthorCreate, DocumentCreate, LinkCreate, utcnow
from tracker.text import clean_text, safe_url

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
# arXiv serves at most 30000 results per query and deep offsets are slow and flaky; a window
# holding more than this is split in two.
MAX_WINDOW_RESULTS = 10_000
ONE_HOUR = timedelta(hours=1)

_ID = re.compile(r"(?:https?://(?:export\.)?arxiv\.org/abs/)?(?P<id>.+?)(?:v(?P<version>\d+))?")
_URL = re.compile(r"https?://[^\s<>\"'\]]+")
_URL_TRAILING = ".,;:)"


@dataclass
class Page:
    """One parsed answer: the documents it held and where it sits in the result list."""

    total: int
    start: int
    entries: int
    """Entries on the page, including those that could not be read."""
    documents: list[DocumentCreate] = field(default_factory=list)
    failed: int = 0


class ArxivSource:
    """The arXiv export API, filtered by a configurable query."""

    name = "arxiv"

    def __init__(
        self, settings: ArxivSettings, *, now: Callable[[], datetime] = utcnow
    ) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint or "https://export.arxiv.org/api/query"
        self._now = now

    # --- the Source protocol ----------------------------------------------------------------

    def fetch(
        self, client: httpx.Client, cursor: Mapping[str, str], *, since: datetime | None = None
    ) -> Iterator[Batch]:
        """New papers by `submittedDate` window, then new versions by `lastUpdatedDate`."""
        started = self._now()
        yield from self._submitted(client, cursor, since, started)
        if self.settings.updates:
            yield from self._updated(client, cursor, started)

    def fetch_one(self, client: httpx.Client, arxiv_id: str) -> DocumentCreate:
        """One paper by id (`2306.12345`, `astro-ph/0601001`), its latest version.

        Raises:
            NotFoundError: arXiv lists no paper with that id.
            SourceError: arXiv refused the id or failed.
        """
        wanted = _split_id(arxiv_id.strip())[0]
        page = self._page(client, {"id_list": wanted, "start": "0", "max_results": "10"})
        for document in page.documents:
            if document.native_id == wanted:
                return document
        raise NotFoundError(
            f"arXiv has no paper '{arxiv_id}'; check the id (new style 2306.12345, old style "
            f"astro-ph/0601001)"
        )

    def search(
        self, client: httpx.Client, params: Mapping[str, str], *, limit: int | None = None
    ) -> Generator[Page, None, None]:
        """Pages of one query, from the first result to `totalResults` (or `limit`)."""
        start, expected = 0, 0
        while True:
            query = {**params, "start": str(start), "max_results": str(self.settings.page_size)}
            page = self._page(client, query, expected=expected)
            yield page
            # Pages can come back short (getpapers #177): advance by what arrived.
            start += page.entries
            expected = page.total
            if page.entries == 0 or start >= page.total or (limit and start >= limit):
                return

    # --- streams ----------------------------------------------------------------------------

    def _submitted(
        self, client: httpx.Client, cursor: Mapping[str, str], since: datetime | None,
        started: datetime,
    ) -> Iterator[Batch]:
        """Walk `submittedDate` windows from the cursor (re-reading the refresh days)."""
        saved = cursor.get("submitted")
        if since is not None:
            low = since
        elif saved is not None:
            low = min(_parse_time(saved), started - timedelta(days=self.settings.refresh_days))
        else:
            low = started - timedelta(days=self.settings.first_sync_days)
        while low < started:
            high = min(low + timedelta(days=self.settings.window_days), started)
            for page in self._window(client, low, high):
                reached = _reached(page) or low
                yield Batch(
                    documents=page.documents, cursor={"submitted": _later(saved, reached)},
                    failed=page.failed, note=f"{reached:%Y-%m-%d}",
                )
            yield Batch(documents=[], cursor={"submitted": _later(saved, high)},
                        note=f"{high:%Y-%m-%d}")
            low = high

    def _window(self, client: httpx.Client, low: datetime, high: datetime) -> Iterator[Page]:
        """The pages of one window, oldest first; a window too big to page is halved."""
        dates = f"submittedDate:[{_stamp(low)} TO {_stamp(high)}]"
        params = {"search_query": f"({self.settings.query}) AND {dates}",
                  "sortBy": "submittedDate", "sortOrder": "ascending"}
        pages = self.search(client, params)
        first = next(pages)
        if first.total > MAX_WINDOW_RESULTS and high - low > ONE_HOUR:
            pages.close()
            middle = low + (high - low) / 2
            yield from self._window(client, low, middle)
            yield from self._window(client, middle, high)
            return
        yield first
        yield from pages

    def _updated(
        self, client: httpx.Client, cursor: Mapping[str, str], started: datetime
    ) -> Iterator[Batch]:
        """Papers with a new version since the last sync, newest first, until older ones."""
        saved = cursor.get("updated")
        if saved is None:
            # The first sync reads current versions anyway: follow updates from now on.
            yield Batch(documents=[], cursor={"updated": _iso(started)})
            return
        # Versions, like new papers, are listed a day or more after they were submitted.
        threshold = _parse_time(saved) - timedelta(days=self.settings.refresh_days)
        params = {"search_query": self.settings.query, "sortBy": "lastUpdatedDate",
                  "sortOrder": "descending"}
        for page in self.search(client, params):
            recent = [d for d in page.documents if d.modified_at and d.modified_at >= threshold]
            yield Batch(documents=recent, failed=page.failed, note="new versions")
            if len(recent) < len(page.documents):
                break
        yield Batch(documents=[], cursor={"updated": _iso(started)}, note="new versions: done")

    # --- requests ---------------------------------------------------------------------------

    def _page(
        self, client: httpx.Client, params: Mapping[str, str], *, expected: int = 0
    ) -> Page:
        """One request, asked again when arXiv sends garbled XML or an empty middle page."""
        tries = self.settings.max_retries + 1
        # The client already spaces every request by `delay`: no backoff on top.
        retrying = policy(
            retries=self.settings.max_retries, backoff=0.0, max_backoff=0.0,
            on_retry=lambda e, _: log.warning("arxiv: %s, asking again", e),
        )
        try:
            page: Page = retrying(self._try_page, client, params, expected)
        except Transient as e:
            raise SourceError(
                f"arxiv: {self.endpoint} kept sending {e} after {tries} tries; what "
                f"came before is stored, run `tracker sync arxiv` again later",
                source=self.name,
            ) from e
        return page

    def _try_page(
        self, client: httpx.Client, params: Mapping[str, str], expected: int
    ) -> Page:
        start = int(params.get("start", "0"))
        response = client.get(self.endpoint, params=params)
        try:
            page = self._read(response)
        except _GarbledError as e:
            raise Transient(f"unreadable XML ({e})") from e
        # arXiv sporadically answers a page in the middle with no entries (arxiv.py
        # issues #43, #157): the results are there, ask again.
        if page.entries or start == 0 or start >= max(expected, page.total):
            return page
        raise Transient(f"an empty page at start={start} of {max(expected, page.total)}")

    def _read(self, response: httpx.Response) -> Page:
        status = response.status_code
        head = response.content.lstrip()[:100].lower()
        if "html" in response.headers.get("content-type", "") or head.startswith(
            (b"<!doctype html", b"<html")
        ):
            raise SourceError(
                f"arxiv: {self.endpoint} answered HTTP {status} with an HTML page where an Atom "
                f"feed was expected; check sources.arxiv.endpoint", source=self.name,
            )
        try:
            root = safe_xml.fromstring(response.content)
        except DefusedXmlException as e:
            raise SourceError(
                f"arxiv: {self.endpoint} sent XML with a DTD or entity declarations "
                f"({server_text(repr(e))}), which arXiv never does; refused it. Check "
                f"sources.arxiv.endpoint", source=self.name,
            ) from e
        except ET.ParseError as e:
            if status >= 400:
                raise self._http_error(response) from e
            raise _GarbledError(str(e)) from e
        if root.tag != f"{ATOM}feed":
            raise _GarbledError(f"the root element is {root.tag}, not an Atom feed")
        message = _error_message(root)
        if message is not None:
            raise SourceError(
                f"arxiv: the API refused the request (HTTP {status}): {server_text(message)}. "
                f"Check the id "
                f"or sources.arxiv.query", source=self.name,
            )
        if status >= 400:
            raise self._http_error(response)
        return read_page(root)

    def _http_error(self, response: httpx.Response) -> SourceError:
        return SourceError(
            f"arxiv: {self.endpoint} answered HTTP {response.status_code} "
            f"{server_text(response.reason_phrase)}; check sources.arxiv.endpoint",
            source=self.name,
        )


class _GarbledError(Exception):
    """A body that is not the Atom XML arXiv promises (truncated, malformed)."""


def paper_id(ref: str) -> str | None:
    """The arXiv id (no version) in `arxiv:ID`, a bare id, an arXiv DOI or an arxiv.org URL."""
    ref = ref.strip()
    if "://" in ref:
        link = classify_url(ref)
        key = link.target_key if link is not None and link.kind == "arxiv" else None
    elif ref.lower().startswith(("doi:", "10.")):
        key = doi_key(ref)
    else:
        key = arxiv_key(ref)
    if key is None or not key.startswith("arxiv:"):
        return None
    return key.removeprefix("arxiv:")


# --- parsing ---------------------------------------------------------------------------------


def read_page(root: ET.Element) -> Page:
    """The documents of a parsed Atom answer; entries that cannot be read are counted."""
    entries = root.findall(f"{ATOM}entry")
    page = Page(total=_int(root.findtext(f"{OPENSEARCH}totalResults")),
                start=_int(root.findtext(f"{OPENSEARCH}startIndex")), entries=len(entries))
    for entry in entries:
        try:
            page.documents.append(parse_entry(entry))
        except ValueError as e:
            page.failed += 1
            log.warning("arxiv: skipped entry %s: %s", entry.findtext(f"{ATOM}id"), e)
    return page


def parse_entry(entry: ET.Element) -> DocumentCreate:
    """One Atom entry as a paper document (raises ValueError when it has no usable id)."""
    native_id, version = _split_id(_squash(entry.findtext(f"{ATOM}id")))
    abstract = clean_text(_squash(entry.findtext(f"{ATOM}summary")))
    comment = clean_text(_squash(entry.findtext(f"{ARXIV}comment"))) or None
    dois = _squash(entry.findtext(f"{ARXIV}doi")).split()
    key = arxiv_key(native_id)
    if key is None:
        raise ValueError(f"{native_id!r} is not an arXiv id")
    aliases = list(dict.fromkeys([key, *(doi_key(doi) for doi in dois)]))
    return DocumentCreate(
        source="arxiv",
        native_id=native_id,
        kind="paper",
        url=f"https://arxiv.org/abs/{native_id}",
        title=clean_text(_squash(entry.findtext(f"{ATOM}title"))),
        posted_at=_time(entry.findtext(f"{ATOM}published")),
        modified_at=_time(entry.findtext(f"{ATOM}updated")),
        body_text=abstract,
        authors=_authors(entry),
        aliases=aliases,
        links=_mentions(f"{abstract}\n{comment or ''}", set(aliases)),
        extra=_extra(entry, native_id, version, dois, comment),
    )


def _extra(
    entry: ET.Element, native_id: str, version: int | None, dois: list[str], comment: str | None
) -> dict[str, object]:
    categories = [clean_text(c.get("term", "")) for c in entry.findall(f"{ATOM}category")
                  if c.get("term")]
    primary = entry.find(f"{ARXIV}primary_category")
    links = {(a.get("title") or a.get("rel") or ""): a.get("href") for a in
             entry.findall(f"{ATOM}link")}
    return {
        "arxiv_id": native_id,
        "version": version,
        "categories": categories,
        "primary_category": primary.get("term") if primary is not None else
        (categories[0] if categories else None),
        "doi": " ".join(dois) or None,
        "journal_ref": clean_text(_squash(entry.findtext(f"{ARXIV}journal_ref"))) or None,
        "comment": comment,
        "abs_url": safe_url(links.get("alternate")) or f"https://arxiv.org/abs/{native_id}",
        "pdf_url": safe_url(links.get("pdf")) or f"https://arxiv.org/pdf/{native_id}",
    }


def _authors(entry: ET.Element) -> list[AuthorCreate]:
    names = (_squash(a.findtext(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author"))
    return [AuthorCreate(name=clean_text(name)) for name in names if name]


def _mentions(text: str, own: set[str]) -> list[LinkCreate]:
    """arXiv ids, DOIs and URLs named in the abstract or comment, other than the paper's own."""
    found = extract_text_mentions(text)
    for match in _URL.finditer(text):
        link = classify_url(match.group(0).rstrip(_URL_TRAILING))
        if link is not None:
            found.append(link)
    unique: dict[str | None, LinkCreate] = {}
    for link in found:
        if link.target_key not in own:
            unique.setdefault(link.target_key or link.url, link)
    return list(unique.values())


def _error_message(root: ET.Element) -> str | None:
    """The summary of arXiv's error entry (`…/api/errors#…`), if this feed is one."""
    for entry in root.findall(f"{ATOM}entry"):
        ident = entry.findtext(f"{ATOM}id") or ""
        if "/api/errors" in ident or _squash(entry.findtext(f"{ATOM}title")) == "Error":
            return _squash(entry.findtext(f"{ATOM}summary")) or ident
    return None


def _split_id(raw: str) -> tuple[str, int | None]:
    """`http://arxiv.org/abs/1605.08386v2` → ("1605.08386", 2)."""
    match = _ID.fullmatch(raw.strip())
    if match is None or not match.group("id"):
        raise ValueError(f"no arXiv id in {raw!r}")
    version = match.group("version")
    return match.group("id"), int(version) if version else None


def _squash(text: str | None) -> str:
    """Whitespace runs (arXiv wraps titles and abstracts) as single spaces."""
    return " ".join((text or "").split())


def _time(text: str | None) -> datetime | None:
    if not text or not text.strip():
        return None
    return _parse_time(text.strip())


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _int(text: str | None) -> int:
    try:
        return int((text or "0").strip())
    except ValueError:
        return 0


def _stamp(moment: datetime) -> str:
    """arXiv's date-range form, GMT to the minute: 202301010600."""
    return f"{moment.astimezone(UTC):%Y%m%d%H%M}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _reached(page: Page) -> datetime | None:
    """How far a page of an ascending listing reached, to the minute (ranges are by minute)."""
    times = [d.posted_at for d in page.documents if d.posted_at is not None]
    return max(times).replace(second=0, microsecond=0) if times else None


def _later(saved: str | None, moment: datetime) -> str:
    """The cursor value: never moved backwards by the re-read of the refresh days."""
    if saved is not None and _parse_time(saved) > moment:
        return saved
    return _iso(moment)
