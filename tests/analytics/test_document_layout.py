"""How a report table too wide for the page is set: landscape, then split.

Pure layout, no database: a synthetic baseline table of n groups, measured in the
PDF's font (analytics.documents.layout), set by analytics.documents.pdf.
"""

import io

from django.test import SimpleTestCase

from analytics.documents import layout, pdf
from analytics.documents.tables import Cell, Column, Table
from tests.analytics.documents import pdf_text, squash


class TableLayoutTests(SimpleTestCase):
    """How a table too wide for the page is set: landscape, then split."""

    def wide_table(self, groups: int) -> Table:
        columns = [Column("Variable")]
        columns += [Column(f"Site{i:02d}") for i in range(groups)]
        columns.append(Column("Test"))
        row = [Cell("Age at diagnosis (years)", header=True)]
        row += [Cell("59.9 (10.4); 59.5 [53.2–68.0]") for _ in range(groups)]
        row.append(Cell("One-way ANOVA P = .91\nKruskal-Wallis P = .93"))
        return Table(key="baseline", title="Baseline", columns=columns, rows=[row])

    def test_a_table_that_fits_stays_portrait_and_whole(self):
        orientation, parts, widths = layout.layout(self.wide_table(1))
        self.assertEqual(orientation, "portrait")
        self.assertEqual(parts, [[0, 1, 2]])

    def test_a_wider_table_turns_to_landscape(self):
        orientation, parts, widths = layout.layout(self.wide_table(4))
        self.assertEqual((orientation, len(parts)), ("landscape", 1))
        self.assertLessEqual(sum(widths[0]), layout.frame_width(layout.LANDSCAPE))

    def test_a_table_too_wide_for_landscape_is_split_repeating_its_first_column(self):
        table = self.wide_table(16)
        orientation, parts, widths = layout.layout(table)
        self.assertEqual(orientation, "landscape")
        self.assertGreater(len(parts), 1)
        for part, part_widths in zip(parts, widths, strict=True):
            self.assertEqual(part[0], 0)
            self.assertLessEqual(
                sum(part_widths), layout.frame_width(layout.LANDSCAPE) + 0.01
            )
        shown = sorted({k for part in parts for k in part})
        self.assertEqual(shown, list(range(len(table.columns))))

    def test_every_part_of_a_split_table_prints_its_headings(self):
        table = self.wide_table(16)
        buffer = io.BytesIO()
        layout.fonts()
        story = pdf.Story(pdf.paragraph_styles())
        story.table(table)
        pdf.document(buffer, title="Wide").build(list(story))
        text = squash(pdf_text(buffer.getvalue()))
        for n in range(16):
            self.assertIn(f"Site{n:02d}", text)
        self.assertIn("(part 2 of", text)


class CoxTermLabelTests(SimpleTestCase):
    """The Cox table, the forest plot and its caption name covariates by label."""

    COX = {
        "reference": "Synchronous resection",
        "covariates": ["age", "ecog"],
        "n": 74,
        "events": 43,
        "terms": [
            {
                "term": "Staged resection",
                "hazard_ratio": 0.94,
                "lower": 0.38,
                "upper": 2.3,
                "p_value": 0.89,
            },
            {
                "term": "age",
                "hazard_ratio": 1.0,
                "lower": 0.96,
                "upper": 1.03,
                "p_value": 0.81,
            },
            {
                "term": "ecog=1",
                "hazard_ratio": 1.41,
                "lower": 0.72,
                "upper": 2.76,
                "p_value": 0.31,
            },
        ],
    }

    def test_terms_and_caption_read_as_labels(self):
        from analytics.documents.tables import cox_caption, cox_table

        table = cox_table({"cox": self.COX, "spec": {"conf_level": 0.95}})
        names = [row[0].text for row in table.rows]
        self.assertEqual(
            names,
            [
                "Staged resection",
                "Age at diagnosis (years)",
                "ECOG performance status: 1",
            ],
        )
        self.assertEqual(
            cox_caption(self.COX),
            "Against Synchronous resection, adjusted for age at diagnosis, ECOG "
            "performance status; 74 patients, 43 events.",
        )
