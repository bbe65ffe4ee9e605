"""The API's pages in a real browser: the tokens page and the documentation page
(Swagger UI from the registry's own files, under its strict Content Security
Policy: nothing inline, nothing from another origin)."""

from __future__ import annotations

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under REQUIRE_BROWSER
    expect = None

from registry.models import ApiToken
from registry.models.tokens import hash_key
from tests.factories import make_site, make_user


def test_docs_page_renders_every_endpoint_without_a_refused_resource(
    live_server, log_in, groups, screenshot
):
    north = make_site(code="NTH", name="North Hospital")
    make_user("nina", group="Data entry", sites=[north])
    page = log_in("nina")
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if message.type == "error" else None
        ),
    )
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(live_server.url)
            and not request.url.startswith("data:")
            else None
        ),
    )
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=20000)
    expect(page.get_by_text("/api/v1/patients/{id}/").first).to_be_visible()
    screenshot(page, "api-docs")
    assert problems == [], problems
    assert outside == [], outside


def test_nurse_makes_and_revokes_a_token(live_server, log_in, groups, screenshot):
    north = make_site(code="NTH", name="North Hospital")
    make_user("nina", group="Data entry", sites=[north])
    page = log_in("nina")
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("R scripts")
    page.get_by_label("Valid for").select_option("30")
    page.get_by_role("button", name="Make token").click()
    key = page.locator(".token-key").inner_text()
    screenshot(page, "api-token-made")
    token = ApiToken.objects.get()
    assert token.key_hash == hash_key(key)
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("revoked", exact=False).first).to_be_visible()
    token.refresh_from_db()
    assert token.revoked_at is not None
