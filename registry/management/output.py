"""The file a management command writes, checked before any work is done."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.management.base import CommandError


def output_path(value: str, *, option: str = "--output") -> Path:
    """Return `value` as the path of the file to write, or refuse it.

    Its folder must exist and be writable, and it must not be a folder itself:
    found before a report is computed or an export read, with a message naming
    the option, rather than as a traceback once the work is done.
    """
    path = Path(value)
    if path.is_dir():
        raise CommandError(f"{option}: {value} is a folder; give a file name in it.")
    if not path.parent.is_dir():
        raise CommandError(f"{option}: {value}: no such folder ({path.parent}).")
    try:  # a file made and gone again: the folder can be written to
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise CommandError(
            f"{option}: {value}: cannot write in {path.parent} ({exc.strerror})."
        ) from None
    return path
