"""Forms of the monitoring pages: status moves, data queries, the audit log's filter."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.text import capfirst

from registry import audit, queries
from registry.forms import iso_date_input
from registry.models import Site
from registry.models.queries import QueryAction
from registry.models.status import FormStatus


class StatusForm(forms.Form):
    """Move one kind of a patient's records to another status."""

    to = forms.TypedChoiceField(coerce=int, choices=FormStatus.choices)
    reason = forms.CharField(label="Reason", required=False, max_length=200, strip=True)


class QueryForm(forms.Form):
    """Open a data query on one field of one of the patient's records."""

    record = forms.ChoiceField(label="Record")
    field = forms.ChoiceField(label="Field")
    question = forms.CharField(
        label="Question",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text='Say what looks wrong, e.g. "CEA 1530 — typo for 153?"',
    )

    def __init__(self, *args, records: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["record"].choices = records
        kinds = {value.split(":")[0] for value, _ in records}
        self.fields["field"].choices = [
            (
                audit.KIND_LABELS[kind],
                [
                    (f"{kind}.{field.name}", capfirst(field.verbose_name))
                    for field in queries.queryable_fields(kind)
                ],
            )
            for kind in audit.AUDITED
            if kind in kinds
        ]

    def clean(self):
        cleaned = super().clean()
        record, field = cleaned.get("record"), cleaned.get("field")
        if record and field:
            kind, record_id = record.split(":")
            field_kind, name = field.split(".")
            if field_kind != kind:
                self.add_error(
                    "field",
                    f"{queries.field_label(field_kind, name)} is not a field of "
                    f"the {audit.KIND_LABELS[kind].lower()}: choose one of its fields.",
                )
            cleaned.update(kind=kind, record_id=int(record_id), field_name=name)
        return cleaned


class QueryStepForm(forms.Form):
    action = forms.ChoiceField(choices=QueryAction.choices[1:])
    text = forms.CharField(
        label="Answer or note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
    )


class AuditFilterForm(forms.Form):
    """The registry audit log's filter: user, site, record kind, dates."""

    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="Anyone"
    )
    site = forms.ModelChoiceField(
        queryset=Site.objects.none(), required=False, empty_label="All your sites"
    )
    kind = forms.ChoiceField(
        label="Record kind",
        required=False,
        choices=[("", "All kinds"), *audit.KIND_LABELS.items()],
    )
    date_from = forms.DateField(label="From", required=False, widget=iso_date_input())
    date_to = forms.DateField(label="To", required=False, widget=iso_date_input())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        sites = Site.objects.for_user(user)
        self.fields["site"].queryset = sites
        self.fields["user"].queryset = (
            get_user_model()
            .objects.filter(registry_sites__in=sites)
            .distinct()
            .order_by("username")
        )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", f"The end ({end}) is before the start ({start}).")
        return cleaned

    def log_filter(self, user) -> audit.LogFilter:
        """Return the filter the valid form describes, within the user's sites."""
        data = self.cleaned_data
        sites = Site.objects.for_user(user)
        if data.get("site"):
            sites = sites.filter(pk=data["site"].pk)
        return audit.LogFilter(
            site_ids=tuple(sites.values_list("pk", flat=True)),
            user_id=data["user"].pk if data.get("user") else None,
            kind=data.get("kind") or None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
