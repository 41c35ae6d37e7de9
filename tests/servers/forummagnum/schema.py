"""The GraphQL schema, query validation, and request errors in Apollo's shape."""

from __future__ import annotations

import functools
import re
import threading
from pathlib import Path
from typing import NamedTuple

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    ValidationRule,
    build_schema,
    parse,
    specified_rules,
    validate,
)

from tests.servers.forummagnum.base import Doc

SCHEMA_PATH = Path(__file__).parent.parent / "forum_schema.graphql"


# --------------------------------------------------------------------------------------------
# GraphQL: schema, validation and a projection executor
# --------------------------------------------------------------------------------------------


@functools.cache
def load_schema() -> GraphQLSchema:
    """The schema in forum_schema.graphql."""
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


_NODE_STACK = (
    "    at Object.enter (/var/task/node_modules/graphql/language/visitor.js:298:32)",
    "    at Object.enter (/var/task/node_modules/graphql/utilities/TypeInfo.js:391:27)",
    "    at visit (/var/task/node_modules/graphql/language/visitor.js:194:21)",
    "    at validate (/var/task/node_modules/graphql/validation/validate.js:91:24)",
    "    at eb (/var/task/.next/server/chunks/node_modules_fe278931._.js:182:4830)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)",
    "    at async eL (/var/task/.next/server/chunks/node_modules_fe278931._.js:183:2116)",
    "    at async J (/var/task/.next/server/chunks/node_modules_fe278931._.js:172:28165)",
    "    at async ea (/var/task/.next/server/chunks/node_modules_fe278931._.js:182:1831)",
)
_RULE_FRAMES = (
    ("is not defined by type", "Object.ObjectField", "ValuesOfCorrectTypeRule.js:110:11"),
    ("Cannot query field", "Object.Field", "FieldsOnCorrectTypeRule.js:51:31"),
    ("Unknown argument", "Object.Argument", "KnownArgumentNamesRule.js:46:29"),
    ("must have a selection", "Object.Field", "ScalarLeafsRule.js:40:13"),
    ("is never used", "Object.leave", "NoUnusedVariablesRule.js:35:15"),
    ("Unknown type", "Object.NamedType", "KnownTypeNamesRule.js:57:15"),
)
_RESOLVER_STACK = (
    "    at getDefaultViewSelector (/var/task/.next/server/chunks/[root]__4a1f._.js:12:3381)",
    "    at async multiResolver (/var/task/.next/server/chunks/[root]__4a1f._.js:31:9157)",
)
# graphql-core words some errors differently from graphql-js 16, which the real site runs.
_JS_WORDING = (
    (
        re.compile(
            r"Expected value of type '([^']+)' not to include unknown field '([^']+)'"
            r"(?:, found: .*?)?\.",
            re.S,
        ),
        r"Field '\2' is not defined by type '\1'.",
    ),
    (
        re.compile(
            r"Variable '(\$\w+)' has invalid value: "
            r"Expected a value of non-null type '([^']+)' to be provided\."
        ),
        r"Variable '\1' of required type '\2' was not provided.",
    ),
    (
        re.compile(r"The (mutation|subscription) operation is not supported by the schema\."),
        r"Schema is not configured to execute \1 operation.",
    ),
)
_SINGLE_QUOTED = re.compile(r"'([^'\s][^']*?)'")


def _js_message(message: str) -> str:
    for pattern, repl in _JS_WORDING:
        message = pattern.sub(repl, message)
    return _SINGLE_QUOTED.sub(r'"\1"', message)


def _request_error(error: GraphQLError, code: str) -> Doc:
    """An error of a request that never ran, shaped like Apollo's (with a stack trace)."""
    message = _js_message(error.message)
    frames = [
        f"    at {where} (/var/task/node_modules/graphql/validation/rules/{rule})"
        for marker, where, rule in _RULE_FRAMES
        if marker in message
    ][:1]
    body: Doc = {"message": message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    stack = [f"GraphQLError: {message}", *frames, *_NODE_STACK]
    body["extensions"] = {"code": code, "stacktrace": stack}
    return body


def _bad_request(message: str, code: str = "BAD_REQUEST") -> Doc:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


class _LegacyOnlyRule(ValidationRule):
    """The EA Forum's older ForumMagnum has only `posts(input: ...)` (sources.md §1.11)."""

    def enter_field(self, node: FieldNode, *_args: object) -> None:
        parent = self.context.get_parent_type()
        if parent is None or parent.name != "Query":
            return
        for argument in node.arguments or ():
            if argument.name.value != "input":
                self.report_error(
                    GraphQLError(
                        f"Unknown argument '{argument.name.value}' on field "
                        f"'Query.{node.name.value}'.",
                        argument,
                    )
                )


class _Prepared(NamedTuple):
    document: DocumentNode | None
    errors: list[Doc]


class _Engine:
    """Parses and validates queries (cached by text) for one flavour of the site."""

    _CACHE_SIZE = 512

    def __init__(self, legacy_only: bool) -> None:
        self.schema = load_schema()
        self._rules = [*specified_rules, _LegacyOnlyRule] if legacy_only else None
        self._cache: dict[str, _Prepared] = {}
        self._lock = threading.Lock()

    def prepare(self, query: str) -> _Prepared:
        with self._lock:
            cached = self._cache.get(query)
        if cached is not None:
            return cached
        try:
            document = parse(query)
        except GraphQLError as e:
            prepared = _Prepared(None, [_request_error(e, "GRAPHQL_PARSE_FAILED")])
        else:
            errors = validate(self.schema, document, self._rules)
            found = [_request_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errors]
            prepared = _Prepared(None if found else document, found)
        with self._lock:
            if len(self._cache) >= self._CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[query] = prepared
        return prepared
