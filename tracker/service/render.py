"""Digests rendered with the Jinja2 templates in templates/ (Markdown, HTML, Atom) and written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from tracker.service.digest import WeeklyDigest, week_bounds
from tracker.text import clean_text

_WEEK_FILE = re.compile(r"(\d{4}-W\d{2})\.html")


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("tracker.service", "templates"),
        autoescape=select_autoescape(["html.j2", "atom.j2"], default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _markdown_escape
    return env


def _markdown_escape(text: str) -> str:
    """Text safe inside a Markdown link label or list item."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


def markdown(digest: WeeklyDigest) -> str:
    """The digest as Markdown."""
    return _environment().get_template("digest.md.j2").render(d=digest)


def html(digest: WeeklyDigest) -> str:
    """The digest as a standalone HTML page."""
    return _environment().get_template("digest.html.j2").render(d=digest)


def atom(folder: Path) -> str:
    """An Atom feed (feedgen) with one entry per digest HTML file in `folder`, newest first;
    the same files always give the same bytes."""
    from feedgen.feed import FeedGenerator

    feed = FeedGenerator()
    feed.id("urn:tracker:digests")
    feed.title("tracker weekly digests")
    feed.author({"name": "tracker"})
    feed.link(href=(folder.resolve() / "feed.atom").as_uri(), rel="self")
    feed.generator("tracker")  # no version: a rebuild of the same digests is byte-identical
    newest = datetime(1970, 1, 1, tzinfo=UTC)
    for path in sorted(folder.glob("*.html")):  # feedgen puts the last added first
        match = _WEEK_FILE.fullmatch(path.name)
        if not match:
            continue
        week = match[1]
        _, end = week_bounds(week, "UTC")
        newest = max(newest, end)
        entry = feed.add_entry()
        entry.id(f"urn:tracker:digest:{week}")
        entry.title(_title(path, week))
        entry.link(href=path.resolve().as_uri(), rel="alternate", type="text/html")
        entry.updated(end)
        entry.content(clean_text(path.read_text(encoding="utf-8")), type="html")
    feed.updated(newest)
    return str(feed.atom_str(pretty=True).decode("utf-8"))


def _title(path: Path, week: str) -> str:
    """The first line of the digest's Markdown, else a title from the week."""
    markdown_file = path.with_suffix(".md")
    if markdown_file.exists():
        first = markdown_file.read_text(encoding="utf-8").splitlines()[:1]
        if first:
            return clean_text(first[0].lstrip("# ").strip())
    return f"tracker digest {week}"


def digest_dir(data_dir: Path) -> Path:
    """Where digests are written by default."""
    return data_dir / "digests"


@dataclass
class Written:
    """The files one build wrote."""

    markdown: Path
    html: Path
    feed: Path


def write_digest(digest: WeeklyDigest, out: Path) -> Written:
    """Render the digest as Markdown and HTML into `out` and refresh the Atom feed there."""
    out.mkdir(parents=True, exist_ok=True)
    md_path, html_path = out / f"{digest.week}.md", out / f"{digest.week}.html"
    md_path.write_text(markdown(digest), encoding="utf-8")
    html_path.write_text(html(digest), encoding="utf-8")
    feed = out / "feed.atom"
    feed.write_text(atom(out), encoding="utf-8")
    return Written(md_path, html_path, feed)
