"""The admin holds data managers to their sites, their users and their rights."""

import datetime
from unittest import mock

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.urls import reverse

from registry import services
from registry import status as form_status
from registry.models import Operation, Patient, PrimaryTumour, Site
from registry.models.status import FormStatus
from tests.cast import CastTestCase
from tests.factories import make_full_patient, make_patient, make_site, make_user

User = get_user_model()


def form_data(response) -> dict:
    """Return the POST data of the admin form a GET response shows, as loaded."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        if isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        else:
            data[name] = "on" if value is True else str(value)
    return data


class AdminScopeTestCase(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # Nora: data manager of North only.
        cls.nora = make_user(
            "nora", group="Data manager", sites=[cls.north], is_staff=True
        )
        cls.own = make_full_patient(site=cls.north)
        cls.other = make_full_patient(site=cls.south)

    def setUp(self):
        self.client.force_login(self.nora)


class AdminHistoryScopeTests(AdminScopeTestCase):
    def history_urls(self, obj):
        model = obj._meta.model_name
        version = obj.history.earliest().history_id
        return {
            "history": reverse(f"admin:registry_{model}_history", args=[obj.pk]),
            "version": reverse(
                f"admin:registry_{model}_simple_history", args=[obj.pk, version]
            ),
        }

    def test_another_sites_patient_history_and_versions_are_not_found(self):
        for page, url in self.history_urls(self.other).items():
            with self.subTest(page=page):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 404)
                self.assertNotContains(response, self.other.mrn, status_code=404)

    def test_own_sites_patient_history_and_versions_open(self):
        for page, url in self.history_urls(self.own).items():
            with self.subTest(page=page):
                self.assertEqual(self.client.get(url).status_code, 200)

    def test_every_record_kind_of_another_site_has_no_history_page(self):
        for record in (
            self.other.tumour,
            self.other.liver,
            self.other.operations.first(),
            self.other.followups.first(),
        ):
            for page, url in self.history_urls(record).items():
                with self.subTest(model=record._meta.model_name, page=page):
                    self.assertEqual(self.client.get(url).status_code, 404)

    def test_reverting_another_sites_patient_is_refused_and_changes_nothing(self):
        url = self.history_urls(self.other)["version"]
        response = self.client.post(
            url,
            {
                "registry_number": self.other.registry_number,
                "site": self.north.pk,
                "sex": "M",
                "mrn": self.other.mrn,
                "date_of_birth": "1950-05-17",
                "loaded_version": self.other.version,
                "presenting_symptom": "none",
            },
        )
        self.assertEqual(response.status_code, 404)
        self.other.refresh_from_db()
        self.assertEqual((self.other.site, self.other.sex), (self.south, "F"))

    def test_a_version_of_another_record_cannot_be_named_under_an_own_record(self):
        foreign = self.other.history.earliest().history_id
        url = reverse(
            "admin:registry_patient_simple_history", args=[self.own.pk, foreign]
        )
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_a_malformed_id_in_a_history_url_is_not_found(self):
        for url in (
            "/admin/registry/patient/abc/history/",
            f"/admin/registry/patient/{self.own.pk}/history/abc/",
            "/admin/registry/patient/abc/change/",
        ):
            with self.subTest(url=url):
                self.assertIn(self.client.get(url).status_code, (302, 404))

    def test_deleted_patients_history_follows_the_site_they_were_at(self):
        own_gone = make_patient(site=self.north)
        other_gone = make_patient(site=self.south)
        own_url = reverse("admin:registry_patient_history", args=[own_gone.pk])
        other_url = reverse("admin:registry_patient_history", args=[other_gone.pk])
        own_gone.delete()
        other_gone.delete()
        self.assertEqual(self.client.get(own_url).status_code, 200)
        self.assertEqual(self.client.get(other_url).status_code, 404)

    def test_revert_restores_the_old_values_as_a_new_version_by_the_manager(self):
        operation = self.own.operations.get()
        original = operation.margin
        operation.margin = "R1"
        operation.save()
        first = operation.history.earliest()
        url = reverse(
            "admin:registry_operation_simple_history",
            args=[operation.pk, first.history_id],
        )
        page = self.client.get(url)
        data = form_data(page)
        self.assertEqual(data.get("margin", ""), original)
        self.assertEqual(data["loaded_version"], "2")  # the version stored now
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 302)
        operation.refresh_from_db()
        self.assertEqual((operation.margin, operation.version), (original, 3))
        self.assertEqual(operation.history.latest().history_user, self.nora)

    def test_revert_over_a_version_saved_meanwhile_is_refused(self):
        operation = self.own.operations.get()
        first = operation.history.earliest()
        url = reverse(
            "admin:registry_operation_simple_history",
            args=[operation.pk, first.history_id],
        )
        data = form_data(self.client.get(url))
        operation.margin = "R2"
        operation.save()  # someone saves while the revert page is open
        response = self.client.post(url, data)
        self.assertContains(response, "was changed after you opened it")
        operation.refresh_from_db()
        self.assertEqual(operation.margin, "R2")

    def test_revert_is_validated_like_an_edit(self):
        operation = self.own.operations.get()
        url = reverse(
            "admin:registry_operation_simple_history",
            args=[operation.pk, operation.history.earliest().history_id],
        )
        data = form_data(self.client.get(url))
        response = self.client.post(url, {**data, "date": "2999-01-01"})
        self.assertContains(response, "cannot be in the future")
        self.assertEqual(Operation.objects.get(pk=operation.pk).date, operation.date)

    def test_identifier_changes_stay_out_of_history_for_staff_without_the_right(self):
        self.own.mrn = "NEWMRN777"
        self.own.save()
        url = reverse("admin:registry_patient_history", args=[self.own.pk])
        self.assertContains(self.client.get(url), "NEWMRN777")
        self.client.force_login(staff_without_identifiers(self.north))
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "NEWMRN777")


def staff_without_identifiers(site: Site):
    """Return a staff user who may view patients in the admin, not identifiers."""
    user = make_user("stan", sites=[site], is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "view_patient",
                "view_historicalpatient",
                "view_operation",
            ]
        )
    )
    return user


class AdminIdentifierLookupTests(AdminScopeTestCase):
    def test_identifier_lookups_are_refused_for_staff_without_the_right(self):
        self.client.force_login(staff_without_identifiers(self.north))
        url = reverse("admin:registry_patient_changelist")
        self.assertEqual(self.client.get(url).status_code, 200)
        for query in (
            {"mrn": self.own.mrn},
            {"mrn__startswith": self.own.mrn[:4]},
            {"mrn__exact": self.own.mrn},
            {"date_of_birth": "1950-05-17"},
            {"date_of_birth__year": "1950"},
        ):
            with self.subTest(query=query):
                response = self.client.get(url, query)
                self.assertEqual(response.status_code, 400)

    def test_record_lists_refuse_lookups_through_the_patient_too(self):
        self.client.force_login(staff_without_identifiers(self.north))
        url = reverse("admin:registry_operation_changelist")
        response = self.client.get(url, {"patient__mrn": self.own.mrn})
        self.assertEqual(response.status_code, 400)

    def test_users_with_the_right_may_look_up_by_identifier(self):
        url = reverse("admin:registry_patient_changelist")
        response = self.client.get(url, {"mrn": self.own.mrn})
        self.assertContains(response, self.own.registry_number)
        self.assertNotContains(response, self.other.registry_number)


class AdminSiteTests(AdminScopeTestCase):
    def test_site_filter_lists_only_the_managers_sites(self):
        url = reverse("admin:registry_patient_changelist")
        self.assertNotContains(self.client.get(url), "South Hospital")
        self.client.force_login(self.mark)  # both sites
        response = self.client.get(url)
        self.assertContains(response, "NTH – North Hospital")
        self.assertContains(response, "STH – South Hospital")

    def test_a_manager_who_creates_a_site_can_open_it(self):
        response = self.client.post(
            reverse("admin:registry_site_add"),
            {"code": "EST", "name": "East Hospital"},
        )
        self.assertEqual(response.status_code, 302)
        site = Site.objects.get(code="EST")
        self.assertIn(self.nora, site.members.all())
        change = reverse("admin:registry_site_change", args=[site.pk])
        self.assertEqual(self.client.get(change).status_code, 200)

    def test_editing_a_site_keeps_members_the_manager_does_not_manage(self):
        self.north.members.add(self.ann)  # Ann is at South too: not Nora's
        change = reverse("admin:registry_site_change", args=[self.north.pk])
        page = self.client.get(change)
        choices = page.context["adminform"].form.fields["members"].queryset
        self.assertNotIn(self.ann, choices)
        data = form_data(page)
        offered = {str(pk) for pk in choices.values_list("pk", flat=True)}
        data["members"] = [pk for pk in data["members"] if pk in offered]
        response = self.client.post(change, {**data, "name": "North General"})
        self.assertEqual(response.status_code, 302)
        members = set(self.north.members.all())
        self.assertTrue({self.ann, self.mark, self.nina, self.nora} <= members)

    def test_another_sites_page_and_history_are_not_found(self):
        # The admin's change page sends a missing object back to the index.
        for name, status in (("change", 302), ("history", 404)):
            url = reverse(f"admin:registry_site_{name}", args=[self.south.pk])
            with self.subTest(page=name):
                self.assertEqual(self.client.get(url).status_code, status)


class AdminUserManagementTests(AdminScopeTestCase):
    def user_change(self, user, **changes):
        url = reverse("admin:auth_user_change", args=[user.pk])
        data = form_data(self.client.get(url))
        data.update(changes)
        return self.client.post(url, data)

    def test_a_manager_cannot_make_themselves_superuser_or_give_permissions(self):
        identifiers = Permission.objects.get(codename="view_identifiers")
        response = self.user_change(
            self.nora,
            is_superuser="on",
            user_permissions=[str(identifiers.pk)],
            is_staff="on",
        )
        self.assertEqual(response.status_code, 302)
        self.nora.refresh_from_db()
        self.assertFalse(self.nora.is_superuser)
        self.assertFalse(self.nora.user_permissions.exists())

    def test_a_manager_gives_only_the_registry_groups(self):
        auditors = Group.objects.create(name="Auditors")
        auditors.permissions.add(Permission.objects.get(codename="delete_patient"))
        response = self.user_change(self.nina, groups=[str(auditors.pk)])
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Select a valid choice")
        self.assertFalse(self.nina.groups.filter(name="Auditors").exists())

    def test_a_user_of_another_group_is_not_the_managers_to_take_over(self):
        # Found by an audit: Nora set the password of a North user in a group a
        # superuser made, with rights over the groups, then could log in as him
        auditors = Group.objects.create(name="Auditors")
        auditors.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="auth", codename__in=["change_group"]
            )
        )
        vic = make_user("vic", group="Auditors", sites=[self.north])
        response = self.client.post(
            reverse("admin:auth_user_password_change", args=[vic.pk]),
            {
                "usable_password": "true",
                "password1": "nora knows this one now",
                "password2": "nora knows this one now",
            },
        )
        self.assertEqual(response.status_code, 404)
        vic.refresh_from_db()
        self.assertFalse(vic.check_password("nora knows this one now"))
        listed = self.client.get(reverse("admin:auth_user_changelist"))
        self.assertNotIn(vic, listed.context["cl"].result_list)

    def test_a_manager_sees_only_the_users_of_their_own_sites(self):
        response = self.client.get(reverse("admin:auth_user_changelist"))
        usernames = {u.username for u in response.context["cl"].result_list}
        self.assertEqual(usernames, {"nina", "nora"})
        for user in (self.sam, self.mark, self.ann):
            for name in ("change", "password_change"):
                url = reverse(f"admin:auth_user_{name}", args=[user.pk])
                with self.subTest(user=user.username, page=name):
                    self.assertIn(self.client.get(url).status_code, (302, 404))

    def test_a_manager_cannot_set_the_password_of_a_user_of_another_site(self):
        url = reverse("admin:auth_user_password_change", args=[self.sam.pk])
        response = self.client.post(
            url,
            {
                "password1": "a new long passphrase",
                "password2": "a new long passphrase",
            },
        )
        self.assertIn(response.status_code, (302, 404))
        self.sam.refresh_from_db()
        self.assertTrue(self.sam.check_password("correct horse battery staple"))

    def test_superusers_are_not_the_managers_to_manage(self):
        boss = make_user("boss", sites=[self.north], is_superuser=True)
        url = reverse("admin:auth_user_change", args=[boss.pk])
        self.assertIn(self.client.get(url).status_code, (302, 404))

    def test_a_manager_adds_a_user_to_their_sites_with_a_registry_group(self):
        entry = Group.objects.get(name="Data entry")
        response = self.client.post(
            reverse("admin:auth_user_add"),
            {
                "username": "newnurse",
                "usable_password": "true",
                "password1": "a long enough passphrase",
                "password2": "a long enough passphrase",
                "groups": [str(entry.pk)],
                "sites": [str(self.north.pk)],
            },
        )
        self.assertEqual(response.status_code, 302)
        user = User.objects.get(username="newnurse")
        self.assertEqual(list(user.registry_sites.all()), [self.north])
        self.assertFalse(user.is_staff)

    def test_a_manager_cannot_add_a_user_to_another_site(self):
        response = self.client.post(
            reverse("admin:auth_user_add"),
            {
                "username": "spy",
                "usable_password": "true",
                "password1": "a long enough passphrase",
                "password2": "a long enough passphrase",
                "sites": [str(self.south.pk)],
            },
        )
        self.assertContains(response, "Select a valid choice")
        self.assertFalse(User.objects.filter(username="spy").exists())

    def test_staff_status_follows_the_data_manager_group(self):
        manager_group = Group.objects.get(name="Data manager")
        self.user_change(self.nina, groups=[str(manager_group.pk)])
        self.nina.refresh_from_db()
        self.assertTrue(self.nina.is_staff)
        entry = Group.objects.get(name="Data entry")
        self.user_change(self.nina, groups=[str(entry.pk)], is_staff="on")
        self.nina.refresh_from_db()
        self.assertFalse(self.nina.is_staff)

    def test_superuser_still_manages_everyone(self):
        boss = make_user("boss", is_superuser=True, is_staff=True)
        self.client.force_login(boss)
        response = self.client.get(reverse("admin:auth_user_changelist"))
        usernames = {u.username for u in response.context["cl"].result_list}
        self.assertTrue({"sam", "mark", "ann", "nina"} <= usernames)


class AccessAttemptAdminTests(AdminScopeTestCase):
    def test_a_manager_sees_and_clears_lockouts_of_their_users_only(self):
        from axes.models import AccessAttempt

        mine = AccessAttempt.objects.create(
            username="nina", ip_address="10.0.0.1", failures_since_start=5
        )
        AccessAttempt.objects.create(
            username="sam", ip_address="10.0.0.1", failures_since_start=5
        )
        response = self.client.get(reverse("admin:axes_accessattempt_changelist"))
        listed = {a.username for a in response.context["cl"].result_list}
        self.assertEqual(listed, {"nina"})
        delete = reverse("admin:axes_accessattempt_delete", args=[mine.pk])
        self.assertEqual(self.client.post(delete, {"post": "yes"}).status_code, 302)
        self.assertFalse(AccessAttempt.objects.filter(username="nina").exists())


class TwoFactorResetTests(AdminScopeTestCase):
    def test_a_manager_resets_two_factor_of_their_users_only(self):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        mine = TOTPDevice.objects.create(user=self.nina, name="phone")
        TOTPDevice.objects.create(user=self.sam, name="phone")
        url = reverse("admin:otp_totp_totpdevice_changelist")
        listed = {d.user for d in self.client.get(url).context["cl"].result_list}
        self.assertEqual(listed, {self.nina})
        page = self.client.get(
            reverse("admin:otp_totp_totpdevice_change", args=[mine.pk])
        )
        self.assertNotContains(page, mine.key)  # the secret is never shown
        delete = reverse("admin:otp_totp_totpdevice_delete", args=[mine.pk])
        self.assertEqual(self.client.post(delete, {"post": "yes"}).status_code, 302)
        self.assertFalse(TOTPDevice.objects.filter(user=self.nina).exists())


class RegistryNumberTests(AdminScopeTestCase):
    def test_numbers_count_up_per_site_from_the_sites_counter(self):
        site = make_site(code="WST")
        first, second = make_patient(site=site), make_patient(site=site)
        self.assertEqual(
            [first.registry_number, second.registry_number], ["WST-00001", "WST-00002"]
        )
        site.refresh_from_db()
        self.assertEqual(site.last_registry_number, 2)

    def test_a_number_given_by_hand_is_skipped(self):
        site = make_site(code="WST")
        make_patient(site=site, registry_number="WST-00001")
        self.assertEqual(make_patient(site=site).registry_number, "WST-00002")

    def test_duplicate_mrn_saved_meanwhile_is_the_forms_message_not_a_500(self):
        # The race: the other nurse's patient was saved after this one passed
        # validation, so only the database's unique constraint sees it.
        patient = Patient(
            site=self.north, mrn=self.own.mrn, date_of_birth=datetime.date(1950, 5, 17)
        )
        patient.sex = "F"
        patient.presenting_symptom = "bleeding"
        tumour = PrimaryTumour(
            diagnosis_date=datetime.date(2004, 1, 10),
            primary_site="rectum_mid",
            clinical_t="T3",
            clinical_n="N1a",
            clinical_m="M1a",
            histology="adeno",
            kras="nt",
            nras="nt",
            braf="nt",
            mmr="nt",
        )
        with (
            mock.patch.object(Patient, "validate_constraints"),
            self.assertRaises(ValidationError) as raised,
        ):
            services.create_patient(patient=patient, tumour=tumour)
        self.assertIn("exists at this site", str(raised.exception.message_dict["mrn"]))
        self.assertEqual(raised.exception.part, "patient")
        self.assertIsNone(patient.pk)
        self.assertEqual(patient.registry_number, "")
        self.assertEqual(Patient.objects.filter(mrn=self.own.mrn).count(), 1)


class RevertAsAManagerExpectsTests(CastTestCase):
    """Found by an audit of the history: a revert posted as shown was a server
    error for a verified or locked record, undid a transfer of care, and wrote
    back fields its page does not show."""

    def revert(self, record, version, **extra):
        self.client.force_login(self.mark)
        url = reverse(
            f"admin:registry_{record._meta.model_name}_simple_history",
            args=[record.pk, version.history_id],
        )
        data = form_data(self.client.get(url))
        data.update(extra)
        return self.client.post(url, data)

    def changed_operation(self):
        patient = make_full_patient(site=self.north)
        operation = patient.operations.get()
        first = operation.history.earliest()
        operation.margin = "R2"
        operation.save()
        return patient, operation, first

    def test_a_verified_record_reverted_without_a_reason_is_a_form_error(self):
        patient, operation, first = self.changed_operation()
        for to in (FormStatus.COMPLETE, FormStatus.VERIFIED):
            form_status.set_status(
                patient=patient, kind="operation", to=to, user=self.mark
            )
        response = self.revert(operation, first)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "give a reason")
        self.assertEqual(Operation.objects.get(pk=operation.pk).margin, "R2")

    def test_a_locked_record_reverted_as_shown_is_refused_with_a_message(self):
        patient, operation, first = self.changed_operation()
        for to in (FormStatus.COMPLETE, FormStatus.VERIFIED, FormStatus.LOCKED):
            form_status.set_status(
                patient=patient, kind="operation", to=to, user=self.mark
            )
        response = self.revert(operation, first, change_reason="typo")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Locked")
        self.assertEqual(Operation.objects.get(pk=operation.pk).margin, "R2")

    def test_a_revert_keeps_the_patient_at_the_site_they_were_moved_to(self):
        patient = make_full_patient(site=self.north)
        before_typo = patient.history.latest()
        patient.ecog = 3
        patient.save()
        patient.site = self.south
        patient._change_reason = "transfer of care"
        patient.save()
        response = self.revert(patient, before_typo, change_reason="ECOG typo")
        self.assertEqual(response.status_code, 302)
        patient.refresh_from_db()
        self.assertEqual((patient.ecog, patient.site), (None, self.south))

    def test_a_revert_writes_back_no_field_its_page_does_not_show(self):
        patient = make_full_patient(site=self.north)
        first = patient.history.latest()
        patient.source_record_id = "SRC-1"  # set by an import, not on the page
        patient.ecog = 3
        patient.save()
        response = self.revert(patient, first, change_reason="ECOG typo")
        self.assertEqual(response.status_code, 302)
        patient.refresh_from_db()
        self.assertEqual((patient.ecog, patient.source_record_id), (None, "SRC-1"))
