"""What `tracker claim` prints: bylines, snippets, and the two sides of `claim suggest`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from tracker.claims.suggest import SuggestReport
    from tracker.index.suggest import Suggestion
    from tracker.models import ClaimLink
    from tracker.store import DocumentRef

_SNIPPET = 320  # characters of a quote or passage shown in listings


def byline(ref: DocumentRef | None, document_id: int) -> str:
    """A linked document in one line: title, authors, date, where."""
    from tracker.text import clean_text

    if ref is None:
        return f"document {document_id}"
    parts = [clean_text(ref.title) or "(untitled)"]
    if ref.authors:
        parts.append(", ".join(clean_text(a) for a in ref.authors))
    if ref.posted_at:
        parts.append(f"{ref.posted_at:%Y-%m-%d}")
    parts.append(f"{ref.source} {ref.kind} {ref.id}" + (" (deleted)" if ref.deleted else ""))
    return " — ".join(parts)


def snippet(text: str) -> str:
    """A quote or passage shortened for a listing."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET else flat[: _SNIPPET - 1] + "…"



def print_suggestions(report: SuggestReport) -> None:
    """`claim suggest` for people: the supporting and the opposing list."""
    click.echo(f"suggestions for claim {report.claim.id}: {report.claim.text}")
    learned = "classifier on" if report.classifier else "classifier after 2 accepted and 2 " \
        "rejected"
    stance = f"stance learned from your {report.stance_labels} labels" \
        if report.stance_model == "learned" else "stance guessed from wording"
    click.echo(f"  (from {report.confirmed} confirmed and {report.rejected} rejected passages: "
               f"{learned}; {stance}" + ("" if report.vectors else "; keyword only: run "
                                         "`tracker index`") + ")", err=True)
    for title, found in (("supporting", report.supporting), ("opposing", report.opposing)):
        click.echo(f"\n{title}:" if found else f"\n{title}: none found")
        for rank, (hit, link) in enumerate(found, start=1):
            _print_suggestion(report, rank, hit, link)
    if report.supporting or report.opposing:
        click.echo("accept: tracker claim accept LINK [--stance opposes]   "
                   "reject: tracker claim reject LINK", err=True)
    else:
        click.echo("no suggestions: nothing indexed matches (run `tracker index`)", err=True)


def _print_suggestion(report: SuggestReport, rank: int, hit: Suggestion,
                      link: ClaimLink) -> None:
    from tracker.text import clean_text

    ref = report.documents.get(hit.document_id)
    click.echo(f"{rank:>2}. [link {link.id}] {hit.stance}? ({hit.stance_confidence:.2f})"
               f"  score {hit.score:.4f}")
    click.echo(f"    {byline(ref, hit.document_id)}")
    click.echo(f'    "{snippet(clean_text(report.passages[hit.passage_id].text))}"')
    if ref is not None and ref.url:
        click.echo(f"    {ref.url}")
