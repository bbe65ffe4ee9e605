from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString
from simple_history.admin import SimpleHistoryAdmin

from analytics.models import ReportRun, SavedReport
from analytics.spec import InvalidSpec, ReportSpec, parse_json


class SpecField(forms.JSONField):
    """A specification as JSON text, read within the specification's limits.

    forms.JSONField reads the text with bare json.loads, which raises
    RecursionError on deeply nested input (a 500); spec.parse_json refuses
    text that is too large or too deep with a message.
    """

    def to_python(self, value):
        if self.disabled or isinstance(value, list | dict | int | float | JSONString):
            return value
        if value in self.empty_values:
            return None
        try:
            return parse_json(value)
        except InvalidSpec as exc:
            raise ValidationError(exc.errors, code="invalid") from None

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return parse_json(data)
        except InvalidSpec:
            return InvalidJSONInput(data)


class SavedReportForm(forms.ModelForm):
    spec = SpecField(help_text=SavedReport._meta.get_field("spec").help_text)

    class Meta:
        model = SavedReport
        fields = ["name", "spec", "owner"]

    def clean_spec(self):
        """Return the specification as the builder saves it, or list its errors."""
        try:
            return ReportSpec.from_dict(self.cleaned_data["spec"]).to_dict()
        except InvalidSpec as exc:
            raise ValidationError(
                ["This specification cannot be run:", *exc.errors], code="invalid"
            ) from None


class ReportRunInline(admin.TabularInline):
    model = ReportRun
    extra = 0
    can_delete = False
    fields = [
        "run_at",
        "run_by",
        "data_cutoff",
        "patients",
        "fingerprint",
        "software_version",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        # as on the saved report's page: only the runs this user may open, each
        # with who ran it (and its report, which the inline reads) in one query
        runs = super().get_queryset(request).visible_to(request.user)
        return runs.select_related("run_by", "saved_report")


@admin.register(SavedReport)
class SavedReportAdmin(SimpleHistoryAdmin):
    form = SavedReportForm
    list_display = ["name", "owner", "created_at", "updated_at"]
    list_select_related = ["owner"]  # nullable: the admin would not join it
    search_fields = ["name"]
    inlines = [ReportRunInline]
