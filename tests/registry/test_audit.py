"""The audit trail: a patient's changes in words, and the registry's log."""

from __future__ import annotations

import csv
import datetime
import io
from unittest.mock import patch

from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry import audit
from registry.models import FollowUp, Operation, Patient, PrimaryTumour
from tests.cast import CastTestCase
from tests.factories import make_full_patient, make_user
from tests.registry.form_data import RECORD_DATA


def change_followup(patient, user, **changes):
    """Save the patient's follow-up with `changes`, as `user` would."""
    followup = patient.followups.get()
    for name, value in changes.items():
        setattr(followup, name, value)
    followup._history_user = user
    followup._change_reason = changes.pop("_reason", "")
    followup.save()
    return followup


class PatientAuditTests(CastTestCase):
    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.url = reverse("registry:patient_audit", args=[self.patient.pk])

    def test_a_change_is_told_in_labels_with_who_and_reason(self):
        self.client.force_login(self.nina)
        edit = reverse(
            "registry:record_update",
            args=[self.patient.pk, "followup", self.patient.followups.get().pk],
        )
        data = {
            **RECORD_DATA["followup"],
            "version": "1",
            "disease_status": "stable",
            "change_reason": "CT report of 2005-01-08",
        }
        self.assertEqual(self.client.post(edit, data).status_code, 302)
        response = self.client.get(self.url)
        entries = response.context["entries"]
        newest = entries[0]
        self.assertEqual(newest.who, "nina")
        self.assertEqual(newest.reason, "CT report of 2005-01-08")
        self.assertIn(
            "Disease status: No evidence of disease → Stable disease "
            "(not disease free)",
            newest.summary(),
        )
        self.assertContains(response, "No evidence of disease → Stable disease")
        self.assertNotContains(response, "ned →")  # labels, never codes
        self.assertEqual(
            [e.when for e in entries], sorted((e.when for e in entries), reverse=True)
        )

    def test_creation_deletion_and_status_changes_are_listed(self):
        self.client.force_login(self.nina)
        operation = self.patient.operations.get()
        delete = reverse(
            "registry:record_delete", args=[self.patient.pk, "operation", operation.pk]
        )
        self.client.post(delete, {"version": "1", "reason": "entered twice"})
        status_url = reverse("registry:record_status", args=[self.patient.pk, "death"])
        self.client.post(status_url, {"to": "1"})
        entries = self.client.get(self.url).context["entries"]
        actions = [(e.record, e.action, e.reason) for e in entries]
        self.assertIn(("Operation of 2004-08-15", "Deleted", "entered twice"), actions)
        self.assertIn(
            ("Form status of the death", "Complete", "Mark complete"), actions
        )
        self.assertIn(("Operation of 2004-08-15", "Created", ""), actions)

    def test_identifiers_are_hidden_from_users_without_the_permission(self):
        self.patient.mrn = "NEWMRN777"
        self.patient.save()
        viewer = make_user("vic", sites=[self.north])
        viewer.user_permissions.add(*Permission.objects.filter(codename="view_patient"))
        self.client.force_login(viewer)
        response = self.client.get(self.url)
        self.assertNotContains(response, "NEWMRN777")
        self.assertContains(response, "Medical record number: (hidden) → (hidden)")
        self.client.force_login(self.nina)
        self.assertContains(self.client.get(self.url), "NEWMRN777")

    def test_page_takes_a_fixed_number_of_queries(self):
        self.client.force_login(self.nina)
        change_followup(self.patient, self.nina, cea_ng_ml=1)
        with CaptureQueriesContext(connection) as few:
            self.client.get(self.url)
        for day in range(2, 12):
            change_followup(self.patient, self.nina, cea_ng_ml=day)
        with CaptureQueriesContext(connection) as many:
            self.client.get(self.url)
        self.assertEqual(len(many), len(few))


class PatientNumbersTests(CastTestCase):
    def test_each_patients_latest_number_is_read_not_every_version(self):
        # Found by an audit: the log read every version of each patient on its
        # page, to keep one registry number each.
        patient = make_full_patient(site=self.north)
        for n in range(5):
            patient.ecog = n % 2
            patient.save()
        patient.registry_number = "NTH-RENAMED"
        patient.save()
        with CaptureQueriesContext(connection) as found:
            numbers = audit._patient_numbers([patient.pk])
        self.assertEqual(numbers, {patient.pk: "NTH-RENAMED"})
        (query,) = found.captured_queries
        with connection.cursor() as cursor:
            cursor.execute(query["sql"])
            self.assertEqual(len(cursor.fetchall()), 1)  # of 8 versions


class RecordDeletionReasonTests(CastTestCase):
    def test_deleting_without_a_reason_is_refused_and_nothing_deleted(self):
        patient = make_full_patient(site=self.north)
        operation = patient.operations.get()
        self.client.force_login(self.nina)
        url = reverse(
            "registry:record_delete", args=[patient.pk, "operation", operation.pk]
        )
        response = self.client.post(url, {"version": "1"})
        self.assertContains(response, "Say why this is deleted")
        self.assertTrue(Operation.objects.filter(pk=operation.pk).exists())


class AuditLogTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # Nora: data manager of North only.
        cls.nora = make_user(
            "nora", group="Data manager", sites=[cls.north], is_staff=True
        )
        cls.own = make_full_patient(site=cls.north)
        cls.other = make_full_patient(site=cls.south)
        change_followup(cls.own, cls.nina, disease_status="hepatic")
        change_followup(cls.other, cls.sam, disease_status="hepatic")
        cls.url = reverse("registry:audit_log")

    def setUp(self):
        self.client.force_login(self.nora)

    def test_nurses_may_not_read_the_log(self):
        self.client.force_login(self.nina)
        self.assertEqual(self.client.get(self.url).status_code, 403)

    def test_lists_only_the_managers_sites_newest_first(self):
        entries = self.client.get(self.url).context["entries"]
        self.assertTrue(entries)
        self.assertEqual({e.patient for e in entries}, {self.own.registry_number})
        self.assertEqual(
            entries[0].summary(),
            "Disease status: No evidence of disease → Hepatic recurrence",
        )

    def test_a_transferred_patients_changes_go_with_the_patient(self):
        # a transfer of care from North to South, then South's nurse changes
        # the follow-up: North's manager can no longer open the patient, and
        # reads none of their changes in the log, before or after the move;
        # South's manager, whose patient it now is, reads them all
        moved = make_full_patient(site=self.north)
        change_followup(moved, self.nina, notes="North's own note")
        moved.site = self.south
        moved.save()
        change_followup(moved, self.sam, notes="South's later note")
        seen = {e.patient for e in self.client.get(self.url).context["entries"]}
        self.assertNotIn(moved.registry_number, seen)
        self.assertEqual(
            self.client.get(
                reverse("registry:patient_detail", args=[moved.pk])
            ).status_code,
            404,
        )
        export = self.client.get(reverse("registry:audit_export"))
        self.assertNotIn(
            "South's later note", b"".join(export.streaming_content).decode()
        )
        sue = make_user("sue", group="Data manager", sites=[self.south], is_staff=True)
        self.client.force_login(sue)
        theirs = [
            e
            for e in self.client.get(self.url, {"kind": "followup"}).context["entries"]
            if e.patient == moved.registry_number
        ]
        # the factory's creation (no user), North's change and South's
        self.assertLessEqual({"nina", "sam"}, {e.who for e in theirs})

    def test_a_deleted_patients_changes_stay_with_their_last_site(self):
        gone = make_full_patient(site=self.north)
        change_followup(gone, self.nina, notes="Before the deletion")
        number = gone.registry_number
        gone.delete()
        entries = self.client.get(self.url).context["entries"]
        self.assertIn(number, {e.patient for e in entries})
        self.client.force_login(self.sam)  # South's nurse: no log at all
        self.assertEqual(self.client.get(self.url).status_code, 403)
        sue = make_user("sue", group="Data manager", sites=[self.south], is_staff=True)
        self.client.force_login(sue)
        entries = self.client.get(self.url).context["entries"]
        self.assertNotIn(number, {e.patient for e in entries})

    def test_filters_by_user_kind_and_date(self):
        by_nina = self.client.get(self.url, {"user": self.nina.pk}).context["entries"]
        self.assertEqual([(e.who, e.kind) for e in by_nina], [("nina", "followup")])
        operations = self.client.get(self.url, {"kind": "operation"}).context["entries"]
        self.assertEqual({e.kind for e in operations}, {"operation"})
        later = self.client.get(self.url, {"date_from": "2999-01-01"})
        self.assertEqual(later.context["entries"], [])
        bad = self.client.get(
            self.url, {"date_from": "2020-02-02", "date_to": "2020-01-01"}
        )
        self.assertContains(bad, "is before the start")

    def test_paginates(self):
        for day in range(60):
            change_followup(self.own, self.nina, cea_ng_ml=day + 1)
        first = self.client.get(self.url)
        self.assertEqual(len(first.context["entries"]), 50)
        second = self.client.get(self.url, {"page": 2}).context["entries"]
        self.assertTrue(second)
        self.assertGreater(
            first.context["entries"][-1].when,
            datetime.datetime.min.replace(tzinfo=datetime.UTC),
        )

    def test_page_and_export_take_a_fixed_number_of_queries(self):
        export = reverse("registry:audit_export")
        counts = []
        for _ in range(2):
            with CaptureQueriesContext(connection) as page:
                self.client.get(self.url)
            with CaptureQueriesContext(connection) as download:
                response = self.client.get(export)
                b"".join(response.streaming_content)
            counts.append((len(page), len(download)))
            for _ in range(3):
                more = make_full_patient(site=self.north)
                change_followup(more, self.nina, disease_status="stable")
        self.assertEqual(counts[0], counts[1])

    def test_export_is_csv_in_words(self):
        response = self.client.get(
            reverse("registry:audit_export"), {"kind": "followup"}
        )
        self.assertEqual(response["Content-Type"], "text/csv")
        rows = list(
            csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
        )
        self.assertEqual(
            [
                (r["who"], r["patient"], r["changes"])
                for r in rows
                if r["who"] == "nina"
            ],
            [
                (
                    "nina",
                    self.own.registry_number,
                    "Disease status: No evidence of disease → Hepatic recurrence",
                )
            ],
        )
        self.assertNotIn(self.other.registry_number, {r["patient"] for r in rows})
        self.assertTrue(FollowUp.history.exists())


class RegistryLogIndexTests(CastTestCase):
    """The log's pages are read table by table, merged, and counted up to a limit."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.nora = make_user(
            "nora", group="Data manager", sites=[cls.north], is_staff=True
        )
        for _ in range(3):
            patient = make_full_patient(site=cls.north)
            change_followup(patient, cls.nina, disease_status="hepatic")
        make_full_patient(site=cls.south)  # not in Nora's log
        cls.log = audit.LogFilter(site_ids=(cls.north.pk,))

    def everything(self) -> list[tuple]:
        """Every row of the log, sorted whole by the database's rule."""
        rows = []
        for kind in audit.AUDITED:
            rows += [
                (kind, history_id, when)
                for history_id, when in audit._history(kind, self.log).values_list(
                    "history_id", "history_date"
                )
            ]
        return sorted(rows, key=lambda row: (row[2], row[1]), reverse=True)

    def test_every_page_is_the_whole_log_sorted_then_cut(self):
        whole = self.everything()
        kinds = {kind for kind, _, _ in whole}
        self.assertGreaterEqual(len(kinds), 5)  # several tables are merged
        index = audit.LogIndex(self.log)
        self.assertEqual(index.count(), len(whole))
        self.assertTrue(index.exact)
        for start, stop in [(0, 7), (7, 14), (5, 6), (0, len(whole) + 10)]:
            self.assertEqual(index[start:stop], whole[start:stop])

    def test_the_count_stops_at_the_limit_and_the_page_says_so(self):
        whole = len(self.everything())
        index = audit.LogIndex(self.log, limit=whole - 1)
        self.assertFalse(index.exact)
        self.assertEqual(index.count(), whole - 1)
        self.client.force_login(self.nora)
        with patch.object(audit, "LOG_COUNT_LIMIT", 5):
            response = self.client.get(reverse("registry:audit_log"))
        self.assertContains(response, "More than 5 changes, newest first")
        self.assertContains(response, "Narrow the log with the filters")
        self.assertEqual(response.context["page"].paginator.num_pages, 1)
        exact = self.client.get(reverse("registry:audit_log"))
        self.assertContains(exact, f"{whole} changes, newest first")
        self.assertNotContains(exact, "More than")


class TransferOfCareTests(CastTestCase):
    def test_a_transfer_of_care_is_told_in_words(self):
        # Found by an audit: the trail and the log said "Changed" and no field
        patient = make_full_patient(site=self.north)
        patient.site = self.south
        patient._history_user = self.mark
        patient._change_reason = "care moved to South"
        patient.save()
        newest = audit.patient_trail(patient, hidden=frozenset())[0]
        self.assertEqual((newest.who, newest.reason), ("mark", "care moved to South"))
        self.assertIn(
            "Site: NTH – North Hospital → STH – South Hospital", newest.summary()
        )
        self.client.force_login(self.mark)
        log = self.client.get(reverse("registry:audit_log"))
        self.assertContains(log, "NTH – North Hospital → STH – South Hospital")


class PatientDeletionTests(CastTestCase):
    def test_each_record_deleted_with_the_patient_keeps_the_reason(self):
        # Found by an audit: the records' deletions kept the user, no reason
        patient = make_full_patient(site=self.north)
        self.client.force_login(self.mark)
        response = self.client.post(
            reverse("registry:patient_delete", args=[patient.pk]),
            {"version": "1", "reason": "entered twice"},
        )
        self.assertEqual(response.status_code, 302)
        deletions = [
            row
            for model in (Patient, PrimaryTumour, Operation, FollowUp)
            for row in model.history.filter(history_type="-")
        ]
        self.assertEqual(len(deletions), 4)
        for row in deletions:
            with self.subTest(row=row):
                self.assertEqual(row.history_user, self.mark)
                self.assertEqual(row.history_change_reason, "entered twice")
