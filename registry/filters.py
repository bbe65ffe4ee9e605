"""Filters of the patient list (django-filter)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models.functions import ExtractYear
from django.utils import timezone

from registry import quality
from registry.choices import Strategy, VitalStatus
from registry.models import Patient, PrimaryTumour, Site


def _sites(request):
    if request is None:
        return Site.objects.none()
    return Site.objects.for_user(request.user)


class PatientFilter(django_filters.FilterSet):
    """Filters over ``selectors.patient_rows``: the derived facts are annotations."""

    registry_number = django_filters.CharFilter(
        label="Registry number",
        lookup_expr="icontains",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "e.g. NTH-00012"}
        ),
    )
    site = django_filters.ModelChoiceFilter(queryset=_sites, empty_label="All sites")
    strategy = django_filters.ChoiceFilter(
        label="Resection strategy", choices=Strategy.choices, empty_label="Any"
    )
    diagnosis_year = django_filters.ChoiceFilter(
        label="Year of diagnosis",
        field_name="diagnosis_date",
        lookup_expr="year",
        empty_label="Any",
    )
    vital_status = django_filters.ChoiceFilter(
        label="Vital status", choices=VitalStatus.choices, empty_label="Any"
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
        self.form.label_suffix = ""
        user = self.request.user
        years = (
            PrimaryTumour.objects.filter(patient__in=Patient.objects.for_user(user))
            .annotate(year=ExtractYear("diagnosis_date"))
            .order_by("-year")
            .values_list("year", flat=True)
            .distinct()
        )
        self.filters["diagnosis_year"].extra["choices"] = [
            (str(year), str(year)) for year in years
        ]

    def filter_overdue(self, queryset, name, value):
        if not value:
            return queryset
        cutoff = quality.overdue_cutoff(timezone.localdate())
        return queryset.filter(vital_status=VitalStatus.ALIVE, last_contact__lt=cutoff)

    def filter_check(self, queryset, name, value):
        failing = quality.filter_check(
            Patient.objects.all(), value, today=timezone.localdate()
        )
        return queryset.filter(pk__in=failing.values("pk"))
