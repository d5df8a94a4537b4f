"""Reading integers and dates out of query strings: ASCII digits only, within bounds, or a 400.

``str.isdigit()`` and ``int()`` accept other scripts' digits ('²' is a digit ``int`` refuses, '٣' one it
reads as 3), ``date.fromisoformat`` takes week dates and a day that ``+ 1 day`` overflows, and an id past
PostgreSQL's bigint fails in the database. Every filter of the API and the console pages reads its
values through these two functions instead.
"""

from __future__ import annotations

import re
from datetime import date

from core.errors import InvalidInput

BIGINT_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
# Days a report can ask about: wide enough for any real period, narrow enough that "end + 1 day"
# and PostgreSQL's timestamps never overflow.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def query_int(value: str | None, *, field: str, minimum: int = 0, maximum: int = BIGINT_MAX,
              default: int | None = None) -> int | None:
    """``value`` as a whole number from ``minimum`` to ``maximum``; empty or missing gives ``default``."""
    if value is None or value == "":
        return default
    if not _DIGITS.fullmatch(value) or not minimum <= int(value) <= maximum:
        raise InvalidInput(f"{field} must be a whole number from {minimum} to {maximum}.",
                           code="invalid_request", details={"field": field})
    return int(value)


def as_id(value: str) -> int | None:
    """``value`` as a row id when it is ASCII digits within bigint, else None (a name, say)."""
    return int(value) if _DIGITS.fullmatch(value) and int(value) <= BIGINT_MAX else None


def query_date(value: str | None, *, field: str) -> date | None:
    """``value`` as a YYYY-MM-DD day from 1900-01-01 to 9998-12-31; empty or missing gives None."""
    if not value:
        return None
    match = _DAY.fullmatch(value)
    try:
        day = date(*map(int, match.groups())) if match else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"{field} must be a date like 2026-11-22 (from {FIRST_DAY} to {LAST_DAY}).",
                           code="invalid_date", details={"field": field})
    return day
