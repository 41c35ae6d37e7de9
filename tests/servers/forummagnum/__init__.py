"""The ForumMagnum GraphQL test server, split by concern; `tests.servers.forum` re-exports it.

- `base`, `timestamps`, `text`: the document type, origins, timestamps, ids, slugs, HTML;
- `query`, `data`: view semantics (indexes, filters, paging) and ForumData, one site's documents;
- `corpus`: posts from shared/corpus and comment threads built from real text;
- `schema`, `execution`, `site`: validation against forum_schema.graphql, the executor, Site;
- `records`, `faults`, `server`: the request log, injected faults, the HTTP server;
- `cli`: `python -m tests.servers.forum`.
"""
