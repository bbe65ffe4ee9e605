"""Every URL of the registry, for every role, at the user's own site and another.

The matrix names each URL pattern (registry, reports, accounts, and the admin's
pages of every model, history, version and revert pages included) and what each
kind of user gets from it: a page, a refusal (403), nothing (404: another site's
record is not confirmed to exist), or the login page (302). A URL pattern added
without a line here fails test_every_url_pattern_is_in_the_matrix.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import TestCase
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from analytics.models import ReportRun, SavedReport
from registry.api.tokens import create_token
from registry.queries import open_query
from tests.factories import make_death, make_full_patient, make_site, make_user

ROLES = ("anonymous", "nurse", "manager", "analyst", "superuser")
LOGIN = 302  # anonymous: sent to a login page; non-staff in the admin: likewise

#: The query of a small report every reporting role may run.
REPORT_QUERY = (
    "group_by=sex&endpoint=os&index=diagnosis&time_unit=months&times=12&"
    "conf_type=log-log&conf_level=0.95&as_of=2009-12-31&baseline=age"
)


@dataclass(frozen=True)
class Case:
    """What each role gets from one URL, at their own site and at another.

    ``own`` and ``other`` map a role to its status code; ``other`` is empty for
    URLs that name nothing site-scoped.
    """

    own_url: str
    own: dict[str, int]
    other_url: str | None = None
    other: dict[str, int] = field(default_factory=dict)


def statuses(anonymous=LOGIN, nurse=200, manager=200, analyst=200, superuser=200):
    return {
        "anonymous": anonymous,
        "nurse": nurse,
        "manager": manager,
        "analyst": analyst,
        "superuser": superuser,
    }


def route_names(patterns=None, namespace=""):
    """Yield the name (namespace:name) of every URL pattern, or its route."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}{pattern.namespace}:"
            yield from route_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}" if pattern.name else str(pattern.pattern)


# --- the admin's model pages --------------------------------------------------

#: What the Data manager group may do with each model in the admin, and whether
#: its objects belong to a site (another site's: 404 or the admin's redirect).
ADMIN_MODELS = {
    "registry.patient": ("full", True),
    "registry.primarytumour": ("full", True),
    "registry.livermetastases": ("full", True),
    "registry.radiationcourse": ("full", True),
    "registry.systemictherapyline": ("full", True),
    "registry.operation": ("full", True),
    "registry.followup": ("full", True),
    "registry.death": ("full", True),
    "registry.site": ("full", True),
    "auth.user": ("users", True),
    "auth.group": ("view", False),
    "axes.accessattempt": ("unlock", True),
    "axes.accesslog": ("none", True),
    "axes.accessfailurelog": ("none", True),
    "otp_totp.totpdevice": ("unlock", True),
    "otp_static.staticdevice": ("unlock", True),
    "analytics.savedreport": ("full", False),
}
ACTIONS = {
    "full": {"changelist", "add", "change", "delete", "history", "simple_history"},
    "users": {"changelist", "add", "change", "history", "password_change"},
    "view": {"changelist", "change", "history"},
    "unlock": {"changelist", "change", "delete", "history"},  # and reset 2FA
    "none": set(),
}
#: Models whose history pages are django-simple-history's, scoped by site (404).
SCOPED_HISTORY = {
    "registry.patient",
    "registry.primarytumour",
    "registry.livermetastases",
    "registry.radiationcourse",
    "registry.systemictherapyline",
    "registry.operation",
    "registry.followup",
    "registry.death",
    "registry.site",
}
#: Pages of a model that do not exist for anyone (django-axes' logs are written
#: by logins, never added or edited by hand).
NOBODY = {
    "axes.accesslog": {"add"},
    "axes.accessfailurelog": {"add"},
    "axes.accessattempt": {"add"},
}


def admin_case(label: str, action: str, own, other) -> Case:
    """Return the expectations of one admin page of one model."""
    app, model = label.split(".")
    name = f"admin:{app}_{model}_{action}"
    access, scoped = ADMIN_MODELS[label]
    allowed = action in ACTIONS[access] and action not in NOBODY.get(label, set())

    def url(obj):
        if action in ("changelist", "add"):
            return reverse(name)
        if action == "simple_history":
            return reverse(name, args=[obj.pk, obj.history.earliest().history_id])
        return reverse(name, args=[obj.pk])

    def status(obj_is_other: bool) -> int:
        if not allowed:
            return 403
        if not obj_is_other or action in ("changelist", "add"):
            return 200
        if action in ("history", "simple_history") and label in SCOPED_HISTORY:
            return 404
        if action in ("simple_history", "password_change"):
            return 404
        return 302  # the admin sends a missing object back with a message

    superuser = 403 if action in NOBODY.get(label, set()) else 200
    own_statuses = statuses(
        nurse=LOGIN, analyst=LOGIN, manager=status(False), superuser=superuser
    )
    if not scoped or other is None or action in ("changelist", "add"):
        return Case(url(own), own_statuses)
    return Case(
        url(own),
        own_statuses,
        url(other),
        statuses(nurse=LOGIN, analyst=LOGIN, manager=status(True), superuser=superuser),
    )


class AccessMatrixTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.north = make_site(code="NTH", name="North Hospital")
        cls.south = make_site(code="STH", name="South Hospital")
        cls.users = {
            "nurse": make_user("nina", group="Data entry", sites=[cls.north]),
            "manager": make_user(
                "nora", group="Data manager", sites=[cls.north], is_staff=True
            ),
            "analyst": make_user("ann", group="Analyst", sites=[cls.north]),
            "superuser": make_user("root", is_superuser=True, is_staff=True),
        }
        cls.sam = make_user("sam", group="Data entry", sites=[cls.south])
        cls.stella = make_user(
            "stella", group="Data manager", sites=[cls.south], is_staff=True
        )
        # Five patients a site: reports for analysts need the minimum cell.
        cls.own = [make_full_patient(site=cls.north) for _ in range(5)]
        cls.other = [make_full_patient(site=cls.south) for _ in range(5)]
        for patient in (cls.own[0], cls.other[0]):
            make_death(patient, date=datetime.date(2008, 6, 1))
        # A data query at each site (registry.queries).
        cls.own_query, cls.other_query = (
            open_query(
                patient=patient,
                kind="patient",
                record_id=patient.pk,
                field="ecog",
                question="ECOG?",
                user=cls.users["superuser"],
            )
            for patient in (cls.own[0], cls.other[0])
        )
        cls.saved = SavedReport.objects.create(
            name="Matrix", spec={"group_by": "sex"}, owner=cls.users["analyst"]
        )
        cls.own_run = _run(cls.saved, cls.users["analyst"], [cls.north])
        cls.other_run = _run(cls.saved, cls.stella, [cls.south])
        for user in (cls.users["nurse"], cls.sam):
            AccessAttempt.objects.create(
                username=user.username, ip_address="10.0.0.1", failures_since_start=1
            )
            AccessLog.objects.create(username=user.username, ip_address="10.0.0.1")
            AccessFailureLog.objects.create(
                username=user.username, ip_address="10.0.0.1"
            )
            TOTPDevice.objects.create(user=user, name="phone")
            StaticDevice.objects.create(user=user, name="backup")
        cls.token, _ = create_token(user=cls.users["nurse"], name="matrix")

    def objects(self, label: str):
        """Return (own, other) objects of a model for the admin's pages."""
        own, other = self.own[0], self.other[0]
        nurse = self.users["nurse"]
        match label:
            case "registry.patient":
                return own, other
            case "registry.primarytumour":
                return own.tumour, other.tumour
            case "registry.livermetastases":
                return own.liver, other.liver
            case "registry.radiationcourse":
                return own.radiation_courses.first(), other.radiation_courses.first()
            case "registry.systemictherapyline":
                return own.systemic_lines.first(), other.systemic_lines.first()
            case "registry.operation":
                return own.operations.first(), other.operations.first()
            case "registry.followup":
                return own.followups.first(), other.followups.first()
            case "registry.death":
                return own.death, other.death
            case "registry.site":
                return self.north, self.south
            case "auth.user":
                return nurse, self.sam
            case "auth.group":
                return Group.objects.get(name="Data entry"), None
            case "analytics.savedreport":
                return self.saved, None
        model = {
            "axes.accessattempt": AccessAttempt,
            "axes.accesslog": AccessLog,
            "axes.accessfailurelog": AccessFailureLog,
            "otp_totp.totpdevice": TOTPDevice,
            "otp_static.staticdevice": StaticDevice,
        }[label]
        by = "username" if label.startswith("axes") else "user"
        return (
            model.objects.get(**{by: nurse if by == "user" else nurse.username}),
            model.objects.get(**{by: self.sam if by == "user" else "sam"}),
        )

    def matrix(self) -> dict[str, Case]:
        """Return the expected status of every URL pattern, by role and site."""
        own, other = self.own[0], self.other[0]
        own_op, other_op = own.operations.first(), other.operations.first()
        patient_page = statuses(analyst=403)
        patient_other = statuses(nurse=404, manager=404, analyst=403)
        reports = statuses(nurse=403)
        cases = {
            "registry:home": Case(reverse("registry:home"), statuses()),
            "registry:patient_list": Case(
                reverse("registry:patient_list"), patient_page
            ),
            "registry:patient_create": Case(
                reverse("registry:patient_create"), patient_page
            ),
            "registry:data_quality": Case(
                reverse("registry:data_quality"), patient_page
            ),
        }
        for name in ("patient_detail", "patient_update"):
            cases[f"registry:{name}"] = Case(
                reverse(f"registry:{name}", args=[own.pk]),
                patient_page,
                reverse(f"registry:{name}", args=[other.pk]),
                patient_other,
            )
        cases["registry:patient_delete"] = Case(
            reverse("registry:patient_delete", args=[own.pk]),
            statuses(nurse=403, analyst=403),
            reverse("registry:patient_delete", args=[other.pk]),
            statuses(nurse=403, manager=404, analyst=403),
        )
        cases["registry:record_create"] = Case(
            reverse("registry:record_create", args=[own.pk, "operation"]),
            patient_page,
            reverse("registry:record_create", args=[other.pk, "operation"]),
            patient_other,
        )
        for name in ("record_update", "record_delete"):
            cases[f"registry:{name}"] = Case(
                reverse(f"registry:{name}", args=[own.pk, "operation", own_op.pk]),
                patient_page,
                reverse(f"registry:{name}", args=[other.pk, "operation", other_op.pk]),
                patient_other,
            )
        # --- data in and out: the dictionary for everyone, import and full
        # export for data managers, the de-identified export for analysts too
        data_manager = statuses(nurse=403, analyst=403)
        cases |= {
            "registry:data_dictionary": Case(
                reverse("registry:data_dictionary"), statuses()
            ),
            "registry:data_dictionary_download": Case(
                reverse("registry:data_dictionary_download", args=["csv"]), statuses()
            ),
            "registry:import_records": Case(
                reverse("registry:import_records"), data_manager
            ),
            "registry:export_full": Case(reverse("registry:export_full"), data_manager),
            "analytics:deidentified_export": Case(
                reverse("analytics:deidentified_export"), statuses(nurse=403)
            ),
        }
        # --- monitoring: form status, data queries, audit trail
        managers_only = statuses(nurse=403, analyst=403)
        cases |= {
            # POST only: a GET is refused whoever asks
            "registry:record_status": Case(
                reverse("registry:record_status", args=[own.pk, "operation"]),
                statuses(LOGIN, 405, 405, 405, 405),
                reverse("registry:record_status", args=[other.pk, "operation"]),
                statuses(LOGIN, 405, 405, 405, 405),
            ),
            "registry:query_create": Case(
                reverse("registry:query_create", args=[own.pk]),
                managers_only,
                reverse("registry:query_create", args=[other.pk]),
                statuses(nurse=403, manager=404, analyst=403),
            ),
            "registry:patient_audit": Case(
                reverse("registry:patient_audit", args=[own.pk]),
                patient_page,
                reverse("registry:patient_audit", args=[other.pk]),
                patient_other,
            ),
            "registry:query_list": Case(reverse("registry:query_list"), patient_page),
            "registry:query_detail": Case(
                reverse("registry:query_detail", args=[self.own_query.pk]),
                patient_page,
                reverse("registry:query_detail", args=[self.other_query.pk]),
                patient_other,
            ),
            "registry:audit_log": Case(reverse("registry:audit_log"), managers_only),
            "registry:worklist_export": Case(
                reverse("registry:worklist_export"), patient_page
            ),
            "registry:audit_export": Case(
                reverse("registry:audit_export"), managers_only
            ),
        }
        # --- accounts: the reset pages are for people who cannot log in
        public = statuses(anonymous=200)
        cases |= {
            "login": Case(reverse("login"), public),
            # logging out is a POST; a GET is refused
            "logout": Case(reverse("logout"), statuses(LOGIN, 405, 405, 405, 405)),
            "password_change": Case(reverse("password_change"), statuses()),
            "password_change_done": Case(reverse("password_change_done"), statuses()),
            "password_reset": Case(reverse("password_reset"), public),
            "password_reset_done": Case(reverse("password_reset_done"), public),
            "password_reset_confirm": Case(
                reverse("password_reset_confirm", args=["MQ", "bad-token"]), public
            ),
            "password_reset_complete": Case(reverse("password_reset_complete"), public),
            "two_factor": Case(reverse("two_factor"), statuses()),
        }
        # --- reports
        run_other = statuses(nurse=403, manager=404, analyst=404)
        cases |= {
            "analytics:report_list": Case(reverse("analytics:report_list"), reports),
            "analytics:report_new": Case(reverse("analytics:report_new"), reports),
            "analytics:report_result": Case(
                reverse("analytics:report_result") + "?" + REPORT_QUERY, reports
            ),
            "analytics:report_download": Case(
                reverse("analytics:report_download", args=["json"])
                + "?"
                + REPORT_QUERY,
                reports,
            ),
            # POST only: a GET is refused whoever asks
            "analytics:report_save": Case(
                reverse("analytics:report_save"), statuses(LOGIN, 405, 405, 405, 405)
            ),
            "analytics:saved_report_detail": Case(
                reverse("analytics:saved_report_detail", args=[self.saved.pk]), reports
            ),
            "analytics:saved_report_run": Case(
                reverse("analytics:saved_report_run", args=[self.saved.pk]),
                statuses(LOGIN, 405, 405, 405, 405),
            ),
            "analytics:report_run_detail": Case(
                reverse("analytics:report_run_detail", args=[self.own_run.pk]),
                reports,
                reverse("analytics:report_run_detail", args=[self.other_run.pk]),
                run_other,
            ),
            "analytics:report_run_download": Case(
                reverse(
                    "analytics:report_run_download", args=[self.own_run.pk, "json"]
                ),
                reports,
                reverse(
                    "analytics:report_run_download", args=[self.other_run.pk, "json"]
                ),
                run_other,
            ),
        }
        cases |= self._api_cases()
        # --- the admin's own pages
        staff = statuses(nurse=LOGIN, analyst=LOGIN)
        patient_type = ContentType.objects.get_for_model(own)
        cases |= {
            "admin:index": Case(reverse("admin:index"), staff),
            "admin:login": Case(
                reverse("admin:login"), statuses(200, 200, 302, 200, 302)
            ),
            "admin:logout": Case(
                reverse("admin:logout"), statuses(LOGIN, LOGIN, 405, LOGIN, 405)
            ),
            "admin:password_change": Case(reverse("admin:password_change"), staff),
            "admin:password_change_done": Case(
                reverse("admin:password_change_done"), staff
            ),
            "admin:jsi18n": Case(reverse("admin:jsi18n"), staff),
            # without its parameters the autocomplete refuses everyone
            "admin:autocomplete": Case(
                reverse("admin:autocomplete"),
                statuses(nurse=LOGIN, analyst=LOGIN, manager=403, superuser=403),
            ),
            "admin:view_on_site": Case(
                reverse("admin:view_on_site", args=[patient_type.pk, own.pk]),
                statuses(nurse=LOGIN, analyst=LOGIN, manager=302, superuser=302),
            ),
            "admin:app_list": Case(reverse("admin:app_list", args=["registry"]), staff),
            # the catch-all: an unknown admin URL; the object URL: to its page
            "(?P<url>.*)$": Case(
                "/admin/no-such-page/",
                statuses(nurse=LOGIN, analyst=LOGIN, manager=404, superuser=404),
            ),
        }
        for label in ADMIN_MODELS:
            own_obj, other_obj = self.objects(label)
            app, model = label.split(".")
            actions = ["changelist", "add", "change", "delete", "history"]
            if label == "auth.user":
                actions.append("password_change")
            if label in SCOPED_HISTORY or label == "analytics.savedreport":
                actions.append("simple_history")
            for action in actions:
                cases[f"admin:{app}_{model}_{action}"] = admin_case(
                    label, action, own_obj, other_obj
                )
        cases["<path:object_id>/"] = Case(
            f"/admin/registry/patient/{own.pk}/",
            statuses(nurse=LOGIN, analyst=LOGIN, manager=302, superuser=302),
        )
        cases["admin:otp_totp_totpdevice_config"] = self._device_page("config")
        cases["admin:otp_totp_totpdevice_qrcode"] = self._device_page("qrcode")
        return cases

    def _api_cases(self) -> dict[str, Case]:
        """The REST API (a browser session here; tokens act as their user).

        An anonymous request is answered 401 (the API asks for a token), not
        sent to the login page; the documentation page is a page for a browser.
        """
        own, other = self.own[0], self.other[0]
        api = statuses(anonymous=401, analyst=403)
        api_other = statuses(anonymous=401, nurse=404, manager=404, analyst=403)
        cases = {
            "api:patient-list": Case(reverse("api:patient-list"), api),
            "api:patient-detail": Case(
                reverse("api:patient-detail", args=[own.pk]),
                api,
                reverse("api:patient-detail", args=[other.pk]),
                api_other,
            ),
            "api:schema": Case(reverse("api:schema"), statuses(anonymous=401)),
            "api:dictionary": Case(reverse("api:dictionary"), statuses(anonymous=401)),
            # POST only: a GET is refused to whoever may import (data managers)
            "api:import": Case(
                reverse("api:import"),
                statuses(401, nurse=403, manager=405, analyst=403, superuser=405),
            ),
            "api:docs": Case(reverse("api:docs"), statuses()),
            # POST only: a GET is refused to whoever may run reports
            "analytics_api:report_run": Case(
                reverse("analytics_api:report_run"),
                statuses(401, nurse=403, manager=405, analyst=405, superuser=405),
            ),
            "api_tokens": Case(reverse("api_tokens"), statuses()),
            # POST only; the token is the nurse's (another's would be 404)
            "api_token_revoke": Case(
                reverse("api_token_revoke", args=[self.token.pk]),
                statuses(LOGIN, 405, 405, 405, 405),
            ),
        }
        records = {
            "tumour": (own.tumour, other.tumour),
            "liver": (own.liver, other.liver),
            "radiation": (
                own.radiation_courses.first(),
                other.radiation_courses.first(),
            ),
            "systemic": (own.systemic_lines.first(), other.systemic_lines.first()),
            "operation": (own.operations.first(), other.operations.first()),
            "followup": (own.followups.first(), other.followups.first()),
            "death": (own.death, other.death),
        }
        for kind, (own_record, other_record) in records.items():
            cases[f"api:{kind}-list"] = Case(reverse(f"api:{kind}-list"), api)
            cases[f"api:{kind}-detail"] = Case(
                reverse(f"api:{kind}-detail", args=[own_record.pk]),
                api,
                reverse(f"api:{kind}-detail", args=[other_record.pk]),
                api_other,
            )
        return cases

    def _device_page(self, page: str) -> Case:
        # Secrets of other people's authenticators are never shown in the admin
        # (OTP_ADMIN_HIDE_SENSITIVE_DATA): refused even to superusers.
        own = TOTPDevice.objects.get(user=self.users["nurse"])
        return Case(
            reverse(f"admin:otp_totp_totpdevice_{page}", args=[own.pk]),
            statuses(nurse=LOGIN, analyst=LOGIN, manager=403, superuser=403),
        )

    def test_every_url_pattern_is_in_the_matrix(self):
        matrix = self.matrix()
        missing = sorted(
            {name for name in route_names() if not name.startswith("^")} - set(matrix)
        )
        self.assertEqual(missing, [], "URL patterns without a line in the matrix")

    def test_every_role_gets_what_the_matrix_says(self):
        # A client a role, logged in once (logging in and out around each of
        # the matrix's 1,240 requests took a third of the test's time).
        matrix = self.matrix()
        clients = {role: self.client_class() for role in ROLES}
        for role in ROLES[1:]:
            clients[role].force_login(self.users[role])
        for name, case in matrix.items():
            for scope, url, expected in (
                ("own", case.own_url, case.own),
                ("other", case.other_url, case.other),
            ):
                if url is None:
                    continue
                for role in ROLES:
                    with self.subTest(url=name, scope=scope, role=role):
                        response = clients[role].get(url)
                        self.assertEqual(response.status_code, expected[role], url)
                        if expected[role] == LOGIN and role == "anonymous":
                            self.assertRegex(
                                response["Location"], r"/(accounts|admin)/login/"
                            )
        # No page ended its user's session, which would have let their later
        # requests pass wherever the matrix expects the login page.
        for role in ROLES[1:]:
            with self.subTest(still_logged_in=role):
                self.assertEqual(
                    clients[role].session.get(SESSION_KEY), str(self.users[role].pk)
                )
        self.assertNotIn(SESSION_KEY, clients["anonymous"].session)


def _run(saved: SavedReport, user, sites) -> ReportRun:
    """Return a stored run of `saved` by `user` over `sites`."""
    from analytics import export
    from analytics.reports import run_report
    from analytics.spec import ReportSpec

    spec = ReportSpec.from_dict({"group_by": "sex", "as_of": "2009-12-31"})
    report = run_report(spec, user=user)
    run = ReportRun.objects.create(
        saved_report=saved,
        run_by=user,
        software_version="test",
        data_cutoff=spec.as_of,
        fingerprint=report.fingerprint,
        patients=report["cohort"]["analysed"],
        result=export.result_json(report),
    )
    run.sites.set(sites)
    return run
