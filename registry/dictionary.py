"""The data dictionary: every variable of the registry, generated from the models.

One name per variable everywhere: the import's columns, the export's columns and
the API's fields are the model field names, grouped by record kind (``patient``,
``primary_tumour``, ...). Nothing here is typed in by hand except the words for
the chronology rules that the models' ``clean()`` methods apply (a method cannot
describe itself); labels, types, units, codes, limits and whether a field is
required come from the fields themselves, so a field added to a model appears
here without anyone remembering to list it (tests/registry/test_dictionary.py
fails if one does not).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field
from functools import cache

from django.core import validators as django_validators
from django.db import models
from django.db.models.fields import PositiveIntegerRelDbTypeMixin

from registry import derive
from registry.choices import Missing

#: Model fields that are bookkeeping, not clinical variables: kept out of the
#: dictionary, the import and the export.
NOT_VARIABLES = frozenset(
    {"id", "created_at", "updated_at", "version", "is_synthetic", "patient"}
)

#: The columns by which a non-patient row names its patient: the registry number,
#: or for a patient new to the registry the source system's record id.
PATIENT_REFERENCE = ("registry_number", "source_record_id")

#: Numeric units written as "(unit)" at the end of a field's label.
_UNIT = re.compile(r"\(([^()]+)\)\s*$")


@dataclass(frozen=True)
class RecordKind:
    """One kind of record: its stable name, model, and the key of a record.

    ``key`` names the fields that tell two records of the same patient apart
    (empty for kinds a patient has at most one of): the first date of the
    model's ordering, e.g. an operation's ``date``.
    """

    name: str
    model: type[models.Model]
    key: tuple[str, ...]

    @property
    def label(self) -> str:
        """Return the kind in words, e.g. "follow-up contact"."""
        return str(self.model._meta.verbose_name)

    @property
    def single(self) -> bool:
        """Return whether a patient has at most one record of this kind."""
        return not self.key


@dataclass(frozen=True)
class Entry:
    """One variable: what the dictionary page, downloads, import and export read."""

    name: str
    record_kind: str
    label: str
    type: str
    unit: str = ""
    codes: dict[str, str] = field(default_factory=dict)
    missing_codes: dict[str, str] = field(default_factory=dict)
    required: bool = False
    identifier: bool = False
    free_text: bool = False
    validation: str = ""

    def to_dict(self) -> dict:
        """Return the entry as plain data (JSON)."""
        return asdict(self)


def _kind(name: str, model) -> RecordKind:
    patient = next((f for f in model._meta.fields if f.name == "patient"), None)
    single = patient is None or isinstance(patient, models.OneToOneField)
    ordering = [o for o in model._meta.ordering if o != "patient"]
    return RecordKind(name, model, () if single else tuple(ordering[:1]))


@cache
def record_kinds() -> tuple[RecordKind, ...]:
    """Return every record kind, patient first, in the order files are read."""
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

    return tuple(
        _kind(name, model)
        for name, model in (
            ("patient", Patient),
            ("primary_tumour", PrimaryTumour),
            ("liver_metastases", LiverMetastases),
            ("radiation_course", RadiationCourse),
            ("systemic_therapy_line", SystemicTherapyLine),
            ("operation", Operation),
            ("follow_up", FollowUp),
            ("death", Death),
        )
    )


def kind_named(name: str) -> RecordKind | None:
    """Return the record kind called `name`, or None."""
    return next((k for k in record_kinds() if k.name == name), None)


#: The chronology rules of the models' clean() methods, in words, by kind and
#: field (registry/models; the models apply them, this only describes them; the
#: limits are registry.derive's).
CHRONOLOGY = {
    ("patient", "date_of_birth"): "required unless the age at diagnosis is given "
    "(historical data); not after the date of diagnosis; not before "
    f"{derive.EARLIEST_BIRTH}",
    ("patient", "age_at_diagnosis"): "only when the date of birth is not known, "
    f"then required; at most {derive.MAX_AGE_AT_DIAGNOSIS}; if both are given, the "
    "age on the date of diagnosis",
    ("primary_tumour", "diagnosis_date"): "not before the date of birth, not after "
    "death or the first follow-up contact",
    ("primary_tumour", "anal_verge_cm"): "rectal tumours only",
    ("liver_metastases", "detected_date"): "required if metachronous; not before "
    "diagnosis, not after death",
    ("radiation_course", "end_date"): "not before the start; not after death",
    ("radiation_course", "start_date"): "not after death",
    ("systemic_therapy_line", "start_date"): "not after death",
    ("systemic_therapy_line", "end_date"): "not before the start; not after death",
    ("systemic_therapy_line", "regimen_other"): "required if the regimen is other",
    ("systemic_therapy_line", "stop_reason"): "not ongoing if there is an end date",
    ("operation", "date"): "not after death",
    ("operation", "primary_procedure"): "a procedure on the primary, the liver or "
    "palliative, unless the intent is diagnostic",
    ("operation", "margin"): "R0/R1/R2 only with a resection",
    ("follow_up", "date"): "not before diagnosis, not after death",
    ("death", "date"): "not before diagnosis or any other dated record",
}


def _type(f) -> str:
    if isinstance(f, models.ForeignKey):
        return "site code"
    if f.choices:
        return "code"
    if isinstance(f, models.DateField):
        return "date"
    if isinstance(f, models.DecimalField):
        return "decimal"
    if isinstance(f, models.BooleanField):
        return "boolean"
    if isinstance(f, models.IntegerField):
        return "integer"
    return "text"


def _limits(f) -> list:
    """Return the field's own limits, not the database column's range.

    Django adds the column's range to an integer field's validators, which
    depends on the database (SQLite's 64-bit maximum, PostgreSQL's 32767): the
    dictionary states the field's limits, the same on every database. A positive
    field's lower bound 0 is a limit of the field.
    """
    found = list(f._validators)
    positive = isinstance(f, PositiveIntegerRelDbTypeMixin)
    if positive and not any(
        isinstance(v, django_validators.MinValueValidator) for v in found
    ):
        found.insert(0, django_validators.MinValueValidator(0))
    return found


def _rule(kind: str, f, kind_of_value: str) -> str:
    """Return the field's validation rule in words, from the field itself."""
    parts = []
    if kind_of_value == "code":
        parts.append("one of the codes (or their labels)")
    elif kind_of_value == "date":
        parts.append("a date (YYYY-MM-DD), not in the future")
    elif kind_of_value == "boolean":
        parts.append("true or false (yes/no, 1/0)")
    elif kind_of_value == "decimal":
        parts.append(f"a number with at most {f.decimal_places} decimal place(s)")
    elif kind_of_value == "integer":
        parts.append("a whole number")
    elif kind_of_value == "site code":
        parts.append("the code of the site the import is run for")
    elif f.max_length:
        parts.append(f"text of at most {f.max_length} characters")
    for validator in _limits(f):
        if isinstance(validator, django_validators.MinValueValidator):
            parts.append(f"at least {validator.limit_value}")
        elif isinstance(validator, django_validators.MaxValueValidator):
            parts.append(f"at most {validator.limit_value}")
    if f.unique:
        parts.append("unique")
    if (kind, f.name) in CHRONOLOGY:
        parts.append(CHRONOLOGY[kind, f.name])
    return "; ".join(parts)


def _entry(kind: RecordKind, f, *, reference: bool = False) -> Entry:
    from registry.models import Patient

    kind_of_value = _type(f)
    label = str(f.verbose_name)
    unit = ""
    if kind_of_value in ("decimal", "integer") and (found := _UNIT.search(label)):
        unit = found.group(1)
    codes = {str(code): str(text) for code, text in f.choices or ()}
    missing = {code: text for code, text in codes.items() if code in Missing.values}
    identifiers = (*Patient.IDENTIFIER_FIELDS, *Patient.LINK_IDENTIFIERS)
    required = not f.blank and not reference and f.name != "registry_number"
    validation = _rule(kind.name, f, kind_of_value)
    if reference:
        label = f"the patient's {label}"
        validation = "the patient's registry number, or for a patient new to the "
        validation += "registry their source record id (one of the two)"
    elif f.name == "registry_number":
        validation += "; blank for a new patient (given one on import)"
    elif f.name == "source_record_id":
        validation += "; unique per site"
    return Entry(
        name=f.name,
        record_kind=kind.name,
        label=label[:1].upper() + label[1:],
        type=kind_of_value,
        unit=unit,
        codes=codes,
        missing_codes=missing,
        required=required,
        identifier=f.name in identifiers,
        free_text=kind_of_value == "text" and f.name not in PATIENT_REFERENCE,
        validation=validation,
    )


def variables(model) -> list:
    """Return the model's fields that are variables, in model order."""
    return [
        f
        for f in model._meta.concrete_fields
        if f.name not in NOT_VARIABLES and not f.primary_key
    ]


@cache
def _entries() -> tuple[Entry, ...]:
    from registry.models import Patient

    found = []
    for kind in record_kinds():
        if kind.name != "patient":
            for name in PATIENT_REFERENCE:
                found.append(
                    _entry(kind, Patient._meta.get_field(name), reference=True)
                )
        found.extend(_entry(kind, f) for f in variables(kind.model))
    return tuple(found)


def entries() -> list[Entry]:
    """Return every variable of the registry, record kind by record kind."""
    return list(_entries())


def columns(kind: str) -> list[str]:
    """Return the column names of a record kind's file, in order."""
    return [e.name for e in _entries() if e.record_kind == kind]


def entry_map(kind: str) -> dict[str, Entry]:
    """Return the entries of one record kind by name."""
    return {e.name: e for e in _entries() if e.record_kind == kind}


# --- downloads -----------------------------------------------------------------

FLAT_COLUMNS = (
    "record_kind",
    "name",
    "label",
    "type",
    "unit",
    "codes",
    "missing_codes",
    "required",
    "identifier",
    "free_text",
    "validation",
)


def flat_rows() -> list[dict[str, str]]:
    """Return the dictionary as flat rows (codes as "code=label | ...")."""

    def codes(mapping: dict) -> str:
        return " | ".join(f"{code}={text}" for code, text in mapping.items())

    return [
        {
            **{k: getattr(e, k) for k in FLAT_COLUMNS},
            "codes": codes(e.codes),
            "missing_codes": codes(e.missing_codes),
            "required": "yes" if e.required else "no",
            "identifier": "yes" if e.identifier else "no",
            "free_text": "yes" if e.free_text else "no",
        }
        for e in _entries()
    ]


def as_csv() -> bytes:
    """Return the dictionary as CSV (UTF-8)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FLAT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat_rows())
    return out.getvalue().encode()


def as_json() -> bytes:
    """Return the dictionary as JSON: a list of entries."""
    return json.dumps([e.to_dict() for e in _entries()], indent=2).encode()


def as_xlsx() -> bytes:
    """Return the dictionary as an XLSX workbook of one sheet."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "dictionary"
    sheet.append(list(FLAT_COLUMNS))
    for row in flat_rows():
        sheet.append([row[k] for k in FLAT_COLUMNS])
    return save_workbook(book)


def save_workbook(book) -> bytes:
    """Return the workbook's bytes, with a fixed creation and modification time
    in its properties (openpyxl still stamps its zip members with the time they
    are written)."""
    import datetime

    fixed = datetime.datetime(2000, 1, 1)
    book.properties.created = fixed
    book.properties.modified = fixed
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
