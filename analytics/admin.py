from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.fields import InvalidJSONInput, JSONString
from simple_history.admin import SimpleHistoryAdmin

from analytics.models import ReportRun, SavedReport
from analytics.spec import InvalidSpec, ReportSpec, parse_json
from registry.params import YearLookupsChecked
from registry.useradmin import manageable_users

User = get_user_model()


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
class SavedReportAdmin(YearLookupsChecked, SimpleHistoryAdmin):
    form = SavedReportForm
    list_display = ["name", "owner", "created_at", "updated_at"]
    list_select_related = ["owner"]  # nullable: the admin would not join it
    search_fields = ["name"]
    inlines = [ReportRunInline]

    def get_form(self, request, obj=None, change=False, **kwargs):
        """Offer as owners the users this user manages (and the owner it has):
        not every user of every site."""
        form = super().get_form(request, obj, change=change, **kwargs)
        owners = Q(pk__in=manageable_users(request.user).values("pk"))
        if obj is not None and obj.owner_id:
            owners |= Q(pk=obj.owner_id)
        form.base_fields["owner"].queryset = User.objects.filter(owners)
        return form

    def get_deleted_objects(self, objs, request):
        """Refuse to delete a report with runs this user may not see.

        A run is seen only by who ran it and by managers of every site it
        covers (ReportRun.visible_to): the deletion would take with it runs over
        other sites, the record of what they reported.
        """
        objs = list(objs)
        hidden = (
            ReportRun.objects.filter(saved_report__in=objs)
            .exclude(pk__in=ReportRun.objects.visible_to(request.user).values("pk"))
            .count()
        )
        if hidden:
            return (
                [],
                {},
                set(),
                [
                    f"{hidden} runs over sites you are not a member of (only who ran "
                    "them, a manager of all their sites or a superuser may delete them)"
                ],
            )
        return super().get_deleted_objects(objs, request)
