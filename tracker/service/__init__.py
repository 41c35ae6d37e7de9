"""`tracker serve` and what it runs: the scheduler, interests, weekly digests and mail.

- `scheduler`: APScheduler 3 with a SQLAlchemy job store; scheduled syncs, index runs, digests
- `interests`: follows (searches, authors, tags, claims, sources) and reading history
- `digest`, `render`, `templates/`: the weekly digest, as Markdown, HTML and Atom
- `publish`: build, write and mail one digest; `mailer`: SMTP with retries
"""
