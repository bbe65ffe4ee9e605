"""Every kind of record through the API: the forms' validation and version check."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from registry.forms import RECORD_KINDS
from registry.models import FollowUp, Operation
from tests.cast import CastTestCase
from tests.factories import (
    make_followup,
    make_full_patient,
    make_operation,
    make_patient,
    make_tumour,
)
from tests.registry.form_data import BAD_RECORD_DATA, RECORD_DATA


def api_data(kind: str, **changes) -> dict:
    """Return the form data of `kind` as JSON values (blanks left out)."""
    data = {**RECORD_DATA[kind], **changes}
    if kind == "radiation":
        data["completed"] = data.get("completed") == "on"
    return {name: value for name, value in data.items() if value != ""}


class RecordApiTestCase(CastTestCase):
    client_class = APIClient

    def setUp(self):
        cache.clear()
        self.client.force_authenticate(self.nina)


class RecordCreateApiTests(RecordApiTestCase):
    def setUp(self):
        super().setUp()
        self.patient = make_patient(site=self.north)

    def test_every_kind_is_created_with_the_forms_data_and_history_user(self):
        # the diagnosis first (RECORD_KINDS' order): the others' dates need it
        for slug, kind in RECORD_KINDS.items():
            with self.subTest(kind=slug):
                data = {
                    "registry_number": self.patient.registry_number,
                    **api_data(slug),
                }
                response = self.client.post(
                    reverse(f"api:{slug}-list"), data, format="json"
                )
                self.assertEqual(response.status_code, 201, response.content)
                record = kind.model.objects.get(pk=response.json()["id"])
                self.assertEqual(record.patient, self.patient)
                self.assertEqual(record.history.get().history_user, self.nina)

    def test_every_kinds_model_validation_refuses_at_the_field(self):
        make_tumour(self.patient)
        for slug, (name, bad, field, message) in BAD_RECORD_DATA.items():
            if slug == "tumour":
                continue  # one per patient: tested below with a new patient
            with self.subTest(kind=slug):
                data = {
                    "registry_number": self.patient.registry_number,
                    **api_data(slug, **{name: bad}),
                }
                response = self.client.post(
                    reverse(f"api:{slug}-list"), data, format="json"
                )
                self.assertEqual(response.status_code, 400, response.content)
                self.assertIn(message, " ".join(response.json()[field]))

    def test_record_for_another_sites_patient_is_refused_without_saying_it_exists(
        self,
    ):
        other = make_patient(site=self.south)
        make_tumour(other)
        data = {"registry_number": other.registry_number, **api_data("followup")}
        response = self.client.post(reverse("api:followup-list"), data, format="json")
        self.assertEqual(response.status_code, 400)
        self.assertIn("registry_number", response.json())
        self.assertFalse(FollowUp.objects.exists())

    def test_second_diagnosis_is_refused(self):
        make_tumour(self.patient)
        data = {"registry_number": self.patient.registry_number, **api_data("tumour")}
        response = self.client.post(reverse("api:tumour-list"), data, format="json")
        self.assertEqual(response.status_code, 400)

    def test_analyst_cannot_create_records(self):
        self.client.force_authenticate(self.ann)
        data = {"registry_number": self.patient.registry_number, **api_data("death")}
        response = self.client.post(reverse("api:death-list"), data, format="json")
        self.assertEqual(response.status_code, 403)


class RecordUpdateApiTests(RecordApiTestCase):
    def setUp(self):
        super().setUp()
        self.patient = make_patient(site=self.north)
        make_tumour(self.patient)
        self.operation = make_operation(
            self.patient, primary_procedure="lar", liver_procedure="minor", margin="R0"
        )
        self.url = reverse("api:operation-detail", args=[self.operation.pk])

    def patch(self, user, version, **changes):
        self.client.force_authenticate(user)
        return self.client.patch(
            self.url, {**changes, "version": version}, format="json"
        )

    def test_second_save_over_the_same_version_is_refused_with_what_changed(self):
        self.assertEqual(self.patch(self.mark, 1, margin="R1").status_code, 200)
        response = self.patch(self.nina, 1, length_of_stay_days=12)
        self.assertEqual(response.status_code, 409)
        body = response.json()
        self.assertIn("Not saved", body["detail"])
        self.assertIn("mark on", body["detail"])
        self.assertIn(
            "Resection margin: R0 – microscopically clear → R1 – microscopic residual",
            body["detail"],
        )
        self.assertEqual(body["current_version"], 2)
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.margin, "R1")
        self.assertIsNone(self.operation.length_of_stay_days)

    def test_a_version_never_written_is_refused_as_such_not_blamed_on_others(self):
        # Found by an audit: README step 3 sent If-Match "2" to a record at
        # version 1 and was told someone else had changed it since.
        for send in (
            lambda: self.patch(self.nina, 2, margin="R1"),
            lambda: self.client.delete(self.url, HTTP_IF_MATCH='"7"'),
        ):
            response = send()
            self.assertEqual(response.status_code, 400, response.content)
            message = response.json()["version"][0]
            self.assertIn("has no version", message)
            self.assertIn("it is at version 1", message)
            self.assertNotIn("someone else", message)
        self.operation.refresh_from_db()
        self.assertEqual((self.operation.version, self.operation.margin), (1, "R0"))

    def test_a_version_below_one_is_refused_at_version(self):
        # Found by an audit: If-Match "0" or ?version=-5 was a 409 blaming
        # someone else's changes
        for header in ('"0"', '"-1"'):
            with self.subTest(header=header):
                self.client.force_authenticate(self.nina)
                response = self.client.patch(
                    self.url, {"margin": "R1"}, format="json", HTTP_IF_MATCH=header
                )
                self.assertEqual(response.status_code, 400, response.content)
                self.assertIn("version", response.json())
        for query in ("version=0", "version=-5"):
            with self.subTest(query=query):
                response = self.client.delete(f"{self.url}?{query}&reason=dup")
                self.assertEqual(response.status_code, 400, response.content)
                self.assertIn("version", response.json())

    def test_a_value_out_of_range_is_refused_in_the_rules_words(self):
        # Found by an audit: "Ensure this value is less than or equal to 60.",
        # where the form, the admin and the import say the rule's words
        self.client.force_authenticate(self.nina)
        patient = make_patient(site=self.north)
        make_tumour(patient)
        data = {
            "registry_number": patient.registry_number,
            **api_data("radiation"),
            "fractions": 61,
        }
        response = self.client.post(reverse("api:radiation-list"), data, format="json")
        self.assertEqual(response.status_code, 400, response.content)
        refused = response.json()["fractions"]
        self.assertEqual(refused, ["Fractions must be at most 60."])

    def test_a_date_is_read_as_the_forms_read_it(self):
        # Found by an audit: the API read 2004-W33-7 and 20040815 as dates
        self.client.force_authenticate(self.nina)
        for text in ("2004-W33-7", "20040815"):
            with self.subTest(date=text):
                response = self.client.patch(
                    self.url, {"date": text, "version": 1}, format="json"
                )
                self.assertEqual(response.status_code, 400, response.content)
                self.assertIn("date", response.json())
        response = self.client.patch(
            self.url, {"date": "2004-8-16", "version": 1}, format="json"
        )
        self.assertEqual(response.status_code, 200, response.content)

    def test_put_replaces_the_record_at_the_version_read(self):
        self.client.force_authenticate(self.nina)
        data = {**api_data("operation", margin="R2"), "version": 1}
        data["registry_number"] = self.patient.registry_number
        response = self.client.put(self.url, data, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.margin, "R2")
        self.assertEqual(self.operation.version, 2)

    def test_record_cannot_move_to_another_patient(self):
        other = make_patient(site=self.north)
        self.patch(self.nina, 1, registry_number=other.registry_number)
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.patient, self.patient)

    def test_update_checks_the_model_rules(self):
        response = self.patch(self.nina, 1, date="2999-01-01")
        self.assertEqual(response.status_code, 400)
        self.assertIn("cannot be in the future", response.json()["date"][0])
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.version, 1)

    def test_stale_deletion_is_refused(self):
        self.patch(self.mark, 1, margin="R1")
        self.client.force_authenticate(self.nina)
        response = self.client.delete(f"{self.url}?version=1")
        self.assertEqual(response.status_code, 409)
        self.assertIn("Not deleted", response.json()["detail"])
        self.assertTrue(Operation.objects.filter(pk=self.operation.pk).exists())

    def test_deletion_at_the_version_read_keeps_a_history_row_with_the_user(self):
        self.client.force_authenticate(self.nina)
        response = self.client.delete(
            f"{self.url}?reason=entered+twice", HTTP_IF_MATCH='"1"'
        )
        self.assertEqual(response.status_code, 204)
        row = Operation.history.get(id=self.operation.pk, history_type="-")
        self.assertEqual(row.history_user, self.nina)
        self.assertEqual(row.history_change_reason, "entered twice")

    def test_a_deletion_reason_over_its_limit_is_refused_not_cut(self):
        # Found by an audit: cut to 100 characters without a word
        self.client.force_authenticate(self.nina)
        response = self.client.delete(f"{self.url}?version=1&reason={'x' * 101}")
        self.assertEqual(response.status_code, 400, response.content)
        self.assertIn("At most 100 characters", response.json()["reason"][0])
        self.assertTrue(Operation.objects.filter(pk=self.operation.pk).exists())

    def test_a_deletion_without_a_reason_is_refused(self):
        # Found by an audit: the API deleted (a verified operation) with no
        # reason, which the pages and the admin refuse
        self.client.force_authenticate(self.nina)
        response = self.client.delete(f"{self.url}?version=1")
        self.assertEqual(response.status_code, 400)
        self.assertIn("Say why this is deleted", response.json()["reason"][0])
        self.assertTrue(Operation.objects.filter(pk=self.operation.pk).exists())
        self.operation.refresh_from_db()
        self.assertEqual(self.operation.version, 1)  # the claim rolled back

    def test_another_sites_record_is_not_found(self):
        self.client.force_authenticate(self.sam)
        self.assertEqual(self.client.get(self.url).status_code, 404)
        self.assertEqual(self.patch(self.sam, 1, margin="R1").status_code, 404)


class RecordListApiTests(RecordApiTestCase):
    def test_lists_filter_by_patient_site_code_and_date(self):
        own = make_full_patient(site=self.north)
        make_followup(own, date="2006-02-01", disease_status="hepatic")
        make_full_patient(site=self.south)
        self.client.force_authenticate(self.mark)
        url = reverse("api:followup-list")
        cases = {
            "": 3,
            "site=NTH": 2,
            f"registry_number={own.registry_number}": 2,
            "disease_status=hepatic": 1,
            "date_from=2006-01-01": 1,
            "date_to=2005-12-31": 2,
        }
        for query, expected in cases.items():
            with self.subTest(query=query):
                response = self.client.get(f"{url}?{query}")
                self.assertEqual(response.json()["count"], expected)

    def test_every_kinds_list_reads_a_fixed_number_of_queries(self):
        make_full_patient(site=self.north)
        for slug in RECORD_KINDS:
            with self.subTest(kind=slug):
                url = reverse(f"api:{slug}-list")
                self.client.get(url)
                # each measured after a write: the written site counted again
                make_full_patient(site=self.north)
                with CaptureQueriesContext(connection) as few:
                    self.client.get(url)
                for _ in range(4):
                    make_full_patient(site=self.north)
                with self.assertNumQueries(len(few.captured_queries)):
                    self.client.get(url)


class DeletedRecordApiTests(RecordApiTestCase):
    def test_record_deleted_since_answers_410_saying_by_whom(self):
        patient = make_patient(site=self.north)
        make_tumour(patient)
        operation = make_operation(patient)
        url = reverse("api:operation-detail", args=[operation.pk])
        self.client.force_authenticate(self.mark)
        response = self.client.delete(f"{url}?version=1&reason=duplicate")
        self.assertEqual(response.status_code, 204)
        self.client.force_authenticate(self.nina)
        response = self.client.patch(url, {"margin": "R1", "version": 1}, format="json")
        self.assertEqual(response.status_code, 410)
        self.assertIn("was deleted by mark on", response.json()["detail"])

    def test_another_sites_deleted_record_stays_not_found(self):
        patient = make_patient(site=self.south)
        make_tumour(patient)
        operation = make_operation(patient)
        operation.delete()
        response = self.client.get(reverse("api:operation-detail", args=[operation.pk]))
        self.assertEqual(response.status_code, 404)


class KeptCountTests(RecordApiTestCase):
    """An unfiltered list's count is the one kept per site and version of the
    site's data (registry.api.pagination), not a count of every record on
    every page; a write makes it count the written site again."""

    def setUp(self):
        super().setUp()
        self.client.force_authenticate(self.mark)
        self.north_patient = make_full_patient(site=self.north)
        make_full_patient(site=self.south)
        make_followup(self.north_patient, date="2006-02-01")

    def count(self, url: str) -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as found:
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()["count"], [q["sql"] for q in found]

    def test_a_list_seen_again_is_not_counted_again(self):
        url = reverse("api:followup-list")
        first, _ = self.count(url)
        again, statements = self.count(url)
        self.assertEqual((first, again), (3, 3))
        self.assertEqual(again, FollowUp.objects.count())
        counting = [sql for sql in statements if "COUNT(" in sql]
        self.assertEqual(counting, [], "the follow-ups counted again")

    def test_a_write_counts_the_written_site_again_and_nothing_else(self):
        url = reverse("api:followup-list")
        self.count(url)
        make_followup(self.north_patient, date="2006-05-01")
        after, statements = self.count(url)
        self.assertEqual(after, 4)
        counting = [sql for sql in statements if "COUNT(" in sql]
        self.assertEqual(len(counting), 1, counting)
        self.assertIn(f"IN ({self.north.pk})", counting[0])
        # a deletion at the other site is counted out
        FollowUp.objects.filter(patient__site=self.south).first().delete()
        self.assertEqual(self.count(url)[0], 3)

    def test_a_filtered_list_is_counted(self):
        url = reverse("api:followup-list")
        self.count(url)
        count, statements = self.count(f"{url}?site=STH")
        self.assertEqual(count, 1)
        self.assertTrue(any("COUNT(" in sql for sql in statements))

    def test_the_patients_list_counts_as_the_home_page_does(self):
        url = reverse("api:patient-list")
        self.assertEqual(self.count(url)[0], 2)
        count, statements = self.count(url)
        self.assertEqual(count, 2)
        self.assertEqual([sql for sql in statements if "COUNT(" in sql], [])
        # a user of one site counts that site's patients
        self.client.force_authenticate(self.sam)
        self.assertEqual(self.count(url)[0], 1)


class KeysetPageTests(RecordApiTestCase):
    """``?cursor=`` pages a list in the order of ids, each page read from the
    last id of the one before (no OFFSET, no COUNT), within the user's sites."""

    def setUp(self):
        super().setUp()
        self.client.force_authenticate(self.nina)  # North only
        self.north_patients = [make_full_patient(site=self.north) for _ in range(3)]
        make_full_patient(site=self.south)
        for patient in self.north_patients:
            make_followup(patient, date="2006-02-01")

    def walk(self, url: str) -> tuple[list[int], list[str]]:
        ids, statements = [], []
        while url:
            with CaptureQueriesContext(connection) as found:
                response = self.client.get(url)
            self.assertEqual(response.status_code, 200, response.content)
            page = response.json()
            self.assertNotIn("count", page)
            ids += [row["id"] for row in page["results"]]
            statements += [q["sql"] for q in found]
            url = page["next"]
        return ids, statements

    def test_the_pages_give_every_record_of_the_users_sites_once_in_id_order(self):
        ids, statements = self.walk(
            reverse("api:followup-list") + "?cursor=&page_size=2"
        )
        north = FollowUp.objects.filter(patient__site=self.north)
        self.assertEqual(ids, sorted(north.values_list("pk", flat=True)))
        self.assertEqual(len(ids), 6)  # 3 pages of 2
        for sql in statements:
            self.assertNotIn("OFFSET", sql.upper())
            self.assertNotIn("COUNT(", sql.upper())
        # the later pages start from the last id, by the primary key
        self.assertTrue(any('"id" >' in sql for sql in statements), statements)

    def test_patients_and_a_filter(self):
        ids, _ = self.walk(reverse("api:patient-list") + "?cursor=&page_size=2")
        self.assertEqual(ids, sorted(p.pk for p in self.north_patients))
        first = self.north_patients[0]
        url = reverse("api:followup-list") + "?cursor=&page_size=1"
        ids, _ = self.walk(url + f"&registry_number={first.registry_number}")
        self.assertEqual(
            ids,
            sorted(FollowUp.objects.filter(patient=first).values_list("pk", flat=True)),
        )

    def test_the_browsable_page_links_the_next_page(self):
        self.client.force_login(self.nina)
        url = reverse("api:followup-list") + "?cursor=&page_size=2"
        page = self.client.get(url, HTTP_ACCEPT="text/html")
        self.assertEqual(page.status_code, 200)
        following = self.client.get(url).json()["next"]
        self.assertContains(page, following.replace("&", "&amp;"))
        self.assertNotContains(page, "page=2")

    def test_a_bad_cursor_is_refused_and_page_numbers_still_count(self):
        response = self.client.get(reverse("api:followup-list") + "?cursor=nonsense")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json(), {"detail": "Invalid cursor"})
        page = self.client.get(reverse("api:followup-list")).json()
        self.assertEqual(page["count"], 6)
