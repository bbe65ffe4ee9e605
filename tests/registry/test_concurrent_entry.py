"""Nurses entering patients at the same moment, on PostgreSQL (real row locks)."""

import threading
import unittest

from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.test import Client, TransactionTestCase
from django.urls import reverse

from registry.models import DerivedFacts, Patient
from tests.factories import make_site, make_user
from tests.registry.form_data import new_patient_data

ENTRY_PERMISSIONS = [
    "view_patient",
    "add_patient",
    "add_primarytumour",
    "add_livermetastases",
    "view_identifiers",
]


def post_at_once(user, submissions: list[dict]) -> list:
    """Post each submission to the new-patient form from its own thread, all
    released together; return each (status, duplicate-MRN message shown), or the
    exception raised."""
    barrier = threading.Barrier(len(submissions))
    results: list = [None] * len(submissions)

    def post(i: int, data: dict) -> None:
        client = Client()
        client.force_login(user)
        try:
            barrier.wait(timeout=30)
            response = client.post(reverse("registry:patient_create"), data)
            content = response.content.decode()
            refused = "exists at this site" in content
            results[i] = (response.status_code, refused)
        except Exception as exc:  # a 500 raises in the test client
            results[i] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=post, args=(i, data))
        for i, data in enumerate(submissions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def status(result) -> int | str:
    """Return the HTTP status of a post_at_once result, or the error it raised."""
    return result[0] if isinstance(result, tuple) else repr(result)[:200]


@unittest.skipUnless(
    connection.vendor == "postgresql", "row locks need PostgreSQL (SQLite: one writer)"
)
class ConcurrentPatientEntryTests(TransactionTestCase):
    def setUp(self):
        self.site = make_site(code="RACE")
        self.nurse = make_user("racer", sites=[self.site])
        self.nurse.user_permissions.add(
            *Permission.objects.filter(codename__in=ENTRY_PERMISSIONS)
        )

    def test_twenty_simultaneous_new_patients_all_get_their_own_number(self):
        submissions = [
            new_patient_data(
                **{"patient-mrn": f"R{i:05d}", "patient-site": str(self.site.pk)}
            )
            for i in range(20)
        ]
        results = post_at_once(self.nurse, submissions)
        self.assertEqual([status(r) for r in results], [302] * 20)
        numbers = sorted(
            Patient.objects.filter(site=self.site).values_list(
                "registry_number", flat=True
            )
        )
        self.assertEqual(numbers, [f"RACE-{n:05d}" for n in range(1, 21)])

    def test_two_nurses_entering_the_same_mrn_at_once_get_the_forms_message(self):
        for attempt in range(3):
            mrn = f"SAME{attempt}"
            data = new_patient_data(
                **{"patient-mrn": mrn, "patient-site": str(self.site.pk)}
            )
            results = post_at_once(self.nurse, [data, data])
            with self.subTest(attempt=attempt):
                statuses = sorted(map(status, results), key=str)
                self.assertEqual(statuses, [200, 302], results)
                # the second is told, at the MRN, that the patient exists
                self.assertTrue(next(r[1] for r in results if r[0] == 200))
                self.assertEqual(Patient.objects.filter(mrn=mrn).count(), 1)


@unittest.skipUnless(
    connection.vendor == "postgresql", "row locks need PostgreSQL (SQLite: one writer)"
)
class ConcurrentRecordsOfOnePatientTests(TransactionTestCase):
    """Two saves of one patient's records at once: the stored facts must hold
    both (each refresh reads the records, then writes the facts)."""

    def test_a_death_and_a_follow_up_saved_at_once_both_reach_the_facts(self):
        import datetime
        import time

        from registry import facts
        from tests.factories import make_death, make_followup, make_full_patient

        patient = make_full_patient()
        saved, go, errors = threading.Event(), threading.Event(), []

        def death_held_open():
            try:
                with transaction.atomic():
                    make_death(patient, date=datetime.date(2007, 6, 1))
                    saved.set()
                    go.wait(10)  # the follow-up's save starts meanwhile
            except Exception as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)
            finally:
                connection.close()

        def follow_up():
            try:
                saved.wait(10)
                make_followup(patient, date=datetime.date(2006, 1, 10))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=death_held_open),
            threading.Thread(target=follow_up),
        ]
        for thread in threads:
            thread.start()
        saved.wait(10)
        time.sleep(1)  # the follow-up's refresh has read the records by now
        go.set()
        for thread in threads:
            thread.join(20)
        self.assertEqual(errors, [])
        self.assertEqual(facts.differences([patient.pk]), {})
        self.assertEqual(DerivedFacts.objects.get(patient=patient).vital_status, "dead")
