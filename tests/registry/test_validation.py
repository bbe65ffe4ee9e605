"""Every model-layer validation rule refuses bad data with a message at the field."""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import TestCase
from django.utils import timezone

from registry.models import (
    Death,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    SystemicTherapyLine,
)
from tests.factories import (
    make_death,
    make_followup,
    make_operation,
    make_patient,
    make_radiation,
    make_site,
    make_systemic,
    make_tumour,
)

D = datetime.date


class ValidationTestCase(TestCase):
    def assertRefused(self, instance, field, fragment):
        """Assert full_clean() refuses `instance`, `fragment` in `field`'s errors."""
        with self.assertRaises(ValidationError) as caught:
            instance.full_clean()
        errors = caught.exception.message_dict
        self.assertIn(field, errors, errors)
        self.assertTrue(
            any(fragment in message for message in errors[field]),
            f"{fragment!r} not in {errors[field]}",
        )

    def setUp(self):
        self.patient = make_patient()
        make_tumour(self.patient, diagnosis_date=D(2004, 1, 10))


class PatientValidationTests(ValidationTestCase):
    def test_ecog_above_four_is_refused(self):
        self.patient.ecog = 5
        self.assertRefused(self.patient, "ecog", "ECOG must be at most 4")

    def test_date_of_birth_in_the_future_is_refused(self):
        self.patient.date_of_birth = timezone.localdate() + datetime.timedelta(days=1)
        self.assertRefused(self.patient, "date_of_birth", "cannot be in the future")

    def test_date_of_birth_after_diagnosis_is_refused(self):
        self.patient.date_of_birth = D(2005, 1, 1)
        self.assertRefused(self.patient, "date_of_birth", "after the date of diagnosis")

    def test_duplicate_mrn_at_the_same_site_is_refused(self):
        twin = Patient(
            site=self.patient.site,
            mrn=self.patient.mrn,
            date_of_birth=D(1960, 1, 1),
            sex="M",
        )
        with self.assertRaisesMessage(ValidationError, "MRN exists at this site"):
            twin.full_clean()

    def test_same_mrn_at_another_site_is_allowed(self):
        other = Patient(
            site=make_site(),
            mrn=self.patient.mrn,
            date_of_birth=D(1960, 1, 1),
            sex="M",
            presenting_symptom="none",
        )
        other.full_clean()

    def test_registry_numbers_are_assigned_per_site_in_sequence(self):
        site = make_site(code="ZED")
        numbers = [make_patient(site=site).registry_number for _ in range(3)]
        self.assertEqual(numbers, ["ZED-00001", "ZED-00002", "ZED-00003"])

    def test_database_refuses_ecog_outside_range_even_without_validation(self):
        self.patient.ecog = 7
        with self.assertRaises(IntegrityError), transaction.atomic():
            self.patient.save()


class PrimaryTumourValidationTests(ValidationTestCase):
    def test_negative_cea_is_refused(self):
        tumour = self.patient.tumour
        tumour.cea_ng_ml = Decimal("-1")
        self.assertRefused(tumour, "cea_ng_ml", "CEA (ng/mL) must be at least 0")

    def test_diagnosis_in_the_future_is_refused(self):
        tumour = self.patient.tumour
        tumour.diagnosis_date = timezone.localdate() + datetime.timedelta(days=3)
        self.assertRefused(tumour, "diagnosis_date", "cannot be in the future")

    def test_diagnosis_after_death_is_refused(self):
        make_death(self.patient, date=D(2006, 1, 1))
        tumour = self.patient.tumour
        tumour.diagnosis_date = D(2006, 2, 1)
        self.assertRefused(tumour, "diagnosis_date", "after the patient's death")

    def test_diagnosis_after_a_follow_up_contact_is_refused(self):
        make_followup(self.patient, date=D(2004, 6, 1))
        tumour = self.patient.tumour
        tumour.diagnosis_date = D(2004, 7, 1)
        self.assertRefused(tumour, "diagnosis_date", "after a follow-up contact")

    def test_anal_verge_distance_for_a_colon_tumour_is_refused(self):
        tumour = self.patient.tumour
        tumour.primary_site = "sigmoid"
        tumour.anal_verge_cm = Decimal("12")
        self.assertRefused(tumour, "anal_verge_cm", "rectal tumours only")

    def test_database_refuses_negative_cea(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            PrimaryTumour.objects.filter(patient=self.patient).update(cea_ng_ml=-5)


class LiverMetastasesValidationTests(ValidationTestCase):
    def liver(self, **fields):
        fields.setdefault("lesion_count", 2)
        fields.setdefault("largest_mm", 20)
        fields.setdefault("distribution", "unilobar")
        fields.setdefault("extent", "lt25")
        fields.setdefault("initial_resectability", "resectable")
        return LiverMetastases(patient=self.patient, **fields)

    def test_zero_lesions_is_refused(self):
        self.assertRefused(
            self.liver(lesion_count=0),
            "lesion_count",
            "Number of lesions must be at least 1",
        )

    def test_zero_size_is_refused(self):
        self.assertRefused(
            self.liver(largest_mm=0),
            "largest_mm",
            "Largest diameter (mm) must be at least 1",
        )

    def test_metachronous_without_detection_date_is_refused(self):
        liver = self.liver(timing="metachronous")
        self.assertRefused(liver, "detected_date", "date metachronous metastases")

    def test_detection_before_diagnosis_is_refused(self):
        liver = self.liver(timing="metachronous", detected_date=D(2003, 1, 1))
        self.assertRefused(liver, "detected_date", "before diagnosis")


class RadiationCourseValidationTests(ValidationTestCase):
    def course(self, **fields):
        fields.setdefault("course_type", "long_crt")
        fields.setdefault("start_date", D(2004, 2, 1))
        fields.setdefault("end_date", D(2004, 3, 10))
        fields.setdefault("total_dose_gy", Decimal("50.4"))
        fields.setdefault("fractions", 28)
        return RadiationCourse(patient=self.patient, **fields)

    def test_course_ending_before_it_starts_is_refused(self):
        course = self.course(start_date=D(2004, 3, 1), end_date=D(2004, 2, 1))
        self.assertRefused(
            course, "end_date", "cannot end (2004-02-01) before it starts"
        )

    def test_negative_dose_is_refused(self):
        self.assertRefused(
            self.course(total_dose_gy=Decimal("-5")),
            "total_dose_gy",
            "Total dose (Gy) must be at least 0.01",
        )

    def test_zero_fractions_is_refused(self):
        self.assertRefused(
            self.course(fractions=0), "fractions", "Fractions must be at least 1"
        )

    def test_course_after_death_is_refused(self):
        make_death(self.patient, date=D(2004, 2, 15))
        self.assertRefused(self.course(), "end_date", "after the patient's death")

    def test_database_refuses_a_course_ending_before_it_starts(self):
        course = make_radiation(self.patient)
        with self.assertRaises(IntegrityError), transaction.atomic():
            RadiationCourse.objects.filter(pk=course.pk).update(end_date=D(2000, 1, 1))


class SystemicTherapyLineValidationTests(ValidationTestCase):
    def line(self, **fields):
        fields.setdefault("setting", "neoadjuvant")
        fields.setdefault("regimen", "folfox")
        fields.setdefault("start_date", D(2004, 4, 1))
        return SystemicTherapyLine(patient=self.patient, **fields)

    def test_line_ending_before_it_starts_is_refused(self):
        line = self.line(end_date=D(2004, 3, 1))
        self.assertRefused(line, "end_date", "cannot end")

    def test_other_regimen_without_a_name_is_refused(self):
        self.assertRefused(
            self.line(regimen="other"), "regimen_other", "Name the other regimen"
        )

    def test_ended_line_marked_ongoing_is_refused(self):
        line = self.line(end_date=D(2004, 6, 1), stop_reason="ongoing")
        self.assertRefused(line, "stop_reason", "not ongoing")

    def test_zero_cycles_is_refused(self):
        self.assertRefused(self.line(cycles=0), "cycles", "Cycles must be at least 1")

    def test_line_starting_after_death_is_refused(self):
        make_death(self.patient, date=D(2004, 3, 1))
        self.assertRefused(self.line(), "start_date", "after the patient's death")


class OperationValidationTests(ValidationTestCase):
    def operation(self, **fields):
        fields.setdefault("date", D(2004, 8, 1))
        fields.setdefault("intent", "curative")
        fields.setdefault("primary_procedure", "lar")
        fields.setdefault("liver_procedure", "none")
        fields.setdefault("palliative_procedure", "none")
        return Operation(patient=self.patient, **fields)

    def test_operation_after_death_is_refused(self):
        make_death(self.patient, date=D(2004, 6, 1))
        self.assertRefused(
            self.operation(), "date", "after the patient's death on 2004-06-01"
        )

    def test_operation_in_the_future_is_refused(self):
        future = timezone.localdate() + datetime.timedelta(days=10)
        self.assertRefused(
            self.operation(date=future), "date", "cannot be in the future"
        )

    def test_operation_with_no_procedure_is_refused_unless_diagnostic(self):
        self.assertRefused(
            self.operation(primary_procedure="none"),
            "primary_procedure",
            "Record what was done",
        )
        self.operation(primary_procedure="none", intent="diagnostic").full_clean()

    def test_margin_without_resection_is_refused(self):
        operation = self.operation(
            primary_procedure="none",
            palliative_procedure="stoma",
            intent="palliative",
            margin="R0",
        )
        self.assertRefused(operation, "margin", "needs a resection")

    def test_length_of_stay_over_a_year_is_refused(self):
        self.assertRefused(
            self.operation(length_of_stay_days=400),
            "length_of_stay_days",
            "Length of stay (days) must be at most 365",
        )


class FollowUpValidationTests(ValidationTestCase):
    def test_follow_up_before_diagnosis_is_refused(self):
        contact = FollowUp(
            patient=self.patient, date=D(2003, 12, 1), disease_status="ned"
        )
        self.assertRefused(contact, "date", "before the diagnosis on 2004-01-10")

    def test_follow_up_after_death_is_refused(self):
        make_death(self.patient, date=D(2005, 1, 1))
        contact = FollowUp(
            patient=self.patient, date=D(2005, 2, 1), disease_status="ned"
        )
        self.assertRefused(contact, "date", "after the patient's death")

    def test_negative_cea_at_follow_up_is_refused(self):
        contact = FollowUp(
            patient=self.patient,
            date=D(2005, 2, 1),
            disease_status="ned",
            cea_ng_ml=Decimal("-0.1"),
        )
        self.assertRefused(contact, "cea_ng_ml", "CEA (ng/mL) must be at least 0")


class DeathValidationTests(ValidationTestCase):
    def test_death_before_diagnosis_is_refused(self):
        death = Death(patient=self.patient, date=D(2003, 1, 1))
        self.assertRefused(death, "date", "before the diagnosis on 2004-01-10")

    def test_death_without_a_date_is_refused(self):
        death = Death(patient=self.patient, date=None)
        self.assertRefused(death, "date", "This field cannot be null")

    def test_death_before_a_recorded_operation_is_refused(self):
        make_operation(self.patient, date=D(2004, 8, 1), primary_procedure="lar")
        death = Death(patient=self.patient, date=D(2004, 7, 1))
        self.assertRefused(death, "date", "before the operation on 2004-08-01")

    def test_death_before_a_follow_up_contact_is_refused(self):
        make_followup(self.patient, date=D(2005, 3, 1))
        death = Death(patient=self.patient, date=D(2005, 1, 1))
        self.assertRefused(death, "date", "before the follow-up contact on 2005-03-01")

    def test_death_before_the_end_of_a_therapy_line_is_refused(self):
        make_systemic(self.patient, start_date=D(2004, 4, 1), end_date=D(2004, 9, 1))
        death = Death(patient=self.patient, date=D(2004, 8, 1))
        self.assertRefused(
            death, "date", "before the line of systemic therapy on 2004-09-01"
        )

    def test_death_in_the_future_is_refused(self):
        death = Death(
            patient=self.patient, date=timezone.localdate() + datetime.timedelta(days=1)
        )
        self.assertRefused(death, "date", "cannot be in the future")

    def test_death_on_the_day_of_the_last_contact_is_accepted(self):
        make_followup(self.patient, date=D(2005, 3, 1))
        Death(patient=self.patient, date=D(2005, 3, 1), cause="other").full_clean()
