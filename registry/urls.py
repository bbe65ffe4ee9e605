"""URLs of the registry project."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from registry import views

registry_patterns = [
    path("", views.home, name="home"),
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
]

urlpatterns = [
    path("", include((registry_patterns, "registry"))),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("reports/", include("analytics.urls")),
    path("admin/", admin.site.urls),
]
