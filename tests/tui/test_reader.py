"""The reader: header, styled text, citations with back/forward, the folded thread, similar
documents, the browser, `at`, and hostile or huge bodies."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from sqlalchemy import Engine

from tracker.text import clean_text
from tracker.tui.app import TrackerApp
from tracker.tui.screens.reader import ReaderScreen
from tracker.tui.widgets.links import LinkList
from tracker.tui.widgets.thread import CommentThread
from tracker.workbench import Workbench

from .conftest import SIZE
from .reading import (
    cited_post,
    insert_post,
    line_text,
    open_reader,
    settle,
    visible_text,
)

_BULLETS = str.maketrans("-*+", "•••")


async def test_header_tabs_and_styled_text(app: TrackerApp, workbench: Workbench,
                                           engine: Engine) -> None:
    page = cited_post(workbench, engine)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        head = reader.query_one("#reader-head").render()
        assert page.title in str(head) and page.authors in str(head)
        labels = [str(tab.label) for tab in reader.query("Tab")]
        assert f"Comments ({len(page.comments)})" in labels
        assert f"Cites ({len(workbench.citations(page.document_id))})" in labels
        assert f"Cited by ({len(workbench.cited_by(page.document_id))})" in labels

        view = reader.view
        view.model.wrap_lines(len(page.body))
        kinds = {}
        for index, line in enumerate(view.model.lines):
            block = view.model.blocks[line.block]
            kinds.setdefault((block.kind, block.quoted), index)
        heading = next(i for (kind, _q), i in kinds.items() if kind.startswith("h"))
        assert all(s.style and s.style.bold for s in view.line_strip(heading) if s.text.strip())
        quote = kinds[("text", True)]
        assert line_text(view, quote).lstrip().startswith("▌")
        assert any(s.style and s.style.italic for s in view.line_strip(quote) if s.text.strip())
        # what each line shows is its body span less hidden markup (a heading's `#`s), after
        # the gutter and the lead, with list bullets drawn as •
        for index, line in enumerate(view.model.lines):
            block = view.model.blocks[line.block]
            if block.quoted or block.kind == "rule":
                continue
            expected = view.model.shown(line.start, line.end).replace("\t", " ")
            if line.first and block.kind == "item":
                expected = expected[:block.marker].translate(_BULLETS) + expected[block.marker:]
            assert line_text(view, index)[1 + len(line.lead):] == expected
        assert line_text(view, heading).strip() == \
            page.body[view.model.lines[heading].start:view.model.lines[heading].end].lstrip("# ")


async def test_citation_back_and_forward(app: TrackerApp, workbench: Workbench,
                                         engine: Engine) -> None:
    page = cited_post(workbench, engine)
    cites = workbench.citations(page.document_id)
    target = next(i for i, c in enumerate(cites) if c.document_id not in (None, page.document_id))
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        depth = len(app.screen_stack)
        await pilot.press("j", "j")
        place = reader.view.cursor_span
        await pilot.press("3")
        links = reader.query_one("#reader-cites", LinkList)
        assert app.focused is links
        links.highlighted = target
        await pilot.press("enter")
        await settle(pilot)
        assert reader.page is not None and reader.page.document_id == cites[target].document_id
        assert app.screen is reader and len(app.screen_stack) == depth

        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert reader.page.document_id == page.document_id
        assert reader.view.cursor_span == place  # back where the cursor was
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert reader.page.document_id == cites[target].document_id
        await pilot.press("backspace")
        await settle(pilot)
        assert reader.page.document_id == page.document_id
        await pilot.press("escape")
        assert not isinstance(app.screen, ReaderScreen)


async def test_unstored_citation_and_document_open_in_browser(
        app: TrackerApp, workbench: Workbench, engine: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    page = cited_post(workbench, engine)
    cites = workbench.citations(page.document_id)
    opened: list[str] = []
    monkeypatch.setattr(app, "open_url", lambda url, new_tab=True: opened.append(url))
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        await pilot.press("o")
        assert opened == [page.url]
        unstored = [i for i, c in enumerate(cites) if c.document_id is None]
        if unstored:
            await pilot.press("3")
            reader.query_one("#reader-cites", LinkList).highlighted = unstored[0]
            await pilot.press("enter")  # not stored: a notification, no navigation
            await settle(pilot)
            assert reader.page is not None and reader.page.document_id == page.document_id
            await pilot.press("o")
            assert opened[-1] == cites[unstored[0]].url


async def test_comments_fold_by_depth_and_open(app: TrackerApp, workbench: Workbench,
                                               engine: Engine) -> None:
    page = cited_post(workbench, engine)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        await pilot.press("2")
        tree = reader.query_one(CommentThread)
        assert app.focused is tree
        nodes = []
        stack = list(tree.root.children)
        while stack:
            node = stack.pop()
            nodes.append(node)
            stack.extend(node.children)
        deep = next(n for n in nodes if n.data is not None and n.data.depth == 3)
        folded = deep.parent
        assert folded is not None and folded.data is not None and folded.data.depth == 2
        assert all(n.is_expanded for n in nodes if n.data and n.data.depth < 2 and n.children)
        assert not folded.is_expanded and deep.line == -1
        assert "+" in str(folded.label) and "repl" in str(folded.label)

        tree.move_cursor(folded)
        await pilot.press("space")
        assert folded.is_expanded and deep.line >= 0 and "repl" not in str(folded.label)

        tree.move_cursor(deep)
        await pilot.press("enter")
        await settle(pilot)
        assert reader.page is not None and reader.page.kind == "comment"
        assert reader.page.document_id == deep.data.document_id
        assert reader.page.parent_id == page.document_id
        await pilot.press("u")  # up to the post
        await settle(pilot)
        assert reader.page.document_id == page.document_id
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert reader.page.document_id == deep.data.document_id


async def test_similar_opens_in_the_reader(app: TrackerApp, workbench: Workbench,
                                           engine: Engine) -> None:
    page = cited_post(workbench, engine)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        await pilot.press("5")
        similar = reader.query_one("#reader-similar", LinkList)
        assert similar.entries, "the hash-embedded store has neighbours"
        first = similar.entries[0].document_id
        await pilot.press("enter")
        await settle(pilot)
        assert reader.page is not None and reader.page.document_id == first


async def test_at_scrolls_to_the_passage(app: TrackerApp, workbench: Workbench,
                                         engine: Engine) -> None:
    page = cited_post(workbench, engine)
    at = page.body.rindex("\n\n") + 2  # the last paragraph
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id, at=at)
        view = reader.view
        span = view.cursor_span
        assert span is not None and span[0] <= at < span[1]
        line = view.model.line_at(at)
        assert view.scroll_y <= line < view.scroll_y + view.scrollable_content_region.height


async def test_hostile_text_is_shown_literally(app: TrackerApp, engine: Engine) -> None:
    hostile = "[bold red]x[/] [@click=app.quit]quit[/] [link=http://evil]y[/link]"
    escaped = clean_text("before \x1b[31mred\x1b[0m \x1b]8;;http://evil\x07after")
    wide = "日本語のテキストと絵文字🙂👩‍👩‍👧 " * 20
    body = f"# {hostile}\n\n{escaped}\n\n> {hostile}\n\n{wide}\n\n- [/] closing tag [^1]\n"
    document_id = insert_post(engine, "hostile", f"Title {hostile}", body)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, document_id)
        head = str(reader.query_one("#reader-head").render())
        assert f"Title {hostile}" in head and "[bold]mallory[/]" in head
        shown = "\n".join(visible_text(reader.view))
        assert hostile in shown and "before red after" in shown and "[/] closing tag" in shown
        width = reader.view.scrollable_content_region.width
        assert all(cell_len(line) <= width for line in visible_text(reader.view))
        await pilot.press("j", "j", "j")
        assert app.is_running


async def test_huge_post_opens_and_reaches_its_end(app: TrackerApp, engine: Engine) -> None:
    words = [f"word{i % 1000}" + ("." if i % 20 == 19 else "") for i in range(200_000)]
    paragraphs = [" ".join(words[i:i + 120]) for i in range(0, len(words), 120)]
    body = "## A very long post\n\n" + "\n\n".join(paragraphs)
    document_id = insert_post(engine, "huge", "A 200k-word post", body)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, document_id)
        view = reader.view
        assert visible_text(view)[0].strip() == "A very long post"  # `## ` is not drawn
        await pilot.press("G")  # the end: everything gets wrapped
        assert view.model.done
        span = view.cursor_span
        assert span is not None and span[1] == len(body)
        assert body[-20:] in "".join(visible_text(view))
        await pilot.press("g")
        assert view.cursor_span == view.model.sentences[0]


async def test_deleted_document_is_flagged_and_not_tagged(app: TrackerApp,
                                                          engine: Engine) -> None:
    document_id = insert_post(engine, "gone", "Gone", "It was here. Now it is gone.",
                              deleted=True)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, document_id)
        assert "[deleted]" in str(reader.query_one("#reader-head").render())
        await pilot.press("t")
        assert app.screen is reader  # a warning instead of the tag dialog


async def test_unknown_document_is_a_notification(app: TrackerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        from tracker.tui.messages import OpenDocument

        app.post_message(OpenDocument(999_999))
        await pilot.pause()
        await settle(pilot)
        assert isinstance(app.screen, ReaderScreen) and app.screen.page is None
        status = str(app.screen.query_one("#reader-status").render())
        assert "Could not open document 999999" in status


async def test_resize_rewraps_and_keeps_the_cursor(app: TrackerApp, workbench: Workbench,
                                                   engine: Engine) -> None:
    page = cited_post(workbench, engine)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        view = reader.view
        await pilot.press(*["j"] * 12)
        span = view.cursor_span
        wide = view.model.width
        await pilot.resize_terminal(70, 30)
        await pilot.pause()
        assert view.model.width < wide and view.cursor_span == span
        line = view.model.line_at(span[0]) if span else 0
        assert view.scroll_y <= line < view.scroll_y + view.scrollable_content_region.height
        assert all(cell_len(text) <= 70 for text in visible_text(view))


async def test_argued_before_lists_earlier_and_stronger_posts(
        app: TrackerApp, workbench: Workbench, engine: Engine) -> None:
    page = cited_post(workbench, engine)
    async with app.run_test(size=SIZE) as pilot:
        reader = await open_reader(pilot, page.document_id)
        argued = reader.query_one("#reader-argued", LinkList)
        assert not argued.entries
        await pilot.press("a")  # the sentence under the cursor
        await settle(pilot)
        tabs = reader.query_one("#reader-tabs")
        assert tabs.active == "argued"  # type: ignore[attr-defined]
        assert argued.entries, "the real corpus has posts close to any sentence"
        assert all(e.document_id != page.document_id for e in argued.entries)
        details = [e.detail for e in argued.entries]
        assert details[0].startswith("earliest") and any(d.startswith("strongest")
                                                         for d in details)
        first = argued.entries[0].document_id
        await pilot.press("enter")
        await settle(pilot)
        assert reader.page is not None and reader.page.document_id == first
