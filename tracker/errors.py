"""Errors that tracker expects and reports as one clear line."""

from __future__ import annotations


class TrackerError(Exception):
    """An expected failure: the message names the input and the fix."""

    def __init__(self, msg: str, title: str | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.title = title or type(self).__name__


class ConfigError(TrackerError):
    """Bad configuration or usage; the CLI exits with code 2."""


class StoreError(TrackerError):
    """The database could not be read or written."""


class SourceError(TrackerError):
    """A source failed: network, protocol or content trouble."""

    def __init__(self, msg: str, title: str | None = None, *, source: str = "") -> None:
        super().__init__(msg, title)
        self.source = source


class ChallengeError(SourceError):
    """The site answered with a bot challenge: stop this source and retry later."""


class RateLimitedError(SourceError):
    """The site kept answering 429 after every retry."""


class NotFoundError(TrackerError):
    """A document, claim or other record named by the user does not exist."""


class IndexBackendError(TrackerError):
    """The search index could not be built or read."""


class KeywordWriterBusy(IndexBackendError):
    """Another process (or thread) is writing the keyword index right now."""
