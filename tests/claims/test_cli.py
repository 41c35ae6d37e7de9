"""`tracker claim …` and `tracker export claims` through the CLI: output, errors, exit codes,
and export files parsed back."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.claims.conftest import GOODHART, doc, one_line_error, put, run, run_json
from tracker.config import load_settings
from tracker.store.engine import make_engine

HOSTILE = "Evil \x1b[31mred\x1b[0m title \u202e [x](y) <z> #tag @user *b* _i_ \\"


@pytest.fixture
def engine() -> Engine:
    """The CLI's own store (TRACKER_HOME), seeded with three documents."""
    engine = make_engine(load_settings().sqlalchemy_url)
    put(engine, doc("g", "Goodhart's law", GOODHART),
        doc("h", HOSTILE, "Optimisation is fine: proxies hold up well in practice. 🙂 "
            "Never say never.", author="Zoë «Q» O'Neil"),
        doc("u", "", "短文。"))
    return engine


def seed(engine: Engine) -> dict[str, Any]:
    """Two claims with confirmed, stale and rejected links, through the CLI."""
    a = run_json("claim", "add", "Optimising a proxy hard breaks it")
    b = run_json("claim", "add", "Proxies hold up 🙂 [really] <b>")
    sup = run_json("claim", "tag", str(a["id"]), "g", "--quote",
                   "when a measure becomes a target it ceases to be a good measure",
                   "--stance", "supports", "--note", "classic *statement*")
    opp = run_json("claim", "tag", str(a["id"]), "h", "--quote", "proxies hold up well",
                   "--stance", "opposes")
    men = run_json("claim", "tag", str(b["id"]), "g", "--quote", "Extremal Goodhart",
                   "--stance", "mentions")
    gone = run_json("claim", "tag", str(a["id"]), "h", "--quote", "Never say never",
                    "--stance", "supports")
    rej = run_json("claim", "tag", str(b["id"]), "h", "--quote", "Optimisation is fine",
                   "--stance", "supports")
    run_json("claim", "reject", str(rej["id"]))
    put(engine, doc("h", HOSTILE, "Optimisation is fine: proxies hold up well in practice. 🙂",
                    author="Zoë «Q» O'Neil"))  # "Never say never" is gone: stale
    return {"a": a, "b": b, "sup": sup, "opp": opp, "men": men, "gone": gone, "rej": rej}


def test_claim_commands_round_trip(engine: Engine) -> None:
    ids = seed(engine)
    a = ids["a"]["id"]
    assert ids["sup"]["quote"] == "When a measure becomes a target, it ceases to be a good measure"
    assert ids["sup"]["matched"] == "loose" and ids["sup"]["current"] is True
    shown = run_json("claim", "show", str(a))
    assert shown["claim"]["counts"] == {"supports": 1, "opposes": 1, "mentions": 0, "stale": 1,
                                        "suggested": 0, "rejected": 0}
    by_id = {k["id"]: k for k in shown["links"]}
    assert by_id[ids["gone"]["id"]]["status"] == "stale"
    assert by_id[ids["gone"]["id"]]["current"] is False
    assert by_id[ids["opp"]["id"]]["current"] is True  # moved with the edit
    code, out, _ = run("claim", "show", str(a))
    assert code == 0
    assert "\nFor (1)" in out and "\nAgainst (1)" in out and "\nStale: the quote" in out
    assert "\x1b" not in out and "\u202e" not in out
    code, out, _ = run("claim", "list")
    assert code == 0 and re.search(rf"^\s+{a}\s+\+1 -1 ~0 \(1 stale\)\s+Optimising", out, re.M)
    listed = run_json("claim", "list")["claims"]
    assert [c["id"] for c in listed] == [a, ids["b"]["id"]]
    edited = run_json("claim", "edit", str(a), "Optimising", "a", "proxy", "breaks", "it")
    assert edited["text"] == "Optimising a proxy breaks it"


def test_merge_and_delete_through_the_cli(engine: Engine) -> None:
    ids = seed(engine)
    a, b = ids["a"]["id"], ids["b"]["id"]
    before = {k["id"] for k in run_json("claim", "show", str(a))["links"]} | \
        {k["id"] for k in run_json("claim", "show", str(b))["links"]}
    merged = run_json("claim", "merge", str(b), str(a))
    assert merged["moved"] == 2 and merged["into"]["id"] == a
    after = {k["id"] for k in run_json("claim", "show", str(a))["links"]}
    assert after == before
    code, _, err = run("claim", "show", str(b))
    assert code == 0 and f"merged into claim {a}" in err
    code, _, err = run("claim", "delete", str(a))
    assert code == 1 and "add --yes" in one_line_error(err)
    code, out, _ = run("claim", "delete", str(a), "--yes")
    assert code == 0 and out.strip() == f"deleted claim {a} and {len(before)} links"
    assert run_json("claim", "list", "--all")["claims"] == []


@pytest.mark.parametrize(("args", "code", "message"), [
    (("claim", "show", "999"), 1, "No claim 999. `tracker claim list` shows the claims"),
    (("claim", "tag", "999", "g", "--quote", "x", "--stance", "supports"), 1, "No claim 999"),
    (("claim", "accept", "42"), 1, "No claim link 42"),
    (("claim", "reject", "0"), 1, "No claim link 0"),
    (("claim", "merge", "1", "999"), 1, "No claim"),
    (("claim", "edit", "999", "text"), 1, "No claim 999"),
    (("claim", "delete", "999"), 1, "No claim 999"),
    (("claim", "suggest", "999"), 1, "No claim 999"),
    (("claim", "add", "   "), 1, "A claim needs text"),
    (("claim", "add", "\x1b[2J\x00"), 1, "A claim needs text"),
])
def test_bad_ids_and_empty_claims_are_one_line_errors(engine: Engine, args: tuple[str, ...],
                                                      code: int, message: str) -> None:
    run_json("claim", "add", "one claim")
    got, _, err = run(*args)
    assert got == code
    assert message in one_line_error(err)


def test_bad_quotes_are_one_line_errors(engine: Engine) -> None:
    claim = str(run_json("claim", "add", "a claim")["id"])
    cases = [
        ("g", "x" * (len(GOODHART) + 10), "is longer than the text of document"),
        ("u", "短文。 and then a lot more than the document holds", "is longer than the text"),
        ("g", "", "The quote is empty"),
        ("g", "proxies never break under pressure", "is not in document"),
        ("g", "the proxy", "occurs 2 times"),
        ("nope", "x", "No document 'nope'"),
    ]
    for ref, quote, message in cases:
        code, _, err = run("claim", "tag", claim, ref, "--quote", quote, "--stance", "supports")
        assert code == 1 and message in one_line_error(err), (quote, err)
    code, _, err = run("claim", "tag", claim, "g", "--quote", "x", "--stance", "refutes")
    assert code == 2 and "refutes" in err
    code, _, err = run("claim", "show", "abc")
    assert code == 2 and "not a valid integer" in err
    assert run_json("claim", "show", claim)["links"] == []


def test_quote_from_stdin_and_unicode(engine: Engine) -> None:
    claim = str(run_json("claim", "add", "短文 claim 🙂")["id"])
    code, out, err = run("claim", "tag", claim, "u", "--quote", "-", "--stance", "mentions",
                         input="短文。\n")
    assert code == 0, err
    assert re.match(r"link \d+: claim \d+ mentions ← document \d+ \[0:3\]", out)


def test_stale_link_is_offered_for_reconfirmation(engine: Engine) -> None:
    ids = seed(engine)
    gone = str(ids["gone"]["id"])
    code, _, err = run("claim", "accept", gone)
    assert code == 1
    assert f'tracker claim accept {gone} --quote "…"' in one_line_error(err)
    fixed = run_json("claim", "accept", gone, "--quote", "🙂")
    assert fixed["status"] == "confirmed" and fixed["quote"] == "🙂" and fixed["current"]


# --- exports -----------------------------------------------------------------------------------


def export(fmt: str, tmp_path: Path, *extra: str) -> str:
    out = tmp_path / f"map.{fmt}"
    code, _, err = run("export", "claims", "--format", fmt, "--out", str(out), *extra)
    assert code == 0 and "wrote 2 claims" in err
    return out.read_text(encoding="utf-8")


def test_json_export_parses_back(engine: Engine, tmp_path: Path) -> None:
    ids = seed(engine)
    data = json.loads(export("json", tmp_path))
    assert data["format"] == "tracker-claim-map" and data["version"] == 1
    [a, b] = data["claims"]
    assert a["text"] == "Optimising a proxy hard breaks it"
    assert {k["status"] for k in a["links"]} == {"confirmed", "stale"}
    assert ids["rej"]["id"] not in {k["id"] for k in b["links"]}  # rejected: only with --all
    assert all(k["document"]["title"] == k["document"]["title"].replace("\x1b", "")
               for k in a["links"])
    everything = json.loads(export("json", tmp_path, "--all"))
    assert ids["rej"]["id"] in {k["id"] for c in everything["claims"] for k in c["links"]}


def test_markdown_export_parses_back(engine: Engine, tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    seed(engine)
    text = export("markdown", tmp_path)
    tokens = MarkdownIt().parse(text)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"
                and t.tag == "h2"]
    assert headings == [r"Claim 1: Optimising a proxy hard breaks it",
                        r"Claim 2: Proxies hold up 🙂 \[really\] \<b\>"]
    rendered = MarkdownIt().render(text)
    assert "Claim 2: Proxies hold up 🙂 [really] &lt;b&gt;</h2>" in rendered
    assert "<h3>For (1)</h3>" in rendered and "<h3>Against (1)</h3>" in rendered
    assert "<blockquote>\n<p>When a measure becomes a target, it ceases to be a good measure" \
        in rendered
    assert 'href="https://example.org/g"' in rendered
    assert "Stale: the quote is no longer in the current text (1)" in rendered
    assert "\x1b" not in text and "\u202e" not in text
    assert ">Evil red title [x](y) &lt;z&gt; #tag @user *b* _i_ \\</a>" in rendered


def parse_argdown(text: str) -> dict[str, Any]:
    """The subset of Argdown that the export writes: front matter, statements, relations."""
    unescape = lambda s: re.sub(r"\\(.)", r"\1", s)  # noqa: E731
    head, _, body = text.partition("===\n")[2].partition("===\n")
    meta = dict(line.split(": ", 1) for line in head.strip().splitlines())
    claims: list[dict[str, Any]] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        statement = re.fullmatch(r"\[(Claim \d+)\]: (.*) #claim", line)
        relation = re.fullmatch(r"    ([+-]) <(Link \d+): [^<>\[\]]*>: \"(.*?)\" (.*)", line)
        comment = re.fullmatch(r"    // (\w+) (\w+): <(Link \d+): .*", line)
        if statement:
            claims.append({"title": statement[1], "text": unescape(statement[2]), "rel": []})
        elif relation:
            claims[-1]["rel"].append((relation[1], relation[2], unescape(relation[3])))
        elif comment:
            claims[-1]["rel"].append((f"{comment[1]} {comment[2]}", comment[3], None))
        else:
            raise AssertionError(f"not Argdown this export writes: {line!r}")
    return {"meta": meta, "claims": claims}


def test_argdown_export_parses_back(engine: Engine, tmp_path: Path) -> None:
    ids = seed(engine)
    parsed = parse_argdown(export("argdown", tmp_path))
    assert parsed["meta"]["title"] == "tracker claim map"
    a, b = parsed["claims"]
    assert (a["title"], a["text"]) == ("Claim 1", "Optimising a proxy hard breaks it")
    assert b["text"] == "Proxies hold up 🙂 [really] <b>"
    assert ("+", f"Link {ids['sup']['id']}",
            "When a measure becomes a target, it ceases to be a good measure") in a["rel"]
    assert ("-", f"Link {ids['opp']['id']}", "proxies hold up well") in a["rel"]
    assert ("stale supports", f"Link {ids['gone']['id']}", None) in a["rel"]
    assert b["rel"] == [("confirmed mentions", f"Link {ids['men']['id']}", None)]


def test_jsonld_export_is_web_annotation(engine: Engine, tmp_path: Path) -> None:
    ids = seed(engine)
    data = json.loads(export("jsonld", tmp_path))
    assert data["@context"] == "http://www.w3.org/ns/anno.jsonld"
    assert data["type"] == "AnnotationCollection"
    items = data["first"]["items"]
    assert data["first"]["type"] == "AnnotationPage" and data["total"] == len(items) == 4
    for item in items:
        check_annotation(item)
    by_id = {item["id"]: item for item in items}
    sup = by_id[f"urn:tracker:claim-link:{ids['sup']['id']}"]
    [quote] = [s for s in sup["target"]["selector"] if s["type"] == "TextQuoteSelector"]
    assert quote["exact"] == "When a measure becomes a target, it ceases to be a good measure"
    assert GOODHART.index(quote["prefix"] + quote["exact"] + quote["suffix"]) >= 0
    [position] = [s for s in sup["target"]["selector"] if s["type"] == "TextPositionSelector"]
    assert GOODHART[position["start"] : position["end"]] == quote["exact"]
    assert sup["target"]["source"] == "https://example.org/g"
    bodies = {b["purpose"]: b["value"] for b in sup["body"]}
    assert bodies == {"linking": "Optimising a proxy hard breaks it", "classifying": "supports",
                      "tagging": "confirmed", "commenting": "classic *statement*"}
    stale = by_id[f"urn:tracker:claim-link:{ids['gone']['id']}"]
    assert stale["target"]["state"]["type"] == "TimeState"
    assert {b["value"] for b in stale["body"]} >= {"stale"}


_MOTIVATIONS = {"assessing", "bookmarking", "classifying", "commenting", "describing", "editing",
                "highlighting", "identifying", "linking", "moderating", "questioning",
                "replying", "tagging"}


def check_annotation(item: dict[str, Any]) -> None:
    """The W3C Web Annotation Data Model's shape for what the export writes."""
    assert item["type"] == "Annotation" and item["id"].startswith("urn:tracker:")
    assert item["motivation"] in _MOTIVATIONS
    for stamp in (item["created"], item["modified"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", stamp)
    for body in item["body"]:
        assert body["type"] == "TextualBody" and isinstance(body["value"], str)
        assert body["purpose"] in _MOTIVATIONS
    target = item["target"]
    assert re.match(r"https?://|urn:", target["source"])
    kinds = {s["type"]: s for s in target["selector"]}
    assert set(kinds) == {"TextQuoteSelector", "TextPositionSelector"}
    quote = kinds["TextQuoteSelector"]
    assert set(quote) == {"type", "exact", "prefix", "suffix"}
    assert all(isinstance(quote[k], str) for k in ("exact", "prefix", "suffix")) and quote["exact"]
    position = kinds["TextPositionSelector"]
    assert 0 <= position["start"] < position["end"]
    if "state" in target:
        assert target["state"]["type"] == "TimeState" and target["state"]["sourceDate"]


def test_export_to_stdout_and_an_unwritable_file(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    code, out, _ = run("export", "claims", "--format", "markdown", "--claim", "2")
    assert code == 0 and out.startswith("# Claim map") and "## Claim 1" not in out
    code, _, err = run("export", "claims", "--out", str(tmp_path / "missing" / "x.md"))
    assert code == 1 and "Cannot write" in one_line_error(err)
    code, _, err = run("export", "claims", "--format", "bibtex")
    assert code == 2


def test_suggest_accept_reject_and_check_through_the_cli(engine: Engine) -> None:
    from tests.claims.conftest import HashEmbedder
    from tests.index.conftest import run_index

    put(engine, doc("p1", "Proxies break", "Optimising a proxy hard breaks the proxy measure."),
        doc("p2", "Proxy failure", "A proxy measure breaks when optimised: Goodhart."))
    run_index(engine, HashEmbedder(name="another-model"))  # keyword search for the CLI
    claim = str(run_json("claim", "add", "Optimising a proxy measure breaks it")["id"])
    data = run_json("claim", "suggest", claim, "--limit", "5")
    assert data["learning"] == {"confirmed": 0, "rejected": 0, "classifier": False,
                                "stance_model": "cues", "stance_labels": 0, "vectors": False}
    listed = {r["link_id"] for r in data["suggestions"]}
    sides = data["supporting"] + data["opposing"]
    assert data["supporting"] and all(r["stance"] != "opposes" for r in data["supporting"])
    assert not any(r["stance"] == "supports" and r["stance_confidence"] >= 0.9
                   for r in data["opposing"])  # only confident supporters leave that side
    assert {r["link_id"] for r in sides} >= listed - {None}
    rows = data["suggestions"]
    assert rows and [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    first, second = rows[0], rows[1]
    assert first["stance"] in ("supports", "opposes", "unclear") and first["document"]["native_id"]
    assert first["passage"]["text"] and first["link_id"]
    code, out, err = run("claim", "suggest", claim)
    assert code == 0 and "[link" in out and "stance guessed from wording" in err
    accepted = run_json("claim", "accept", str(first["link_id"]), "--stance", "opposes",
                        "--note", "on reflection")
    assert (accepted["status"], accepted["stance"], accepted["origin"], accepted["note"]) == \
        ("confirmed", "opposes", "suggested", "on reflection")
    rejected = run_json("claim", "reject", str(second["link_id"]))
    assert rejected["status"] == "rejected"
    again = run_json("claim", "suggest", claim, "--limit", "50")
    assert {first["document"]["id"], second["document"]["id"]}.isdisjoint(
        r["document"]["id"] for r in again["suggestions"])
    code, out, _ = run("claim", "show", claim)
    assert "\nAgainst (1)" in out and "\nSuggested, not confirmed" in out
    checked = run_json("claim", "check", "proxies", "break", "when", "optimised")
    assert checked["claims"][0]["id"] == int(claim) and checked["passages"]
    linked = [c for p in checked["passages"] for c in p["claims"]]
    assert linked == [] or linked[0]["stance"] == "opposes"
    code, _, err = run("claim", "check")
    assert code == 1 and "Nothing to check" in one_line_error(err)
    code, _, err = run("claim", "check", "--file", "/nonexistent/draft.md")
    assert code == 1 and "Cannot read /nonexistent/draft.md" in one_line_error(err)
