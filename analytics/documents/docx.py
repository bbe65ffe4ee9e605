"""The report as a Word document (python-docx): what goes into a manuscript.

Real Word tables with a repeating header row, holding the cells the page and the
PDF print (:mod:`analytics.documents.tables`), the figures, the warnings and the
results and methods paragraphs. A table too wide for a portrait page gets a
landscape section, and one too wide even for that is split into parts that repeat
its first column, by the same measure as the PDF (:func:`layout.layout`).
"""

from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt, RGBColor

from analytics.documents import common
from analytics.documents.layout import layout, part_rows
from analytics.documents.tables import (
    Cell,
    Section,
    Table,
    exclusions_text,
    report_tables,
    subtitle,
    title,
)

MUTED = RGBColor(0x5B, 0x64, 0x72)
TABLE_FONT = Pt(8)
#: Arial is on every Word installation (Liberation Sans has its metrics), and is
#: narrower than the DejaVu Sans the widths are measured in: nothing overflows.
FONT_NAME = "Arial"
#: Word's default cell margins are wider than the PDF's (0.19 cm a side).
EXTRA_CELL_WIDTH = 4.0
HEADER_FILL = "EEF2F7"


def _new_document(data: dict):
    doc = Document()
    props = doc.core_properties
    props.title = title(data)
    props.subject = subtitle(data)
    props.author = "crc-registry"
    props.comments = ""
    section = doc.sections[0]
    _page(section, "portrait")
    _footer(section, f"{title(data)} · data cut-off {data['as_of']}")
    doc.styles["Normal"].font.size = Pt(10)
    doc.styles["Normal"].font.name = FONT_NAME
    return doc


def _page(section, orientation: str) -> None:
    """Set a section to A4 with the PDF's margins, in `orientation`."""
    short, long = Cm(21.0), Cm(29.7)
    if orientation == "landscape":
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = long, short
    else:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = short, long
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.8))


def _field(run, code: str) -> None:
    """Append a Word field (PAGE, NUMPAGES) to `run`: Word fills in the number."""
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    instruction = OxmlElement("w:instrText")
    instruction.set(qn("xml:space"), "preserve")
    instruction.text = code
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    shown = OxmlElement("w:t")
    shown.text = "1"  # until the reader updates the field
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run._r.extend([begin, instruction, separate, shown, end])


def _footer(section, text: str) -> None:
    """Write the report's name and "Page n of N" in the footer."""
    paragraph = section.footer.paragraphs[0]
    paragraph.text = ""
    paragraph.style.font.size = Pt(8)  # the page numbers Word writes in too
    left = paragraph.add_run(f"{text}    ")
    left.font.size = Pt(8)
    for piece, code in (("Page ", "PAGE"), (" of ", "NUMPAGES")):
        run = paragraph.add_run(piece)
        run.font.size = Pt(8)
        run = paragraph.add_run()
        run.font.size = Pt(8)
        _field(run, code)


def _repeat_header(row) -> None:
    """Mark a table row as the header repeated at the top of each page."""
    properties = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


def _shade(cell, fill: str) -> None:
    properties = cell._tc.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    properties.append(shading)


def _write_cell(word_cell, cell: Cell | None, *, text: str = "", bold=False) -> None:
    """Fill a Word cell with a table cell's lines (bold heading, grey detail)."""
    paragraph = word_cell.paragraphs[0]
    numeric = cell.numeric if cell is not None else False
    if numeric:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    lines = [text] if cell is None else (cell.text.split("\n") if cell.text else [])
    if cell is not None and cell.badge and lines:
        lines[-1] += f" ({cell.badge})"
    for i, line in enumerate(lines):
        run = paragraph.add_run(line)
        run.font.size = TABLE_FONT
        run.bold = bold or (cell is not None and cell.header and i == 0)
        if cell is not None and cell.muted:
            run.font.color.rgb = MUTED
        if i < len(lines) - 1:
            run.add_break()
    if cell is not None and cell.detail:
        if lines:
            paragraph.runs[-1].add_break()
        run = paragraph.add_run(cell.detail)
        run.font.size = TABLE_FONT
        run.font.color.rgb = MUTED


def _word_table(doc, table: Table, part: list[int], widths: list[float]):
    """Add one Word table (or one part of a split one) with the PDF's widths."""
    word = doc.add_table(rows=1, cols=len(part))
    word.style = "Table Grid"
    word.alignment = WD_TABLE_ALIGNMENT.LEFT
    word.autofit = False
    for j, k in enumerate(part):
        cell = word.rows[0].cells[j]
        _write_cell(cell, None, text=table.columns[k].text, bold=True)
        if table.columns[k].numeric:
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        _shade(cell, HEADER_FILL)
    _repeat_header(word.rows[0])
    for cells in part_rows(table, part):
        row = word.add_row()
        j = 0
        for cell, span in cells:
            target = row.cells[j]
            if span > 1:
                target = target.merge(row.cells[j + span - 1])
            _write_cell(target, cell)
            j += span
    for j, width in enumerate(_word_widths(widths, doc.sections[-1])):
        word.columns[j].width = Pt(width)
        for cell in word.columns[j].cells:
            cell.width = Pt(width)
    return word


def _word_widths(widths: list[float], section) -> list[float]:
    """Return the PDF's column widths (points), widened for Word's cell margins
    and kept within the page."""
    wider = [w + EXTRA_CELL_WIDTH for w in widths]
    frame = Emu(section.page_width - section.left_margin - section.right_margin).pt
    scale = min(1.0, frame / sum(wider))
    return [w * scale for w in wider]


class Writer:
    """Writes the document, turning to landscape sections for wide tables."""

    def __init__(self, doc):
        self.doc = doc
        self.orientation = "portrait"

    def turn(self, orientation: str) -> None:
        if orientation != self.orientation:
            section = self.doc.add_section()
            _page(section, orientation)
            self.orientation = orientation

    def heading(self, text: str, level: int = 2) -> None:
        self.turn("portrait")
        self.doc.add_heading(text, level=level)

    def paragraph(self, text: str, *, muted=False, small=False, style=None, here=False):
        """Add a paragraph; on a portrait page unless `here` (a table's note)."""
        if not here:
            self.turn("portrait")
        paragraph = self.doc.add_paragraph(style=style)
        run = paragraph.add_run(text)
        if muted:
            run.font.color.rgb = MUTED
        if small:
            run.font.size = Pt(9)
        return paragraph

    def picture(self, picture: common.Picture) -> None:
        self.turn("portrait")
        self.doc.add_picture(io.BytesIO(picture.png), width=Cm(16.5))
        self.paragraph(picture.caption, muted=True, small=True)

    def table(self, table: Table) -> None:
        orientation, parts, widths = layout(table)
        self.turn(orientation)
        for n, (part, part_widths) in enumerate(zip(parts, widths, strict=True), 1):
            heading = table.title
            if len(parts) > 1:
                heading += f" (part {n} of {len(parts)})"
            self.doc.add_heading(heading, level=2)
            if table.caption and n == 1:
                self.paragraph(table.caption, muted=True, small=True, here=True)
            _word_table(self.doc, table, part, part_widths)
        for note in [*table.notes, *table.warnings]:
            paragraph = self.paragraph(note, small=True, here=True)
            paragraph.paragraph_format.space_before = Pt(4)

    def section(self, section: Section) -> None:
        self.heading(section.title)
        for text in section.paragraphs[:1]:
            self.paragraph(text)
        for line in section.bullets:
            self.paragraph(line, small=True, style="List Bullet")
        for text in section.paragraphs[1:]:
            self.paragraph(text, small=True)


def render(data: dict) -> bytes:
    """Return the report (``export.result_json``'s data) as a .docx file's bytes."""
    doc = _new_document(data)
    out = Writer(doc)
    tables = report_tables(data)
    doc.add_heading(title(data), level=0)
    out.paragraph(subtitle(data), muted=True)
    for line in (exclusions_text(data), (data.get("disclosure") or {}).get("note")):
        if line:
            out.paragraph(line, muted=True, small=True)
    if data.get("warnings"):
        out.heading("Warnings")
        for warning in data["warnings"]:
            out.paragraph(warning, small=True, style="List Bullet")
    for heading in ("results", "methods"):
        if data.get(heading):
            out.heading(heading.capitalize())
            out.paragraph(data[heading])
    out.picture(common.km_picture(data))
    out.table(tables.groups)
    if tables.pairwise:
        out.table(tables.pairwise)
    if tables.cox:
        out.table(tables.cox)
        forest = common.forest_picture(data)
        if forest is not None:
            out.picture(forest)
    if tables.competing:
        out.table(tables.competing)
        figure = common.competing_picture(data)
        if figure is not None:
            out.picture(figure)
    out.section(tables.followup)
    for table in [*tables.subgroups, *tables.associations]:
        out.table(table)
    if tables.baseline:
        out.table(tables.baseline)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
