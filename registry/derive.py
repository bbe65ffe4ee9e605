"""Derived clinical facts: the definitions.

Every fact here is computed from what was recorded, never typed in. The pure
functions below take plain facts (frozen dataclasses) and are the one definition
of each rule. A patient's facts are computed by :func:`stored_facts` whenever the
patient's records are written (``registry.facts``) and kept in one row per
patient (``registry.models.DerivedFacts``), which pages and reports read as
columns; ``python manage.py check_facts`` recomputes and compares.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import asdict, dataclass
from decimal import Decimal

from registry.choices import (
    RECTAL_SITES,
    CauseOfDeath,
    ClinicalM,
    DiseaseStatus,
    Endpoint,
    IndexDate,
    LiverProcedure,
    Margin,
    PalliativeProcedure,
    PrimaryProcedure,
    Resectability,
    StagedOrder,
    Strategy,
    VitalStatus,
    is_missing,
)

#: Average length of a month in days (365.25 / 12), for showing days as months.
DAYS_PER_MONTH = 30.4375

#: Any procedure on the primary other than "none" removes the primary tumour.
PRIMARY_RESECTIONS = frozenset(PrimaryProcedure.values) - {PrimaryProcedure.NONE}

#: Procedures that remove liver tissue. Ablation alone, portal vein embolisation
#: and biopsy treat or prepare the liver but do not resect it.
LIVER_RESECTIONS = frozenset(
    {
        LiverProcedure.MAJOR_HEPATECTOMY,
        LiverProcedure.MINOR_HEPATECTOMY,
        LiverProcedure.METASTASECTOMY,
        LiverProcedure.RESECTION_ABLATION,
    }
)

#: Initial calls from which a later liver resection counts as a conversion.
CONVERSION_CALLS = frozenset({Resectability.UNRESECTABLE, Resectability.POTENTIALLY})

#: The margins a resection is given by: R0, R1, R2. Blank, unknown and not
#: recorded are no answer, and "not applicable (no resection)" is none for a
#: resection.
RESECTION_MARGINS = frozenset({Margin.R0, Margin.R1, Margin.R2})

#: Disease statuses at follow-up that end recurrence/progression-free survival.
RECURRENCE_STATUSES = frozenset(
    {
        DiseaseStatus.LOCAL_RECURRENCE,
        DiseaseStatus.HEPATIC,
        DiseaseStatus.EXTRAHEPATIC,
        DiseaseStatus.PROGRESSION,
    }
)

#: Causes of death that end cancer-specific survival: death from colorectal cancer.
#: Deaths from treatment, another cancer, another or an unknown cause are censored
#: at death for cancer-specific survival, and are the competing event when the
#: cumulative incidence of cancer death is estimated.
CANCER_DEATH_CAUSES = frozenset({CauseOfDeath.COLORECTAL})


@dataclass(frozen=True)
class OperationFact:
    date: datetime.date
    primary_procedure: str = PrimaryProcedure.NONE
    liver_procedure: str = LiverProcedure.NONE
    palliative_procedure: str = PalliativeProcedure.NONE
    #: The resection margin code (R0, R1, R2, na); blank when not recorded.
    margin: str = ""

    @property
    def resects_primary(self) -> bool:
        """Return True if this operation removed the primary tumour."""
        return self.primary_procedure in PRIMARY_RESECTIONS

    @property
    def resects_liver(self) -> bool:
        """Return True if this operation resected liver metastases."""
        return self.liver_procedure in LIVER_RESECTIONS

    @property
    def is_palliative(self) -> bool:
        """Return True if this operation included a palliative procedure (a blank
        or missing answer is not one)."""
        return self.palliative_procedure != PalliativeProcedure.NONE and not (
            is_missing(self.palliative_procedure)
        )


@dataclass(frozen=True)
class CourseFact:
    """A radiation course or a line of systemic therapy (with its regimen and
    biologic; blank for radiation)."""

    start_date: datetime.date
    end_date: datetime.date | None = None
    regimen: str = ""
    biologic: str = ""


@dataclass(frozen=True)
class ContactFact:
    date: datetime.date
    disease_status: str = DiseaseStatus.NO_EVIDENCE


@dataclass(frozen=True)
class PatientFacts:
    """Everything the derivations read about one patient."""

    diagnosis_date: datetime.date | None
    initial_resectability: str | None = None
    operations: tuple[OperationFact, ...] = ()
    radiation: tuple[CourseFact, ...] = ()
    systemic: tuple[CourseFact, ...] = ()
    contacts: tuple[ContactFact, ...] = ()
    death_date: datetime.date | None = None
    #: The recorded cause of death (CauseOfDeath); blank without a death.
    death_cause: str = ""
    # What the data-quality flags read: the patient's ECOG at diagnosis and the
    # diagnosis' primary site, distance from the anal verge and CEA.
    ecog: int | None = None
    primary_site: str = ""
    anal_verge_cm: Decimal | None = None
    cea_ng_ml: Decimal | None = None
    #: The diagnosis' clinical T, N and M codes (the stage), as recorded.
    stage: tuple[str, ...] = ()
    #: The liver metastases' timing (MetastasisTiming); blank without a record.
    timing: str = ""
    #: When metachronous liver metastases were detected, if recorded.
    detected_date: datetime.date | None = None
    #: The date of birth (an identifier: read only for the age at diagnosis) and
    #: the age recorded instead when it is not known.
    date_of_birth: datetime.date | None = None
    age_at_diagnosis: int | None = None


@dataclass(frozen=True)
class ResectionStrategy:
    strategy: Strategy
    staged_order: StagedOrder | None = None
    primary_date: datetime.date | None = None
    liver_date: datetime.date | None = None

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """Return the strategy with the reason for it, in words."""
        primary = self.primary_date.isoformat() if self.primary_date else None
        liver = self.liver_date.isoformat() if self.liver_date else None
        match self.strategy:
            case Strategy.SYNCHRONOUS:
                return f"synchronous: primary and liver resected on {primary}"
            case Strategy.STAGED:
                order = self.staged_order.label.lower() if self.staged_order else ""
                return f"staged, {order}: primary resected {primary}, liver {liver}"
            case Strategy.PRIMARY_ONLY:
                return f"primary only: primary resected {primary}, liver not resected"
            case Strategy.LIVER_ONLY:
                return f"liver only: liver resected {liver}, primary not resected"
        return "no resection: neither the primary nor the liver has been resected"


@dataclass(frozen=True)
class SurvivalTime:
    """Time from the index date to the endpoint's event or censoring.

    ``competing`` marks a death that ends the time without being the event a
    cumulative incidence estimates: for cancer-specific survival a death from
    another cause (censored, ``event`` False), for recurrence-free survival a
    death without recurrence (``event`` True: it ends RFS, but it is not a
    recurrence). Always False for overall survival.
    """

    start: datetime.date
    end: datetime.date
    event: bool
    competing: bool = False

    @property
    def days(self) -> int:
        """Return the time from start to end in days."""
        return (self.end - self.start).days

    @property
    def months(self) -> float:
        """Return the time from start to end in months of 30.4375 days."""
        return self.days / DAYS_PER_MONTH


def resection_strategy(operations: tuple[OperationFact, ...]) -> ResectionStrategy:
    """Return how the primary and the liver were resected by these operations.

    Only the first resection of each counts (strategy_from_dates): later
    operations, such as a repeat hepatectomy, do not change the strategy.
    """
    primary = min((op.date for op in operations if op.resects_primary), default=None)
    liver = min((op.date for op in operations if op.resects_liver), default=None)
    return strategy_from_dates(primary, liver)


def strategy_from_dates(
    primary: datetime.date | None, liver: datetime.date | None
) -> ResectionStrategy:
    """Return the strategy from the first primary (P) and liver (L) resection dates.

    Both on the same date is *synchronous* (one operation, or two records of the
    same day); both on different dates is *staged*, primary-first when P < L and
    liver-first when L < P; only P is *primary only*; only L is *liver only*;
    neither is *no resection*.
    """
    if primary is None and liver is None:
        return ResectionStrategy(Strategy.NONE)
    if liver is None:
        return ResectionStrategy(Strategy.PRIMARY_ONLY, primary_date=primary)
    if primary is None:
        return ResectionStrategy(Strategy.LIVER_ONLY, liver_date=liver)
    if primary == liver:
        return ResectionStrategy(Strategy.SYNCHRONOUS, None, primary, liver)
    order = StagedOrder.PRIMARY_FIRST if primary < liver else StagedOrder.LIVER_FIRST
    return ResectionStrategy(Strategy.STAGED, order, primary, liver)


def liver_resected(operations: tuple[OperationFact, ...]) -> bool:
    """Return True if any operation resected liver metastases."""
    return any(op.resects_liver for op in operations)


def first_treatment_start(facts: PatientFacts) -> datetime.date | None:
    """Return the start of the first radiation course or systemic therapy line."""
    starts = [c.start_date for c in facts.radiation + facts.systemic]
    return min(starts, default=None)


def first_line(facts: PatientFacts) -> CourseFact | None:
    """Return the first line of systemic therapy: the earliest start, and of lines
    starting the same day the one entered first (None without systemic therapy).

    ``facts.systemic`` holds the lines in the order they were entered.
    """
    return min(facts.systemic, key=lambda line: line.start_date, default=None)


def converted(facts: PatientFacts) -> bool:
    """Return True if systemic therapy made unresectable liver disease resectable.

    Conversion: the team's initial call was unresectable or potentially
    resectable, and the first liver resection came after the start of a line of
    systemic therapy (strictly after: therapy starting on the day of the
    operation did not convert anything).
    """
    if facts.initial_resectability not in CONVERSION_CALLS:
        return False
    liver = resection_strategy(facts.operations).liver_date
    if liver is None:
        return False
    return any(line.start_date < liver for line in facts.systemic)


def later_palliative_surgery(facts: PatientFacts) -> bool:
    """Return True if a palliative procedure was needed after treatment began.

    "Later" means strictly after the start of the first radiation course or
    systemic therapy line, or after diagnosis when no treatment is recorded: a
    stoma made at presentation, before any treatment, is not counted.
    """
    reference = first_treatment_start(facts) or facts.diagnosis_date
    if reference is None:
        return False
    return any(op.is_palliative and op.date > reference for op in facts.operations)


def last_known_contact(facts: PatientFacts) -> datetime.date | None:
    """Return the latest dated fact about the patient (death included): the
    diagnosis, an operation, a course's end (or start), a follow-up contact,
    the detection of metachronous liver metastases, the death."""
    dates: list[datetime.date] = [op.date for op in facts.operations]
    for course in facts.radiation + facts.systemic:
        dates.append(course.end_date or course.start_date)
    dates.extend(contact.date for contact in facts.contacts)
    dated = (facts.diagnosis_date, facts.detected_date, facts.death_date)
    dates.extend(d for d in dated if d)
    return max(dates, default=None)


def vital_status(facts: PatientFacts) -> VitalStatus:
    """Return dead if a death is recorded, otherwise alive."""
    return VitalStatus.DEAD if facts.death_date else VitalStatus.ALIVE


def cancer_death(facts: PatientFacts) -> datetime.date | None:
    """Return the date of death if the patient died of colorectal cancer
    (:data:`CANCER_DEATH_CAUSES`), else None."""
    if facts.death_date and facts.death_cause in CANCER_DEATH_CAUSES:
        return facts.death_date
    return None


def index_date(facts: PatientFacts, index: IndexDate) -> datetime.date | None:
    """Return the date survival is counted from, or None if it never happened."""
    match index:
        case IndexDate.DIAGNOSIS:
            return facts.diagnosis_date
        case IndexDate.TREATMENT:
            return first_treatment_start(facts)
        case IndexDate.OPERATION:
            return min((op.date for op in facts.operations), default=None)
    raise ValueError(f"unknown index date {index!r}")


def first_recurrence(
    facts: PatientFacts, *, on_or_after: datetime.date | None = None
) -> datetime.date | None:
    """Return the first follow-up date showing recurrence or progression."""
    return min(
        (
            c.date
            for c in facts.contacts
            if c.disease_status in RECURRENCE_STATUSES
            and (on_or_after is None or c.date >= on_or_after)
        ),
        default=None,
    )


def survival(
    facts: PatientFacts,
    *,
    endpoint: Endpoint = Endpoint.OVERALL,
    index: IndexDate = IndexDate.DIAGNOSIS,
    as_of: datetime.date,
) -> SurvivalTime | None:
    """Return the survival time and event of one patient at the data cut-off.

    The clock starts at the index date and stops at the event (death; for
    recurrence-free survival, the first recurrence or progression on or after the
    index date, or death, whichever is first; for cancer-specific survival, death
    from colorectal cancer, :func:`cancer_death`) when the event happened on or
    before ``as_of``; otherwise the patient is censored at the last known contact
    or at ``as_of``, whichever is earlier. So a death from another cause censors
    cancer-specific survival at the date of death (nothing is recorded after
    it), and is marked ``competing``, as is a death without recurrence that ends
    recurrence-free survival (see :class:`SurvivalTime`). Returns None when the
    index date is missing or after ``as_of``: such a patient is not yet at risk.
    """
    start = index_date(facts, index)
    if start is None or start > as_of:
        return None
    died = facts.death_date is not None and facts.death_date <= as_of
    recurrence = None
    if endpoint == Endpoint.CANCER_SPECIFIC:
        event_dates = [d] if (d := cancer_death(facts)) else []
    else:
        event_dates = [facts.death_date] if facts.death_date else []
    if endpoint == Endpoint.RECURRENCE_FREE:
        recurrence = first_recurrence(facts, on_or_after=start)
        if recurrence is not None:
            event_dates.append(recurrence)
    event_date = min(event_dates, default=None)
    if event_date is not None and event_date <= as_of:
        # RFS ended by a death with no recurrence on or before it
        competing = endpoint == Endpoint.RECURRENCE_FREE and (
            recurrence is None or recurrence > event_date
        )
        return SurvivalTime(start, event_date, True, competing)
    if endpoint == Endpoint.CANCER_SPECIFIC and died:
        return SurvivalTime(start, facts.death_date, False, True)
    last = last_known_contact(facts) or start
    return SurvivalTime(start, min(last, as_of), False)


# --- Data-quality flags -----------------------------------------------------------
#
# The per-patient checks of the data-quality page (registry.quality) whose answer
# does not depend on today: True means the patient needs a nurse's attention.
# docs/data-entry.md explains each one to the nurses. (Whether follow-up is
# overdue depends on today: the first day it is overdue is stored, and the page
# compares it with today; follow_up_overdue_from.)

#: Two consecutive follow-up contacts further apart than this are a gap.
FOLLOW_UP_GAP = datetime.timedelta(days=365)

#: An operation this long after diagnosis with no therapy in between is unusual.
UNTREATED_INTERVAL = datetime.timedelta(days=365)

#: The key fields whose completeness the data-quality page shows, one point each
#: (key_fields gives when each one is filled).
KEY_FIELDS: tuple[str, ...] = (
    "diagnosis",
    "liver metastases",
    "ECOG",
    "CEA at diagnosis",
    "distance from the anal verge (rectal tumours)",
    "resection margins",
)


def no_diagnosis(facts: PatientFacts) -> bool:
    """Return True if no diagnosis (primary tumour record) is recorded.

    The date of diagnosis is required on that record, so it is missing exactly
    when the record is.
    """
    return facts.diagnosis_date is None


def no_liver(facts: PatientFacts) -> bool:
    """Return True if the liver metastases have not been assessed.

    The team's initial call is required on the liver record, so it is None
    exactly when there is no record.
    """
    return facts.initial_resectability is None


def no_ecog(facts: PatientFacts) -> bool:
    """Return True if the ECOG performance status at diagnosis is blank."""
    return facts.ecog is None


def no_cea(facts: PatientFacts) -> bool:
    """Return True if the diagnosis is recorded without its CEA value.

    Without a diagnosis the CEA cannot be entered yet: that is no_diagnosis.
    """
    return not no_diagnosis(facts) and facts.cea_ng_ml is None


def no_verge(facts: PatientFacts) -> bool:
    """Return True if a rectal tumour lacks its distance from the anal verge.

    The distance applies to rectal tumours only (RECTAL_SITES).
    """
    return (
        not no_diagnosis(facts)
        and facts.primary_site in RECTAL_SITES
        and facts.anal_verge_cm is None
    )


def unknown_stage(facts: PatientFacts) -> bool:
    """Return True if the diagnosis records its primary site or clinical T, N or M
    with a missing-data code (unknown, not recorded).

    Such a diagnosis is recorded but not complete: the code says the answer is
    missing, and the completeness counts it so (registry.choices.Missing).
    """
    if no_diagnosis(facts):
        return False
    return any(is_missing(code) for code in (facts.primary_site, *facts.stage))


def contradiction(facts: PatientFacts) -> bool:
    """Return True if the records hold a contradiction the forms warn about.

    The warnings of the checks at entry (below): an operation, radiation course
    or therapy line dated before the diagnosis (treatment_before_diagnosis), or
    clinical M0 with synchronous liver metastases (m0_with_synchronous_liver).
    The forms ask the nurse to confirm them; the admin, the import and the API do
    not ask, so the data-quality page lists every patient they hold, however the
    data came in (the confirmed ones also under "Confirmed warnings").
    """
    diagnosis = facts.diagnosis_date
    starts = [op.date for op in facts.operations] + [
        course.start_date for course in facts.radiation + facts.systemic
    ]
    before = any(
        treatment_before_diagnosis(day, diagnosis, what="treatment") for day in starts
    )
    m = facts.stage[2] if len(facts.stage) == 3 else ""
    return before or m0_with_synchronous_liver(m, facts.timing or None) is not None


def margin_problem(operation: OperationFact) -> str | None:
    """Return why the operation's margin cannot stand with its procedures: a
    margin (R0, R1, R2) names a resection's, so it needs a resection of the
    primary or the liver; and "not applicable (no resection)" is none for a
    resection, which has a margin or a missing-data code."""
    resected = operation.resects_primary or operation.resects_liver
    if operation.margin in RESECTION_MARGINS and not resected:
        return "A resection margin needs a resection of the primary or the liver."
    if operation.margin == Margin.NOT_APPLICABLE and resected:
        return (
            "A resection of the primary or the liver has a margin: R0, R1 or R2, "
            "or unknown or not recorded (not applicable is for an operation "
            "without a resection)."
        )
    return None


def lacks_margin(operation: OperationFact) -> bool:
    """Return True if this operation resected the primary or the liver but its
    margin is not one of RESECTION_MARGINS (blank, unknown, not recorded, or
    "not applicable", which says there was no resection).
    """
    resected = operation.resects_primary or operation.resects_liver
    return resected and operation.margin not in RESECTION_MARGINS


def no_margin(facts: PatientFacts) -> bool:
    """Return True if any resection of the primary or the liver has no margin."""
    return any(lacks_margin(op) for op in facts.operations)


def late_operation(facts: PatientFacts) -> bool:
    """Return True if an operation came long after diagnosis with no therapy between.

    An operation more than UNTREATED_INTERVAL after the diagnosis, with no
    radiation course nor systemic therapy line started between the diagnosis
    and the operation (both days included), is unusual: a date may be wrong or
    a treatment missing. Without a diagnosis there is no interval to judge.
    """
    diagnosis = facts.diagnosis_date
    if diagnosis is None:
        return False
    starts = [c.start_date for c in facts.radiation + facts.systemic]
    return any(
        op.date - diagnosis > UNTREATED_INTERVAL
        and not any(diagnosis <= start <= op.date for start in starts)
        for op in facts.operations
    )


def follow_up_gap(facts: PatientFacts) -> bool:
    """Return True if two consecutive follow-up contacts are over FOLLOW_UP_GAP
    apart (contacts of the same day count as one)."""
    days = sorted({contact.date for contact in facts.contacts})
    return any(
        later - earlier > FOLLOW_UP_GAP for earlier, later in itertools.pairwise(days)
    )


def no_follow_up(facts: PatientFacts) -> bool:
    """Return True if a living patient has no follow-up contact at all.

    A recorded death closes follow-up: the dead are never flagged.
    """
    return vital_status(facts) == VitalStatus.ALIVE and not facts.contacts


#: A living patient's follow-up is overdue once their last known contact is more
#: than this many months old.
FOLLOW_UP_OVERDUE_MONTHS = 12


def months_before(day: datetime.date, months: int) -> datetime.date:
    """Return the same day of the month `months` earlier (clipped to month end)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return datetime.date(year, month + 1, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def follow_up_overdue_from(facts: PatientFacts) -> datetime.date | None:
    """Return the first day a living patient's follow-up is overdue, or None (a
    recorded death closes follow-up; no dated record, nothing to count from).

    Follow-up is overdue on `today` when the last known contact is before the
    day FOLLOW_UP_OVERDUE_MONTHS months earlier (months_before(today, 12)): the
    first such day is stored, so that whether a patient is overdue today is
    one comparison (:func:`follow_up_overdue`), in Python or in a query.
    """
    last = last_known_contact(facts)
    if vital_status(facts) != VitalStatus.ALIVE or last is None:
        return None
    # months_before grows with the day (by 0 to 3 days a day at month ends):
    # step from a few days short of a year until the day it passes the contact
    day = last + datetime.timedelta(days=360)
    while months_before(day, FOLLOW_UP_OVERDUE_MONTHS) <= last:
        day += datetime.timedelta(days=1)
    return day


def follow_up_overdue(overdue_from: datetime.date | None, today: datetime.date) -> bool:
    """Return True if follow-up is overdue on `today`, given the stored first
    overdue day (:func:`follow_up_overdue_from`)."""
    return overdue_from is not None and overdue_from <= today


def key_fields(facts: PatientFacts) -> dict[str, bool]:
    """Return, for each of KEY_FIELDS, whether it is filled.

    A field that does not apply counts as filled (the distance from the anal
    verge of a colon tumour, the margin when nothing was resected); one that
    cannot be filled yet does not (the CEA or the distance of a missing
    diagnosis). The diagnosis counts as filled only with its primary site and
    stage known (unknown_stage): a missing-data code is no answer.
    """
    diagnosed = not no_diagnosis(facts)
    filled = (
        diagnosed and not unknown_stage(facts),
        not no_liver(facts),
        not no_ecog(facts),
        diagnosed and not no_cea(facts),
        diagnosed and not no_verge(facts),
        not no_margin(facts),
    )
    return dict(zip(KEY_FIELDS, filled, strict=True))


def key_fields_filled(facts: PatientFacts) -> int:
    """Return how many of KEY_FIELDS are filled (key_fields)."""
    return sum(key_fields(facts).values())


@dataclass(frozen=True)
class StoredFacts:
    """Every derived fact kept in a patient's row (registry.models.DerivedFacts).

    Dates are the ones the rules above read or produce; the first recurrence is
    kept per index date, because recurrence-free survival counts only a
    recurrence on or after the date its clock starts.
    """

    diagnosis_date: datetime.date | None
    death_date: datetime.date | None
    cancer_death_date: datetime.date | None
    initial_resectability: str
    first_operation: datetime.date | None
    first_primary_resection: datetime.date | None
    first_liver_resection: datetime.date | None
    strategy_completed: datetime.date | None
    last_palliative: datetime.date | None
    first_radiation: datetime.date | None
    first_systemic: datetime.date | None
    first_treatment: datetime.date | None
    first_recurrence: datetime.date | None
    recurrence_from_treatment: datetime.date | None
    recurrence_from_operation: datetime.date | None
    last_contact: datetime.date | None
    strategy: str
    staged_order: str
    liver_resected: bool
    converted: bool
    later_palliative: bool
    vital_status: str
    # the data-quality flags (True: needs attention), and completeness
    no_diagnosis: bool
    no_liver: bool
    no_ecog: bool
    no_cea: bool
    no_verge: bool
    unknown_stage: bool
    no_margin: bool
    late_operation: bool
    follow_up_gap: bool
    no_follow_up: bool
    contradiction: bool
    key_fields_filled: int
    # whether follow-up is overdue depends on today: the first day it is
    follow_up_overdue_from: datetime.date | None
    # what reports group and describe patients by
    age: int | None
    first_regimen: str
    first_biologic: str

    def as_dict(self) -> dict:
        """Return the facts as a dictionary of column values."""
        return asdict(self)


def strategy_completed(strategy: ResectionStrategy) -> datetime.date | None:
    """Return the date the resection strategy was complete: the later of the first
    primary and first liver resections that happened (None without resection).

    A grouping by strategy depends on events up to this date, which is what the
    immortal-time warning and the suggested landmark of a report look at.
    """
    dates = [d for d in (strategy.primary_date, strategy.liver_date) if d]
    return max(dates, default=None)


def stored_facts(facts: PatientFacts) -> StoredFacts:
    """Return every derived fact of one patient, by the rules of this module."""
    strategy = resection_strategy(facts.operations)
    palliative = [op.date for op in facts.operations if op.is_palliative]
    by_index = {
        index: first_recurrence(facts, on_or_after=start)
        if (start := index_date(facts, index)) is not None
        else None
        for index in (IndexDate.DIAGNOSIS, IndexDate.TREATMENT, IndexDate.OPERATION)
    }
    return StoredFacts(
        diagnosis_date=facts.diagnosis_date,
        death_date=facts.death_date,
        cancer_death_date=cancer_death(facts),
        initial_resectability=facts.initial_resectability or "",
        first_operation=index_date(facts, IndexDate.OPERATION),
        first_primary_resection=strategy.primary_date,
        first_liver_resection=strategy.liver_date,
        strategy_completed=strategy_completed(strategy),
        last_palliative=max(palliative, default=None),
        first_radiation=min((c.start_date for c in facts.radiation), default=None),
        first_systemic=min((c.start_date for c in facts.systemic), default=None),
        first_treatment=first_treatment_start(facts),
        first_recurrence=by_index[IndexDate.DIAGNOSIS],
        recurrence_from_treatment=by_index[IndexDate.TREATMENT],
        recurrence_from_operation=by_index[IndexDate.OPERATION],
        last_contact=last_known_contact(facts),
        strategy=strategy.strategy.value,
        staged_order=strategy.staged_order.value if strategy.staged_order else "",
        liver_resected=liver_resected(facts.operations),
        converted=converted(facts),
        later_palliative=later_palliative_surgery(facts),
        vital_status=vital_status(facts).value,
        no_diagnosis=no_diagnosis(facts),
        no_liver=no_liver(facts),
        no_ecog=no_ecog(facts),
        no_cea=no_cea(facts),
        no_verge=no_verge(facts),
        unknown_stage=unknown_stage(facts),
        no_margin=no_margin(facts),
        late_operation=late_operation(facts),
        follow_up_gap=follow_up_gap(facts),
        no_follow_up=no_follow_up(facts),
        contradiction=contradiction(facts),
        key_fields_filled=key_fields_filled(facts),
        follow_up_overdue_from=follow_up_overdue_from(facts),
        age=age_at_diagnosis(
            facts.date_of_birth, facts.diagnosis_date, facts.age_at_diagnosis
        ),
        first_regimen=line.regimen if (line := first_line(facts)) else "",
        first_biologic=line.biologic if line else "",
    )


# --- Checks at entry --------------------------------------------------------------
#
# What the forms, the admin and the models' clean() ask of a record before it is
# saved. A *refusal* (a string returned by the date and range rules below) stops
# the save with the message at the field; a *warning* (a Finding) is shown with an
# "I confirm this is correct" box, and the confirmed warning is stored and listed
# on the data-quality page. docs/data-entry.md lists every rule and why it is one
# or the other.

#: No one in the registry was born before this day (an 85-year-old diagnosed in
#: 1984 was born in 1899); earlier is a typing error.
EARLIEST_BIRTH = datetime.date(1880, 1, 1)

#: No diagnosis, treatment, contact or death is dated before this day. It also
#: keeps every stored date inside what the reports' date arithmetic handles
#: (pandas cannot hold a date before 1677-09-21).
EARLIEST_EVENT = datetime.date(1900, 1, 1)

#: The oldest age at diagnosis accepted when the date of birth is not known.
MAX_AGE_AT_DIAGNOSIS = 110

#: The distance from the anal verge (cm, both ends included) each rectal site's
#: label states: a distance outside the band contradicts the site chosen.
RECTAL_BANDS: dict[str, tuple[Decimal, Decimal]] = {
    "rectum_low": (Decimal(0), Decimal(5)),
    "rectum_mid": (Decimal(5), Decimal(10)),
    "rectum_high": (Decimal(10), Decimal(15)),
}


@dataclass(frozen=True)
class Finding:
    """A warning about a record: possible, but worth a second look.

    ``code`` names the rule (stable: confirmations are stored under it);
    ``field`` is the field the message is shown at.
    """

    code: str
    field: str
    message: str


def date_out_of_bounds(
    value: datetime.date | None,
    *,
    what: str,
    today: datetime.date,
    earliest: datetime.date = EARLIEST_EVENT,
) -> str | None:
    """Return why the date `value` is impossible, or None if it is within bounds.

    Every date of the registry lies between `earliest` (EARLIEST_EVENT, or
    EARLIEST_BIRTH for a date of birth) and today.
    """
    if value is None:
        return None
    if value > today:
        return f"{what} ({value}) cannot be in the future."
    if value < earliest:
        return f"{what} ({value}) is before {earliest}: check the year."
    return None


def before_birth(
    value: datetime.date | None, birth: datetime.date | None, *, what: str
) -> str | None:
    """Return a refusal if `value` (a diagnosis, treatment, contact) precedes birth.

    The birth date itself is an identifier, so the refusal never quotes it: a
    user without the permission to see identifiers meets it too.
    """
    if value is None or birth is None or value >= birth:
        return None
    return f"{what} ({value}) is before the date of birth."


def age_on(birth: datetime.date, day: datetime.date) -> int:
    """Return the age in whole years on `day` of someone born on `birth`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def age_at_diagnosis(
    birth: datetime.date | None,
    diagnosis: datetime.date | None,
    recorded: int | None,
) -> int | None:
    """Return the age at diagnosis in whole years.

    From the date of birth when both dates are known; otherwise the age recorded
    for historical data whose date of birth is unknown (None if neither).
    """
    if birth is not None and diagnosis is not None:
        return age_on(birth, diagnosis)
    return recorded


def age_problem(
    birth: datetime.date | None,
    diagnosis: datetime.date | None,
    recorded: int | None,
) -> str | None:
    """Return why the date of birth and the recorded age cannot both stand.

    The date of birth is optional only where the age at diagnosis is recorded
    instead; when both are given they must agree.
    """
    if birth is None and recorded is None:
        return (
            "Give the date of birth, or the age at diagnosis when the date of birth "
            "is not known."
        )
    if recorded is not None and not 0 <= recorded <= MAX_AGE_AT_DIAGNOSIS:
        return f"Age at diagnosis must be between 0 and {MAX_AGE_AT_DIAGNOSIS}."
    if birth is not None and diagnosis is not None and recorded is not None:
        computed = age_on(birth, diagnosis)
        if computed != recorded:
            return (
                f"Age at diagnosis ({recorded}) does not match the date of birth "
                f"(age {computed} on {diagnosis}): leave the age blank when the "
                "date of birth is known."
            )
    return None


def verge_contradiction(primary_site: str, anal_verge_cm: Decimal | None) -> str | None:
    """Return a refusal if the distance from the anal verge contradicts the site.

    The rectal sites are defined by the distance (RECTAL_BANDS): "rectum, mid
    (5–10 cm)" with 14 cm cannot both be right.
    """
    band = RECTAL_BANDS.get(primary_site)
    if band is None or anal_verge_cm is None:
        return None
    low, high = band
    if low <= anal_verge_cm <= high:
        return None
    return (
        f"{anal_verge_cm} cm from the anal verge is outside the {low:g}–{high:g} cm "
        "of the site chosen: correct the distance or the site."
    )


def distant_metastases(clinical_m: str) -> bool | None:
    """Return whether the tumour had distant metastases at diagnosis (stage IV).

    None when the M category is unknown or not recorded: a missing answer is
    neither M0 nor M1.
    """
    if is_missing(clinical_m):
        return None
    return clinical_m != ClinicalM.M0


def treatment_before_diagnosis(
    day: datetime.date | None,
    diagnosis: datetime.date | None,
    *,
    what: str,
    resects_primary: bool = False,
    field: str = "date",
) -> Finding | None:
    """Warn about a treatment dated before the diagnosis.

    A warning, not a refusal: a tumour resected as an emergency is diagnosed on
    the specimen, and the pathology report may be dated days after the
    operation. Otherwise one of the dates is wrong, and a resection dated before
    the diagnosis changes the derived strategy, so the nurse confirms it.
    """
    if day is None or diagnosis is None or day >= diagnosis:
        return None
    detail = " (a resection of the primary)" if resects_primary else ""
    return Finding(
        "treatment_before_diagnosis",
        field,
        f"{what}{detail} is dated {day}, before the diagnosis on {diagnosis}. "
        "If the diagnosis was made on the specimen, date the diagnosis on the day "
        "of the operation; otherwise check both dates.",
    )


def m0_with_synchronous_liver(clinical_m: str, timing: str | None) -> Finding | None:
    """Warn about cM0 with synchronous liver metastases.

    Synchronous liver metastases are distant metastases at diagnosis (M1). A
    warning, not a refusal: metastases found at the operation after a cM0
    staging are recorded as synchronous by some teams, and the clinical M stays
    what the staging said.
    """
    if clinical_m != ClinicalM.M0 or timing != "synchronous":
        return None
    return Finding(
        "m0_synchronous_liver",
        "clinical_m",
        "Clinical M0, yet the liver metastases are recorded as synchronous (present "
        "at diagnosis, which is M1). Check the M category or the timing.",
    )
