"""Site: one GraphQL endpoint of the server, which validates and runs request bodies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from graphql import FieldNode, OperationDefinitionNode, execute_sync, get_operation_ast
from graphql.execution.values import get_variable_values

from tests.servers.forummagnum.base import (
    ALIGNMENTFORUM_ORIGIN,
    EAFORUM_ORIGIN,
    LESSWRONG_ORIGIN,
    Doc,
    QueryError,
)
from tests.servers.forummagnum.data import ForumData
from tests.servers.forummagnum.execution import _arguments, _Execution, terms_from_arguments
from tests.servers.forummagnum.records import OperationInfo
from tests.servers.forummagnum.schema import _bad_request, _Engine, _request_error


@dataclass
class Site:
    """One GraphQL site served at `/<name>/graphql`.

    Attributes follow the real deployments: the EA Forum accepts only `input: {terms}` and has
    Apollo CSRF prevention (GET needs `X-Apollo-Operation-Name`); the Alignment Forum serves
    LW's data with `af: true` forced and its own host in `pageUrl`.
    """

    name: str
    data: ForumData
    origin: str = ""
    legacy_only: bool = False
    force_af: bool = False
    csrf_prevention: bool = False
    engine: _Engine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.origin = self.origin or self.data.origin
        self.engine = _Engine(self.legacy_only)

    @classmethod
    def lesswrong(cls, data: ForumData, name: str = "lesswrong") -> Site:
        """LessWrong: both query shapes."""
        return cls(name, data, LESSWRONG_ORIGIN)

    @classmethod
    def alignmentforum(cls, data: ForumData, name: str = "alignmentforum") -> Site:
        """The Alignment Forum: LW's documents, `af: true` forced, alignmentforum.org URLs."""
        return cls(name, data, ALIGNMENTFORUM_ORIGIN, force_af=True)

    @classmethod
    def eaforum(cls, data: ForumData, name: str = "eaforum") -> Site:
        """The EA Forum: older code, `input: {terms}` only, CSRF prevention on."""
        return cls(name, data, EAFORUM_ORIGIN, legacy_only=True, csrf_prevention=True)

    @classmethod
    def for_data(cls, data: ForumData) -> Site:
        """The site that matches the data's origin."""
        return cls.eaforum(data) if data.origin == EAFORUM_ORIGIN else cls.lesswrong(data)

    def execute(self, payload: Mapping[str, Any]) -> tuple[int, Doc]:
        """Run one GraphQL request body; returns the HTTP status and the JSON result."""
        query = payload.get("query")
        if not isinstance(query, str) or not query.strip():
            message = (
                "GraphQL operations must contain a non-empty `query` "
                "or a `persistedQuery` extension."
            )
            return 400, _bad_request(message)
        prepared = self.engine.prepare(query)
        if prepared.document is None:
            return 400, {"errors": prepared.errors}
        name = payload.get("operationName")
        operation = get_operation_ast(prepared.document, name if isinstance(name, str) else None)
        if operation is None:
            if name:
                return 400, _bad_request(f'Unknown operation named "{name}".')
            return 400, _bad_request(
                "Must provide operation name if query contains multiple operations."
            )
        raw = payload.get("variables") or {}
        if not isinstance(raw, dict):
            return 400, _bad_request("`variables` in a POST body should be provided as an object.")
        coerced = get_variable_values(self.engine.schema, operation.variable_definitions or (), raw)
        if isinstance(coerced, list):
            return 400, {"errors": [_request_error(e, "BAD_USER_INPUT") for e in coerced]}
        # graphql-core 3.3 wraps the values in VariableValues; 3.2 returns the dict itself.
        variables = cast(dict[str, Any], getattr(coerced, "coerced", coerced))
        if _is_introspection(operation):
            answer = execute_sync(self.engine.schema, prepared.document, None, None, raw, name)
            return 200, dict(answer.formatted)
        with self.data.lock:
            execution = _Execution(self, prepared.document, variables)
            data = execution.run(operation)
        result: Doc = {"data": data}
        if execution.errors:
            result["errors"] = execution.errors
        return 200, result

    def describe(self, payload: Mapping[str, Any]) -> list[OperationInfo]:
        """What a request body asks for, best effort, for the request log and fault matching."""
        query = payload.get("query")
        prepared = self.engine.prepare(query) if isinstance(query, str) and query.strip() else None
        if prepared is None or prepared.document is None:
            return []
        name = payload.get("operationName")
        operation = get_operation_ast(prepared.document, name if isinstance(name, str) else None)
        if operation is None:
            return []
        variables = payload.get("variables") if isinstance(payload.get("variables"), dict) else {}
        op_name = operation.name.value if operation.name else None
        infos = []
        for node in operation.selection_set.selections:
            if isinstance(node, FieldNode) and node.name.value != "__typename":
                args = _arguments(node, variables or {})
                try:
                    terms = (
                        terms_from_arguments(args)[0]
                        if node.name.value in ("posts", "comments")
                        else {}
                    )
                except QueryError:
                    terms = {}
                alias = node.alias.value if node.alias else node.name.value
                infos.append(OperationInfo(op_name, node.name.value, alias, terms, args))
        return infos


def _is_introspection(operation: OperationDefinitionNode) -> bool:
    names = {s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)}
    return bool(names & {"__schema", "__type"})
