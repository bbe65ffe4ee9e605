"""A data manager queries, verifies and locks; the nurse answers; the trail tells it.

In a real browser (tests/browser/conftest.py): the manager raises a query on a
CEA value, the nurse corrects the value and answers, marks the diagnosis
complete; the manager closes the query, verifies and locks the diagnosis; the
nurse's next edit of the locked diagnosis is refused; the patient's audit trail
tells the whole story in words.
"""

from __future__ import annotations

import importlib
import re
from decimal import Decimal

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under REQUIRE_BROWSER
    expect = None

from registry.models import DataQuery, PrimaryTumour
from tests.factories import make_full_patient, make_site, make_user


@pytest.fixture
def monitoring_permissions(groups):
    """Give the groups the status and query permissions (migration 0010)."""
    from django.apps import apps

    saved = {config.label: config.models_module for config in apps.get_app_configs()}
    try:
        importlib.import_module("registry.migrations.0010_r11_status_triggers").grant(
            apps, None
        )
    finally:
        for config in apps.get_app_configs():
            config.models_module = saved[config.label]


def click(page, name: str) -> None:
    page.get_by_role("button", name=name).click()
    page.wait_for_load_state()


def test_query_answer_verify_lock_and_the_audit_trail(
    live_server, log_in, monitoring_permissions, screenshot
):
    north = make_site(code="NTH", name="North Hospital")
    nina = make_user("nina", group="Data entry", sites=[north])
    make_user("mark", group="Data manager", sites=[north], is_staff=True)
    patient = make_full_patient(site=north)
    tumour = patient.tumour
    tumour.cea_ng_ml = Decimal("1530")
    tumour._history_user = nina
    tumour.save()
    patient_url = f"{live_server.url}{patient.get_absolute_url()}"

    # The data manager raises a query on the CEA.
    manager = log_in("mark")
    manager.goto(patient_url)
    manager.get_by_role("link", name="Raise a query").click()
    manager.get_by_label("Record").select_option(f"tumour:{tumour.pk}")
    manager.get_by_label("Field").select_option("tumour.cea_ng_ml")
    manager.get_by_label("Question").fill("CEA 1530 — typo?")
    screenshot(manager, "query-form")
    click(manager, "Open the query")
    query = DataQuery.objects.get()
    expect(manager.locator("#query-value")).to_have_text("1530.0")

    # The nurse finds it on her worklist, corrects the value and says so.
    nurse = log_in("nina")
    expect(nurse.locator("#worklist")).to_contain_text("CEA 1530")
    nurse.locator("#worklist").get_by_role("link", name=re.compile("CEA 1530")).click()
    nurse.get_by_role("link", name="Correct the value").click()
    nurse.get_by_label("CEA at diagnosis (ng/mL)").fill("153")
    nurse.get_by_label("Reason for the change").fill("Query: typo, lab report says 153")
    click(nurse, "Save changes")
    nurse.goto(f"{live_server.url}/queries/{query.pk}/")
    expect(nurse.locator("#query-value")).to_have_text("153.0")
    nurse.get_by_label("Answer or note").fill("Typo: 153 on the lab report.")
    click(nurse, "I corrected the value")
    screenshot(nurse, "query-answered")
    # ... and marks the diagnosis complete.
    nurse.goto(patient_url)
    click(nurse, "Mark complete diagnosis")
    expect(nurse.locator("#status-tumour")).to_contain_text("Complete")
    expect(nurse.locator("#status-tumour")).not_to_contain_text("Verify")

    # The manager closes the query, verifies and locks the diagnosis.
    manager.goto(f"{live_server.url}/queries/{query.pk}/")
    click(manager, "Close the query")
    expect(manager.locator("h1")).to_contain_text("Closed")
    manager.goto(patient_url)
    click(manager, "Verify diagnosis")
    click(manager, "Lock diagnosis")
    expect(manager.locator("#status-tumour")).to_contain_text("Locked")
    screenshot(manager, "locked")

    # The nurse's edit of the locked diagnosis is refused; nothing changes.
    nurse.goto(f"{live_server.url}/patients/{patient.pk}/tumour/{tumour.pk}/edit/")
    nurse.get_by_label("CEA at diagnosis (ng/mL)").fill("15")
    nurse.get_by_label("Reason for the change").fill("second thoughts")
    click(nurse, "Save changes")
    expect(nurse.get_by_role("alert")).to_contain_text("Locked")
    screenshot(nurse, "edit-refused")
    assert PrimaryTumour.objects.get(pk=tumour.pk).cea_ng_ml == Decimal("153")

    # The audit trail tells the story in words, newest first.
    manager.goto(patient_url)
    manager.get_by_role("link", name="Audit trail").click()
    trail = manager.locator("table.audit")
    expect(trail).to_contain_text("CEA at diagnosis (ng/mL): 1530.0 → 153.0")
    expect(trail).to_contain_text("Query: typo, lab report says 153")
    expect(trail).to_contain_text("Corrected the value")
    expect(trail).to_contain_text("Form status of the diagnosis")
    first_row = trail.locator("tbody tr").first
    expect(first_row).to_contain_text("Locked")
    expect(first_row).to_contain_text("mark")
    screenshot(manager, "audit-trail")
