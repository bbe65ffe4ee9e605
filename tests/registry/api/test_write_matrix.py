"""Writes through the API, every kind x role x site: what each user may change.

The access matrix (tests/registry/test_access_matrix.py) reads every API URL as
each role; this walks the writes: an update and a deletion of each kind of
record, and of a patient, at the user's own site and another.
"""

from __future__ import annotations

from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from tests.cast import CastTestCase
from tests.factories import make_death, make_full_patient

#: Status of an update (PATCH) and a deletion of a record, by role, at own site.
RECORD_WRITES = {"nina": (200, 204), "mark": (200, 204), "ann": (403, 403)}
#: The same for a patient: nurses may not delete patients.
PATIENT_WRITES = {"nina": (200, 403), "mark": (200, 204), "ann": (403, 403)}
#: Sam is a nurse at South: North's patients and records are not found.
OTHER_SITE = {"sam": (404, 404)}

#: A change each kind accepts (the patient of make_full_patient, dead in 2007).
CHANGES = {
    "tumour": {"cea_ng_ml": "14.0"},
    "liver": {"lesion_count": 4},
    "radiation": {"fractions": 25},
    "systemic": {"cycles": 8},
    "operation": {"length_of_stay_days": 11},
    "followup": {"cea_ng_ml": "3.0"},
    "death": {"cause": "other_cancer"},
    "patient": {"ecog": 2},
}


class WriteMatrixTests(CastTestCase):
    client_class = APIClient

    def records(self, patient) -> dict:
        return {
            "tumour": patient.tumour,
            "liver": patient.liver,
            "radiation": patient.radiation_courses.get(),
            "systemic": patient.systemic_lines.get(),
            "operation": patient.operations.get(),
            "followup": patient.followups.get(),
            "death": patient.death,
            "patient": patient,
        }

    def test_every_kind_role_and_site(self):
        expected = {**RECORD_WRITES, **OTHER_SITE}
        users = {"nina": self.nina, "mark": self.mark, "ann": self.ann, "sam": self.sam}
        for role, user in users.items():
            # a fresh patient per role: each role's writes start at version 1
            patient = make_full_patient(site=self.north)
            make_death(patient)
            for kind, record in self.records(patient).items():
                name = "patient" if kind == "patient" else kind
                url = reverse(f"api:{name}-detail", args=[record.pk])
                table = PATIENT_WRITES if kind == "patient" else expected
                update, delete = {**table, **OTHER_SITE}[role]
                with self.subTest(role=role, kind=kind):
                    cache.clear()
                    self.client.force_authenticate(user)
                    response = self.client.patch(
                        url, {**CHANGES[kind], "version": 1}, format="json"
                    )
                    self.assertEqual(response.status_code, update, response.content)
                    version = 2 if update == 200 else 1
                    if kind == "patient":
                        continue  # deleted below, after its records
                    response = self.client.delete(
                        f"{url}?version={version}&reason=test"
                    )
                    self.assertEqual(response.status_code, delete, response.content)
            with self.subTest(role=role, kind="patient deletion"):
                url = reverse("api:patient-detail", args=[patient.pk])
                # a nurse may delete no patient anywhere: 403 before the site
                update, delete = {**PATIENT_WRITES, "sam": (404, 403)}[role]
                version = 2 if update == 200 else 1
                response = self.client.delete(f"{url}?version={version}&reason=test")
                self.assertEqual(response.status_code, delete, response.content)
