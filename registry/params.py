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


class YearLookupsChecked:
    """Mixin of every admin class: a list filtered by a year no date can have
    (``?date__year=99999``, ``?created_at__year=0``, from a bookmark or an
    edited address) is refused (the admin's 400), not a server error raised
    when the list is read, after the admin has stopped checking its filters."""

    def lookup_allowed(self, lookup, value, request=None):
        parts = lookup.split("__")
        if ("year" in parts or "iso_year" in parts) and whole_number(
            str(value), YEARS
        ) is None:
            return False
        return super().lookup_allowed(lookup, value, request)
