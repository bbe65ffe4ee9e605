"""Report specifications: what a report covers and computes, validated.

A specification is plain data (a JSON object) so that a form, a saved report and
the ``report`` command all share it. :meth:`ReportSpec.from_dict` refuses
anything it does not understand with messages that name the field and say what
is wrong; nothing is guessed.
"""

from __future__ import annotations

import datetime
import itertools
import json
import math
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from analytics.variables import TIME_UNITS, VARIABLES, Cohort
from registry import choices
from registry.choices import Endpoint, IndexDate
from registry.nulls import HOLDS_NUL, null_characters

#: Index dates a report may count from ("landmark" restarts the clock at L).
INDEXES = (*IndexDate.values, "landmark")
#: Landmark times per time unit when a specification names none.
DEFAULT_TIMES = {
    "months": (12.0, 24.0, 36.0, 60.0),
    "years": (1.0, 2.0, 3.0, 5.0),
    "weeks": (52.0, 104.0, 156.0, 260.0),
    "days": (365.0, 730.0, 1095.0, 1826.0),
}
DEFAULT_BASELINE = (
    "age",
    "sex",
    "ecog",
    "cea",
    "lesions",
    "largest_mm",
    "distribution",
    "extent",
    "resectability",
    "regimen",
)
DEFAULT_ASSOCIATIONS = (("extent", "liver_resected"),)
DEFAULT_SUBGROUPS = ("liver_resected",)

#: Cohort filters and the vocabulary each accepts (None: any site code).
COHORT_VOCABULARIES = {
    "sites": None,
    "primary_sites": choices.PrimarySite,
    "m_stages": choices.ClinicalM,
    "strategies": choices.Strategy,
    "regimens": choices.Regimen,
    "sexes": choices.Sex,
    "resectability": choices.Resectability,
}


#: Limits of a specification. Each landmark time, association, baseline row,
#: covariate and subgroup costs computing time on every run and space in every
#: stored run; without a limit one request could tie the server up for minutes.
#: The limits leave room above any study (the builder's defaults and
#: docs/examples use at most 4 times, 10 baseline rows and 1 association).
MAX_TIMES = 20
MAX_COVARIATES = 10
MAX_BASELINE = 30  # every field the baseline table can show (29)
MAX_ASSOCIATIONS = 20
MAX_SUBGROUPS = 10
MAX_COHORT_CODES = 100  # per cohort filter (sites, m_stages, ...)
MAX_TEXT_LENGTH = 200  # name and reference, as SavedReport.name
#: Limits of a specification given as JSON text (a file, a saved form, the admin).
MAX_JSON_CHARS = 20_000
MAX_JSON_DEPTH = 10  # a specification needs 3: {"cohort": {"sites": [...]}}

#: Most entries of each list, and what the entries are called in messages.
LIST_LIMITS: dict[str, tuple[int, str]] = {
    "times": (MAX_TIMES, "times"),
    "covariates": (MAX_COVARIATES, "fields"),
    "baseline": (MAX_BASELINE, "fields"),
    "associations": (MAX_ASSOCIATIONS, "pairs"),
    "subgroups": (MAX_SUBGROUPS, "fields"),
    **{f"cohort.{name}": (MAX_COHORT_CODES, "codes") for name in COHORT_VOCABULARIES},
}
TEXT_LIMITS = {"name": MAX_TEXT_LENGTH, "reference": MAX_TEXT_LENGTH}


#: Tables a report offers as CSV, by the name used in URLs and the command.
CSV_TABLES = (
    "groups",
    "landmarks",
    "at_risk",
    "logrank",
    "pairwise",
    "cox",
    "ph_test",
    "followup",
    "subgroups",
    "baseline",
    "associations",
    "events",
    "competing",
)


class InvalidSpec(ValueError):
    """A specification that cannot be run; ``errors`` says what and where."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


# values quoted in messages are cut short: a message must not echo megabytes
_quote = reprlib.Repr()
_quote.maxstring = _quote.maxother = 60


def _cut(text: str, length: int = 60) -> str:
    return text if len(text) <= length else text[: length - 3] + "..."


def limit_error(key: str, value) -> str | None:
    """Return what is wrong when `value`, the field `key` of a specification, is
    longer than its limit (``LIST_LIMITS``, ``TEXT_LIMITS``), else None.

    The message leaves out the key, so that a form can show it at its field.
    """
    if key in TEXT_LIMITS and isinstance(value, str):
        if len(value) > TEXT_LIMITS[key]:
            return f"at most {TEXT_LIMITS[key]} characters (got {len(value)})"
    elif key in LIST_LIMITS and isinstance(value, list | tuple):
        limit, entries = LIST_LIMITS[key]
        if len(value) > limit:
            return f"at most {limit} {entries} (got {len(value)})"
    return None


def parse_json(text: str | bytes) -> object:
    """Return the data of a specification's JSON text, or raise InvalidSpec when
    the text is too large, too deeply nested or not JSON.

    The depth is measured before parsing: the json module recurses once per
    level and fails with RecursionError on deep nesting.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if len(text) > MAX_JSON_CHARS:
        raise InvalidSpec(
            [
                f"the specification is too large: {len(text):,} characters "
                f"(at most {MAX_JSON_CHARS:,})"
            ]
        )
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InvalidSpec(
            [
                f"the specification is nested too deeply: {depth} levels "
                f"(at most {MAX_JSON_DEPTH})"
            ]
        )
    try:
        return json.loads(text)
    except RecursionError:  # not expected after the depth check; never a 500
        raise InvalidSpec(["the specification is nested too deeply"]) from None
    except json.JSONDecodeError as exc:
        raise InvalidSpec(
            [
                f"the specification is not valid JSON (line {exc.lineno}, "
                f"column {exc.colno}: {exc.msg})"
            ]
        ) from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?')


def _json_depth(text: str) -> int:
    """Return how deeply the arrays and objects of JSON `text` nest (0: none)."""
    brackets = _JSON_STRING.sub("", text)
    steps = (1 if c in "[{" else -1 for c in brackets if c in "[]{}")
    return max(itertools.accumulate(steps, initial=0))


@dataclass(frozen=True)
class ReportSpec:
    """What a report covers (cohort) and computes (grouping, endpoint, ...)."""

    name: str = ""
    cohort: Cohort = field(default_factory=Cohort)
    group_by: str = "strategy"
    endpoint: str = Endpoint.OVERALL.value
    index: str = "diagnosis"
    landmark: float | None = None
    as_of: datetime.date | None = None
    time_unit: str = "months"
    times: tuple[float, ...] = DEFAULT_TIMES["months"]
    conf_type: str = "log-log"
    conf_level: float = 0.95
    reference: str | None = None
    covariates: tuple[str, ...] = ()
    baseline: tuple[str, ...] = DEFAULT_BASELINE
    associations: tuple[tuple[str, str], ...] = DEFAULT_ASSOCIATIONS
    subgroups: tuple[str, ...] = DEFAULT_SUBGROUPS
    #: The competing-risks section: cumulative incidence of recurrence and of
    #: cancer death per group, with Gray's test (analytics.competing).
    competing_risks: bool = False

    @property
    def alpha(self) -> float:
        """Return the significance level: 1 - conf_level (.05 for 95% intervals).

        One level for intervals and tests, so that a hazard ratio whose interval
        excludes 1 is the one the text calls significant.
        """
        return round(1 - self.conf_level, 10)

    @classmethod
    def from_dict(cls, data: Mapping) -> ReportSpec:
        """Return the specification in `data`, or raise InvalidSpec listing every
        problem (unknown fields, unknown codes, impossible values)."""
        # here, not at the top: the admin imports this module when Django starts,
        # and analytics.survival brings scipy with it
        from analytics.survival import CONF_TYPES

        if not isinstance(data, Mapping):
            raise InvalidSpec(["the specification must be a JSON object"])
        if nul := null_characters(data, whole="the specification"):
            raise InvalidSpec(
                [
                    f"{_cut(where)}: {HOLDS_NUL}, which no field may hold"
                    for where in nul
                ]
            )
        errors: list[str] = []
        parser = _Parser(data, errors)
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                errors.append(
                    f"{_cut(str(key))}: unknown field "
                    f"(known fields: {', '.join(sorted(known))})"
                )
        time_unit = parser.choice("time_unit", tuple(TIME_UNITS), "months")
        spec = cls(
            name=parser.text("name", ""),
            cohort=_cohort(data.get("cohort", {}), errors),
            group_by=parser.variable("group_by", "strategy", grouping=True),
            endpoint=parser.choice("endpoint", tuple(Endpoint.values), "os"),
            index=parser.choice("index", INDEXES, "diagnosis"),
            landmark=parser.number("landmark", None, positive=True),
            as_of=parser.date("as_of"),
            time_unit=time_unit,
            times=parser.numbers("times", DEFAULT_TIMES.get(time_unit, ())),
            conf_type=parser.choice("conf_type", CONF_TYPES, "log-log"),
            conf_level=parser.number("conf_level", 0.95, between=(0.5, 0.999)),
            reference=parser.text("reference", None),
            covariates=parser.variables("covariates", ()),
            baseline=parser.variables("baseline", DEFAULT_BASELINE),
            associations=parser.associations("associations", DEFAULT_ASSOCIATIONS),
            subgroups=parser.variables("subgroups", DEFAULT_SUBGROUPS, grouping=True),
            competing_risks=parser.flag("competing_risks", False),
        )
        if spec.index == "landmark" and data.get("landmark") is None:
            errors.append(
                f"landmark: give the landmark time (in {spec.time_unit}) when the "
                "index is 'landmark'"
            )
        if spec.index != "landmark" and spec.landmark is not None:
            errors.append("landmark: only used when the index is 'landmark'")
        if spec.competing_risks and spec.index == "landmark":
            errors.append(
                "competing_risks: not available with the landmark index (the "
                "cumulative incidence is estimated from the index date)"
            )
        if spec.group_by in spec.covariates:
            errors.append(
                f"covariates: '{spec.group_by}' is the grouping; a covariate must "
                "differ"
            )
        if errors:
            raise InvalidSpec(errors)
        return spec

    def to_dict(self) -> dict:
        """Return the specification as JSON-ready data (from_dict's inverse)."""
        cohort = {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in vars(self.cohort).items()
            if value not in ((), None)
        }
        for key in ("diagnosed_from", "diagnosed_to"):
            if key in cohort:
                cohort[key] = cohort[key].isoformat()
        return {
            "name": self.name,
            "cohort": cohort,
            "group_by": self.group_by,
            "endpoint": self.endpoint,
            "index": self.index,
            "landmark": self.landmark,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "time_unit": self.time_unit,
            "times": list(self.times),
            "conf_type": self.conf_type,
            "conf_level": self.conf_level,
            "reference": self.reference,
            "covariates": list(self.covariates),
            "baseline": list(self.baseline),
            "associations": [list(pair) for pair in self.associations],
            "subgroups": list(self.subgroups),
            "competing_risks": self.competing_risks,
        }

    def with_as_of(self, as_of: datetime.date) -> ReportSpec:
        """Return this specification with its data cut-off set (if it had none)."""
        return self if self.as_of else replace(self, as_of=as_of)

    @property
    def unit_days(self) -> float:
        """Return how many days one time unit holds."""
        return TIME_UNITS[self.time_unit]


class _Parser:
    """Read one field at a time, appending a message per problem."""

    def __init__(self, data: Mapping, errors: list[str]):
        self.data = data
        self.errors = errors

    def _get(self, key, default):
        value = self.data.get(key, default)
        return default if value is None else value

    def too_long(self, key, value) -> bool:
        """Return True (with a message) if `value` is over the limit of `key`."""
        problem = limit_error(key, value)
        if problem:
            self.errors.append(f"{key}: {problem}")
        return problem is not None

    def text(self, key, default):
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, str):
            self.errors.append(f"{key}: expected text, got {_quote.repr(value)}")
            return default
        value = value.strip()
        return default if self.too_long(key, value) else value

    def flag(self, key, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.errors.append(
                f"{key}: expected true or false, got {_quote.repr(value)}"
            )
            return default
        return value

    def choice(self, key, allowed, default):
        value = self._get(key, default)
        if value not in allowed:
            self.errors.append(
                f"{key}: {_quote.repr(value)} is not one of {', '.join(allowed)}"
            )
            return default
        return value

    def number(self, key, default, *, positive=False, between=None):
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(value)
            except (TypeError, ValueError):
                self.errors.append(
                    f"{key}: expected a number, got {_quote.repr(value)}"
                )
                return default
        try:
            finite = math.isfinite(value)
        except OverflowError:  # a whole number of hundreds of digits
            finite = False
        if not finite:
            self.errors.append(
                f"{key}: expected a finite number, got {_quote.repr(value)}"
            )
            return default
        if positive and value <= 0:
            self.errors.append(f"{key}: must be more than 0 (got {value})")
            return default
        if between and not between[0] <= value <= between[1]:
            self.errors.append(
                f"{key}: must lie between {between[0]} and {between[1]} (got {value})"
            )
            return default
        return float(value)

    def numbers(self, key, default):
        value = self._get(key, default)
        if not isinstance(value, list | tuple):
            self.errors.append(
                f"{key}: expected a list of numbers, got {_quote.repr(value)}"
            )
            return tuple(default)
        if self.too_long(key, value):
            return tuple(default)
        result = []
        for i, item in enumerate(value):
            # one message per bad item, in this field's words
            number = _Parser({"x": item}, []).number("x", None, positive=True)
            if number is None:
                self.errors.append(
                    f"{key}[{i}]: must be a number more than 0 ({_quote.repr(item)})"
                )
            else:
                result.append(number)
        return tuple(sorted(set(result)))

    def date(self, key):
        value = self._get(key, None)
        if value is None or isinstance(value, datetime.date):
            return value
        try:
            return datetime.date.fromisoformat(str(value))
        except ValueError:
            self.errors.append(
                f"{key}: {_quote.repr(value)} is not a date (use YYYY-MM-DD)"
            )
            return None

    def variable(self, key, default, *, grouping=False):
        value = self._get(key, default)
        if not isinstance(value, str) or value not in VARIABLES:
            self.errors.append(
                f"{key}: unknown field {_quote.repr(value)} "
                f"(known: {', '.join(sorted(VARIABLES))})"
            )
            return default
        if grouping and VARIABLES[value].kind == "continuous":
            self.errors.append(
                f"{key}: {_quote.repr(value)} is continuous; "
                "group by a categorical field"
            )
            return default
        return value

    def variables(self, key, default, *, grouping=False):
        value = self._get(key, default)
        if not isinstance(value, list | tuple):
            self.errors.append(
                f"{key}: expected a list of field names, got {_quote.repr(value)}"
            )
            return tuple(default)
        if self.too_long(key, value):
            return tuple(default)
        checked = [
            _Parser({f"{key}[{i}]": v}, self.errors).variable(
                f"{key}[{i}]", None, grouping=grouping
            )
            for i, v in enumerate(value)
        ]
        return tuple(dict.fromkeys(v for v in checked if v))

    def associations(self, key, default):
        value = self._get(key, default)
        pairs = []
        if not isinstance(value, list | tuple):
            self.errors.append(f"{key}: expected a list of [factor, outcome] pairs")
            return tuple(default)
        if self.too_long(key, value):
            return tuple(default)
        for i, pair in enumerate(value):
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                self.errors.append(f"{key}[{i}]: expected [factor, outcome]")
                continue
            factor, outcome = pair
            parser = _Parser({"factor": factor, "outcome": outcome}, self.errors)
            factor = parser.variable("factor", None, grouping=True)
            outcome = parser.variable("outcome", None, grouping=True)
            if factor and outcome:
                if VARIABLES[outcome].kind != "binary":
                    self.errors.append(
                        f"{key}[{i}]: the outcome {outcome!r} must be a yes/no field "
                        "(liver_resected, converted, later_palliative)"
                    )
                    continue
                pairs.append((factor, outcome))
        return tuple(dict.fromkeys(pairs))


def _cohort(data, errors: list[str]) -> Cohort:
    if not isinstance(data, Mapping):
        errors.append("cohort: expected an object of filters")
        return Cohort()
    known = {f.name for f in fields(Cohort)}
    values: dict = {}
    for key, value in data.items():
        if key not in known:
            errors.append(
                f"cohort.{_cut(str(key))}: unknown filter "
                f"(known: {', '.join(sorted(known))})"
            )
            continue
        if key in ("diagnosed_from", "diagnosed_to"):
            values[key] = _Parser({key: value}, errors).date(key)
            if values[key] is None and value is not None:
                errors[-1] = f"cohort.{errors[-1]}"
        elif key == "synthetic":
            if value is not None and not isinstance(value, bool):
                errors.append("cohort.synthetic: expected true, false or null")
            else:
                values[key] = value
        else:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list | tuple) or not all(
                isinstance(v, str) for v in value
            ):
                errors.append(f"cohort.{key}: expected a list of codes")
                continue
            problem = limit_error(f"cohort.{key}", value)
            if problem:
                errors.append(f"cohort.{key}: {problem}")
                continue
            vocabulary = COHORT_VOCABULARIES[key]
            if vocabulary is not None:
                unknown = [v for v in value if v not in vocabulary.values]
                if unknown:
                    errors.append(
                        f"cohort.{key}: unknown code(s) "
                        f"{', '.join(_cut(v) for v in unknown)} "
                        f"(known: {', '.join(vocabulary.values)})"
                    )
                    continue
            values[key] = tuple(dict.fromkeys(value))
    start, end = values.get("diagnosed_from"), values.get("diagnosed_to")
    if start and end and end < start:
        errors.append("cohort.diagnosed_to: is before cohort.diagnosed_from")
    return Cohort(**values)
