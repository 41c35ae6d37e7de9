"""Loading the corpus: posts, generated comment threads with real text, whole sites."""

from __future__ import annotations

import functools
import gzip
import html as html_lib
import json
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from tests.servers.forummagnum.base import (
    ALIGNMENTFORUM_ORIGIN,
    EAFORUM_ORIGIN,
    LESSWRONG_ORIGIN,
    Doc,
)
from tests.servers.forummagnum.data import ForumData
from tests.servers.forummagnum.text import (
    _random_id,
    _strip_document_wrapper,
    derive_id,
    markdown_to_html,
    slugify,
    word_count,
)
from tests.servers.forummagnum.timestamps import format_timestamp, parse_timestamp
from tracker.ingest.html import markdown_html

CORPUS_FULL = "posts.jsonl.gz"
CORPUS_SAMPLE = "sample/posts_sample.jsonl"

FORUMS = ("lesswrong", "alignmentforum", "eaforum")
_SITE_OF_FORUM = {"lesswrong": "lesswrong", "alignmentforum": "lesswrong", "eaforum": "eaforum"}
_ORIGIN_OF_SITE = {
    "lesswrong": LESSWRONG_ORIGIN,
    "alignmentforum": ALIGNMENTFORUM_ORIGIN,
    "eaforum": EAFORUM_ORIGIN,
}
_VALID_ID = re.compile(r"[A-Za-z0-9]{17}|[0-9a-f]{24}")
# The LW "AI" tag (ForumMagnum 2024-01-22-backfillReviewWinners.ts); every AF post carries it.
AI_TAG: Doc = {"_id": "sYm3HiWcfZvrGu3ui", "name": "AI", "slug": "ai", "core": True}


# --------------------------------------------------------------------------------------------
# Corpus loading
# --------------------------------------------------------------------------------------------


def find_corpus(start: Path) -> Path:
    """The shared corpus folder, `<repo>/../shared/corpus`, located from `start` upwards.

    Raises:
        FileNotFoundError: no `shared/corpus` folder exists above `start`.
    """
    for folder in [start, *start.parents]:
        candidate = folder / "shared" / "corpus"
        if (candidate / "MANIFEST.md").is_file():
            return candidate
    raise FileNotFoundError(
        f"Corpus not found: no shared/corpus/MANIFEST.md above {start}. The forum test server "
        "serves the real corpus; put the shared folder next to the repository."
    )


def _corpus_file(path: Path, full: bool = True) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / (CORPUS_FULL if full else CORPUS_SAMPLE)
    if not path.is_file():
        raise FileNotFoundError(f"Corpus file not found: {path}. Pass shared/corpus or a file.")
    return path


def _read_jsonl(path: Path) -> Iterator[Doc]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def load_corpus_posts(
    path: Path | str,
    forums: Sequence[str] = FORUMS,
    with_body_only: bool = False,
    limit: int | None = None,
) -> list[Doc]:
    """Corpus rows mapped to ForumMagnum post dicts (streamed; `path` may be the corpus folder,
    `posts.jsonl.gz` or `sample/posts_sample.jsonl`).

    Posts without a body have `htmlBody` and `contents` null; AF posts get `af: true` and the
    "AI" tag. Ids that are not ForumMagnum ids (`eaforum-anishazaveri:2013:18`, one empty id)
    get a stable 17-character id derived from the old one, and a page URL to match.

    Raises:
        FileNotFoundError: the corpus is missing.
        ValueError: a forum other than lesswrong, alignmentforum or eaforum was asked for.
    """
    unknown = set(forums) - set(FORUMS)
    if unknown:
        raise ValueError(f"Only ForumMagnum forums can be served, not {sorted(unknown)}")
    posts: list[Doc] = []
    for row in _read_jsonl(_corpus_file(Path(path))):
        if row["forum"] not in forums or (with_body_only and not row.get("body_html")):
            continue
        posts.append(_post_from_row(row))
        if limit is not None and len(posts) >= limit:
            break
    return posts


def _post_from_row(row: Mapping[str, Any]) -> Doc:
    site = _SITE_OF_FORUM[row["forum"]]
    origin = _ORIGIN_OF_SITE[site]
    old_id = str(row.get("id") or "")
    valid = bool(_VALID_ID.fullmatch(old_id))
    post_id = old_id if valid else derive_id(f"{row['forum']}|{old_id}|{row.get('url')}")
    url = row.get("url") or ""
    route = re.search(r"/(posts|events)/[^/]*/([^/?#]+)", url)
    slug = route[2] if route else slugify(row["title"])
    page_url = url if valid and route else f"{origin}/posts/{post_id}/{slug}"
    af = row["forum"] == "alignmentforum" or bool(row.get("af"))
    # Posts the corpus holds only as Markdown (TurnTrout's essays) are HTML on the real forum.
    body = row.get("body_html") or markdown_html(row.get("body_markdown") or "")
    doc: Doc = {
        "_id": post_id,
        "slug": slug,
        "title": row["title"],
        "pageUrl": page_url,
        "postedAt": row["posted_at"],
        "url": row.get("link_url"),
        "question": bool(row.get("is_question")),
        "meta": bool(row.get("is_meta")),
        "isEvent": "/events/" in url,
        "af": af,
        "legacy": len(post_id) == 24,
        "baseScore": row.get("score") or 0,
        "voteCount": row.get("vote_count") or 0,
        "commentCount": row.get("comment_count") or 0,
        "htmlBody": _strip_document_wrapper(body) if body else None,
        "user": make_user(row.get("author"), row.get("author_slug"), origin),
        "tags": [dict(AI_TAG)] if af else [_tag(t) for t in row.get("tags") or []],
    }
    if row.get("word_count"):
        doc["wordCount"] = row["word_count"]
    if af:
        doc["afDate"] = parse_timestamp(row["posted_at"])
        doc["afBaseScore"] = row.get("af_score")
    return doc


def _tag(name: str) -> Doc:
    return {"_id": derive_id(f"tag|{name}"), "name": name, "slug": slugify(name), "core": False}


@functools.lru_cache(maxsize=65536)
def _user(name: str, slug: str, origin: str) -> Doc:
    return {
        "_id": derive_id(f"user|{origin}|{slug}"),
        "slug": slug,
        "username": name.replace(" ", "_"),
        "displayName": name,
        "fullName": None,
    }


def make_user(
    name: str | None, slug: str | None = None, origin: str = LESSWRONG_ORIGIN
) -> Doc | None:
    """The `user` object for an author name (None for a deleted or hidden author, as on LW).

    The same name gives the same shared dict, with a stable `_id`.
    """
    if not name:
        return None
    return _user(name, slug or slugify(name), origin)


def split_by_site(posts: Iterable[Doc]) -> dict[str, list[Doc]]:
    """Group posts by the GraphQL site that serves them: `lesswrong` (LW + AF) or `eaforum`."""
    sites: dict[str, list[Doc]] = {"lesswrong": [], "eaforum": []}
    for post in posts:
        site = "eaforum" if post["pageUrl"].startswith(EAFORUM_ORIGIN) else "lesswrong"
        sites[site].append(post)
    return sites


class CommentText(NamedTuple):
    """A real piece of writing and its real author, to become a comment's body."""

    html: str
    author: str


_PARAGRAPH = re.compile(r"<p>(.{80,1500}?)</p>", re.S)


def load_comment_texts(corpus: Path | str, posts: Iterable[Doc] = ()) -> list[CommentText]:
    """Real comment bodies: the Arbital comments in `comments.jsonl` (markdown → `<p>` HTML),
    then up to three paragraphs from each post in `posts`.

    Raises:
        FileNotFoundError: `comments.jsonl` is missing.
    """
    path = Path(corpus) / "comments.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"Corpus comments not found: {path}")
    texts = []
    for row in _read_jsonl(path):
        body = row.get("body_markdown") or ""
        if 40 <= len(body) <= 4000 and "[@" not in body and row.get("author"):
            texts.append(CommentText(markdown_to_html(body), row["author"]))
    return texts + paragraph_texts(posts)


def paragraph_texts(posts: Iterable[Doc], per_post: int = 3) -> list[CommentText]:
    """Up to `per_post` plain paragraphs from each post's body, with the post's author."""
    texts: list[CommentText] = []
    for post in posts:
        author = (post.get("user") or {}).get("displayName")
        if not post.get("htmlBody") or not author:
            continue
        found = [
            p for p in _PARAGRAPH.findall(post["htmlBody"]) if "<p" not in p and "<div" not in p
        ]
        texts.extend(CommentText(f"<p>{p}</p>", author) for p in found[:per_post])
    return texts


def _after(timestamp: str, rng: random.Random, mean_hours: float) -> str:
    start = datetime.fromisoformat(timestamp)
    delta = timedelta(seconds=max(1.0, rng.expovariate(1 / (mean_hours * 3600))))
    return format_timestamp(start + delta)


def build_comment_threads(
    posts: Sequence[Doc],
    seed: int = 0,
    per_post: tuple[int, int] = (0, 12),
    *,
    texts: Sequence[CommentText] | None = None,
    link_rate: float = 0.05,
) -> list[Doc]:
    """Comment threads for `posts`, with real text and the real site's structure.

    Top-level comments and replies nest up to depth 5 (`parentCommentId`, `topLevelCommentId`);
    question posts get answers (`answer: true`) whose replies carry `parentAnswerId`, and
    `parentCommentId` = the comment replied to. Replies come after their parents, comments
    after their post. About `link_rate` of comments link to another post or comment of the same
    site; about half the comments on AF posts are AF comments. Each post's thread depends only
    on `seed` and the post's `_id`; links also depend on the order of `posts`.

    Raises:
        ValueError: no texts were given and the posts have no bodies to quote.
    """
    pool = list(texts) if texts is not None else paragraph_texts(posts)
    if not pool:
        raise ValueError("No comment texts: pass texts=load_comment_texts(corpus, posts)")
    # Shared by the comments that quote one text: edits replace `contents`, never mutate it.
    contents = [{"html": t.html, "wordCount": word_count(t.html)} for t in pool]
    comments: list[Doc] = []
    linkable: dict[str, list[tuple[str, str]]] = {}  # origin -> (url, anchor text)
    for post in posts:
        rng = random.Random(f"{seed}:{post['_id']}")
        count = rng.randint(*per_post)
        origin = _origin_of(post["pageUrl"])
        thread = _build_thread(post, count, rng, pool, contents, origin)
        targets = linkable.setdefault(origin, [])
        for comment in thread:
            if targets and rng.random() < link_rate:
                _add_link(comment, rng.choice(targets))
        targets.append((post["pageUrl"], html_lib.escape(post["title"]) or "this post"))
        targets.extend(
            (f"{post['pageUrl']}?commentId={c['_id']}", "this comment") for c in thread[:2]
        )
        comments.extend(thread)
    return comments


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _build_thread(
    post: Doc,
    count: int,
    rng: random.Random,
    pool: Sequence[CommentText],
    contents: Sequence[Doc],
    origin: str,
) -> list[Doc]:
    thread: list[Doc] = []
    depth: dict[str, int] = {}
    for _ in range(count):
        open_parents = [c for c in thread if depth[c["_id"]] < 5]
        parent = rng.choice(open_parents) if open_parents and rng.random() < 0.6 else None
        pick = rng.randrange(len(pool))
        comment_id = _random_id(rng)
        root = _thread_root(parent, thread) if parent else None
        comment: Doc = {
            "_id": comment_id,
            "postId": post["_id"],
            "parentCommentId": parent["_id"] if parent else None,
            "topLevelCommentId": root["_id"] if root else None,
            "parentAnswerId": root["_id"] if root and root["answer"] else None,
            "answer": parent is None and post["question"] and rng.random() < 0.7,
            "postedAt": _after(parent["postedAt"] if parent else post["postedAt"], rng, 30),
            "htmlBody": pool[pick].html,
            "contents": contents[pick],
            "user": make_user(pool[pick].author, origin=origin),
            "baseScore": round(rng.gauss(4, 5)),
            "voteCount": rng.randint(0, 12),
            "extendedScore": _agreement(comment_id),
            "af": post["af"] and rng.random() < 0.5,
        }
        depth[comment_id] = depth[parent["_id"]] + 1 if parent else 1
        thread.append(comment)
    return thread


def _agreement(comment_id: str) -> Doc:
    """LessWrong's agree/disagree axis, seeded by the id so the main stream stays unchanged."""
    votes = random.Random(comment_id).randint(0, 8)
    return {"agreement": random.Random(comment_id[::-1]).randint(-2 * votes, 2 * votes),
            "agreementVoteCount": votes, "approvalVoteCount": votes + 1}


def _thread_root(comment: Doc, thread: Sequence[Doc]) -> Doc:
    """The top-level comment (or answer) above `comment` within `thread`."""
    by_id = {c["_id"]: c for c in thread}
    while comment["parentCommentId"] in by_id:
        comment = by_id[comment["parentCommentId"]]
    return comment


def _add_link(comment: Doc, target: tuple[str, str]) -> None:
    url, label = target
    body = f'{comment["htmlBody"]}<p>See also: <a href="{url}">{label}</a></p>'
    comment["htmlBody"] = body
    comment["contents"] = {"html": body, "wordCount": word_count(body)}


def make_same_timestamp_posts(
    n: int,
    posted_at: str,
    source: Sequence[Doc],
    *,
    seed: int = 0,
    af: bool = False,
) -> list[Doc]:
    """`n` posts that share one `postedAt` exactly (as bulk-imported posts do on the real site),
    with titles and bodies of the real posts in `source` and fresh, stable 17-character ids.

    Raises:
        ValueError: `source` is empty.
    """
    if not source:
        raise ValueError("make_same_timestamp_posts needs source posts for their text")
    stamp = parse_timestamp(posted_at)
    posts = []
    for i in range(n):
        src = source[i % len(source)]
        post_id = derive_id(f"same-timestamp|{seed}|{stamp}|{i}")
        origin = _origin_of(src["pageUrl"])
        post = {k: v for k, v in src.items() if k not in ("pingbacks", "contents", "wordCount")}
        post.update(_id=post_id, postedAt=stamp, modifiedAt=stamp, createdAt=stamp, af=af)
        post.update(pageUrl=f"{origin}/posts/{post_id}/{src['slug']}", commentCount=0)
        posts.append(post)
    return posts


def load_corpus_sites(
    corpus: Path | str,
    *,
    full: bool = False,
    comments: bool = True,
    seed: int = 0,
    per_post: tuple[int, int] = (0, 12),
) -> dict[str, ForumData]:
    """The sample (or, with `full`, the whole) corpus as `{"lesswrong": ..., "eaforum": ...}`,
    with comment threads built from real text unless `comments` is False.

    Raises:
        FileNotFoundError: the corpus is missing.
    """
    corpus = Path(corpus)
    posts = load_corpus_posts(_corpus_file(corpus, full))
    texts = load_comment_texts(corpus, posts) if comments else []
    sites = {}
    for name, site_posts in split_by_site(posts).items():
        data = ForumData(site_posts, origin=_ORIGIN_OF_SITE[name])
        if comments:
            data.add_comments(build_comment_threads(site_posts, seed, per_post, texts=texts))
        sites[name] = data
    return sites


@functools.cache
def _sample_sites(corpus: Path) -> dict[str, ForumData]:
    return load_corpus_sites(corpus)


def sample_sites(corpus: Path | str) -> dict[str, ForumData]:
    """Fresh, mutable copies of the sample corpus's sites; the corpus is read once per process."""
    return {name: data.copy() for name, data in _sample_sites(Path(corpus)).items()}
