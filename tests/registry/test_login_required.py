"""Every URL sends an anonymous visitor to a login page."""

import re

from django.test import TestCase
from django.urls import URLPattern, URLResolver, get_resolver

# Pages a visitor must reach before logging in (login and password reset).
PUBLIC = {
    "accounts/login/",
    "admin/login/",
    "accounts/password_reset/",
    "accounts/password_reset/done/",
    "accounts/reset/1/1/",
    "accounts/reset/done/",
}
#: The REST API answers an anonymous request 401, asking for a token, instead of
#: sending a program to a login page; its documentation page is a page.
API = "/api/"
API_PAGES = {"/api/v1/docs/"}


def all_paths(patterns=None, prefix=""):
    """Yield a concrete path for every URL pattern, with sample arguments."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from all_paths(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield _concrete(route)


def _concrete(route: str) -> str:
    route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\/", "/")
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
    route = re.sub(r"<(?:int:|path:|slug:|str:|uuid:)?(\w+)>", "1", route)
    route = re.sub(r"[\^$?*+\\]", "", route)
    return "/" + route


class LoginRequiredTests(TestCase):
    def test_every_url_redirects_an_anonymous_visitor_to_login(self):
        paths = sorted(set(all_paths()) - {"/" + p for p in PUBLIC})
        self.assertGreater(len(paths), 20)
        for path in paths:
            with self.subTest(path=path):
                response = self.client.get(path)
                if path.startswith(API) and path not in API_PAGES:
                    self.assertEqual(response.status_code, 401, path)
                    self.assertIn("Bearer", response["WWW-Authenticate"])
                    continue
                self.assertIn(response.status_code, (301, 302), path)
                location = response["Location"]
                self.assertRegex(location, r"/(accounts|admin)/login/", path)

    def test_login_page_is_reachable_anonymously(self):
        response = self.client.get("/accounts/login/")
        self.assertContains(response, "Log in")

    def test_post_to_a_page_is_also_redirected(self):
        response = self.client.post("/", {})
        self.assertEqual(response.status_code, 302)
        self.assertIn("/accounts/login/", response["Location"])
