"""Text that is safe to store and to show: no terminal escapes, no control characters.

Everything a site sends (titles, bodies, author names, URLs, error messages) passes through
`clean_text` or `safe_url` before it is stored, and again before it reaches a terminal.
This is the ground floor: every package may import it.
"""

from __future__ import annotations

import re

# C0 (but tab and newline), DEL, C1, bidi overrides/isolates, and U+FEFF: stray byte-order
# marks from pasted text are invisible and break quoting.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_NEWLINES = re.compile(r"\r\n?")
_TERMINAL_SEQ = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: colours, cursor moves, erase
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|\x1b[\]PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"  # other escapes (charset, reset, keypad) and a lone ESC
)


def clean_text(text: str) -> str:
    """Remove terminal escape/control sequences and bidi overrides; normalise newlines."""
    # Every character `_CONTROLS` matches is non-printable (Cc, Cf), so printable text is
    # clean: `isprintable` is a tight C loop, ~3x cheaper than the regex's scan (most of the
    # HTML renderer's paragraphs, which have no newline, take this path).
    if text.isprintable() or not _CONTROLS.search(text):
        return text
    text = _NEWLINES.sub("\n", text)
    text = _TERMINAL_SEQ.sub("", text)
    return _CONTROLS.sub("", text)


def safe_url(url: str | None) -> str | None:
    """An `http(s)` URL with control, space and bidi characters percent-encoded, else None.

    Sites hand us `javascript:`, `data:` and escape-laden links; only web URLs are kept, and
    nothing in one can move a terminal's cursor or recolour it when printed.
    """
    if not url:
        return None
    url = url.strip()
    scheme, sep, _ = url.partition(":")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    return _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), url)


_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")


def json_text(data: object) -> str:
    """JSON for a terminal or a pipe: UTF-8 kept readable, but C1 controls, DEL, line and
    paragraph separators and bidi overrides written as `\\uXXXX` escapes.

    `json.dumps(ensure_ascii=False)` escapes only C0 controls; a stored `\\x9b` (8-bit CSI)
    would reach the terminal raw. The escapes parse back to the same strings.
    """
    import json

    text = json.dumps(data, indent=2, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
