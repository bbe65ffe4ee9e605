"""Every input of the admin's patient page has an accessible name."""

from __future__ import annotations

from html.parser import HTMLParser

from django.urls import reverse

from tests.cast import CastTestCase
from tests.factories import make_full_patient

UNNAMED_TYPES = {"hidden", "submit", "button"}


class _Inputs(HTMLParser):
    """Collect the form controls of a page and the ids their labels name."""

    def __init__(self):
        super().__init__()
        self.controls: list[dict] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label" and attrs.get("for"):
            self.labelled.add(attrs["for"])
        if tag in ("input", "select", "textarea"):
            if attrs.get("type", "text") not in UNNAMED_TYPES:
                self.controls.append(attrs)


class AdminInlineLabelTests(CastTestCase):
    def test_every_control_of_the_patient_page_has_a_name(self):
        patient = make_full_patient(site=self.north)
        self.client.force_login(self.mark)
        page = self.client.get(
            reverse("admin:registry_patient_change", args=[patient.pk])
        )
        parser = _Inputs()
        parser.feed(page.content.decode())
        unnamed = [
            control.get("name")
            for control in parser.controls
            if not control.get("aria-label")
            and control.get("id") not in parser.labelled
        ]
        self.assertEqual(unnamed, [])
        self.assertContains(page, 'aria-label="Resection margin, operation 1"')
