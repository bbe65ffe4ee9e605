"""The load test targets this machine only, asks valid pages and counts right
(benchmarks/load_test.py)."""

import random
import time
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


class ThinkTimeTests(SimpleTestCase):
    """A user who is still reading a page when the run ends asks for nothing more."""

    class FakeSession:
        patient_ids = [1]

        def __init__(self):
            self.sent = []

        def request(self, path):
            self.sent.append(time.monotonic())
            return 200, ""

    def drive(self, session, results, *, deadline, seed, think):
        load_test.drive(
            session,
            ["list"],
            deadline=deadline,
            limit=None,
            results=results,
            rng=random.Random(seed),
            think=think,
        )

    def test_no_request_is_sent_when_a_pause_reaches_the_deadline(self):
        # the old loop cut each pause short at the deadline and then asked for
        # a page: every pausing user at once, the last instant of the run
        results = load_test.Results()
        sessions = [self.FakeSession() for _ in range(5)]
        deadline = time.monotonic() + 0.2
        for number, session in enumerate(sessions):
            # pauses far longer than the run
            self.drive(session, results, deadline=deadline, seed=number, think=60.0)
        self.assertGreaterEqual(time.monotonic(), deadline)  # read on to the end
        self.assertEqual([s.sent for s in sessions], [[]] * 5)
        self.assertEqual(results.requests, 0)

    def test_pauses_shorter_than_the_run_still_ask_for_pages(self):
        results = load_test.Results()
        session = self.FakeSession()
        deadline = time.monotonic() + 0.3
        self.drive(session, results, deadline=deadline, seed=1, think=0.01)
        # (a pause that ends just before the deadline may send its request just
        # after it: the sleep can overrun)
        self.assertGreater(len(session.sent), 3)
        self.assertEqual(results.requests, len(session.sent))
