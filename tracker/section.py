"""The base of every settings section: a key the section does not know is an error.

A typo such as `[index] modle = "x"` or `TRACKER_SOURCES__LESSWRONG__DEALY=0` would otherwise
be ignored and the default used in silence.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A settings section that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid")
