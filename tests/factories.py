"""Plain factory functions for test data: pass only what the test is about."""

from __future__ import annotations

import datetime
import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from registry import facts
from registry.models import (
    Death,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    Site,
    SystemicTherapyLine,
)

_numbers = itertools.count(1)


def make_site(**fields) -> Site:
    n = next(_numbers)
    fields.setdefault("code", f"T{n:03d}")
    fields.setdefault("name", f"Test Hospital {n}")
    return Site.objects.create(**fields)


def make_user(username: str, *, group: str | None = None, sites=(), **fields):
    fields.setdefault("is_staff", False)
    user = get_user_model().objects.create_user(
        username=username, password="correct horse battery staple", **fields
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    for site in sites:
        site.members.add(user)
    return user


def make_patient(**fields) -> Patient:
    fields.setdefault("site", fields.get("site") or make_site())
    fields.setdefault("mrn", f"MRN{next(_numbers):06d}")
    fields.setdefault("date_of_birth", datetime.date(1950, 5, 17))
    fields.setdefault("sex", "F")
    fields.setdefault("presenting_symptom", "bleeding")
    return Patient.objects.create(**fields)


def make_tumour(patient: Patient, **fields) -> PrimaryTumour:
    fields.setdefault("diagnosis_date", datetime.date(2004, 1, 10))
    fields.setdefault("primary_site", "rectum_mid")
    fields.setdefault("clinical_t", "T3")
    fields.setdefault("clinical_n", "N1a")
    fields.setdefault("clinical_m", "M1a")
    fields.setdefault("histology", "adeno")
    for marker in ("kras", "nras", "braf", "mmr"):
        fields.setdefault(marker, "nt")
    return PrimaryTumour.objects.create(patient=patient, **fields)


def make_liver(patient: Patient, **fields) -> LiverMetastases:
    fields.setdefault("timing", "synchronous")
    fields.setdefault("extrahepatic", "none")
    fields.setdefault("lesion_count", 2)
    fields.setdefault("largest_mm", 25)
    fields.setdefault("distribution", "unilobar")
    fields.setdefault("extent", "lt25")
    fields.setdefault("initial_resectability", "resectable")
    return LiverMetastases.objects.create(patient=patient, **fields)


def make_radiation(patient: Patient, **fields) -> RadiationCourse:
    fields.setdefault("course_type", "long_crt")
    fields.setdefault("start_date", datetime.date(2004, 2, 1))
    fields.setdefault("end_date", datetime.date(2004, 3, 10))
    fields.setdefault("total_dose_gy", 50.4)
    fields.setdefault("fractions", 28)
    fields.setdefault("concurrent_agent", "capecitabine")
    return RadiationCourse.objects.create(patient=patient, **fields)


def make_systemic(patient: Patient, **fields) -> SystemicTherapyLine:
    fields.setdefault("setting", "neoadjuvant")
    fields.setdefault("regimen", "folfox")
    fields.setdefault("start_date", datetime.date(2004, 4, 1))
    fields.setdefault("end_date", datetime.date(2004, 7, 1))
    fields.setdefault("biologic", "none")
    return SystemicTherapyLine.objects.create(patient=patient, **fields)


def make_operation(patient: Patient, **fields) -> Operation:
    fields.setdefault("date", datetime.date(2004, 8, 15))
    fields.setdefault("intent", "curative")
    for procedure in ("primary_procedure", "liver_procedure", "palliative_procedure"):
        fields.setdefault(procedure, "none")
    return Operation.objects.create(patient=patient, **fields)


def make_followup(patient: Patient, **fields) -> FollowUp:
    fields.setdefault("date", datetime.date(2005, 1, 10))
    fields.setdefault("disease_status", "ned")
    fields.setdefault("contact_type", "clinic")
    return FollowUp.objects.create(patient=patient, **fields)


def make_death(patient: Patient, **fields) -> Death:
    fields.setdefault("date", datetime.date(2007, 6, 1))
    fields.setdefault("cause", "colorectal")
    return Death.objects.create(patient=patient, **fields)


def make_full_patient(**fields) -> Patient:
    """Return a patient with diagnosis, liver metastases and a synchronous resection."""
    # Each save would refresh the patient's stored facts (seven times over):
    # refreshed once, at the end, they are the same.
    with facts.deferred():
        patient = make_patient(**fields)
        make_tumour(patient)
        make_liver(patient)
        make_radiation(patient)
        make_systemic(patient)
        make_operation(patient, primary_procedure="lar", liver_procedure="minor")
        make_followup(patient)
    return patient
