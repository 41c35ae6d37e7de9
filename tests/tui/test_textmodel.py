"""The reader's text model draws markdown structure and keeps exact body offsets: hidden markup
takes no cells, every drawn character is the body's character at its offset, and sentences
(what selections and claims anchor to) are exact body slices."""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len

from tracker.tui.widgets.textmodel import TextModel, visible_ranges

from .markdown_posts import DONT_ALIGN, WITHOUT_ROBUSTNESS, corpus_markdown


def _model(body: str, width: int = 60) -> TextModel:
    model = TextModel(body, width)
    model.wrap_lines(len(body) + 1)
    model.sentences_until(len(body) + 1)
    return model


def _drawn(model: TextModel, index: int) -> list[tuple[int, str]]:
    """(body offset, character) of each character line `index` draws."""
    line = model.lines[index]
    block = model.blocks[line.block]
    return [(i, model.body[i]) for a, b in visible_ranges(block, line.start, line.end)
            for i in range(a, b)]


def _shown(model: TextModel) -> list[str]:
    return [model.shown(line.start, line.end) for line in model.lines]


def _styled(model: TextModel, name: str) -> list[str]:
    """The drawn text of each `name`-styled range."""
    return [model.shown(start, end) for block in model.blocks if block.inline
            for start, end, style in block.inline.styles if style == name]


def test_emphasis_and_strong_hide_their_delimiters() -> None:
    body = "Some _em_ and **strong** and ***both*** and _**nested**_ end."
    model = _model(body)
    assert _shown(model) == ["Some em and strong and both and nested end."]
    assert _styled(model, "em") == ["em", "both", "nested"]
    assert _styled(model, "strong") == ["strong", "both", "nested"]
    assert all(body[i] == ch for i, ch in _drawn(model, 0))
    assert [body[i] for i, _ in _drawn(model, 0)][5:7] == ["e", "m"]
    assert _drawn(model, 0)[5][0] == body.index("em")


def test_underscores_in_words_math_and_urls_are_not_emphasis() -> None:
    body = "a snake_case_name, $x_1 * y_2$ and https://x.org/a_b_c stay as_is * here."
    model = _model(body, 100)
    assert _shown(model) == [body]
    assert _styled(model, "link") == ["https://x.org/a_b_c"]


def test_links_show_their_text_and_keep_their_destination() -> None:
    body = ("See [the _post_](https://lw.com/p?a=(1)) and ![a diagram](img.png \"t\") "
            "and <https://auto.example/x> and [not a link] here.")
    model = _model(body, 200)
    assert _shown(model) == ["See the post and a diagram and https://auto.example/x and "
                             "[not a link] here."]
    block = model.blocks[0]
    assert block.inline is not None
    assert [(body[a:b], url) for a, b, url in block.inline.links] == [
        ("the _post_", "https://lw.com/p?a=(1)"), ("a diagram", "img.png"),
        ("https://auto.example/x", "https://auto.example/x")]
    assert _styled(model, "em") == ["post"]


def test_lists_put_each_item_on_its_own_line_with_nesting() -> None:
    body = "Intro:\n\n1. First _one_.\n    - nested **two**\n        - deeper\n2. Second.\n"
    model = _model(body)
    kinds = [model.blocks[line.block].kind for line in model.lines]
    assert _shown(model)[2:6] == ["1. First one.", "    - nested two", "        - deeper",
                                  "2. Second."]
    assert kinds[2:6] == ["item"] * 4


def test_wrapped_item_continues_under_its_text_and_hidden_urls_take_no_cells() -> None:
    url = "https://www.lesswrong.com/posts/" + "x" * 120
    body = "- " + " ".join(f"[word{i}]({url})" for i in range(30))
    model = _model(body, 40)
    shown = _shown(model)
    assert len(model.lines) > 1 and all(line.lead == "  " for line in model.lines[1:])
    for line, text in zip(model.lines, shown, strict=True):
        assert cell_len(line.lead) + cell_len(text) <= 40
        assert "](" not in text and "https" not in text
    assert all(cell_len(text) >= 30 for text in shown[:-1])  # lines are filled, not cut short
    assert " ".join(s.strip() for s in shown) == "- " + " ".join(f"word{i}" for i in range(30))


def test_quotes_headings_rules_code_and_footnotes() -> None:
    body = ("## A _heading_\n\n> A quoted *word*.\n\n---\n\n<hr/>\n\n<HR>\n\n"
            "Use `a_b*c` here.[^1]\n\n```\nx = a_b_ * c *\n```\n\n[^1]: A **note**.\n")
    model = _model(body, 80)
    by_kind = {}
    for line, text in zip(model.lines, _shown(model), strict=True):
        by_kind.setdefault(model.blocks[line.block].kind, []).append(text)
    assert by_kind["h2"] == ["A heading"]
    assert by_kind["rule"] == ["", "", ""]
    assert by_kind["code"] == ["x = a_b_ * c *"]
    assert by_kind["note"] == ["[^1]: A note."]
    quoted = [t for line, t in zip(model.lines, _shown(model), strict=True)
              if model.blocks[line.block].quoted]
    assert quoted == ["> A quoted word."]
    assert "Use a_b*c here.[^1]" in by_kind["text"]
    assert _styled(model, "code") == ["a_b*c"]
    assert _styled(model, "footref") == ["[^1]"]
    # rules hold no sentence; the heading's sentence starts after its hidden `## `
    assert all(model.blocks[model.block_at(s)].kind != "rule" for s, _ in model.sentences)
    assert body[slice(*model.sentences[0])] == "A _heading_"


def test_sentences_are_exact_slices_through_markup() -> None:
    body = ("An _actor_ which [proposes](https://x.org/a) **plans.** The grader "
            "*rates them.* Then `code.` ends.")
    model = _model(body, 30)
    assert [body[s:e] for s, e in model.sentences] == [
        "An _actor_ which [proposes](https://x.org/a) **plans.**",
        "The grader *rates them.*", "Then `code.` ends."]


def test_real_turntrout_post_lists_and_offsets(shared: Path) -> None:
    _title, body = corpus_markdown(shared / "corpus", DONT_ALIGN)
    model = _model(body, 110)
    shown = _shown(model)
    first = next(i for i, t in enumerate(shown) if t.startswith("1. Consider two people"))
    second = next(i for i, t in enumerate(shown) if t.startswith("2. Consider an AI aligned"))
    assert shown[second - 1].endswith("both make diamonds.")  # the items are not run together
    assert model.blocks[model.lines[first].block].kind == "item"
    assert model.lines[second].first and model.blocks[model.lines[second].block].kind == "item"
    assert sum(model.blocks[line.block].kind == "rule" for line in model.lines) >= 3
    for index, line in enumerate(model.lines):
        text = shown[index]
        assert cell_len(line.lead) + cell_len(text) <= 110
        assert "](" not in text and "<hr" not in text and "**" not in text
        assert all(body[i] == ch for i, ch in _drawn(model, index))
    assert "_not_ aligned" in body and "is not aligned" in "\n".join(shown)


def test_real_post_with_nested_lists_and_inline_code(shared: Path) -> None:
    _title, body = corpus_markdown(shared / "corpus", WITHOUT_ROBUSTNESS)
    model = _model(body, 110)
    shown = _shown(model)
    assert any(t.startswith("1. If center-of-visual-field activates candy’s visual abstraction, "
                            "then grab the inferred latent object") for t in shown)
    nested = next(t for t in shown if t.lstrip().startswith("- Since values are not"))
    assert nested.startswith("    - ")
    assert "center-of-visual-field" in _styled(model, "code")
