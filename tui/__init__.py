"""The Textual terminal UI (`tracker tui`): search, read, follow citations, tag claims.

Importing this package loads nothing heavy; `tracker.tui.app` imports Textual.
"""
