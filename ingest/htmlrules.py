"""What the HTML renderer knows about HTML: which tags are blocks, skipped or structural,
how footnotes are recognised in their many dialects, and small attribute helpers."""

from __future__ import annotations

import os.path
import re

from selectolax.lexbor import LexborNode

# Quote and list levels rendered as prefixes; deeper levels are flattened so that hostile
# nesting (thousands of <blockquote>s) cannot blow the output up quadratically.
MAX_PREFIX_DEPTH = 24

BLANK_RUN = re.compile(r"\n{3,}")

# Footnotes come in many dialects (markdown-it, CKEditor, Word, kramdown, WordPress): a marker is
# an in-page link labelled with a number whose target looks like a note; a back-link points
# the other way.
FN_LABEL = re.compile(r"\[?\(?(\d{1,3})\)?\]?")
FN_TARGET = re.compile(r"fn|ftn|foot|note|edn|en\d|ref|cite|^\d+$", re.IGNORECASE)
FN_BACKREF = re.compile(
    r"(?:fn|ftn|edn|en)ref|(?<=.)ref(?:[-_:]?\d|$)|return|ret$|back", re.IGNORECASE
)
FN_ITEM_ID = re.compile(r"(?:fn|footnote|_?ftn|_?edn)[-_:]?\w", re.IGNORECASE)

# fmt: off
SKIP_TAGS = frozenset({
    "head", "style", "noscript", "svg", "template", "title", "xml", "iframe", "object", "embed",
    "canvas", "video", "audio", "noembed", "noframes", "select", "textarea", "meta", "link",
    "colgroup", "col",
})
BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "aside", "header", "footer", "main", "nav", "figure",
    "figcaption", "address", "details", "summary", "center", "dl", "dt", "dd", "form",
    "fieldset", "legend", "caption", "hgroup",
})
HEADINGS = {f"h{n}": "#" * n + " " for n in range(1, 7)}
# Inside <pre> and table cells these only separate words; they must not break the line.
STRUCTURAL = BLOCK_TAGS | HEADINGS.keys() | {
    "ul", "ol", "li", "blockquote", "pre", "table", "tr", "td", "th", "hr",
}
# fmt: on

SKIP = -1
X_INLINE = 0
X_BLOCK = 1
X_LIST = 2
X_ITEM = 3
X_NOTE = 4
X_QUOTE = 5
X_HEADING = 6
X_PRE = 7
X_CODE = 8
X_TABLE = 9
X_ROW = 10
X_CELL = 11
X_ANCHOR = 12
X_SPACE = 13


def common_prefix(a: str, b: str) -> str:
    if a == b or not a or not b:
        return a if a == b else ""
    return os.path.commonprefix([a, b])


def tex_annotation(node: LexborNode) -> str | None:
    annotation = node.css_first('annotation[encoding="application/x-tex"]')
    return annotation.text(deep=True) if annotation is not None else None


def int_attr(value: str | None, default: int) -> int:
    if value is None:
        return default
    value = value.strip()
    if value.isdigit() and len(value) <= 9:
        return int(value)
    return default
