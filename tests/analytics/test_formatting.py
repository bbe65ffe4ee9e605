"""How report numbers are printed: one rule for the page, the PDF and the DOCX.

Expected texts are the AMA style the page has always used (P = .17, P < .001,
no leading zero) and the page's conventions: "n.e." beyond follow-up, "NR" for a
limit never reached, "<5" for a hidden count.
"""

from django.template import Context, Template
from django.test import SimpleTestCase

from analytics import formatting as fmt


class FormattingTests(SimpleTestCase):
    def test_missing_numbers_print_as_a_dash_never_nan(self):
        for value in (None, "", float("nan"), float("inf")):
            with self.subTest(value=value):
                self.assertEqual(fmt.num(value), "–")
                self.assertEqual(fmt.pct(value), "–")
                self.assertEqual(fmt.pval(value), "–")

    def test_p_values_in_table_cells_and_sentences(self):
        cases = [(0.1734, ".17", "P = .17"), (0.0042, ".004", "P = .004")]
        cases += [(2.805e-06, "< .001", "P < .001"), (0.999, "> .99", "P > .99")]
        for p, cell, sentence in cases:
            with self.subTest(p=p):
                self.assertEqual(fmt.pval(p), cell)
                self.assertEqual(fmt.p_text(p), sentence)

    def test_survival_at_a_time_beyond_follow_up_is_not_estimable(self):
        mark = {"survival": 0.62, "lower": 0.48, "upper": 0.751, "estimable": True}
        self.assertEqual(fmt.landmark_cell(mark), "62% [48%–75%]")
        self.assertEqual(fmt.landmark_cell({**mark, "estimable": False}), "n.e.")

    def test_median_not_reached_and_open_upper_limit(self):
        median = {"estimate": 31.04, "lower": 22.1, "upper": None}
        self.assertEqual(fmt.median_cell(median), "31.0 [22.1–NR]")
        none = {"estimate": None, "lower": 40.0, "upper": None}
        self.assertEqual(fmt.median_cell(none), "not reached [40.0–NR]")
        self.assertEqual(fmt.median_cell(none, long=False), "NR")

    def test_hidden_counts_keep_their_percentage_hidden(self):
        self.assertEqual(fmt.count_percent(12, 40.0), "12 (40%)")
        self.assertEqual(fmt.count_percent("<5", None), "<5")
        self.assertEqual(fmt.continuous_cell({"n": "<5"}), "n <5")

    def test_template_filters_print_as_the_documents_do(self):
        template = Template(
            "{% load report_format %}{{ p|pval }} {{ s|pct }} {{ x|num:2 }}"
        )
        text = template.render(Context({"p": 0.0042, "s": 0.5, "x": float("nan")}))
        self.assertEqual(text, ".004 50% –")
