"""Reads that span several clinical tables."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.shortcuts import get_object_or_404
from django.utils import timezone

from registry import derive
from registry.choices import is_missing
from registry.derive import (
    ContactFact,
    CourseFact,
    PatientFacts,
)
from registry.facts import plain_facts
from registry.models import (
    Death,
    LiverMetastases,
    Patient,
    PrimaryTumour,
)

#: Lists of a national registry count their rows exactly up to this many (the
#: audit log, the admin's lists); past it they say "more than" and page no
#: further: a count of every row would cost more than the page.
COUNT_LIMIT = 10_000


def count_up_to(queryset: models.QuerySet, limit: int) -> int:
    """Return how many rows `queryset` has, or ``limit + 1`` when it has more:
    one COUNT over a LIMIT, which stops reading at the limit."""
    return queryset.order_by()[: limit + 1].count()


def patient_facts(patient: Patient) -> PatientFacts:
    """Return the plain facts registry.derive reads, for one patient."""
    return plain_facts([patient.pk])[patient.pk]


# --- the patient page ---------------------------------------------------------

#: Order of records of the same day on the timeline: the clinical sequence.
TIMELINE_ORDER = {
    "tumour": 0,
    "liver": 1,
    "radiation": 2,
    "systemic": 3,
    "operation": 4,
    "followup": 5,
    "death": 6,
    "last_contact": 7,
}


@dataclass(frozen=True)
class TimelineEvent:
    """One dated entry of a patient's timeline."""

    date: datetime.date
    kind: str
    title: str
    detail: str = ""
    end_date: datetime.date | None = None
    record: models.Model | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PatientChart:
    """Everything the patient page shows, read in a fixed number of queries."""

    patient: Patient
    tumour: PrimaryTumour | None
    liver: LiverMetastases | None
    death: Death | None
    strategy: derive.ResectionStrategy
    timeline: list[TimelineEvent]
    survival: derive.SurvivalTime | None
    first_recurrence: datetime.date | None
    last_contact: datetime.date | None
    follow_up_overdue: bool

    @property
    def single_records(self) -> dict[str, object]:
        """Return the one-per-patient records by kind (the record or None)."""
        return {"tumour": self.tumour, "liver": self.liver, "death": self.death}


def patient_for_user(user, pk: int) -> Patient:
    """Return the patient `pk` if `user` may see them, with their single records.

    Raises Http404 for a patient of another site, as for one that does not exist.
    """
    return get_object_or_404(
        Patient.objects.for_user(user).select_related(
            "site", "tumour", "liver", "death"
        ),
        pk=pk,
    )


def patient_rows(patients: models.QuerySet) -> models.QuerySet:
    """Return `patients` with the columns of the patient list, in one query.

    Diagnosis date, strategy, vital status and last contact are the stored
    derived facts, joined as one row, so sorting and filtering by them costs no
    more than by a recorded column: the join is an inner one, which lets the
    database read a sorted page down an index of the facts (with a left join it
    must sort every patient first). Every patient has that row, written in the
    same transaction as the patient; one without it (written around the
    registry, in SQL) is not listed until ``check_facts --fix`` writes it, and
    the data-quality page counts them.
    """
    return (
        patients.filter(facts__isnull=False)
        .select_related("site")
        .annotate(
            diagnosis_date=models.F("facts__diagnosis_date"),
            strategy=models.F("facts__strategy"),
            vital_status=models.F("facts__vital_status"),
            last_contact=models.F("facts__last_contact"),
            primary_site=models.F("tumour__primary_site"),
        )
    )


def patient_record(patient: Patient, model: type[models.Model], pk: int):
    """Return the record `pk` of `model` if it belongs to `patient`, else None."""
    return model._default_manager.filter(patient=patient, pk=pk).first()


def single_record(patient: Patient, name: str):
    """Return the patient's one record `name` (tumour, liver, death) or None.

    patient_for_user has already read these with the patient: no query.
    """
    return _related(patient, name)


def deletion_of(patient: Patient, model: type[models.Model], pk: int):
    """Return the deletion of the patient's record `pk` of `model`, if deleted."""
    return latest_deletion(
        model.history.filter(id=pk, patient_id=patient.pk, history_type="-")
    )


def latest_deletion(rows) -> RecordChange | None:
    """Return the latest of these deletion history rows as a change: who
    deleted the record and when (one query), or None."""
    row = rows.select_related("history_user").order_by("-history_date").first()
    if row is None:
        return None
    who = row.history_user.get_username() if row.history_user else "someone"
    return RecordChange(who, row.history_date, row.version, deleted=True)


def patient_chart(patient: Patient, *, today: datetime.date) -> PatientChart:
    """Return the patient's records, derived facts and timeline (four queries).

    `patient` comes from ``patient_for_user`` (single records already joined).
    """
    tumour = _related(patient, "tumour")
    liver = _related(patient, "liver")
    death = _related(patient, "death")
    radiation = list(patient.radiation_courses.order_by("start_date", "pk"))
    systemic = list(patient.systemic_lines.order_by("start_date", "pk"))
    operations = list(patient.operations.order_by("date", "pk"))
    followups = list(patient.followups.order_by("date", "pk"))
    facts = PatientFacts(
        diagnosis_date=tumour.diagnosis_date if tumour else None,
        initial_resectability=liver.initial_resectability if liver else None,
        detected_date=liver.detected_date if liver else None,
        operations=tuple(op.fact for op in operations),
        radiation=tuple(CourseFact(c.start_date, c.end_date) for c in radiation),
        systemic=tuple(CourseFact(c.start_date, c.end_date) for c in systemic),
        contacts=tuple(ContactFact(f.date, f.disease_status) for f in followups),
        death_date=death.date if death else None,
        death_cause=death.cause if death else "",
    )
    last_contact = derive.last_known_contact(facts)
    return PatientChart(
        patient=patient,
        tumour=tumour,
        liver=liver,
        death=death,
        strategy=derive.resection_strategy(facts.operations),
        timeline=_timeline(
            tumour,
            liver,
            radiation,
            systemic,
            operations,
            followups,
            death,
            last_contact,
        ),
        survival=derive.survival(facts, as_of=today),
        first_recurrence=derive.first_recurrence(facts),
        last_contact=last_contact,
        follow_up_overdue=derive.follow_up_overdue(
            derive.follow_up_overdue_from(facts), today
        ),
    )


def _related(patient: Patient, name: str):
    try:
        return getattr(patient, name)
    except ObjectDoesNotExist:
        return None


def _timeline(
    tumour, liver, radiation, systemic, operations, followups, death, last_contact
) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    if tumour:
        stage = clinical_stage(tumour)
        detail = [tumour.get_primary_site_display(), stage]
        if tumour.anal_verge_cm is not None:
            detail.append(f"{tumour.anal_verge_cm} cm from the anal verge")
        if tumour.cea_ng_ml is not None:
            detail.append(f"CEA {tumour.cea_ng_ml} ng/mL")
        events.append(
            TimelineEvent(
                tumour.diagnosis_date,
                "tumour",
                "Diagnosis",
                "; ".join(detail),
                record=tumour,
            )
        )
    if liver:
        when = liver.detected_date or (tumour.diagnosis_date if tumour else None)
        if when:
            detail = (
                f"{liver.lesion_count} lesion{'s' if liver.lesion_count != 1 else ''}, "
                f"largest {liver.largest_mm} mm, "
                f"{liver.get_distribution_display().lower()}, "
                f"extent {liver.get_extent_display()}; "
                f"extrahepatic: {liver.get_extrahepatic_display().lower()}; "
                f"MDT: {liver.get_initial_resectability_display().lower()}"
            )
            title = f"Liver metastases ({liver.timing})"
            events.append(TimelineEvent(when, "liver", title, detail, record=liver))
    for course in radiation:
        detail = (
            f"{course.total_dose_gy} Gy in {course.fractions} fractions"
            + (
                f" with {course.get_concurrent_agent_display()}"
                if course.concurrent_agent != "none"
                else ""
            )
            + ("" if course.completed else "; stopped short of the plan")
        )
        events.append(
            TimelineEvent(
                course.start_date,
                "radiation",
                course.get_course_type_display(),
                detail,
                end_date=course.end_date,
                record=course,
            )
        )
    for line in systemic:
        detail = [line.get_setting_display()]
        if line.cycles:
            detail.append(f"{line.cycles} cycles")
        if line.stop_reason:
            reason = line.get_stop_reason_display()
            detail.append(
                reason if reason.startswith("Stopped") else f"stopped: {reason.lower()}"
            )
        if line.best_response:
            detail.append(f"best response {line.get_best_response_display().lower()}")
        events.append(
            TimelineEvent(
                line.start_date,
                "systemic",
                line.regimen_label,
                "; ".join(detail),
                end_date=line.end_date,
                record=line,
            )
        )
    for op in operations:
        fact = op.fact
        tags = tuple(
            tag
            for tag, present in (
                ("primary resected", fact.resects_primary),
                ("liver resected", fact.resects_liver),
                ("palliative", fact.is_palliative),
                ("emergency", op.emergency),
            )
            if present
        )
        detail = [op.get_intent_display()]
        if op.margin:
            detail.append(op.get_margin_display())
        if op.clavien_dindo:
            detail.append(f"Clavien-Dindo {op.get_clavien_dindo_display()}")
        if op.length_of_stay_days is not None:
            detail.append(f"{op.length_of_stay_days} days in hospital")
        events.append(
            TimelineEvent(
                op.date,
                "operation",
                f"Operation: {op.summary}",
                "; ".join(detail),
                record=op,
                tags=tags,
            )
        )
    for contact in followups:
        detail = [contact.get_disease_status_display()]
        if contact.cea_ng_ml is not None:
            detail.append(f"CEA {contact.cea_ng_ml} ng/mL")
        if contact.notes:
            detail.append(contact.notes)
        tags = (
            ("recurrence",)
            if contact.disease_status in derive.RECURRENCE_STATUSES
            else ()
        )
        events.append(
            TimelineEvent(
                contact.date,
                "followup",
                f"Follow-up ({contact.get_contact_type_display().lower()})",
                "; ".join(detail),
                record=contact,
                tags=tags,
            )
        )
    if death:
        events.append(
            TimelineEvent(
                death.date,
                "death",
                "Death",
                f"Cause: {death.get_cause_display()}",
                record=death,
            )
        )
    elif last_contact:
        events.append(
            TimelineEvent(
                last_contact,
                "last_contact",
                "Last known contact",
                "Alive on this date: the latest dated record.",
            )
        )
    events.sort(key=lambda e: (e.date, TIMELINE_ORDER[e.kind]))
    return events


# --- what changed since a version (for refused stale edits) -------------------


@dataclass(frozen=True)
class FieldChange:
    name: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class RecordChange:
    """One save (or the deletion) of a record, by whom and when."""

    who: str
    when: datetime.datetime
    version: int
    deleted: bool = False
    fields: tuple[FieldChange, ...] = ()
    #: False when the history lacks the state before this save.
    itemised: bool = True

    def describe(self, *, hidden: frozenset[str] = frozenset()) -> str:
        """Return the change in words; values of `hidden` fields are not shown."""
        when = timezone.localtime(self.when).strftime("%Y-%m-%d %H:%M")
        if self.deleted:
            return f"deleted by {self.who} on {when}"
        parts = [
            f"{f.label}: changed"
            if f.name in hidden
            else f"{f.label}: {f.old} → {f.new}"
            for f in self.fields
        ]
        if not self.itemised:
            return f"{self.who} on {when}: changed (details not in the history)"
        changed = "; ".join(parts) if parts else "saved without changes"
        return f"{self.who} on {when}: {changed}"


def entry_fields(model: type[models.Model]) -> list[models.Field]:
    """Return the fields of `model` that data entry edits, in form order."""
    return [
        field
        for field in model._meta.concrete_fields
        if field.editable and not field.primary_key and field.name != "patient"
    ]


def display_value(field: models.Field, value) -> str:
    """Return a stored value as the forms show it (labels for codes)."""
    if value is None or value == "":
        return "blank"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def version_state(record: models.Model, version: int) -> dict | None:
    """Return the record's field values as saved at `version`, if history has it."""
    row = (
        type(record)
        .history.filter(id=record.pk, version=version)
        .exclude(history_type="-")
        .order_by("-history_date", "-history_id")
        .first()
    )
    if row is None:
        return None
    return {f.name: getattr(row, f.attname) for f in entry_fields(type(record))}


def changes_since(record: models.Model, version: int) -> list[RecordChange]:
    """Return the saves of `record` after `version`, oldest first, with their diffs."""
    model = type(record)
    fields = entry_fields(model)
    rows = list(
        model.history.filter(id=record.pk, version__gte=version)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    previous = None
    changes = []
    for row in rows:
        if row.version <= version and row.history_type != "-":
            previous = row
            continue
        who = row.history_user.get_username() if row.history_user else "someone"
        if row.history_type == "-":
            changes.append(RecordChange(who, row.history_date, row.version, True))
            continue
        diffs = tuple(
            FieldChange(
                f.name,
                str(f.verbose_name).capitalize(),
                display_value(f, getattr(previous, f.attname)),
                display_value(f, getattr(row, f.attname)),
            )
            for f in fields
            if previous is not None
            and getattr(previous, f.attname) != getattr(row, f.attname)
        )
        changes.append(
            RecordChange(
                who, row.history_date, row.version, False, diffs, previous is not None
            )
        )
        previous = row
    return changes


def clinical_stage(tumour) -> str:
    """Return the clinical stage in words, e.g. "cT3 N1a M1a" or "cT3 N unknown M1a".

    A missing-data code is written out, never shown as if it were a category.
    """
    parts = []
    for axis in ("t", "n", "m"):
        code = getattr(tumour, f"clinical_{axis}")
        if is_missing(code):
            label = getattr(tumour, f"get_clinical_{axis}_display")()
            parts.append(f"{axis.upper()} {label.split(' (')[0].lower()}")
        else:
            parts.append(code)
    return "c" + " ".join(parts)
