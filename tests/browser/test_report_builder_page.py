"""A statistician builds a report in a real browser: the builder's script at work."""

from __future__ import annotations

import io
import re

from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under REQUIRE_BROWSER
    expect = None

from registry.models import Site
from tests.factories import make_user

#: Note in the tab's session storage when "Computing…" is shown (it survives
#: the navigation to the result).
WATCH_COMPUTING = """() => {
  const status = document.querySelector(".computing");
  new MutationObserver(() => {
    if (!status.hidden) sessionStorage.setItem("computing-shown", status.textContent);
  }).observe(status, {attributes: true});
}"""


def analyst(username: str):
    """Return an analyst of the demo sites.

    The groups fixture makes the groups as the registry's migration does; the
    reports' permissions come from analytics' own migration, given here.
    """
    Group.objects.get(name="Analyst").permissions.add(
        *Permission.objects.filter(
            content_type__app_label="analytics",
            codename__in=["run_report", "add_savedreport", "view_savedreport"],
        )
    )
    return make_user(
        username, group="Analyst", sites=Site.objects.filter(is_synthetic=True)
    )


def disabled(page, group: str) -> bool:
    """Return whether the reference group's options of `group` are disabled."""
    return page.eval_on_selector(
        f"#id_reference optgroup[label='{group}']", "group => group.disabled"
    )


def test_analyst_builds_a_report_with_the_builders_help(
    live_server, log_in, groups, screenshot
):
    call_command("seed_demo", stdout=io.StringIO())
    analyst("ann")
    page = log_in("ann")
    page.goto(f"{live_server.url}/reports/new/")

    # Every error beside its field, at once.
    page.get_by_label("Diagnosed from").fill("2008-01-01")
    page.get_by_label("Diagnosed to").fill("2002-01-01")
    page.get_by_label("Count time from").select_option("landmark")
    page.get_by_role("button", name="Run report").click()
    page.wait_for_load_state()
    expect(page.locator("#id_diagnosed_to_errors")).to_have_text(
        "Diagnosed to is before diagnosed from."
    )
    expect(page.locator("#id_landmark_errors")).to_contain_text(
        "Give the landmark time in months"
    )
    screenshot(page, "builder-errors")
    # shown with its error, since the landmark index is still chosen
    expect(page.locator("#field-landmark")).to_be_visible()
    page.goto(f"{live_server.url}/reports/new/")

    # The landmark field only with the landmark index.
    landmark = page.locator("#field-landmark")
    expect(landmark).to_be_hidden()
    page.get_by_label("Count time from").select_option("landmark")
    expect(landmark).to_be_visible()
    page.get_by_label("Count time from").select_option("diagnosis")
    expect(landmark).to_be_hidden()

    # The reference group among the groups of the chosen grouping.
    assert not disabled(page, "Resection strategy")
    assert disabled(page, "Sex")
    page.get_by_label("Cox reference group").select_option("staged")
    page.get_by_label("Compare groups by").select_option("sex")
    assert disabled(page, "Resection strategy")
    assert not disabled(page, "Sex")
    expect(page.get_by_label("Cox reference group")).to_have_value("")
    screenshot(page, "builder")

    # A preset fills the builder.
    page.get_by_role("link", name="RFS by extent").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Endpoint")).to_have_value("rfs")
    expect(page.get_by_label("Compare groups by")).to_have_value("extent")
    expect(page.get_by_label("Cox reference group")).to_have_value("lt25")

    # "Computing the report…" at once, then the result: the page is gone by the
    # time the test could look, so the page itself notes what it showed
    page.get_by_role("link", name="The seed study").click()
    page.wait_for_load_state()
    page.evaluate(WATCH_COMPUTING)
    page.get_by_role("button", name="Run report").click()
    page.wait_for_url(re.compile(r"/reports/result/"))
    page.wait_for_load_state()
    shown = page.evaluate("() => sessionStorage.getItem('computing-shown')")
    assert shown and shown.startswith("Computing the report…"), shown
    expect(page.get_by_role("heading", level=1)).to_contain_text("The seed study")
    screenshot(page, "seed-study-result")


#: For each card of the result page, how far its tables stick out past the
#: card's right edge (pixels; a table in a .table-wrap scrolls inside it, so the
#: wrapper is what must fit), and how far the page is wider than the window.
OVERFLOW = """() => {
  const out = {};
  for (const card of document.querySelectorAll("main section.card")) {
    const title = (card.querySelector("h2") || {}).textContent || "?";
    const right = card.getBoundingClientRect().right;
    for (const table of card.querySelectorAll("table")) {
      const box = table.closest(".table-wrap") || table;
      const over = Math.round(box.getBoundingClientRect().right - right);
      if (over > 0) out[title.trim()] = over;
    }
  }
  out["(page)"] = document.documentElement.scrollWidth
    - document.documentElement.clientWidth;
  return out;
}"""


def test_the_full_reports_tables_fit_their_cards_on_a_tablet_and_a_laptop(
    live_server, log_in, groups
):
    # Found by an audit: the subgroup tables were not wrapped to scroll, and
    # "By liver resection" stuck out 257 px past its card at 820 px (27 px at
    # 1280), the page scrolling sideways. docs/data-entry.md: the pages fit a
    # laptop (1366 pixels) and a tablet (820 pixels).
    call_command("seed_demo", stdout=io.StringIO())
    analyst("ann")
    page = log_in("ann")
    page.goto(f"{live_server.url}/reports/new/?preset=seed-study")
    page.get_by_role("button", name="Run report").click()
    page.wait_for_load_state()
    assert page.locator("h2", has_text="By liver resection").count() == 1
    found = {}
    for width in (820, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(OVERFLOW)
        if overflow.pop("(page)") > 0 or overflow:
            found[width] = overflow
    assert found == {}, f"tables stick out of their cards: {found}"
