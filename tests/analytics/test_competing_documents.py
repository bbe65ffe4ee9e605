"""The competing-risks section where people see it: the builder's checkbox, the
result page (table, Gray's tests, figure), the PDF and the DOCX.

The page, the PDF and the DOCX print one table model
(analytics.documents.tables.competing_table); the tests read each back as a
reader gets it and compare it with the page. The percentages are checked against
R: ``cmprsk::timepoints`` on the demo cohort (tests/fixtures/r/competing.R,
case demo_css), rounded as the page rounds a percentage.
"""

from __future__ import annotations

import io

import docx
import pypdf
from django.db import connection
from django.test import SimpleTestCase, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics import disclosure
from analytics.documents.tables import competing_table
from analytics.forms import ReportForm
from analytics.presets import PRESETS
from tests.analytics.documents import docx_tables, pdf_text, squash
from tests.analytics.test_competing import r_case
from tests.analytics.test_report_builder import VALID
from tests.analytics.test_report_documents import FULL, page_tables
from tests.analytics.test_report_views import QUERY, ReportViewTestCase
from tests.factories import make_site, make_user

LABEL = "Competing risks (cumulative incidence, Gray's test)"
TITLE = "Competing risks: cumulative incidence"
#: The demo report with cancer-specific survival and the competing-risks section.
COMPETING = {**QUERY, "endpoint": "css", "competing_risks": "on"}
STRATEGIES = [
    "Synchronous resection",
    "Staged resection",
    "Primary only",
    "No resection",
]


def competing_rows(page) -> list[list[str]]:
    """Return the page's competing-risks table (the one headed Event, Group)."""
    found = [t for t in page.tables if t and t[0][:2] == ["Event", "Group"]]
    assert len(found) == 1, [t[0] for t in page.tables]
    return found[0]


class CompetingBuilderTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.north = make_site(code="NTH", name="North Hospital")
        cls.ann = make_user("ann", group="Analyst", sites=[cls.north])

    def form(self, **changes) -> ReportForm:
        return ReportForm({**VALID, **changes}, user=self.ann)

    def test_the_checkbox_sets_the_specifications_option(self):
        form = self.form(endpoint="css", competing_risks="on")
        self.assertTrue(form.is_valid(), form.errors)
        self.assertIs(form.to_spec_data()["competing_risks"], True)
        self.assertTrue(form.spec().competing_risks)
        self.assertEqual(form.spec().endpoint, "css")

    def test_unticked_the_specification_has_no_section(self):
        form = self.form()
        self.assertTrue(form.is_valid(), form.errors)
        self.assertFalse(form.spec().competing_risks)

    def test_with_the_landmark_index_it_is_refused_at_the_field(self):
        form = self.form(index="landmark", landmark="12", competing_risks="on")
        self.assertFalse(form.is_valid())
        self.assertEqual(list(form.errors), ["competing_risks"])
        self.assertIn(
            "not available with the landmark index", form.errors["competing_risks"][0]
        )
        self.assertEqual(form.non_field_errors(), [])

    def test_it_is_refused_with_the_other_problems_at_once(self):
        form = self.form(index="landmark", competing_risks="on", times="soon")
        self.assertEqual(sorted(form.errors), ["competing_risks", "landmark", "times"])

    def test_the_endpoint_select_offers_cancer_specific_survival(self):
        choices = dict(self.form().fields["endpoint"].choices)
        self.assertEqual(choices["css"], "Cancer-specific survival")

    def test_the_preset_fills_the_checkbox_and_the_endpoint(self):
        initial = ReportForm.initial_from_spec(PRESETS["css-competing-risks"].spec)
        self.assertIs(initial["competing_risks"], True)
        self.assertEqual(initial["endpoint"], "css")
        self.assertIs(ReportForm.initial_from_spec({})["competing_risks"], False)


class CompetingPageTests(ReportViewTestCase):
    def result(self, query):
        response = self.client.get(reverse("analytics:report_result"), query)
        self.assertEqual(response.status_code, 200)
        return response

    def test_the_builder_shows_the_checkbox_with_its_label(self):
        page = self.client.get(reverse("analytics:report_new")).content.decode()
        start = page.index('id="field-competing_risks"')
        field = page[start : page.index("</div>", start)]
        # one checkbox inside its label (a click on the words ticks it)
        self.assertRegex(
            field,
            r'<label class="inline-check" for="id_competing_risks">'
            r'<input type="checkbox" name="competing_risks"[^>]*'
            r'id="id_competing_risks"> Competing risks \(cumulative incidence, '
            r"Gray&#x27;s test\)</label>",
        )
        self.assertIn('<option value="css">Cancer-specific survival</option>', page)

    def test_the_landmark_combination_is_shown_beside_the_checkbox(self):
        query = {**COMPETING, "index": "landmark", "landmark": "12"}
        response = self.client.get(reverse("analytics:report_result"), query)
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, 'id="id_competing_risks_errors"', status_code=400)
        self.assertContains(
            response, "not available with the landmark index", status_code=400
        )

    def test_the_preset_runs_with_the_section(self):
        page = self.client.get(
            reverse("analytics:report_new"), {"preset": "css-competing-risks"}
        )
        form = page.context["form"]
        self.assertRegex(
            page.content.decode(),
            r'<input type="checkbox" name="competing_risks"[^>]*checked',
        )
        query = {
            name: form[name].value()
            for name in form.fields
            if form[name].value() not in (None, "", [], False)
        }
        result = self.result(query)
        self.assertContains(result, TITLE)

    def test_the_page_shows_the_table_the_tests_and_the_figure(self):
        response = self.result(COMPETING)
        self.assertContains(response, TITLE)
        self.assertContains(response, 'id="competing-risks"')
        # the Kaplan-Meier figure and the cumulative incidence figure
        self.assertEqual(response.content.count(b"data:image/png;base64,"), 2)
        self.assertContains(response, "Cumulative incidence (Aalen-Johansen) of")
        self.assertContains(response, "table=competing")
        rows = competing_rows(page_tables(response.content.decode()))
        self.assertEqual(
            rows[0],
            [
                "Event",
                "Group",
                "n",
                "Events",
                "Competing events",
                "12 months",
                "24 months",
                "36 months",
                "48 months",
                "60 months",
            ],
        )
        # two blocks (recurrence, cancer death), a row per strategy
        self.assertEqual([r[1] for r in rows[1:]], STRATEGIES * 2)
        self.assertEqual(
            rows[1][0], "Recurrence or progression competing: death without recurrence"
        )
        self.assertEqual(
            rows[5][0],
            "Death from colorectal cancer competing: death from other causes",
        )
        # cumulative incidence of cancer death at 12 months: R's cuminc estimate
        # (competing.R, demo_css), as the page writes a percentage
        r = r_case("demo_css")
        for k, group in enumerate(STRATEGIES):
            estimate = r[f"{group} 1|at.est"][0]
            self.assertTrue(
                rows[5 + k][5].startswith(f"{estimate * 100:.0f}%"), rows[5 + k]
            )
        # Gray's test for each event and its competing event, in the P style
        # Gray's tests as cuminc gives them (competing_output.csv, demo_rfs and
        # demo_css: 5.357, P 0.147; 2.249, P 0.522; 0.283, P 0.963; cuminc
        # gives no test of death without recurrence either)
        self.assertContains(
            response,
            "Gray&#x27;s test: recurrence or progression, χ² = 5.36, df = 3, "
            "P = .15; death without recurrence, not computed.",
        )
        self.assertContains(
            response,
            "Gray&#x27;s test: death from colorectal cancer, χ² = 2.25, df = 3, "
            "P = .52; death from other causes, χ² = 0.28, df = 3, P = .96.",
        )
        # no cancer death in the staged group by 12 months: 0%, no interval
        self.assertEqual(rows[6][5], "0%")

    def test_small_counts_are_masked_in_the_table(self):
        # Ann may not see counts under 5: "No resection" has fewer cancer deaths
        response = self.result(COMPETING)
        groups = response.context["data"]["competing_risks"]["analyses"][1]["groups"]
        masked = [g for g in groups if disclosure.is_masked(g["competing"])]
        self.assertTrue(masked)
        rows = competing_rows(page_tables(response.content.decode()))
        shown = {r[1]: r[4] for r in rows[5:]}
        for group in masked:
            self.assertEqual(shown[group["group"]], group["competing"])
            self.assertTrue(shown[group["group"]].startswith("<"))

    def test_without_the_option_there_is_no_section_and_one_figure(self):
        response = self.result({**QUERY, "endpoint": "css"})
        self.assertNotContains(response, TITLE)
        self.assertNotContains(response, "Gray&#x27;s test")
        self.assertEqual(response.content.count(b"data:image/png;base64,"), 1)

    def test_the_section_adds_no_query_to_the_page(self):
        url = reverse("analytics:report_result")
        counts = []
        for query in ({**QUERY, "endpoint": "css"}, COMPETING):
            self.client.get(url, query)  # computed and stored
            with CaptureQueriesContext(connection) as stored:
                self.client.get(url, query)
            counts.append(len(stored))
        self.assertEqual(counts[0], counts[1])


class CompetingDocumentTests(ReportViewTestCase):
    def get(self, name: str, *args):
        query = {**FULL, "endpoint": "css", "competing_risks": "on"}
        response = self.client.get(reverse(name, args=args), query)
        self.assertEqual(response.status_code, 200)
        return response

    def test_pdf_prints_the_sections_cells_as_the_page(self):
        page = page_tables(self.get("analytics:report_result").content.decode())
        rows = competing_rows(page)
        raw = self.get("analytics:report_download", "report.pdf").content
        text = squash(pdf_text(raw))
        self.assertIn(TITLE, text)
        self.assertIn("Gray's test: recurrence or progression, χ² =", text)
        self.assertIn("Cumulative incidence (Aalen-Johansen) of", text)
        words = set(text.split())
        for row in rows:
            for cell in row:
                # headings and event names may wrap within their column
                self.assertEqual(set(cell.split()) - words, set(), cell)
        for row in rows[1:]:
            for cell in row[2:]:
                # numbers and intervals are never wrapped: each cell whole
                self.assertIn(cell, text)
        reader = pypdf.PdfReader(io.BytesIO(raw))
        images = [image for p in reader.pages for image in p.images]
        self.assertEqual(len(images), 3)  # Kaplan-Meier, forest, competing

    def test_docx_holds_the_sections_table_as_the_page_and_its_figure(self):
        page = page_tables(self.get("analytics:report_result").content.decode())
        raw = self.get("analytics:report_download", "docx").content
        tables = docx_tables(raw)
        self.assertIn(competing_rows(page), tables)
        self.assertEqual(tables, page.tables)  # every table, in the page's order
        document = docx.Document(io.BytesIO(raw))
        self.assertEqual(len(document.inline_shapes), 3)
        text = "\n".join(p.text for p in document.paragraphs)
        self.assertIn(TITLE, text)
        self.assertIn("Gray's test: death from colorectal cancer, χ² =", text)

    def test_without_the_option_the_documents_have_no_section(self):
        query = {**FULL, "endpoint": "css"}
        url = reverse("analytics:report_download", args=["docx"])
        raw = self.client.get(url, query).content
        self.assertNotIn(
            TITLE, "\n".join(p.text for p in docx.Document(io.BytesIO(raw)).paragraphs)
        )
        url = reverse("analytics:report_download", args=["report.pdf"])
        self.assertNotIn(TITLE, pdf_text(self.client.get(url, query).content))


class CompetingTableTests(SimpleTestCase):
    """The table model alone, on a hand-made section (values chosen by hand)."""

    def data(self, **section_changes):
        point = {"time": 12.0, "std_err": 0.05, "estimable": True}
        section = {
            "conf_type": "log-log",
            "conf_level": 0.95,
            "deaths_unknown_cause": 2,
            "analyses": [
                {
                    "event": "cancer_death",
                    "label": "death from colorectal cancer",
                    "competing_label": "death from other causes",
                    "times": [12.0, 24.0],
                    "groups": [
                        {
                            "group": "A",
                            "n": 20,
                            "events": 6,
                            "competing": 2,
                            "at": [
                                {
                                    **point,
                                    "estimate": 0.2,
                                    "lower": 0.075,
                                    "upper": 0.35,
                                },
                                {
                                    **point,
                                    "time": 24.0,
                                    "estimable": False,
                                    "estimate": None,
                                    "lower": None,
                                    "upper": None,
                                },
                            ],
                            "curve": {"time": [], "estimate": [], "last_time": 20},
                        }
                    ],
                    "gray": {
                        "statistic": 4.2,
                        "df": 1,
                        "p_value": 0.0404,
                        "groups": ["A", "B"],
                    },
                    "gray_competing": None,
                }
            ],
            **section_changes,
        }
        return {
            "time_unit": "months",
            "grouping": {"label": "Resection strategy"},
            "competing_risks": section,
        }

    def test_cells_are_formatted_as_the_page_formats_survival(self):
        table = competing_table(self.data())
        (row,) = table.rows
        # 20% [8%–35%] (0.075 rounds to 8%) and n.e. beyond follow-up
        self.assertEqual(
            [c.text for c in row[1:]], ["A", "20", "6", "2", "20% [8%–35%]", "n.e."]
        )
        self.assertTrue(row[-1].muted)
        self.assertEqual(
            table.notes,
            [
                "Gray's test: death from colorectal cancer, χ² = 4.20, df = 1, "
                "P = .04; death from other causes, not computed.",
                "Deaths without a recorded cause (2) are counted with the other "
                "causes.",
            ],
        )
        self.assertIn("[95% CI] by resection strategy", table.caption)

    def test_masked_counts_are_printed_as_masked(self):
        data = self.data()
        data["competing_risks"]["analyses"][0]["groups"][0]["competing"] = "<5"
        (row,) = competing_table(data).rows
        self.assertEqual(row[4].text, "<5")

    def test_no_section_no_table(self):
        self.assertIsNone(competing_table({"competing_risks": None}))
        self.assertIsNone(competing_table({}))
