"""Turn hyperlinks and textual mentions into citations with stable target keys.

A key is how the store resolves a link: documents register keys (`forum_keys`, `arxiv_key`,
`doi_key`, `url_key`) and links carry one (`classify_url`, `extract_text_mentions`).

    lw:<id> / ea:<id>               post or comment id (17 alphanumerics or 24 hex)
    lw-slug:<slug>                  /posts/slug/<slug>, lowercased
    lw-legacy:<base36>              LW 1.0 /lw/<base36>/<slug> (ea-legacy: for /ea/...)
    arxiv:<id>                      new-style 2101.00001 or old-style hep-th/9901001, no version
    doi:<doi>                       lowercased and url-decoded
    url:<scheme>://<host><path>?<q> everything else (see `url_key`)
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, unquote, unquote_plus, urljoin, urlsplit

from tracker.models import LinkCreate
from tracker.text import clean_text, safe_url

_LW_HOSTS = frozenset(
    prefix + host
    for host in (
        "lesswrong.com",
        "lesserwrong.com",
        "lessestwrong.com",
        "baserates.org",
        "alignmentforum.org",
        "alignment-forum.com",
        "greaterwrong.com",
    )
    for prefix in ("", "www.")
)
_EA_HOSTS = frozenset(
    {
        "forum.effectivealtruism.org",
        "ea.greaterwrong.com",
        "effective-altruism.com",
        "www.effective-altruism.com",
    }
)
# effectivealtruism.org itself is CEA's main site; only forum routes on it are forum links.
_EA_MAIN_HOSTS = frozenset({"effectivealtruism.org", "www.effectivealtruism.org"})
_EA_MAIN_ROUTES = frozenset({"posts", "ea", "s", "events", "g", "out"})
_ARXIV_HOSTS = frozenset({"arxiv.org", "www.arxiv.org", "export.arxiv.org"})
_ARXIV_ROUTES = frozenset({"abs", "pdf", "html", "ps", "format"})
_DOI_HOSTS = frozenset({"doi.org", "dx.doi.org", "www.doi.org"})
_SITE_ALIASES = {
    "lw": "lw",
    "lesswrong": "lw",
    "af": "lw",
    "alignmentforum": "lw",
    "ea": "ea",
    "eaforum": "ea",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_UNWRAP = 4

_ID = re.compile(r"[A-Za-z0-9]{17}|[0-9a-f]{24}")
_BASE36 = re.compile(r"[0-9A-Za-z]{1,13}")
_ARXIV_NEW = re.compile(r"(\d{4}\.\d{4,5})(?:v\d+)?")
_ARXIV_OLD = re.compile(r"([A-Za-z]+(?:-[A-Za-z]+)?)(?:\.[A-Za-z]{2})?/(\d{7})(?:v\d+)?")
_ARXIV_PREFIX = re.compile(r"arxiv:\s*", re.IGNORECASE)
_ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(.+)")
_DOI_PREFIX = re.compile(r"(?:https?://(?:dx\.|www\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_TRACKING_PARAM = re.compile(r"utm_.*|ref|fbclid|gclid", re.IGNORECASE)
# WHATWG URL parsing drops tab/newline and strips C0 controls and spaces at the ends; we also
# drop C1 and bidi controls so that a URL shown in a terminal cannot drive it.
_URL_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# Conservative mention patterns: arXiv ids need the "arXiv:" prefix; DOIs use Crossref's
# recommended character set (https://www.crossref.org/blog/dois-and-matching-regular-expressions/).
_ARXIV_MENTION = re.compile(
    r"\barXiv:\s?(\d{4}\.\d{4,5}(?:v\d+)?|[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)\b",
    re.IGNORECASE,
)
_DOI_MENTION = re.compile(
    r"(?<![\w/.])(?:doi:\s?)?(10\.\d{4,9}/[-._;()/:A-Za-z0-9]+)", re.IGNORECASE
)
_DOI_TRAILING = ".,;:"


def arxiv_key(raw_id: str) -> str | None:
    """The key for an arXiv id such as `arXiv:2101.00001v3` or `hep-th/9901001`, else None."""
    ident = _ARXIV_PREFIX.sub("", raw_id.strip(), count=1).removesuffix(".pdf")
    if m := _ARXIV_NEW.fullmatch(ident):
        return f"arxiv:{m.group(1)}"
    if m := _ARXIV_OLD.fullmatch(ident):
        return f"arxiv:{m.group(1).lower()}/{m.group(2)}"
    return None


def doi_key(doi: str) -> str:
    """The key for a DOI (bare, `doi:` or doi.org URL); arXiv DOIs give the arXiv key."""
    bare = _DOI_PREFIX.sub("", unquote(doi.strip()), count=1).strip().lower()
    if (m := _ARXIV_DOI.fullmatch(bare)) and (key := arxiv_key(m.group(1))):
        return key
    return f"doi:{bare}"


def url_key(url: str) -> str:
    """The `url:` key of an http(s) URL: lowercased, no www./default port/fragment/tracking."""
    try:
        return _url_key(urlsplit(_URL_JUNK.sub("", url).strip()))
    except ValueError:
        return f"url:{url.strip()}"


def legacy_key(site: str, legacy_id: str) -> str:
    """The key of a LW 1.0 / old EA post from ForumMagnum's decimal `legacyId` ("1234" → ya)."""
    number = legacy_id.strip()
    if not number.isdigit():
        raise ValueError(f"legacyId must be a decimal number, got {legacy_id!r}")
    return f"{_site_prefix(site)}-legacy:{_base36(int(number))}"


def forum_keys(
    site: str, native_id: str, slug: str | None = None, legacy_id: str | None = None
) -> list[str]:
    """The keys a forum post or comment registers (pass `legacy_id` for posts only)."""
    prefix = _site_prefix(site)
    keys = [f"{prefix}:{native_id}"]
    if slug:
        keys.append(f"{prefix}-slug:{slug.lower()}")
    if legacy_id and legacy_id.strip().isdigit():
        keys.append(legacy_key(prefix, legacy_id))
    return keys


def classify_url(url: str, base_url: str | None = None, anchor_text: str = "") -> LinkCreate | None:
    """Resolve, unwrap and classify a link; None for non-http(s) and same-document links."""
    absolute = _absolute(url, base_url)
    if absolute is None:
        return None
    try:
        parts = urlsplit(absolute)
        for _ in range(_MAX_UNWRAP):
            inner = _unwrap_out(parts)
            if inner is None:
                break
            absolute, parts = inner, urlsplit(inner)
        # Stored and printed later: controls and spaces in it are percent-encoded.
        safe = safe_url(absolute)
        if safe is None:
            return None
        anchor = clean_text(_URL_JUNK.sub("", anchor_text))
        return _classify_parts(safe, urlsplit(safe), base_url, anchor)
    except ValueError:
        return None


def extract_text_mentions(text: str) -> list[LinkCreate]:
    """`arXiv:…` ids and DOIs (`doi:10.…` or bare `10.…/…`) mentioned in plain text."""
    found = sorted(_arxiv_mentions(text) + _doi_mentions(text), key=lambda pair: pair[0])
    seen: set[str | None] = set()
    unique: list[LinkCreate] = []
    for _, link in found:
        if link.target_key not in seen:
            seen.add(link.target_key)
            unique.append(link)
    return unique


# --- helpers ---------------------------------------------------------------------------


def _arxiv_mentions(text: str) -> list[tuple[int, LinkCreate]]:
    found = []
    for m in _ARXIV_MENTION.finditer(text):
        key = arxiv_key(m.group(1))
        if key is not None:
            url = f"https://arxiv.org/abs/{key.removeprefix('arxiv:')}"
            link = LinkCreate(url=url, kind="arxiv", target_key=key, anchor_text=m.group(0))
            found.append((m.start(), link))
    return found


def _doi_mentions(text: str) -> list[tuple[int, LinkCreate]]:
    found = []
    for m in _DOI_MENTION.finditer(text):
        doi = _trim_doi(m.group(1))
        key = doi_key(doi)
        kind = "arxiv" if key.startswith("arxiv:") else "doi"
        mention = text[m.start() : m.start(1)] + doi
        link = LinkCreate(
            url=f"https://doi.org/{doi}", kind=kind, target_key=key, anchor_text=mention
        )
        found.append((m.start(), link))
    return found


def _site_prefix(site: str) -> str:
    try:
        return _SITE_ALIASES[site.strip().lower()]
    except KeyError:
        raise ValueError(f"Unknown forum site {site!r}; use 'lw' or 'ea'") from None


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if number == 0:
            return out


def _normalise_query(query: str) -> str:
    kept = [
        pair
        for pair in query.split("&")
        if pair and not _TRACKING_PARAM.fullmatch(unquote_plus(pair.partition("=")[0]))
    ]
    return "&".join(sorted(kept))


def _trim_doi(doi: str) -> str:
    doi = doi.rstrip(_DOI_TRAILING)
    while doi.endswith(")") and doi.count(")") > doi.count("("):
        doi = doi[:-1].rstrip(_DOI_TRAILING)
    return doi


def _url_key(parts: SplitResult) -> str:
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").removeprefix("www.")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        host = f"{host}:{port}"
    query = _normalise_query(parts.query)
    return f"url:{scheme}://{host}{parts.path.rstrip('/')}" + (f"?{query}" if query else "")


def _absolute(url: str, base_url: str | None) -> str | None:
    raw = _URL_JUNK.sub("", url).strip().replace(" ", "%20")
    if raw[:8].lower().startswith(("http://", "https://")):
        return raw
    if not raw or raw.startswith("#"):
        return None
    try:
        if base_url:
            raw = urljoin(base_url, raw)
        elif raw.startswith("//"):
            raw = f"https:{raw}"
        scheme = urlsplit(raw).scheme.lower()
    except ValueError:
        return None
    return raw if scheme in ("http", "https") else None


def _classify_parts(
    url: str, parts: SplitResult, base_url: str | None, anchor: str
) -> LinkCreate | None:
    host = parts.hostname or ""
    if not host:
        return None
    if base_url and parts.fragment and _same_document(url, base_url, parts.fragment):
        return None
    segs = [unquote(s) for s in parts.path.split("/") if s]
    kind, key = _target(host, segs, parts)
    # Keys come from unquoted path segments: `%1b` must not turn back into an escape.
    return LinkCreate(url=url, kind=kind, target_key=clean_text(key), anchor_text=anchor)


def _unwrap_out(parts: SplitResult) -> str | None:
    if parts.path.rstrip("/") != "/out" or _forum_site(parts.hostname or "", ["out"]) is None:
        return None
    target = _query_param(parts.query, "url")
    return None if target is None else _absolute(target, None)


def _same_document(url: str, base_url: str, fragment: str) -> bool:
    if _ID.fullmatch(fragment.removeprefix("comment-")):
        return False
    return url.partition("#")[0] == base_url.partition("#")[0]


def _target(host: str, segs: list[str], parts: SplitResult) -> tuple[str, str]:
    site = _forum_site(host, segs)
    if site is not None:
        target = _forum_target(site, segs, parts.query, parts.fragment)
        return target or ("external", _url_key(parts))
    if host in _ARXIV_HOSTS and segs and segs[0] in _ARXIV_ROUTES:
        key = arxiv_key("/".join(segs[1:]))
        if key is not None:
            return "arxiv", key
    if host in _DOI_HOSTS and segs and segs[0].startswith("10."):
        key = doi_key("/".join(segs))
        return ("arxiv" if key.startswith("arxiv:") else "doi"), key
    return "external", _url_key(parts)


def _forum_site(host: str, segs: list[str]) -> str | None:
    if host in _LW_HOSTS:
        return "lw"
    if host in _EA_HOSTS or (host in _EA_MAIN_HOSTS and segs and segs[0] in _EA_MAIN_ROUTES):
        return "ea"
    return None


def _forum_target(site: str, segs: list[str], query: str, fragment: str) -> tuple[str, str] | None:
    comment = _comment_id(segs, query, fragment)
    if comment is not None:
        return "comment", f"{site}:{comment}"
    if (post := _post_id(segs)) is not None:
        return "post", f"{site}:{post}"
    if len(segs) >= 3 and segs[0] == "posts" and segs[1] == "slug":
        return "post", f"{site}-slug:{segs[2].lower()}"
    if (legacy := _legacy_target(segs)) is not None:
        return "post", legacy
    return None


def _post_id(segs: list[str]) -> str | None:
    if len(segs) >= 2 and segs[0] in ("posts", "events") and _ID.fullmatch(segs[1]):
        return segs[1]
    if len(segs) >= 4 and segs[0] in ("s", "g") and segs[2] == "p" and _ID.fullmatch(segs[3]):
        return segs[3]
    return None


def _comment_id(segs: list[str], query: str, fragment: str) -> str | None:
    param = _query_param(query, "commentId")
    if param is not None and _ID.fullmatch(param):
        return param
    if _post_id(segs) is None:
        return None
    # GreaterWrong permalinks: /posts/<postId>/<slug>/comment/<commentId> and #comment-<id>.
    if len(segs) >= 5 and segs[3] in ("comment", "answer") and _ID.fullmatch(segs[4]):
        return segs[4]
    candidate = fragment.removeprefix("comment-")
    return candidate if _ID.fullmatch(candidate) else None


def _legacy_target(segs: list[str]) -> str | None:
    # Old URLs may sit under a subreddit path such as /r/discussion/lw/<id>/<slug>.
    start = 2 if len(segs) > 2 and segs[0] == "r" else 0
    if len(segs) > start + 1 and segs[start] in ("lw", "ea"):
        legacy = segs[start + 1]
        if _BASE36.fullmatch(legacy):
            return f"{segs[start]}-legacy:{legacy.lower()}"
    return None


def _query_param(query: str, name: str) -> str | None:
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if unquote_plus(key) == name:
            return unquote_plus(value)
    return None


_SENTENCE_END = re.compile(r"[.!?…](?=[\s\"'”’)\]]|$)|\n")
_MAX_SENTENCE = 400  # characters each side of the anchor at most


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of `text` that holds `text[start:end]`, whitespace collapsed."""
    head = text[max(0, start - _MAX_SENTENCE) : start]
    cut = [m.end() for m in _SENTENCE_END.finditer(head)]
    begin = start - len(head) + (cut[-1] if cut else 0)
    tail = text[end : end + _MAX_SENTENCE]
    stop = _SENTENCE_END.search(tail)
    finish = end + (stop.end() if stop else len(tail))
    return " ".join(clean_text(text[begin:finish]).split())
