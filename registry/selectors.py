"""Reads that span several clinical tables."""

from __future__ import annotations

from registry.derive import (
    ContactFact,
    CourseFact,
    OperationFact,
    PatientFacts,
)
from registry.models import (
    Death,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    SystemicTherapyLine,
)


def patient_facts(patient: Patient) -> PatientFacts:
    """Return the plain facts registry.derive reads, for one patient."""
    diagnosis = (
        PrimaryTumour.objects.filter(patient=patient)
        .values_list("diagnosis_date", flat=True)
        .first()
    )
    resectability = (
        LiverMetastases.objects.filter(patient=patient)
        .values_list("initial_resectability", flat=True)
        .first()
    )
    death = Death.objects.filter(patient=patient).values_list("date", flat=True).first()
    return PatientFacts(
        diagnosis_date=diagnosis,
        initial_resectability=resectability,
        operations=tuple(
            OperationFact(*row)
            for row in Operation.objects.filter(patient=patient).values_list(
                "date", "primary_procedure", "liver_procedure", "palliative_procedure"
            )
        ),
        radiation=tuple(
            CourseFact(*row)
            for row in RadiationCourse.objects.filter(patient=patient).values_list(
                "start_date", "end_date"
            )
        ),
        systemic=tuple(
            CourseFact(*row)
            for row in SystemicTherapyLine.objects.filter(patient=patient).values_list(
                "start_date", "end_date"
            )
        ),
        contacts=tuple(
            ContactFact(*row)
            for row in FollowUp.objects.filter(patient=patient).values_list(
                "date", "disease_status"
            )
        ),
        death_date=death,
    )
