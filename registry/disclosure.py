"""Who sees small counts: the minimum cell size of disclosure control.

A count of a few patients can point at one of them, so users who may not see
identifiers see no count below ``settings.REGISTRY_MIN_CELL``: such a count,
zero included, is shown as ``"<5"`` (generally ``"<{min_cell}"``). The reports
(analytics.disclosure) and the registry's own pages (the home page's counts)
hold to this one rule.
"""

from __future__ import annotations

from django.conf import settings

#: Whoever has this permission sees every count (and the identifiers).
SEES_EVERY_COUNT = "registry.view_identifiers"


def min_cell_for(user) -> int | None:
    """Return the smallest count `user` may see, or None when they may see any."""
    if user.has_perm(SEES_EVERY_COUNT):
        return None
    return settings.REGISTRY_MIN_CELL


def masked(min_cell: int) -> str:
    """Return how a hidden count is written: "<5" for a minimum of 5."""
    return f"<{min_cell}"


def is_masked(value) -> bool:
    """Return whether `value` is a hidden count ("<5")."""
    return isinstance(value, str) and value.startswith("<")


def is_small(value, min_cell: int) -> bool:
    """Return whether a count must be hidden: below `min_cell` (zero too), or hidden.

    None (nothing counted) is not a count and stays as it is.
    """
    if value is None:
        return False
    if is_masked(value):
        return True
    return value < min_cell


def cell(value, min_cell: int | None):
    """Return a count as it may be shown: the count itself, or "<5" (any count
    when `min_cell` is None)."""
    if min_cell is None:
        return value
    return masked(min_cell) if is_small(value, min_cell) else value
