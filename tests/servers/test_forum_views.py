"""The ForumMagnum test server against the real protocol (shared/reference/sources.md §1):
validation, post and comment views. Every test talks HTTP to a server on 127.0.0.1 with httpx,
as the tracker's client will.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.servers.forum import (
    EAFORUM_ORIGIN,
    ForumData,
    ForumServer,
    make_same_timestamp_posts,
)
from tests.servers.gql import (
    FIXTURES,
    SAME_TS,
    UA,
    comments_query,
    post_gql,
    posts_query,
    results,
)

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
