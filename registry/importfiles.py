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
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        sheet = Sheet(kind.strip().lower(), source, header)
        for number, cells in enumerate(reader, start=FIRST_ROW):
            if not any(c.strip() for c in cells):
                continue
            sheet.rows.append((number, dict(zip(header, cells, strict=False))))
    except csv.Error as exc:  # e.g. a cell longer than the csv module reads
        raise csv.Error(f"row {reader.line_num}: {exc}") from exc
    return sheet


def _xlsx_sheets(source: str, data: bytes) -> list[Sheet]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sheets = []
    for ws in book.worksheets:
        rows = ws.iter_rows(values_only=True)
        header = [_text(h).strip() for h in next(rows, ())]
        sheet = Sheet(ws.title.strip().lower(), f"{source}:{ws.title}", header)
        for number, values in enumerate(rows, start=FIRST_ROW):
            cells = [_text(v) for v in values]
            if not any(c.strip() for c in cells):
                continue
            sheet.rows.append((number, dict(zip(header, cells, strict=False))))
        sheets.append(sheet)
    book.close()
    return sheets


def _text(value) -> str:
    """Return an XLSX cell as the text a CSV file would hold."""
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
