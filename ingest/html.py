"""HTML bodies to normalised, markdown-flavoured text and their links, from one parse.

The text is for display, search passages and quoting claims, so it keeps the words and drops
markup noise: emphasis becomes plain text, links keep only their anchor text, MathJax becomes
`$TeX$`, footnotes become `[^1]` markers with `[^1]: text` lines, and terminal control
sequences never survive (`clean_text`).
"""

from __future__ import annotations

from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

from tracker.models import LinkCreate

from .htmlrender import Renderer


@dataclass(frozen=True)
class ParsedBody:
    """Normalised text of an HTML body and the citations found in its links."""

    text: str
    links: list[LinkCreate]


def markdown_html(markdown: str) -> str:
    """CommonMark as HTML, for a forum post the corpus holds only as Markdown (TurnTrout's
    essays): the forum itself serves such a post as HTML, so it goes through `parse_body`
    like every other post (raw HTML inside is kept; `parse_body` drops what is unsafe)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(markdown) if markdown.strip() else ""


def html_to_text(html: str) -> str:
    """The normalised text of an HTML body."""
    return parse_body(html).text


def parse_body(html: str, base_url: str | None = None) -> ParsedBody:
    """Parse an HTML body once into normalised text and classified links."""
    if not html:
        return ParsedBody("", [])
    root = LexborHTMLParser(html).root
    if root is None:
        return ParsedBody("", [])
    renderer = Renderer(base_url)
    renderer.render(root)
    return ParsedBody(renderer.finish(), renderer.links)
