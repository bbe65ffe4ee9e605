"""The load test targets this machine only, asks valid pages and counts right
(benchmarks/load_test.py)."""

import urllib.parse

from django.test import SimpleTestCase

from analytics.forms import ReportForm
from benchmarks import load_test
from tests.cast import CastTestCase


class LocalHostTests(SimpleTestCase):
    def test_other_hosts_are_refused(self):
        for url in (
            "http://registry.example.org",
            "http://10.0.0.5:8000",
            "http://127.0.0.1.example.org:8000",
            "ftp://127.0.0.1/",
        ):
            with self.subTest(url=url), self.assertRaises(load_test.LoadTestError):
                load_test.check_local(url)

    def test_this_machine_is_accepted_without_a_trailing_slash(self):
        for url, expected in (
            ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
            ("http://localhost:8001", "http://localhost:8001"),
            ("http://[::1]:8000", "http://[::1]:8000"),
        ):
            self.assertEqual(load_test.check_local(url), expected)

    def test_a_refused_host_stops_the_test_before_any_request(self):
        self.assertEqual(load_test.main(["--url", "http://example.org"]), 2)


class PercentileTests(SimpleTestCase):
    def test_percentiles_are_nearest_rank(self):
        values = [float(v) for v in range(100, 0, -1)]
        self.assertEqual(load_test.percentile(values, 50), 50.0)
        self.assertEqual(load_test.percentile(values, 95), 95.0)
        self.assertEqual(load_test.percentile(values, 99), 99.0)

    def test_one_value_is_every_percentile(self):
        self.assertEqual(load_test.percentile([0.25], 99), 0.25)


class SurvivalReportQueryTests(CastTestCase):
    def test_the_report_query_is_a_valid_survival_only_report(self):
        query = urllib.parse.parse_qs(load_test.SURVIVAL_REPORT_QUERY)
        data = {key: values[0] for key, values in query.items()}
        form = ReportForm(data, user=self.ann)
        self.assertTrue(form.is_valid(), form.errors)
        spec = form.to_spec_data()
        self.assertEqual(
            [spec["baseline"], spec["associations"], spec["subgroups"]], [[], [], []]
        )
        self.assertEqual(spec["group_by"], "strategy")
        self.assertEqual(spec["as_of"], "2009-12-31")
