"""HTML → normalised text on real corpus bodies, hostile input and malformed HTML."""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from tracker.ingest.html import ParsedBody, html_to_text, parse_body
from tracker.text import clean_text

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "corpus"

# Bodies only in the full posts file (the sample has no nested blockquotes).
FULL_IDS = {"hQtayqi3r6bo3EPoh"}

Row = dict[str, Any]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "MANIFEST.md").exists():
        pytest.fail(f"The shared corpus is missing at {CORPUS}; tests need it")
    return CORPUS


@pytest.fixture(scope="session")
def sample(corpus: Path) -> dict[str, Row]:
    with (corpus / "sample" / "posts_sample.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return {row["id"]: row for row in rows}


@pytest.fixture(scope="session")
def full(corpus: Path) -> dict[str, Row]:
    found: dict[str, Row] = {}
    with gzip.open(corpus / "posts.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            head = line[:40]
            if any(ident in head for ident in FULL_IDS):
                row = json.loads(line)
                found[row["id"]] = row
    assert set(found) == FULL_IDS
    return found


def render(row: Row) -> ParsedBody:
    return parse_body(row["body_html"], row["url"])


def assert_clean(text: str) -> None:
    assert CONTROL.search(text) is None
    assert "\x1b" not in text
    assert "\n\n\n" not in text
    assert text == text.strip("\n")
    assert all(line == line.rstrip() for line in text.split("\n"))


# --- real bodies -------------------------------------------------------------------------


def test_markdown_it_footnotes_become_markers_and_definitions(sample: dict[str, Row]) -> None:
    text = render(sample["FkgsxrGf3QxhfLWHG"]).text
    assert "some desired outcome.[^1] Such a neural network" in text
    assert "the mesa-optimizer.[^2]" in text
    assert "\n[^1]: As a concrete example of what a neural network optimizer might" in text
    assert "↩" not in text
    assert "fnref" not in text


def test_ckeditor_footnotes_drop_back_links(sample: dict[str, Row]) -> None:
    text = render(sample["bJ2haLkcGeLtTWaD5"]).text
    assert "Rationality has a number of definitions[^1] on LessWrong" in text
    assert "\n[^1]: Definitions of Rationality as used on LessWrong include:\n" in text
    assert "\n[^2]: There are in fact laws of thought no less ironclad" in text
    assert "[^1]: ^" not in text


def test_word_footnotes_with_split_brackets(sample: dict[str, Row]) -> None:
    text = render(sample["RCvetzfDnBNFX7pLH"]).text
    assert "effect on the future.[^1]\n" in text
    assert "[[^1]" not in text
    assert "\n[^1]: For those of you not yet interested in working in AI strategy" in text
    assert "file:///" not in text


def test_mathjax_becomes_tex(sample: dict[str, Row]) -> None:
    text = render(sample["ygELzNSAF5nzLXD7j"]).text
    assert "\n\n$$\\exp[-tM\\times 10^{51}].$$\n\n" in text
    assert "object of duration $t$ and mass $M$ is approximately" in text
    assert "We'll be taking $M=1\\mathrm{kg}$ for a human brain" in text


def test_no_mathjax_noise_anywhere_in_sample(sample: dict[str, Row]) -> None:
    mathy = [row for row in sample.values() if "mjx-chtml" in (row["body_html"] or "")]
    assert len(mathy) >= 20
    for row in mathy:
        text = render(row).text
        assert "mjx" not in text.lower(), row["id"]
        assert "$" in text, row["id"]


def test_nested_lists_indent_two_spaces_per_level(sample: dict[str, Row]) -> None:
    text = render(sample["wFTRgeaq5wceEfb2X"]).text
    expected = (
        "- What is my prognosis if I get COVID-19?\n"
        "  - Short Term\n"
        "    - Attempt 1\n"
        "  - Long term\n"
        "    - Attempt 1\n"
        "- What will the economic effects of covid be?"
    )
    assert expected in text


def test_nested_blockquotes(full: dict[str, Row]) -> None:
    text = render(full["hQtayqi3r6bo3EPoh"]).text
    assert "\n>\n> > If the full amount of the match is reached, we believe Good Ventures" in text
    assert '\n>\n> The wording "If the full amount... is reached" suggests' in text


def test_tables_one_row_per_line(sample: dict[str, Row]) -> None:
    text = render(sample["ERWeEA8op6s6tYCKy"]).text
    assert "\nWhat it feels like for me | How I see others who feel the same\n" in text
    assert (
        "\nI have been studying this carefully | They preferentially seek out conforming evidence\n"
    ) in text


def test_pre_blocks_are_fenced_and_keep_lines(sample: dict[str, Row]) -> None:
    text = render(sample["dYJbmMRv8HFtGs9o3"]).text
    assert "```\nHH = $1,000,000\nHT = $1,000,000\nTH = $1,000,000\nTT = $1,001,000\n```" in text


def test_image_alt_text(sample: dict[str, Row]) -> None:
    text = render(sample["oPEWyxJjRo4oKHzMu"]).text
    assert "[image: Path 2: Make Learning Visible - Surface, Deep, Transfer" in text


def test_every_sample_body_renders_cleanly(sample: dict[str, Row]) -> None:
    bodies = [row for row in sample.values() if row["body_html"]]
    assert len(bodies) > 250
    for row in bodies:
        parsed = render(row)
        assert_clean(parsed.text)
        assert "<p>" not in parsed.text and "&nbsp;" not in parsed.text, row["id"]
        for link in parsed.links:
            assert link.url.startswith(("http://", "https://")), link.url
            assert CONTROL.search(link.anchor_text) is None


def test_emphasis_is_plain_and_anchor_text_kept() -> None:
    html = '<p>A <em>very</em> <strong>strong</strong> <a href="https://x.org/a">claim</a>.</p>'
    parsed = parse_body(html)
    assert parsed.text == "A very strong claim."
    assert [(link.url, link.anchor_text) for link in parsed.links] == [("https://x.org/a", "claim")]


def test_block_structure() -> None:
    html = (
        "<h2>Head</h2><p>one&nbsp;&nbsp;two   three<br>next</p><hr>"
        "<ol start='3'><li>c</li><li>d</li></ol><p>inline <code>x  = 1</code></p>"
        "<figure><img src='a.png'><figcaption>A caption</figcaption></figure>"
    )
    assert html_to_text(html) == (
        "## Head\n\none two three\nnext\n\n---\n\n3. c\n4. d\n\ninline `x = 1`\n\nA caption"
    )


def test_dropped_elements() -> None:
    html = (
        "<head><title>T</title><style>p{}</style></head><p>kept</p><script>alert(1)</script>"
        "<noscript>no</noscript><svg><text>svg</text></svg>"
    )
    assert html_to_text(html) == "kept"


# --- hostile input -------------------------------------------------------------------------

HOSTILE = [
    "\x1b[31mred\x1b[0m",
    "\x1b[2J\x1b[H",
    "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "\x1b]0;pwned title\x1b\\",
    "\x1b]0;bell title\x07",
    "\x9b31m",
    "\x1bPq#0;2;0;0;0\x1b\\",
    "\x1b_Gf=100;AAAA\x1b\\",
    "bell\x07nul\x00del\x7f",
    "\u202eevil\u202c\u2066iso\u2069",
    "\x1b",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_clean_text_removes_terminal_sequences(payload: str) -> None:
    cleaned = clean_text(f"a {payload} b")
    assert CONTROL.search(cleaned) is None
    assert "\x1b" not in cleaned and "\x9b" not in cleaned
    assert "pwned" not in cleaned and "evil.example" not in cleaned


def test_clean_text_keeps_normal_text() -> None:
    text = "中文 😀 ∑∫ ℵ₀ — “quotes”\n\ttab"
    assert clean_text(text) == text
    assert clean_text("a\r\nb\rc") == "a\nb\nc"
    assert clean_text("\x1b[31mred\x1b[0m and \x1b]8;;u\x07link\x1b]8;;\x07") == "red and link"


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_sequences_never_survive_parsing(payload: str) -> None:
    html = (
        f"<html><head><title>{payload}</title></head><body>"
        f"<h1>{payload}T</h1><p>x {payload} y</p>"
        f'<p><img alt="cat {payload}"><a href="https://ex.org/{payload}">anchor {payload}</a></p>'
        f"<pre>code {payload}</pre><table><tr><td>{payload}cell</td></tr></table>"
        f'<span class="mjx-chtml"><span class="mjx-math" aria-label="x{payload}"></span></span>'
        "</body></html>"
    )
    parsed = parse_body(html, "https://ex.org/")
    assert_clean(parsed.text)
    assert "pwned" not in parsed.text and "evil.example" not in parsed.text
    for link in parsed.links:
        assert CONTROL.search(link.url) is None and "\x1b" not in link.url
        assert CONTROL.search(link.anchor_text) is None and "\x1b" not in link.anchor_text


def test_escapes_written_as_character_references() -> None:
    text = html_to_text("<p>a&#x1b;[31mb&#27;]0;t&#7;c &#x202e;d&#0;</p>")
    assert_clean(text)
    assert text.startswith("ab")


# --- malformed, truncated and deep input -------------------------------------------------


@pytest.mark.parametrize("html", ["", " ", "\n", "<", "<p", "<!--", "</p>", "<html></html>"])
def test_empty_and_degenerate(html: str) -> None:
    parsed = parse_body(html)
    assert parsed.links == []
    assert parsed.text in ("", "<")


def test_truncated_html_keeps_what_it_can() -> None:
    parsed = parse_body('<div><ul><li>one<li>two<blockquote>q<a href="https://x.org/p">li')
    assert parsed.text == "- one\n- two\n\n  > qli"
    assert [link.url for link in parsed.links] == ["https://x.org/p"]


def test_lone_surrogates() -> None:
    assert html_to_text("a\ud800b<p>x</p>") == "ab\n\nx"


@pytest.mark.parametrize("tag", ["div", "blockquote", "ul", "ol", "span", "table", "a", "em"])
def test_deep_nesting_does_not_recurse(tag: str) -> None:
    html = f"<{tag}>" * 5000 + "deep" + f"</{tag}>" * 5000
    text = html_to_text(html)
    assert text.endswith("deep")
    assert len(text) < 200


def test_deeply_nested_quotes_are_bounded() -> None:
    text = html_to_text("<blockquote>" * 5000 + "deep" + "</blockquote>" * 5000)
    assert text.startswith("> > > ") and text.endswith("deep")


def test_random_fragments_never_raise() -> None:
    rng = random.Random(1234)
    tags = [
        "p", "div", "li", "ul", "ol start='x'", "blockquote", "pre", "code", "table", "tr", "td",
        "br", "hr", "h3", "em", "a href='#fn1'", "a href='http://[::1'", "a href='/posts/x'",
        "sup class='footnote-ref'", "li class='footnote-item'", "span class='mjx-chtml'",
        "math", "mjx-container display='true'", "script type='math/tex'", "img alt='i'",
    ]  # fmt: skip
    bits = ["text", "\x1b[1m", "\x9b", "&nbsp;", "&#x1b;", "\n", "<", ">", "[1]", "\r", "$"]
    for _ in range(3000):
        html = "".join(
            f"<{rng.choice(tags)}>" if rng.random() < 0.4
            else f"</{rng.choice(tags).split()[0]}>" if rng.random() < 0.5
            else rng.choice(bits)
            for _ in range(rng.randint(0, 25))
        )  # fmt: skip
        base = rng.choice([None, "https://www.lesswrong.com/posts/abcdefghijklmnopq/s", "x"])
        assert_clean(parse_body(html, base).text)
