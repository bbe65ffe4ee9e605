"""URLs of the registry project."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from registry import accounts, transfer_views, views, views_monitor

# The admin's login asks for the second factor as the registry's does.
admin.site.login_form = accounts.AdminLoginForm
admin.site.login_template = "accounts/admin_login.html"

registry_patterns = [
    path("", views.home, name="home"),
    path("worklist.csv", views.worklist_export, name="worklist_export"),
    path("patients/", views.patient_list, name="patient_list"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient_detail"),
    path("patients/<int:pk>/edit/", views.patient_update, name="patient_update"),
    path("patients/<int:pk>/delete/", views.patient_delete, name="patient_delete"),
    path(
        "patients/<int:pk>/<slug:kind>/add/",
        views.record_create,
        name="record_create",
    ),
    path(
        "patients/<int:pk>/<slug:kind>/<int:record_pk>/edit/",
        views.record_update,
        name="record_update",
    ),
    path(
        "patients/<int:pk>/<slug:kind>/<int:record_pk>/delete/",
        views.record_delete,
        name="record_delete",
    ),
    path("data-quality/", views.data_quality, name="data_quality"),
    # monitoring: form status, data queries, the audit trail (views_monitor)
    path(
        "patients/<int:pk>/status/<slug:kind>/",
        views_monitor.record_status,
        name="record_status",
    ),
    path(
        "patients/<int:pk>/queries/new/",
        views_monitor.query_create,
        name="query_create",
    ),
    path("patients/<int:pk>/audit/", views_monitor.patient_audit, name="patient_audit"),
    path("queries/", views_monitor.query_list, name="query_list"),
    path("queries/<int:query_pk>/", views_monitor.query_detail, name="query_detail"),
    path("audit/", views_monitor.audit_log, name="audit_log"),
    path("audit/export/", views_monitor.audit_export, name="audit_export"),
    path("dictionary/", transfer_views.data_dictionary, name="data_dictionary"),
    path(
        "dictionary/<str:fmt>/",
        transfer_views.data_dictionary_download,
        name="data_dictionary_download",
    ),
    path("import/", transfer_views.import_records, name="import_records"),
    path("export/", transfer_views.export_full, name="export_full"),
]

# Django's names and views, with the registry's templates (templates/registration/).
# The four reset views are already marked login_not_required by Django, so
# LoginRequiredMiddleware lets an anonymous visitor reach them.
account_patterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=accounts.LoginForm),
        name="login",
    ),
    path("two-factor/", accounts.two_factor, name="two_factor"),
    # Django's logout, password change and password reset views, with their names
    # (the registry's templates are in templates/registration/).
    path("", include("django.contrib.auth.urls")),
]

urlpatterns = [
    path("", include((registry_patterns, "registry"))),
    path("accounts/", include(account_patterns)),
    path("reports/", include("analytics.urls")),
    path("admin/", admin.site.urls),
]
