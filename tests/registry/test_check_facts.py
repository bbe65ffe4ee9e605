"""check_facts recomputes every patient's facts and finds stored rows that differ."""

import io

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
        self.assertContains(response, "2 of 5 patients differed from the rules")
