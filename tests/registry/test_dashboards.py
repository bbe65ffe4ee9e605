"""Each role's home page: worklist, accrual and verification, recent reports."""

from __future__ import annotations

import csv
import datetime
import io
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry import dashboards, queries, status
from registry.derive import KEY_FIELDS
from registry.models import DerivedFacts
from registry.models.status import FormKind
from tests.cast import CastTestCase
from tests.factories import make_full_patient, make_patient, make_tumour
from tests.registry.test_access_matrix import _run

HOME = reverse("registry:home")


class NurseWorklistTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # last contact 2005-01-10: long overdue
        cls.overdue = make_full_patient(site=cls.north)
        cls.done = make_full_patient(site=cls.north)
        for kind in FormKind.values:
            status.set_status(patient=cls.done, kind=kind, to=1, user=cls.nina)
        queries.open_query(
            patient=cls.overdue,
            kind="patient",
            record_id=cls.overdue.pk,
            field="ecog",
            question="ECOG at diagnosis?",
            user=cls.mark,
        )
        make_full_patient(site=cls.south)  # Sam's: never on Nina's list

    def test_the_worklist_lists_overdue_queries_and_incomplete(self):
        self.client.force_login(self.nina)
        worklist = self.client.get(HOME).context["worklist"]
        self.assertEqual(worklist.overdue_count, 2)
        self.assertEqual(worklist.queries_count, 1)
        self.assertEqual(
            [p.registry_number for p in worklist.incomplete],
            [self.overdue.registry_number],
        )

    def test_the_csv_has_every_row(self):
        self.client.force_login(self.nina)
        response = self.client.get(reverse("registry:worklist_export"))
        self.assertEqual(response["Content-Type"], "text/csv")
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        self.assertEqual(
            sorted(row["section"] for row in rows),
            [
                "Follow-up overdue",
                "Follow-up overdue",
                "Open data query",
                "Records not complete",
            ],
        )
        self.assertEqual({row["site"] for row in rows}, {"NTH"})

    def test_the_home_page_takes_a_fixed_number_of_queries(self):
        self.client.force_login(self.nina)
        counts = []
        for _ in range(2):
            with CaptureQueriesContext(connection) as queries_run:
                self.client.get(HOME)
            counts.append(len(queries_run))
            for _ in range(3):
                make_full_patient(site=self.north)
        self.assertEqual(counts[0], counts[1])


class ManagerOverviewTests(CastTestCase):
    def test_shares_round_down_never_to_100_with_a_field_missing(self):
        # Found by an audit: 399.5 of 400 patients' key fields showed as 100.0%
        # on the home page (rounded to nearest), 99.9% on the data-quality page
        self.client.force_login(self.mark)
        almost = dashboards.SiteOverview("NTH", "North", 400, 99.96, 99.96)
        with mock.patch.object(dashboards, "site_overview", return_value=[almost]):
            response = self.client.get(HOME)
        row = response.content.decode().split('id="site-overview"')[1]
        row = row.split("</tr>", 2)[1]
        self.assertIn("99.9%", row)
        self.assertNotIn("100.0%", row)
        whole = dashboards.SiteOverview("NTH", "North", 400, 100.0, 100.0)
        self.assertEqual(
            (whole.completeness_label, whole.verified_label), ("100", "100")
        )

    def test_accrual_by_year_and_verification_per_site(self):
        for year in (2003, 2004, 2004):
            make_tumour(
                make_patient(site=self.north), diagnosis_date=datetime.date(year, 3, 1)
            )
        make_patient(site=self.north)  # not diagnosed: no bar, but a patient
        verified = make_full_patient(site=self.south)
        for to in (1, 2):
            status.set_status(patient=verified, kind="tumour", to=to, user=self.mark)
        self.client.force_login(self.mark)
        response = self.client.get(HOME)
        bars = [(bar.year, bar.n) for bar in response.context["accrual"]]
        self.assertEqual(bars, [(2003, 1), (2004, 3)])  # the full patient: 2004
        self.assertContains(response, "<svg", count=1)
        overview = {s.code: s for s in response.context["site_overview"]}
        self.assertEqual(overview["STH"].verified, 100 * 1 / 8)
        self.assertEqual(overview["NTH"].verified, 0)
        # completeness: the key fields filled over the site's patients
        for site in (self.north, self.south):
            facts = DerivedFacts.objects.filter(patient__site=site)
            filled = sum(facts.values_list("key_fields_filled", flat=True))
            expected = 100 * filled / (facts.count() * len(KEY_FIELDS))
            self.assertAlmostEqual(overview[site.code].completeness, expected)
        self.assertEqual(overview["NTH"].patients, 4)
        by_strategy = {code: n for code, _, n in response.context["by_strategy"]}
        self.assertEqual(sum(by_strategy.values()), 5)
        self.assertEqual(by_strategy["synchronous"], 1)
        self.assertNotIn("worklist", response.context)


class AnalystHomeTests(CastTestCase):
    def test_the_analyst_sees_her_recent_reports(self):
        from analytics.models import SavedReport

        for _ in range(5):
            make_full_patient(site=self.north)
        saved = SavedReport.objects.create(name="Arms", spec={}, owner=self.ann)
        _run(saved, self.ann, [self.north])
        self.client.force_login(self.ann)
        response = self.client.get(HOME)
        self.assertContains(response, "Your recent reports")
        self.assertContains(response, "Arms")
