"""Locked records (registry.status) refuse the API's writes, as the pages'."""

from __future__ import annotations

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from registry import services
from registry.models import Operation, RecordStatus
from registry.models.status import FormKind, FormStatus
from tests.cast import CastTestCase
from tests.factories import make_operation, make_patient, make_tumour


class LockedRecordApiTests(CastTestCase):
    client_class = APIClient

    def setUp(self):
        cache.clear()
        self.patient = make_patient(site=self.north)
        make_tumour(self.patient)
        self.operation = make_operation(
            self.patient, primary_procedure="lar", liver_procedure="minor", margin="R0"
        )
        self.url = reverse("api:operation-detail", args=[self.operation.pk])
        self.client.force_authenticate(self.mark)

    def set_status(self, status: FormStatus):
        RecordStatus.objects.update_or_create(
            patient=self.patient,
            kind=FormKind.OPERATION,
            defaults={"status": status},
        )

    def page_message(self) -> str:
        """Return what the services (the pages' path) say of a locked save."""
        try:
            services.update_record(record=self.operation, loaded_version=1)
        except ValidationError as error:
            return " ".join(error.messages)
        raise AssertionError("the save was not refused")

    def test_update_of_a_locked_record_is_refused_with_the_pages_message(self):
        self.set_status(FormStatus.LOCKED)
        expected = self.page_message()
        response = self.client.patch(
            self.url, {"margin": "R1", "version": 1}, format="json"
        )
        self.assertEqual(response.status_code, 423)
        self.assertEqual(response.json()["detail"], expected)
        self.assertIn("Locked", expected)
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.margin, "R0")

    def test_deletion_and_addition_of_locked_kinds_are_refused(self):
        self.set_status(FormStatus.LOCKED)
        response = self.client.delete(f"{self.url}?version=1")
        self.assertEqual(response.status_code, 423)
        self.assertTrue(Operation.objects.filter(pk=self.operation.pk).exists())
        data = {
            "registry_number": self.patient.registry_number,
            "date": "2005-02-01",
            "intent": "palliative",
            "primary_procedure": "none",
            "liver_procedure": "none",
            "palliative_procedure": "stoma",
        }
        response = self.client.post(reverse("api:operation-list"), data, format="json")
        self.assertEqual(response.status_code, 423, response.content)
        self.assertIn("Locked", response.json()["detail"])
        self.assertEqual(Operation.objects.count(), 1)
        # the same addition is accepted once the kind is unlocked
        self.set_status(FormStatus.COMPLETE)
        response = self.client.post(reverse("api:operation-list"), data, format="json")
        self.assertEqual(response.status_code, 201, response.content)

    def test_locked_kind_answers_423_whatever_the_body_holds(self):
        """A body that could never be saved still hears of the lock first."""
        self.set_status(FormStatus.LOCKED)
        expected = self.page_message()
        incomplete = {
            "registry_number": self.patient.registry_number,
            "date": "2005-02-01",
            "intent": "palliative",
        }
        response = self.client.post(
            reverse("api:operation-list"), incomplete, format="json"
        )
        self.assertEqual(response.status_code, 423, response.content)
        self.assertEqual(response.json()["detail"], expected)
        response = self.client.patch(self.url, {"margin": "bogus"}, format="json")
        self.assertEqual(response.status_code, 423, response.content)
        self.assertEqual(response.json()["detail"], expected)
        self.assertEqual(Operation.objects.count(), 1)

    def test_other_kinds_of_the_patient_stay_writable(self):
        self.set_status(FormStatus.LOCKED)
        tumour = self.patient.tumour
        response = self.client.patch(
            reverse("api:tumour-detail", args=[tumour.pk]),
            {"cea_ng_ml": "4.2", "version": tumour.version},
            format="json",
        )
        self.assertEqual(response.status_code, 200, response.content)

    def test_verified_record_is_corrected_only_with_a_reason(self):
        self.set_status(FormStatus.VERIFIED)
        response = self.client.patch(
            self.url, {"margin": "R1", "version": 1}, format="json"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("give a reason", str(response.json()))
        response = self.client.patch(
            self.url,
            {"margin": "R1", "version": 1, "reason": "pathology report"},
            format="json",
        )
        self.assertEqual(response.status_code, 200, response.content)
        row = Operation.history.filter(id=self.operation.pk).latest("history_date")
        self.assertEqual(row.history_change_reason, "pathology report")
        self.assertEqual(row.history_user, self.mark)
