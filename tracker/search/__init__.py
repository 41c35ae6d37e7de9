"""The index wired to the store: indexing runs, the searcher, and results looked up for display.

- `indexing`: split documents into passages, embed them, keep keyword and vector sides in step
- `searcher`: keyword, vector and fuzzy search over the store; the query embedder
- `results`: results looked up once for the CLI text, `--json` and the TUI; snippets
"""
