"""A research nurse enters a patient through the forms alone, in a real browser."""

from __future__ import annotations

import re

from django.urls import reverse

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under REQUIRE_BROWSER
    expect = None

from registry.models import FollowUp, Operation, Patient
from tests.factories import make_full_patient, make_site, make_user

SAVE = re.compile(r"^Save")


def save(page) -> None:
    page.get_by_role("button", name=SAVE).click()
    page.wait_for_load_state()


def add(page, what: str) -> None:
    """Open the form adding `what` from the patient page."""
    page.get_by_role("link", name=f"Add {what}").click()
    page.wait_for_load_state()


def test_nurse_enters_a_patient_from_diagnosis_to_death(
    live_server, log_in, groups, screenshot
):
    north = make_site(code="NTH", name="North Hospital")
    make_user("nina", group="Data entry", sites=[north])
    page = log_in("nina")
    screenshot(page, "home")

    # The new patient: patient, diagnosis and liver metastases in one form.
    page.get_by_role("navigation").get_by_role("link", name="New patient").click()
    page.get_by_label("Medical record number").fill("H4711")
    page.get_by_label("Date of birth").fill("1948-03-02")
    page.get_by_label("Sex").select_option("M")
    page.get_by_label("ECOG performance status").select_option("1")
    page.get_by_label("Presenting symptom").select_option("bleeding")
    page.get_by_label("Diagnosis date").fill("2004-01-10")
    page.get_by_label("Primary site").select_option("rectum_mid")
    page.get_by_label("Distance from the anal verge (cm)").fill("7")
    page.get_by_label("Clinical T").select_option("T3")
    page.get_by_label("Clinical N").select_option("N1b")
    page.get_by_label("Clinical M").select_option("M1a")
    page.get_by_label("CEA at diagnosis (ng/mL)").fill("35.2")
    page.get_by_label("KRAS").select_option("wt")
    page.get_by_label("NRAS").select_option("nt")
    page.get_by_label("BRAF V600E").select_option("unk")
    page.get_by_label("MMR / MSI").select_option("pmmr")
    page.get_by_label("Timing").select_option("synchronous")
    page.get_by_label("Extrahepatic disease").select_option("none")
    page.get_by_label("Number of lesions").fill("3")
    page.get_by_label("Largest diameter (mm)").fill("42")
    page.get_by_label("Distribution").select_option("bilobar")
    page.get_by_label("Extent of liver involvement").select_option("25to50")
    page.get_by_label("Initial resectability (MDT)").select_option("potentially")
    screenshot(page, "new-patient-form")
    # Histology left at "Choose…": nothing is answered for the nurse, so the
    # save is refused at the field and nothing is saved.
    expect(page.get_by_label("Histology")).to_have_value("")
    save(page)
    expect(page.locator("#id_tumour-histology_error")).to_contain_text(
        "This field is required."
    )
    assert not Patient.objects.exists()
    page.get_by_label("Histology").select_option("adeno")
    # A contradiction that may be right: cM0 at staging, yet synchronous liver
    # metastases. Warned at the field; the nurse checks the notes and confirms.
    page.get_by_label("Clinical M").select_option("M0")
    save(page)
    expect(page.locator("#id_tumour-clinical_m_error")).to_contain_text(
        "Clinical M0, yet the liver metastases are recorded as synchronous"
    )
    assert not Patient.objects.exists()
    screenshot(page, "new-patient-warning")
    page.get_by_label("I confirm this is correct").check()
    save(page)
    patient = Patient.objects.get(mrn="H4711")
    expect(page).to_have_url(f"{live_server.url}{patient.get_absolute_url()}")
    expect(page.locator("#strategy")).to_contain_text("No resection")
    expect(page.locator(".timeline")).to_contain_text("Liver metastases (synchronous)")
    screenshot(page, "patient-registered")
    page.goto(f"{live_server.url}/data-quality/")
    expect(page.locator("#confirmed-warnings")).to_contain_text(
        "Clinical M0, yet the liver metastases are recorded as synchronous"
    )
    page.goto(f"{live_server.url}{patient.get_absolute_url()}")

    # Neoadjuvant long-course chemoradiation.
    add(page, "radiation")
    page.get_by_label("Course type").select_option("long_crt")
    page.get_by_label("Start date").fill("2004-02-01")
    page.get_by_label("End date").fill("2004-03-10")
    page.get_by_label("Total dose (Gy)").fill("50.4")
    page.get_by_label("Fractions").fill("28")
    page.get_by_label("Concurrent agent").select_option("capecitabine")
    screenshot(page, "radiation-form")
    save(page)
    expect(page.locator(".timeline")).to_contain_text("Long-course chemoradiation")

    # A line of FOLFOX.
    add(page, "systemic line")
    page.get_by_label("Setting").select_option("neoadjuvant")
    page.get_by_label("Regimen", exact=True).select_option("folfox")
    page.get_by_label("Biologic").select_option("none")
    page.get_by_label("Start date").fill("2004-04-01")
    page.get_by_label("End date").fill("2004-07-01")
    page.get_by_label("Cycles").fill("6")
    page.get_by_label("Reason stopped").select_option("surgery")
    page.get_by_label("Best response (RECIST)").select_option("PR")
    save(page)
    expect(page.locator(".timeline")).to_contain_text("FOLFOX")
    expect(page.locator("#strategy")).to_contain_text("No resection")

    # A synchronous resection: primary and liver in one operation.
    add(page, "operation")
    page.get_by_label("Date").fill("2004-08-15")
    page.get_by_label("Procedure on the primary").select_option("lar")
    page.get_by_label("Procedure on the liver").select_option("major")
    page.get_by_label("Palliative procedure").select_option("none")
    page.get_by_label("Intent").select_option("curative")
    page.get_by_label("Resection margin").select_option("R0")
    page.get_by_label("Length of stay (days)").fill("11")
    screenshot(page, "operation-form")
    save(page)
    expect(page.locator("#strategy")).to_contain_text("Synchronous resection")
    expect(page.locator("#strategy")).to_contain_text(
        "primary and liver resected on 2004-08-15"
    )
    screenshot(page, "patient-after-operation")

    # A follow-up visit.
    add(page, "follow-up")
    page.get_by_label("Date").fill("2005-01-10")
    page.get_by_label("Contact type").select_option("clinic")
    page.get_by_label("Disease status").select_option("ned")
    page.get_by_label("CEA (ng/mL)").fill("2.4")
    save(page)
    expect(page.locator(".timeline")).to_contain_text("No evidence of disease")

    # An impossible date: a follow-up before the diagnosis is refused at the field.
    add(page, "follow-up")
    page.get_by_label("Date").fill("2003-12-31")
    page.get_by_label("Contact type").select_option("clinic")
    page.get_by_label("Disease status").select_option("ned")
    save(page)
    expect(page.locator("#id_date_error")).to_contain_text(
        "Follow-up date (2003-12-31) is before the diagnosis on 2004-01-10."
    )
    expect(page.get_by_label("Date")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "impossible-date")
    assert FollowUp.objects.filter(patient=patient).count() == 1

    # The death ends the timeline and the survival time.
    page.goto(f"{live_server.url}{patient.get_absolute_url()}")
    add(page, "death")
    page.get_by_label("Date of death").fill("2007-06-01")
    page.get_by_label("Cause").select_option("colorectal")
    save(page)
    expect(page.locator("#survival-status")).to_contain_text(
        "Died 2007-06-01 (colorectal cancer), 40.7 months after diagnosis"
    )
    kinds = page.locator(".timeline > li").evaluate_all(
        "items => items.map(item => item.className.replace('event kind-', ''))"
    )
    assert kinds == [
        "tumour",
        "liver",
        "radiation",
        "systemic",
        "operation",
        "followup",
        "death",
    ]
    screenshot(page, "patient-complete")

    page.get_by_role("navigation").get_by_role("link", name="Patients").click()
    expect(page.locator("table.patients")).to_contain_text("Synchronous resection")
    screenshot(page, "patient-list")
    page.get_by_role("navigation").get_by_role("link", name="Data quality").click()
    expect(page.locator(".site-quality")).to_contain_text("NTH · North Hospital")
    screenshot(page, "data-quality")


def test_second_save_over_a_stale_version_is_refused_with_what_changed(
    live_server, log_in, groups, screenshot
):
    north = make_site(code="NTH", name="North Hospital")
    make_user("nina", group="Data entry", sites=[north])
    make_user("mark", group="Data manager", sites=[north], is_staff=True)
    patient = make_full_patient(site=north)
    operation = patient.operations.get()
    url = live_server.url + reverse(
        "registry:record_update", args=[patient.pk, "operation", operation.pk]
    )
    nina = log_in("nina")
    mark = log_in("mark")
    nina.goto(url)
    mark.goto(url)

    mark.get_by_label("Resection margin").select_option("R1")
    save(mark)
    expect(mark).to_have_url(f"{live_server.url}{patient.get_absolute_url()}")

    nina.get_by_label("Length of stay (days)").fill("12")
    save(nina)
    refusal = nina.locator(".errorlist.nonfield")
    expect(refusal).to_contain_text("Not saved")
    expect(refusal).to_contain_text("mark on")
    expect(refusal).to_contain_text(
        "Resection margin: blank → R1 – microscopic residual"
    )
    # Mark's change is filled in; Nina's own entry is kept.
    expect(nina.get_by_label("Resection margin")).to_have_value("R1")
    expect(nina.get_by_label("Length of stay (days)")).to_have_value("12")
    screenshot(nina, "stale-edit-refused")
    operation.refresh_from_db()
    assert (operation.margin, operation.length_of_stay_days) == ("R1", None)

    # Saving again, having seen the change, stores both.
    save(nina)
    expect(nina).to_have_url(f"{live_server.url}{patient.get_absolute_url()}")
    operation.refresh_from_db()
    assert (operation.margin, operation.length_of_stay_days) == ("R1", 12)
    assert operation.history.latest().history_user.username == "nina"
    assert Operation.objects.count() == 1
