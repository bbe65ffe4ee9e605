"""The dictionary and the import through the API: the modules the pages use."""

from __future__ import annotations

from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from registry import dictionary, importer
from registry.models import Patient
from tests.cast import CastTestCase
from tests.registry.import_files import csv_file, patient_row, tumour_row


def uploads(files):
    return [SimpleUploadedFile(name, data) for name, data in files]


class DictionaryApiTests(CastTestCase):
    client_class = APIClient

    def setUp(self):
        cache.clear()

    def test_every_entry_of_the_dictionary_with_its_codes(self):
        self.client.force_authenticate(self.ann)
        response = self.client.get(reverse("api:dictionary"))
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body, [e.to_dict() for e in dictionary.entries()])
        margin = next(e for e in body if e["name"] == "margin")
        self.assertIn("R0", margin["codes"])

    def test_api_fields_are_named_as_in_the_dictionary(self):
        from registry.api.serializers import RECORD_SERIALIZERS, PatientSerializer

        names = {(e.record_kind, e.name) for e in dictionary.entries()}
        kinds = {
            "tumour": "primary_tumour",
            "liver": "liver_metastases",
            "radiation": "radiation_course",
            "systemic": "systemic_therapy_line",
            "operation": "operation",
            "followup": "follow_up",
            "death": "death",
        }
        serializers = {kinds[s]: c for s, c in RECORD_SERIALIZERS.items()}
        serializers["patient"] = PatientSerializer
        for kind, serializer in serializers.items():
            # bookkeeping, not variables: the id, the version read, a change's reason
            own = set(serializer.Meta.fields) - {"id", "version", "reason"}
            own -= {"diagnosis_date", "strategy", "vital_status", "last_contact"}
            own -= {"form_status"}  # the records' workflow (registry.status)
            if kind == "patient":
                own -= {"site"}  # the import's site is chosen for the whole file
            with self.subTest(kind=kind):
                self.assertEqual(own - {n for k, n in names if k == kind}, set())


class ImportApiTests(CastTestCase):
    client_class = APIClient

    def setUp(self):
        cache.clear()
        self.client.force_authenticate(self.mark)
        self.url = reverse("api:import")

    def post(self, files, **fields):
        data = {"site": "NTH", "files": uploads(files), **fields}
        return self.client.post(self.url, data, format="multipart")

    def test_dry_run_lists_the_importers_problems_and_writes_nothing(self):
        files = [
            csv_file("patient", [patient_row(1), patient_row(2, sex="Q")]),
            csv_file("primary_tumour", [tumour_row(1), tumour_row(2)]),
        ]
        response = self.post(files, commit="true")
        self.assertEqual(response.status_code, 400)
        body = response.json()
        expected = importer.run_import(
            files, site=self.north, user=self.mark, commit=False
        )
        self.assertEqual(body["problems"], [p.to_dict() for p in expected.problems])
        self.assertEqual(body["messages"], [str(p) for p in expected.problems])
        self.assertIn("patient.csv, row 3, column sex", body["messages"][0])
        self.assertFalse(body["committed"])
        self.assertFalse(Patient.objects.exists())

    def test_clean_dry_run_writes_nothing_then_commit_writes_with_history(self):
        files = [
            csv_file("patient", [patient_row(1), patient_row(2)]),
            csv_file("primary_tumour", [tumour_row(1), tumour_row(2)]),
        ]
        response = self.post(files)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertTrue(response.json()["ok"])
        self.assertFalse(Patient.objects.exists())
        response = self.post(files, commit="true")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertTrue(response.json()["committed"])
        self.assertEqual(Patient.objects.filter(site=self.north).count(), 2)
        row = Patient.history.first()
        self.assertEqual(row.history_user, self.mark)
        self.assertIn(
            "import of patient.csv, primary_tumour.csv by mark",
            row.history_change_reason,
        )

    def test_another_sites_code_is_refused(self):
        self.client.force_authenticate(self.sam)  # a nurse: no import permission
        response = self.post([csv_file("patient", [patient_row(1)])])
        self.assertEqual(response.status_code, 403)
        manager_of_north = self.mark
        self.north.members.remove(manager_of_north)
        self.client.force_authenticate(manager_of_north)
        response = self.post([csv_file("patient", [patient_row(1)])], commit="true")
        self.assertEqual(response.status_code, 400)
        self.assertIn("site", response.json())
        self.assertFalse(Patient.objects.exists())

    def test_no_files_is_refused_naming_the_field(self):
        response = self.client.post(self.url, {"site": "NTH"}, format="multipart")
        self.assertEqual(response.status_code, 400)
        self.assertIn("files", response.json())
