"""Form status: complete, verified, locked; a lock refuses edits on every path."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.test import TestCase
from django.urls import reverse

from registry import importer, services, status
from registry.models import FollowUp, Operation, Patient, RecordStatus
from registry.models.status import FormStatus
from tests.cast import CastTestCase
from tests.factories import make_followup, make_full_patient, make_operation
from tests.registry.form_data import RECORD_DATA
from tests.registry.import_files import csv_file, operation_row
from tests.registry.test_admin_security import form_data


def admin_page_data(response) -> dict:
    """Return the POST data of an admin change page with its inlines, as loaded."""
    data = form_data(response)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = str(
                formset.management_form[name].value()
            )
        for form in formset.forms:
            for name in form.fields:
                value = form[name].value()
                if value is None or value is False:
                    continue
                key = form.add_prefix(name)
                data[key] = "on" if value is True else str(value)
    return data


def lock(patient, kind, *, manager) -> None:
    """Walk `kind` of `patient` through complete and verified to locked."""
    for to in (FormStatus.COMPLETE, FormStatus.VERIFIED, FormStatus.LOCKED):
        status.set_status(patient=patient, kind=kind, to=to, user=manager)


class TransitionTests(CastTestCase):
    def setUp(self):
        self.patient = make_full_patient(site=self.north)

    def test_nurse_marks_complete_and_manager_verifies_and_locks(self):
        status.set_status(
            patient=self.patient,
            kind="operation",
            to=FormStatus.COMPLETE,
            user=self.nina,
        )
        status.set_status(
            patient=self.patient,
            kind="operation",
            to=FormStatus.VERIFIED,
            user=self.mark,
        )
        row = status.set_status(
            patient=self.patient, kind="operation", to=FormStatus.LOCKED, user=self.mark
        )
        self.assertEqual(row.status, FormStatus.LOCKED)
        steps = list(
            row.history.order_by("history_id").values_list("status", "history_user")
        )
        self.assertEqual(
            steps,
            [
                (FormStatus.COMPLETE, self.nina.pk),
                (FormStatus.VERIFIED, self.mark.pk),
                (FormStatus.LOCKED, self.mark.pk),
            ],
        )

    def test_nurse_may_not_verify_or_lock(self):
        status.set_status(
            patient=self.patient,
            kind="operation",
            to=FormStatus.COMPLETE,
            user=self.nina,
        )
        with self.assertRaises(PermissionDenied):
            status.set_status(
                patient=self.patient,
                kind="operation",
                to=FormStatus.VERIFIED,
                user=self.nina,
            )
        lock(self.patient, "tumour", manager=self.mark)
        with self.assertRaises(PermissionDenied):
            status.set_status(
                patient=self.patient,
                kind="tumour",
                to=FormStatus.VERIFIED,
                user=self.nina,
            )

    def test_a_step_cannot_be_skipped(self):
        with self.assertRaisesMessage(ValidationError, "cannot be marked locked"):
            status.set_status(
                patient=self.patient, kind="death", to=FormStatus.LOCKED, user=self.mark
            )

    def test_unlocking_needs_a_reason_and_keeps_it(self):
        lock(self.patient, "operation", manager=self.mark)
        with self.assertRaisesMessage(ValidationError, "reason to unlock"):
            status.set_status(
                patient=self.patient,
                kind="operation",
                to=FormStatus.VERIFIED,
                user=self.mark,
            )
        row = status.set_status(
            patient=self.patient,
            kind="operation",
            to=FormStatus.VERIFIED,
            user=self.mark,
            reason="Wrong margin on the source document",
        )
        latest = row.history.latest()
        self.assertEqual(
            latest.history_change_reason, "Wrong margin on the source document"
        )
        self.assertEqual(latest.history_user, self.mark)


class LockTestCase(CastTestCase):
    """A patient whose operations are locked; the follow-up is not."""

    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.operation = self.patient.operations.get()
        lock(self.patient, "operation", manager=self.mark)

    def assertUnchanged(self):
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.margin, "")  # as make_operation left it
        self.assertEqual(self.operation.version, 1)


class ModelLayerLockTests(LockTestCase):
    def test_save_of_a_locked_record_is_refused(self):
        self.operation.margin = "R1"
        with self.assertRaisesMessage(ValidationError, "Locked"):
            self.operation.save()
        self.assertUnchanged()

    def test_delete_of_a_locked_record_is_refused(self):
        with self.assertRaisesMessage(ValidationError, "Locked"):
            self.operation.delete()
        self.assertTrue(Operation.objects.filter(pk=self.operation.pk).exists())

    def test_adding_a_record_to_a_locked_kind_is_refused(self):
        with self.assertRaisesMessage(ValidationError, "Locked"):
            make_operation(self.patient, date=datetime.date(2005, 1, 5))

    def test_deleting_a_patient_with_a_locked_kind_is_refused(self):
        with self.assertRaisesMessage(ValidationError, "Locked"):
            self.patient.delete()
        with self.assertRaisesMessage(ValidationError, "Locked"):
            Patient.objects.filter(pk=self.patient.pk).delete()
        self.assertTrue(Patient.objects.filter(pk=self.patient.pk).exists())

    def test_queryset_update_and_delete_are_refused(self):
        operations = Operation.objects.filter(pk=self.operation.pk)
        with self.assertRaisesMessage(ValidationError, "Locked"):
            operations.update(margin="R2")
        with self.assertRaisesMessage(ValidationError, "Locked"):
            operations.delete()
        self.assertUnchanged()

    def test_bulk_create_and_bulk_update_are_refused(self):
        with self.assertRaisesMessage(ValidationError, "Locked"):
            Operation.objects.bulk_create(
                [Operation(patient=self.patient, date=datetime.date(2005, 1, 5))]
            )
        self.operation.margin = "R2"
        with self.assertRaisesMessage(ValidationError, "Locked"):
            Operation.objects.bulk_update([self.operation], ["margin"])
        self.assertUnchanged()

    def test_other_kinds_of_the_patient_stay_open(self):
        followup = self.patient.followups.get()
        followup.cea_ng_ml = 4
        followup.save()
        make_followup(self.patient, date=datetime.date(2006, 1, 1))
        self.assertEqual(FollowUp.objects.filter(patient=self.patient).count(), 2)

    def test_locked_records_and_assert_unlocked_for_other_writers(self):
        other = make_full_patient(site=self.north).operations.get()
        ids = [self.operation.pk, other.pk]
        self.assertEqual(status.locked_records(Operation, ids), {self.operation.pk})
        with self.assertRaisesMessage(ValidationError, str(self.operation.pk)):
            status.assert_unlocked(Operation, ids)
        status.assert_unlocked(Operation, [other.pk])  # no error

    def test_unlocked_with_a_reason_the_record_saves_again(self):
        status.set_status(
            patient=self.patient,
            kind="operation",
            to=FormStatus.VERIFIED,
            user=self.mark,
            reason="Margin to correct",
        )
        self.operation.margin = "R1"
        self.operation._change_reason = "Pathology report re-read"
        self.operation.save()
        # A change of verified records sends them back to complete.
        row = RecordStatus.objects.get(patient=self.patient, kind="operation")
        self.assertEqual(row.status, FormStatus.COMPLETE)
        self.assertIn("Pathology report re-read", row.reason)


class VerifiedRecordTests(CastTestCase):
    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.operation = self.patient.operations.get()
        for to in (FormStatus.COMPLETE, FormStatus.VERIFIED):
            status.set_status(
                patient=self.patient, kind="operation", to=to, user=self.mark
            )
        self.url = reverse(
            "registry:record_update",
            args=[self.patient.pk, "operation", self.operation.pk],
        )

    def test_a_bulk_update_sends_a_verified_kind_back_to_complete(self):
        # an import changes records with the clinical manager's bulk_update
        self.operation.margin = "R1"
        Operation.objects.bulk_update([self.operation], ["margin"])
        row = RecordStatus.objects.get(patient=self.patient, kind="operation")
        self.assertEqual(row.status, FormStatus.COMPLETE)
        self.assertIn("bulk change", row.history.latest().history_change_reason)

    def kind_status(self) -> RecordStatus:
        return RecordStatus.objects.get(patient=self.patient, kind="operation")

    def test_an_operation_added_by_an_import_sends_the_kind_back(self):
        # Found by an audit: an imported record left its kind "verified"
        row = operation_row(
            0,
            source_record_id="",
            registry_number=self.patient.registry_number,
            date="2005-02-01",
            primary_procedure="none",
            liver_procedure="none",
            palliative_procedure="stoma",
            intent="palliative",
        )
        result = importer.run_import(
            [csv_file("operation", [row])],
            site=self.north,
            user=self.mark,
            commit=True,
            file_name="operations.csv",
        )
        self.assertTrue(result.committed, [str(p) for p in result.problems])
        self.assertEqual(self.patient.operations.count(), 2)
        self.assertEqual(self.kind_status().status, FormStatus.COMPLETE)
        self.assertIn("records were added", self.kind_status().reason)

    def test_deleting_a_verified_record_sends_the_kind_back(self):
        # Found by an audit: what the manager verified had changed, still verified
        make_operation(self.patient, date=datetime.date(2005, 2, 1))
        second = self.patient.operations.latest("pk")
        # the addition sent the kind back to complete: the manager verifies again
        status.set_status(
            patient=self.patient,
            kind="operation",
            to=FormStatus.VERIFIED,
            user=self.mark,
        )
        self.client.force_login(self.nina)
        url = reverse(
            "registry:record_delete", args=[self.patient.pk, "operation", second.pk]
        )
        response = self.client.post(
            url, {"version": second.version, "reason": "entered twice"}
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.kind_status().status, FormStatus.COMPLETE)
        self.assertIn("entered twice", self.kind_status().reason)
        self.assertEqual(self.kind_status().changed_by, self.nina)

    def test_change_of_a_verified_record_without_a_reason_is_refused(self):
        self.client.force_login(self.nina)
        data = {**RECORD_DATA["operation"], "version": "1", "margin": "R1"}
        response = self.client.post(self.url, data)
        self.assertContains(response, "give a reason for the change")
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.margin, "")

    def test_with_a_reason_it_saves_and_the_history_keeps_the_reason(self):
        self.client.force_login(self.nina)
        data = {
            **RECORD_DATA["operation"],
            "version": "1",
            "margin": "R1",
            "change_reason": "Query 12: pathology says R1",
        }
        self.assertEqual(self.client.post(self.url, data).status_code, 302)
        latest = self.operation.history.latest()
        self.assertEqual(latest.history_change_reason, "Query 12: pathology says R1")
        self.assertEqual(latest.history_user, self.nina)


class DataEntryLockTests(LockTestCase):
    def test_edit_form_refuses_the_locked_record_with_a_message(self):
        self.client.force_login(self.nina)
        url = reverse(
            "registry:record_update",
            args=[self.patient.pk, "operation", self.operation.pk],
        )
        data = {**RECORD_DATA["operation"], "version": "1", "margin": "R1"}
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Locked")
        self.assertUnchanged()

    def test_add_form_refuses_a_record_of_a_locked_kind(self):
        self.client.force_login(self.nina)
        url = reverse("registry:record_create", args=[self.patient.pk, "operation"])
        data = {**RECORD_DATA["operation"], "date": "2005-01-05"}
        response = self.client.post(url, data)
        self.assertContains(response, "Locked")
        self.assertEqual(self.patient.operations.count(), 1)

    def test_delete_page_refuses_the_locked_record(self):
        self.client.force_login(self.nina)
        url = reverse(
            "registry:record_delete",
            args=[self.patient.pk, "operation", self.operation.pk],
        )
        response = self.client.post(url, {"version": "1", "reason": "duplicate"})
        self.assertContains(response, "Locked")
        self.assertTrue(Operation.objects.filter(pk=self.operation.pk).exists())

    def test_manager_cannot_delete_the_patient_either(self):
        self.client.force_login(self.mark)
        url = reverse("registry:patient_delete", args=[self.patient.pk])
        response = self.client.post(url, {"version": "1", "reason": "duplicate"})
        self.assertContains(response, "Locked")
        self.assertTrue(Patient.objects.filter(pk=self.patient.pk).exists())

    def test_services_refuse_and_roll_back(self):
        self.operation.margin = "R1"
        with self.assertRaisesMessage(ValidationError, "Locked"):
            services.update_record(record=self.operation, loaded_version=1)
        with self.assertRaisesMessage(ValidationError, "Locked"):
            services.delete_record(
                record=self.operation, loaded_version=1, reason="duplicate"
            )
        self.assertUnchanged()  # the version claim rolled back too


class AdminLockTests(LockTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.mark)

    def test_admin_change_is_refused_with_a_form_error(self):
        url = reverse("admin:registry_operation_change", args=[self.operation.pk])
        data = form_data(self.client.get(url))
        response = self.client.post(url, {**data, "margin": "R1"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Locked")
        self.assertUnchanged()

    def test_admin_revert_is_refused(self):
        url = reverse(
            "admin:registry_operation_simple_history",
            args=[self.operation.pk, self.operation.history.earliest().history_id],
        )
        data = form_data(self.client.get(url))
        response = self.client.post(url, {**data, "margin": "R2"})
        self.assertContains(response, "Locked")
        self.assertUnchanged()

    def test_admin_offers_no_delete_and_the_bulk_action_is_refused(self):
        url = reverse("admin:registry_operation_delete", args=[self.operation.pk])
        self.assertEqual(self.client.get(url).status_code, 403)
        patient_url = reverse("admin:registry_patient_delete", args=[self.patient.pk])
        self.assertEqual(self.client.get(patient_url).status_code, 403)
        changelist = reverse("admin:registry_operation_changelist")
        response = self.client.post(
            changelist,
            {
                "action": "delete_selected",
                "_selected_action": [self.operation.pk],
                "post": "yes",
                "change_reason": "duplicate",
            },
        )
        self.assertEqual(response.status_code, 403)
        self.assertTrue(Operation.objects.filter(pk=self.operation.pk).exists())

    def test_admin_patient_page_refuses_an_inline_edit_of_locked_records(self):
        url = reverse("admin:registry_patient_change", args=[self.patient.pk])
        data = admin_page_data(self.client.get(url))
        key = next(k for k in data if k.endswith("-0-margin"))
        response = self.client.post(url, {**data, key: "R2"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Locked")
        self.assertUnchanged()


class LockRollbackTests(TestCase):
    def test_nothing_partial_is_kept_when_a_lock_refuses_a_bulk_write(self):
        patient = make_full_patient()
        from tests.factories import make_user

        manager = make_user("m", group="Data manager", sites=[patient.site])
        lock(patient, "operation", manager=manager)
        with self.assertRaises(ValidationError), transaction.atomic():
            Operation.objects.all().update(margin="R2")
        self.assertEqual(patient.operations.get().margin, "")


class StatusPagesTests(CastTestCase):
    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.url = reverse(
            "registry:record_status", args=[self.patient.pk, "operation"]
        )

    def test_nurse_marks_complete_on_the_patient_page_but_may_not_verify(self):
        self.client.force_login(self.nina)
        response = self.client.post(self.url, {"to": "1"})
        self.assertRedirects(response, self.patient.get_absolute_url() + "#form-status")
        self.assertEqual(self.client.post(self.url, {"to": "2"}).status_code, 403)
        page = self.client.get(self.patient.get_absolute_url())
        self.assertContains(page, '<span class="badge status-complete">Complete</span>')
        # her moves: reopen only, no verify or lock button
        self.assertContains(page, "Reopen")
        self.assertNotContains(page, ">Verify<")

    def test_manager_locks_and_the_page_and_list_show_it(self):
        lock(self.patient, "operation", manager=self.mark)
        self.client.force_login(self.mark)
        page = self.client.get(self.patient.get_absolute_url())
        self.assertContains(page, '<span class="badge status-locked">Locked</span>')
        self.assertContains(page, "Unlock")
        listing = self.client.get(reverse("registry:patient_list"))
        self.assertContains(listing, "1 locked")

    def test_the_patient_page_offers_no_change_of_locked_records(self):
        lock(self.patient, "operation", manager=self.mark)
        operation = self.patient.operations.get()
        self.client.force_login(self.nina)
        page = self.client.get(self.patient.get_absolute_url())
        args = [self.patient.pk, "operation", operation.pk]
        self.assertNotContains(page, reverse("registry:record_update", args=args))
        self.assertNotContains(page, reverse("registry:record_delete", args=args))
        self.assertNotContains(page, "Add operation")
        self.assertContains(page, "Add follow-up")  # other kinds stay open

    def test_unlocking_without_a_reason_is_refused_with_a_message(self):
        lock(self.patient, "operation", manager=self.mark)
        self.client.force_login(self.mark)
        response = self.client.post(self.url, {"to": "2"}, follow=True)
        self.assertContains(response, "Give a reason to unlock")
        self.assertEqual(
            RecordStatus.objects.get(patient=self.patient, kind="operation").status,
            FormStatus.LOCKED,
        )

    def test_data_quality_counts_statuses_per_site_in_two_queries(self):
        from registry import monitor

        other = make_full_patient(site=self.south)
        lock(self.patient, "operation", manager=self.mark)
        status.set_status(patient=other, kind="tumour", to=1, user=self.mark)
        # a second patient of the north with no status: counted once, incomplete
        make_full_patient(site=self.north)
        with self.assertNumQueries(2):
            rows = monitor.site_status(Patient.objects.all())
        self.assertEqual(
            [(row.code, row.counts) for row in rows],
            [
                ("NTH", {"incomplete": 15, "complete": 0, "verified": 0, "locked": 1}),
                ("STH", {"incomplete": 7, "complete": 1, "verified": 0, "locked": 0}),
            ],
        )
        self.client.force_login(self.mark)
        page = self.client.get(reverse("registry:data_quality"))
        self.assertContains(page, "Form status by site")


class AdminDeletionReasonTests(CastTestCase):
    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.operation = self.patient.operations.get()
        self.client.force_login(self.mark)

    def test_admin_delete_without_a_reason_is_refused(self):
        url = reverse("admin:registry_operation_delete", args=[self.operation.pk])
        self.assertContains(self.client.get(url), "Reason for deleting")
        response = self.client.post(url, {"post": "yes"}, follow=True)
        self.assertContains(response, "Say why this is deleted")
        self.assertTrue(Operation.objects.filter(pk=self.operation.pk).exists())
        self.client.post(url, {"post": "yes", "change_reason": "duplicate entry"})
        self.assertFalse(Operation.objects.filter(pk=self.operation.pk).exists())
        deletion = Operation.history.get(history_type="-")
        self.assertEqual(deletion.history_change_reason, "duplicate entry")
        self.assertEqual(deletion.history_user, self.mark)

    def test_admin_bulk_delete_needs_a_reason_and_keeps_it(self):
        url = reverse("admin:registry_operation_changelist")
        data = {
            "action": "delete_selected",
            "_selected_action": [self.operation.pk],
            "post": "yes",
        }
        response = self.client.post(url, data, follow=True)
        self.assertContains(response, "Say why this is deleted")
        self.assertTrue(Operation.objects.filter(pk=self.operation.pk).exists())
        self.client.post(url, {**data, "change_reason": "test patient"})
        self.assertFalse(Operation.objects.filter(pk=self.operation.pk).exists())
        deletion = Operation.history.get(history_type="-")
        self.assertEqual(deletion.history_change_reason, "test patient")


class AdminPatientPageDeletionTests(CastTestCase):
    """Found by an audit: a record row ticked for deletion on the admin's patient
    page was deleted without a reason, and a locked one was a server error."""

    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.url = reverse("admin:registry_patient_change", args=[self.patient.pk])
        self.client.force_login(self.mark)

    def delete_followup(self, **extra):
        data = admin_page_data(self.client.get(self.url))
        prefix = next(
            key.removesuffix("-0-id")
            for key in data
            if key.endswith("-0-id") and "followup" in key.lower()
        )
        data[f"{prefix}-0-DELETE"] = "on"
        data.update(extra)
        return self.client.post(self.url, data)

    def test_a_deletion_without_a_reason_is_refused(self):
        response = self.delete_followup(change_reason="")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Say why this is deleted")
        self.assertTrue(FollowUp.objects.filter(patient=self.patient).exists())

    def test_a_locked_record_is_refused_with_the_locks_message(self):
        lock(self.patient, "followup", manager=self.mark)
        response = self.delete_followup(change_reason="duplicate")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Locked")
        self.assertTrue(FollowUp.objects.filter(patient=self.patient).exists())

    def test_with_a_reason_the_deletion_keeps_it(self):
        response = self.delete_followup(change_reason="entered twice")
        self.assertEqual(response.status_code, 302)
        self.assertFalse(FollowUp.objects.filter(patient=self.patient).exists())
        deletion = FollowUp.history.get(history_type="-")
        self.assertEqual(deletion.history_change_reason, "entered twice")
        self.assertEqual(deletion.history_user, self.mark)


class QuerySetUpdateTests(CastTestCase):
    """Found by an audit: QuerySet.update() of clinical records (a shell fix, a
    program's bulk correction) kept no history, left a verified kind verified
    and the nurse's worklist stale. It is now a change like a save."""

    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.followup = self.patient.followups.get()

    def test_an_update_keeps_its_history_with_the_user_and_a_new_version(self):
        before = self.followup.history.count()
        with status.acting_as(self.mark):
            FollowUp.objects.filter(pk=self.followup.pk).update(
                disease_status="hepatic"
            )
        self.assertEqual(self.followup.history.count(), before + 1)
        latest = self.followup.history.latest()
        self.assertEqual(
            (latest.history_type, latest.disease_status, latest.history_user),
            ("~", "hepatic", self.mark),
        )
        self.followup.refresh_from_db()
        self.assertEqual(self.followup.version, 2)  # an open form is now stale

    def test_an_update_of_a_verified_kind_sends_it_back_to_complete(self):
        for to in (FormStatus.COMPLETE, FormStatus.VERIFIED):
            status.set_status(
                patient=self.patient, kind="followup", to=to, user=self.mark
            )
        FollowUp.objects.filter(patient=self.patient).update(disease_status="hepatic")
        row = RecordStatus.objects.get(patient=self.patient, kind="followup")
        self.assertEqual(row.status, FormStatus.COMPLETE)

    def test_the_nurses_worklist_follows_an_update(self):
        self.client.force_login(self.nina)
        home = reverse("registry:home")
        self.assertEqual(self.client.get(home).context["worklist"].overdue_count, 1)
        FollowUp.objects.filter(patient=self.patient).update(date=datetime.date.today())
        self.assertEqual(self.client.get(home).context["worklist"].overdue_count, 0)


class DeletionReadsTheStatusOnceTests(CastTestCase):
    def test_a_records_deletion_reads_its_kinds_status_once(self):
        # its lock and whether it was verified: one read, not one each
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        patient = make_full_patient(site=self.north)
        operation = patient.operations.get()
        operation._change_reason = "entered twice"
        with CaptureQueriesContext(connection) as found:
            operation.delete()
        reads = [
            q["sql"]
            for q in found.captured_queries
            if q["sql"].startswith("SELECT") and "registry_recordstatus" in q["sql"]
        ]
        self.assertEqual(len(reads), 1, reads)
        self.assertFalse(Operation.objects.filter(pk=operation.pk).exists())
