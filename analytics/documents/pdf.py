"""The whole report as a typeset PDF (ReportLab platypus).

Title, cohort and cut-off, warnings, the Kaplan-Meier figure, the results and
methods paragraphs, then every table exactly as the page prints it
(:mod:`analytics.documents.tables`), the Cox forest plot, the competing-risks
table and figure (with the section) and the follow-up.
Every page is numbered "Page n of N".

Tables are fitted to the page rather than cut: a table too wide for a portrait
page is wrapped, then set on a landscape page, and one too wide even for that is
split into parts that each repeat its first column (the variable names), so every
column heading is printed.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    Image,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as RLTable

from analytics.documents import common
from analytics.documents.layout import (
    BOLD,
    FONT,
    LANDSCAPE,
    MARGIN,
    PAD,
    PORTRAIT,
    TABLE_FONT_SIZE,
    fonts,
    frame_width,
    layout,
    part_rows,
)
from analytics.documents.tables import (
    Cell,
    Section,
    Table,
    exclusions_text,
    report_tables,
    subtitle,
    title,
)

HEADER_FILL = colors.HexColor("#eef2f7")
RULE = colors.HexColor("#c8d0da")
MUTED = colors.HexColor("#5b6472")
WARN_FILL = colors.HexColor("#fff4e0")
WARN_RULE = colors.HexColor("#e0a040")


def paragraph_styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13)
    cell = ParagraphStyle("cell", base, fontSize=TABLE_FONT_SIZE, leading=10)
    return {
        "title": ParagraphStyle("title", base, fontName=BOLD, fontSize=17, leading=21),
        "subtitle": ParagraphStyle("subtitle", base, textColor=MUTED, spaceAfter=4),
        "h2": ParagraphStyle(
            "h2",
            base,
            fontName=BOLD,
            fontSize=11.5,
            leading=15,
            spaceBefore=10,
            spaceAfter=4,
        ),
        "body": ParagraphStyle("bodyp", base, spaceAfter=4),
        "small": ParagraphStyle(
            "small", base, fontSize=8.5, leading=11, spaceBefore=3, spaceAfter=3
        ),
        "caption": ParagraphStyle(
            "caption", base, fontSize=8.5, leading=11, textColor=MUTED, spaceAfter=6
        ),
        "cell": cell,
        "cell_num": ParagraphStyle("cell_num", cell, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", cell, fontName=BOLD, alignment=TA_LEFT),
        "head_num": ParagraphStyle("head_num", cell, fontName=BOLD, alignment=TA_RIGHT),
    }


def _text(value: str) -> str:
    """Return user or data text safe for a Paragraph ("<5" is not a tag)."""
    return escape(str(value)).replace("\n", "<br/>")


# --- page furniture -------------------------------------------------------------


class NumberedCanvas(rl_canvas.Canvas):
    """A canvas that writes "Page n of N" once it knows N (held pages, then drawn)."""

    footer_left = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802 (ReportLab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._footer(total)
            super().showPage()
        super().save()

    def _footer(self, total: int) -> None:
        width, _ = self._pagesize
        self.saveState()
        self.setFont(FONT, 8)
        self.setFillColor(MUTED)
        self.drawString(MARGIN, MARGIN / 2, self.footer_left[:110])
        self.drawRightString(
            width - MARGIN, MARGIN / 2, f"Page {self._pageNumber} of {total}"
        )
        self.restoreState()


def _canvas_class(footer: str):
    return type("ReportCanvas", (NumberedCanvas,), {"footer_left": footer})


def document(buffer, *, title: str, subject: str = "") -> BaseDocTemplate:
    """Return an A4 document with a portrait and a landscape page template."""
    doc = BaseDocTemplate(
        buffer,
        pagesize=PORTRAIT,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        subject=subject,
        author="crc-registry",
        creator="crc-registry",
        invariant=1,
    )
    templates = []
    for name, size in (("portrait", PORTRAIT), ("landscape", LANDSCAPE)):
        frame = Frame(
            MARGIN,
            MARGIN,
            size[0] - 2 * MARGIN,
            size[1] - 2 * MARGIN,
            id=name,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        templates.append(PageTemplate(id=name, frames=[frame], pagesize=size))
    doc.addPageTemplates(templates)
    return doc


def _cell_markup(cell: Cell) -> str:
    text = _text(cell.text)
    if cell.badge:
        text += f" <font color='#9a5b00'>({_text(cell.badge)})</font>"
    if cell.detail:
        detail = f"<font color='#5b6472'>{_text(cell.detail)}</font>"
        text = f"{text}<br/>{detail}" if cell.text else detail
    if cell.muted:
        text = f"<font color='#5b6472'>{text}</font>"
    if cell.header and cell.text:
        # the row heading: its first line bold, the level under it plain
        first, _, rest = text.partition("<br/>")
        text = f"<b>{first}</b>" + (f"<br/>{rest}" if rest else "")
    return text


def _rl_table(table: Table, part: list[int], widths: list[float], styles) -> RLTable:
    head = [
        Paragraph(
            _text(table.columns[k].text),
            styles["head_num" if table.columns[k].numeric else "head"],
        )
        for k in part
    ]
    body, commands = [], []
    for i, cells in enumerate(part_rows(table, part), start=1):
        row, j = [], 0
        for cell, span in cells:
            style = styles["cell_num" if cell.numeric else "cell"]
            row.append(Paragraph(_cell_markup(cell), style))
            row.extend([""] * (span - 1))
            if span > 1:
                commands.append(("SPAN", (j, i), (j + span - 1, i)))
            j += span
        row.extend([""] * (len(part) - len(row)))
        body.append(row)
    rl = RLTable([head, *body], colWidths=widths, repeatRows=1, hAlign="LEFT")
    rl.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, RULE),
                ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), PAD),
                ("RIGHTPADDING", (0, 0), (-1, -1), PAD),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                *commands,
            ]
        )
    )
    return rl


class Story(list):
    """The flowables of a document, with the orientation of the page being filled.

    A table that needs landscape pages gets them after a page break; the text
    after it turns back to portrait, and two wide tables in a row share the
    landscape pages.
    """

    def __init__(self, styles):
        super().__init__()
        self.styles = styles
        self.orientation = "portrait"

    def turn(self, orientation: str) -> None:
        """Continue on a new page of `orientation`, unless already on one."""
        if orientation != self.orientation:
            self += [NextPageTemplate(orientation), PageBreak()]
            self.orientation = orientation

    def text(self, *flowables) -> None:
        """Add portrait content (paragraphs, figures)."""
        self.turn("portrait")
        self.extend(flowables)

    def table(self, table: Table) -> None:
        """Add a table's heading, caption, table (or parts) and notes."""
        wanted, parts, widths = layout(table)
        self.turn(wanted)
        styles = self.styles
        for n, (part, part_widths) in enumerate(zip(parts, widths, strict=True), 1):
            heading = table.title
            if len(parts) > 1:
                heading += f" (part {n} of {len(parts)})"
            # keep a heading with the first rows of its table
            self.append(CondPageBreak(3 * cm))
            self.append(Paragraph(_text(heading), styles["h2"]))
            if table.caption and n == 1:
                self.append(Paragraph(_text(table.caption), styles["caption"]))
            self.append(_rl_table(table, part, part_widths, styles))
        for note in [*table.notes, *table.warnings]:
            self.append(Paragraph(_text(note), styles["small"]))


# --- the document ---------------------------------------------------------------


def _image(picture: common.Picture, width: float) -> Image:
    scale = min(1.0, width / (picture.width * 72))
    return Image(
        io.BytesIO(picture.png),
        width=picture.width * 72 * scale,
        height=picture.height * 72 * scale,
    )


def _section(section: Section, styles) -> list:
    flow = [Paragraph(_text(section.title), styles["h2"])]
    flow += [Paragraph(_text(p), styles["body"]) for p in section.paragraphs[:1]]
    if section.bullets:
        flow.append(Paragraph("<b>Treatment and later events</b>", styles["small"]))
        flow += [
            Paragraph(_text(line), styles["small"], bulletText="•")
            for line in section.bullets
        ]
    if len(section.paragraphs) > 1:
        flow.append(Paragraph("<b>Landmark analysis</b>", styles["small"]))
        flow += [Paragraph(_text(p), styles["small"]) for p in section.paragraphs[1:]]
    return flow


def _warnings(data: dict, styles, width: float) -> list:
    if not data.get("warnings"):
        return []
    items = [Paragraph("<b>Warnings</b>", styles["small"])]
    items += [
        Paragraph(_text(w), styles["small"], bulletText="•") for w in data["warnings"]
    ]
    box = RLTable([[items]], colWidths=[width])
    box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), WARN_FILL),
                ("LINEBEFORE", (0, 0), (0, -1), 2, WARN_RULE),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return [box, Spacer(1, 6)]


def story(data: dict) -> list:
    """Return the flowables of the whole report, in reading order."""
    styles = paragraph_styles()
    width = frame_width(PORTRAIT)
    tables = report_tables(data)
    flow = Story(styles)
    flow.text(
        Paragraph(_text(title(data)), styles["title"]),
        Paragraph(_text(subtitle(data)), styles["subtitle"]),
    )
    for line in (exclusions_text(data), (data.get("disclosure") or {}).get("note")):
        if line:
            flow.text(Paragraph(_text(line), styles["caption"]))
    flow.text(*_warnings(data, styles, width))
    km = common.km_picture(data)
    flow.text(_image(km, width), Paragraph(_text(km.caption), styles["caption"]))
    for heading in ("results", "methods"):
        if data.get(heading):
            flow.text(
                KeepTogether(
                    [
                        Paragraph(heading.capitalize(), styles["h2"]),
                        Paragraph(_text(data[heading]), styles["body"]),
                    ]
                )
            )

    def figure(picture: common.Picture | None) -> None:
        """Set a figure with its caption, kept on one page (None: nothing)."""
        if picture is not None:
            caption = Paragraph(_text(picture.caption), styles["caption"])
            flow.text(KeepTogether([_image(picture, width), caption]))

    flow.table(tables.groups)
    if tables.pairwise:
        flow.table(tables.pairwise)
    if tables.cox:
        flow.table(tables.cox)
        figure(common.forest_picture(data))
    if tables.competing:
        flow.table(tables.competing)
        figure(common.competing_picture(data))
    flow.text(*_section(tables.followup, styles))
    for table in [*tables.subgroups, *tables.associations]:
        flow.table(table)
    if tables.baseline:
        flow.table(tables.baseline)
    return list(flow)


def render(data: dict) -> bytes:
    """Return the whole report (``export.result_json``'s data) as PDF bytes."""
    fonts()
    buffer = io.BytesIO()
    doc = document(buffer, title=title(data), subject=subtitle(data))
    footer = f"{title(data)} · data cut-off {data['as_of']}"
    doc.build(story(data), canvasmaker=_canvas_class(footer))
    return buffer.getvalue()
