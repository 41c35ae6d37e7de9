"""A post's comment thread as a tree: replies below depth 2 start folded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tracker.tui.library import Comment
from tracker.tui.messages import OpenDocument

FOLD_DEPTH = 2
"""Comments at this depth (0 = top level) or deeper start folded, hiding their replies."""
_PREVIEW_CHARS = 160


class CommentThread(Tree[Comment]):
    """Comments in thread order; enter opens one in the reader, space folds and unfolds."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open comment"),
        Binding("space", "toggle_node", "Fold/unfold"),
        Binding("shift+space", "toggle_expand_all", "Fold/unfold all", show=False),
        Binding("j", "cursor_down", "Next comment", show=False),
        Binding("k", "cursor_up", "Previous comment", show=False),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(Text("Comments"), id=id, classes=classes)
        self.show_root = False
        self.auto_expand = False  # enter opens the comment; space folds

    def show(self, comments: Sequence[Comment]) -> None:
        """Replace the tree with these comments (thread order, each with its depth)."""
        self.clear()
        parents: list[TreeNode[Comment]] = [self.root]
        for comment in comments:
            depth = min(comment.depth, len(parents) - 1)
            del parents[depth + 1:]
            parent = parents[depth]
            label = comment_label(comment, folded=comment.replies > 0 and depth >= FOLD_DEPTH)
            if comment.replies:
                node = parent.add(label, data=comment, expand=depth < FOLD_DEPTH)
                parents.append(node)
            else:
                parent.add_leaf(label, data=comment)
        self.root.expand()
        if comments:
            self.move_cursor_to_line(0)

    def on_tree_node_selected(self, event: Tree.NodeSelected[Comment]) -> None:
        """Open the comment in the reader."""
        event.stop()
        if event.node.data is not None:
            self.post_message(OpenDocument(event.node.data.document_id))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Comment]) -> None:
        """Drop the "+N replies" of an unfolded comment."""
        self._relabel(event.node)

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed[Comment]) -> None:
        """Show how many replies a folded comment hides."""
        self._relabel(event.node)

    def _relabel(self, node: TreeNode[Comment]) -> None:
        if node.data is not None:
            node.set_label(comment_label(node.data, folded=not node.is_expanded))


def comment_label(comment: Comment, *, folded: bool) -> Text:
    """One line: author · date · karma, the start of the text, and what folding hides."""
    label = Text()
    label.append(comment.author, "bold")
    if comment.date:
        label.append(f" · {comment.date}")
    if comment.karma is not None:
        label.append(f" · {comment.karma:g} karma")
    label.append(" — ", "dim")
    if comment.deleted:
        label.append("(deleted)", "italic dim")
    else:
        first = " ".join(comment.text.split())[:_PREVIEW_CHARS]
        label.append(first)
    if folded:
        noun = "reply" if comment.replies == 1 else "replies"
        label.append(f"  +{comment.replies} {noun}", "italic")
    return label
