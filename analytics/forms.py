"""The report builder form: a specification, field by field.

Every problem is shown beside its field, all at once, in the words of the
builder's labels ("Diagnosed to is before diagnosed from"); the rules of the
specification (analytics.spec) are checked here too and their messages placed at
the field they name.
"""

from __future__ import annotations

import re

from django import forms

from analytics.spec import (
    DEFAULT_BASELINE,
    DEFAULT_TIMES,
    INDEXES,
    MAX_TEXT_LENGTH,
    InvalidSpec,
    ReportSpec,
    limit_error,
)
from analytics.variables import VARIABLES
from registry import choices
from registry.forms import iso_date_input
from registry.models import Site

GROUPINGS = [(v.name, v.label) for v in VARIABLES.values() if v.kind != "continuous"]
ALL_VARIABLES = [(v.name, v.label) for v in VARIABLES.values()]
CONTENTS = [
    (
        "full",
        "Full: survival, hazard ratios, baseline table, extent vs resectability, "
        "survival with and without liver resection",
    ),
    (
        "survival",
        "Survival only: curves, medians, log-rank, hazard ratios, follow-up "
        "(counted in the database: fastest on a large registry)",
    ),
]
INDEX_LABELS = {
    **dict(choices.IndexDate.choices),
    "landmark": "Landmark (restart the clock at L after diagnosis)",
}


def grouping_levels(name: str, sites=()) -> list[tuple[str, str]]:
    """Return (value, label) of every group the grouping `name` can have.

    Coded fields give their vocabulary, yes/no fields Yes and No, the site
    grouping the sites the user can see; each value is one the specification's
    ``reference`` accepts.
    """
    variable = VARIABLES[name]
    if name == "site":
        return [(site.code, str(site)) for site in sites]
    if variable.kind == "binary":
        return [("No", "No"), ("Yes", "Yes")]
    return [(str(code), str(label)) for code, label in variable.choices]


def _multi(label, vocabulary, help_text=""):
    return forms.MultipleChoiceField(
        label=label,
        choices=vocabulary.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=help_text or "None ticked: all.",
    )


class ReportForm(forms.Form):
    """Build a report specification; every field maps to a specification key."""

    # the length limits are the specification's, checked with its messages in
    # clean(); maxlength only stops typing in the browser
    name = forms.CharField(
        required=False,
        label="Report title",
        widget=forms.TextInput(attrs={"maxlength": MAX_TEXT_LENGTH}),
    )
    group_by = forms.ChoiceField(
        label="Compare groups by", choices=GROUPINGS, initial="strategy"
    )
    endpoint = forms.ChoiceField(
        choices=choices.Endpoint.choices, initial=choices.Endpoint.OVERALL
    )
    index = forms.ChoiceField(
        label="Count time from",
        choices=[(code, INDEX_LABELS[code]) for code in INDEXES],
        initial="diagnosis",
    )
    landmark = forms.FloatField(
        required=False,
        min_value=0,
        label="Landmark L",
        help_text="In the time unit; only with the landmark index.",
    )
    as_of = forms.DateField(
        required=False,
        label="Data cut-off",
        widget=iso_date_input(),
        help_text="Censor everyone still alive at this date. Blank: the day the "
        "report is run (also for a saved report: each run uses its own day).",
    )
    time_unit = forms.ChoiceField(
        choices=[(u, u.capitalize()) for u in DEFAULT_TIMES], initial="months"
    )
    times = forms.CharField(
        required=False,
        label="Survival at times",
        initial="12, 24, 36, 60",
        help_text="Comma-separated, in the time unit (e.g. 12, 24, 36, 60 months).",
    )
    conf_type = forms.ChoiceField(
        label="Confidence intervals",
        choices=[
            ("log-log", "log-log (lifelines, Stata)"),
            ("log", "log (R survfit default)"),
            ("plain", "plain"),
        ],
        initial="log-log",
    )
    conf_level = forms.TypedChoiceField(
        label="Confidence level",
        coerce=float,
        choices=[(0.9, "90%"), (0.95, "95%"), (0.99, "99%")],
        initial=0.95,
    )
    reference = forms.ChoiceField(
        required=False,
        label="Cox reference group",
        help_text="One of the groups of the grouping chosen above; blank: the "
        "first group.",
    )
    covariates = forms.MultipleChoiceField(
        required=False,
        choices=ALL_VARIABLES,
        label="Adjust hazard ratios for",
        widget=forms.CheckboxSelectMultiple,
    )
    competing_risks = forms.BooleanField(
        required=False,
        label="Competing risks (cumulative incidence, Gray's test)",
        help_text="Cumulative incidence of recurrence and of death from colorectal "
        "cancer per group, deaths from other causes competing, compared with "
        "Gray's test. Not with the landmark index.",
    )
    contents = forms.ChoiceField(
        label="Report contents",
        choices=CONTENTS,
        initial="full",
        required=False,  # blank: full, as links made before this choice existed
        widget=forms.RadioSelect,
    )
    baseline = forms.MultipleChoiceField(
        required=False,
        choices=ALL_VARIABLES,
        initial=list(DEFAULT_BASELINE),
        label="Baseline table variables",
        widget=forms.CheckboxSelectMultiple,
        help_text="Full report only.",
    )
    sites = forms.MultipleChoiceField(
        required=False,
        label="Sites",
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: all your sites.",
    )
    diagnosed_from = forms.DateField(required=False, widget=iso_date_input())
    diagnosed_to = forms.DateField(required=False, widget=iso_date_input())
    primary_sites = _multi("Primary site", choices.PrimarySite)
    m_stages = _multi("M stage", choices.ClinicalM)
    strategies = _multi("Resection strategy", choices.Strategy)
    regimens = _multi("First systemic regimen", choices.Regimen)
    sexes = _multi("Sex", choices.Sex)
    resectability = _multi("Initial resectability", choices.Resectability)

    COHORT_FIELDS = (
        "sites",
        "diagnosed_from",
        "diagnosed_to",
        "primary_sites",
        "m_stages",
        "strategies",
        "regimens",
        "sexes",
        "resectability",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        sites = list(Site.objects.for_user(user))
        self.fields["sites"].choices = [(site.code, str(site)) for site in sites]
        # one group of options per grouping (the page shows the chosen one's)
        self.levels = {name: grouping_levels(name, sites) for name, _ in GROUPINGS}
        self.fields["reference"].choices = [
            ("", "First group"),
            *((label, self.levels[name]) for name, label in GROUPINGS),
        ]

    def clean_times(self) -> list[float]:
        raw = self.cleaned_data.get("times") or ""
        values = []
        for part in raw.replace(";", ",").split(","):
            if not part.strip():
                continue
            try:
                values.append(float(part))
            except ValueError:
                raise forms.ValidationError(
                    f"{part.strip()!r} is not a number: give times like 12, 24, 36."
                ) from None
        return values

    def clean(self):
        """Check the fields against each other and the specification's rules,
        placing each message at its field, every one at once."""
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            key = f"cohort.{name}" if name in self.COHORT_FIELDS else name
            problem = limit_error(key, value)
            if problem:
                self.add_error(name, problem)
        self._check_dates(cleaned)
        self._check_landmark(cleaned)
        group_by = cleaned.get("group_by")
        if group_by:
            self._check_grouping(cleaned, group_by)
        if not self.errors:
            try:
                ReportSpec.from_dict(self.to_spec_data())
            except InvalidSpec as exc:
                self.add_spec_errors(exc.errors)
        return cleaned

    def _check_dates(self, cleaned) -> None:
        start, end = cleaned.get("diagnosed_from"), cleaned.get("diagnosed_to")
        if start and end and end < start:
            self.add_error("diagnosed_to", "Diagnosed to is before diagnosed from.")
        as_of = cleaned.get("as_of")
        if as_of and start and as_of < start:
            self.add_error(
                "as_of",
                "The data cut-off is before diagnosed from: no patient would have "
                "any follow-up.",
            )

    def _check_landmark(self, cleaned) -> None:
        if cleaned.get("index") == "landmark" and cleaned.get("competing_risks"):
            self.add_error(
                "competing_risks",
                "Competing risks are not available with the landmark index: the "
                "cumulative incidence is estimated from the index date. Untick it, "
                "or count time from another date.",
            )
        if cleaned.get("index") != "landmark":
            # shown only with the landmark index; a value left in the hidden
            # field (or sent without the page's script) is ignored
            cleaned["landmark"] = None
            return
        landmark = cleaned.get("landmark")
        unit = cleaned.get("time_unit") or "months"
        if landmark is None and "landmark" not in self.errors:
            self.add_error(
                "landmark",
                f"Give the landmark time in {unit}: the landmark index starts the "
                "clock there, for the patients still followed then.",
            )
        elif landmark == 0:
            self.add_error(
                "landmark",
                "The landmark must be after diagnosis (more than 0); for survival "
                "from diagnosis choose Diagnosis above.",
            )

    def _check_grouping(self, cleaned, group_by: str) -> None:
        label = VARIABLES[group_by].label
        if group_by in (cleaned.get("covariates") or []):
            self.add_error(
                "covariates",
                f"{label} is the grouping: adjust the hazard ratios for other fields.",
            )
        reference = cleaned.get("reference")
        levels = self.levels.get(group_by, [])
        if reference and reference not in {value for value, _ in levels}:
            names = ", ".join(text for _, text in levels) or "none"
            self.add_error(
                "reference",
                f"“{reference}” is not a group of {label.lower()}: choose one of "
                f"{names}, or leave it blank for the first group.",
            )

    def add_spec_errors(self, errors: list[str]) -> None:
        """Add the messages of a specification (or a report on the data) at the
        field each names ("landmark: ...", "cohort.sites: ..."), else above."""
        for message in errors:
            key, sep, text = message.partition(": ")
            name = re.sub(r"\[\d+\]$", "", key.removeprefix("cohort."))
            if sep and name in self.fields:
                self.add_error(name, text[:1].upper() + text[1:])
            else:
                self.add_error(None, message[:1].upper() + message[1:])

    def to_spec_data(self) -> dict:
        """Return the specification as data for ReportSpec.from_dict."""
        data = self.cleaned_data
        cohort = {}
        for name in self.COHORT_FIELDS:
            value = data.get(name)
            if value:
                cohort[name] = (
                    value.isoformat() if hasattr(value, "isoformat") else value
                )
        spec = {
            "name": data.get("name") or "",
            "cohort": cohort,
            "group_by": data["group_by"],
            "endpoint": data["endpoint"],
            "index": data["index"],
            "time_unit": data["time_unit"],
            "conf_type": data["conf_type"],
            "conf_level": data["conf_level"],
            "covariates": data.get("covariates") or [],
            "baseline": data.get("baseline") or [],
            "competing_risks": bool(data.get("competing_risks")),
        }
        if data.get("contents") == "survival":
            spec.update(baseline=[], associations=[], subgroups=[])
        if data.get("times"):
            spec["times"] = data["times"]
        if data.get("index") == "landmark" and data.get("landmark") is not None:
            spec["landmark"] = data["landmark"]
        if data.get("as_of"):
            spec["as_of"] = data["as_of"].isoformat()
        if data.get("reference"):
            spec["reference"] = data["reference"]
        return spec

    def spec(self) -> ReportSpec:
        """Return the specification of a valid form; a blank cut-off stays blank
        (the run decides it: analytics.resultcache.computed)."""
        return ReportSpec.from_dict(self.to_spec_data())

    @classmethod
    def initial_from_spec(cls, data) -> dict:
        """Return form initial data from a saved specification.

        Raises InvalidSpec when the specification is not valid (it may have been
        edited in the admin, or saved under older rules).
        """
        spec = ReportSpec.from_dict(data).to_dict()
        initial = {k: v for k, v in spec.items() if k in cls.base_fields}
        initial.update(spec.get("cohort", {}))
        survival_only = not any(
            spec[key] for key in ("baseline", "associations", "subgroups")
        )
        initial["contents"] = "survival" if survival_only else "full"
        initial["times"] = ", ".join(f"{t:g}" for t in spec["times"])
        # a reference saved by its label ("Staged resection") selects its code
        codes = {
            str(label): str(code) for code, label in VARIABLES[spec["group_by"]].choices
        }
        if spec.get("reference") in codes:
            initial["reference"] = codes[spec["reference"]]
        return initial
