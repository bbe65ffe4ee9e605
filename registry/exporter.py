"""Exports: everything for data managers, a de-identified dataset for analysts.

Both write one table per record kind, its columns named as in the data
dictionary, as a .zip of CSV files, an XLSX workbook (one sheet per kind), or a
.zip of Stata .dta files with value labels; the full export adds the dictionary
itself. The full export is laid out exactly as the import reads it, so that a
registry exported, imported into an empty registry and exported again gives
the same files (RoundTripTests in tests/registry/test_exporter.py).

The **de-identified** export follows HIPAA's Safe Harbor method (45 CFR
164.514(b)(2)): no MRN, date of birth, registry number or source record id (each
patient gets a study id drawn at random for this export only, so two exports
cannot be linked); every date is given as days from the diagnosis, with the
year of diagnosis; the age at diagnosis (from the date of birth, or the age
recorded when it is not known) with ages over 89 given as 90; free text is left
out (it can name anyone); the site is left out. A cohort smaller than the minimum
cell size is refused, as a report of it would be.

Queries: one per record kind (and, de-identified, one for the patients in the
order of their study ids; an export made on a web page, or an XLSX one, first
counts each kind's rows: check_size), whatever the number of patients, all in
one snapshot of the registry. CSV files and XLSX sheets are written as their
rows are read, a chunk at a time; a Stata file is made from its table held
whole, one table at a time.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import random
import zipfile
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import BinaryIO

from django.conf import settings
from django.db import connections, transaction
from django.db.models import CharField, F, Func, QuerySet, Value
from django.db.models.functions import MD5, Cast, Concat

from registry import dictionary, importfiles
from registry.dictionary import PATIENT_REFERENCE
from registry.models import Patient, TransferLog

FORMATS = ("csv", "xlsx", "dta")
#: Ages above this are written as AGE_CAP (Safe Harbor: ages over 89 aggregated).
AGE_LIMIT = 89
AGE_CAP = 90
#: The zip members' time stamp: the same data give the same bytes.
FIXED_TIME = (2000, 1, 1, 0, 0, 0)
#: Rows an XLSX sheet holds, its header row included (Excel's limit): a table
#: longer than that is refused in XLSX before anything is read.
XLSX_MAX_ROWS = 1_048_576
CONTENT_TYPES = {
    "csv": "application/zip",
    "dta": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ExportRefused(Exception):
    """The export may not be made (a cohort below the minimum cell size, a table
    longer than an XLSX sheet holds, or more rows than a web page may write)."""


@dataclass(frozen=True)
class Table:
    """One record kind's rows, with what Stata needs to label them. The rows
    are a list, or, as streamed_tables gives them, read as they are iterated."""

    name: str
    columns: list[str]
    rows: Iterable
    labels: dict[str, str]
    codes: dict[str, dict[str, str]]
    kinds: dict[str, str]


@dataclass(frozen=True)
class ExportFile:
    """A finished export: its file name, content type and bytes, and its size."""

    name: str
    content_type: str
    data: bytes
    patients: int
    rows: int

    def logged(self) -> dict:
        """Return what log() records of this file."""
        return {"file_name": self.name, "patients": self.patients, "rows": self.rows}


# --- the full export -------------------------------------------------------------


#: The full export's file name, before its format.
FULL_STEM = "registry-export"
#: The de-identified export's.
DEIDENTIFIED_STEM = "registry-deidentified"
#: Rows read from the database at a time (streamed_tables).
CHUNK_ROWS = 5_000


@contextmanager
def snapshot(using: str):
    """Read an export in one transaction that sees one state of the registry.

    On PostgreSQL a transaction of its own is made REPEATABLE READ: every
    statement of the export then reads the data as they were at its first, so
    a patient registered while the export runs is in none of its tables rather
    than in some. (SQLite's transaction reads one state already.) In an outer
    transaction the export reads as that transaction does. Within it, the
    PostgreSQL cursors send their rows as they are read, where outside one
    Django's (WITH HOLD) are kept whole at the commit.
    """
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _kind_rows(kind, ids: QuerySet) -> tuple[QuerySet, dict[str, str], str]:
    """Return a record kind's rows of the patients `ids` selects (a queryset,
    unordered), the lookup of each of its dictionary columns, and the lookup
    of its patient's id."""
    if kind.name == "patient":
        rows = Patient.objects.filter(pk__in=ids).annotate(site_code=F("site__code"))
        return rows, {"site": "site_code"}, "pk"
    rows = kind.model.objects.filter(patient__in=ids)
    return rows, {n: f"patient__{n}" for n in PATIENT_REFERENCE}, "patient_id"


def full_rows(patients: QuerySet) -> Iterator[tuple[str, dict, QuerySet]]:
    """Yield each record kind of `patients` as (name, its dictionary entries,
    its rows as a queryset of tuples), laid out as the import reads it."""
    ids = patients.order_by().values("pk")
    for kind in dictionary.record_kinds():
        entries = dictionary.entry_map(kind.name)
        rows, lookups, _ = _kind_rows(kind, ids)
        if kind.name == "patient":
            order = ("registry_number",)
        else:
            order = ("patient__registry_number", *kind.key, "pk")
        rows = rows.order_by(*order).values_list(*[lookups.get(n, n) for n in entries])
        yield kind.name, entries, rows


def streamed_tables(
    patients: QuerySet, *, deidentified: bool, rng: random.Random | None = None
) -> Iterator[Table]:
    """Yield each table of the full (or de-identified) export of `patients`,
    its rows read from the database CHUNK_ROWS at a time as they are iterated:
    the CSV and XLSX exports write them as they read, so that their memory is
    a chunk's whatever the registry's size; a Stata file is made from one table
    held whole at a time. Call it within snapshot()."""
    if deidentified:
        for layout, rows in deidentified_rows(patients, rng=rng):
            yield layout.table(rows)
        return
    for name, entries, rows in full_rows(patients):
        yield _table(name, entries, rows.iterator(chunk_size=CHUNK_ROWS))


def write_csv(tables: Iterable[Table], out: BinaryIO, extra: dict) -> list[int]:
    """Write a zip of one CSV file per table to `out` (a binary file that can
    seek), each as its rows are read, then the `extra` members; return each
    table's number of rows."""
    written = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in tables:
            written.append(_write_member(archive, table))
        for name, data in extra.items():
            archive.writestr(_member(name), data)
    return written


def _write_member(archive: zipfile.ZipFile, table: Table) -> int:
    """Write `table` as the CSV member <name>.csv of `archive`, its rows as they
    come; return how many."""
    with archive.open(_member(f"{table.name}.csv"), "w") as member:
        lines = io.TextIOWrapper(member, encoding="utf-8", newline="")
        writer = csv.writer(lines, lineterminator="\n")
        writer.writerow(table.columns)
        count = 0
        for row in table.rows:
            writer.writerow([text(v) for v in row])
            count += 1
        lines.flush()
        lines.detach()
    return count


def _table(name: str, entries: dict, rows: Iterable) -> Table:
    return Table(
        name=name,
        columns=list(entries),
        rows=rows,
        labels={n: e.label for n, e in entries.items()},
        codes={n: e.codes for n, e in entries.items() if e.codes},
        kinds={n: e.type for n, e in entries.items()},
    )


def web_row_limit(fmt: str) -> int:
    """Return the most rows an export in `fmt` made through a web page may have
    (REGISTRY_WEB_XLSX_ROWS, REGISTRY_WEB_EXPORT_ROWS): a request has 30 s."""
    if fmt == "xlsx":
        return settings.REGISTRY_WEB_XLSX_ROWS
    return settings.REGISTRY_WEB_EXPORT_ROWS


def check_size(patients: QuerySet, fmt: str, *, most_rows: int | None = None) -> None:
    """Refuse an XLSX export of `patients` with a table longer than a sheet
    holds (XLSX_MAX_ROWS), or an export with more than `most_rows` rows in all
    (a web page's limit, web_row_limit), before reading any of it: one count
    per record kind.

    Both exports write one row per record of the same tables, so this serves
    the de-identified export too. CSV and Stata have no sheet limit: without
    `most_rows` they are not counted.
    """
    if fmt != "xlsx" and most_rows is None:
        return
    total = 0
    for name, _, rows in full_rows(patients):
        count = rows.count()
        if fmt == "xlsx" and count >= XLSX_MAX_ROWS:
            raise ExportRefused(
                f"An XLSX sheet holds at most {XLSX_MAX_ROWS - 1:,} rows under its "
                f"header, and the {name} table has {count:,}. Choose the zip of "
                "CSV files or Stata instead."
            )
        total += count
    if most_rows is None or total <= most_rows:
        return
    if fmt == "xlsx":
        raise ExportRefused(
            f"These patients' records make {total:,} rows, and an XLSX workbook "
            f"of more than {most_rows:,} takes longer to write than a web page may "
            "wait. Choose the zip of CSV files or Stata, or have the workbook "
            "written by the command manage.py export_records --format xlsx "
            "(README, Exporting)."
        )
    raise ExportRefused(
        f"These patients' records make {total:,} rows, and an export of more than "
        f"{most_rows:,} takes longer to write than a web page may wait. Have it "
        f"written by the command manage.py export_records --format {fmt} "
        "(README, Exporting), or export one site at a time."
    )


def export_full(
    patients: QuerySet, *, fmt: str, most_rows: int | None = None
) -> ExportFile:
    """Return the full export of `patients` in `fmt` (csv, xlsx or dta).

    Raises ExportRefused for an XLSX export with a table too long for a sheet,
    or more than `most_rows` rows in all (check_size).
    """
    check_size(patients, fmt, most_rows=most_rows)
    return _in_memory(patients, fmt, deidentified=False)


def write_export(
    patients: QuerySet,
    out: BinaryIO,
    *,
    fmt: str,
    deidentified: bool = False,
    rng: random.Random | None = None,
) -> tuple[int, int]:
    """Write the full (or de-identified) export of `patients` in `fmt` to `out`
    (a binary file that can seek); return the patients and the rows written.

    The tables are read in one snapshot (streamed_tables): CSV and XLSX are
    written as they are read, a Stata file from its table held whole. The
    checks (check_cohort, check_size) are the caller's.
    """
    writers = {"csv": write_csv, "xlsx": write_xlsx, "dta": write_dta}
    if fmt not in writers:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    # the full export carries the data dictionary (as the import reads it)
    extra = {} if deidentified else {"dictionary.csv": dictionary.as_csv()}
    with snapshot(patients.db):
        tables = streamed_tables(patients, deidentified=deidentified, rng=rng)
        written = writers[fmt](tables, out, extra)
    return written[0], sum(written)


def file_name(fmt: str, *, deidentified: bool = False) -> str:
    """Return the name the pages give an export in `fmt`."""
    stem = DEIDENTIFIED_STEM if deidentified else FULL_STEM
    return f"{stem}.xlsx" if fmt == "xlsx" else f"{stem}-{fmt}.zip"


def _in_memory(
    patients: QuerySet, fmt: str, *, deidentified: bool, rng=None
) -> ExportFile:
    out = io.BytesIO()
    count, rows = write_export(
        patients, out, fmt=fmt, deidentified=deidentified, rng=rng
    )
    name = file_name(fmt, deidentified=deidentified)
    return ExportFile(name, CONTENT_TYPES[fmt], out.getvalue(), count, rows)


# --- the de-identified export -----------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """A record kind's table in the de-identified export: its columns, and which
    of the kind's dictionary columns it keeps (``keep``), read in that order."""

    name: str
    columns: list[str]
    keep: list[str]
    dates: frozenset[str]
    labels: dict[str, str]
    codes: dict[str, dict[str, str]]
    kinds: dict[str, str]

    def table(self, rows: Iterable) -> Table:
        """Return `rows` (this layout's) as a Table."""
        return Table(self.name, self.columns, rows, self.labels, self.codes, self.kinds)

    def row(self, values, study: str, start: datetime.date | None, age) -> list:
        """Return the table's row of a record: `values` its kept columns in
        order, `study` its patient's study id, `start` the date of diagnosis,
        `age` the age stored with the patient's facts."""
        out = [study]
        for name, value in zip(self.keep, values, strict=True):
            if name in self.dates:
                value = (value - start).days if value and start else None
            out.append(value)
        if self.name in ("patient", "primary_tumour"):
            out.append(start.year if start else None)
        if self.name == "patient":
            out.append(capped_age(age))
        return out


#: Columns written by the de-identified export in another form, never as stored:
#: the age at diagnosis is the stored one, capped (capped_age), as the last column.
DERIVED_COLUMNS = ("date_of_birth", "age_at_diagnosis")


def layout(name: str) -> Layout:
    """Return the de-identified table of the record kind `name`."""
    entries = dictionary.entry_map(name)
    kept_out = (*PATIENT_REFERENCE, "site")
    if name == "patient":
        kept_out += DERIVED_COLUMNS
    keep = [
        n
        for n, entry in entries.items()
        if not entry.identifier and not entry.free_text and n not in kept_out
    ]
    columns = ["study_id"]
    labels = {"study_id": "Study id (random, this export only)"}
    kinds = {"study_id": "text"}
    for n in keep:
        if entries[n].type == "date":
            columns.append(f"{n}_days")
            labels[f"{n}_days"] = f"{entries[n].label}: days from diagnosis"
            kinds[f"{n}_days"] = "integer"
        else:
            columns.append(n)
            labels[n] = entries[n].label
            kinds[n] = entries[n].type
    if name in ("patient", "primary_tumour"):
        columns.append("diagnosis_year")
        labels["diagnosis_year"] = "Year of diagnosis"
        kinds["diagnosis_year"] = "integer"
    if name == "patient":
        columns.append("age_at_diagnosis")
        labels["age_at_diagnosis"] = f"Age at diagnosis (years; {AGE_CAP} = over 89)"
        kinds["age_at_diagnosis"] = "integer"
    dates = frozenset(n for n in keep if entries[n].type == "date")
    codes = {n: entries[n].codes for n in keep if entries[n].codes}
    return Layout(name, columns, keep, dates, labels, codes, kinds)


def deidentified_rows(
    patients: QuerySet, *, rng: random.Random | None = None
) -> Iterator[tuple[Layout, Iterator[list]]]:
    """Yield each record kind of `patients`, de-identified by Safe Harbor, as its
    Layout and its rows, read from the database CHUNK_ROWS at a time.

    Each patient's study id is their place (S1, S2, ...) in an order drawn for
    this export alone: the MD5 of a random key and the patient's id, which the
    database sorts by. The key is kept nowhere (_order_key): on PostgreSQL the
    server draws it into a setting of the export's transaction, so it is in no
    statement and no log either. The patients are read first, in that order,
    keeping three numbers each (id, date of diagnosis, stored age); every table
    is then read in the same order, so that its rows come by study id and each
    finds its patient's numbers by walking the patients alongside. Nothing else
    is held: the memory is a chunk's rows and those numbers, whatever the number
    of records. Call it within snapshot(), so that every table reads the
    patients read first.
    """
    ids = patients.order_by().values("pk")
    key = _order_key(patients.db, rng)

    def drawn(field: str):  # the patient's place in this export's order
        return MD5(Concat(key, Cast(field, output_field=CharField())))

    people = (
        Patient.objects.filter(pk__in=ids)
        .annotate(drawn=drawn("pk"))
        .order_by("drawn", "pk")
        # the age as stored with the patient's facts (registry.derive's
        # age_at_diagnosis, written by registry.facts): read, never worked out
        .values_list("pk", "tumour__diagnosis_date", "facts__age")
    )
    pks, starts, ages = array("q"), array("l"), array("h")
    for pk, start, age in people.iterator(chunk_size=CHUNK_ROWS):
        pks.append(pk)
        starts.append(start.toordinal() if start else 0)
        ages.append(-1 if age is None else age)
    width = len(str(len(pks)))

    def rows(table: Layout, records: QuerySet) -> Iterator[list]:
        at = 0  # the patient of the last row, in the drawn order
        for *values, pk in records.iterator(chunk_size=CHUNK_ROWS):
            while pks[at] != pk:
                at += 1
            start = datetime.date.fromordinal(starts[at]) if starts[at] else None
            age = None if ages[at] < 0 else ages[at]
            yield table.row(values, f"S{at + 1:0{width}d}", start, age)

    for kind in dictionary.record_kinds():
        table = layout(kind.name)
        records, lookups, patient = _kind_rows(kind, ids)
        key_fields = () if kind.name == "patient" else (*kind.key, "pk")
        records = (
            records.annotate(drawn=drawn(patient))
            .order_by("drawn", patient, *key_fields)
            .values_list(*[lookups.get(n, n) for n in table.keep], patient)
        )
        yield table, rows(table, records)


#: The setting of a de-identified export's transaction that holds its key, on
#: PostgreSQL.
ORDER_KEY_SETTING = "registry.export_order_key"


def _order_key(using: str, rng: random.Random | None):
    """Return the key of a de-identified export's order as an SQL expression.

    On PostgreSQL, without `rng`, the server draws it (gen_random_uuid, 122
    random bits) into a setting of the export's transaction, which every
    statement then reads (current_setting): the key is sent in no statement,
    so a server that logs its statements (slow ones, say) cannot write down
    what links study ids to patients. Otherwise it is a random 128-bit key in
    the statements: from `rng` (the tests' repeatable draws), or the system's
    (SQLite, which keeps no log of statements).
    """
    connection = connections[using]
    if rng is None and connection.vendor == "postgresql":
        if not connection.in_atomic_block:
            raise RuntimeError("a de-identified export is read within snapshot()")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config(%s, gen_random_uuid()::text, true)",
                [ORDER_KEY_SETTING],
            )
        return Func(
            Value(ORDER_KEY_SETTING),
            function="current_setting",
            output_field=CharField(),
        )
    return Value(f"{(rng or random.SystemRandom()).getrandbits(128):032x}")


def capped_age(years: int | None) -> int | None:
    """Return an age in whole years with ages over 89 as 90 (Safe Harbor)."""
    if years is None:
        return None
    return AGE_CAP if years > AGE_LIMIT else years


def export_deidentified(
    patients: QuerySet,
    *,
    fmt: str,
    min_cell: int,
    rng: random.Random | None = None,
    most_rows: int | None = None,
) -> ExportFile:
    """Return the de-identified export of `patients`; refuse a cohort too small
    (or an export too large: check_size)."""
    check_cohort(patients, min_cell=min_cell)
    check_size(patients, fmt, most_rows=most_rows)
    return _in_memory(patients, fmt, deidentified=True, rng=rng)


def check_cohort(patients: QuerySet, *, min_cell: int) -> None:
    """Refuse a de-identified export of fewer than `min_cell` patients."""
    if patients.count() < min_cell:
        raise ExportRefused(
            f"The cohort has fewer than {min_cell} patients: so that no patient can "
            "be recognised, it cannot be exported."
        )


# --- files -----------------------------------------------------------------------


def log(
    user,
    action: str,
    *,
    file_name: str,
    patients: int,
    rows: int,
    sites,
    detail: dict | None = None,
) -> TransferLog:
    """Record who exported what, and when."""
    return TransferLog.objects.create(
        action=action,
        user=user,
        file_format=file_name.rsplit(".", 1)[-1],
        file_name=file_name,
        sites=",".join(sorted(sites))[:500],
        patients=patients,
        rows=rows,
        detail=detail or {},
    )


def site_codes(user) -> list[str]:
    """Return the codes of the sites whose patients `user` may export."""
    from registry.models import Site

    return list(Site.objects.for_user(user).values_list("code", flat=True))


def text(value) -> str:
    """Return a value as the export's (and the import's) text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """Return a zip of `members` with fixed time stamps (same data, same bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(_member(name), data)
    return out.getvalue()


def _member(name: str) -> zipfile.ZipInfo:
    """Return a zip member's entry, with the fixed time stamp."""
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_xlsx(tables: Iterable[Table], out: BinaryIO, extra: dict) -> list[int]:
    """Write a workbook of one sheet per table to `out`: numbers as numbers,
    dates as date cells (YYYY-MM-DD, openpyxl's format for a date), codes and
    text as text, as the import reads them back. Returns each sheet's number of
    rows. (A workbook has no `extra` files: the data dictionary is a download
    of its own.)

    Written in openpyxl's write-only mode: each row goes to its sheet's file as
    it is appended, with no cell object kept, so that rows read a chunk at a
    time (streamed_tables) are never all held.
    """
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    written = []
    for table in tables:
        sheet = book.create_sheet(table.name)
        sheet.append(table.columns)
        count = 0
        for row in table.rows:
            sheet.append([_cell(v, sheet) for v in row])
            count += 1
        written.append(count)
    out.write(dictionary.save_workbook(book))
    return written


#: The first date an XLSX date cell holds unambiguously: Excel's serial numbers
#: count 1900 as a leap year, and read serials 0 and 1 as times of day.
XLSX_FIRST_DATE = datetime.date(1900, 3, 1)


def _cell(value, sheet):
    """Return `value` as an XLSX cell that reads back as it was written."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.date) and value < XLSX_FIRST_DATE:
        return value.isoformat()  # as text, which the import reads as a date
    if isinstance(value, bool | int | float | datetime.date) or value is None:
        return value
    text = importfiles.xlsx_escape(str(value))
    if text.startswith("="):
        # text as typed ("=> MDT ..."), not a formula, which openpyxl would
        # make of it and a spreadsheet would run
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type = "s"
        return cell
    return text


def write_dta(tables: Iterable[Table], out: BinaryIO, extra: dict) -> list[int]:
    """Write a zip of one Stata file per table to `out`, each made from its
    table held whole before the next is read, then the `extra` members; return
    each table's number of rows."""
    members, written = {}, []
    for table in tables:
        held = replace(table, rows=list(table.rows))
        members[f"{table.name}.dta"] = dta_bytes(held)
        written.append(len(held.rows))
    out.write(zip_bytes(members | extra))
    return written


def dta_bytes(table: Table) -> bytes:
    """Return a Stata 14+ .dta file of a table whose rows are a list: codes as
    labelled integers, dates as dates."""
    import pandas as pd

    frame = pd.DataFrame(table.rows, columns=table.columns, dtype=object)
    dates = {}
    for name in table.columns:
        kind = table.kinds.get(name, "text")
        column = frame[name]
        if name in table.codes and table.rows:
            # (an empty table's coded columns are left as text: pandas cannot
            # write an empty labelled column)
            labels = list(dict.fromkeys(table.codes[name].values()))
            mapped = column.map(lambda v, c=table.codes[name]: c.get(v))
            frame[name] = pd.Categorical(mapped, categories=labels)
        elif kind == "date":
            frame[name] = pd.to_datetime(column)
            dates[name] = "td"
        elif kind in ("decimal", "integer"):
            frame[name] = pd.to_numeric(column.map(_number), errors="coerce")
        elif kind == "boolean":
            frame[name] = column.map(lambda v: None if v is None else int(v)).astype(
                "float"
            )
        else:
            frame[name] = column.map(text).astype(str)
    out = io.BytesIO()
    frame.to_stata(
        out,
        write_index=False,
        convert_dates=dates,
        version=118,
        variable_labels={n: label[:80] for n, label in table.labels.items()},
        data_label=table.name,
        time_stamp=datetime.datetime(2000, 1, 1),
    )
    return out.getvalue()


def _number(value):
    return None if value is None else float(value)
