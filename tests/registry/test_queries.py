"""Data queries: a manager asks, the nurse answers or corrects, the manager closes."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.urls import reverse

from registry import queries
from registry.models import DataQuery, QueryStep
from tests.cast import CastTestCase
from tests.factories import make_full_patient, make_user
from tests.registry.form_data import RECORD_DATA


class QueryWorkflowTests(CastTestCase):
    def setUp(self):
        self.patient = make_full_patient(site=self.north)
        self.tumour = self.patient.tumour
        # the nurse entered the diagnosis: the query is hers to answer
        self.tumour.cea_ng_ml = 1530
        self.tumour._history_user = self.nina
        self.tumour.save()

    def open(self, user=None):
        self.client.force_login(user or self.mark)
        url = reverse("registry:query_create", args=[self.patient.pk])
        return self.client.post(
            url,
            {
                "record": f"tumour:{self.tumour.pk}",
                "field": "tumour.cea_ng_ml",
                "question": "CEA 1530 — typo?",
            },
        )

    def step(self, user, action, text=""):
        self.client.force_login(user)
        query = DataQuery.objects.get()
        url = reverse("registry:query_detail", args=[query.pk])
        return self.client.post(url, {"action": action, "text": text})

    def test_the_whole_round_is_kept_with_who_and_when(self):
        response = self.open()
        query = DataQuery.objects.get()
        self.assertRedirects(
            response, reverse("registry:query_detail", args=[query.pk])
        )
        self.assertEqual(query.assigned_to, self.nina)
        page = self.client.get(reverse("registry:query_detail", args=[query.pk]))
        self.assertContains(page, "CEA 1530 — typo?")
        self.assertContains(page, "1530")
        self.step(self.nina, "corrected", "Typo: 153.0 on the lab report")
        self.step(self.mark, "reopened", "Lab report says 15.3?")
        self.step(self.nina, "answered", "Checked again: 153.0")
        self.step(self.mark, "closed")
        query.refresh_from_db()
        self.assertEqual(query.status, "closed")
        steps = list(
            QueryStep.objects.order_by("pk").values_list("action", "by__username")
        )
        self.assertEqual(
            steps,
            [
                ("opened", "mark"),
                ("corrected", "nina"),
                ("reopened", "mark"),
                ("answered", "nina"),
                ("closed", "mark"),
            ],
        )
        self.assertTrue(all(step.at for step in QueryStep.objects.all()))

    def test_a_nurse_may_not_open_or_close_a_query(self):
        self.assertEqual(self.open(self.nina).status_code, 403)
        self.open()
        response = self.step(self.nina, "closed")  # no button offers it: refused
        self.assertEqual(response.status_code, 403)
        self.assertEqual(DataQuery.objects.get().status, "open")

    def test_an_answer_needs_words(self):
        self.open()
        response = self.step(self.nina, "answered", "")
        self.assertContains(response, "Write your answer")
        self.assertEqual(DataQuery.objects.get().status, "open")

    def test_a_field_of_another_kind_is_refused_with_a_message(self):
        self.client.force_login(self.mark)
        url = reverse("registry:query_create", args=[self.patient.pk])
        response = self.client.post(
            url,
            {
                "record": f"tumour:{self.tumour.pk}",
                "field": "operation.margin",
                "question": "?",
            },
        )
        self.assertContains(response, "is not a field of the primary tumour")
        self.assertFalse(DataQuery.objects.exists())

    def test_another_sites_nurse_never_sees_the_query(self):
        self.open()
        query = DataQuery.objects.get()
        self.client.force_login(self.sam)
        url = reverse("registry:query_detail", args=[query.pk])
        self.assertEqual(self.client.get(url).status_code, 404)
        self.assertEqual(
            self.client.post(url, {"action": "answered", "text": "x"}).status_code, 404
        )
        listing = self.client.get(reverse("registry:query_list"))
        self.assertNotContains(listing, "CEA 1530")
        self.assertEqual(listing.context["counts"].by_site, [])

    def test_the_whole_list_shows_the_unresolved_before_the_closed(self):
        # Found by an audit: sorted by the status's code, "closed" came before
        # "open" when the list showed every query
        patient = make_full_patient(site=self.north)

        def ask(field):
            return queries.open_query(
                patient=patient,
                kind="patient",
                record_id=patient.pk,
                field=field,
                question=f"{field}?",
                user=self.mark,
            )

        opened, closed = ask("ecog"), ask("sex")
        queries.take_step(query=closed, action="closed", text="fine", user=self.mark)
        self.client.force_login(self.mark)
        response = self.client.get(reverse("registry:query_list"), {"show": "all"})
        shown = [query.pk for query in response.context["page"].object_list]
        self.assertEqual(shown, [opened.pk, closed.pk])

    def test_counts_per_site_and_nurse_on_the_list_and_data_quality_pages(self):
        self.open()
        other = make_full_patient(site=self.south)
        queries.open_query(
            patient=other,
            kind="patient",
            record_id=other.pk,
            field="ecog",
            question="ECOG?",
            user=self.mark,
        )
        self.client.force_login(self.mark)
        for name in ("registry:query_list", "registry:data_quality"):
            with self.subTest(page=name):
                counts = self.client.get(reverse(name)).context["counts"]
                self.assertEqual(
                    [(r["patient__site__code"], r["open"]) for r in counts.by_site],
                    [("NTH", 1), ("STH", 1)],
                )
                self.assertIn(
                    ("nina", 1, 0),
                    [
                        (r["assigned_to__username"], r["open"], r["answered"])
                        for r in counts.by_nurse
                    ],
                )

    def test_open_query_service_checks_the_permission(self):
        with self.assertRaises(PermissionDenied):
            queries.open_query(
                patient=self.patient,
                kind="tumour",
                record_id=self.tumour.pk,
                field="cea_ng_ml",
                question="?",
                user=self.nina,
            )
        stranger = make_user("x", group="Data manager", sites=[self.south])
        self.client.force_login(stranger)
        url = reverse("registry:query_create", args=[self.patient.pk])
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_the_correction_link_leads_to_the_edit_form(self):
        self.open()
        self.client.force_login(self.nina)
        query = DataQuery.objects.get()
        page = self.client.get(reverse("registry:query_detail", args=[query.pk]))
        edit = reverse(
            "registry:record_update", args=[self.patient.pk, "tumour", self.tumour.pk]
        )
        self.assertContains(page, edit)
        data = {
            **RECORD_DATA["tumour"],
            "version": str(self.tumour.version + 0),
            "cea_ng_ml": "153",
        }
        self.tumour.refresh_from_db()
        data["version"] = str(self.tumour.version)
        self.assertEqual(self.client.post(edit, data).status_code, 302)
        page = self.client.get(reverse("registry:query_detail", args=[query.pk]))
        self.assertEqual(page.context["value"], "153.0")
