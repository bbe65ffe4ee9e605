"""The immortal-time warning: only for later events that happened, and its landmark
derived from them alone."""

import datetime

from django.test import TestCase

from analytics.reports import ReportError
from tests.analytics.test_report_text import make_case, report
from tests.factories import make_operation, make_site

SURVIVAL_ONLY = {"baseline": [], "associations": [], "subgroups": []}


def immortal(result) -> list[str]:
    return [w for w in result["warnings"] if w.startswith("Immortal-time bias")]


class ImmortalTimeWarningTests(TestCase):
    def test_no_resection_gives_no_warning_and_no_landmark(self):
        site = make_site()
        for i in range(6):
            make_case(site, primary_resected=False, died=i % 2 == 0)
        result = report(**SURVIVAL_ONLY)
        self.assertEqual(immortal(result), [])
        self.assertIsNone(result["suggested_landmark"])
        self.assertNotIn("90% of", " ".join(result["warnings"]))

    def test_resections_give_the_warning_and_a_landmark_from_them(self):
        # Diagnosis 2004-01-10 (tests.factories). Nine resections on 2004-08-15
        # (218 days = 7.16 months) and one on 2005-06-10 (517 days = 16.99
        # months); the 90th percentile (R type 7) is at position 0.9 * 9 = 8.1:
        # 7.16 + 0.1 * (16.99 - 7.16) = 8.15 months, rounded up to 9 months.
        site = make_site()
        for i in range(9):
            make_case(site, liver_resected=True, died=i % 2 == 0)
        make_case(site, liver_resected=True, operation_date=datetime.date(2005, 6, 10))
        for _ in range(3):
            make_case(site, primary_resected=False, died=True)
        result = report(**SURVIVAL_ONLY)
        self.assertEqual(result["suggested_landmark"], 9.0)
        (warning,) = immortal(result)
        self.assertIn(
            "10 patients were grouped by a resection after diagnosis", warning
        )
        self.assertIn("landmark 9 months: 90% of the resections were done", warning)

    def test_grouping_by_liver_resection_with_none_done_gives_no_warning(self):
        site = make_site()
        for i in range(6):  # primaries resected, no liver resection
            make_case(site, liver_resected=False, died=i % 2 == 0, sex="FM"[i % 2])
        result = report(group_by="liver_resected", **SURVIVAL_ONLY)
        self.assertEqual(immortal(result), [])
        self.assertIsNone(result["suggested_landmark"])

    def test_grouping_by_later_palliative_surgery_none_done_gives_no_warning(self):
        site = make_site()
        for i in range(6):
            make_case(site, liver_resected=i < 3, died=i % 2 == 0)
        result = report(group_by="later_palliative", **SURVIVAL_ONLY)
        self.assertEqual(immortal(result), [])

    def test_a_grouping_the_landmark_cannot_regroup_gets_no_landmark_offer(self):
        # Conversion depends on a later liver resection, but a landmark analysis
        # cannot regroup by it: the warning stays, without a landmark that
        # would only end in an error.
        site = make_site()
        for i in range(6):
            patient = make_case(site, liver_resected=False, died=i % 2 == 0)
            if i < 3:
                make_operation(
                    patient, date=datetime.date(2004, 10, 1), liver_procedure="minor"
                )
        result = report(group_by="converted", **SURVIVAL_ONLY)
        (warning,) = immortal(result)
        self.assertIn("grouped by a liver resection after diagnosis", warning)
        self.assertNotIn("landmark analysis (index", warning)
        self.assertIsNone(result["suggested_landmark"])
        with self.assertRaises(ReportError) as caught:
            report(group_by="converted", index="landmark", landmark=9, **SURVIVAL_ONLY)
        self.assertIn("cannot be regrouped at a landmark", caught.exception.errors[0])
