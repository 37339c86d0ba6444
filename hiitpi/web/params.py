"""Numbers in URLs and page inputs: ASCII digits only, inside a range (never ``int('²')``, never a
number SQLite cannot hold)."""

from __future__ import annotations

#: Session and player ids: at most 12 digits (far below SQLite's 2**63 - 1).
MAX_ID = 10**12 - 1
#: A history page number.
MAX_PAGE = 100_000


def ascii_int(text: object, *, lo: int, hi: int) -> int | None:
    """``text`` as an int when it is 1–18 ASCII digits and ``lo <= n <= hi``; None otherwise.
    (``"²".isdigit()`` is true, so ``isdigit`` alone lets ``int()`` raise.)"""
    if not isinstance(text, str) or not 0 < len(text) <= 18 or not (text.isascii() and text.isdigit()):
        return None
    n = int(text)
    return n if lo <= n <= hi else None


def record_id(text: object) -> int | None:
    """A session or player id from a URL segment (1 … `MAX_ID`), None when it is not one."""
    return ascii_int(text, lo=1, hi=MAX_ID)
