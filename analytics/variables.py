"""The variables, time units and cohort filters a report may name.

Kept apart from :mod:`analytics.dataset` so that the specification, the builder
form and the admin can be imported without pandas: Django imports them when it
starts, for every command, and pandas, scipy and matplotlib took most of the
start-up time of ``manage.py report``. :mod:`analytics.dataset` re-exports every
name here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from registry import choices
from registry.choices import Strategy
from registry.derive import DAYS_PER_MONTH

#: Divisors from days to each time unit a report may use.
TIME_UNITS = {"days": 1.0, "weeks": 7.0, "months": DAYS_PER_MONTH, "years": 365.25}


@dataclass(frozen=True)
class Variable:
    """A patient-level variable a report can group by, adjust for or tabulate.

    ``column`` is the ORM path or annotation to read; ``kind`` is "categorical",
    "ordinal" (ordered categories, in ``choices`` order), "binary" or
    "continuous"; ``post_index`` marks variables that depend on what happened
    after diagnosis (grouping by them invites immortal-time bias).
    """

    name: str
    label: str
    kind: str
    column: str
    choices: tuple[tuple[str, str], ...] = ()
    post_index: bool = False
    unit: str = ""

    def labels(self) -> dict:
        """Return code -> label for categorical values."""
        if self.kind == "binary":
            return {True: "Yes", False: "No"}
        return dict(self.choices)


def _coded(name, label, column, vocabulary, *, kind="categorical", **extra) -> Variable:
    return Variable(name, label, kind, column, tuple(vocabulary.choices), **extra)


#: Every variable a report may name, by the name it uses.
VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        _coded("strategy", "Resection strategy", "strategy", Strategy, post_index=True),
        _coded(
            "staged_order",
            "Staged resection order",
            "staged_order",
            choices.StagedOrder,
            post_index=True,
        ),
        Variable(
            "liver_resected",
            "Liver resection",
            "binary",
            "liver_resected",
            post_index=True,
        ),
        Variable(
            "converted",
            "Converted to resectable",
            "binary",
            "converted",
            post_index=True,
        ),
        Variable(
            "later_palliative",
            "Later palliative surgery",
            "binary",
            "later_palliative",
            post_index=True,
        ),
        # grouped by the site's name (unique), as people know it; the cohort
        # filter still takes codes (COHORT_LOOKUPS), and group_labels maps them
        Variable("site", "Site", "categorical", "site__name"),
        _coded("sex", "Sex", "sex", choices.Sex),
        Variable("age", "Age at diagnosis", "continuous", "facts__age", unit="years"),
        Variable(
            "ecog",
            "ECOG performance status",
            "ordinal",
            "ecog",
            tuple((i, str(i)) for i in range(5)),
        ),
        _coded("asa_class", "ASA class", "asa_class", choices.AsaClass, kind="ordinal"),
        Variable(
            "charlson", "Charlson comorbidity index", "continuous", "charlson_index"
        ),
        _coded(
            "presenting_symptom",
            "Presenting symptom",
            "presenting_symptom",
            choices.PresentingSymptom,
        ),
        _coded(
            "primary_site", "Primary site", "tumour__primary_site", choices.PrimarySite
        ),
        _coded("histology", "Histology", "tumour__histology", choices.Histology),
        _coded("grade", "Grade", "tumour__grade", choices.Grade, kind="ordinal"),
        _coded("clinical_t", "Clinical T", "tumour__clinical_t", choices.ClinicalT),
        _coded("clinical_n", "Clinical N", "tumour__clinical_n", choices.ClinicalN),
        _coded("clinical_m", "Clinical M", "tumour__clinical_m", choices.ClinicalM),
        Variable(
            "cea", "CEA at diagnosis", "continuous", "tumour__cea_ng_ml", unit="ng/mL"
        ),
        _coded("kras", "KRAS", "tumour__kras", choices.MutationStatus),
        _coded("mmr", "MMR / MSI", "tumour__mmr", choices.MmrStatus),
        Variable(
            "lesions", "Number of liver lesions", "continuous", "liver__lesion_count"
        ),
        Variable(
            "largest_mm",
            "Largest liver lesion",
            "continuous",
            "liver__largest_mm",
            unit="mm",
        ),
        _coded(
            "distribution",
            "Liver distribution",
            "liver__distribution",
            choices.LiverDistribution,
        ),
        _coded(
            "extent",
            "Extent of liver disease",
            "liver__extent",
            choices.LiverExtent,
            kind="ordinal",
        ),
        _coded(
            "extrahepatic",
            "Extrahepatic disease",
            "liver__extrahepatic",
            choices.ExtrahepaticDisease,
        ),
        _coded(
            "resectability",
            "Initial resectability",
            "liver__initial_resectability",
            choices.Resectability,
        ),
        # registry.derive's first line and age, stored with the derived facts
        _coded(
            "regimen",
            "First systemic regimen",
            "facts__first_regimen",
            choices.Regimen,
        ),
        _coded(
            "biologic",
            "First-line biologic",
            "facts__first_biologic",
            choices.Biologic,
        ),
    )
}


class AllSites:
    """A reader who sees every site: the command line and fixture scripts."""

    is_superuser = True
    is_authenticated = True


@dataclass(frozen=True)
class Cohort:
    """Which patients a report covers; every field empty means "all"."""

    sites: tuple[str, ...] = ()
    diagnosed_from: datetime.date | None = None
    diagnosed_to: datetime.date | None = None
    primary_sites: tuple[str, ...] = ()
    m_stages: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    regimens: tuple[str, ...] = ()
    sexes: tuple[str, ...] = ()
    resectability: tuple[str, ...] = ()
    synthetic: bool | None = None
