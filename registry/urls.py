"""URLs of the registry project."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from registry import views

registry_patterns = [
    path("", views.home, name="home"),
]

urlpatterns = [
    path("", include((registry_patterns, "registry"))),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("reports/", include("analytics.urls")),
    path("admin/", admin.site.urls),
]
