"""Read the report's PDF and Word documents back, as a reader (or a screen reader)
would: the text of each PDF page (pypdf) and the cells of each Word table."""

from __future__ import annotations

import io
import re

import docx
import pypdf


def pdf_pages(raw: bytes) -> list[str]:
    """Return the extracted text of each page of a PDF."""
    reader = pypdf.PdfReader(io.BytesIO(raw))
    return [page.extract_text() for page in reader.pages]


def pdf_text(raw: bytes) -> str:
    """Return the text of a whole PDF, pages joined."""
    return "\n".join(pdf_pages(raw))


def squash(text: str) -> str:
    """Return text with every run of whitespace as one space."""
    return re.sub(r"\s+", " ", text).strip()


def docx_tables(raw: bytes) -> list[list[list[str]]]:
    """Return each Word table as rows of cell texts (a merged cell once, then
    empty strings for the columns it spans), whitespace squashed."""
    document = docx.Document(io.BytesIO(raw))
    tables = []
    for table in document.tables:
        rows = []
        for row in table.rows:
            cells, seen = [], set()
            for cell in row.cells:
                if id(cell._tc) in seen:
                    cells.append("")
                    continue
                seen.add(id(cell._tc))
                cells.append(squash(cell.text))
            rows.append(cells)
        tables.append(rows)
    return tables


def docx_text(raw: bytes) -> str:
    """Return every paragraph and table cell of a Word document, and its footer."""
    document = docx.Document(io.BytesIO(raw))
    parts = [p.text for p in document.paragraphs]
    parts += [c.text for t in document.tables for r in t.rows for c in r.cells]
    for section in document.sections:
        parts += [p.text for p in section.footer.paragraphs]
    return "\n".join(parts)
