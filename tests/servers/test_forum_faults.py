"""The ForumMagnum test server's transport, faults, control endpoint and corpus data, over HTTP on
127.0.0.1.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers.forum import (
    EAFORUM_ORIGIN,
    Fault,
    ForumData,
    ForumServer,
    build_comment_threads,
    load_comment_texts,
    load_corpus_posts,
    split_by_site,
)
from tests.servers.gql import (
    CORPUS,
    QUERY,
    UA,
    comments_query,
    post_gql,
    posts_query,
    results,
)

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


def test_control_endpoint_works_from_another_process(fresh: ForumServer) -> None:
    # A server of its own: on the shared one, a request that an earlier test gave up on (a
    # client timeout) can still finish and be logged after this test cleared the log.
    server = fresh
    with httpx.Client(headers=UA, timeout=10) as client:
        _drive_control_endpoint(server, client)


def _drive_control_endpoint(server: ForumServer, client: httpx.Client) -> None:
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
