"""Link classification: every URL form, target keys, and the real link edges of the corpus."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tracker.ingest.html import parse_body
from tracker.ingest.links import (
    arxiv_key,
    classify_url,
    doi_key,
    extract_text_mentions,
    forum_keys,
    legacy_key,
    url_key,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "corpus"
LW = "https://www.lesswrong.com/posts/uMQ3cqWDPHhjtiesc/agi-ruin-a-list-of-lethalities"
EA = "https://forum.effectivealtruism.org/posts/Ayu5im98u8FeMWoBZ/my-personal-cruxes"
PID = "j9Q8bRmwCgXRYAgcJ"
CID = "Gu4syyKBsRSQkktkJ"
HEX = "5bd75cc58225bf067037550b"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (CORPUS / "MANIFEST.md").exists():
        pytest.fail(f"The shared corpus is missing at {CORPUS}; tests need it")
    return SHARED


def key(url: str, base: str | None = None) -> tuple[str, str | None] | None:
    link = classify_url(url, base)
    return None if link is None else (link.kind, link.target_key)


# --- forum URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://www.lesswrong.com/posts/{PID}/miri-announces", ("post", f"lw:{PID}")),
        (f"https://www.lesswrong.com/posts/{PID}", ("post", f"lw:{PID}")),
        (f"http://lesswrong.com/posts/{PID}/x/", ("post", f"lw:{PID}")),
        (f"https://www.lesserwrong.com/posts/{PID}/x", ("post", f"lw:{PID}")),
        (f"https://lessestwrong.com/posts/{PID}/x", ("post", f"lw:{PID}")),
        (f"https://www.baserates.org/posts/{PID}/x", ("post", f"lw:{PID}")),
        (f"https://www.alignmentforum.org/posts/{PID}/x", ("post", f"lw:{PID}")),
        (f"https://alignment-forum.com/posts/{PID}/x", ("post", f"lw:{PID}")),
        (f"https://www.greaterwrong.com/posts/{PID}/x", ("post", f"lw:{PID}")),
        (f"https://www.alignmentforum.org/posts/{HEX}/xor-blackmail", ("post", f"lw:{HEX}")),
        (f"https://www.lesswrong.com/s/NBDFAKt3GbFwnwzQF/p/{PID}", ("post", f"lw:{PID}")),
        (f"https://www.lesswrong.com/events/{PID}/meetup", ("post", f"lw:{PID}")),
        (f"https://www.lesswrong.com/g/NBDFAKt3GbFwnwzQF/p/{PID}/", ("post", f"lw:{PID}")),
        (f"https://forum.effectivealtruism.org/posts/{PID}/x", ("post", f"ea:{PID}")),
        (f"https://ea.greaterwrong.com/posts/{PID}/x", ("post", f"ea:{PID}")),
        (f"https://www.effectivealtruism.org/posts/{PID}/x", ("post", f"ea:{PID}")),
        # comments
        (f"https://www.lesswrong.com/posts/{PID}/x?commentId={CID}", ("comment", f"lw:{CID}")),
        (f"https://www.alignmentforum.org/posts/{PID}/x#{CID}", ("comment", f"lw:{CID}")),
        (f"https://www.greaterwrong.com/posts/{PID}/x/comment/{CID}", ("comment", f"lw:{CID}")),
        (f"https://www.greaterwrong.com/posts/{PID}/x#comment-{CID}", ("comment", f"lw:{CID}")),
        (
            f"https://forum.effectivealtruism.org/posts/{PID}/x?commentId={CID}",
            ("comment", f"ea:{CID}"),
        ),
        # slugs and legacy ids
        ("https://www.lesswrong.com/posts/slug/Some-Slug", ("post", "lw-slug:some-slug")),
        ("http://lesswrong.com/lw/ya/some_slug/", ("post", "lw-legacy:ya")),
        ("http://lesswrong.com/lw/4cs/making_money_with_bitcoin/3ljd", ("post", "lw-legacy:4cs")),
        ("http://lesswrong.com/r/discussion/lw/kG/x/", ("post", "lw-legacy:kg")),
        ("http://effective-altruism.com/ea/14d/donor_lotteries/", ("post", "ea-legacy:14d")),
        ("https://forum.effectivealtruism.org/ea/1kv/doing_good/", ("post", "ea-legacy:1kv")),
        # not ids: 16 or 18 characters, upper-case hex of 24, anchors that are not ids
        ("https://www.lesswrong.com/posts/j9Q8bRmwCgXRYAgc/x", None),
        ("https://www.lesswrong.com/posts/j9Q8bRmwCgXRYAgcJJ/x", None),
        ("https://www.lesswrong.com/posts/5BD75CC58225BF067037550B/x", None),
        (f"https://www.lesswrong.com/posts/{PID}/x#The_Full_Agenda", ("post", f"lw:{PID}")),
    ],
)
def test_forum_urls(url: str, expected: tuple[str, str] | None) -> None:
    link = classify_url(url, anchor_text="anchor")
    assert link is not None
    assert link.url == url
    assert link.anchor_text == "anchor"
    if expected is None:
        assert link.kind == "external"
        assert link.target_key == url_key(url)
    else:
        assert (link.kind, link.target_key) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/users/eliezer_yudkowsky",
        "/tag/ai",
        "/w/ai/",
        "/s/NBDFAKt3GbFwnwzQF",
        "/rationality",
        "/codex/some-post",
        "/highlights",
    ],
)
def test_other_on_site_paths_are_external(path: str) -> None:
    expected = "url:https://lesswrong.com" + path.rstrip("/")
    assert key("https://www.lesswrong.com" + path) == ("external", expected)
    assert key(path, LW) == ("external", expected)


def test_effectivealtruism_org_is_forum_only_on_forum_routes() -> None:
    assert key("https://www.effectivealtruism.org/articles/intro") == (
        "external",
        "url:https://effectivealtruism.org/articles/intro",
    )


def test_relative_links_take_the_base_site() -> None:
    assert key(f"/posts/{PID}/slug", LW) == ("post", f"lw:{PID}")
    assert key(f"/posts/{PID}/slug", EA) == ("post", f"ea:{PID}")
    assert key("/lw/pc/quantum_explanations/", LW) == ("post", "lw-legacy:pc")
    assert key("/ea/6w/cosmopolitanism/", EA) == ("post", "ea-legacy:6w")
    assert key(f"?commentId={CID}", LW) == ("comment", f"lw:{CID}")
    assert key("/tag/ai", LW) == ("external", "url:https://lesswrong.com/tag/ai")
    link = classify_url("../b/c.html?x=1", "https://blog.example.com/2020/a/post.html")
    assert link is not None and link.url == "https://blog.example.com/2020/b/c.html?x=1"
    assert key("//example.com/x/") == ("external", "url:https://example.com/x")
    assert key(f"/posts/{PID}") is None  # relative without a base has no site


def test_out_wrappers_are_unwrapped() -> None:
    link = classify_url(
        "https://www.lesswrong.com/out?url=https%3A%2F%2Farxiv.org%2Fabs%2F2101.00001v2",
        LW,
        "paper",
    )
    assert link is not None
    assert (link.url, link.kind, link.target_key) == (
        "https://arxiv.org/abs/2101.00001v2",
        "arxiv",
        "arxiv:2101.00001",
    )
    assert key("/out?url=https%3A%2F%2Fexample.com%2Fa%2F", EA) == (
        "external",
        "url:https://example.com/a",
    )
    inner = "https://forum.effectivealtruism.org/out?url=" + quote(
        f"https://lesswrong.com/posts/{PID}"
    )
    assert key(inner) == ("post", f"lw:{PID}")
    assert key("https://example.com/out?url=https%3A%2F%2Fx.org") == (
        "external",
        "url:https://example.com/out?url=https%3A%2F%2Fx.org",
    )


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "#fn1",
        "#fnref1",
        "#section",
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<b>x</b>",
        "tel:+123",
        "ftp://example.com/file",
        "http://[::1",
        f"{LW}#The_Full_Agenda",
    ],
)
def test_unusable_links_give_none(url: str) -> None:
    assert classify_url(url, LW) is None


def test_control_characters_never_reach_a_link() -> None:
    link = classify_url("https://ex.org/\x1b[31ma\u202e\n", anchor_text="x\x1b\x9by\u2066")
    assert link is not None
    assert link.url == "https://ex.org/[31ma"
    assert link.anchor_text == "xy"


# --- arXiv, DOI and URL keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/abs/2101.00001", "arxiv:2101.00001"),
        ("https://arxiv.org/abs/2101.00001v3", "arxiv:2101.00001"),
        ("http://www.arxiv.org/pdf/2101.00001v2.pdf", "arxiv:2101.00001"),
        ("https://arxiv.org/pdf/2101.00001", "arxiv:2101.00001"),
        ("https://arxiv.org/html/2401.12345v1", "arxiv:2401.12345"),
        ("https://export.arxiv.org/abs/1706.03762", "arxiv:1706.03762"),
        ("https://arxiv.org/abs/1412.6980", "arxiv:1412.6980"),
        ("https://arxiv.org/abs/astro-ph/0601001", "arxiv:astro-ph/0601001"),
        ("https://arxiv.org/abs/hep-th/9901001v2", "arxiv:hep-th/9901001"),
        ("https://arxiv.org/pdf/hep-th/9901001v2.pdf", "arxiv:hep-th/9901001"),
        ("https://arxiv.org/abs/arXiv:2101.00001", "arxiv:2101.00001"),
        ("https://arxiv.org/abs/math.GT/0309136", "arxiv:math/0309136"),
    ],
)
def test_arxiv_urls(url: str, expected: str) -> None:
    assert key(url) == ("arxiv", expected)


def test_arxiv_non_paper_pages_are_external() -> None:
    assert key("https://arxiv.org/list/cs.AI/recent") == (
        "external",
        "url:https://arxiv.org/list/cs.AI/recent",
    )
    assert key("https://arxiv.org/abs/not-an-id") == (
        "external",
        "url:https://arxiv.org/abs/not-an-id",
    )


def test_arxiv_key() -> None:
    assert arxiv_key("arXiv:2101.00001v3") == "arxiv:2101.00001"
    assert arxiv_key(" 2101.00001 ") == "arxiv:2101.00001"
    assert arxiv_key("1501.0001") == "arxiv:1501.0001"
    assert arxiv_key("hep-th/9901001v2") == "arxiv:hep-th/9901001"
    assert arxiv_key("arXiv:Astro-Ph/0601001") == "arxiv:astro-ph/0601001"
    for bad in ("", "2101.001", "21010.00001", "hep-th/990100", "https://arxiv.org/abs/2101.00001"):
        assert arxiv_key(bad) is None


def test_doi_urls_and_keys() -> None:
    assert key("https://doi.org/10.1109/ICSTW55395.2022.00035") == (
        "doi",
        "doi:10.1109/icstw55395.2022.00035",
    )
    assert key("http://dx.doi.org/10.1073%2Fpnas.1011492107") == (
        "doi",
        "doi:10.1073/pnas.1011492107",
    )
    assert key("https://doi.org/10.48550/arXiv.2101.00001") == ("arxiv", "arxiv:2101.00001")
    assert doi_key("10.1000/ABC") == "doi:10.1000/abc"
    assert doi_key("doi:10.1000/ABC") == "doi:10.1000/abc"
    assert doi_key("https://doi.org/10.1000/a%2Fb") == "doi:10.1000/a/b"
    assert doi_key("10.48550/arXiv.2203.02155") == "arxiv:2203.02155"


def test_url_key_normalises() -> None:
    raw = "HTTPS://WWW.Example.COM:443/a/b/?utm_source=x&b=2&a=1&ref=y&fbclid=z&gclid=w#frag"
    assert url_key(raw) == "url:https://example.com/a/b?a=1&b=2"
    assert url_key("http://example.com:80/") == "url:http://example.com"
    assert url_key("http://example.com:8080/") == "url:http://example.com:8080"
    assert url_key("https://example.com") == "url:https://example.com"
    assert url_key("https://user:pw@example.com/x?utm_medium=y") == "url:https://example.com/x"
    assert key("https://blog.example.com/post/?utm_campaign=feed") == (
        "external",
        "url:https://blog.example.com/post",
    )


# --- keys a document registers --------------------------------------------------------------


def test_legacy_key_matches_legacy_urls() -> None:
    assert legacy_key("lw", "1234") == "lw-legacy:ya"
    assert legacy_key("ea", "0") == "ea-legacy:0"
    assert key("https://www.lesswrong.com/lw/ya/slug/") == ("post", legacy_key("lw", "1234"))
    with pytest.raises(ValueError, match="legacyId"):
        legacy_key("lw", "ya")


def test_forum_keys() -> None:
    assert forum_keys("lw", PID, "Some-Slug", "1234") == [
        f"lw:{PID}",
        "lw-slug:some-slug",
        "lw-legacy:ya",
    ]
    assert forum_keys("ea", CID) == [f"ea:{CID}"]
    assert forum_keys("alignmentforum", PID) == [f"lw:{PID}"]
    assert key(f"https://www.lesswrong.com/posts/{PID}/x") == ("post", forum_keys("lw", PID)[0])


# --- mentions in plain text -------------------------------------------------------------------


def test_extract_text_mentions() -> None:
    text = (
        "See arXiv:2101.00001v2, also arxiv: hep-th/9901001 and doi:10.1016/S0140-6736(20)30183-5)."
        " Bare 10.1000/xyz123. and the arXiv DOI 10.48550/arXiv.2203.02155; again arXiv:2101.00001."
        " Not ids: arXiv:12.34, 10.12/short, version 10.5 of http://x.org/10.1000/abc."
    )
    found = [(m.kind, m.target_key, m.anchor_text) for m in extract_text_mentions(text)]
    assert found == [
        ("arxiv", "arxiv:2101.00001", "arXiv:2101.00001v2"),
        ("arxiv", "arxiv:hep-th/9901001", "arxiv: hep-th/9901001"),
        ("doi", "doi:10.1016/s0140-6736(20)30183-5", "doi:10.1016/S0140-6736(20)30183-5"),
        ("doi", "doi:10.1000/xyz123", "10.1000/xyz123"),
        ("arxiv", "arxiv:2203.02155", "10.48550/arXiv.2203.02155"),
    ]
    assert extract_text_mentions("") == []
    urls = [m.url for m in extract_text_mentions("arXiv:2101.00001 doi:10.1000/x")]
    assert urls == ["https://arxiv.org/abs/2101.00001", "https://doi.org/10.1000/x"]


# --- links from HTML bodies -------------------------------------------------------------------


def test_parse_body_links_in_document_order_without_duplicates() -> None:
    html = (
        f'<p><a href="/posts/{PID}/x">first</a> <a href="/posts/{PID}/x">first</a>'
        f'<sup class="footnote-ref"><a href="#fn1" id="fnref1">[1]</a></sup>'
        f' <a href="/posts/{PID}/x">other words</a> <a href="mailto:a@b.c">mail</a>'
        ' <a href="https://arxiv.org/abs/2101.00001"><em>a</em> paper</a></p>'
    )
    links = parse_body(html, LW).links
    assert [(link.kind, link.target_key, link.anchor_text) for link in links] == [
        ("post", f"lw:{PID}", "first"),
        ("post", f"lw:{PID}", "other words"),
        ("arxiv", "arxiv:2101.00001", "a paper"),
    ]
    assert links[0].url == f"https://www.lesswrong.com/posts/{PID}/x"


def test_recorded_lesswrong_response(shared: Path) -> None:
    path = shared / "fixtures" / "lesswrong" / "post_single_by_id_uMQ3cqWDPHhjtiesc.json"
    post = json.loads(path.read_text(encoding="utf-8"))["data"]["post"]["result"]
    links = parse_body(post["htmlBody"], post["pageUrl"]).links
    target = f"https://www.lesswrong.com/posts/{PID}/miri-announces-new-death-with-dignity-strategy"
    [link] = [link for link in links if link.url == target]
    assert (link.kind, link.target_key) == ("post", f"lw:{PID}")


def test_corpus_link_edges_resolve_to_their_target(shared: Path) -> None:
    corpus = shared / "corpus" / "sample"
    with (corpus / "posts_sample.jsonl").open(encoding="utf-8") as f:
        posts = {row["id"]: row for row in map(json.loads, f)}
    with (corpus / "links_sample.jsonl").open(encoding="utf-8") as f:
        edges = [json.loads(line) for line in f]
    sites = {"lesswrong": "lw", "alignmentforum": "lw", "eaforum": "ea"}
    homes = {"lw": "https://www.lesswrong.com/", "ea": "https://forum.effectivealtruism.org/"}
    checked, misses = 0, []
    for edge in edges:
        site = sites.get(edge["target_forum"])
        if edge["kind"] != "html_href" or edge["target_id"] is None or site is None:
            continue
        source = posts[edge["source_id"]]
        base = source["url"] or homes[sites[source["forum"]]]
        link = classify_url(edge["target_url"], base, edge["anchor_text"] or "")
        checked += 1
        # A comment link carries the comment's key; the edge records the post it sits under.
        ok = link is not None and (
            link.target_key == f"{site}:{edge['target_id']}"
            or (link.kind == "comment" and f"/posts/{edge['target_id']}" in link.url)
        )
        if not ok:
            misses.append((edge["target_url"], edge["target_id"], link))
    print(f"{checked - len(misses)}/{checked} edges matched; misses: {misses}")
    assert checked > 800
    assert len(misses) <= checked * 0.02
