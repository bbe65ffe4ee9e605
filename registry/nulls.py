"""NUL characters (U+0000): PostgreSQL's text and jsonb hold none, so the
registry refuses them where they come in, saying where they are."""

from __future__ import annotations

from collections.abc import Mapping

#: What a refusal says of a text holding U+0000.
HOLDS_NUL = "holds a NUL character (\\u0000)"


def null_characters(data, *, whole: str) -> list[str]:
    """Return where in the JSON `data` (its fields' paths, in order) a text or
    a key holds a NUL character; `whole` names `data` itself."""
    found: list[str] = []
    pending: list[tuple[str, object]] = [("", data)]
    while pending:  # not recursive: the JSON may be nested as deep as allowed
        path, value = pending.pop(0)
        if isinstance(value, str):
            if "\x00" in value:
                found.append(path or whole)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                shown = str(key).replace("\x00", "\\x00")
                where = f"{path}.{shown}" if path else shown
                if isinstance(key, str) and "\x00" in key:
                    found.append(where)
                pending.append((where, item))
        elif isinstance(value, list | tuple):
            pending.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return found
