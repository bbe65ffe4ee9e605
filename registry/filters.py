"""Filters of the patient list (django-filter)."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils import timezone

from registry import quality
from registry.choices import Strategy, VitalStatus
from registry.models import Patient, PrimaryTumour, Site


def _sites(request):
    if request is None:
        return Site.objects.none()
    return Site.objects.for_user(request.user)


def _diagnosis_dates(user):
    """Return the dates of diagnosis of `user`'s patients, oldest first, along
    their index (tumour_diagnosis_idx)."""
    return (
        PrimaryTumour.objects.filter(
            patient__in=Patient.objects.for_user(user), diagnosis_date__isnull=False
        )
        .order_by("diagnosis_date")
        .values_list("diagnosis_date", flat=True)
    )


def first_diagnosis_year(user) -> int | None:
    """Return the year of `user`'s first diagnosis (one read of an index)."""
    first = _diagnosis_dates(user).first()
    return first.year if first else None


def diagnosis_years(user) -> range:
    """Return the years of diagnosis of `user`'s patients, newest first, from
    the first to the last: two reads from the ends of an index
    (tumour_diagnosis_idx), not an aggregate over every patient."""
    dates = _diagnosis_dates(user)
    first, last = dates.first(), dates.reverse().first()
    return range(last.year, first.year - 1, -1) if last else range(0)


class PatientFilter(django_filters.FilterSet):
    """Filters over plain patient querysets (``Patient.objects.for_user``).

    The filters on derived facts select the patients through a subquery, so the
    filtered queryset stays free of aggregates: counting it for the paginator
    is then cheap unless a derived filter is in use, and the list's columns are
    annotated onto the page by ``selectors.patient_rows``.
    """

    registry_number = django_filters.CharFilter(
        label="Registry number",
        lookup_expr="icontains",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    site = django_filters.ModelChoiceFilter(queryset=_sites, empty_label="All sites")
    strategy = django_filters.ChoiceFilter(
        label="Resection strategy",
        choices=Strategy.choices,
        method="filter_strategy",
        empty_label="Any",
    )
    diagnosis_year = django_filters.ChoiceFilter(
        label="Year of diagnosis",
        field_name="tumour__diagnosis_date",
        lookup_expr="year",
        empty_label="Any",
    )
    vital_status = django_filters.ChoiceFilter(
        label="Vital status",
        choices=VitalStatus.choices,
        method="filter_vital_status",
        empty_label="Any",
    )
    overdue = django_filters.BooleanFilter(
        label="Follow-up overdue",
        method="filter_overdue",
        widget=forms.CheckboxInput,
    )
    check = django_filters.ChoiceFilter(
        label="Data quality check",
        choices=[(check.code, check.title) for check in quality.CHECKS],
        method="filter_check",
        empty_label="Any",
    )

    class Meta:
        model = Patient
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        years = self.filters["diagnosis_year"]
        if isinstance(years, django_filters.ChoiceFilter):  # the page's list
            years.extra["choices"] = [
                (str(year), str(year)) for year in diagnosis_years(self.request.user)
            ]
        self.form.label_suffix = ""  # builds the form: after the choices are set
        self.set_placeholder()

    def set_placeholder(self) -> None:
        """Show an example the user can find: a registry number of their site."""
        site = _sites(self.request).order_by("code").first()
        example = f"e.g. {site.registry_prefix()}00012" if site else ""
        self.form.fields["registry_number"].widget.attrs["placeholder"] = example

    @property
    def is_filtered(self) -> bool:
        """Return True if any filter narrows the list (an unticked box does not)."""
        if not self.is_bound or not self.form.is_valid():
            return False
        return any(
            value not in (None, "", False) for value in self.form.cleaned_data.values()
        )

    def filter_strategy(self, queryset, name, value):
        return queryset.filter(facts__strategy=value)

    def filter_vital_status(self, queryset, name, value):
        return queryset.filter(facts__vital_status=value)

    def filter_overdue(self, queryset, name, value):
        if not value:
            return queryset
        return self.filter_check(queryset, name, "overdue")

    def filter_check(self, queryset, name, value):
        failing = quality.filter_check(queryset, value, today=timezone.localdate())
        return queryset.filter(pk__in=failing.values("pk"))
