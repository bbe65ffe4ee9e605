"""Clinical pathways entered as nurses enter them: the stored facts, the pages and
check_facts say what the documented rules of registry.derive say.

Each case was found wrong by an audit of the derived facts.
"""

import datetime
import io

from django.core.management import call_command
from django.urls import reverse

from registry.models import Death, DerivedFacts, Operation
from tests.cast import CastTestCase
from tests.factories import (
    make_followup,
    make_liver,
    make_operation,
    make_patient,
    make_tumour,
)
from tests.registry.form_data import RECORD_DATA

D = datetime.date


def stored(patient) -> DerivedFacts:
    return DerivedFacts.objects.get(patient=patient)


class MetachronousDetectionTests(CastTestCase):
    """Liver metastases detected two years after the primary's resection: the
    detection is a dated fact about the patient, as a follow-up contact is."""

    def setUp(self):
        self.patient = make_patient(site=self.north)
        make_tumour(self.patient, diagnosis_date=D(2004, 1, 10), clinical_m="M0")
        make_operation(
            self.patient,
            date=D(2004, 3, 1),
            primary_procedure="lar",
            liver_procedure="none",
            margin="R0",
        )
        make_followup(self.patient, date=D(2004, 9, 1))
        make_liver(self.patient, timing="metachronous", detected_date=D(2006, 5, 1))
        self.client.force_login(self.nina)

    def test_the_detection_is_the_last_known_contact(self):
        facts = stored(self.patient)
        # derive.last_known_contact: "the latest dated fact about the patient";
        # it was the follow-up of 2004-09-01, overdue from 2005-09-02
        self.assertEqual(facts.last_contact, D(2006, 5, 1))
        self.assertEqual(facts.follow_up_overdue_from, D(2007, 5, 2))

    def test_the_patient_page_puts_the_last_contact_last(self):
        page = self.client.get(
            reverse("registry:patient_detail", args=[self.patient.pk])
        )
        kinds = [entry.kind for entry in page.context["chart"].timeline]
        self.assertEqual(kinds[-1], "last_contact")

    def test_a_death_before_the_detection_is_refused(self):
        url = reverse("registry:record_create", args=[self.patient.pk, "death"])
        response = self.client.post(url, {"date": "2005-06-01", "cause": "colorectal"})
        self.assertFalse(Death.objects.filter(patient=self.patient).exists())
        self.assertContains(response, "detection of liver metastases on 2006-05-01")


class RecordMovedByUpdateTests(CastTestCase):
    def test_both_patients_facts_follow_a_record_moved_in_bulk(self):
        # a shell fix of an operation entered on the wrong patient
        a, b = make_patient(site=self.north), make_patient(site=self.north)
        make_tumour(a)
        make_tumour(b)
        operation = make_operation(a, primary_procedure="lar", liver_procedure="minor")
        self.assertEqual(stored(a).strategy, "synchronous")
        Operation.objects.filter(pk=operation.pk).update(patient=b)
        self.assertEqual(stored(b).strategy, "synchronous")
        self.assertEqual(stored(a).strategy, "none")
        call_command("check_facts", stdout=io.StringIO())  # exits 1 on a mismatch

    def test_and_so_do_they_when_moved_by_bulk_update(self):
        a, b = make_patient(site=self.north), make_patient(site=self.north)
        make_tumour(a)
        make_tumour(b)
        operation = make_operation(a, primary_procedure="lar", liver_procedure="minor")
        operation.patient = b
        Operation.objects.bulk_update([operation], ["patient"])
        self.assertEqual(
            (stored(a).strategy, stored(b).strategy), ("none", "synchronous")
        )


class ResectionMarginTests(CastTestCase):
    def setUp(self):
        self.patient = make_patient(site=self.north, ecog=1)
        make_tumour(self.patient, diagnosis_date=D(2004, 1, 10))
        make_liver(self.patient)
        self.client.force_login(self.nina)

    def test_a_resection_is_refused_a_margin_of_not_applicable(self):
        url = reverse("registry:record_create", args=[self.patient.pk, "operation"])
        data = {**RECORD_DATA["operation"], "liver_procedure": "none", "margin": "na"}
        response = self.client.post(url, data)
        self.assertFalse(Operation.objects.exists())
        self.assertContains(response, "A resection of the primary or the liver has")

    def test_one_stored_so_counts_as_a_resection_without_its_margin(self):
        # entered before the rule: the data-quality check lists it
        make_operation(
            self.patient, primary_procedure="lar", liver_procedure="none", margin="na"
        )
        self.assertTrue(stored(self.patient).no_margin)
