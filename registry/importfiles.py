"""Reading import files into sheets of text cells: CSV, a folder or .zip of CSV, XLSX.

Each record kind comes as one CSV file named after it (``operation.csv``) or one
XLSX sheet of that name. Cells are kept as text, as a person typed them (dates
of an XLSX date cell as YYYY-MM-DD, whole numbers without ".0"), so that the
importer parses every source the same way and a message quotes what the file
holds.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

#: The first data row's number: row 1 is the header, as a spreadsheet shows it.
FIRST_ROW = 2


@dataclass
class Sheet:
    """One record kind's rows, from one file or sheet."""

    name: str
    source: str
    header: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    #: What is wrong with the file's columns, as (row, column, message): a
    #: column named twice, values under a column with no name, a row of more
    #: cells than the header names.
    problems: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass
class FileProblem:
    """A file that cannot be read as a whole (not CSV or XLSX, bad encoding)."""

    source: str
    message: str


def read(files) -> tuple[list[Sheet], list[FileProblem]]:
    """Return the sheets of `files` and the files that could not be read.

    `files` is a path (a folder of CSV files, a .zip of them, one .xlsx, one
    .csv) or a list of paths or of (name, bytes) pairs (uploaded files).
    """
    sheets: list[Sheet] = []
    problems: list[FileProblem] = []
    for name, data in _named_files(files, problems):
        try:
            sheets.extend(_sheets_of(name, data))
        except UNREADABLE as exc:
            problems.append(FileProblem(name, f"cannot be read: {exc}"))
    return sheets, problems


#: What reading a file that is not what its name says raises: a bad encoding or
#: CSV (csv.Error, with its row), a damaged or encrypted .zip (RuntimeError:
#: "password required"; zlib.error, EOFError, NotImplementedError: a method
#: zipfile lacks), an XLSX that is not one (KeyError for a missing part,
#: SyntaxError: the XML parsers' errors).
UNREADABLE = (
    ValueError,
    KeyError,
    csv.Error,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    NotImplementedError,
    SyntaxError,
)


def _named_files(files, problems) -> list[tuple[str, bytes]]:
    if isinstance(files, str | Path):
        files = [Path(files)]
    found: list[tuple[str, bytes]] = []
    for item in files:
        if isinstance(item, tuple):
            found.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            found.extend((p.name, p.read_bytes()) for p in sorted(path.glob("*.csv")))
        elif path.is_file():
            found.append((path.name, path.read_bytes()))
        else:
            problems.append(FileProblem(str(path), "no such file or folder"))
    return found


def _sheets_of(name: str, data: bytes) -> list[Sheet]:
    lower = name.lower()
    if lower.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = sorted(
                m
                for m in archive.namelist()
                if m.lower().endswith(".csv") and not m.startswith("__MACOSX")
            )
            return [
                _csv_sheet(f"{name}:{m}", Path(m).stem, archive.read(m))
                for m in members
            ]
    if lower.endswith(".xlsx"):
        return _xlsx_sheets(name, data)
    if lower.endswith(".csv"):
        return [_csv_sheet(name, Path(name).stem, data)]
    raise ValueError("not a .csv, .zip or .xlsx file")


def _csv_sheet(source: str, kind: str, data: bytes) -> Sheet:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"row {row} is not UTF-8 text (byte {data[exc.start]:#04x}): save the "
            "file as CSV UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
        rows = list(enumerate(reader, start=FIRST_ROW))
    except csv.Error as exc:  # e.g. a cell longer than the csv module reads
        raise csv.Error(f"row {reader.line_num}: {exc}") from exc
    return _sheet(kind, source, header, rows, lambda i: f"column {i + 1}")


def _xlsx_sheets(source: str, data: bytes) -> list[Sheet]:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sheets = []
    for ws in book.worksheets:
        rows = ws.iter_rows(values_only=True)
        header = [_text(h) for h in next(rows, ())]
        cells = [
            (number, [_text(v) for v in values])
            for number, values in enumerate(rows, start=FIRST_ROW)
        ]
        sheets.append(
            _sheet(
                ws.title,
                f"{source}:{ws.title}",
                header,
                cells,
                lambda i: f"column {get_column_letter(i + 1)}",
            )
        )
    book.close()
    return sheets


def _sheet(kind: str, source: str, header: list[str], rows, position) -> Sheet:
    """Return the sheet of `rows` ((number, cells) pairs) under `header`.

    Blank rows are skipped, and so is a column with no name and no value (a
    trailing comma, a formatted column of a spreadsheet). What else is wrong
    with the columns is kept in the sheet's problems, the column named by its
    name or, without one, its `position` ("column F").
    """
    header = [h.strip() for h in header]
    columns: dict[str, int] = {}
    sheet = Sheet(kind.strip().lower(), source, [])
    for i, name in enumerate(header):
        if not name:
            continue
        if name in columns:
            sheet.problems.append(
                (
                    1,
                    name,
                    f"the column is given twice ({position(columns[name])} and "
                    f"{position(i)}): keep one",
                )
            )
            continue
        columns[name] = i
    sheet.header = list(columns)
    unnamed = [i for i, name in enumerate(header) if not name]
    noted: set[int] = set()
    for number, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        for i in unnamed:
            if i < len(cells) and cells[i].strip() and i not in noted:
                noted.add(i)
                sheet.problems.append(
                    (
                        number,
                        position(i),
                        "a value in a column without a name in row 1: name the "
                        "column, or remove it",
                    )
                )
        if any(c.strip() for c in cells[len(header) :]):
            sheet.problems.append(
                (
                    number,
                    position(len(header)),
                    f"{len(cells)} cells, where row 1 names {len(header)} columns: a "
                    "value holding a comma must be in double quotes",
                )
            )
        sheet.rows.append(
            (number, {name: cells[i] for name, i in columns.items() if i < len(cells)})
        )
    return sheet


#: What XLSX text cannot hold (control characters other than tab and line
#: breaks), and what OOXML writes for any character: "_x000B_".
_UNHELD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|_x[0-9A-Fa-f]{4}_")


def xlsx_escape(text: str) -> str:
    """Return `text` as an XLSX cell holds it: a control character as OOXML's
    "_xHHHH_" (Word's line break, U+000B, pasted into a note), and a text of
    that form itself with its "_" escaped, as Excel writes them. (openpyxl's
    own ``escape`` leaves such a text as it is, and escapes line breaks; its
    ``unescape`` reads both back, as the import does.)"""
    return _UNHELD.sub(
        lambda m: f"_x{ord(m[0]):04X}_" if len(m[0]) == 1 else f"_x005F{m[0]}", text
    )


def _text(value) -> str:
    """Return an XLSX cell as the text a CSV file would hold."""
    if isinstance(value, str):
        from openpyxl.utils.escape import unescape

        return unescape(value)
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
