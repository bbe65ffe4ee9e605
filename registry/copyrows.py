"""Rows written with PostgreSQL's COPY in its text format, bypassing the ORM.

For the two writers of many rows at once: the demo generator (``seed_demo``)
and the import's commit (``registry.importer``). COPY takes a few text lines
per row where ``bulk_create`` prepares each value through its field and builds
an INSERT; at a hundred thousand records with their history rows that
preparation was most of an import's time. Values are written as they are held
on the model instance after validation (dates, decimals, codes, numbers, text),
so they must be of the types COPY_TEXT knows.
"""

from __future__ import annotations

import datetime
import decimal
import functools
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, models
from django.utils import timezone

#: COPY's text format: a backslash escapes itself and the separators in text.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
#: How COPY's text format writes each type of value (NULL as \N).
COPY_TEXT = {
    type(None): lambda value: "\\N",
    bool: lambda value: "t" if value else "f",
    int: int.__repr__,
    float: float.__repr__,
    decimal.Decimal: str,
    str: lambda value: value.translate(COPY_ESCAPES),
    datetime.date: datetime.date.isoformat,
    datetime.datetime: datetime.datetime.isoformat,
}


def copy_text(value) -> str:
    """Return a value as COPY's text format writes it."""
    if (text := COPY_TEXT.get(type(value))) is not None:
        return text(value)
    if isinstance(value, str):  # a coded value (TextChoices member)
        return value.translate(COPY_ESCAPES)
    raise TypeError(f"cannot write {value!r} with COPY")


#: Most columns draw on a few thousand values at most (codes, dates, doses, the
#: time of creation): each is written once and then looked up. typed: True and
#: 1 are different values.
cached_copy_text = functools.lru_cache(maxsize=2**16, typed=True)(copy_text)


def copy_format(field) -> Callable[[Any], str]:
    """Return how COPY's text format writes a column's values."""
    if (
        field.primary_key
        or field.attname == "id"
        or (field.is_relation and not field.null)
    ):
        return str  # ids: never null, rarely twice
    if isinstance(field, models.CharField) and not field.choices:
        return copy_text  # free text (MRN, registry number): rarely twice
    return cached_copy_text


def copy_lines(table: str, columns: Iterable[str], lines: bytes) -> None:
    """Send rows already in COPY's text format into `table`'s `columns`."""
    quote = connection.ops.quote_name
    statement = f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN"
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(lines)


def reserve_ids(table: str, column: str, count: int) -> list[int]:
    """Take `count` ids from the column's sequence (one query, no table lock).

    The ids are the sequence's own, so an insert running beside this one
    never takes one of them; they are in order, though not always contiguous.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
            "FROM generate_series(1, %s)",
            [table, column, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def create_with_history(objs: list, model, *, user, reason: str) -> None:
    """Insert new records and the history row of each creation with COPY.

    What ``simple_history.utils.bulk_create_with_history`` through the
    clinical manager does, for PostgreSQL: locked patients are refused
    (``registry.status``), each record gets its id (set on the instance), its
    creation time, and a history row ("+", `user`, `reason`), and its
    patient's facts are refreshed (noted, inside ``facts.deferred()``).
    """
    from registry import facts, status

    if not objs:
        return
    status.assert_unlocked_patients(model, (facts.patient_id_of(o) for o in objs))
    now = timezone.now()
    fields = model._meta.concrete_fields
    stamped = [
        f.attname
        for f in fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    ids = reserve_ids(model._meta.db_table, model._meta.pk.column, len(objs))
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        for name in stamped:
            setattr(obj, name, now)
        obj._state.adding = False
        obj._state.db = connection.alias
    history = model.history.model
    tracked = [f.attname for f in history.tracked_fields]
    history_ids = reserve_ids(history._meta.db_table, "history_id", len(objs))
    common = {
        "history_date": now,
        "history_change_reason": reason,
        "history_type": "+",
        "history_user_id": getattr(user, "pk", None),
    }
    own = [f for f in history._meta.concrete_fields if f.attname not in tracked]
    record_formats = [(copy_format(f), f.attname) for f in fields]
    tracked_formats = [
        (copy_format(history._meta.get_field(name)), name) for name in tracked
    ]
    own_text = {
        f.attname: copy_format(f)(common[f.attname]) for f in own if f.attname in common
    }
    record_lines = []
    history_lines = []
    for obj, history_id in zip(objs, history_ids, strict=True):
        values = obj.__dict__
        record_lines.append(
            "\t".join([write(values[name]) for write, name in record_formats])
        )
        own_values = [
            str(history_id) if f.attname == "history_id" else own_text[f.attname]
            for f in own
        ]
        history_lines.append(
            "\t".join(
                [write(values[name]) for write, name in tracked_formats] + own_values
            )
        )
    copy_lines(
        model._meta.db_table,
        [f.column for f in fields],
        ("\n".join(record_lines) + "\n").encode(),
    )
    copy_lines(
        history._meta.db_table,
        [history._meta.get_field(name).column for name in tracked]
        + [f.column for f in own],
        ("\n".join(history_lines) + "\n").encode(),
    )
    patient_ids = [facts.patient_id_of(obj) for obj in objs]
    status.after_verified_bulk_change(
        model, patient_ids, happened="records were added (import)"
    )
    facts.refresh(patient_ids)
