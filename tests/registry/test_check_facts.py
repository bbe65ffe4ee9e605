"""check_facts recomputes every patient's facts and finds stored rows that differ."""

import io
from types import SimpleNamespace

from django.core.management import CommandError, call_command
from django.urls import reverse

from registry.models import DerivedFacts, FactsCheck
from tests.cast import CastTestCase
from tests.factories import make_full_patient


class CheckFactsTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patients = [make_full_patient(site=cls.north) for _ in range(5)]

    def run_check(self, *args) -> str:
        out = io.StringIO()
        call_command("check_facts", *args, stdout=out)
        return out.getvalue()

    def test_facts_written_by_the_records_agree(self):
        self.assertIn("All 5 patients' stored facts agree", self.run_check())
        self.assertEqual(FactsCheck.objects.get().mismatched, 0)

    def test_a_stale_row_is_listed_with_what_differs_and_fixed_with_fix(self):
        stale = self.patients[2]
        # a write that bypassed the refresh (a restore, a hand-made SQL fix)
        DerivedFacts.objects.filter(patient=stale).update(strategy="none")
        with self.assertRaisesMessage(CommandError, "1 of 5 patients"):
            self.run_check("--chunk", "2")
        out = self.run_check("--fix")
        self.assertIn(
            f"{stale.registry_number}: strategy stored 'none', the rules give "
            "'synchronous'",
            out,
        )
        self.assertIn("Fixed the facts of 1 of 5 patients", out)
        self.assertEqual(
            DerivedFacts.objects.get(patient=stale).strategy, "synchronous"
        )
        self.assertIn("agree", self.run_check())

    def test_a_stale_site_is_listed_and_fixed(self):
        # the facts carry the patient's site (reports scoped by site read them
        # alone): a copy that went stale is found like a stale fact
        stale = self.patients[1]
        DerivedFacts.objects.filter(patient=stale).update(site=self.south)
        out = self.run_check("--fix")
        self.assertIn(
            f"{stale.registry_number}: site stored {self.south.pk}, "
            f"the patient's is {self.north.pk}",
            out,
        )
        self.assertEqual(DerivedFacts.objects.get(patient=stale).site, self.north)
        self.assertIn("agree", self.run_check())

    def test_a_chunk_out_of_bounds_is_refused_with_a_message(self):
        # Found by an audit: 10^20 was a database error from the LIMIT clause
        for chunk in ("0", str(10**20)):
            with self.subTest(chunk=chunk):
                with self.assertRaisesMessage(CommandError, "--chunk must be from 1"):
                    self.run_check("--chunk", chunk)

    def test_a_missing_row_is_found(self):
        DerivedFacts.objects.filter(patient=self.patients[0]).delete()
        with self.assertRaisesMessage(CommandError, "1 of 5"):
            self.run_check()
        self.run_check("--fix")
        self.assertEqual(DerivedFacts.objects.count(), 5)

    def test_the_data_quality_page_shows_the_last_check_and_missing_rows(self):
        self.client.force_login(self.nina)
        url = reverse("registry:data_quality")
        self.assertContains(self.client.get(url), "Never checked")
        DerivedFacts.objects.filter(patient=self.patients[0]).delete()
        DerivedFacts.objects.filter(patient=self.patients[1]).update(converted=True)
        with self.assertRaises(CommandError):
            self.run_check()
        response = self.client.get(url)
        self.assertContains(response, "1 patient has no stored facts")
        self.assertContains(
            response, "2 of 5 patients of your sites differed from the rules"
        )

    def test_the_check_is_shown_for_the_users_sites_alone(self):
        # Found by an audit: North's nurse read "all 8 patients agreed", the
        # size of the whole registry, South's patients included
        for _ in range(3):
            make_full_patient(site=self.south)
        DerivedFacts.objects.filter(patient=self.patients[0]).update(converted=True)
        with self.assertRaises(CommandError):
            self.run_check()
        url = reverse("registry:data_quality")
        self.client.force_login(self.nina)
        self.assertContains(
            self.client.get(url), "1 of 5 patients of your sites differed"
        )
        self.client.force_login(self.sam)
        page = self.client.get(url)
        self.assertContains(page, "all 3 patients of your sites agreed")
        self.assertNotContains(page, " of 8 ")


class MigrationFillTests(CastTestCase):
    """The data steps of the migrations that add a column to the stored facts."""

    def test_0019_copies_each_patients_site_onto_their_facts(self):
        import importlib

        from django.apps import apps
        from django.db import connection

        migration = importlib.import_module("registry.migrations.0019_facts_site")
        north = make_full_patient(site=self.north)
        south = make_full_patient(site=self.south)
        # as the column stood before the copy: no patient's site
        DerivedFacts.objects.update(site=self.north)
        DerivedFacts.objects.filter(patient=north).update(site=self.south)
        # the step reads only its editor's connection
        migration.copy_sites(apps, SimpleNamespace(connection=connection))
        self.assertEqual(
            dict(DerivedFacts.objects.values_list("patient", "site")),
            {north.pk: self.north.pk, south.pk: self.south.pk},
        )

    def test_0021_computes_the_first_overdue_day_by_the_rules(self):
        import importlib

        from django.apps import apps

        migration = importlib.import_module(
            "registry.migrations.0021_follow_up_overdue_from"
        )
        patient = make_full_patient(site=self.north)
        expected = DerivedFacts.objects.get(patient=patient).follow_up_overdue_from
        self.assertIsNotNone(expected)
        DerivedFacts.objects.update(follow_up_overdue_from=None)
        migration.fill(apps, None)
        self.assertEqual(
            DerivedFacts.objects.get(patient=patient).follow_up_overdue_from, expected
        )
