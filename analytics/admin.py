from django.contrib import admin

from analytics.models import ReportRun, SavedReport


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
        # as on the saved report's page: only the runs this user may open
        return super().get_queryset(request).visible_to(request.user)


@admin.register(SavedReport)
class SavedReportAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_at", "updated_at"]
    search_fields = ["name"]
    inlines = [ReportRunInline]
