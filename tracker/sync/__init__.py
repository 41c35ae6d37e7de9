"""Getting documents in: sources synced page by page, papers added by reference, the feed list.

- `sources`: sync one source (pages and cursor committed together), add one paper
- `feeds`: configured and added feeds with their health; add, import, remove
"""
