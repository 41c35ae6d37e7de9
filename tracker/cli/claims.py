"""`tracker claim …` and `tracker export claims`: the commands cli.py attaches to its group.

Expected failures raise `TrackerError`, which the top-level group turns into one line and exit
status 1. Heavy imports (the index, the model) happen inside the commands that need them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracker.cli.claimsout import byline, snippet
from tracker.errors import TrackerError
from tracker.text import clean_text, json_text

if TYPE_CHECKING:
    from tracker.claims.suggest import CheckReport
    from tracker.cli.context import Context
    from tracker.models import Claim, ClaimLink
    from tracker.store import DocumentRef

_STANCE = click.Choice(["supports", "opposes", "mentions"])
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; docs/claims.md).")


@click.group()
def claim() -> None:
    """Claims: tag passages that argue for or against them, get suggestions that learn."""


@claim.command(name="add")
@click.argument("words", nargs=-1, required=True, metavar="TEXT...")
@_JSON
@click.pass_obj
def claim_add(obj: Context, words: Sequence[str], as_json: bool) -> None:
    """Add a claim: one statement that passages argue for or against.

    Example: `tracker claim add "Deceptive alignment is likely by default"`.
    """
    from tracker import store
    from tracker.claims.map import claim_json
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        added = store.add_claim(session=session, text=" ".join(words), reader=obj.reader)
    if as_json:
        _echo_json(claim_json(added))
    else:
        click.echo(f"claim {added.id}: {added.text}")


@claim.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include claims merged into others.")
@_JSON
@click.pass_obj
def claim_list(obj: Context, show_all: bool, as_json: bool) -> None:
    """Every claim with its counts: for, against, mentions, stale, suggested."""
    from tracker import store
    from tracker.claims.map import claim_json
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        rows = store.list_claims(session=session, merged=show_all, reader=obj.reader)
        counts = store.count_links(session=session, claim_ids=[c.id or 0 for c in rows])
    if as_json:
        _echo_json({"claims": [claim_json(c, counts[c.id or 0]) for c in rows]})
        return
    if not rows:
        click.echo('no claims yet: `tracker claim add "…"`', err=True)
    for row in rows:
        n = counts[row.id or 0]
        merged = f" (merged into {row.merged_into})" if row.merged_into else ""
        click.echo(f"{row.id:>4}  +{n['supports']} -{n['opposes']} ~{n['mentions']}"
                   f"{_extra(n)}  {row.text}{merged}")


def _extra(counts: dict[str, int]) -> str:
    parts = [f"{counts[k]} {k}" for k in ("stale", "suggested") if counts.get(k)]
    return f" ({', '.join(parts)})" if parts else ""


@claim.command(name="show")
@click.argument("claim_id", type=int, metavar="CLAIM")
@_JSON
@click.pass_obj
def claim_show(obj: Context, claim_id: int, as_json: bool) -> None:
    """A claim with its passages: for, against, mentions, then stale ones and suggestions."""
    from tracker import store
    from tracker.claims.map import claim_json, link_json
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        found = store.get_claim(session=session, claim_id=claim_id, reader=obj.reader)
        counts = store.count_links(session=session, claim_ids=[found.id or 0])[found.id or 0]
        links = store.claim_links(session=session, claim_id=found.id or 0)
        docs = store.document_refs(session=session, document_ids=[k.document_id for k in links])
    if as_json:
        _echo_json({"claim": claim_json(found, counts),
                    "links": [link_json(k, docs.get(k.document_id)) for k in links]})
        return
    if found.id != claim_id:
        click.echo(f"claim {claim_id} was merged into claim {found.id}", err=True)
    _print_claim(found, counts, links, docs)


def _print_claim(found: Claim, counts: dict[str, int], links: Sequence[ClaimLink],
                 docs: dict[int, DocumentRef]) -> None:
    click.echo(f"claim {found.id}: {found.text}")
    if found.shared:
        click.echo(f"  shared by {found.owner}")
    click.echo(f"  {counts['supports']} for · {counts['opposes']} against · "
               f"{counts['mentions']} mentions · {counts['stale']} stale · "
               f"{counts['suggested']} suggested · {counts['rejected']} rejected")
    sections = [
        ("For", [k for k in links if k.status == "confirmed" and k.stance == "supports"]),
        ("Against", [k for k in links if k.status == "confirmed" and k.stance == "opposes"]),
        ("Mentions", [k for k in links if k.status == "confirmed" and k.stance == "mentions"]),
        ("Stale: the quote is no longer in the document; re-confirm with "
         '`tracker claim accept LINK --quote "…"` or reject',
         [k for k in links if k.status == "stale"]),
        ("Suggested, not confirmed: `tracker claim accept LINK` or `reject LINK`",
         [k for k in links if k.status == "suggested"]),
    ]
    for heading, rows in sections:
        if rows:
            click.echo(f"\n{heading} ({len(rows)})")
            for link in rows:
                _print_link(link, docs.get(link.document_id))


def _print_link(link: ClaimLink, ref: DocumentRef | None, *, stance: bool = False) -> None:
    from tracker.models import DEFAULT_READER

    label = f"[link {link.id}]" + (f" {link.stance}?" if stance else "") + \
        ("" if link.tagged_by == DEFAULT_READER else f" tagged by {link.tagged_by}")
    click.echo(f"  {label} {byline(ref, link.document_id)}")
    click.echo(f'      "{snippet(clean_text(link.quote))}"')
    if link.note:
        click.echo(f"      note: {clean_text(link.note)}")
    if ref is not None and ref.url:
        click.echo(f"      {clean_text(ref.url)}")


@claim.command(name="edit")
@click.argument("claim_id", type=int, metavar="CLAIM")
@click.argument("words", nargs=-1, required=True, metavar="TEXT...")
@_JSON
@click.pass_obj
def claim_edit(obj: Context, claim_id: int, words: Sequence[str], as_json: bool) -> None:
    """Reword a claim; its links stay."""
    from tracker import store
    from tracker.claims.map import claim_json
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        edited = store.edit_claim(session=session, claim_id=claim_id, text=" ".join(words),
                                  reader=obj.reader)
    if as_json:
        _echo_json(claim_json(edited))
    else:
        click.echo(f"claim {edited.id}: {edited.text}")


@claim.command(name="share")
@click.argument("claim_id", type=int, metavar="CLAIM")
@click.pass_obj
def claim_share(obj: Context, claim_id: int) -> None:
    """Share your CLAIM with every reader: they see, tag and label it, and its labels train
    everyone's suggestions. Links show who tagged them."""
    from tracker import store
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        _claim, changed = store.share_claim(session=session, claim_id=claim_id, reader=obj.reader)
    click.echo(f"claim {claim_id} {'is now' if changed else 'was already'} shared with every "
               f"reader")


@claim.command(name="merge")
@click.argument("source_id", type=int, metavar="FROM")
@click.argument("target_id", type=int, metavar="INTO")
@_JSON
@click.pass_obj
def claim_merge(obj: Context, source_id: int, target_id: int, as_json: bool) -> None:
    """Merge claim FROM into claim INTO: every link moves; FROM then names INTO."""
    from tracker import store
    from tracker.claims.map import claim_json
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        target, moved = store.merge_claims(session=session, source_id=source_id, reader=obj.reader,
                                            target_id=target_id)
        counts = store.count_links(session=session, claim_ids=[target.id or 0])[target.id or 0]
    if as_json:
        _echo_json({"from": source_id, "into": claim_json(target, counts), "moved": moved})
    else:
        click.echo(f"merged claim {source_id} into claim {target.id}: {moved} links moved")


@claim.command(name="delete")
@click.argument("claim_id", type=int, metavar="CLAIM")
@click.option("--yes", is_flag=True, help="Delete even if people's confirmed links would go.")
@click.pass_obj
def claim_delete(obj: Context, claim_id: int, yes: bool) -> None:
    """Delete a claim and its links (and claims merged into it)."""
    from tracker import store
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        store.owned_claim(session=session, claim_id=claim_id, reader=obj.reader, doing="delete")
        counts = store.count_links(session=session, claim_ids=[claim_id])[claim_id]
        kept = counts["supports"] + counts["opposes"] + counts["mentions"] + counts["stale"]
        if kept and not yes:
            raise TrackerError(f"Claim {claim_id} has {kept} confirmed or stale links; "
                               f"add --yes to delete them too, or merge it into another claim")
        removed = store.delete_claim(session=session, claim_id=claim_id, reader=obj.reader)
    click.echo(f"deleted claim {claim_id} and {removed} links")


@claim.command(name="tag")
@click.argument("claim_id", type=int, metavar="CLAIM")
@click.argument("ref", metavar="DOC")
@click.option("--quote", required=True, help='The passage, word for word ("-" reads stdin).')
@click.option("--stance", type=_STANCE, required=True, help="What the passage does to the claim.")
@click.option("--note", help="Why, in your words.")
@click.option("--prefix", default="", help="Words just before the quote (when it recurs).")
@click.option("--suffix", default="", help="Words just after the quote (when it recurs).")
@click.option("--occurrence", type=click.IntRange(min=1), help="Which occurrence (1 = first).")
@_JSON
@click.pass_obj
def claim_tag(obj: Context, claim_id: int, ref: str, quote: str, stance: str, note: str | None,
              prefix: str, suffix: str, occurrence: int | None, as_json: bool) -> None:
    """Anchor the passage QUOTE of document DOC to CLAIM as supporting, opposing or mentioning.

    DOC is a document id, native id, source:native_id or URL. Whitespace, quote style and
    punctuation may differ from the document; the stored quote is the document's own text.
    """
    from tracker import store
    from tracker.claims.map import link_json
    from tracker.store.engine import session_scope

    if quote == "-":
        quote = sys.stdin.read()
    with session_scope(obj.engine) as session:
        document = store.get_document(session=session, ref=ref)
        link, found = store.tag(session=session, claim_id=claim_id, reader=obj.reader,
                                document=document, quote=quote, stance=stance, note=note,
                                prefix=prefix, suffix=suffix, occurrence=occurrence)
        docs = store.document_refs(session=session, document_ids=[link.document_id])
    if as_json:
        _echo_json({**link_json(link, docs.get(link.document_id)), "matched": found.level})
        return
    how = "" if found.level == "exact" else f" (matched with {found.level} differences)"
    click.echo(f"link {link.id}: claim {link.claim_id} {stance} ← document {link.document_id} "
               f"[{link.start}:{link.end}]{how}")


@claim.command(name="suggest")
@click.argument("claim_id", type=int, metavar="CLAIM")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 200))
@_JSON
@click.pass_obj
def claim_suggest(obj: Context, claim_id: int, limit: int, as_json: bool) -> None:
    """Passages across the store that likely argue for or against CLAIM, best first.

    Learns from `accept` and `reject`: with two or more of each, a per-claim classifier
    re-ranks; with confirmed passages of two stances, stance comes from them. Rejected
    passages never come back. Run `tracker index` first.
    """
    from tracker.api.schema import suggest_json
    from tracker.claims.suggest import suggest_claim
    from tracker.cli.claimsout import print_suggestions

    report = suggest_claim(obj.engine, obj.settings, claim_id, limit=limit, reader=obj.reader)
    if as_json:
        _echo_json(suggest_json(report))
    else:
        print_suggestions(report)


@claim.command(name="accept")
@click.argument("link_id", type=int, metavar="LINK")
@click.option("--stance", type=_STANCE, help="Correct the suggested stance.")
@click.option("--note", help="Why, in your words.")
@click.option("--quote", help="Narrow the passage, or re-anchor a stale link to its new wording.")
@_JSON
@click.pass_obj
def claim_accept(obj: Context, link_id: int, stance: str | None, note: str | None,
                 quote: str | None, as_json: bool) -> None:
    """Confirm a suggested (or stale, or rejected) link, optionally with another stance."""
    _decide(obj, link_id, as_json, accept=True, stance=stance, note=note, quote=quote)


@claim.command(name="reject")
@click.argument("link_id", type=int, metavar="LINK")
@click.option("--note", help="Why, in your words.")
@_JSON
@click.pass_obj
def claim_reject(obj: Context, link_id: int, note: str | None, as_json: bool) -> None:
    """Reject a link: its passage is never suggested for this claim again."""
    _decide(obj, link_id, as_json, accept=False, note=note)


def _decide(obj: Context, link_id: int, as_json: bool, *, accept: bool,
            stance: str | None = None, note: str | None = None, quote: str | None = None) -> None:
    from tracker import store
    from tracker.claims.map import link_json
    from tracker.store.engine import session_scope

    with session_scope(obj.engine) as session:
        if accept:
            link = store.accept_link(session=session, link_id=link_id, reader=obj.reader,
                                     stance=stance, note=note, quote=quote)
        else:
            link = store.reject_link(session=session, link_id=link_id, reader=obj.reader, note=note)
        docs = store.document_refs(session=session, document_ids=[link.document_id])
    if as_json:
        _echo_json(link_json(link, docs.get(link.document_id)))
    else:
        click.echo(f"link {link.id}: {link.status} ({link.stance}) for claim {link.claim_id}")


@claim.command(name="check")
@click.argument("words", nargs=-1, metavar="[TEXT]...")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
              help="Read the writing from a file ('-' for stdin).")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@_JSON
@click.pass_obj
def claim_check(obj: Context, words: Sequence[str], path: Path | None, limit: int,
                as_json: bool) -> None:
    """Has this been argued before? The claims and passages closest to a piece of writing."""
    from tracker.claims.suggest import check_text

    text = " ".join(words)
    if path is not None:
        text += "\n" + read_text(path)
    report = check_text(obj.engine, obj.settings, text, limit=limit, reader=obj.reader)
    if as_json:
        _echo_json(check_json(report))
    else:
        _print_check(report)


_MAX_CHECK_BYTES = 2_000_000


def read_text(path: Path) -> str:
    """A text file's first 2 MB ('-': standard input), or one clear error."""
    try:
        if str(path) == "-":
            return sys.stdin.read(_MAX_CHECK_BYTES)
        with path.open("rb") as handle:
            return handle.read(_MAX_CHECK_BYTES).decode("utf-8", errors="replace")
    except OSError as e:
        raise TrackerError(f"Cannot read {path}: {e.strerror}; give a readable text file") from e


def check_json(report: CheckReport) -> dict[str, Any]:
    """The `claim check --json` document."""
    from tracker.claims.map import claim_json, document_json
    passages = []
    for rank, (pid, score) in enumerate(report.passages, start=1):
        info = report.info.get(pid)
        if info is None:
            continue
        passages.append({
            "rank": rank, "score": round(score, 6),
            "passage": {"id": pid, "start": info.start, "end": info.end,
                        "text": clean_text(info.text)},
            "document": document_json(report.documents.get(info.document_id)),
            "claims": [{"claim_id": c.id, "claim": c.text, "stance": link.stance,
                        "link_id": link.id} for link, c in report.linked.get(pid, [])],
        })
    return {
        "claims": [{**claim_json(c, counts), "score": round(score, 4)}
                   for c, score, counts in report.claims],
        "passages": passages, "vectors": report.vectors,
    }


def _print_check(report: CheckReport) -> None:
    click.echo("closest claims:" if report.claims else "no claims yet")
    for found, score, counts in report.claims:
        click.echo(f"  {found.id:>4} ({score:.2f})  +{counts['supports']} -{counts['opposes']}  "
                   f"{found.text}")
    click.echo("\nclosest passages:" if report.passages else "\nno passages (run `tracker index`)")
    for rank, (pid, _) in enumerate(report.passages, start=1):
        info = report.info.get(pid)
        if info is None:
            continue
        ref = report.documents.get(info.document_id)
        click.echo(f"{rank:>2}. {byline(ref, info.document_id)}")
        for link, c in report.linked.get(pid, []):
            click.echo(f"    {link.stance} claim {c.id}: {c.text}")
        click.echo(f'    "{snippet(clean_text(info.text))}"')


def _echo_json(data: Any) -> None:
    click.echo(json_text(data))


# --- export --------------------------------------------------------------------------------------


@click.group()
def export() -> None:
    """Write what tracker knows in formats other tools read."""


@export.command(name="claims")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json", "argdown", "jsonld"]),
              default="markdown", show_default=True, help="File format.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output).")
@click.option("--claim", "claim_ids", type=int, multiple=True, help="Only this claim (repeatable).")
@click.option("--all", "everything", is_flag=True,
              help="Also suggested and rejected links (default: confirmed and stale).")
@click.pass_obj
def export_claims(obj: Context, fmt: str, out: Path | None, claim_ids: Sequence[int],
                  everything: bool) -> None:
    """The claim map: Markdown, JSON, Argdown, or Web Annotation JSON-LD of the anchors."""
    from tracker.claims.map import load_map, render
    from tracker.models import utcnow
    from tracker.store.engine import session_scope

    statuses = ("confirmed", "stale", "suggested", "rejected") if everything \
        else ("confirmed", "stale")
    with session_scope(obj.engine) as session:
        entries = load_map(session=session, claim_ids=claim_ids, statuses=statuses,
                           reader=obj.reader)
    text = render(entries, fmt, generated_at=utcnow())
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise TrackerError(f"Cannot write {out}: {e.strerror}; choose another --out") from e
    links = sum(len(e.links) for e in entries)
    click.echo(f"wrote {len(entries)} claims and {links} links to {out}", err=True)
