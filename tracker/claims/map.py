"""The claim map as `--json` views and as export files: Markdown, JSON, Argdown, and W3C Web
Annotation JSON-LD for the passage anchors.

Every string that came from a site passes through `clean_text` before it is written, so a
post cannot smuggle terminal escapes into a file someone later `cat`s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from tracker import store
from tracker.models import DEFAULT_READER, Claim, ClaimLink
from tracker.text import clean_text, json_text

FORMATS = ("markdown", "json", "argdown", "jsonld")
ANNO_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
_SECTIONS = (("supports", "For"), ("opposes", "Against"), ("mentions", "Mentions"))


@dataclass
class MapEntry:
    """One claim with its links and the documents they point to."""

    claim: Claim
    counts: dict[str, int]
    links: list[ClaimLink]
    documents: dict[int, store.DocumentRef]
    revisions: dict[tuple[int, str], datetime] = field(default_factory=dict)
    """When the earlier revisions that stale links anchor were written."""


def load_map(*, session: Session, claim_ids: Sequence[int] | None = None,
             statuses: Iterable[str] = ("confirmed", "stale"),
             reader: str = DEFAULT_READER) -> list[MapEntry]:
    """The live claims `reader` sees (or those named) with their links of `statuses`."""
    wanted = list(statuses)
    if claim_ids:
        found = [store.get_claim(session=session, claim_id=i, reader=reader) for i in claim_ids]
        chosen = list({c.id: c for c in found}.values())  # merged claims name their target
    else:
        chosen = store.list_claims(session=session, reader=reader)
    counts = store.count_links(session=session, claim_ids=[c.id or 0 for c in chosen])
    entries = []
    for claim in chosen:
        links = store.claim_links(session=session, claim_id=claim.id or 0, statuses=wanted)
        docs = store.document_refs(session=session, document_ids=[k.document_id for k in links])
        old = [(k.document_id, k.revision) for k in links
               if k.document_id in docs and k.revision != docs[k.document_id].content_hash]
        dates = store.revision_dates(session=session, revisions=old)
        entries.append(MapEntry(claim, counts[claim.id or 0], links, docs, dates))
    return entries


# --- JSON views (stable; see docs/claims.md) ---------------------------------------------------


def claim_json(claim: Claim, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """A claim as `--json` shows it."""
    data: dict[str, Any] = {
        "id": claim.id, "text": claim.text, "created_at": _iso(claim.created_at),
        "updated_at": _iso(claim.updated_at), "merged_into": claim.merged_into,
        "owner": claim.owner, "shared": claim.shared,
    }
    if counts is not None:
        data["counts"] = counts
    return data


def document_json(ref: store.DocumentRef | None) -> dict[str, Any] | None:
    """The document a link points to, as `--json` shows it."""
    if ref is None:
        return None
    return {"id": ref.id, "source": ref.source, "native_id": ref.native_id, "kind": ref.kind,
            "title": clean_text(ref.title), "url": ref.url,
            "authors": [clean_text(a) for a in ref.authors], "posted_at": _iso(ref.posted_at),
            "deleted": ref.deleted}


def link_json(link: ClaimLink, ref: store.DocumentRef | None) -> dict[str, Any]:
    """A claim link as `--json` shows it; `current` says whether it anchors the current text."""
    return {
        "id": link.id, "claim_id": link.claim_id, "document": document_json(ref),
        "quote": clean_text(link.quote), "start": link.start, "end": link.end,
        "prefix": clean_text(link.prefix), "suffix": clean_text(link.suffix),
        "revision": link.revision,
        "current": ref is not None and link.revision == ref.content_hash,
        "stance": link.stance, "origin": link.origin, "status": link.status,
        "tagged_by": link.tagged_by, "note": clean_text(link.note) if link.note else None,
        "passage_id": link.passage_id,
        "score": None if link.score is None else round(link.score, 6),
        "created_at": _iso(link.created_at), "updated_at": _iso(link.updated_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- export formats ----------------------------------------------------------------------------


def render(entries: Sequence[MapEntry], fmt: str, *, generated_at: datetime) -> str:
    """The claim map in `fmt` (one of FORMATS)."""
    if fmt == "markdown":
        return render_markdown(entries, generated_at=generated_at)
    if fmt == "json":
        return render_json(entries, generated_at=generated_at)
    if fmt == "argdown":
        return render_argdown(entries, generated_at=generated_at)
    if fmt == "jsonld":
        return render_jsonld(entries, generated_at=generated_at)
    raise ValueError(f"unknown format {fmt}")


def render_json(entries: Sequence[MapEntry], *, generated_at: datetime) -> str:
    """Claims with every exported link in full (the `--json` shapes)."""
    data = {
        "format": "tracker-claim-map", "version": 1, "generated_at": generated_at.isoformat(),
        "claims": [{**claim_json(e.claim, e.counts),
                    "links": [link_json(k, e.documents.get(k.document_id)) for k in e.links]}
                   for e in entries],
    }
    return json_text(data) + "\n"


def render_markdown(entries: Sequence[MapEntry], *, generated_at: datetime) -> str:
    """Claims as headings, then for, against and mentions, each a quote and its source."""
    out = ["# Claim map", "",
           f"Exported by tracker on {generated_at:%Y-%m-%d}: {len(entries)} claims.", ""]
    for entry in entries:
        out += [f"## Claim {entry.claim.id}: {_md_inline(entry.claim.text)}", ""]
        confirmed = [k for k in entry.links if k.status == "confirmed"]
        for stance, heading in _SECTIONS:
            links = [k for k in confirmed if k.stance == stance]
            if links or stance != "mentions":
                out += [f"### {heading} ({len(links)})", ""]
                out += [line for k in links for line in _md_link(k, entry.documents)]
                if not links:
                    out += ["_None yet._", ""]
        stale = [k for k in entry.links if k.status == "stale"]
        if stale:
            out += [f"### Stale: the quote is no longer in the current text ({len(stale)})", ""]
            out += [line for k in stale for line in _md_link(k, entry.documents)]
        others = [k for k in entry.links if k.status in ("suggested", "rejected")]
        if others:
            out += [f"### Not confirmed ({len(others)})", ""]
            out += [line for k in others for line in _md_link(k, entry.documents)]
    return "\n".join(out).rstrip("\n") + "\n"


def _md_link(link: ClaimLink, documents: dict[int, store.DocumentRef]) -> list[str]:
    ref = documents.get(link.document_id)
    quote = [f"  > {_md_inline(line)}" if line.strip() else "  >"
             for line in clean_text(link.quote).splitlines()] or ["  >"]
    title = _md_inline(clean_text(ref.title) if ref and ref.title else f"document "
                       f"{link.document_id}")
    source = f"[{title}](<{ref.url}>)" if ref and ref.url else title
    facts = [source]
    if ref and ref.authors:
        facts.append(_md_inline(", ".join(clean_text(a) for a in ref.authors)))
    if ref and ref.posted_at:
        facts.append(f"{ref.posted_at:%Y-%m-%d}")
    facts.append(f"{link.stance}, link {link.id}" + ("" if link.status == "confirmed"
                                                      else f", {link.status}"))
    lines = [f"- {facts[0]}", "", *quote, "", f"  — {' · '.join(facts[1:])}"]
    if link.note:
        lines += ["", f"  Note: {_md_inline(clean_text(link.note))}"]
    return [*lines, ""]


def _md_inline(text: str) -> str:
    """Text that Markdown shows as written: one line, markup characters escaped."""
    flat = " ".join(text.split())
    return re.sub(r"([\\`*_{}\[\]<>#|!])", r"\\\1", flat)


def render_argdown(entries: Sequence[MapEntry], *, generated_at: datetime) -> str:
    """Claims as Argdown statements; supporting passages as `+` arguments, opposing ones as `-`.

    Mentions and stale links become `//` comments (Argdown has no "mentions" relation, and a
    stale quote is not in the current text). Markup characters in text are backslash-escaped.
    """
    out = ["===", "title: tracker claim map", f"date: {generated_at:%Y-%m-%d}", "===", ""]
    for entry in entries:
        out.append(f"[Claim {entry.claim.id}]: {_ad_text(entry.claim.text)} #claim")
        for link in entry.links:
            line = _ad_link(link, entry.documents.get(link.document_id))
            if link.status == "confirmed" and link.stance in ("supports", "opposes"):
                out.append(f"    {'+' if link.stance == 'supports' else '-'} {line}")
            else:
                out.append(f"    // {link.status} {link.stance}: {line}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _ad_link(link: ClaimLink, ref: store.DocumentRef | None) -> str:
    title = clean_text(ref.title) if ref and ref.title else f"document {link.document_id}"
    label = re.sub(r"[\[\]<>\\]", "", " ".join(title.split()))[:80].strip()
    source = f" ({ref.url})" if ref and ref.url else ""
    return f"<Link {link.id}: {label}>: \"{_ad_text(link.quote)}\" {_ad_text(title)}{source}"


def _ad_text(text: str) -> str:
    flat = " ".join(clean_text(text).split())
    return re.sub(r"([\\\[\]<>#@*_])", r"\\\1", flat)


def render_jsonld(entries: Sequence[MapEntry], *, generated_at: datetime) -> str:
    """An AnnotationCollection: one Annotation per link, its target a TextQuoteSelector
    (exact, prefix, suffix) with a TextPositionSelector as the alternative."""
    items = [annotation(link, entry.claim, entry.documents.get(link.document_id),
                        entry.revisions.get((link.document_id, link.revision)))
             for entry in entries for link in entry.links]
    data = {
        "@context": ANNO_CONTEXT,
        "id": f"urn:tracker:claim-map:{generated_at:%Y%m%dT%H%M%SZ}",
        "type": "AnnotationCollection",
        "label": "tracker claim map",
        "total": len(items),
        "first": {"type": "AnnotationPage", "startIndex": 0, "items": items},
    }
    return json_text(data) + "\n"


def annotation(link: ClaimLink, claim: Claim, ref: store.DocumentRef | None,
               revised: datetime | None = None) -> dict[str, Any]:
    """One claim link as a W3C Web Annotation; `revised` dates the earlier revision that a
    stale link anchors (the document as it read then)."""
    body: list[dict[str, Any]] = [
        {"id": f"urn:tracker:claim:{claim.id}", "type": "TextualBody", "value": claim.text,
         "format": "text/plain", "purpose": "linking"},
        {"type": "TextualBody", "value": link.stance, "purpose": "classifying"},
        {"type": "TextualBody", "value": link.status, "purpose": "tagging"},
    ]
    if link.note:
        body.append({"type": "TextualBody", "value": clean_text(link.note),
                     "purpose": "commenting"})
    target: dict[str, Any] = {
        "source": _source(link, ref),
        "selector": [
            {"type": "TextQuoteSelector", "exact": clean_text(link.quote),
             "prefix": clean_text(link.prefix), "suffix": clean_text(link.suffix)},
            {"type": "TextPositionSelector", "start": link.start, "end": link.end},
        ],
    }
    if ref is not None and link.revision != ref.content_hash and revised is not None:
        target["state"] = {"type": "TimeState", "sourceDate": _iso(revised)}
    return {
        "id": f"urn:tracker:claim-link:{link.id}", "type": "Annotation",
        "motivation": "linking", "created": _iso(link.created_at),
        "modified": _iso(link.updated_at), "body": body, "target": target,
    }


def _source(link: ClaimLink, ref: store.DocumentRef | None) -> str:
    if ref is not None and ref.url:
        return ref.url
    if ref is not None:
        return f"urn:tracker:document:{ref.source}:{ref.native_id}"
    return f"urn:tracker:document:{link.document_id}"
