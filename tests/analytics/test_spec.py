"""Report specifications: every problem refused with a message naming the field."""

import datetime
import json
from pathlib import Path

from django.test import SimpleTestCase

from analytics.dataset import VARIABLES
from analytics.models import SavedReport
from analytics.spec import (
    DEFAULT_TIMES,
    MAX_ASSOCIATIONS,
    MAX_BASELINE,
    MAX_COHORT_CODES,
    MAX_COVARIATES,
    MAX_JSON_CHARS,
    MAX_JSON_DEPTH,
    MAX_SUBGROUPS,
    MAX_TEXT_LENGTH,
    MAX_TIMES,
    InvalidSpec,
    ReportSpec,
    parse_json,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


class ReportSpecTests(SimpleTestCase):
    def errors(self, data) -> list[str]:
        with self.assertRaises(InvalidSpec) as caught:
            ReportSpec.from_dict(data)
        return caught.exception.errors

    def test_empty_specification_takes_the_defaults(self):
        spec = ReportSpec.from_dict({})
        self.assertEqual(
            (spec.group_by, spec.endpoint, spec.index, spec.time_unit, spec.conf_type),
            ("strategy", "os", "diagnosis", "months", "log-log"),
        )
        self.assertEqual(spec.times, DEFAULT_TIMES["months"])

    def test_round_trip_through_json_data_keeps_everything(self):
        data = {
            "name": "Landmark",
            "cohort": {
                "sites": ["NFG"],
                "diagnosed_from": "2002-01-01",
                "m_stages": ["M1a"],
            },
            "group_by": "strategy",
            "endpoint": "rfs",
            "index": "landmark",
            "landmark": 12,
            "as_of": "2009-12-31",
            "time_unit": "months",
            "times": [24, 12],
            "conf_type": "log",
            "reference": "staged",
            "covariates": ["age", "ecog"],
            "baseline": ["sex"],
            "associations": [["extent", "converted"]],
            "subgroups": [],
        }
        spec = ReportSpec.from_dict(data)
        self.assertEqual(spec.times, (12.0, 24.0))
        self.assertEqual(spec.as_of, datetime.date(2009, 12, 31))
        self.assertEqual(ReportSpec.from_dict(spec.to_dict()), spec)

    def test_unknown_top_level_field_is_named(self):
        [error] = self.errors({"colour": "blue"})
        self.assertTrue(error.startswith("colour: unknown field"))

    def test_unknown_grouping_field_is_named_with_the_known_ones(self):
        [error] = self.errors({"group_by": "tumour_size"})
        self.assertIn("group_by: unknown field 'tumour_size'", error)
        self.assertIn("strategy", error)

    def test_grouping_by_a_continuous_field_is_refused(self):
        [error] = self.errors({"group_by": "age"})
        self.assertIn("group_by: 'age' is continuous", error)

    def test_unknown_cohort_filter_and_code_are_named(self):
        errors = self.errors({"cohort": {"stage": ["IV"], "m_stages": ["M9"]}})
        self.assertIn("cohort.stage: unknown filter", errors[0])
        self.assertIn("cohort.m_stages: unknown code(s) M9", errors[1])

    def test_landmark_index_without_a_landmark_is_refused(self):
        [error] = self.errors({"index": "landmark"})
        self.assertIn("landmark: give the landmark time (in months)", error)

    def test_negative_landmark_and_times_are_refused(self):
        errors = self.errors(
            {"index": "landmark", "landmark": -3, "times": [12, "soon"]}
        )
        self.assertIn("landmark: must be more than 0 (got -3)", errors)
        self.assertIn("times[1]: must be a number more than 0 ('soon')", errors)

    def test_whole_numbers_too_large_for_a_float_are_refused_not_crashed_on(self):
        # JSON numbers of hundreds of digits arrive as Python ints
        huge = int("1" + "0" * 400)
        errors = self.errors({"landmark": huge, "times": [12, huge]})
        self.assertTrue(
            any(e.startswith("landmark: expected a finite number") for e in errors),
            errors,
        )
        self.assertTrue(
            any(e.startswith("times[1]: must be a number more than 0") for e in errors),
            errors,
        )
        parsed = parse_json('{"conf_level": 1%s}' % ("0" * 400))
        with self.assertRaises(InvalidSpec) as caught:
            ReportSpec.from_dict(parsed)
        self.assertTrue(
            caught.exception.errors[0].startswith("conf_level: expected a finite")
        )

    def test_a_null_character_anywhere_is_refused_where_it_is(self):
        errors = self.errors(
            {
                "name": "Study\x00",
                "reference": "\x00",
                "cohort": {"sites": ["N\x00TH"]},
                "bad\x00key": 1,
            }
        )
        for where in ("name", "reference", "cohort.sites[0]", "bad\\x00key"):
            self.assertIn(
                f"{where}: holds a NUL character (\\u0000), which no field may hold",
                errors,
            )

    def test_bad_dates_are_refused(self):
        errors = self.errors(
            {
                "as_of": "yesterday",
                "cohort": {
                    "diagnosed_from": "2008-01-01",
                    "diagnosed_to": "2007-01-01",
                },
            }
        )
        self.assertIn("as_of: 'yesterday' is not a date (use YYYY-MM-DD)", errors)
        self.assertIn("cohort.diagnosed_to: is before cohort.diagnosed_from", errors)

    def test_association_outcome_must_be_yes_no(self):
        [error] = self.errors({"associations": [["extent", "sex"]]})
        self.assertIn("must be a yes/no field", error)

    def test_specification_must_be_an_object(self):
        self.assertEqual(
            self.errors([1, 2]), ["the specification must be a JSON object"]
        )

    def test_every_problem_is_reported_at_once(self):
        errors = self.errors({"endpoint": "pfs", "conf_type": "wide", "conf_level": 2})
        self.assertEqual(len(errors), 3)

    def test_null_or_bad_times_are_named_without_losing_other_messages(self):
        errors = self.errors({"endpoint": "pfs", "times": [None, 12, "soon"]})
        self.assertEqual(
            errors,
            [
                "endpoint: 'pfs' is not one of os, rfs, css",
                "times[0]: must be a number more than 0 (None)",
                "times[2]: must be a number more than 0 ('soon')",
            ],
        )

    def test_lists_where_a_field_name_belongs_are_refused_not_crashed_on(self):
        errors = self.errors(
            {"group_by": ["strategy"], "baseline": [["age"]], "covariates": [{}]}
        )
        self.assertEqual(
            sorted(error.split(" (known")[0] for error in errors),
            [
                "baseline[0]: unknown field ['age']",
                "covariates[0]: unknown field {}",
                "group_by: unknown field ['strategy']",
            ],
        )


class SpecificationLimitTests(SimpleTestCase):
    """Every list and text of a specification is capped, with the limit named."""

    def errors(self, data) -> list[str]:
        with self.assertRaises(InvalidSpec) as caught:
            ReportSpec.from_dict(data)
        return caught.exception.errors

    def test_ten_thousand_landmark_times_are_refused_with_the_limit(self):
        errors = self.errors({"times": list(range(1, 10_001))})
        self.assertEqual(errors, [f"times: at most {MAX_TIMES} times (got 10000)"])

    def test_ten_thousand_associations_are_refused_with_the_limit(self):
        errors = self.errors({"associations": [["extent", "liver_resected"]] * 10_000})
        self.assertEqual(
            errors, [f"associations: at most {MAX_ASSOCIATIONS} pairs (got 10000)"]
        )

    def test_every_field_list_and_cohort_code_list_is_capped(self):
        too_many = 1_000
        errors = self.errors(
            {
                "baseline": ["age"] * too_many,
                "covariates": ["age"] * too_many,
                "subgroups": ["sex"] * too_many,
                "cohort": {"sites": ["NTH"] * too_many, "sexes": ["F"] * too_many},
            }
        )
        self.assertEqual(
            sorted(errors),
            [
                f"baseline: at most {MAX_BASELINE} fields (got 1000)",
                f"cohort.sexes: at most {MAX_COHORT_CODES} codes (got 1000)",
                f"cohort.sites: at most {MAX_COHORT_CODES} codes (got 1000)",
                f"covariates: at most {MAX_COVARIATES} fields (got 1000)",
                f"subgroups: at most {MAX_SUBGROUPS} fields (got 1000)",
            ],
        )

    def test_name_and_reference_longer_than_a_saved_report_name_are_refused(self):
        errors = self.errors({"name": "x" * 201, "reference": "y" * 5_000})
        self.assertEqual(
            errors,
            [
                f"name: at most {MAX_TEXT_LENGTH} characters (got 201)",
                f"reference: at most {MAX_TEXT_LENGTH} characters (got 5000)",
            ],
        )
        self.assertEqual(
            MAX_TEXT_LENGTH, SavedReport._meta.get_field("name").max_length
        )

    def test_lists_at_their_limits_are_accepted(self):
        variables = sorted(VARIABLES)
        spec = ReportSpec.from_dict(
            {
                "name": "x" * MAX_TEXT_LENGTH,
                "times": list(range(1, MAX_TIMES + 1)),
                "baseline": variables,
                "covariates": ["age", "ecog", "cea", "lesions", "largest_mm"],
                "associations": [["extent", "liver_resected"]] * MAX_ASSOCIATIONS,
                "cohort": {"sites": [f"S{i}" for i in range(MAX_COHORT_CODES)]},
            }
        )
        self.assertEqual(len(spec.times), MAX_TIMES)
        self.assertLessEqual(len(variables), MAX_BASELINE)

    def test_every_documented_example_and_the_builders_defaults_are_within_limits(
        self,
    ):
        for path in sorted(EXAMPLES.glob("*.json")):
            with self.subTest(example=path.name):
                ReportSpec.from_dict(parse_json(path.read_text()))
        defaults = ReportSpec.from_dict({})
        self.assertEqual(ReportSpec.from_dict(defaults.to_dict()), defaults)

    def test_lists_are_deduplicated_keeping_their_order(self):
        spec = ReportSpec.from_dict(
            {
                "baseline": ["sex", "age", "sex"],
                "covariates": ["ecog", "age", "ecog"],
                "subgroups": ["sex", "liver_resected", "sex"],
                "associations": [
                    ["extent", "converted"],
                    ["extent", "liver_resected"],
                    ["extent", "converted"],
                ],
                "cohort": {"sites": ["STH", "NTH", "STH"], "sexes": ["M", "F", "M"]},
                "times": [24, 12, 24],
            }
        )
        self.assertEqual(spec.baseline, ("sex", "age"))
        self.assertEqual(spec.covariates, ("ecog", "age"))
        self.assertEqual(spec.subgroups, ("sex", "liver_resected"))
        self.assertEqual(
            spec.associations,
            (("extent", "converted"), ("extent", "liver_resected")),
        )
        self.assertEqual(spec.cohort.sites, ("STH", "NTH"))
        self.assertEqual(spec.cohort.sexes, ("M", "F"))
        self.assertEqual(spec.times, (12.0, 24.0))  # times are also sorted

    def test_messages_quote_a_huge_value_cut_short(self):
        errors = self.errors(
            {"group_by": "x" * 100_000, "y" * 100_000: 1, "cohort": {"z" * 9_000: []}}
        )
        self.assertEqual(len(errors), 3)
        for error in errors:
            self.assertLess(len(error), 500)

    def test_cohort_codes_must_be_text(self):
        [error] = self.errors({"cohort": {"sites": [["NTH"]]}})
        self.assertEqual(error, "cohort.sites: expected a list of codes")


class ParseJsonTests(SimpleTestCase):
    """Specifications given as JSON text: too large, too deep or not JSON."""

    def message(self, text) -> str:
        with self.assertRaises(InvalidSpec) as caught:
            parse_json(text)
        [error] = caught.exception.errors
        return error

    def test_deeply_nested_json_is_refused_with_a_message_not_a_crash(self):
        text = "[" * 9_000 + "]" * 9_000
        self.assertEqual(
            self.message(text),
            f"the specification is nested too deeply: 9000 levels "
            f"(at most {MAX_JSON_DEPTH})",
        )
        depth = MAX_JSON_DEPTH + 1
        self.assertIn(
            f"{depth} levels", self.message('{"a":' * depth + "1" + "}" * depth)
        )

    def test_nesting_within_the_limit_and_brackets_in_strings_are_accepted(self):
        self.assertEqual(
            parse_json('{"name": "[[[[[[[[[[[[ \\" {{{{{{{{{{{{"}'),
            {"name": '[[[[[[[[[[[[ " {{{{{{{{{{{{'},
        )
        text = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
        self.assertIsInstance(parse_json(text), list)

    def test_json_larger_than_the_limit_is_refused(self):
        text = json.dumps({"name": "x" * MAX_JSON_CHARS})
        self.assertEqual(
            self.message(text),
            f"the specification is too large: {len(text):,} characters "
            f"(at most {MAX_JSON_CHARS:,})",
        )

    def test_text_that_is_not_json_is_named_with_line_and_column(self):
        self.assertEqual(
            self.message("{not json"),
            "the specification is not valid JSON (line 1, column 2: Expecting "
            "property name enclosed in double quotes)",
        )
