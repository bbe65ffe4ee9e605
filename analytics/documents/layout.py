"""How wide a report table is, and how it is set on A4 pages: one measure for the
PDF and the Word document.

Widths are measured with the PDF's font (DejaVu Sans, which matplotlib ships) at
the tables' size; both documents use A4 with the same margins, so a table the PDF
sets on a landscape page, or splits, is set the same way in Word.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from analytics.documents.tables import Cell, Table

MARGIN = 1.8 * cm
PORTRAIT = A4
LANDSCAPE = landscape(A4)
FONT = "RegistrySans"
BOLD = "RegistrySans-Bold"
TABLE_FONT_SIZE = 8
#: Cell padding, left and right (points).
PAD = 4
#: A column's text wraps at no more than this (points) when the table is wide.
MAX_NATURAL = 190


@lru_cache(maxsize=1)
def fonts() -> None:
    """Register DejaVu Sans (matplotlib ships it): it has χ², ≥ and the dashes,
    which ReportLab's built-in Helvetica cannot print."""
    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(ttf / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(ttf / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD)


def frame_width(size) -> float:
    """Return the width a flowable has on a page of `size`."""
    return size[0] - 2 * MARGIN


def _line_widths(text: str, font: str) -> tuple[float, float]:
    """Return (widest line, widest word) of `text` in points at the table size."""
    lines = [line for line in text.split("\n") if line] or [""]
    widest = max(pdfmetrics.stringWidth(line, font, TABLE_FONT_SIZE) for line in lines)
    words = [w for line in lines for w in line.split()] or [""]
    word = max(pdfmetrics.stringWidth(w, font, TABLE_FONT_SIZE) for w in words)
    return widest, word


def _column_widths(table: Table) -> tuple[list[float], list[float]]:
    """Return the natural and the smallest width of each column (points)."""
    count = len(table.columns)
    natural = [0.0] * count
    least = [0.0] * count
    for j, column in enumerate(table.columns):
        wide, word = _line_widths(column.text, BOLD)
        natural[j], least[j] = wide, word
    for row in table.rows:
        j = 0
        for cell in row:
            if cell.colspan == 1:
                font = BOLD if cell.header else FONT
                text = "\n".join(cell.lines)
                wide, word = _line_widths(text, font)
                natural[j] = max(natural[j], min(wide, MAX_NATURAL))
                least[j] = max(least[j], word)
            j += cell.colspan
    pad = 2 * PAD + 1
    return [w + pad for w in natural], [w + pad for w in least]


def _fit(natural: list[float], least: list[float], width: float) -> list[float] | None:
    """Return widths that fill at most `width`, narrowing wrappable columns; None
    when even the narrowest columns do not fit."""
    if sum(natural) <= width:
        return natural
    if sum(least) > width:
        return None
    slack = [n - m for n, m in zip(natural, least, strict=True)]
    share = (width - sum(least)) / sum(slack)
    return [m + s * share for m, s in zip(least, slack, strict=True)]


def _fit_table(
    table: Table, natural: list[float], least: list[float], width: float
) -> list[float] | None:
    """Return column widths within `width`, wrapping the text columns first: a
    number with its interval ("76% [56%–88%]") is read badly across two lines."""
    whole = [
        n if column.numeric else m
        for column, n, m in zip(table.columns, natural, least, strict=True)
    ]
    return _fit(natural, whole, width) or _fit(natural, least, width)


def layout(table: Table) -> tuple[str, list[list[int]], list[list[float]]]:
    """Return the orientation and the column parts of a table, with their widths.

    Portrait when the table fits with modest wrapping; else landscape; else
    landscape parts that each repeat the table's first ``keep_columns`` columns.
    """
    fonts()
    natural, least = _column_widths(table)
    everything = list(range(len(table.columns)))
    portrait = frame_width(PORTRAIT)
    if sum(natural) <= portrait * 1.25:
        widths = _fit_table(table, natural, least, portrait)
        if widths is not None:
            return "portrait", [everything], [widths]
    wide = frame_width(LANDSCAPE)
    widths = _fit_table(table, natural, least, wide)
    if widths is not None:
        return "landscape", [everything], [widths]
    keep = list(range(table.keep_columns))
    parts: list[list[int]] = []
    current: list[int] = []
    for j in everything[len(keep) :]:
        trial = keep + current + [j]
        if current and sum(least[k] for k in trial) > wide:
            parts.append(keep + current)
            current = []
        current.append(j)
    parts.append(keep + current)
    part_widths = []
    for part in parts:
        fitted = _fit([natural[k] for k in part], [least[k] for k in part], wide)
        # a single column wider than the page still gets the page
        part_widths.append(fitted or [wide / len(part)] * len(part))
    return "landscape", parts, part_widths


def part_rows(table: Table, part: list[int]) -> list[list[tuple[Cell, int]]]:
    """Return each row's cells that fall in `part`, with their spans clipped."""
    position = {k: i for i, k in enumerate(part)}
    rows = []
    for row in table.rows:
        cells, start = [], 0
        for cell in row:
            covered = [k for k in range(start, start + cell.colspan) if k in position]
            if covered:
                cells.append((cell, len(covered)))
            start += cell.colspan
        rows.append(cells)
    return rows
