"""URLs of the REST API, under /api/v1/ (namespace "api").

Every view here answers an anonymous request itself (401), so the login
middleware's redirect to the login page, meant for browsers, is lifted.
"""

from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from registry.api.transfers import DictionaryApi, ImportApi
from registry.api.views import (
    RECORD_PATHS,
    RECORD_VIEWSETS,
    PatientViewSet,
)

app_name = "api"


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI from the sidecar's static files; styles in a file (CSP)."""

    template_name = "registry/api_docs.html"
    url_name = "api:schema"
    title = "CRC registry API"


router = SimpleRouter()
router.register("patients", PatientViewSet, basename="patient")
for slug, prefix in RECORD_PATHS.items():
    router.register(prefix, RECORD_VIEWSETS[slug], basename=slug)

urlpatterns = [
    *router.urls,
    path("dictionary/", DictionaryApi.as_view(), name="dictionary"),
    path("import/", ImportApi.as_view(), name="import"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]
for pattern in urlpatterns:
    login_not_required(pattern.callback)
# The documentation is a page for a browser: anonymous visitors log in first.
# (REST framework marks its views login_not_required: required again here.)
urlpatterns.append(path("docs/", login_required(DocsView.as_view()), name="docs"))
