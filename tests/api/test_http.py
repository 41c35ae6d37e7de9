"""`tracker api` as a subprocess, through httpx: reads, the CLI's JSON, limits and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.api.conftest import Running, Seeded, start_api, stop
from tracker.cli import cli


def cli_json(home: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict:
    monkeypatch.setenv("TRACKER_HOME", str(home))
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def without_api_fields(data: dict) -> dict:
    data = dict(data)
    data.pop("schema_version")
    data["results"] = [{k: v for k, v in r.items() if k != "cite"} for r in data["results"]]
    return data


def test_search_finds_a_known_post_and_matches_the_cli(api: Running, seeded: Seeded,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    answer = httpx.get(f"{api.url}/v1/search", params={"q": seeded.post_title, "limit": 5})
    assert answer.status_code == 200
    data = answer.json()
    assert data["schema_version"] == 1
    assert seeded.post_id in [r["document"]["id"] for r in data["results"]]
    hit = next(r for r in data["results"] if r["document"]["id"] == seeded.post_id)
    assert hit["cite"]["title"] == seeded.post_title and hit["cite"]["url"].startswith("https://")
    assert hit["cite"]["date"] and hit["cite"]["authors"]
    cli_data = cli_json(api.home, monkeypatch, "search", seeded.post_title, "--limit", "5")
    assert without_api_fields(data) == cli_data
    posted = httpx.post(f"{api.url}/v1/search", json={"query": seeded.post_title, "limit": 5,
                                                     "source": ["lesswrong", "eaforum"]})
    assert [r["document"]["id"] for r in posted.json()["results"]] == \
        [r["document"]["id"] for r in data["results"]]


def test_search_filters_apply(api: Running, seeded: Seeded) -> None:
    data = httpx.get(f"{api.url}/v1/search", params={"q": seeded.post_title,
                                                     "kind": "comment"}).json()
    assert data["filters"]["kind"] == ["comment"]
    assert all(r["document"]["kind"] == "comment" for r in data["results"])


def test_document_has_passages_with_offsets_and_revision(api: Running, seeded: Seeded) -> None:
    doc = httpx.get(f"{api.url}/v1/documents/{seeded.post_id}").json()
    assert doc["id"] == seeded.post_id and doc["title"] == seeded.post_title
    assert doc["content_hash"] and doc["passages"]
    body = doc["body_text"]
    for passage in doc["passages"]:
        assert 0 <= passage["start"] < passage["end"] <= len(body)
    window = httpx.get(f"{api.url}/v1/passages/{doc['passages'][0]['id']}",
                       params={"around": 1}).json()
    assert window["cite"]["document_id"] == seeded.post_id
    assert window["passages"][0]["id"] == doc["passages"][0]["id"]
    by_ref = httpx.get(f"{api.url}/v1/documents/lesswrong:{doc['native_id']}")
    assert by_ref.json()["id"] == seeded.post_id or doc["source"] != "lesswrong"


def test_citations_both_ways_match_the_cli(api: Running, seeded: Seeded,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cites = httpx.get(f"{api.url}/v1/citations/{seeded.post_id}").json()
    assert cites.pop("schema_version") == 1
    assert cites == cli_json(api.home, monkeypatch, "links", str(seeded.post_id))
    target = next(link["document"]["id"] for link in cites["links"] if link["document"])
    back = httpx.get(f"{api.url}/v1/citations/{target}", params={"direction": "cited_by"}).json()
    assert seeded.post_id in [link["document"]["id"] for link in back["links"] if link["document"]]


def test_claims_and_arguments_by_side(api: Running, seeded: Seeded) -> None:
    claims = httpx.get(f"{api.url}/v1/claims").json()["claims"]
    assert [c["id"] for c in claims] == [seeded.claim_id]
    claim = httpx.get(f"{api.url}/v1/claims/{seeded.claim_id}").json()
    assert [row["quote"] for row in claim["sides"]["supports"]] == [seeded.quote]
    args = httpx.get(f"{api.url}/v1/claims/{seeded.claim_id}/arguments").json()
    first = args["supporting"][0]
    assert first["origin"] == "confirmed" and first["quote"] == seeded.quote
    assert first["cite"]["document_id"] == seeded.post_id
    assert all(a["stance"] == "opposes" for a in args["opposing"] if a["origin"] == "confirmed")
    suggested_against = [a["passage_id"] for a in args["opposing"] if a["origin"] == "suggested"]
    suggested = httpx.get(f"{api.url}/v1/claims/{seeded.claim_id}/suggestions").json()
    assert all(s["link_id"] is None for s in suggested["suggestions"])  # read-only: not saved
    assert suggested_against == [s["passage"]["id"] for s in suggested["opposing"]]
    argued = httpx.get(f"{api.url}/v1/argued-before", params={"text": seeded.quote}).json()
    assert argued["schema_version"] == 1 and {"earliest", "strongest"} <= set(argued)
    assert all(p["title"] and p["quote"] for p in argued["earliest"] + argued["strongest"])
    assert httpx.get(f"{api.url}/v1/argued-before").status_code == 422  # no text


@pytest.mark.parametrize("path", ["/v1/documents/no-such-post-xyz", "/v1/claims/999",
                                  "/v1/passages/99999999", "/v1/citations/999999",
                                  "/v1/digest/latest"])
def test_unknown_ids_are_404_with_one_line(api: Running, path: str) -> None:
    answer = httpx.get(f"{api.url}{path}")
    assert answer.status_code == 404
    message = answer.json()["error"]
    assert message and "\n" not in message


def test_oversized_queries_and_bodies_are_refused(api: Running) -> None:
    huge = "alignment " * 10_240  # 100 KB
    # httpx itself refuses URLs over 64 KiB: the GET form is tried just under that.
    get = httpx.get(f"{api.url}/v1/search", params={"q": huge[:64_500]})
    assert get.status_code == 413 and "max_body_bytes" in get.json()["error"]
    post = httpx.post(f"{api.url}/v1/search", json={"query": huge})
    assert post.status_code == 413 and "bytes" in post.json()["error"]
    long = httpx.post(f"{api.url}/v1/search", json={"query": "a" * 5000})
    assert long.status_code == 413 and "max_query_chars" in long.json()["error"]
    bad = httpx.get(f"{api.url}/v1/search", params={"q": "x", "limit": 5000})
    assert bad.status_code == 422 and "max_results" in bad.json()["error"]
    typed = httpx.get(f"{api.url}/v1/search", params={"q": "x", "since": "yesterday"})
    assert typed.status_code == 422 and typed.json()["error"].startswith("query.since")


def test_writes_are_refused_when_read_only(api: Running, seeded: Seeded) -> None:
    for path, body in [(f"/v1/claims/{seeded.claim_id}/tags",
                        {"ref": str(seeded.post_id), "quote": seeded.quote}),
                       ("/v1/links/1/accept", {}), ("/v1/links/1/reject", {}),
                       (f"/v1/claims/{seeded.claim_id}/suggestions", None)]:
        answer = httpx.post(f"{api.url}{path}", json=body)
        assert answer.status_code == 403, path
        assert "api.writes" in answer.json()["error"]


def test_openapi_is_served(api: Running) -> None:
    spec = httpx.get(f"{api.url}/openapi.json").json()
    assert "/v1/search" in spec["paths"] and "/v1/claims/{claim_id}/arguments" in spec["paths"]
    assert httpx.get(f"{api.url}/docs").status_code == 200


def test_token_and_writes(seeded: Seeded, tmp_path: Path) -> None:
    running = start_api(seeded, tmp_path, TRACKER_API__TOKEN="s3cret-token",
                        TRACKER_API__WRITES="true")
    try:
        assert httpx.get(f"{running.url}/v1/claims").status_code == 401
        auth = {"Authorization": "Bearer s3cret-token"}
        tagged = httpx.post(f"{running.url}/v1/claims/{seeded.claim_id}/tags", headers=auth,
                            json={"ref": str(seeded.post_id), "quote": seeded.quote,
                                  "stance": "opposes"})
        assert tagged.status_code == 200, tagged.text
        assert tagged.json()["stance"] == "opposes" and tagged.json()["status"] == "confirmed"
        saved = httpx.post(f"{running.url}/v1/claims/{seeded.claim_id}/suggestions",
                           headers=auth).json()["suggestions"]
        if saved:  # the hash-embedded sample may rank nothing; then reject is checked on 404
            link = saved[0]["link_id"]
            rejected = httpx.post(f"{running.url}/v1/links/{link}/reject", headers=auth)
            assert rejected.json()["status"] == "rejected"
        missing = httpx.post(f"{running.url}/v1/links/999999/reject", headers=auth)
        assert missing.status_code == 404
    finally:
        err = stop(running)
    assert "s3cret-token" not in err


def test_non_loopback_bind_without_token_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    for args in (["api", "--host", "0.0.0.0"], ["mcp", "--http", "--host", "0.0.0.0"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert "without a token" in lines[-1] and "TRACKER_API__TOKEN" in lines[-1]


def test_token_in_config_file_is_refused(tmp_path: Path) -> None:
    home = Path(__import__("os").environ["TRACKER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[api]\ntoken = "oops"\n')
    result = CliRunner().invoke(cli, ["api"])
    assert result.exit_code == 2
    assert "TRACKER_API__TOKEN" in result.stderr
