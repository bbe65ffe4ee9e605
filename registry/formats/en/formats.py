"""ISO 8601 dates for en (see registry/formats/__init__.py)."""

from registry.formats.en_GB.formats import *  # noqa: F403
