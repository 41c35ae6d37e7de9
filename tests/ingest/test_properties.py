"""Property tests (Hypothesis): the HTML normaliser, the link extractor and the feed and OPML
readers take any input a site could send without raising anything undocumented or letting a
control character through."""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.errors import ConfigError
from tracker.ingest.arxiv import paper_id
from tracker.ingest.feedlist import Feed
from tracker.ingest.feeds import FeedError, discover_feed, read_feed
from tracker.ingest.html import html_to_text, parse_body
from tracker.ingest.links import classify_url, extract_text_mentions, url_key
from tracker.ingest.opml import parse_opml
from tracker.models import LinkCreate
from tracker.text import clean_text

# What clean_text removes: C0 but tab and newline, DEL, C1, bidi controls, BOM.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
# Link URLs are single tokens: no whitespace or control of any kind.
URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
FAST = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# Hostile bits sites send, mixed into generated markup and URLs.
NASTY = st.sampled_from(["\x1b[2J", "\x1b]0;t\x07", "\x9b31m", "\u202e", "\x00", "\r\n", "\ufeff",
                         "&#27;", "&#x9b;", "&#0;", "&lt;", "javascript:", "%1b", "\t"])
TAGS = st.sampled_from(["p", "a", "blockquote", "ul", "ol", "li", "pre", "code", "em", "h2",
                        "table", "td", "sup", "span", "math", "script", "br", "img", "div"])
HREFS = st.one_of(st.text(max_size=40), st.sampled_from([
    "https://www.lesswrong.com/posts/abc123/x?commentId=def", "https://arxiv.org/abs/2101.00001",
    "https://doi.org/10.1000/xyz", "/posts/abc", "#fn1", "javascript:alert(1)", "mailto:a@b"]))


@st.composite
def markup(draw: st.DrawFn) -> str:
    """HTML-ish soup: tags (closed or not), links with odd hrefs, text and hostile bits."""
    parts = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.integers(0, 4))
        if kind == 0:
            parts.append(f"<{draw(TAGS)}>")
        elif kind == 1:
            parts.append(f"</{draw(TAGS)}>")
        elif kind == 2:
            href = draw(HREFS).replace('"', "&quot;")
            parts.append(f'<a href="{href}" id="{draw(st.text(max_size=5))}">')
        elif kind == 3:
            parts.append(draw(NASTY))
        else:
            parts.append(draw(st.text(max_size=30)))
    return "".join(parts)


def assert_clean_links(links: list[LinkCreate]) -> None:
    for link in links:
        assert not URL_UNSAFE.search(link.url), link.url
        assert link.url.lower().startswith(("http://", "https://")), link.url
        assert not CONTROL.search(link.anchor_text)
        assert link.target_key is None or not CONTROL.search(link.target_key)


# --- the HTML normaliser ---------------------------------------------------------------------


@FAST
@given(markup(), st.sampled_from([None, "https://www.lesswrong.com/posts/abc/x"]))
def test_parse_body_never_raises_and_outputs_no_controls(html: str, base: str | None) -> None:
    body = parse_body(html, base_url=base)
    assert not CONTROL.search(body.text)
    assert "\r" not in body.text
    assert_clean_links(body.links)
    # The text is clean already: cleaning it again changes nothing.
    assert clean_text(body.text) == body.text


@FAST
@given(st.text(max_size=300))
def test_html_to_text_takes_any_string(text: str) -> None:
    out = html_to_text(text)
    assert not CONTROL.search(out)
    if not set(text) & set("<&"):
        # Plain text (no markup) comes out as one normalised line: normalising it again is
        # a no-op.
        assert html_to_text(out) == out


# --- the link extractor ----------------------------------------------------------------------


@FAST
@given(st.one_of(st.text(max_size=80),
                 st.builds("{}{}{}".format, HREFS, NASTY, st.text(max_size=20))),
       st.one_of(st.none(), st.text(max_size=30), st.just("https://www.lesswrong.com/posts/a/b")),
       st.text(max_size=30))
def test_classify_url_never_raises_and_keeps_urls_clean(
    url: str, base: str | None, anchor: str
) -> None:
    link = classify_url(url, base, anchor)
    if link is not None:
        assert_clean_links([link])


@FAST
@given(st.text(max_size=200))
def test_text_mentions_and_keys_never_raise(text: str) -> None:
    assert_clean_links(extract_text_mentions(text))
    assert not CONTROL.search(url_key("https://a.org/" + text))
    key = paper_id(text)
    assert key is None or not CONTROL.search(key)


# --- feeds and OPML --------------------------------------------------------------------------

FEED = Feed(url="https://blog.example.org/feed", name="blog", origin="config")
XML_BITS = st.sampled_from([
    '<?xml version="1.0" encoding="utf-8"?>', '<rss version="2.0">', "<channel>", "<item>",
    "</item>", "<title>", "</title>", "<link>", "</link>", "<guid>", "</guid>",
    '<feed xmlns="http://www.w3.org/2005/Atom">', "<entry>", "</entry>", "</feed>",
    '<link href="javascript:x()"/>', "<pubDate>", "</pubDate>", "<description>",
    "</description>", "<![CDATA[", "]]>", "<!DOCTYPE x [<!ENTITY a 'b'>]>", "&a;", "</channel>",
    "</rss>", "<opml>", "<body>", '<outline xmlUrl="https://a.org/f" text="t"/>', "</body>",
    "</opml>", '<outline xmlUrl="file:///etc/passwd"/>', "<html><head>",
])


@st.composite
def xmlish(draw: st.DrawFn) -> bytes:
    parts = draw(st.lists(st.one_of(XML_BITS, NASTY, st.text(max_size=20)), max_size=30))
    return "".join(parts).encode("utf-8", "surrogatepass")


@FAST
@given(st.one_of(xmlish(), st.binary(max_size=200)),
       st.sampled_from(["application/rss+xml", "text/html", "", "application/xml"]))
def test_read_feed_raises_only_feed_errors(data: bytes, content_type: str) -> None:
    request = httpx.Request("GET", FEED.url)
    response = httpx.Response(200, content=data, headers={"content-type": content_type},
                              request=request)
    try:
        parsed = read_feed(FEED, response)
    except FeedError as e:
        assert not CONTROL.search(str(e))
        return
    for document in parsed.documents:
        assert document.url is None or not URL_UNSAFE.search(document.url)
        assert document.url is None or document.url.startswith(("http://", "https://"))
        assert not CONTROL.search(document.title)
        assert not CONTROL.search(document.body_text)


@FAST
@given(st.one_of(xmlish(), st.binary(max_size=200)))
def test_parse_opml_raises_only_config_errors(data: bytes) -> None:
    try:
        feeds = parse_opml(data)
    except ConfigError:
        return
    for feed in feeds:
        assert feed.url.startswith(("http://", "https://"))
        assert not URL_UNSAFE.search(feed.url)
        assert feed.title is None or not CONTROL.search(feed.title)


@FAST
@given(st.one_of(xmlish(), markup().map(str.encode)))
def test_discover_feed_never_raises(data: bytes) -> None:
    url = discover_feed(data, "https://blog.example.org/")
    assert url is None or (url.startswith(("http://", "https://"))
                           and not URL_UNSAFE.search(url))


@pytest.mark.parametrize("url", ["https://a.org/x\ufeffy", "https://a.org/\u2066evil",
                                 "https://a.org/?q=%1b&r=\u202e"])
def test_classify_url_percent_encodes_controls(url: str) -> None:
    link = classify_url(url)
    assert link is not None
    assert_clean_links([link])
