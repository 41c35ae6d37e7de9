"""The ForumMagnum test server against the real protocol (shared/reference/sources.md §1).

Every test talks HTTP to a server on 127.0.0.1 with httpx, as the tracker's client will.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers.forum import (
    EAFORUM_ORIGIN,
    Fault,
    ForumData,
    ForumServer,
    Site,
    build_comment_threads,
    load_comment_texts,
    load_corpus_posts,
    make_same_timestamp_posts,
    split_by_site,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "corpus"
FIXTURES = SHARED / "fixtures" / "lesswrong"
UA = {"User-Agent": "tracker-tests/0.1 (+https://example.invalid; contact: tests@example.invalid)"}
SAME_TS = "2019-06-01T12:00:00.000Z"
POST_FIELDS = "_id slug title pageUrl postedAt createdAt modifiedAt baseScore af question htmlBody"
COMMENT_FIELDS = "_id postId parentCommentId topLevelCommentId parentAnswerId answer postedAt af"


def posts_query(terms: str, fields: str = POST_FIELDS) -> str:
    return f"{{ posts(input: {{terms: {{{terms}}}}}) {{ totalCount results {{ {fields} }} }} }}"


def comments_query(terms: str, fields: str = COMMENT_FIELDS) -> str:
    return f"{{ comments(input: {{terms: {{{terms}}}}}) {{ results {{ {fields} }} }} }}"


def post_gql(client: httpx.Client, url: str, query: str, **variables: Any) -> httpx.Response:
    return client.post(url, json={"query": query, "variables": variables})


def results(response: httpx.Response, root: str = "posts") -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"][root]["results"]  # type: ignore[no-any-return]


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> dict[str, list[dict[str, Any]]]:
    if not (CORPUS / "MANIFEST.md").is_file():
        pytest.fail(f"The shared corpus is missing at {CORPUS}; these tests serve its real data.")
    return split_by_site(load_corpus_posts(CORPUS / "sample" / "posts_sample.jsonl"))


@pytest.fixture(scope="module")
def threads(sample: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    texts = load_comment_texts(CORPUS, sample["lesswrong"] + sample["eaforum"])
    return {
        site: build_comment_threads(posts, seed=7, texts=texts) for site, posts in sample.items()
    }


def make_data(
    sample: dict[str, list[dict[str, Any]]], threads: dict[str, list[dict[str, Any]]]
) -> tuple[ForumData, ForumData]:
    lw = ForumData(sample["lesswrong"])
    lw.add_comments(threads["lesswrong"])
    lw.add_posts(make_same_timestamp_posts(250, SAME_TS, sample["lesswrong"][:40]))
    ea = ForumData(sample["eaforum"], origin=EAFORUM_ORIGIN)
    ea.add_comments(threads["eaforum"])
    return lw, ea


@pytest.fixture(scope="module")
def server(
    sample: dict[str, list[dict[str, Any]]], threads: dict[str, list[dict[str, Any]]]
) -> Iterator[ForumServer]:
    """Read-only tests share this one; tests that mutate data use `fresh`."""
    lw, ea = make_data(sample, threads)
    with ForumServer(lw, sites=[Site.alignmentforum(lw), Site.eaforum(ea)]) as srv:
        yield srv


@pytest.fixture
def fresh(
    sample: dict[str, list[dict[str, Any]]], threads: dict[str, list[dict[str, Any]]]
) -> Iterator[ForumServer]:
    lw, ea = make_data(sample, threads)
    with ForumServer(lw, sites=[Site.eaforum(ea)]) as srv:
        yield srv


@pytest.fixture
def client(server: ForumServer) -> Iterator[httpx.Client]:
    server.faults.clear()
    server.clear_requests()
    with httpx.Client(headers=UA, timeout=10) as c:
        yield c
    server.faults.clear()


# -- validation -------------------------------------------------------------------------------


def test_slug_selector_is_the_real_validation_error(
    server: ForumServer, client: httpx.Client
) -> None:
    recorded = json.loads((FIXTURES / "error_400_slug_not_in_SelectorInput.json").read_text())
    # The recorded locations (line 5) show the harness sent its query after a newline.
    query = "\n" + recorded["graphql_query"]
    response = client.post(
        server.url, json={"query": query, "variables": recorded["graphql_variables"]}
    )
    assert response.status_code == recorded["http_status"] == 400
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"errors"}
    (error,), (real,) = body["errors"], recorded["full_response"]["errors"]
    assert (
        error["message"]
        == real["message"]
        == 'Field "slug" is not defined by type "SelectorInput".'
    )
    assert error["locations"] == real["locations"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["extensions"]["stacktrace"][:2] == real["extensions"]["stacktrace"][:2]


def test_unknown_field_is_a_400_in_apollo_shape(server: ForumServer, client: httpx.Client) -> None:
    query = posts_query('view: "new", limit: 1', "_id nope")
    response = post_gql(client, server.url, query)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["message"] == 'Cannot query field "nope" on type "Post".'
    assert error["locations"] == [{"line": 1, "column": query.index("nope") + 1}]
    assert error["extensions"]["stacktrace"][0].startswith("GraphQLError: Cannot query field")


def test_missing_required_variable_is_bad_user_input(
    server: ForumServer, client: httpx.Client
) -> None:
    query = (
        'query Q($limit: Int!) { posts(input: {terms: {view: "new", limit: $limit}}) '
        "{ results { _id } } }"
    )
    response = client.post(server.url, json={"query": query, "variables": {}})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["message"] == 'Variable "$limit" of required type "Int!" was not provided.'
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_both_query_shapes_agree_on_lesswrong(server: ForumServer, client: httpx.Client) -> None:
    legacy = results(
        post_gql(
            client, server.url, posts_query('view: "old", limit: 7, after: "2018-01-01"', "_id")
        )
    )
    query = "query($s: JSON) { posts(selector: $s, limit: 7) { results { _id } } }"
    selector = results(post_gql(client, server.url, query, s={"old": {"after": "2018-01-01"}}))
    terms_var = "query($t: JSON) { posts(input: {terms: $t}) { results { _id } } }"
    variable = results(
        post_gql(
            client, server.url, terms_var, t={"view": "old", "limit": 7, "after": "2018-01-01"}
        )
    )
    assert legacy == selector == variable
    assert len(legacy) == 7


def test_ea_forum_accepts_only_input_terms(server: ForumServer, client: httpx.Client) -> None:
    url = server.site_url("eaforum")
    response = post_gql(client, url, "{ posts(selector: {new: {}}) { results { _id } } }")
    assert response.status_code == 400
    assert (
        response.json()["errors"][0]["message"]
        == 'Unknown argument "selector" on field "Query.posts".'
    )
    found = results(post_gql(client, url, posts_query('view: "new", limit: 3', "_id pageUrl")))
    assert all(p["pageUrl"].startswith(EAFORUM_ORIGIN + "/posts/" + p["_id"]) for p in found)


# -- post views and terms ---------------------------------------------------------------------


def _distinct_post(server: ForumServer, index: int) -> dict[str, Any]:
    """A post whose postedAt no other post shares."""
    counts: dict[str, int] = {}
    for post in server.data.posts.values():
        counts[post["postedAt"]] = counts.get(post["postedAt"], 0) + 1
    ordered = sorted(
        (p for p in server.data.posts.values() if counts[p["postedAt"]] == 1),
        key=lambda p: p["postedAt"],
    )
    return ordered[index]


def test_old_view_after_is_inclusive(server: ForumServer, client: httpx.Client) -> None:
    pivot = _distinct_post(server, 50)
    query = (
        'query($after: Date) { posts(input: {terms: {view: "old", after: $after, limit: 10}}) '
        "{ results { _id postedAt } } }"
    )
    found = results(post_gql(client, server.url, query, after=pivot["postedAt"]))
    assert found[0]["_id"] == pivot["_id"]
    stamps = [p["postedAt"] for p in found]
    assert stamps == sorted(stamps) and stamps[0] == pivot["postedAt"]


def test_before_is_exclusive(server: ForumServer, client: httpx.Client) -> None:
    pivot, previous = _distinct_post(server, 80), _distinct_post(server, 79)
    query = posts_query(f'view: "new", before: "{pivot["postedAt"]}", limit: 5', "_id postedAt")
    found = results(post_gql(client, server.url, query))
    assert pivot["_id"] not in {p["_id"] for p in found}
    assert all(p["postedAt"] < pivot["postedAt"] for p in found)
    assert found[0]["_id"] == previous["_id"]


def test_unknown_view_silently_sorts_by_created_at(fresh: ForumServer) -> None:
    # Published now, created long ago: first in "new", far down in the default order.
    source = fresh.data.posts[next(iter(fresh.data.posts))]
    late = fresh.data.add_post(
        {**source, "_id": "LatePublished12345", "postedAt": "2030-01-01", "createdAt": "2010-01-01"}
    )
    with httpx.Client(headers=UA) as c:
        newest = results(post_gql(c, fresh.url, posts_query('view: "new", limit: 3', "_id")))
        unknown = results(
            post_gql(c, fresh.url, posts_query('view: "alignmentForum", limit: 3', "_id createdAt"))
        )
        no_view = results(post_gql(c, fresh.url, posts_query("limit: 3", "_id createdAt")))
    assert newest[0]["_id"] == late["_id"]
    assert unknown == no_view
    assert late["_id"] not in {p["_id"] for p in unknown}
    stamps = [p["createdAt"] for p in unknown]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize("limit", ["", "limit: 0,", "limit: -3,", "limit: 6000,"])
def test_missing_or_bad_limit_means_5000(
    sample: dict[str, list[dict[str, Any]]], limit: str
) -> None:
    data = ForumData(make_same_timestamp_posts(5200, SAME_TS, sample["lesswrong"]))
    with ForumServer(data) as srv, httpx.Client(headers=UA) as c:
        found = results(post_gql(c, srv.url, posts_query(f'{limit} view: "old"', "_id")))
        seven = results(post_gql(c, srv.url, posts_query('limit: 7, view: "old"', "_id")))
    assert len(found) == 5000
    assert len(seven) == 7


def test_offset_over_2000_is_a_resolver_error(server: ForumServer, client: httpx.Client) -> None:
    assert (
        results(
            post_gql(client, server.url, posts_query('view: "old", limit: 1, offset: 2000', "_id"))
        )
        == []
    )
    response = post_gql(
        client, server.url, posts_query('view: "old", limit: 1, offset: 2001', "_id")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"posts": None}
    (error,) = body["errors"]
    assert error["message"] == "Exceeded maximum value for skip"
    assert error["path"] == ["posts"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


def test_total_count_needs_enable_total(server: ForumServer, client: httpx.Client) -> None:
    plain = post_gql(client, server.url, posts_query('view: "new", limit: 2', "_id"))
    assert plain.json()["data"]["posts"]["totalCount"] is None
    query = (
        '{ posts(input: {terms: {view: "new", limit: 2, af: true}, enableTotal: true}) '
        "{ totalCount results { _id } } }"
    )
    counted = post_gql(client, server.url, query).json()["data"]["posts"]
    assert counted["totalCount"] == sum(1 for p in server.data.posts.values() if p["af"])


def test_terms_filter_like_the_default_view(server: ForumServer, client: httpx.Client) -> None:
    fields = "_id af question isEvent baseScore"
    found = results(
        post_gql(
            client,
            server.url,
            posts_query('view: "new", af: true, question: true, limit: 500', fields),
        )
    )
    assert found and all(p["af"] and p["question"] for p in found)
    events = results(post_gql(client, server.url, posts_query('view: "new", limit: 5000', fields)))
    no_events = results(
        post_gql(
            client, server.url, posts_query('view: "new", excludeEvents: true, limit: 5000', fields)
        )
    )
    assert any(p["isEvent"] for p in events) and not any(p["isEvent"] for p in no_events)
    karma = results(
        post_gql(
            client, server.url, posts_query('view: "top", karmaThreshold: 100, limit: 5000', fields)
        )
    )
    assert karma and all(p["baseScore"] >= 100 for p in karma)
    scores = [p["baseScore"] for p in karma]
    assert scores == sorted(scores, reverse=True)
    zero = results(
        post_gql(
            client, server.url, posts_query('view: "new", karmaThreshold: 0, limit: 5000', fields)
        )
    )
    assert len(zero) == len(events)
    ids = [p["_id"] for p in karma[:3]]
    exact = results(
        post_gql(client, server.url, posts_query(f"exactPostIds: {json.dumps(ids)}", "_id"))
    )
    assert sorted(p["_id"] for p in exact) == sorted(ids)


def test_same_timestamp_posts_stall_a_postedat_cursor(
    server: ForumServer, client: httpx.Client
) -> None:
    query = (
        "query($after: Date, $before: Date, $offset: Int) { posts(input: {terms: {"
        'view: "old", after: $after, before: $before, offset: $offset, limit: 100}}) '
        "{ results { _id postedAt } } }"
    )
    first = results(post_gql(client, server.url, query, after=SAME_TS))
    assert len(first) == 100 and {p["postedAt"] for p in first} == {SAME_TS}
    assert [p["_id"] for p in first] == sorted((p["_id"] for p in first), reverse=True)  # _id: -1
    assert results(post_gql(client, server.url, query, after=first[-1]["postedAt"])) == first
    window = {"after": SAME_TS, "before": "2019-06-01T12:00:00.001Z"}
    pages = [
        results(post_gql(client, server.url, query, offset=n, **window)) for n in (0, 100, 200, 300)
    ]
    ids = [p["_id"] for page in pages for p in page]
    assert len(ids) == len(set(ids)) == 250


def test_single_post_by_id(server: ForumServer, client: httpx.Client) -> None:
    post = next(p for p in server.data.posts.values() if p["htmlBody"])
    query = (
        "query($id: String) { post(input: {selector: {_id: $id}}) "
        "{ result { _id htmlBody contents { html wordCount } user { displayName } } } }"
    )
    found = post_gql(client, server.url, query, id=post["_id"]).json()["data"]["post"]["result"]
    assert found["htmlBody"] == found["contents"]["html"] == post["htmlBody"]
    assert found["contents"]["wordCount"] > 0
    missing = post_gql(client, server.url, query, id="NoSuchPost1234567").json()
    assert missing["data"] == {"post": None}
    assert missing["errors"][0]["message"] == "app.missing_document"
    assert missing["errors"][0]["path"] == ["post"]
    allow = '{ post(selector: {_id: "NoSuchPost1234567"}, allowNull: true) { result { _id } } }'
    assert post_gql(client, server.url, allow).json() == {"data": {"post": {"result": None}}}


def test_alignment_forum_forces_af_and_its_own_host(
    server: ForumServer, client: httpx.Client
) -> None:
    found = results(
        post_gql(
            client,
            server.site_url("alignmentforum"),
            posts_query('view: "new", limit: 200', "_id af pageUrl"),
        )
    )
    assert found and all(p["af"] for p in found)
    assert all(p["pageUrl"].startswith("https://www.alignmentforum.org/posts/") for p in found)
    lw = results(
        post_gql(
            client, server.url, posts_query('view: "new", af: true, limit: 200', "_id pageUrl")
        )
    )
    assert [p["_id"] for p in lw] == [p["_id"] for p in found]
    assert all(p["pageUrl"].startswith("https://www.lesswrong.com/posts/") for p in lw)


def test_edits_move_modified_at_but_votes_do_not(fresh: ForumServer) -> None:
    posts = sorted(fresh.data.posts.values(), key=lambda p: p["postedAt"])
    edited, voted = posts[3], posts[4]
    fresh.data.edit_post(edited["_id"], html="<p>Edited.</p>", now="2031-01-01T00:00:00Z")
    fresh.data.set_score(voted["_id"], 999)
    comment = next(iter(fresh.data.comments.values()))
    fresh.data.edit_comment(comment["_id"], "<p>Edited comment.</p>", now="2031-01-02T00:00:00Z")
    posts_q = posts_query(
        'view: "old", timeField: "modifiedAt", after: "2030-12-31", limit: 100',
        "_id htmlBody modifiedAt",
    )
    comments_q = comments_query(
        'view: "allRecentComments", timeField: "lastEditedAt", after: "2031-01-01", limit: 100',
        "_id htmlBody",
    )
    with httpx.Client(headers=UA) as c:
        changed = results(post_gql(c, fresh.url, posts_q))
        changed_comments = results(post_gql(c, fresh.url, comments_q), "comments")
        score = post_gql(
            c,
            fresh.url,
            f'{{ post(selector: {{_id: "{voted["_id"]}"}}) '
            "{ result { baseScore modifiedAt } } }",
        )
    assert changed == [
        {
            "_id": edited["_id"],
            "htmlBody": "<p>Edited.</p>",
            "modifiedAt": "2031-01-01T00:00:00.000Z",
        }
    ]
    assert changed_comments == [{"_id": comment["_id"], "htmlBody": "<p>Edited comment.</p>"}]
    assert score.json()["data"]["post"]["result"] == {
        "baseScore": 999,
        "modifiedAt": voted["postedAt"],
    }


def test_deleted_post_leaves_lists_and_lookups(fresh: ForumServer) -> None:
    victim = next(iter(fresh.data.posts.values()))
    fresh.data.delete_post(victim["_id"])
    with httpx.Client(headers=UA) as c:
        listed = results(post_gql(c, fresh.url, posts_query('view: "old", limit: 5000', "_id")))
        single = post_gql(
            c, fresh.url, f'{{ post(selector: {{_id: "{victim["_id"]}"}}) {{ result {{ _id }} }} }}'
        )
    assert victim["_id"] not in {p["_id"] for p in listed}
    assert single.json()["errors"][0]["message"] == "app.missing_document"


# -- comment views ----------------------------------------------------------------------------


def test_all_recent_comments_defaults_to_five_and_hides_deleted(fresh: ForumServer) -> None:
    query = comments_query('view: "allRecentComments"', "_id postedAt")
    with httpx.Client(headers=UA) as c:
        before = results(post_gql(c, fresh.url, query), "comments")
        fresh.data.delete_comment(before[0]["_id"])
        fresh.data.delete_comment(before[1]["_id"], public=True)
        after = results(post_gql(c, fresh.url, query), "comments")
        post_id = fresh.data.comments[before[1]["_id"]]["postId"]
        thread_q = comments_query(f'view: "postCommentsOld", postId: "{post_id}"', "_id deleted")
        thread = results(post_gql(c, fresh.url, thread_q), "comments")
    assert len(before) == len(after) == 5
    stamps = [x["postedAt"] for x in before]
    assert stamps == sorted(stamps, reverse=True)
    assert {before[0]["_id"], before[1]["_id"]}.isdisjoint(x["_id"] for x in after)
    assert after[:3] == before[2:]
    shown = {x["_id"]: x["deleted"] for x in thread}
    assert shown.get(before[1]["_id"]) is True and before[0]["_id"] not in shown


def test_all_recent_comments_honours_after_and_sort_by(
    server: ForumServer, client: httpx.Client
) -> None:
    query = comments_query(
        'view: "allRecentComments", sortBy: "oldest", after: "2019-01-01", '
        'before: "2019-07-01", limit: 1000',
        "_id postedAt",
    )
    found = results(post_gql(client, server.url, query), "comments")
    stamps = [x["postedAt"] for x in found]
    assert found and stamps == sorted(stamps)
    assert stamps[0] >= "2019-01-01T00:00:00.000Z" and stamps[-1] < "2019-07-01T00:00:00.000Z"


def _question_with_answers(server: ForumServer) -> str:
    for post_id in (str(p["_id"]) for p in server.data.posts.values() if p["question"]):
        thread = server.data.thread(post_id)
        if (
            any(c["answer"] for c in thread)
            and any(c["parentAnswerId"] for c in thread)
            and any(not c["answer"] and not c["parentAnswerId"] for c in thread)
        ):
            return post_id
    raise AssertionError("The sample should have a question with answers, replies and comments")


def test_post_comments_old_skips_answers_and_ignores_dates(
    server: ForumServer, client: httpx.Client
) -> None:
    post_id = _question_with_answers(server)
    thread = results(
        post_gql(
            client, server.url, comments_query(f'view: "postCommentsOld", postId: "{post_id}"')
        ),
        "comments",
    )
    assert thread and all(not c["answer"] and c["parentAnswerId"] is None for c in thread)
    assert [c["postedAt"] for c in thread] == sorted(c["postedAt"] for c in thread)
    dated = comments_query(f'view: "postCommentsOld", postId: "{post_id}", after: "2100-01-01"')
    assert results(post_gql(client, server.url, dated), "comments") == thread
    answers = results(
        post_gql(
            client, server.url, comments_query(f'view: "questionAnswers", postId: "{post_id}"')
        ),
        "comments",
    )
    assert answers and all(c["answer"] for c in answers)
    both = results(
        post_gql(
            client, server.url, comments_query(f'view: "answersAndReplies", postId: "{post_id}"')
        ),
        "comments",
    )
    replies = [c for c in both if not c["answer"]]
    assert replies and all(c["parentAnswerId"] and c["parentCommentId"] for c in replies)
    everything = {c["_id"] for c in server.data.thread(post_id)}
    assert {c["_id"] for c in thread} | {c["_id"] for c in both} == everything


def test_comments_without_view_ignore_post_id(server: ForumServer, client: httpx.Client) -> None:
    post_id = _question_with_answers(server)
    found = results(
        post_gql(
            client,
            server.url,
            comments_query(f'postId: "{post_id}", limit: 50', "_id postId postedAt"),
        ),
        "comments",
    )
    assert {c["postId"] for c in found} != {post_id}
    assert [c["postedAt"] for c in found] == sorted((c["postedAt"] for c in found), reverse=True)


# -- transport --------------------------------------------------------------------------------


def test_keep_alive_connection_is_reused_and_logged(server: ForumServer) -> None:
    server.clear_requests()
    headers = {**UA, "X-LW-Bypass": "secret-value"}
    with httpx.Client(headers=headers) as c:
        for _ in range(3):
            results(post_gql(c, server.url, posts_query('view: "old", limit: 2, af: true', "_id")))
    with httpx.Client(headers=UA) as other:
        results(post_gql(other, server.url, posts_query('view: "new", limit: 1', "_id")))
    log = server.requests
    assert [r.status for r in log] == [200] * 4
    assert len({r.client for r in log[:3]}) == 1 and log[3].client != log[0].client
    assert log[0].headers["x-lw-bypass"] == "secret-value" and log[0].user_agent == UA["User-Agent"]
    assert log[0].terms == {"view": "old", "limit": 2, "af": True} and log[0].view == "old"
    assert log[0].roots == ["posts"] and log[0].server_time is not None
    assert log[1].time >= log[0].time


def test_get_batch_and_csrf(server: ForumServer, client: httpx.Client) -> None:
    query = posts_query('view: "new", limit: 2', "_id")
    assert len(results(client.get(server.url, params={"query": query}))) == 2
    ea = server.site_url("eaforum")
    blocked = client.get(ea, params={"query": query})
    assert blocked.status_code == 400 and "Cross-Site Request Forgery" in blocked.text
    allowed = client.get(ea, params={"query": query}, headers={"X-Apollo-Operation-Name": "Posts"})
    assert len(results(allowed)) == 2
    batch = client.post(
        server.url,
        json=[{"query": query}, {"query": comments_query('view: "allRecentComments"', "_id")}],
    )
    assert batch.status_code == 200
    first, second = batch.json()
    assert (
        len(first["data"]["posts"]["results"]) == 2
        and len(second["data"]["comments"]["results"]) == 5
    )


def test_missing_or_blocked_user_agent_is_403(server: ForumServer) -> None:
    query = posts_query('view: "new", limit: 1', "_id")
    for agent in ("", "curl/8.5.0"):
        with httpx.Client(headers={"User-Agent": agent}) as c:
            assert post_gql(c, server.url, query).status_code == 403


# -- faults -----------------------------------------------------------------------------------

QUERY = posts_query('view: "new", limit: 3', "_id title")


def test_status_faults_come_in_order_then_recover(
    server: ForumServer, client: httpx.Client
) -> None:
    server.faults.push(
        Fault.status(429, headers={"Retry-After": "1"}), Fault.status(500), Fault.status(503)
    )
    first, second, third, fourth = (post_gql(client, server.url, QUERY) for _ in range(4))
    assert (first.status_code, first.headers["retry-after"]) == (429, "1")
    assert (second.status_code, third.status_code) == (500, 503)
    assert len(results(fourth)) == 3
    assert [r.fault for r in server.requests] == ["status", "status", "status", None]
    assert [r.status for r in server.requests] == [429, 500, 503, 200]


def test_delay_trips_a_client_timeout(server: ForumServer, client: httpx.Client) -> None:
    server.faults.push(Fault.delay(1.0))
    with pytest.raises(httpx.ReadTimeout):
        client.post(server.url, json={"query": QUERY}, timeout=0.2)
    assert len(results(post_gql(client, server.url, QUERY))) == 3


def test_broken_bodies(server: ForumServer, client: httpx.Client) -> None:
    whole = post_gql(client, server.url, QUERY).content
    server.faults.push(
        Fault.truncated_json(), Fault.malformed_json(), Fault.truncated_json(mid_stream=True)
    )
    cut = post_gql(client, server.url, QUERY)
    assert cut.status_code == 200 and cut.content == whole[: len(whole) // 2]
    assert int(cut.headers["content-length"]) == len(cut.content)
    malformed = post_gql(client, server.url, QUERY)
    assert malformed.headers["content-type"].startswith("application/json")
    for broken in (cut, malformed):
        with pytest.raises(json.JSONDecodeError):
            broken.json()
    with pytest.raises(httpx.RemoteProtocolError):
        post_gql(client, server.url, QUERY)
    server.faults.push(Fault.disconnect())
    with pytest.raises(httpx.RemoteProtocolError):
        post_gql(client, server.url, QUERY)
    assert len(results(post_gql(client, server.url, QUERY))) == 3


def test_challenge_and_html_pages(server: ForumServer, client: httpx.Client) -> None:
    server.faults.push(Fault.challenge(), Fault.html_page())
    challenge = post_gql(client, server.url, QUERY)
    assert challenge.status_code == 429
    assert challenge.headers["x-vercel-mitigated"] == "challenge"
    assert challenge.headers["content-type"].startswith("text/html")
    assert "Vercel Security Checkpoint" in challenge.text
    page = post_gql(client, server.url, QUERY)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>")


def test_graphql_errors_partial_and_whole(server: ForumServer, client: httpx.Client) -> None:
    full = results(post_gql(client, server.url, QUERY))
    server.faults.push(
        Fault.graphql_errors(index=1),
        Fault.graphql_errors(mode="drop", index=0),
        Fault.graphql_errors(mode="field", index=2, field="title", message="not_allowed"),
        Fault.graphql_errors(partial=False),
    )
    nulled, dropped, field, whole = (post_gql(client, server.url, QUERY).json() for _ in range(4))
    assert nulled["data"]["posts"]["results"] == [full[0], None, full[2]]
    assert nulled["errors"][0]["path"] == ["posts", "results", 1]
    assert dropped["data"]["posts"]["results"] == full[1:]
    assert field["data"]["posts"]["results"][2] == {**full[2], "title": None}
    assert field["errors"][0]["path"] == ["posts", "results", 2, "title"]
    assert field["errors"][0]["message"] == "not_allowed"
    assert whole["data"] == {"posts": None} and whole["errors"][0]["path"] == ["posts"]


def test_faults_can_target_requests(server: ForumServer, client: httpx.Client) -> None:
    comments = comments_query('view: "allRecentComments"', "_id")
    server.faults.push(Fault.status(503).only(root="comments"))
    assert post_gql(client, server.url, QUERY).status_code == 200
    assert post_gql(client, server.url, comments).status_code == 503
    server.faults.push(Fault.status(500).after(2))
    assert [post_gql(client, server.url, QUERY).status_code for _ in range(4)] == [
        200,
        200,
        500,
        200,
    ]
    server.faults.push(
        Fault.challenge().repeat(None).only(predicate=lambda r: "x-retry" in r.headers)
    )
    assert post_gql(client, server.url, QUERY).status_code == 200
    for _ in range(3):
        assert (
            client.post(server.url, json={"query": QUERY}, headers={"X-Retry": "1"}).status_code
            == 429
        )
    server.faults.clear()
    assert (
        client.post(server.url, json={"query": QUERY}, headers={"X-Retry": "1"}).status_code == 200
    )


def test_control_endpoint_works_from_another_process(
    server: ForumServer, client: httpx.Client
) -> None:
    fault = (
        Fault.status(503, headers={"Retry-After": "7"}).only(site="lesswrong", view="new").to_json()
    )
    script = (
        "import httpx, json, sys; "
        "fault = json.loads(sys.argv[2]); "
        "r = httpx.post(sys.argv[1], json={'action': 'push_fault', 'fault': fault}); "
        "r.raise_for_status(); print(r.json()['pending'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, server.control_url, json.dumps(fault)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "1"
    hit = post_gql(client, server.url, QUERY)
    assert (hit.status_code, hit.headers["retry-after"]) == (503, "7")
    post_id = next(iter(server.data.posts))
    title = server.data.posts[post_id]["title"]
    edit = {
        "action": "mutate",
        "site": "lesswrong",
        "method": "edit_post",
        "kwargs": {"post_id": post_id, "title": title},
    }
    assert client.post(server.control_url, json=edit).json()["result"]["title"] == title
    log = client.post(server.control_url, json={"action": "log"}).json()["requests"]
    assert [r["status"] for r in log] == [503] and log[0]["operations"][0]["view"] == "new"
    bad = client.post(server.control_url, json={"action": "push_fault", "fault": {"kind": "nope"}})
    assert bad.status_code == 400 and "Unknown fault kind" in bad.json()["error"]


def test_fault_json_round_trips() -> None:
    fault = (
        Fault.graphql_errors(mode="field", index=3, field="htmlBody")
        .only(root="posts")
        .after(1)
        .repeat(2)
    )
    assert Fault.from_json(json.loads(json.dumps(fault.to_json()))) == fault
    forever = Fault.challenge().repeat(None)
    assert Fault.from_json(forever.to_json()) == forever


# -- corpus data ------------------------------------------------------------------------------


def test_corpus_posts_map_to_forummagnum_fields(sample: dict[str, list[dict[str, Any]]]) -> None:
    ea, lw = sample["eaforum"], sample["lesswrong"]
    assert all(re.fullmatch(r"[A-Za-z0-9]{17}|[0-9a-f]{24}", p["_id"]) for p in ea + lw)
    assert all(p["pageUrl"].startswith(f"{EAFORUM_ORIGIN}/posts/{p['_id']}/") for p in ea)
    assert all(
        p["pageUrl"].endswith("/" + p["slug"]) for p in ea + lw if "/events/" not in p["pageUrl"]
    )
    assert not any((p["htmlBody"] or "").lstrip().startswith("<html") for p in ea + lw)
    af = [p for p in lw if p["af"]]
    assert af and all(any(t["name"] == "AI" for t in p["tags"]) for p in af)
    again = split_by_site(load_corpus_posts(CORPUS / "sample" / "posts_sample.jsonl"))["eaforum"]
    assert [p["_id"] for p in again] == [p["_id"] for p in ea]


def test_comment_threads_are_realistic_and_deterministic(
    sample: dict[str, list[dict[str, Any]]], threads: dict[str, list[dict[str, Any]]]
) -> None:
    comments = threads["lesswrong"]
    texts = load_comment_texts(CORPUS, sample["lesswrong"] + sample["eaforum"])
    assert build_comment_threads(sample["lesswrong"], seed=7, texts=texts) == comments
    by_id = {c["_id"]: c for c in comments}
    posts = {p["_id"]: p for p in sample["lesswrong"]}
    depths = []
    for c in comments:
        assert re.fullmatch(r"[A-Za-z0-9]{17}", c["_id"])
        assert c["postedAt"] > posts[c["postId"]]["postedAt"]
        depth, node = 1, c
        while node["parentCommentId"]:
            parent = by_id[node["parentCommentId"]]
            assert node["postedAt"] > parent["postedAt"] and parent["postId"] == c["postId"]
            node, depth = parent, depth + 1
        depths.append(depth)
        assert c["topLevelCommentId"] == (node["_id"] if c["parentCommentId"] else None)
        assert c["parentAnswerId"] == (
            node["_id"] if c["parentCommentId"] and node["answer"] else None
        )
        assert not c["answer"] or (posts[c["postId"]]["question"] and not c["parentCommentId"])
        assert not c["af"] or posts[c["postId"]]["af"]
    assert max(depths) == 5
    data = ForumData(sample["lesswrong"])
    data.add_comments(comments)
    linked = [
        c
        for c in data.comments.values()
        if '<p>See also: <a href="https://www.lesswrong' in c["htmlBody"]
    ]
    assert linked and all(c["pingbacks"]["Posts"][0] in data.posts for c in linked)


def test_command_line_serves_the_sample() -> None:
    command = [sys.executable, "-m", "tests.servers.forum", "--corpus", str(CORPUS), "--port", "0"]
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(5)]
            urls = dict(line.split(" ", 1) for line in lines[:4])
            assert lines[4] == "ready" and set(urls) == {
                "lesswrong",
                "alignmentforum",
                "eaforum",
                "control",
            }
            with httpx.Client(headers=UA) as c:
                assert (
                    len(
                        results(
                            post_gql(
                                c, urls["eaforum"], posts_query('view: "old", limit: 4', "_id")
                            )
                        )
                    )
                    == 4
                )
        finally:
            process.terminate()
            process.communicate(timeout=30)
    assert process.returncode == 0


def test_concurrent_clients_while_data_changes(fresh: ForumServer) -> None:
    query = posts_query('view: "old", limit: 50', "_id title modifiedAt")
    statuses: list[int] = []

    def hammer() -> None:
        with httpx.Client(headers=UA) as c:
            statuses.extend(post_gql(c, fresh.url, query).status_code for _ in range(20))

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for worker in workers:
        worker.start()
    for i, post_id in enumerate(list(fresh.data.posts)[:60]):
        fresh.data.edit_post(post_id, title=f"Edited {i}", now=f"2032-01-01T00:00:{i:02d}Z")
    for worker in workers:
        worker.join()
    assert statuses == [200] * 80
    assert len({r.client for r in fresh.requests}) == 4
