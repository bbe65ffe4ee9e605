"""Report specifications: every problem refused with a message naming the field."""

import datetime

from django.test import SimpleTestCase

from analytics.spec import DEFAULT_TIMES, InvalidSpec, ReportSpec


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
                "endpoint: 'pfs' is not one of os, rfs",
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
