"""The patient page: timeline, derived strategy with its reason, survival status."""

from __future__ import annotations

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.cast import CastTestCase
from tests.factories import (
    make_death,
    make_followup,
    make_liver,
    make_operation,
    make_patient,
    make_radiation,
    make_systemic,
    make_tumour,
)

D = datetime.date


class PatientDetailTests(CastTestCase):
    def setUp(self):
        self.patient = make_patient(site=self.north, mrn="H555")
        make_tumour(self.patient, diagnosis_date=D(2004, 1, 10))
        make_liver(self.patient)
        # Entered out of order: the page sorts them.
        make_followup(self.patient, date=D(2005, 1, 10))
        make_operation(self.patient, date=D(2004, 6, 10), liver_procedure="minor")
        make_operation(self.patient, date=D(2004, 3, 1), primary_procedure="lar")
        make_systemic(self.patient, start_date=D(2004, 1, 20), end_date=D(2004, 2, 20))
        make_radiation(self.patient, start_date=D(2004, 1, 20), end_date=D(2004, 2, 25))
        self.url = reverse("registry:patient_detail", args=[self.patient.pk])
        self.client.force_login(self.nina)

    def test_absolute_url_of_a_patient_is_this_page(self):
        self.assertEqual(self.patient.get_absolute_url(), self.url)

    def test_timeline_runs_from_diagnosis_to_last_contact_in_clinical_order(self):
        response = self.client.get(self.url)
        events = [(e.date, e.kind) for e in response.context["chart"].timeline]
        self.assertEqual(
            events,
            [
                (D(2004, 1, 10), "tumour"),
                (D(2004, 1, 10), "liver"),
                (D(2004, 1, 20), "radiation"),
                (D(2004, 1, 20), "systemic"),
                (D(2004, 3, 1), "operation"),
                (D(2004, 6, 10), "operation"),
                (D(2005, 1, 10), "followup"),
                (D(2005, 1, 10), "last_contact"),
            ],
        )

    def test_strategy_is_shown_with_its_reason_in_words(self):
        response = self.client.get(self.url)
        self.assertContains(response, "Staged resection")
        self.assertContains(
            response,
            "Staged, primary first: primary resected 2004-03-01, liver 2004-06-10",
        )

    def test_survival_status_of_a_living_patient_counts_months_to_last_contact(self):
        response = self.client.get(self.url)
        # 2004-01-10 to 2005-01-10 is 366 days: 366 / 30.4375 = 12.0 months.
        self.assertContains(
            response, "at last contact on 2005-01-10, 12.0 months after diagnosis"
        )

    def test_survival_status_of_a_dead_patient_gives_date_cause_and_months(self):
        make_death(self.patient, date=D(2006, 1, 10), cause="colorectal")
        response = self.client.get(self.url)
        # 731 days / 30.4375 = 24.0 months.
        self.assertContains(
            response,
            "Died 2006-01-10 (colorectal cancer), 24.0 months after diagnosis",
        )
        kinds = [e.kind for e in response.context["chart"].timeline]
        self.assertEqual(kinds[-1], "death")
        self.assertNotIn("last_contact", kinds)

    def test_overdue_follow_up_is_flagged(self):
        response = self.client.get(self.url)
        self.assertContains(response, "Follow-up overdue")

    def test_page_offers_a_button_to_add_each_kind_of_record_not_yet_complete(self):
        response = self.client.get(self.url)
        for slug in ("radiation", "systemic", "operation", "followup", "death"):
            self.assertContains(
                response,
                reverse("registry:record_create", args=[self.patient.pk, slug]),
            )
        for slug in ("tumour", "liver"):  # one per patient, already there
            self.assertNotContains(
                response,
                reverse("registry:record_create", args=[self.patient.pk, slug]),
            )

    def test_identifiers_are_shown_to_a_nurse_but_never_in_a_link(self):
        response = self.client.get(self.url)
        self.assertContains(response, "MRN H555")
        self.assertNotContains(response, "H555/")
        self.assertNotContains(response, "=H555")

    def test_patient_of_another_site_is_not_found(self):
        self.client.force_login(self.sam)
        self.assertEqual(self.client.get(self.url).status_code, 404)

    def test_analyst_has_no_access_to_patient_pages(self):
        self.client.force_login(self.ann)
        self.assertEqual(self.client.get(self.url).status_code, 403)

    def test_number_of_queries_does_not_grow_with_the_records(self):
        counts = []
        for _ in range(2):
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.client.get(self.url).status_code, 200)
            counts.append(len(queries))
            for month in range(2, 10):
                make_followup(self.patient, date=D(2005, month, 1))
                make_operation(
                    self.patient, date=D(2004, 7, month), palliative_procedure="stent"
                )
        self.assertEqual(counts[0], counts[1])
        # 12, plus one each for the form status card and the data queries
        self.assertLessEqual(counts[0], 14)


class ErrorPageTests(CastTestCase):
    def test_refusal_page_explains_and_offers_the_way_home(self):
        self.client.force_login(self.ann)
        response = self.client.get(reverse("registry:patient_list"))
        self.assertContains(
            response, "You do not have access to this page", status_code=403
        )
        self.assertTemplateUsed(response, "base.html")

    def test_not_found_page_does_not_say_whether_the_patient_exists(self):
        patient = make_patient(site=self.north)
        self.client.force_login(self.sam)
        response = self.client.get(patient.get_absolute_url())
        self.assertContains(
            response, "or it belongs to a site you are not a member of", status_code=404
        )
