"""Admin management: data managers fix records, manage sites and review history."""

from __future__ import annotations

import dataclasses

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject, ModelChange
from simple_history.utils import get_m2m_reverse_field_name

from registry import derive, monitor, services, status_admin, summaries
from registry import forms as entry_forms
from registry.admin_a11y import LabelledInlineMixin
from registry.choices import Strategy, VitalStatus
from registry.filters import diagnosis_years, first_diagnosis_year
from registry.models import (
    Death,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    Site,
    SystemicTherapyLine,
)
from registry.params import KEYS, YEARS, YearLookupsChecked, whole_number
from registry.selectors import COUNT_LIMIT, changes_since, count_up_to
from registry.useradmin import manageable_users

admin.site.site_header = "Colorectal cancer outcomes registry"
admin.site.site_title = "CRC registry admin"
admin.site.index_title = "Registry management"


def can_see_identifiers(request) -> bool:
    """Return True if the user may see MRNs and dates of birth."""
    return request.user.has_perm("registry.view_identifiers")


def names_identifier(lookup: str) -> bool:
    """Return True if an admin query-string lookup reaches an identifier field.

    ``mrn``, ``mrn__startswith``, ``patient__date_of_birth__year`` ... all do.
    """
    return any(part in Patient.IDENTIFIER_FIELDS for part in lookup.split("__"))


# --- no lost updates -------------------------------------------------------------


class VersionCheckedForm(forms.ModelForm):
    """An admin form that refuses to save over a version newer than it loaded.

    The version the page was opened at travels in a hidden field, required when
    editing (as in the data-entry forms): a post without it is refused rather
    than saved blind. If the record has been saved since (by the data-entry
    pages, another admin tab or anyone else), the save is refused with who
    changed what, from the history. The admin validates before it saves and
    shows errors without raising, so it cannot claim the row the way
    services.update_record does (a claim would outlive a refused form); it
    compares under select_for_update instead, which locks the row on
    PostgreSQL.
    """

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    change_reason = forms.CharField(
        label="Reason for the change",
        required=False,
        max_length=100,
        help_text="Kept in the change history; required to change verified records.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.reverting:
            # A revert (the admin's history pages) fills the form from an old
            # version but edits the record as stored now: it is checked against
            # the version stored when the page was opened, and saved as the next.
            # What the page does not show stays as stored (an identifier the
            # user may not see, the source system's id), and so does the site a
            # patient is at now: a revert corrects values, it does not undo a
            # transfer of care.
            stored = type(self.instance)._default_manager.get(pk=self.instance.pk)
            for field in self.instance._meta.concrete_fields:
                if field.name not in self.fields or field.name == "site":
                    setattr(
                        self.instance, field.attname, getattr(stored, field.attname)
                    )
            if "site" in self.fields:
                self.initial["site"] = stored.site_id
        if self.instance.pk is not None:
            field = self.fields["loaded_version"]
            field.initial = self.instance.version
            field.required = True
            field.error_messages["required"] = (
                "This form lost the version of the record it was opened at: "
                "open the record again."
            )

    @property
    def reverting(self) -> bool:
        """Return True for the form of a revert (the admin's history pages)."""
        return getattr(self.instance, "_history", None) is not None

    def clean(self):
        cleaned = super().clean()
        # One reason on the page covers its inline records too.
        reason = cleaned.get("change_reason") or self.data.get("change_reason", "")
        # a revert changes the stored record even when posted as shown
        if self.instance.pk is None or self.has_changed() or self.reverting:
            status_admin.check_form(self.instance, reason)
        loaded = cleaned.get("loaded_version")
        if self.instance.pk is None or loaded is None:
            return cleaned  # new record, or the required-field error stands
        model = type(self.instance)
        current = (
            model.objects.select_for_update()
            .filter(pk=self.instance.pk)
            .values_list("version", flat=True)
            .first()
        )
        if current is not None and current != loaded:
            hidden = frozenset(getattr(model, "IDENTIFIER_FIELDS", ()))
            changes = "; ".join(
                change.describe(hidden=hidden)
                for change in changes_since(self.instance, loaded)
            )
            raise ValidationError(
                f"This {model._meta.verbose_name} was changed after you opened it "
                f"({changes or f'version {loaded} is now {current}'}). Your changes "
                "were not saved: reload the page to see the current record, then "
                "make your changes again."
            )
        return cleaned


# --- list filters on derived facts -------------------------------------------


class StrategyFilter(admin.SimpleListFilter):
    title = _("resection strategy")
    parameter_name = "strategy"

    def lookups(self, request, model_admin):
        return Strategy.choices

    def queryset(self, request, queryset):
        if self.value() in Strategy.values:
            return queryset.filter(strategy=self.value())
        return queryset


class VitalStatusFilter(admin.SimpleListFilter):
    title = _("vital status")
    parameter_name = "vital"

    def lookups(self, request, model_admin):
        return VitalStatus.choices

    def queryset(self, request, queryset):
        if self.value() in VitalStatus.values:
            return queryset.filter(facts__vital_status=self.value())
        return queryset


def filtered(queryset, value: str | None, bounds: tuple[int, int], lookup: str):
    """Return `queryset` filtered by `lookup` = `value` (a list filter's, from
    the query string): unfiltered without a value, empty for a value no row
    can have (not a number, out of bounds: registry.params)."""
    if not value:
        return queryset
    number = whole_number(value, bounds)
    if number is None:
        return queryset.none()
    return queryset.filter(**{lookup: number})


class DiagnosisYearFilter(admin.SimpleListFilter):
    title = _("year of diagnosis")
    parameter_name = "diagnosis_year"

    def lookups(self, request, model_admin):
        return [(str(year), str(year)) for year in diagnosis_years(request.user)]

    def queryset(self, request, queryset):
        return filtered(queryset, self.value(), YEARS, "tumour__diagnosis_date__year")


class SiteFilter(admin.SimpleListFilter):
    """The patient's site, among the user's sites (a list of a few rows, where
    the admin's own related filter looks for the sites among every patient)."""

    title = _("site")
    parameter_name = "site__id__exact"

    def lookups(self, request, model_admin):
        sites = Site.objects.for_user(request.user).order_by("code")
        return [(str(site.pk), f"{site.code} – {site.name}") for site in sites]

    def queryset(self, request, queryset):
        return filtered(queryset, self.value(), KEYS, "site_id")


def year_filter(field: str, label: str) -> type[admin.SimpleListFilter]:
    """Return a list filter by the year of a record's date `field`.

    Its years run from the first year of diagnosis of the user's patients
    (first_diagnosis_year: one end of an index) to this year, newest first; the
    admin's date_hierarchy, which it replaces, looked for the years among every
    record (at 10^6 patients, 3 s for the follow-ups' eight million rows).
    """

    class YearFilter(admin.SimpleListFilter):
        title = label
        parameter_name = f"{field}_year"

        def lookups(self, request, model_admin):
            first = first_diagnosis_year(request.user)
            if first is None:
                return []
            years = range(timezone.localdate().year, first - 1, -1)
            return [(str(year), str(year)) for year in years]

        def queryset(self, request, queryset):
            return filtered(queryset, self.value(), YEARS, f"{field}__year")

    return YearFilter


class CappedPaginator(Paginator):
    """A paginator whose count is one ``COUNT`` over a ``LIMIT``
    (selectors.count_up_to): it stops at COUNT_LIMIT rows, as the audit log's
    does (:attr:`exact` says whether it did). Counting every follow-up of a
    national registry (eight million rows at 10^6 patients, joined to their
    sites) took 2 s, and the admin counted twice."""

    limit = COUNT_LIMIT

    @cached_property
    def _counted(self) -> int:
        return count_up_to(self.object_list, self.limit)

    @property
    def exact(self) -> bool:
        """Return whether :attr:`count` is every row, not a floor."""
        return self._counted <= self.limit

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.limit)


# --- patient with its clinical records ---------------------------------------


class RecordInlineFormSet(forms.BaseInlineFormSet):
    """The patient page's records of one kind: a row ticked for deletion is
    deleted as from the record's own delete page, with the page's reason and
    not while its kind is locked; otherwise refused with a message on the page,
    nothing saved (a locked record was a server error)."""

    def clean(self):
        super().clean()
        reason = self.data.get("change_reason", "").strip()
        for form in self.deleted_forms:
            record = form.instance
            if record.pk is None:
                continue
            if not reason:
                raise ValidationError(
                    f"{services.REASON_REQUIRED} (Reason for the change, below)"
                )
            try:
                record.check_deletable()
            except ValidationError as error:
                raise ValidationError(error.messages) from None

    def delete_existing(self, obj, commit=True):
        obj._change_reason = self.data.get("change_reason", "").strip()[:100]
        super().delete_existing(obj, commit=commit)


class PrimaryTumourInline(admin.StackedInline):
    form = VersionCheckedForm
    model = PrimaryTumour
    can_delete = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("diagnosis_date", "primary_site", "anal_verge_cm"),
                    "loaded_version",
                ]
            },
        ),
        (
            "Stage",
            {
                "fields": [
                    ("histology", "grade"),
                    ("clinical_t", "clinical_n", "clinical_m"),
                ]
            },
        ),
        ("Markers", {"fields": [("cea_ng_ml", "kras", "nras", "braf", "mmr")]}),
    ]


class LiverMetastasesInline(admin.StackedInline):
    form = VersionCheckedForm
    model = LiverMetastases
    can_delete = False
    fields = [
        ("timing", "detected_date"),
        ("lesion_count", "largest_mm", "distribution", "extent"),
        ("extrahepatic", "initial_resectability"),
        "loaded_version",
    ]


class RadiationCourseInline(LabelledInlineMixin, admin.TabularInline):
    form = VersionCheckedForm
    formset = RecordInlineFormSet
    model = RadiationCourse
    extra = 0
    # The fields of the data-entry form, so the two never drift apart.
    fields = [*entry_forms.RadiationCourseForm.Meta.fields, "loaded_version"]


class SystemicTherapyLineInline(LabelledInlineMixin, admin.TabularInline):
    form = VersionCheckedForm
    formset = RecordInlineFormSet
    model = SystemicTherapyLine
    extra = 0
    # The fields of the data-entry form, so the two never drift apart.
    fields = [*entry_forms.SystemicTherapyLineForm.Meta.fields, "loaded_version"]


class OperationInline(LabelledInlineMixin, admin.TabularInline):
    form = VersionCheckedForm
    formset = RecordInlineFormSet
    model = Operation
    extra = 0
    # The fields of the data-entry form, so the two never drift apart.
    fields = [*entry_forms.OperationForm.Meta.fields, "loaded_version"]


class FollowUpInline(LabelledInlineMixin, admin.TabularInline):
    form = VersionCheckedForm
    formset = RecordInlineFormSet
    model = FollowUp
    extra = 0
    # The fields of the data-entry form, so the two never drift apart.
    fields = [*entry_forms.FollowUpForm.Meta.fields, "loaded_version"]


class DeathInline(admin.StackedInline):
    form = VersionCheckedForm
    formset = RecordInlineFormSet
    model = Death
    can_delete = True
    fields = [("date", "cause"), "loaded_version"]


@dataclasses.dataclass(frozen=True)
class _Scoped:
    """A record a history URL names: its id, and whether it was deleted."""

    pk: int
    deleted: bool


def _int_or_404(value) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise Http404("No such record.") from None


class ScopedHistoryAdmin(YearLookupsChecked, SimpleHistoryAdmin):
    """History pages (list, version, revert) scoped like the change page.

    django-simple-history reads the history table directly, so without these
    checks a data manager could open, and revert, another site's records. Each
    history URL answers 404 unless the record is in the user's scope (for a
    deleted record: unless the site it was at is one of the user's); a revert
    goes through the change form, so it is validated, version-checked and held
    to the user's sites as an edit is; identifiers stay out of the change lists
    of users who may not see them.
    """

    def history_view(self, request, object_id, extra_context=None):
        self._require_in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        live = self._require_in_scope(request, object_id)
        history = self.model.history.filter(pk=_int_or_404(version_id))
        if not history.filter(**{self.model._meta.pk.attname: live.pk}).exists():
            raise Http404("No such version of this record.")
        if request.method == "POST" and live.deleted:
            raise PermissionDenied("A deleted record cannot be reverted here.")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        if (
            obj is not None
            and not self.model._default_manager.filter(pk=obj.pk).exists()
        ):
            return True
        return super().revert_disabled(request, obj)

    def set_history_delta_changes(
        self, request, historical_records, foreign_keys_are_objs=True
    ):
        # django-simple-history's own loop, with the identifier fields left out
        # of the differences for users who may not see them, and the tracked
        # many-to-many fields (a site's members) read for the whole page at once:
        # its diff_against reads them two to five times per version.
        hidden = [] if can_see_identifiers(request) else list(self.identifier_fields)
        records = list(historical_records)
        many = {
            field.name: self._many_to_many_rows(records, field.name)
            for field in getattr(self.model.history.model, "_history_m2m_fields", ())
        }
        previous = None
        for current in records:
            if previous is not None:
                delta = previous.diff_against(
                    current,
                    excluded_fields=[*hidden, *many],
                    foreign_keys_are_objs=foreign_keys_are_objs,
                )
                changes = [
                    ModelChange(
                        name, rows.get(current.pk, []), rows.get(previous.pk, [])
                    )
                    for name, rows in many.items()
                    if rows.get(current.pk, []) != rows.get(previous.pk, [])
                ]
                if changes:
                    delta = dataclasses.replace(
                        delta,
                        changes=[*delta.changes, *changes],
                        changed_fields=[
                            *delta.changed_fields,
                            *(c.field for c in changes),
                        ],
                    )
                helper = self.get_historical_record_context_helper(request, previous)
                previous.history_delta_changes = helper.context_for_delta_changes(delta)
            previous = current

    def _many_to_many_rows(self, records, name: str) -> dict[int, list[dict]]:
        """Return, by version, the related objects of the tracked field `name`
        (as diff_against gives them: ``{"user": <User>}`` per row, in id order),
        read for all `records` in one query."""
        if not records:
            return {}
        # the versions' rows of the field: simple-history's model of them, each
        # with a "history" key to its version
        through = getattr(type(records[0]), name).model
        related = get_m2m_reverse_field_name(self.model._meta.get_field(name))
        read: dict[int, list[dict]] = {}
        for row in (
            through.objects.filter(history__in=records)
            .select_related(related)
            .order_by(f"{related}_id")
        ):
            value = getattr(row, related) or DeletedObject(
                through._meta.get_field(related).related_model,
                getattr(row, f"{related}_id"),
            )
            read.setdefault(row.history_id, []).append({related: value})
        return read

    @property
    def identifier_fields(self) -> tuple[str, ...]:
        return getattr(self.model, "IDENTIFIER_FIELDS", ())

    def history_site_id(self, historical) -> int | None:
        """Return the site a (possibly deleted) record was at, from its history."""
        raise NotImplementedError

    def _require_in_scope(self, request, object_id) -> _Scoped:
        """Return the record (live or deleted); 404 unless the user may see it."""
        pk = _int_or_404(object_id)
        if self.get_queryset(request).filter(pk=pk).exists():
            return _Scoped(pk=pk, deleted=False)
        if self.model._default_manager.filter(pk=pk).exists():
            raise Http404  # another site's record: do not confirm it exists
        last = (
            self.model.history.filter(**{self.model._meta.pk.attname: pk})
            .order_by("-history_date")
            .first()
        )
        if last is None:
            raise Http404
        site_id = self.history_site_id(last)
        if not (
            request.user.is_superuser
            or Site.objects.for_user(request.user).filter(pk=site_id).exists()
        ):
            raise Http404
        return _Scoped(pk=pk, deleted=True)


class SiteScopedAdmin(status_admin.LockedRecordsAdmin, ScopedHistoryAdmin):
    """Show a data manager only the records of their own sites."""

    form = VersionCheckedForm
    # Counted over a LIMIT (CappedPaginator), once: not again unfiltered for
    # "N results (M total)".
    paginator = CappedPaginator
    show_full_result_count = False
    # nor each filter's choices counted over every row ("Show counts")
    show_facets = admin.ShowFacets.NEVER
    search_help_text = _("A registry number, or its beginning (e.g. NTH-000).")

    site_path = "patient__site"

    def get_search_results(self, request, queryset, search_term):
        """Find the rows whose registry number (search_fields) starts with the
        term, in capitals as the numbers are given: one range of the registry
        numbers' index, where the admin's own search (each word anywhere in
        the number) read every patient (1 s at 10^6). A field marked ``=``
        (the MRN) is matched whole."""
        term = search_term.strip()
        if not term:
            return queryset, False
        found = Q()
        for name in self.get_search_fields(request):
            if name.startswith("="):
                found |= Q(**{f"{name[1:]}__iexact": term})
            else:
                found |= Q(**{f"{name}__startswith": term.upper()})
        return queryset.filter(found), False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.site_path}__members": request.user})

    def get_object(self, request, object_id, from_field=None):
        try:
            return super().get_object(request, object_id, from_field)
        except ValidationError:
            return None  # a malformed id: the admin's "does not exist" page

    def lookup_allowed(self, lookup, value, request):
        # ?mrn=..., ?mrn__startswith=..., ?patient__date_of_birth=... would find
        # a patient by identifier without the right to see identifiers.
        if names_identifier(lookup) and not can_see_identifiers(request):
            return False
        return super().lookup_allowed(lookup, value, request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "patient":
            kwargs["queryset"] = Patient.objects.for_user(request.user)
        if db_field.name == "site":
            kwargs["queryset"] = Site.objects.for_user(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def history_site_id(self, historical) -> int | None:
        if self.model is Patient:
            return historical.site_id
        # The patient's site now, or, if the patient was deleted too, their last.
        site_id = (
            Patient.objects.filter(pk=historical.patient_id)
            .values_list("site_id", flat=True)
            .first()
        )
        if site_id is not None:
            return site_id
        return (
            Patient.history.filter(id=historical.patient_id)
            .order_by("-history_date")
            .values_list("site_id", flat=True)
            .first()
        )


@admin.register(Patient)
class PatientAdmin(SiteScopedAdmin):
    site_path = "site"
    list_display = [
        "registry_number",
        "site_code",
        "diagnosis_date",
        "strategy_display",
        "vital_status_display",
        "last_contact",
    ]
    list_filter = [
        SiteFilter,
        StrategyFilter,
        DiagnosisYearFilter,
        VitalStatusFilter,
        "is_synthetic",
    ]
    list_select_related = ["site"]
    list_per_page = 50
    # The class attribute satisfies autocomplete; get_search_fields adds the MRN.
    search_fields = ["registry_number"]
    search_help_text = _(
        "A registry number, or its beginning (e.g. NTH-000); an MRN, whole, "
        "for users who may see identifiers."
    )
    inlines = [
        PrimaryTumourInline,
        LiverMetastasesInline,
        RadiationCourseInline,
        SystemicTherapyLineInline,
        OperationInline,
        FollowUpInline,
        DeathInline,
    ]
    derived_fields = [
        "strategy_reason",
        "liver_resection",
        "conversion",
        "palliative_later",
        "last_known_contact",
        "is_synthetic",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_derived()

    def get_search_fields(self, request):
        # An MRN search is exact: a partial MRN should not list other patients.
        if can_see_identifiers(request):
            return ["registry_number", "=mrn"]
        return ["registry_number"]

    def get_fieldsets(self, request, obj=None):
        patient = [
            "registry_number",
            "site",
            "sex",
            "age_at_diagnosis",
            "loaded_version",
        ]
        if can_see_identifiers(request):
            patient += ["mrn", "date_of_birth"]
        fieldsets = [
            ("Patient", {"fields": patient}),
            (
                "At presentation",
                {
                    "fields": [
                        "ecog",
                        "asa_class",
                        "charlson_index",
                        "presenting_symptom",
                    ]
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(("Change", {"fields": ["change_reason"]}))
            fieldsets.append(
                (
                    "Derived (computed from the records, read-only)",
                    {"fields": self.derived_fields},
                )
            )
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return self.derived_fields

    @admin.display(description="site", ordering="site__code")
    def site_code(self, obj):
        return obj.site.code

    @admin.display(description="diagnosis", ordering="diagnosis_date")
    def diagnosis_date(self, obj):
        return obj.diagnosis_date

    @admin.display(description="strategy", ordering="strategy")
    def strategy_display(self, obj):
        return Strategy(obj.strategy).label if obj.strategy else "–"

    @admin.display(description="vital status", ordering="vital_status")
    def vital_status_display(self, obj):
        return VitalStatus(obj.vital_status).label

    @admin.display(description="last contact", ordering="last_contact")
    def last_contact(self, obj):
        return obj.last_contact

    # The read-only fields show the patient's stored derived facts.

    @admin.display(description="resection strategy")
    def strategy_reason(self, obj):
        facts = obj.facts
        return derive.strategy_from_dates(
            facts.first_primary_resection, facts.first_liver_resection
        ).describe()

    @admin.display(description="liver resected", boolean=True)
    def liver_resection(self, obj):
        return obj.facts.liver_resected

    @admin.display(description="converted to resectable", boolean=True)
    def conversion(self, obj):
        return obj.facts.converted

    @admin.display(description="later palliative surgery", boolean=True)
    def palliative_later(self, obj):
        return obj.facts.later_palliative

    @admin.display(description="last known contact")
    def last_known_contact(self, obj):
        return obj.facts.last_contact


class PatientRecordAdmin(SiteScopedAdmin):
    """A clinical record that belongs to one patient."""

    autocomplete_fields = ["patient"]
    list_select_related = ["patient"]
    search_fields = ["patient__registry_number"]

    def get_readonly_fields(self, request, obj=None):
        # A record stays with the patient it was added to, as on the data-entry
        # pages and in the API: moved, the patient it left kept facts derived
        # from it, and a move onto a locked patient passed the form's lock check.
        fixed = ["patient"] if obj is not None else []
        return [*super().get_readonly_fields(request, obj), *fixed]


@admin.register(PrimaryTumour)
class PrimaryTumourAdmin(PatientRecordAdmin):
    list_display = [
        "patient",
        "diagnosis_date",
        "primary_site",
        "clinical_t",
        "clinical_n",
        "clinical_m",
    ]
    list_filter = [
        year_filter("diagnosis_date", _("year of diagnosis")),
        "primary_site",
        "clinical_m",
        "histology",
        "kras",
        "mmr",
    ]


@admin.register(LiverMetastases)
class LiverMetastasesAdmin(PatientRecordAdmin):
    list_display = [
        "patient",
        "timing",
        "lesion_count",
        "largest_mm",
        "distribution",
        "extent",
        "initial_resectability",
    ]
    list_filter = [
        "timing",
        "distribution",
        "extent",
        "extrahepatic",
        "initial_resectability",
    ]


@admin.register(RadiationCourse)
class RadiationCourseAdmin(PatientRecordAdmin):
    list_display = [
        "patient",
        "course_type",
        "start_date",
        "end_date",
        "total_dose_gy",
        "fractions",
        "completed",
    ]
    list_filter = [
        year_filter("start_date", _("year started")),
        "course_type",
        "concurrent_agent",
        "completed",
    ]


@admin.register(SystemicTherapyLine)
class SystemicTherapyLineAdmin(PatientRecordAdmin):
    list_display = [
        "patient",
        "setting",
        "regimen",
        "biologic",
        "start_date",
        "end_date",
        "cycles",
        "best_response",
    ]
    list_filter = [
        year_filter("start_date", _("year started")),
        "setting",
        "regimen",
        "biologic",
        "stop_reason",
        "best_response",
    ]


@admin.register(Operation)
class OperationAdmin(PatientRecordAdmin):
    list_display = [
        "patient",
        "date",
        "primary_procedure",
        "liver_procedure",
        "palliative_procedure",
        "intent",
        "margin",
        "clavien_dindo",
    ]
    list_filter = [
        year_filter("date", _("year of operation")),
        "primary_procedure",
        "liver_procedure",
        "palliative_procedure",
        "intent",
        "margin",
        "clavien_dindo",
        "emergency",
    ]


@admin.register(FollowUp)
class FollowUpAdmin(PatientRecordAdmin):
    list_display = ["patient", "date", "contact_type", "disease_status", "cea_ng_ml"]
    list_filter = [
        year_filter("date", _("year of contact")),
        "contact_type",
        "disease_status",
    ]


@admin.register(Death)
class DeathAdmin(PatientRecordAdmin):
    list_display = ["patient", "date", "cause"]
    list_filter = [year_filter("date", _("year of death")), "cause"]


@admin.register(Site)
class SiteAdmin(ScopedHistoryAdmin):
    list_display = ["code", "name", "patient_count", "is_synthetic"]
    search_fields = ["code", "name"]
    filter_horizontal = ["members"]
    readonly_fields = ["is_synthetic"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(Q(members=request.user))

    def get_changelist_instance(self, request):
        # Each site's patients as the home page counts them (kept per version
        # of the site's data, registry.summaries): not counted again per page
        # with a join of every patient (1.2 s at 10^6 patients).
        changelist = super().get_changelist_instance(request)
        counts = {
            row["site"]: row["n"]
            for row in monitor.kept_patients_by_site(summaries.Scope(request.user))
        }
        changelist.result_list = list(changelist.result_list)
        for site in changelist.result_list:
            site.n_patients = counts.get(site.pk, 0)
        return changelist

    def get_deleted_objects(self, objs, request):
        """Refuse, in one query, to delete a site that has patients.

        Its patients are protected (a patient is moved or deleted on its own):
        Django would list every one of them, asking for each whether it may be
        deleted, a page of 10^5 rows and queries at a national registry's size.
        """
        objs = list(objs)
        counts = dict(
            Patient.objects.filter(site__in=objs)
            .values("site")
            .annotate(n=Count("pk"))
            .values_list("site", "n")
        )
        if counts:
            return (
                [],
                {},
                set(),
                [
                    f"{site}: {counts[site.pk]} patients (move them to another site, "
                    "or delete them, first)"
                    for site in objs
                    if site.pk in counts
                ],
            )
        return super().get_deleted_objects(objs, request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "members":
            # A data manager adds to their sites only the users they manage.
            kwargs["queryset"] = manageable_users(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        site = form.instance
        # Members the form could not show (users not theirs to manage) stay
        # members; read before the form's save replaces the members.
        kept = (
            []
            if request.user.is_superuser
            else list(site.members.exclude(pk__in=manageable_users(request.user)))
        )
        super().save_related(request, form, formsets, change)
        if not request.user.is_superuser:
            # Whoever creates or edits a site stays able to open it.
            site.members.add(request.user, *kept)

    def history_site_id(self, historical) -> int | None:
        return historical.id

    @admin.display(description="patients")
    def patient_count(self, obj):
        return obj.n_patients
