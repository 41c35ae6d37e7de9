"""The search screen, driven by keys and the mouse over the seeded sample corpus."""

from __future__ import annotations

from datetime import date

from rich.text import Text
from sqlalchemy import Engine
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Input, Select

from tracker.tui.app import TrackerApp
from tracker.tui.library import Query
from tracker.tui.messages import OpenDocument
from tracker.tui.screens.reader import ReaderScreen
from tracker.tui.screens.search import SearchScreen
from tracker.tui.widgets.filters import FilterBar
from tracker.tui.widgets.results import ResultList, hit_text
from tracker.workbench import Workbench

from .conftest import SIZE
from .pilots import settle, wait_until

PARETO = "Being the (Pareto) Best in the World"


def screen_of(app: TrackerApp) -> SearchScreen:
    screen = app.screen
    assert isinstance(screen, SearchScreen)
    return screen


async def shows(pilot: Pilot[None], query: Query) -> ResultList:
    """Wait until the screen shows the results of exactly `query`; its result list."""
    screen = screen_of(pilot.app)  # type: ignore[arg-type]
    await wait_until(pilot, lambda: screen.outcome is not None and screen.outcome.query == query,
                     f"results of {query}")
    return screen.query_one(ResultList)


async def type_query(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*text)


def status_text(app: TrackerApp) -> str:
    return str(screen_of(app).query_one("#status").render())


async def test_typing_shows_results_as_workbench_finds_them(
        app: TrackerApp, workbench: Workbench) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert screen_of(app).focused is screen_of(app).query_one("#query")
        await type_query(pilot, "pareto best in the world")
        results = await shows(pilot, Query("pareto best in the world"))
        expected = workbench.search(Query("pareto best in the world"))
        assert results.hits[0].title == PARETO
        assert [h.document_id for h in results.hits] == [h.document_id for h in expected.hits]
        assert results.option_count == len(expected.hits) == 30
        assert status_text(app).startswith("30 results · ")


async def test_each_result_shows_title_facts_context_and_highlighted_words(
        app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_query(pilot, "predict-o-matic")
        results = await shows(pilot, Query("predict-o-matic"))
        # Several stored posts are about Predict-O-Matic (their order is the ranking's
        # business, tested elsewhere); this test is about how one result looks.
        at = next(i for i, h in enumerate(results.hits)
                  if h.title == "The Parable of Predict-O-Matic")
        top = results.hits[at]
        prompt = results.get_option_at_index(at).prompt
        assert isinstance(prompt, Text)
        lines = prompt.plain.split("\n")
        assert lines[0] == top.title == "The Parable of Predict-O-Matic"
        assert top.af
        assert lines[1] == f"abramdemski · {top.date} · lesswrong · AF · {top.karma:g} karma · post"
        assert lines[2] == top.snippet
        assert top.highlights
        start, end = top.highlights[0]
        styled = {str(span.style) for span in prompt.spans
                  if span.start <= len(prompt.plain) - len(top.snippet) + start < span.end}
        assert "bold reverse" in styled
        comment = next(h for h in results.hits if h.kind == "comment")
        assert hit_text(comment).plain.split("\n")[2] == comment.context
        assert comment.context.startswith("on: ")


async def test_typing_fast_shows_the_final_query_only(
        app: TrackerApp, workbench: Workbench) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_query(pilot, "moral")
        await pilot.press(*["backspace"] * 5)
        await type_query(pilot, "predict-o-matic")
        results = await shows(pilot, Query("predict-o-matic"))
        await settle(pilot)  # every earlier search has answered: a late one must not win
        screen = screen_of(app)
        assert screen.outcome is not None and screen.outcome.query.text == "predict-o-matic"
        expected = workbench.search(Query("predict-o-matic"))
        assert [h.document_id for h in results.hits] == [h.document_id for h in expected.hits]


async def test_empty_query_shows_a_hint_and_no_match_says_so(app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "Type to search" in status_text(app)
        await type_query(pilot, "moral")
        results = await shows(pilot, Query("moral"))
        assert results.hits
        await pilot.press("ctrl+u")  # clear the input
        await wait_until(pilot, lambda: screen_of(app).outcome is None, "cleared results")
        assert results.option_count == 0
        assert "Type to search" in status_text(app)


async def test_filters_narrow_the_results(app: TrackerApp, workbench: Workbench) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        bar = screen_of(app).query_one(FilterBar)
        await wait_until(pilot, lambda: "eaforum" in _source_values(bar), "source choices")
        await type_query(pilot, "pareto best in the world")
        await shows(pilot, Query("pareto best in the world"))
        # tab to the source choice, open it, pick eaforum
        await pilot.press("tab", "enter")
        index = _source_values(bar).index("eaforum")
        await pilot.press(*["down"] * (index + 1), "enter")  # +1: the "any source" line
        wanted = Query("pareto best in the world", sources=("eaforum",))
        results = await shows(pilot, wanted)
        assert results.hits and {h.source for h in results.hits} == {"eaforum"}
        assert [h.document_id for h in results.hits] == \
            [h.document_id for h in workbench.search(wanted).hits]
        assert "filters: eaforum" in status_text(app)
        # the kind choice is next: any kind, post, comment
        await pilot.press("tab", "enter", "down", "down", "enter")
        results = await shows(pilot, Query("pareto best in the world", sources=("eaforum",),
                                           kinds=("comment",)))
        assert results.hits and {h.kind for h in results.hits} == {"comment"}


async def test_author_dates_and_karma_apply_on_enter(app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_query(pilot, "effective")
        await shows(pilot, Query("effective"))
        await pilot.press("tab", "tab", "tab", *"johnswentworth", "enter")
        results = await shows(pilot, Query("effective", authors=("johnswentworth",)))
        assert results.hits and all("johnswentworth" in h.authors for h in results.hits)
        await pilot.press("ctrl+u", "enter", "tab", *"2019-01-01", "enter")
        results = await shows(pilot, Query("effective", since=date(2019, 1, 1)))
        assert results.hits and all(h.date >= "2019-01-01" for h in results.hits)
        await pilot.press("tab", "tab", *"100", "enter")
        results = await shows(pilot, Query("effective", since=date(2019, 1, 1), min_score=100))
        assert results.hits
        assert all(h.karma is not None and h.karma >= 100 for h in results.hits)


async def test_a_bad_date_is_a_notification_not_a_crash(app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_query(pilot, "effective")
        await shows(pilot, Query("effective"))
        since = screen_of(app).query_one("#since", Input)
        since.focus()
        await pilot.press(*"2020-13-45", "enter")
        await pilot.pause()
        assert any("not a real date" in str(n.message) for n in app._notifications)
        assert since.has_class("-bad")
        await pilot.press("ctrl+u", *"2020", "tab")  # leaving the field applies it too
        await pilot.pause()
        assert any("write it as YYYY-MM-DD" in str(n.message) for n in app._notifications)
        until = screen_of(app).query_one("#until", Input)
        since.clear()
        since.insert_text_at_cursor("2021-01-01")
        until.focus()
        await pilot.press(*"2020-01-01", "enter")
        await pilot.pause()
        assert any("is after until" in str(n.message) for n in app._notifications)
        # the search still runs unfiltered and the screen still works
        assert screen_of(app).query_one(FilterBar).filters.since is None
        await pilot.press("escape", *"moral")  # back in the query, its text selected
        await shows(pilot, Query("moral"))


async def test_enter_on_a_result_opens_the_reader(app: TrackerApp) -> None:
    messages: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await type_query(pilot, "pareto best in the world")
        results = await shows(pilot, Query("pareto best in the world"))
        await pilot.press("down")
        assert screen_of(app).focused is results
        await pilot.press("j", "k", "enter")
        await pilot.pause()
        # the hook sees the message at each node it bubbles through; count it once
        opened = list({id(m): m for m in messages if isinstance(m, OpenDocument)}.values())
        assert [(m.document_id, m.at) for m in opened] == \
            [(results.hits[0].document_id, results.hits[0].at)]
        assert isinstance(app.screen, ReaderScreen)
        assert app.screen.document_id == results.hits[0].document_id


async def test_keys_move_between_query_and_results(app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        query = screen_of(app).query_one("#query", Input)
        await type_query(pilot, "jk moral")  # j and k are letters in the input
        assert query.value == "jk moral"
        results = await shows(pilot, Query("jk moral"))
        await pilot.press("escape")
        assert screen_of(app).focused is results
        await pilot.press("j", "j")
        assert results.highlighted == 2
        await pilot.press("k", "k", "up")  # up from the first result: back to the query
        assert screen_of(app).focused is query
        await pilot.press("enter")  # enter in the query searches now and goes to the results
        assert screen_of(app).focused is results
        await pilot.press("slash")
        assert screen_of(app).focused is query
        bar = screen_of(app).query_one(FilterBar)
        await pilot.press("f6")
        assert not bar.display and screen_of(app).focused is query
        await pilot.press("f6")
        assert bar.display and screen_of(app).focused is bar.query_one("#source")


async def test_clicking_a_result_opens_it(app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_query(pilot, "predict-o-matic")
        results = await shows(pilot, Query("predict-o-matic"))
        await pilot.pause()
        assert await pilot.click(ResultList, offset=(4, 0))
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen)
        assert app.screen.document_id == results.hits[0].document_id


async def test_hostile_queries_neither_crash_nor_inject_markup(app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(app)
        query = screen.query_one("#query", Input)
        for text in ['"AND( *', "moral " * 1700, "\x1b[31mred\x1b[0m \x1b]0;title\x07 moral"]:
            query.value = text
            results = await shows(pilot, Query(query.value))
            assert all(isinstance(o.prompt, Text) for o in results._options)
        # no result at all (karma above any): the status names the query literally
        screen.query_one("#min-karma", Input).focus()
        await pilot.press(*"999999", "enter")
        query.value = "[bold red]zzqq[/] [link=http://x]q[/link]"
        results = await shows(pilot, Query(query.value, min_score=999999))
        assert results.option_count == 0
        assert status_text(app).startswith("no results for “[bold red]zzqq[/] [link=http://x]")
        assert app.is_running


def _source_values(bar: FilterBar) -> list[str]:
    select: Select[str] = bar.query_one("#source", Select)
    return [value for _, value in select._options if isinstance(value, str)]


async def test_a_failing_search_is_a_notification(app: TrackerApp, engine: Engine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_query(pilot, "moral")
        await shows(pilot, Query("moral"))
        with engine.begin() as conn:  # a broken store: the documents are gone
            conn.exec_driver_sql("ALTER TABLE document RENAME TO gone")
        await type_query(pilot, "ity")
        await wait_until(pilot, lambda: "search failed" in status_text(app), "the failure")
        assert any(n.severity == "error" for n in app._notifications)
        assert app.is_running


async def test_results_refresh_when_the_index_catches_up(app: TrackerApp, engine: Engine) -> None:
    """A post synced but not yet indexed is found, without retyping, once an index run has
    split it."""
    from .reading import insert_post

    document_id = insert_post(engine, "zx1", "Quokka alignment", "Quokkas are corrigible. " * 40)
    async with app.run_test(size=SIZE) as pilot:
        await type_query(pilot, "quokka corrigible")
        results = screen_of(app).query_one(ResultList)
        await wait_until(pilot, lambda: screen_of(app).outcome is not None, "a first search")
        assert document_id not in [h.document_id for h in results.hits]
        assert len(results.hits) >= 2
        await pilot.press("down", "j")  # the cursor on the second result
        chosen = results.highlighted_hit
        assert chosen is not None and chosen.document_id == results.hits[1].document_id
        assert app.start_job("index")
        await wait_until(pilot, lambda: document_id in [h.document_id for h in results.hits],
                         "the new post among the results")
        assert screen_of(app).query_one("#query", Input).value == "quokka corrigible"
        # The same search run again: the cursor stays on the document it was on.
        again = results.highlighted_hit
        assert again is not None and again.document_id == chosen.document_id
