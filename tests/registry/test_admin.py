"""Admin management: every page of every model renders for a data manager."""

import datetime
from unittest import mock

from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.models import ReportRun, SavedReport
from registry.admin import CappedPaginator
from registry.models import FollowUp, Patient, PrimaryTumour, RecordStatus
from registry.models.status import FormKind, FormStatus
from tests.cast import CastTestCase
from tests.factories import (
    make_death,
    make_followup,
    make_full_patient,
    make_operation,
    make_site,
    make_user,
)
from tests.registry.form_data import RECORD_DATA


class AdminPagesTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patient = make_full_patient(site=cls.north)
        make_death(cls.patient)
        cls.other = make_full_patient(site=cls.south)

    def setUp(self):
        self.client.force_login(self.mark)

    def test_every_admin_page_of_every_model_renders_for_a_data_manager(self):
        for model, model_admin in admin.site._registry.items():
            if model._meta.app_label != "registry":
                continue
            opts = model._meta
            obj = model_admin.get_queryset(self._request()).first()
            self.assertIsNotNone(obj, f"no {opts.model_name} to show")
            pages = {
                "changelist": reverse(f"admin:registry_{opts.model_name}_changelist"),
                "add": reverse(f"admin:registry_{opts.model_name}_add"),
                "change": reverse(
                    f"admin:registry_{opts.model_name}_change", args=[obj.pk]
                ),
                "history": reverse(
                    f"admin:registry_{opts.model_name}_history", args=[obj.pk]
                ),
                "delete": reverse(
                    f"admin:registry_{opts.model_name}_delete", args=[obj.pk]
                ),
            }
            for page, url in pages.items():
                with self.subTest(model=opts.model_name, page=page):
                    response = self.client.get(url)
                    self.assertEqual(response.status_code, 200, url)

    def test_admin_index_and_user_pages_render_for_a_data_manager(self):
        for url in (reverse("admin:index"), reverse("admin:auth_user_changelist")):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 200)

    def _request(self):
        from django.test import RequestFactory

        request = RequestFactory().get("/")
        request.user = self.mark
        return request


class PatientAdminTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.synchronous = make_full_patient(site=cls.north)
        cls.unresected = make_full_patient(site=cls.north)
        cls.unresected.operations.all().delete()
        cls.southern = make_full_patient(site=cls.south)
        make_death(cls.southern)

    def setUp(self):
        self.client.force_login(self.mark)
        self.url = reverse("admin:registry_patient_changelist")

    def test_list_shows_strategy_and_vital_status_columns(self):
        response = self.client.get(self.url)
        self.assertContains(response, "Synchronous resection")
        self.assertContains(response, "No resection")
        self.assertContains(response, "Dead")

    def test_strategy_filter_lists_only_that_strategy(self):
        response = self.client.get(self.url, {"strategy": "none"})
        self.assertEqual(list(response.context["cl"].result_list), [self.unresected])

    def test_vital_status_filter_lists_only_the_dead(self):
        response = self.client.get(self.url, {"vital": "dead"})
        self.assertEqual(list(response.context["cl"].result_list), [self.southern])

    def test_year_and_site_values_no_row_can_have_list_nothing(self):
        # from a typed or edited query string: a year past 9999 or 0, a digit
        # that is not ASCII, an id past the database's integers
        follow_ups = reverse("admin:registry_followup_changelist")
        for url, query in (
            (self.url, {"diagnosis_year": "99999"}),
            (self.url, {"diagnosis_year": "\u00b2"}),
            (self.url, {"site__id__exact": "9" * 20}),
            (follow_ups, {"date_year": "0"}),
            (follow_ups, {"date_year": "99999"}),
        ):
            with self.subTest(query=query):
                response = self.client.get(url, query)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(list(response.context["cl"].result_list), [])

    def test_site_and_year_filters(self):
        response = self.client.get(
            self.url, {"site__id__exact": self.south.pk, "diagnosis_year": "2004"}
        )
        self.assertEqual(list(response.context["cl"].result_list), [self.southern])

    def test_sorting_by_derived_strategy_works(self):
        response = self.client.get(self.url, {"o": "4"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(response.context["cl"].result_list), 3)

    def test_search_by_exact_mrn_finds_the_patient(self):
        response = self.client.get(self.url, {"q": self.southern.mrn})
        self.assertEqual(list(response.context["cl"].result_list), [self.southern])

    def test_search_by_registry_number(self):
        response = self.client.get(self.url, {"q": self.synchronous.registry_number})
        self.assertEqual(list(response.context["cl"].result_list), [self.synchronous])

    def test_change_page_shows_derived_values_read_only(self):
        url = reverse("admin:registry_patient_change", args=[self.synchronous.pk])
        response = self.client.get(url)
        self.assertContains(
            response, "synchronous: primary and liver resected on 2004-08-15"
        )
        self.assertNotContains(response, 'name="strategy_reason"')

    def test_changelist_query_count_does_not_grow_with_patients(self):
        counts = []
        for _ in range(2):
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.client.get(self.url).status_code, 200)
            counts.append(len(queries))
            for _ in range(5):
                make_full_patient(site=self.north)
        self.assertEqual(counts[0], counts[1])

    def test_staff_without_identifier_permission_sees_no_mrn(self):
        clerk = self.mark.__class__.objects.create_user("clerk", is_staff=True)
        clerk.groups.add(Group.objects.get(name="Data manager"))
        group_perm = Group.objects.get(name="Data manager").permissions.get(
            codename="view_identifiers"
        )
        clerk.user_permissions.clear()
        # A data manager without the identifier permission: copy the group's
        # permissions except view_identifiers.
        clerk.groups.clear()
        clerk.user_permissions.set(
            Group.objects.get(name="Data manager").permissions.exclude(pk=group_perm.pk)
        )
        self.north.members.add(clerk)
        self.client.force_login(clerk)
        url = reverse("admin:registry_patient_change", args=[self.synchronous.pk])
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, self.synchronous.mrn)
        self.assertNotContains(response, 'name="date_of_birth"')
        searched = self.client.get(self.url, {"q": self.synchronous.mrn})
        self.assertEqual(list(searched.context["cl"].result_list), [])

    def test_data_manager_sees_only_their_sites_patients(self):
        northerner = self.mark.__class__.objects.create_user("north_dm", is_staff=True)
        northerner.groups.add(Group.objects.get(name="Data manager"))
        self.north.members.add(northerner)
        self.client.force_login(northerner)
        response = self.client.get(self.url)
        self.assertEqual(
            set(response.context["cl"].result_list), {self.synchronous, self.unresected}
        )
        url = reverse("admin:registry_patient_change", args=[self.southern.pk])
        self.assertNotEqual(self.client.get(url).status_code, 200)

    def test_research_nurse_cannot_open_the_admin(self):
        self.client.force_login(self.nina)
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("admin:login"), response["Location"])


class AdminHistoryTests(CastTestCase):
    def test_change_through_the_admin_records_the_user_in_the_history(self):
        patient = make_full_patient(site=self.north)
        self.client.force_login(self.mark)
        url = reverse("admin:registry_patient_change", args=[patient.pk])
        response = self.client.get(url)
        form = response.context["adminform"].form
        # what the page posts: every field's value, the hidden version included
        data = {
            name: form[name].value()
            for name in form.fields
            if form[name].value() is not None
        }
        data.update(_inline_management(response))
        data["ecog"] = 2
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 302)
        latest = Patient.history.filter(id=patient.pk).latest("history_date")
        self.assertEqual(latest.history_user, self.mark)
        self.assertEqual(latest.ecog, 2)


def _inline_management(response) -> dict:
    """Return POST data for the inline formsets exactly as the page rendered them."""
    data = {}
    for formset in response.context["inline_admin_formsets"]:
        fs = formset.formset
        prefix = fs.prefix
        data[f"{prefix}-TOTAL_FORMS"] = str(len(fs.forms))
        data[f"{prefix}-INITIAL_FORMS"] = str(fs.initial_form_count())
        data[f"{prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{prefix}-MAX_NUM_FORMS"] = "1000"
        for form in fs.forms:
            for name, field in form.fields.items():
                value = form.initial.get(name, field.initial)
                if name == "id" and form.instance.pk:
                    value = form.instance.pk
                if name == "patient":
                    value = form.instance.patient_id or ""
                if value is None or value is False:
                    continue
                data[f"{form.prefix}-{name}"] = value
    return data


class AdminStaleEditTests(CastTestCase):
    def test_admin_save_over_a_newer_version_is_refused_with_what_changed(self):
        patient = make_full_patient(site=self.north)
        followup = patient.followups.get()
        self.client.force_login(self.mark)
        url = reverse("admin:registry_followup_change", args=[followup.pk])
        page = self.client.get(url)
        form = page.context["adminform"].form
        data = {
            name: form.initial.get(name, field.initial)
            for name, field in form.fields.items()
            if form.initial.get(name, field.initial) is not None
        }
        self.assertEqual(data["loaded_version"], followup.version)
        # Meanwhile a nurse records a recurrence on the same contact.
        followup.disease_status = "hepatic"
        followup.save()
        data["notes"] = "seen in clinic"
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "was changed after you opened it")
        self.assertContains(
            response, "Disease status: No evidence of disease → Hepatic"
        )
        followup.refresh_from_db()
        self.assertEqual((followup.notes, followup.disease_status), ("", "hepatic"))

    def test_admin_save_of_the_current_version_goes_through(self):
        patient = make_full_patient(site=self.north)
        followup = patient.followups.get()
        self.client.force_login(self.mark)
        url = reverse("admin:registry_followup_change", args=[followup.pk])
        form = self.client.get(url).context["adminform"].form
        data = {
            name: form.initial.get(name, field.initial)
            for name, field in form.fields.items()
            if form.initial.get(name, field.initial) is not None
        }
        data["notes"] = "seen in clinic"
        self.assertEqual(self.client.post(url, data).status_code, 302)
        followup.refresh_from_db()
        self.assertEqual(followup.notes, "seen in clinic")


class AdminAtScaleTests(CastTestCase):
    """The admin's lists cost what one page costs, whatever the registry's size:
    no count of every row, no search for the years among every record, no
    count of each site's patients with a join (registry.admin)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patients = [make_full_patient(site=cls.north) for _ in range(2)]
        cls.patients.append(make_full_patient(site=cls.south))

    def setUp(self):
        self.client.force_login(self.mark)

    def changelists(self):
        for model in admin.site._registry:
            if model._meta.app_label == "registry":
                name = f"admin:registry_{model._meta.model_name}_changelist"
                yield model._meta.model_name, reverse(name)

    def test_no_list_counts_every_row_or_reads_every_record_for_its_years(self):
        for name, url in self.changelists():
            with self.subTest(model=name), CaptureQueriesContext(connection) as found:
                self.assertEqual(self.client.get(url).status_code, 200)
            statements = [query["sql"] for query in found.captured_queries]
            for sql in statements:
                if "COUNT(" in sql and name != "site":  # a few sites: counted
                    self.assertIn("LIMIT", sql, f"{name}: a count of every row")
                self.assertNotIn("COUNT(DISTINCT", sql, name)
                self.assertNotRegex(
                    sql, r"SELECT DISTINCT .*(year|YEAR)", f"{name}: years of every row"
                )

    def test_a_count_past_the_limit_says_more_than_and_offers_no_select_all(self):
        url = reverse("admin:registry_followup_changelist")
        with mock.patch.object(CappedPaginator, "limit", 2):
            response = self.client.get(url)
        self.assertGreater(FollowUp.objects.count(), 2)
        self.assertEqual(response.context["cl"].result_count, 2)
        self.assertContains(response, "More than 2 follow-up contacts")
        self.assertNotContains(response, "select the objects across all pages")
        # nor counts of each filter's choices over every row
        self.assertNotContains(response, "Show counts")
        with mock.patch.object(CappedPaginator, "limit", 10_000):
            response = self.client.get(url)
        total = FollowUp.objects.count()
        self.assertContains(response, f"{total} follow-up contacts")
        self.assertNotContains(response, "More than")

    def test_records_are_filtered_by_the_year_of_their_date(self):
        url = reverse("admin:registry_followup_changelist")
        with CaptureQueriesContext(connection) as found:
            response = self.client.get(url)
        # the first year of diagnosis: one read of the diagnoses' index
        tumour = PrimaryTumour._meta.db_table
        reads = [q["sql"] for q in found.captured_queries if tumour in q["sql"]]
        self.assertEqual(len(reads), 1, reads)
        years = [
            choice["display"]
            for spec in response.context["cl"].filter_specs
            if getattr(spec, "parameter_name", None) == "date_year"
            for choice in spec.choices(response.context["cl"])
        ][1:]  # after "All"
        # from this year back to the first diagnosis (2004)
        today = timezone.localdate().year
        self.assertEqual(years, [str(y) for y in range(today, 2003, -1)])
        year = FollowUp.objects.order_by("date").first().date.year
        response = self.client.get(url, {"date_year": str(year)})
        shown = response.context["cl"].result_list
        self.assertEqual(
            sorted(f.pk for f in shown),
            sorted(
                FollowUp.objects.filter(date__year=year).values_list("pk", flat=True)
            ),
        )

    def test_search_finds_a_registry_number_from_its_start_in_any_case(self):
        patient = self.patients[0]
        number = patient.registry_number  # e.g. NTH-00001
        url = reverse("admin:registry_followup_changelist")
        with CaptureQueriesContext(connection) as found:
            response = self.client.get(url, {"q": number[:5].lower()})
        self.assertEqual(
            {f.patient_id for f in response.context["cl"].result_list},
            {p.pk for p in self.patients if p.site == self.north},
        )
        # the start of the number, as the index of the numbers is read
        self.assertTrue(
            any("LIKE" in q["sql"] and "UPPER" not in q["sql"] for q in found),
            "not a search from the start of the number",
        )
        response = self.client.get(url, {"q": number[-3:]})
        self.assertEqual(list(response.context["cl"].result_list), [])

    def test_sites_list_each_sites_patients(self):
        url = reverse("admin:registry_site_changelist")
        response = self.client.get(url)
        counts = {
            site.code: site.n_patients for site in response.context["cl"].result_list
        }
        self.assertEqual(counts, {"NTH": 2, "STH": 1})
        self.assertContains(
            response, '<td class="field-patient_count">2</td>', html=True
        )


class AdminMrnSearchTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patient = make_full_patient(site=cls.north, mrn="HOSP0042")
        make_full_patient(site=cls.south)

    def search(self, term: str):
        from django.test import RequestFactory

        request = RequestFactory().get("/")
        request.user = self.mark
        model_admin = admin.site._registry[Patient]
        found, _ = model_admin.get_search_results(
            request, model_admin.get_queryset(request), term
        )
        return found

    def test_an_mrn_is_found_whole_in_any_case(self):
        self.assertEqual(list(self.search("hosp0042")), [self.patient])
        self.assertEqual(list(self.search("HOSP004")), [])

    def test_the_mrn_is_matched_down_its_index(self):
        # every site's patients, not read one by one: an index on UPPER(mrn)
        if connection.vendor != "postgresql":
            self.skipTest("the plan is PostgreSQL's")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            # nor a whole index read for the OR's other side (the registry
            # number's), which small tables made the cheaper plan at times
            cursor.execute("SET LOCAL enable_indexscan = off")
        plan = self.search("hosp0042").explain()
        self.assertIn("patient_mrn_upper_idx", plan)


class RecordStaysWithItsPatientTests(CastTestCase):
    def test_a_records_patient_cannot_be_changed_in_the_admin(self):
        from registry import facts

        self.client.force_login(self.mark)
        first = make_full_patient(site=self.north)
        other = make_full_patient(site=self.north)
        operation = first.operations.get()
        url = reverse("admin:registry_operation_change", args=[operation.pk])
        page = self.client.get(url)
        form = page.context["adminform"].form
        self.assertNotIn("patient", form.fields)
        data = {
            name: form[name].value()
            for name in form.fields
            if form[name].value() is not None
        }
        self.client.post(url, {**data, "patient": str(other.pk)})
        operation.refresh_from_db()
        self.assertEqual(operation.patient, first)
        self.assertEqual(facts.differences([first.pk, other.pk]), {})


class AdminQueriesDoNotGrowTests(CastTestCase):
    """Pages an audit found querying once per row they list: each now costs the
    same with ten more rows (patients, records, runs, versions)."""

    def setUp(self):
        self.client.force_login(self.mark)

    def counted(self, url, data=None) -> tuple[int, object]:
        def ask():
            if data is None:
                return self.client.get(url)
            return self.client.post(url, data)

        ask()  # what is read once per process (content types) is read
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            response = ask()
        self.assertEqual(response.status_code, 200, url)
        return len(queries), response

    def test_a_patients_delete_page_reads_their_records_locks_at_once(self):
        patient = make_full_patient(site=self.north)
        url = reverse("admin:registry_patient_delete", args=[patient.pk])
        few, _ = self.counted(url)
        for month in range(2, 12):
            make_followup(patient, date=datetime.date(2005, month, 3))
            make_operation(patient, date=datetime.date(2004, 9, month))
        many, response = self.counted(url)
        self.assertEqual(many, few)
        self.assertContains(response, "Are you sure")
        self.assertEqual(response.context["perms_lacking"], set())

    def test_a_locked_record_still_stops_the_deletion_it_is_listed_in(self):
        patient = make_full_patient(site=self.north)
        other = make_full_patient(site=self.north)
        RecordStatus.objects.update_or_create(
            patient=patient,
            kind=FormKind.FOLLOWUP,
            defaults={"status": FormStatus.LOCKED},
        )
        selected = FollowUp.objects.filter(patient__in=[patient, other])
        response = self.client.post(
            reverse("admin:registry_followup_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": list(selected.values_list("pk", flat=True)),
            },
        )
        self.assertEqual(response.context["perms_lacking"], {"follow-up contact"})
        self.assertNotContains(response, "Are you sure")
        # and a patient with a locked kind is not deleted from their own page
        url = reverse("admin:registry_patient_delete", args=[patient.pk])
        self.assertEqual(self.client.get(url).status_code, 403)

    def test_bulk_delete_confirmation_reads_the_locks_at_once(self):
        patient = make_full_patient(site=self.north)
        for month in range(2, 12):
            make_followup(patient, date=datetime.date(2005, month, 3))
        url = reverse("admin:registry_followup_changelist")
        ids = list(patient.followups.values_list("pk", flat=True))

        def confirmation(selected):
            data = {"action": "delete_selected", "_selected_action": selected}
            count, response = self.counted(url, data)
            self.assertContains(response, "Are you sure")
            return count

        self.assertEqual(confirmation(ids), confirmation(ids[:1]))

    def test_a_site_with_patients_is_refused_deletion_without_listing_them(self):
        site = make_site(code="WST", name="West Hospital")
        site.members.add(self.mark)
        make_full_patient(site=site)
        url = reverse("admin:registry_site_delete", args=[site.pk])
        few, _ = self.counted(url)
        for _ in range(10):
            make_full_patient(site=site)
        many, response = self.counted(url)
        self.assertEqual(many, few)
        self.assertContains(response, "11 patients (move them to another site")
        self.assertNotContains(response, "Are you sure")
        self.client.post(url, {"post": "yes", "change_reason": "closed"})
        self.assertTrue(site.__class__.objects.filter(pk=site.pk).exists())

    def test_a_site_without_patients_can_still_be_deleted(self):
        site = make_site(code="WST", name="West Hospital")
        site.members.add(self.mark)
        url = reverse("admin:registry_site_delete", args=[site.pk])
        self.assertContains(self.client.get(url), "Are you sure")

    def test_the_saved_reports_list_joins_their_owners(self):
        url = reverse("admin:analytics_savedreport_changelist")
        SavedReport.objects.create(name="R0", spec={"group_by": "sex"}, owner=self.ann)
        few, _ = self.counted(url)
        for i in range(1, 11):
            owner = make_user(f"owner{i}", group="Analyst", sites=[self.north])
            SavedReport.objects.create(
                name=f"R{i}", spec={"group_by": "sex"}, owner=owner
            )
        self.assertEqual(self.counted(url)[0], few)

    def test_a_saved_reports_page_joins_its_runs_runners(self):
        saved = SavedReport.objects.create(
            name="R", spec={"group_by": "sex"}, owner=self.mark
        )
        url = reverse("admin:analytics_savedreport_change", args=[saved.pk])

        def run():
            made = ReportRun.objects.create(
                saved_report=saved,
                run_by=make_user(f"runner{ReportRun.objects.count()}"),
                software_version="test",
                data_cutoff=datetime.date(2009, 12, 31),
                fingerprint="x",
                patients=5,
                result={},
            )
            made.sites.set([self.north])

        run()
        few, _ = self.counted(url)
        for _ in range(10):
            run()
        self.assertEqual(self.counted(url)[0], few)

    def test_a_sites_history_reads_its_members_once_per_page(self):
        url = reverse("admin:registry_site_history", args=[self.north.pk])
        few, _ = self.counted(url)
        for i in range(10):
            make_user(f"member{i}", group="Data entry", sites=[self.north])
        many, response = self.counted(url)
        self.assertEqual(many, few)
        # the change of members is still shown, by user
        self.assertContains(response, "member9")
        changes = [
            change
            for record in response.context["page_obj"]
            for change in getattr(record, "history_delta_changes", [])
        ]
        self.assertIn("Members", {change["field"] for change in changes})


class AdminYearLookupTests(CastTestCase):
    def test_a_year_no_date_can_have_is_refused_not_a_server_error(self):
        # Found by an audit: ?date__year=99999 (a bookmark, an edited address)
        # was a server error, raised when the list was read
        make_full_patient(site=self.north)
        self.client.force_login(self.mark)
        self.client.raise_request_exception = False
        for model, params in (
            ("followup", {"date__year": "99999"}),
            ("operation", {"date__year": "10000"}),
            ("death", {"date__year": "0"}),
            ("followup", {"date__year__gt": "-1"}),
            ("patient", {"created_at__year": "99999"}),
        ):
            with self.subTest(model=model, params=params):
                response = self.client.get(
                    reverse(f"admin:registry_{model}_changelist"), params
                )
                self.assertEqual(response.status_code, 400)
        response = self.client.get(
            reverse("admin:registry_followup_changelist"), {"date__year": "2005"}
        )
        self.assertEqual(response.status_code, 200)

    def test_every_admin_list_checks_its_years(self):
        from registry.params import YearLookupsChecked

        unchecked = [
            model.__name__
            for model, model_admin in admin.site._registry.items()
            if not isinstance(model_admin, YearLookupsChecked)
        ]
        self.assertEqual(unchecked, [])
        self.client.force_login(self.mark)
        self.client.raise_request_exception = False
        for url in (
            reverse("admin:auth_user_changelist"),
            reverse("admin:analytics_savedreport_changelist"),
        ):
            with self.subTest(url=url):
                response = self.client.get(url, {"date_joined__year": "99999"})
                self.assertLess(response.status_code, 500)
                response = self.client.get(url, {"created_at__year": "99999"})
                self.assertLess(response.status_code, 500)


class AdminAddPatientTests(CastTestCase):
    def test_a_diagnosis_before_the_date_of_birth_is_refused_not_a_server_error(self):
        # Found by an audit: on the admin's page of a patient being added, the
        # diagnosis' rules read a date of birth the patient did not have yet,
        # and the save failed on the stored facts' age constraint (a 500)
        self.client.force_login(self.mark)
        url = reverse("admin:registry_patient_add")
        page = self.client.get(url)
        data = {}
        for inline in page.context["inline_admin_formsets"]:
            formset = inline.formset
            management = formset.management_form
            for name in management.fields:
                data[management.add_prefix(name)] = str(management[name].value())
            if formset.model is PrimaryTumour:
                data[management.add_prefix("TOTAL_FORMS")] = "1"
                for name, value in RECORD_DATA["tumour"].items():
                    data[f"{formset.prefix}-0-{name}"] = value
                data[f"{formset.prefix}-0-diagnosis_date"] = "1940-01-10"
        data.update(
            site=self.north.pk,
            mrn="ADM0001",
            date_of_birth="1950-03-01",
            sex="F",
            presenting_symptom="bleeding",
        )
        self.client.raise_request_exception = False
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "before the date of birth")
        self.assertFalse(Patient.objects.exists())
