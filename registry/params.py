"""Whole numbers read from a request (a query string, a cursor), in bounds."""

from __future__ import annotations

#: The years a date can have (Python's datetime), and the ids a key can
#: (a 64-bit integer, PostgreSQL's bigint and SQLite's integer).
YEARS, KEYS = (1, 9999), (1, 2**63 - 1)


def whole_number(value: str | None, bounds: tuple[int, int]) -> int | None:
    """Return `value` as a whole number within `bounds`, or None.

    Only ASCII digits are read ("²" is a digit to str.isdigit, not to int),
    and only numbers the database and datetime can take: year 99999 or a
    20-digit id raised an error deeper down, a server error for the user.
    """
    if not value or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if bounds[0] <= number <= bounds[1] else None
