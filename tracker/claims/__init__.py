"""Claims beyond their SQL (which is in `tracker.store`): suggestions and the claim map.

- `suggest`: passages likely for or against a claim, learning from labels; `claim check`
- `map`: the claim map as JSON, Markdown, Argdown and Web Annotation JSON-LD
"""
