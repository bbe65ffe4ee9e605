"""The shared cast of test users, each with their role."""

from django.test import TestCase

from tests.factories import make_site, make_user


class CastTestCase(TestCase):
    """A test case with two sites and the registry's kinds of user."""

    @classmethod
    def setUpTestData(cls):
        cls.north = make_site(code="NTH", name="North Hospital")
        cls.south = make_site(code="STH", name="South Hospital")
        # Nina: research nurse entering patients at North.
        cls.nina = make_user("nina", group="Data entry", sites=[cls.north])
        # Mark: data manager for both hospitals; uses the admin.
        cls.mark = make_user(
            "mark", group="Data manager", sites=[cls.north, cls.south], is_staff=True
        )
        # Ann: statistician; reports only, never identifiers.
        cls.ann = make_user("ann", group="Analyst", sites=[cls.north, cls.south])
        # Sam: research nurse at South, who must not see North's patients.
        cls.sam = make_user("sam", group="Data entry", sites=[cls.south])
