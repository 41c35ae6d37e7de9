"""A projection executor for one operation: arguments, compiled selections, resolvers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_list_type,
    is_non_null_type,
    value_from_ast_untyped,
)
from graphql.pyutils import Undefined

from tests.servers.forummagnum.base import Doc, QueryError
from tests.servers.forummagnum.query import _user_id
from tests.servers.forummagnum.schema import _RESOLVER_STACK, load_schema
from tests.servers.forummagnum.text import html_to_markdown, html_to_text, word_count

if TYPE_CHECKING:
    from tests.servers.forummagnum.site import Site


def _strip_undefined(value: Any) -> Any:
    """A variable missing from `variables` inside a JSON literal is absent, as in JavaScript."""
    if isinstance(value, dict):
        return {k: _strip_undefined(v) for k, v in value.items() if v is not Undefined}
    if isinstance(value, list):
        return [_strip_undefined(v) for v in value if v is not Undefined]
    return value


def _arguments(node: FieldNode, variables: Mapping[str, Any]) -> Doc:
    return {
        arg.name.value: _strip_undefined(value_from_ast_untyped(arg.value, dict(variables)))
        for arg in node.arguments or ()
    }


def terms_from_arguments(args: Mapping[str, Any]) -> tuple[Doc, bool]:
    """The view terms of a `posts`/`comments` field in either shape, and `enableTotal`.

    `input: {terms}` is the legacy shape; `selector: {<view>: {...}}, limit, offset` is the
    newer one, which `defaultResolvers.ts` turns into the same terms.

    Raises:
        QueryError: `terms` or `selector` is not an object.
    """
    given = args.get("input") or {}
    enable_total = bool(given.get("enableTotal") or args.get("enableTotal"))
    if given.get("terms") is not None:
        if not isinstance(given["terms"], dict):
            raise QueryError("terms must be an object")
        return dict(given["terms"]), enable_total
    terms: Doc = {}
    selector = args.get("selector")
    if selector is not None:
        if not isinstance(selector, dict):
            raise QueryError("selector must be an object")
        if selector:
            view, inner = next(iter(selector.items()))
            terms = dict(inner or {})
            if view != "default":
                terms["view"] = view
    for key in ("limit", "offset"):
        if args.get(key) is not None:
            terms[key] = args[key]
    return terms, enable_total


@dataclass(frozen=True, slots=True)
class _Field:
    key: str
    name: str
    node: FieldNode
    parent: str
    resolve: _Resolver | None
    sub: tuple[_Field, ...] | None
    nullable: bool
    is_list: bool
    item_nullable: bool


_Resolver = Callable[["_Execution", Any, "_Field"], Any]


class _Null(Exception):
    """A non-null field came out null: null the nearest nullable parent (GraphQL spec 6.4.4)."""


class _Execution:
    """Runs one operation against one site: compile the selection, then project the dicts."""

    def __init__(self, site: Site, document: DocumentNode, variables: Mapping[str, Any]) -> None:
        self.site = site
        self.data = site.data
        self.schema = load_schema()
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.errors: list[Doc] = []

    # -- compiling ------------------------------------------------------------------------------

    def _included(self, node: FieldNode | FragmentSpreadNode | InlineFragmentNode) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            condition = _arguments(directive, self.variables).get("if")  # type: ignore[arg-type]
            if bool(condition) == (name == "skip"):
                return False
        return True

    def _collect(
        self, type_name: str, selection_set: SelectionSetNode, out: dict[str, list[FieldNode]]
    ) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):  # type: ignore[arg-type]
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                out.setdefault(key, []).append(selection)
                continue
            condition: NamedTypeNode | None
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition, inner = fragment.type_condition, fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition, inner = selection.type_condition, selection.selection_set
            if condition is None or condition.name.value == type_name:
                self._collect(type_name, inner, out)

    def compile(
        self, type_name: str, selection_sets: Sequence[SelectionSetNode]
    ) -> tuple[_Field, ...]:
        object_type = self.schema.type_map[type_name]
        assert isinstance(object_type, GraphQLObjectType)
        groups: dict[str, list[FieldNode]] = {}
        for selection_set in selection_sets:
            self._collect(type_name, selection_set, groups)
        fields = []
        for key, nodes in groups.items():
            name = nodes[0].name.value
            if name == "__typename":
                fields.append(
                    _Field(
                        key,
                        name,
                        nodes[0],
                        type_name,
                        _typename(type_name),
                        None,
                        False,
                        False,
                        False,
                    )
                )
                continue
            field_type = object_type.fields[name].type
            named = get_named_type(field_type)
            sub = None
            if isinstance(named, GraphQLObjectType):
                sub = self.compile(named.name, [n.selection_set for n in nodes if n.selection_set])
            nullable = not is_non_null_type(field_type)
            inner = field_type if nullable else field_type.of_type
            is_list = is_list_type(inner)
            item_nullable = is_list and not is_non_null_type(inner.of_type)
            resolve = _RESOLVERS.get((type_name, name))
            fields.append(
                _Field(
                    key, name, nodes[0], type_name, resolve, sub, nullable, is_list, item_nullable
                )
            )
        return tuple(fields)

    # -- running --------------------------------------------------------------------------------

    def run(self, operation: OperationDefinitionNode) -> Doc | None:
        root = self.compile("Query", [operation.selection_set])
        try:
            return self._object(root, None, [])
        except _Null:
            return None

    def _object(self, fields: tuple[_Field, ...], obj: Any, path: list[str | int]) -> Doc:
        out: Doc = {}
        for f in fields:
            failed = False
            try:
                value = f.resolve(self, obj, f) if f.resolve else obj.get(f.name)
                if value is not None and f.sub is not None:
                    value = self._complete(f, value, [*path, f.key])
            except QueryError as e:
                self.error(str(e), f.node, [*path, f.key])
                value, failed = None, True
            except _Null:
                value, failed = None, True
            if value is None and not f.nullable:
                if not failed:
                    message = f"Cannot return null for non-nullable field {f.parent}.{f.name}."
                    self.error(message, f.node, [*path, f.key])
                raise _Null
            out[f.key] = value
        return out

    def _complete(self, f: _Field, value: Any, path: list[str | int]) -> Any:
        assert f.sub is not None
        if not f.is_list:
            return self._object(f.sub, value, path)
        items: list[Doc | None] = []
        for i, item in enumerate(value):
            try:
                if item is None:
                    raise QueryError(
                        f"Cannot return null for non-nullable field {f.parent}.{f.name}."
                    )
                items.append(self._object(f.sub, item, [*path, i]))
            except (QueryError, _Null) as e:
                if isinstance(e, QueryError):
                    self.error(str(e), f.node, [*path, i])
                if not f.item_nullable:
                    raise _Null from None
                items.append(None)
        return items

    def error(self, message: str, node: FieldNode, path: list[str | int]) -> None:
        """Record a resolver error the way Apollo reports it (HTTP 200, `errors[]`)."""
        located = GraphQLError(message, node)
        self.errors.append(
            {
                "message": message,
                "locations": [
                    {"line": x.line, "column": x.column} for x in located.locations or ()
                ],
                "path": path,
                "extensions": {
                    "code": "INTERNAL_SERVER_ERROR",
                    "stacktrace": [f"Error: {message}", *_RESOLVER_STACK],
                },
            }
        )

    def page_url(self, url: str) -> str:
        """`pageUrl` carries the host that served the query (LW data served as AF)."""
        if self.site.origin != self.data.origin and url.startswith(self.data.origin):
            return self.site.origin + url[len(self.data.origin) :]
        return url

    def arguments(self, f: _Field) -> Doc:
        return _arguments(f.node, self.variables)


def _typename(name: str) -> _Resolver:
    return lambda _ex, _obj, _f: name


def _resolve_posts(ex: _Execution, _root: None, f: _Field) -> Doc:
    terms, enable_total = terms_from_arguments(ex.arguments(f))
    found = ex.data.query_posts(terms, enable_total=enable_total, force_af=ex.site.force_af)
    return {"results": found.docs, "totalCount": found.total}


def _resolve_comments(ex: _Execution, _root: None, f: _Field) -> Doc:
    terms, enable_total = terms_from_arguments(ex.arguments(f))
    found = ex.data.query_comments(terms, enable_total=enable_total, force_af=ex.site.force_af)
    return {"results": found.docs, "totalCount": found.total}


def _single(ex: _Execution, f: _Field, load: Callable[..., Doc | None]) -> Doc:
    args = ex.arguments(f)
    given = args.get("input") or {}
    selector = given.get("selector") or args.get("selector") or {}
    doc = load(selector.get("_id") or selector.get("documentId"), force_af=ex.site.force_af)
    if doc is None and not (given.get("allowNull") or args.get("allowNull")):
        raise QueryError("app.missing_document")  # singleResolver's throwError id
    return {"result": doc}


def _comment_page_url(ex: _Execution, doc: Doc, _f: _Field | None = None) -> str:
    post = ex.data.posts.get(doc["postId"])
    if post is None:  # commentGetPageUrlFromDB throws when the post cannot be loaded
        raise QueryError("Cannot read properties of undefined (reading '_id')")
    return ex.page_url(f"{post['pageUrl']}?commentId={doc['_id']}")


def _revision(name: str, derive: Callable[[str], Any]) -> _Resolver:
    def resolve(_ex: _Execution, rev: Doc, _f: _Field) -> Any:
        if rev.get(name) is not None:
            return rev[name]
        return None if rev.get("html") is None else derive(rev["html"])

    return resolve


def _post_word_count(_ex: _Execution, doc: Doc, _f: _Field | None = None) -> int | None:
    return doc.get("wordCount") or word_count(doc["htmlBody"])


def _post_category(_ex: _Execution, doc: Doc, _f: _Field) -> str:
    return "question" if doc["question"] else "linkpost" if doc.get("url") else "post"


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _description(body: str) -> str:
    return html_to_text(body[:12000])[:2000]  # the head is enough for 2000 characters


def _default(name: str, value: Any) -> _Resolver:
    return lambda _ex, doc, _f: value if doc.get(name) is None else doc[name]


_RESOLVERS: dict[tuple[str, str], _Resolver] = {
    ("Query", "posts"): _resolve_posts,
    ("Query", "comments"): _resolve_comments,
    ("Query", "post"): lambda ex, _root, f: _single(ex, f, ex.data.visible_post),
    ("Query", "comment"): lambda ex, _root, f: _single(ex, f, ex.data.visible_comment),
    ("Query", "currentUser"): lambda _ex, _root, _f: None,
    ("Post", "pageUrl"): lambda ex, d, _f: ex.page_url(d["pageUrl"]),
    ("Post", "pageUrlRelative"): lambda _ex, d, _f: f"/posts/{d['_id']}/{d['slug']}",
    ("Post", "linkUrl"): lambda ex, d, _f: d.get("url") or ex.page_url(d["pageUrl"]),
    ("Post", "domain"): lambda _ex, d, _f: urlsplit(d["url"]).hostname if d.get("url") else None,
    ("Post", "postCategory"): _post_category,
    ("Post", "wordCount"): _post_word_count,
    ("Post", "readTimeMinutes"): lambda ex, d, _f: max(
        1, round((_post_word_count(ex, d) or 0) / 250)
    ),
    ("Post", "lastCommentedAt"): lambda _ex, d, _f: d.get("lastCommentedAt") or d["postedAt"],
    ("Post", "coauthorUserIds"): lambda _ex, d, _f: [u["_id"] for u in d.get("coauthors") or ()],
    ("Post", "hideAuthor"): _default("hideAuthor", False),
    ("Post", "afSticky"): _default("afSticky", False),
    ("Post", "afCommentCount"): _default("afCommentCount", 0),
    ("Post", "topLevelCommentCount"): _default("topLevelCommentCount", 0),
    ("Comment", "post"): lambda ex, d, _f: ex.data.visible_post(
        d["postId"], force_af=ex.site.force_af
    ),
    ("Comment", "parentComment"): lambda ex, d, _f: ex.data.visible_comment(d["parentCommentId"]),
    ("Comment", "pageUrl"): _comment_page_url,
    ("Comment", "pageUrlRelative"): lambda ex, d, _f: _relative(_comment_page_url(ex, d)),
    ("Comment", "score"): lambda _ex, d, _f: d["baseScore"],
    ("Comment", "userId"): lambda _ex, d, _f: _user_id(d),
    ("Comment", "retracted"): _default("retracted", False),
    ("Comment", "author"): lambda _ex, d, _f: (d.get("user") or {}).get("displayName"),
    ("User", "pageUrl"): lambda ex, u, _f: f"{ex.site.origin}/users/{u.get('slug')}",
    ("Revision", "markdown"): _revision("markdown", html_to_markdown),
    ("Revision", "plaintextMainText"): _revision("plaintextMainText", html_to_text),
    ("Revision", "plaintextDescription"): _revision("plaintextDescription", _description),
    ("Revision", "htmlHighlight"): _revision("htmlHighlight", lambda h: h[:2400]),
    ("Revision", "wordCount"): _revision("wordCount", word_count),
}
