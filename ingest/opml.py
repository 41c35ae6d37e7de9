"""OPML feed lists: read the `outline`s with an `xmlUrl`, write OPML 2.0."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from tracker.config import FeedConfig
from tracker.errors import ConfigError
from tracker.text import clean_text, safe_url

# An OPML file is a short list; anything bigger is not one (and is not parsed into memory).
MAX_OPML_BYTES = 5_000_000


def parse_opml(data: bytes, origin: str = "the OPML file") -> list[FeedConfig]:
    """The feeds an OPML document lists, nested outlines included, each URL once.

    Raises:
        ConfigError: the data is not OPML, names no feed, or is too big.
    """
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError(f"{origin} is larger than {MAX_OPML_BYTES:,} bytes; not an OPML list")
    try:
        root = safe_xml.fromstring(data)
    except DefusedXmlException as e:
        # Entity declarations are how XML bombs expand; no feed list needs them.
        raise ConfigError(f"{origin} declares XML entities or external references "
                          f"({type(e).__name__}); not accepted in an OPML list") from e
    except ET.ParseError as e:
        raise ConfigError(f"{origin} is not valid OPML (XML error: {e})") from e
    if root.tag.lower() != "opml":
        raise ConfigError(f"{origin} is not OPML: its root element is <{root.tag}>, not <opml>")
    feeds: dict[str, FeedConfig] = {}
    for outline in root.iter("outline"):
        attrs = {key.lower(): value for key, value in outline.attrib.items()}
        url = safe_url(attrs.get("xmlurl")) or ""
        if url and url not in feeds:
            title = clean_text(attrs.get("title") or attrs.get("text") or "").strip() or None
            feeds[url] = FeedConfig(url=url, title=title)
    if not feeds:
        raise ConfigError(f"{origin} lists no feed (no <outline> with an http(s) xmlUrl)")
    return list(feeds.values())


def render_opml(feeds: Sequence[FeedConfig], *, now: datetime) -> str:
    """An OPML 2.0 document listing `feeds`."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "tracker feeds"
    ET.SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        title = feed.title or feed.name or feed.url
        attrs = {"type": "rss", "text": title, "title": title, "xmlUrl": feed.url}
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
