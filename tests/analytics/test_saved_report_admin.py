"""Saved reports in the admin: only runnable specifications, every change in the
history with its user, and a builder that opens a broken one with a message."""

import json

from django.urls import reverse

from analytics.models import ReportRun, SavedReport
from analytics.spec import MAX_JSON_DEPTH, MAX_TIMES, ReportSpec
from tests.cast import CastTestCase
from tests.factories import make_user

INLINE = {
    "runs-TOTAL_FORMS": "0",
    "runs-INITIAL_FORMS": "0",
    "runs-MIN_NUM_FORMS": "0",
    "runs-MAX_NUM_FORMS": "1000",
}


class SavedReportAdminTestCase(CastTestCase):
    def setUp(self):
        self.saved = SavedReport.objects.create(
            name="Demo", spec=ReportSpec().to_dict(), owner=self.ann
        )
        self.client.force_login(self.mark)

    def edit(self, spec: str, name: str = "Demo"):
        return self.client.post(
            reverse("admin:analytics_savedreport_change", args=[self.saved.pk]),
            {"name": name, "spec": spec, "owner": self.ann.pk, **INLINE},
        )


class SavedReportAdminFormTests(SavedReportAdminTestCase):
    def test_a_specification_that_cannot_be_run_is_refused_listing_its_errors(self):
        times = list(range(1, 1_001))
        response = self.edit(json.dumps({"group_by": "colour", "times": times}))
        self.assertEqual(response.status_code, 200)
        errors = response.context["adminform"].form.errors["spec"]
        self.assertEqual(errors[0], "This specification cannot be run:")
        self.assertIn("group_by: unknown field 'colour'", errors[1])
        self.assertEqual(errors[2], f"times: at most {MAX_TIMES} times (got 1000)")
        self.saved.refresh_from_db()
        self.assertEqual(self.saved.spec, ReportSpec().to_dict())

    def test_deeply_nested_json_is_refused_with_a_message_not_a_crash(self):
        response = self.edit("[" * 5_000 + "]" * 5_000)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.context["adminform"].form.errors["spec"],
            [
                "the specification is nested too deeply: 5000 levels "
                f"(at most {MAX_JSON_DEPTH})"
            ],
        )

    def test_a_valid_specification_is_stored_as_the_builder_stores_it(self):
        response = self.edit(json.dumps({"baseline": ["sex", "age", "sex"]}))
        self.assertRedirects(
            response, reverse("admin:analytics_savedreport_changelist")
        )
        self.saved.refresh_from_db()
        self.assertEqual(self.saved.spec["baseline"], ["sex", "age"])
        self.assertEqual(self.saved.spec["times"], [12.0, 24.0, 36.0, 60.0])


class SavedReportHistoryTests(SavedReportAdminTestCase):
    def test_changes_and_deletion_are_kept_with_the_user_who_made_them(self):
        self.edit(json.dumps({"group_by": "sex"}), name="By sex")
        self.client.post(
            reverse("admin:analytics_savedreport_delete", args=[self.saved.pk]),
            {"post": "yes"},
        )
        self.assertFalse(SavedReport.objects.filter(pk=self.saved.pk).exists())
        history = SavedReport.history.filter(id=self.saved.pk).order_by("history_date")
        self.assertEqual(
            [(h.history_type, h.name, h.history_user) for h in history],
            [
                ("+", "Demo", None),
                ("~", "By sex", self.mark),
                ("-", "By sex", self.mark),
            ],
        )
        self.assertEqual(history[1].spec["group_by"], "sex")

    def test_the_admin_history_page_shows_the_deletion_and_its_user(self):
        self.client.post(
            reverse("admin:analytics_savedreport_delete", args=[self.saved.pk]),
            {"post": "yes"},
        )
        page = self.client.get(
            reverse("admin:analytics_savedreport_history", args=[self.saved.pk])
        )
        self.assertContains(page, "Deleted")
        self.assertContains(page, "mark")


class BuilderFromBrokenSavedReportTests(CastTestCase):
    def test_a_stored_specification_that_cannot_be_run_opens_with_a_message(self):
        for spec in ([1, 2], {"times": ["soon"]}, {"cohort": "NFG"}, {"colour": 1}):
            with self.subTest(spec=spec):
                saved = SavedReport.objects.create(
                    name=f"Broken {spec}", spec=spec, owner=self.ann
                )
                self.client.force_login(self.ann)
                response = self.client.get(
                    reverse("analytics:report_new"), {"saved": saved.pk}
                )
                self.assertEqual(response.status_code, 200)
                [message] = [str(m) for m in response.context["messages"]]
                self.assertTrue(
                    message.startswith(f"“{saved.name}” cannot be opened here: ")
                )


class SavedReportAdminScopeTests(CastTestCase):
    """Found by an audit: a manager of North deleted, with a report of South's
    manager, its run over South, and read every user of every site as owners."""

    def setUp(self):
        self.nora = make_user(
            "nora", group="Data manager", sites=[self.north], is_staff=True
        )
        self.stella = make_user(
            "stella", group="Data manager", sites=[self.south], is_staff=True
        )
        self.saved = SavedReport.objects.create(
            name="South arms", spec=ReportSpec().to_dict(), owner=self.stella
        )
        self.run = ReportRun.objects.create(
            saved_report=self.saved,
            run_by=self.stella,
            software_version="test",
            data_cutoff="2009-12-31",
            fingerprint="0" * 64,
            patients=7,
            result={},
        )
        self.run.sites.set([self.south])
        self.client.force_login(self.nora)

    def test_a_report_with_runs_over_other_sites_is_not_deleted(self):
        url = reverse("admin:analytics_savedreport_delete", args=[self.saved.pk])
        page = self.client.get(url)
        self.assertContains(page, "1 runs over sites you are not a member of")
        self.assertNotContains(page, "Are you sure")
        self.client.post(url, {"post": "yes"})
        self.assertTrue(ReportRun.objects.filter(pk=self.run.pk).exists())
        # who may see every run deletes it, with them
        self.client.force_login(self.mark)
        self.assertContains(self.client.get(url), "Are you sure")

    def test_owners_offered_are_the_users_the_manager_manages(self):
        response = self.client.get(reverse("admin:analytics_savedreport_add"))
        owners = {
            str(label)
            for value, label in response.context["adminform"]
            .form.fields["owner"]
            .choices
            if value
        }
        self.assertIn("nina", owners)
        self.assertFalse({"sam", "stella", "mark"} & owners, owners)
