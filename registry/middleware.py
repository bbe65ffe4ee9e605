"""Middleware of the registry's own."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers, patch_cache_control


def no_store(get_response):
    """Tell browsers and proxies to keep no copy of any page or download.

    Every page and download the registry serves (static files are answered by
    WhiteNoise before this runs) may carry patient data, so none may be cached:
    ``Cache-Control: no-store`` on top of Django's never-cache headers.
    """

    def middleware(request):
        response = get_response(request)
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True, private=True)
        return response

    return middleware
