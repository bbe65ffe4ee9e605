"""The report as a document: the typeset PDF and the Word document.

Both are read back as a reader gets them (the PDF's text by pypdf, the Word
tables by python-docx) and compared with the result page, which renders the same
formatted tables (analytics.documents.tables): the same cells, the same P-value
style, "n.e." and percentages, and nothing of the raw data frames (NaN, True,
p_holm, 2.805e-06) that the PDF used to print.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import docx
import pypdf
from django.urls import reverse

from analytics.models import ReportRun, SavedReport
from registry.models import Patient
from tests.analytics.documents import (
    docx_tables,
    docx_text,
    pdf_pages,
    pdf_text,
    squash,
)
from tests.analytics.test_report_views import QUERY, ReportViewTestCase

#: The demo study, with Cox covariates, a wide baseline table and a time (60
#: months) beyond the longest follow-up (57.7 months), so some cells are "n.e.".
FULL = {
    **QUERY,
    "times": "12, 24, 60",
    "covariates": ["age", "ecog"],
    "baseline": [
        "age",
        "sex",
        "ecog",
        "cea",
        "charlson",
        "lesions",
        "largest_mm",
        "extent",
        "primary_site",
    ],
}
#: The PDF's right margin (1.8 cm) in points: no text starts beyond it.
RIGHT_MARGIN = 1.8 / 2.54 * 72
#: What the old PDF, a dump of the data frames, printed and a reader should not see.
RAW = re.compile(r"\bNaN\b|\bnan\b|\bTrue\b|\bFalse\b|\bNone\b|p_holm|e-0\d")


class PageTables(HTMLParser):
    """Read the tables of the result page: rows of cell texts, whitespace
    squashed, a badge as "(small)", a spanned column as ""."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.numeric: list[str] = []
        self._cell: list[str] | None = None
        self._span = 1
        self._badge = False
        self._num = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
            self._span = int(attrs.get("colspan", 1))
            self._num = "num" in (attrs.get("class") or "").split()
        elif tag == "span" and "badge" in (attrs.get("class") or ""):
            self._badge = True
            if self._cell is not None:
                self._cell.append(" (")
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = squash("".join(self._cell))
            self.tables[-1][-1] += [text] + [""] * (self._span - 1)
            if self._num:
                self.numeric.append(text)
            self._cell = None
        elif tag == "span" and self._badge:
            self._badge = False
            if self._cell is not None:
                self._cell.append(")")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def page_tables(html: str) -> PageTables:
    parser = PageTables()
    parser.feed(html)
    return parser


class ReportDocumentTests(ReportViewTestCase):
    def get(self, name: str, *args, **query):
        return self.client.get(reverse(name, args=args), {**FULL, **query})

    def page(self, **query) -> PageTables:
        response = self.get("analytics:report_result", **query)
        self.assertEqual(response.status_code, 200)
        return page_tables(response.content.decode())

    def pdf(self, **query) -> bytes:
        response = self.get("analytics:report_download", "report.pdf", **query)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/pdf")
        return response.content

    def docx(self, **query) -> bytes:
        response = self.get("analytics:report_download", "docx", **query)
        self.assertEqual(response.status_code, 200)
        self.assertIn(".docx", response["Content-Disposition"])
        return response.content

    # --- PDF ---------------------------------------------------------------------

    def test_pdf_prints_every_number_of_the_pages_tables_as_the_page_does(self):
        page = self.page()
        text = squash(pdf_text(self.pdf()))
        # numbers with their intervals are never wrapped, so each is whole
        self.assertTrue(page.numeric)
        for cell in page.numeric:
            self.assertIn(cell, text)
        # the demo's values in the page's style (log-rank P, Holm, HR, n.e.)
        for shown in ("P = .20", "> .99", "47.0 [27.3–NR]", "n.e.", "90% [72%–97%]"):
            self.assertIn(shown, text)
        # and every word of every other cell (long cells wrap within their column)
        words = set(text.split())
        for table in page.tables:
            for row in table:
                for cell in row:
                    self.assertEqual(set(cell.split()) - words, set(), cell)

    def test_pdf_prints_no_raw_values(self):
        text = pdf_text(self.pdf())
        self.assertIsNone(RAW.search(text), RAW.search(text))
        self.assertIn("Results", text)
        self.assertIn("Methods", text)
        self.assertIn("Immortal-time bias", text)  # the warnings

    def test_pdf_opens_with_title_cohort_and_cut_off(self):
        first = squash(pdf_pages(self.pdf())[0])
        self.assertTrue(first.startswith("Demo study"))
        self.assertIn(
            "Overall survival by resection strategy · data cut-off 2009-12-31 · "
            "74 of 74 patients analysed",
            first,
        )

    def test_every_pdf_page_is_numbered_page_n_of_total(self):
        pages = pdf_pages(self.pdf())
        self.assertGreater(len(pages), 1)
        for n, page in enumerate(pages, 1):
            self.assertIn(f"Page {n} of {len(pages)}", page)

    def test_pdf_has_the_kaplan_meier_figure_and_the_forest_plot(self):
        reader = pypdf.PdfReader(io.BytesIO(self.pdf()))
        images = [image for page in reader.pages for image in page.images]
        self.assertEqual(len(images), 2)
        self.assertIn(
            "Hazard ratios against Synchronous resection", pdf_text(self.pdf())
        )

    def test_wide_baseline_table_fits_with_every_column_heading(self):
        raw = self.pdf(group_by="primary_site")
        reader = pypdf.PdfReader(io.BytesIO(raw))
        page = self.page(group_by="primary_site")
        headings = page.tables[-1][0]
        self.assertEqual(headings[0], "Variable")
        self.assertGreaterEqual(len(headings), 5)  # variable, 3 sites, test
        found = [
            (n, p)
            for n, p in enumerate(reader.pages)
            if "Baseline characteristics by primary site" in p.extract_text()
        ]
        self.assertTrue(found)
        n, baseline = found[0]
        width = float(baseline.mediabox.width)
        text = squash(baseline.extract_text())
        words = set(text.split())
        for heading in headings:
            self.assertEqual(set(heading.split()) - words, set(), heading)
        # nothing is drawn past the right margin of its page
        starts = []

        def visit(text, cm, tm, font, size):
            if text.strip():
                starts.append((tm[4] * cm[0] + cm[4], text))

        baseline.extract_text(visitor_text=visit)
        self.assertTrue(starts)
        for x, fragment in starts:
            self.assertLess(x, width - RIGHT_MARGIN, fragment)

    # --- DOCX --------------------------------------------------------------------

    def test_docx_tables_have_the_same_cells_as_the_page(self):
        page = self.page()
        tables = docx_tables(self.docx())
        self.assertEqual(len(tables), len(page.tables))
        for ours, shown in zip(tables, page.tables, strict=True):
            self.assertEqual(ours, shown)

    def test_docx_has_a_repeating_header_row_the_figures_and_the_text(self):
        raw = self.docx()
        document = docx.Document(io.BytesIO(raw))
        for table in document.tables:
            header = table.rows[0]._tr.trPr
            self.assertIsNotNone(header)
            self.assertIn("tblHeader", header.xml)
        self.assertEqual(len(document.inline_shapes), 2)  # Kaplan-Meier, forest
        text = docx_text(raw)
        self.assertIn("Median overall survival was", text)  # results
        self.assertIn("Kaplan-Meier method with Greenwood", text)  # methods
        self.assertIn("Immortal-time bias", text)
        self.assertIn("NUMPAGES", document.sections[0].footer._element.xml)
        self.assertIsNone(RAW.search(text), RAW.search(text))

    def test_result_page_offers_the_docx_beside_the_pdf(self):
        response = self.get("analytics:report_result")
        self.assertContains(
            response, reverse("analytics:report_download", args=["docx"])
        )

    def test_stored_run_downloads_as_pdf_and_docx(self):
        saved = SavedReport.objects.create(
            name="Demo study",
            spec={
                "group_by": "strategy",
                "as_of": "2009-12-31",
                "times": [12, 24, 60],
                "baseline": ["age", "sex", "extent"],
            },
            owner=self.ann,
        )
        self.client.post(reverse("analytics:saved_report_run", args=[saved.pk]))
        run = ReportRun.objects.get()
        page = self.client.get(run.get_absolute_url())
        self.assertContains(
            page, reverse("analytics:report_run_download", args=[run.pk, "docx"])
        )
        shown = page_tables(page.content.decode())
        for fmt in ("report.pdf", "docx"):
            response = self.client.get(
                reverse("analytics:report_run_download", args=[run.pk, fmt])
            )
            self.assertEqual(response.status_code, 200, fmt)
        self.assertEqual(docx_tables(response.content), shown.tables)

    def test_no_identifier_reaches_the_pdf_or_the_docx(self):
        # as the data manager, who may see every count (and every identifier)
        self.client.force_login(self.mark)
        texts = [pdf_text(self.pdf()), docx_text(self.docx())]
        patients = Patient.objects.values_list("mrn", "date_of_birth")
        self.assertTrue(patients)
        for mrn, born in patients:
            for text in texts:
                self.assertNotIn(mrn, text)
                if born is not None:
                    self.assertNotIn(born.isoformat(), text)
                    self.assertNotIn(f"{born:%d/%m/%Y}", text)
