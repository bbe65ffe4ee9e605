"""A synthetic cohort shaped like the study the registry grew from (README, The
demo cohort), for demonstration.

Nothing here is real: every patient is invented from a seeded random generator
and marked ``is_synthetic``. The default 74 patients follow the study: rectal
cancer with synchronous liver metastases diagnosed 2002-2008, all given
long-course chemoradiation and FOLFOX or FOLFIRI; 30 synchronous, 13 staged,
22 primary-only and 9 unresected patients (as derived from their operations);
survival drawn so that the median survival of each arm lies near the study's
(46, 47 and 31 months); about a quarter converted to resectability; the extent
of liver disease associated with resection; six of the nine unresected patients
with later palliative surgery. ``patients=N`` makes a registry of the same shape;
:func:`generate_chunks` makes it a chunk at a time, in bounded memory.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import itertools
import math
import random
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from registry.choices import (
    Biologic,
    CauseOfDeath,
    ClinicalM,
    ConcurrentAgent,
    ContactType,
    DiseaseStatus,
    ExtrahepaticDisease,
    Intent,
    LiverDistribution,
    LiverExtent,
    LiverProcedure,
    Margin,
    MetastasisTiming,
    MmrStatus,
    PalliativeProcedure,
    PrimaryProcedure,
    PrimarySite,
    RadiationType,
    Regimen,
    Resectability,
    Response,
    Sex,
    StopReason,
    Strategy,
    TherapySetting,
)
from registry.derive import ContactFact, CourseFact, OperationFact, PatientFacts

DAYS_PER_MONTH = 30.4375
#: The seed whose 74 patients come closest to the study's medians (46 / 47 / 31
#: months) and log-rank P (.17) among seeds 2000-2399; any seed gives a cohort
#: of the same shape.
DEFAULT_SEED = 2040
FIRST_DIAGNOSIS = datetime.date(2002, 1, 1)
LAST_DIAGNOSIS = datetime.date(2008, 12, 31)
#: The demo's data cut-off: no record is dated after it.
DATA_CUTOFF = datetime.date(2009, 12, 31)
#: Follow-up of the study ran from 4 to 58 months.
MIN_FOLLOWUP_MONTHS = 4
MAX_FOLLOWUP_MONTHS = 58

#: Arms of the study: (strategy, patients of 74, median survival in months).
#: The study gives no median for the unresected; 22 months keeps the 2-year
#: survival of the patients without liver resection near the study's 60%.
ARMS = (
    (Strategy.SYNCHRONOUS, 30, 46.0),
    (Strategy.STAGED, 13, 47.0),
    (Strategy.PRIMARY_ONLY, 22, 31.0),
    (Strategy.NONE, 9, 22.0),
)
#: Weibull shape of the survival times (hazard rising slowly with time).
WEIBULL_SHAPE = 1.5
#: Censoring times are skewed towards the end of follow-up (u ** skew, skew < 1):
#: most patients are followed to the cut-off, a few are lost early.
CENSOR_SKEW = 0.35
#: Of the staged resections, the share done liver first.
LIVER_FIRST_SHARE = 3 / 13
#: Share of resected patients whose liver disease was first called unresectable
#: or potentially resectable (19 of 43, about 26% of the cohort, converted).
CONVERSION_SHARE = 19 / 43
#: Unresected patients needing palliative surgery later (6 of 9 in the study).
LATER_PALLIATIVE_SHARE = 6 / 9

#: Extent of liver disease: weights by whether the liver was resected. The
#: imbalance is what makes extent predict resectability, as in the study.
EXTENT_WEIGHTS = {
    True: (0.48, 0.40, 0.10, 0.02),
    False: (0.10, 0.25, 0.40, 0.25),
}
#: The extents those weights are for, in order (LiverExtent.values, built once).
EXTENTS = LiverExtent.values

#: Patients generated (and written by seed_demo) at a time: bounds the memory a
#: large registry takes.
CHUNK_SIZE = 20_000

SITES = (
    ("NFG", "Northfield General Hospital (synthetic)"),
    ("RUH", "Riverside University Hospital (synthetic)"),
)


@dataclass
class DemoPatient:
    """One invented patient with all its records, as plain field dictionaries."""

    site_index: int
    registry_number: str
    strategy: Strategy
    patient: dict
    tumour: dict
    liver: dict
    radiation: list[dict] = field(default_factory=list)
    systemic: list[dict] = field(default_factory=list)
    operations: list[dict] = field(default_factory=list)
    followups: list[dict] = field(default_factory=list)
    death: dict | None = None
    #: Place in registry order (0 for the first numbered): ids follow it.
    position: int = 0

    def plain_facts(self) -> PatientFacts:
        """Return the plain facts registry.derive reads, from these records.

        As registry.facts.plain_facts reads them from the database: each fact
        from the record field of its name (the patient, tumour and liver fields
        for the patient's facts), a fact no record holds taking its default.
        """
        fields = {**self.patient, **self.tumour, **self.liver}
        return PatientFacts(
            **{name: fields[name] for name in _names(PatientFacts) if name in fields},
            operations=_facts(OperationFact, self.operations),
            radiation=_facts(CourseFact, self.radiation),
            systemic=_facts(CourseFact, self.systemic),
            contacts=_facts(ContactFact, self.followups),
            death_date=self.death["date"] if self.death else None,
            death_cause=self.death["cause"] if self.death else "",
        )


@functools.cache
def _names(kind: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(kind))


def _facts(kind: type, records: list[dict]) -> tuple:
    names = _names(kind)
    return tuple(kind(**{n: r[n] for n in names if n in r}) for r in records)


def arm_sizes(total: int) -> list[tuple[Strategy, int, float]]:
    """Return the study's arms scaled to `total` patients (largest remainder)."""
    study = sum(n for _, n, _ in ARMS)
    exact = [total * n / study for _, n, _ in ARMS]
    sizes = [math.floor(x) for x in exact]
    by_remainder = sorted(
        range(len(ARMS)), key=lambda i: exact[i] - sizes[i], reverse=True
    )
    for i in by_remainder[: total - sum(sizes)]:
        sizes[i] += 1
    return [
        (arm, size, median) for (arm, _, median), size in zip(ARMS, sizes, strict=True)
    ]


def site_list(total: int) -> list[tuple[str, str]]:
    """Return the synthetic sites: two for the study, more for large registries."""
    extra = max(0, math.ceil(total / 25_000) - len(SITES))
    return list(SITES) + [
        (f"S{i:03d}", f"Synthetic Hospital {i} (synthetic)")
        for i in range(1, extra + 1)
    ]


def _days(months: float) -> int:
    return round(months * DAYS_PER_MONTH)


def _stratified(rng: random.Random, n: int) -> list[float]:
    """Return n uniforms, one in each of n equal strata, shuffled.

    Stratifying keeps a small arm's times spread over the whole distribution,
    so its median lands near the target whatever the seed.
    """
    values = [(i + rng.random()) / n for i in range(n)]
    rng.shuffle(values)
    return values


def generate(*, patients: int = 74, seed: int = DEFAULT_SEED) -> list[DemoPatient]:
    """Return `patients` invented patients in registry order; the same seed gives
    the same cohort.

    The whole cohort is held in memory; :func:`generate_chunks` gives the same
    patients a chunk at a time.
    """
    cohort = list(_draw(patients, seed))
    numbering = _Numbering(
        [_registry_key(record) for record in cohort],
        [record.site_index for record in cohort],
        sites=site_list(patients),
        seed=seed,
    )
    for drawn, record in enumerate(cohort):
        numbering.apply(drawn, record)
    cohort.sort(key=_position)
    return cohort


def generate_chunks(
    *, patients: int, seed: int = DEFAULT_SEED, chunk_size: int = CHUNK_SIZE
) -> Iterator[list[DemoPatient]]:
    """Yield the patients of ``generate(patients=..., seed=...)`` in lists of at
    most `chunk_size`, holding one list at a time.

    Registry numbers follow the dates of diagnosis of the whole cohort, so the
    patients are drawn twice: once for each one's registry key and site only (a
    few bytes a patient), to number them, then again in full a chunk at a time.
    The first pass (:func:`_patient_key`) makes every draw the full one makes, in
    the same order, but builds no records, so the second draws the same patients
    at a fraction of the cost. The lists
    come in the order the patients are drawn, each sorted by registry number;
    ``position`` says where each patient stands in the whole registry.
    """
    if patients <= chunk_size:
        yield generate(patients=patients, seed=seed)
        return
    keys, sites = array("q"), array("H")
    for key, site_index in _draw(patients, seed, drawing=_patient_key):
        keys.append(key)
        sites.append(site_index)
    numbering = _Numbering(keys, sites, sites=site_list(patients), seed=seed)
    del keys, sites
    chunk: list[DemoPatient] = []
    for drawn, record in enumerate(_draw(patients, seed)):
        numbering.apply(drawn, record)
        chunk.append(record)
        if len(chunk) == chunk_size:
            yield sorted(chunk, key=_position)
            chunk = []
    if chunk:
        yield sorted(chunk, key=_position)


def _draw(
    patients: int, seed: int, *, drawing: Callable[..., object] | None = None
) -> Iterator:
    """Yield the invented patients as they are drawn, arm by arm, not yet numbered
    (their MRN a provisional one); the same seed draws the same patients.

    Each patient is what `drawing` makes of its arm's draws: :func:`_patient` by
    default; :func:`_patient_key` (its registry key and site) for the first pass
    of :func:`generate_chunks`.
    """
    drawing = drawing or _patient
    rng = random.Random(seed)
    sites = site_list(patients)
    for strategy, size, median in arm_sizes(patients):
        event_u = _stratified(rng, size)
        censor_u = _stratified(rng, size)
        conversions = _flags(rng, size, CONVERSION_SHARE)
        liver_first = _flags(rng, size, LIVER_FIRST_SHARE)
        palliative = _flags(rng, size, LATER_PALLIATIVE_SHARE)
        for i in range(size):
            site_index = _pick_site(rng, len(sites))
            scale = median / math.log(2) ** (1 / WEIBULL_SHAPE)
            event_months = scale * (-math.log(1 - event_u[i])) ** (1 / WEIBULL_SHAPE)
            censor_months = MIN_FOLLOWUP_MONTHS + censor_u[i] ** CENSOR_SKEW * (
                MAX_FOLLOWUP_MONTHS - MIN_FOLLOWUP_MONTHS
            )
            yield drawing(
                rng,
                strategy=strategy,
                site_index=site_index,
                event_months=event_months,
                censor_months=censor_months,
                converted=conversions[i],
                liver_first=liver_first[i],
                later_palliative=palliative[i],
            )


def _registry_key(record: DemoPatient) -> int:
    """Return the order in which a prospective registry numbers its patients, as
    they present: by date of diagnosis, then by the provisional MRN drawn with the
    patient (seven digits), so the numbers say nothing of the arm."""
    provisional = int(record.patient["mrn"].removeprefix("SYN"))
    return _key(record.tumour["diagnosis_date"], provisional)


def _key(diagnosis: datetime.date, provisional_mrn: int) -> int:
    return diagnosis.toordinal() * 10**7 + provisional_mrn


def _position(record: DemoPatient) -> int:
    return record.position


class _Numbering:
    """Each drawn patient's place in the registry, registry number and MRN.

    Built from every patient's registry key and site, in the order drawn; kept as
    arrays of integers, so a million patients take some 30 MB.
    """

    def __init__(
        self,
        keys: Sequence[int],
        site_indexes: Sequence[int],
        *,
        sites: list[tuple[str, str]],
        seed: int,
    ) -> None:
        # sorted() is stable: patients with the same key keep the order drawn.
        order = sorted(range(len(keys)), key=keys.__getitem__)
        self.codes = [code for code, _ in sites]
        self.position = array("q", bytes(8 * len(keys)))
        self.number = array("q", bytes(8 * len(keys)))
        counters = [0] * len(sites)
        for place, drawn in enumerate(order):
            self.position[drawn] = place
            counters[site_indexes[drawn]] += 1
            self.number[drawn] = counters[site_indexes[drawn]]
        del order
        # MRNs are drawn without replacement from a generator of their own, so
        # they are unique at any size and the cohort's other draws stay as they
        # were; the n-th patient in registry order gets the n-th.
        self.mrns = array(
            "q", random.Random(f"mrn-{seed}").sample(range(10**7, 10**8), len(keys))
        )

    def apply(self, drawn: int, record: DemoPatient) -> None:
        """Number the `drawn`-th patient drawn."""
        record.position = self.position[drawn]
        record.patient["mrn"] = f"SYN{self.mrns[record.position]}"
        code = self.codes[record.site_index]
        record.registry_number = f"{code}-{self.number[drawn]:05d}"
        record.patient["registry_number"] = record.registry_number


@functools.cache
def _cumulative(weights: tuple[float, ...]) -> list[float]:
    """Return the cumulative weights ``random.choices`` makes of `weights`.

    ``rng.choices(population, cum_weights=_cumulative(w))`` draws exactly what
    ``rng.choices(population, weights=w)`` draws (the same sums, one random()
    each) without summing the weights again at every draw: about 14 a patient,
    a fifth of drawing one.
    """
    return list(itertools.accumulate(weights))


def _flags(rng: random.Random, n: int, share: float) -> list[bool]:
    """Return n booleans of which round(n * share) are True, in random order."""
    k = round(n * share)
    flags = [True] * k + [False] * (n - k)
    rng.shuffle(flags)
    return flags


def _pick_site(rng: random.Random, n_sites: int) -> int:
    # The first site is the larger, as in a two-hospital network.
    if n_sites == 2:
        return 0 if rng.random() < 0.65 else 1
    return rng.randrange(n_sites)


class _Timeline(NamedTuple):
    """A patient's treatment in days from diagnosis, outcome, and diagnosis."""

    crt_start: int
    crt_end: int
    chemo_start: int
    cycles: int
    chemo_end: int
    surgery: int
    second: int
    died: bool
    observed_days: int
    diagnosis: datetime.date


def _timeline(
    rng: random.Random,
    *,
    strategy: Strategy,
    event_months: float,
    censor_months: float,
) -> _Timeline:
    """Draw a patient's treatment timeline and date of diagnosis; settle whether
    the patient died and how long they were followed."""
    # Treatment timeline in days from diagnosis: chemoradiation, then
    # systemic therapy, then surgery.
    crt_start = rng.randint(14, 28)
    crt_end = crt_start + 38
    chemo_start = crt_end + rng.randint(14, 35)
    cycles = rng.randint(6, 12)
    chemo_end = chemo_start + cycles * 14
    surgery = chemo_end + rng.randint(28, 56)
    second = surgery + rng.randint(60, 120)
    last_planned = {
        Strategy.SYNCHRONOUS: surgery,
        Strategy.STAGED: second,
        Strategy.PRIMARY_ONLY: surgery,
        Strategy.NONE: chemo_start - 16,
    }[strategy]

    # Patients live at least two months beyond their planned treatment (the
    # unresected at least six weeks into chemotherapy), so a record is never
    # dated after death.
    floor = max(MIN_FOLLOWUP_MONTHS, (last_planned + 61) / DAYS_PER_MONTH)
    event_months = max(event_months, floor)
    censor_months = max(censor_months, floor)
    died = event_months <= censor_months
    observed_days = _days(min(event_months, censor_months, MAX_FOLLOWUP_MONTHS))
    if observed_days >= _days(MAX_FOLLOWUP_MONTHS):
        died = died and event_months <= MAX_FOLLOWUP_MONTHS

    latest_start = min(
        LAST_DIAGNOSIS, DATA_CUTOFF - datetime.timedelta(days=observed_days)
    )
    span = (latest_start - FIRST_DIAGNOSIS).days
    d0 = FIRST_DIAGNOSIS + datetime.timedelta(days=rng.randint(0, max(span, 0)))
    return _Timeline(
        crt_start,
        crt_end,
        chemo_start,
        cycles,
        chemo_end,
        surgery,
        second,
        died,
        observed_days,
        d0,
    )


def _patient(
    rng: random.Random,
    *,
    strategy: Strategy,
    site_index: int,
    event_months: float,
    censor_months: float,
    converted: bool,
    liver_first: bool,
    later_palliative: bool,
) -> DemoPatient:
    resected_liver = strategy in (Strategy.SYNCHRONOUS, Strategy.STAGED)
    (
        crt_start,
        crt_end,
        chemo_start,
        cycles,
        chemo_end,
        surgery,
        second,
        died,
        observed_days,
        d0,
    ) = _timeline(
        rng, strategy=strategy, event_months=event_months, censor_months=censor_months
    )

    def day(offset: int) -> datetime.date:
        return d0 + datetime.timedelta(days=offset)

    site = rng.choice(
        [PrimarySite.RECTUM_LOW, PrimarySite.RECTUM_MID, PrimarySite.RECTUM_HIGH]
    )
    verge = {"rectum_low": (1, 5), "rectum_mid": (5, 10), "rectum_high": (10, 15)}[site]
    extent = rng.choices(
        EXTENTS, cum_weights=_cumulative(EXTENT_WEIGHTS[resected_liver])
    )[0]
    if resected_liver:
        call = (
            rng.choice([Resectability.UNRESECTABLE, Resectability.POTENTIALLY])
            if converted
            else Resectability.RESECTABLE
        )
    else:
        call = rng.choices(
            [
                Resectability.UNRESECTABLE,
                Resectability.POTENTIALLY,
                Resectability.RESECTABLE,
            ],
            cum_weights=_cumulative((0.7, 0.2, 0.1)),
        )[0]
    lesions = rng.randint(1, 4) if extent in ("lt25", "25to50") else rng.randint(4, 15)

    age = rng.gauss(61, 10)
    birth = d0 - datetime.timedelta(days=round(max(28, min(age, 88)) * 365.25))
    patient = {
        # Replaced by a unique MRN in generate(); drawn to keep the stream stable.
        "mrn": f"SYN{rng.randint(10**6, 10**7 - 1)}",
        "date_of_birth": birth,
        "sex": Sex.MALE if rng.random() < 0.62 else Sex.FEMALE,
        "ecog": rng.choices([0, 1, 2], cum_weights=_cumulative((0.55, 0.38, 0.07)))[0],
        "charlson_index": rng.choices(
            [0, 1, 2, 3], cum_weights=_cumulative((0.55, 0.25, 0.15, 0.05))
        )[0],
        "presenting_symptom": rng.choices(
            ["bleeding", "obstruction", "none", "other"],
            cum_weights=_cumulative((0.6, 0.15, 0.15, 0.1)),
        )[0],
        "is_synthetic": True,
    }
    tumour = {
        "diagnosis_date": d0,
        "primary_site": site,
        "anal_verge_cm": round(rng.uniform(*verge), 1),
        "histology": rng.choices(
            ["adeno", "mucinous"], cum_weights=_cumulative((0.88, 0.12))
        )[0],
        "grade": rng.choices(
            ["G1", "G2", "G3"], cum_weights=_cumulative((0.1, 0.7, 0.2))
        )[0],
        "clinical_t": rng.choices(
            ["T2", "T3", "T4a", "T4b"], cum_weights=_cumulative((0.05, 0.7, 0.15, 0.1))
        )[0],
        "clinical_n": rng.choices(
            ["N0", "N1a", "N1b", "N2a", "N2b"],
            cum_weights=_cumulative((0.15, 0.2, 0.3, 0.2, 0.15)),
        )[0],
        "clinical_m": ClinicalM.M1A if rng.random() < 0.85 else ClinicalM.M1B,
        "cea_ng_ml": round(math.exp(rng.gauss(3.0, 1.2)), 1),
        "kras": rng.choices(
            ["wt", "mut", "nt"], cum_weights=_cumulative((0.35, 0.25, 0.4))
        )[0],
        "nras": "nt",
        "braf": "nt",
        "mmr": MmrStatus.NOT_TESTED,
    }
    liver = {
        "timing": MetastasisTiming.SYNCHRONOUS,
        "lesion_count": lesions,
        "largest_mm": rng.randint(8, 45)
        if extent in ("lt25", "25to50")
        else rng.randint(30, 120),
        "distribution": LiverDistribution.UNILOBAR
        if lesions <= 2 and rng.random() < 0.7
        else LiverDistribution.BILOBAR,
        "extent": extent,
        "extrahepatic": ExtrahepaticDisease.NONE
        if tumour["clinical_m"] == ClinicalM.M1A
        else ExtrahepaticDisease.LUNG,
        "initial_resectability": call,
    }
    record = DemoPatient(site_index, "", strategy, patient, tumour, liver)

    record.radiation.append(
        {
            "course_type": RadiationType.LONG_COURSE_CRT,
            "start_date": day(crt_start),
            "end_date": day(crt_end),
            "total_dose_gy": 50.4,
            "fractions": 28,
            "concurrent_agent": rng.choice(
                [ConcurrentAgent.CAPECITABINE, ConcurrentAgent.FLUOROURACIL]
            ),
            "completed": True,
        }
    )
    unresected_end = min(chemo_end, observed_days - 30)
    record.systemic.append(
        {
            "setting": TherapySetting.NEOADJUVANT
            if strategy != Strategy.NONE
            else TherapySetting.PALLIATIVE_FIRST,
            "regimen": Regimen.FOLFOX if rng.random() < 0.6 else Regimen.FOLFIRI,
            "biologic": Biologic.BEVACIZUMAB if rng.random() < 0.3 else Biologic.NONE,
            "start_date": day(chemo_start),
            "end_date": day(
                chemo_end
                if strategy != Strategy.NONE
                else max(unresected_end, chemo_start + 14)
            ),
            "cycles": cycles,
            "stop_reason": StopReason.SURGERY
            if strategy != Strategy.NONE
            else StopReason.PROGRESSION,
            "best_response": rng.choices(
                ["CR", "PR", "SD", "PD"],
                cum_weights=_cumulative((0.05, 0.5, 0.35, 0.1)),
            )[0]
            if strategy != Strategy.NONE
            else rng.choice([Response.STABLE, Response.PROGRESSION]),
        }
    )

    primary = rng.choices(
        [PrimaryProcedure.LOW_ANTERIOR, PrimaryProcedure.ABDOMINOPERINEAL],
        cum_weights=_cumulative((0.65, 0.35) if site != "rectum_low" else (0.3, 0.7)),
    )[0]
    hepatectomy = (
        rng.choices(
            [
                LiverProcedure.MAJOR_HEPATECTOMY,
                LiverProcedure.MINOR_HEPATECTOMY,
                LiverProcedure.METASTASECTOMY,
            ],
            cum_weights=_cumulative((0.4, 0.35, 0.25)),
        )[0]
        if resected_liver
        else LiverProcedure.NONE
    )

    def operation(
        offset: int,
        *,
        primary_proc=PrimaryProcedure.NONE,
        liver_proc=LiverProcedure.NONE,
        palliative=PalliativeProcedure.NONE,
    ):
        resection = primary_proc != PrimaryProcedure.NONE or liver_proc not in (
            LiverProcedure.NONE,
            LiverProcedure.ABLATION,
        )
        return {
            "date": day(offset),
            "primary_procedure": primary_proc,
            "liver_procedure": liver_proc,
            "palliative_procedure": palliative,
            "intent": Intent.CURATIVE if resection else Intent.PALLIATIVE,
            "emergency": False,
            "margin": rng.choices(["R0", "R1"], cum_weights=_cumulative((0.85, 0.15)))[
                0
            ]
            if resection
            else Margin.NOT_APPLICABLE,
            "clavien_dindo": rng.choices(
                ["0", "I", "II", "IIIa", "IIIb"],
                cum_weights=_cumulative((0.45, 0.2, 0.2, 0.1, 0.05)),
            )[0],
            "length_of_stay_days": rng.randint(5, 14)
            if resection
            else rng.randint(2, 6),
        }

    match strategy:
        case Strategy.SYNCHRONOUS:
            record.operations.append(
                operation(surgery, primary_proc=primary, liver_proc=hepatectomy)
            )
        case Strategy.STAGED:
            if liver_first:
                record.operations.append(operation(surgery, liver_proc=hepatectomy))
                record.operations.append(operation(second, primary_proc=primary))
            else:
                record.operations.append(operation(surgery, primary_proc=primary))
                record.operations.append(operation(second, liver_proc=hepatectomy))
        case Strategy.PRIMARY_ONLY:
            # Some had their liver ablated: ablation alone is not a resection.
            ablation = (
                LiverProcedure.ABLATION if rng.random() < 0.1 else LiverProcedure.NONE
            )
            record.operations.append(
                operation(surgery, primary_proc=primary, liver_proc=ablation)
            )
        case Strategy.NONE:
            if later_palliative:
                window = (chemo_start + 20, max(chemo_start + 21, observed_days - 21))
                record.operations.append(
                    operation(
                        rng.randint(*window),
                        palliative=rng.choice(
                            [
                                PalliativeProcedure.STOMA,
                                PalliativeProcedure.STENT,
                                PalliativeProcedure.BYPASS,
                            ]
                        ),
                    )
                )

    # Follow-up every three months after treatment; disease recurs (or
    # progresses) before death in most who die.
    curative = strategy in (Strategy.SYNCHRONOUS, Strategy.STAGED)
    recurrence = (
        round(observed_days * rng.uniform(0.4, 0.8))
        if (died or rng.random() < 0.35)
        else None
    )
    start = (
        (record.operations[-1]["date"] - d0).days + 30
        if record.operations
        else chemo_start + 30
    )
    for offset in _followup_offsets(start, observed_days, died=died):
        if recurrence is not None and offset >= recurrence:
            status = DiseaseStatus.HEPATIC if curative else DiseaseStatus.PROGRESSION
        elif curative:
            status = DiseaseStatus.NO_EVIDENCE
        else:
            status = DiseaseStatus.STABLE
        record.followups.append(
            {
                "date": day(offset),
                "contact_type": ContactType.CLINIC,
                "disease_status": status,
                "cea_ng_ml": round(
                    math.exp(rng.gauss(1.5 if status == "ned" else 3.0, 0.6)), 1
                ),
            }
        )
    if died:
        record.death = {
            "date": day(observed_days),
            "cause": CauseOfDeath.COLORECTAL
            if rng.random() < 0.9
            else CauseOfDeath.OTHER,
        }
    return record


def _followup_offsets(start: int, observed_days: int, *, died: bool) -> list[int]:
    """Return the days of a patient's follow-up contacts: every three months from
    `start`, and the last contact at the end of follow-up if the patient lives."""
    offsets = list(range(start, observed_days, 91))
    if not died:
        offsets.append(observed_days)  # the last contact ends follow-up
    return sorted(set(o for o in offsets if 0 < o <= observed_days))


def _patient_key(
    rng: random.Random,
    *,
    strategy: Strategy,
    site_index: int,
    event_months: float,
    censor_months: float,
    converted: bool,
    liver_first: bool,
    later_palliative: bool,
) -> tuple[int, int]:
    """Return the registry key and the site index of the patient :func:`_patient`
    makes of the same arguments, making every draw from `rng` that it makes.

    It builds no records: a fraction of _patient's time. Its draws mirror
    _patient's one for one, so the two must change together (GeneratorTests
    compares the generator's state after every patient). A ``choices`` of one
    item takes one ``random()``, a ``choice`` of n items ``randrange(n)``, and
    ``gauss`` is called itself, as it keeps a second value for the next call.
    """
    resected_liver = strategy in (Strategy.SYNCHRONOUS, Strategy.STAGED)
    timeline = _timeline(
        rng, strategy=strategy, event_months=event_months, censor_months=censor_months
    )
    rng.randrange(3)  # primary site
    extent = rng.choices(
        EXTENTS, cum_weights=_cumulative(EXTENT_WEIGHTS[resected_liver])
    )[0]
    if not resected_liver:
        rng.random()  # initial resectability
    elif converted:
        rng.randrange(2)
    small = extent in ("lt25", "25to50")
    lesions = rng.randint(1, 4) if small else rng.randint(4, 15)
    rng.gauss()  # age
    provisional_mrn = rng.randint(10**6, 10**7 - 1)
    # Sex, ECOG, Charlson, symptom; verge, histology, grade, T, N, M.
    for _ in range(10):
        rng.random()
    rng.gauss()  # CEA
    rng.random()  # KRAS
    rng.randint(8, 45) if small else rng.randint(30, 120)  # largest lesion
    if lesions <= 2:
        rng.random()  # distribution
    rng.randrange(2)  # concurrent agent
    rng.random()  # regimen
    rng.random()  # biologic
    if strategy != Strategy.NONE:
        rng.random()  # best response
    else:
        rng.randrange(2)
    rng.random()  # primary procedure
    if resected_liver:
        rng.random()  # hepatectomy
    last_operation = None
    match strategy:
        case Strategy.SYNCHRONOUS:
            _operation_draws(rng, resection=True)
            last_operation = timeline.surgery
        case Strategy.STAGED:
            _operation_draws(rng, resection=True)
            _operation_draws(rng, resection=True)
            last_operation = timeline.second
        case Strategy.PRIMARY_ONLY:
            rng.random()  # ablation
            _operation_draws(rng, resection=True)
            last_operation = timeline.surgery
        case Strategy.NONE:
            if later_palliative:
                chemo_start, observed_days = (
                    timeline.chemo_start,
                    timeline.observed_days,
                )
                window = (chemo_start + 20, max(chemo_start + 21, observed_days - 21))
                last_operation = rng.randint(*window)
                rng.randrange(3)  # palliative procedure
                _operation_draws(rng, resection=False)
    if timeline.died or rng.random() < 0.35:
        rng.random()  # recurrence
    start = (
        last_operation + 30 if last_operation is not None else timeline.chemo_start + 30
    )
    for _ in _followup_offsets(start, timeline.observed_days, died=timeline.died):
        rng.gauss()  # CEA
    if timeline.died:
        rng.random()  # cause of death
    return _key(timeline.diagnosis, provisional_mrn), site_index


def _operation_draws(rng: random.Random, *, resection: bool) -> None:
    """Make the draws of one of _patient's operations (its ``operation``)."""
    if resection:
        rng.random()  # margin
    rng.random()  # Clavien-Dindo
    rng.randint(5, 14) if resection else rng.randint(2, 6)  # length of stay
