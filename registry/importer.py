"""Bulk import of patients and their records from CSV or XLSX files.

One file (or sheet) per record kind, its columns named as in the data dictionary
(registry.dictionary). The import reads every row, then reports every problem
it finds (file or sheet, row, column, value, what is wrong), not the first:
unknown codes, bad dates and numbers, chronology, duplicates, unknown patients,
locked records. Only a file without problems is written, and then all of it in
one transaction, through the same model validation as the forms (the fields'
validators and each model's ``clean()``), with a history row per change
recording the user and "import of FILE by USER".

A patient is named by their registry number, or, for a patient new to the
registry, by the source system's record id (kept on the patient, unique per
site). A record is matched to a stored one by its patient and, for kinds a
patient has several of, its date (an operation's date, a course's start): a
matched row whose values differ updates that record, a row equal to it changes
nothing (no history row either), an unmatched row adds a record. The import
never deletes.

No query per row: the stored records of the patients named are read in bulk
(one query per kind and 2,000 patients), the chronology checks of ``clean()``
read the dates the registry will hold once the file is in
(``registry.models.base.known_dates``), and the writes are bulk inserts (with
COPY on PostgreSQL, registry.copyrows) and updates, with the clinical managers'
locked-record checks and their history rows in bulk; the
patients' stored derived facts are refreshed once, together, at the end
(``registry.facts.deferred``).
"""

from __future__ import annotations

import datetime
import decimal
import functools
import getpass
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from registry import copyrows, dictionary, facts, importfiles, status
from registry.dictionary import PATIENT_REFERENCE, Entry, RecordKind
from registry.models import Patient, Site, TransferLog
from registry.models.base import DETECTION, KnownDates, known_dates
from registry.nulls import HOLDS_NUL

#: Patients whose stored records are read per query.
CHUNK = 2000
#: Rows written per INSERT / UPDATE statement.
BATCH = 1000

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
#: What the chronology checks call each dated record (registry.models).
_DATED = {
    "radiation_course": "radiation course",
    "systemic_therapy_line": "line of systemic therapy",
    "operation": "operation",
    "follow_up": "follow-up contact",
    "liver_metastases": DETECTION,
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: where it is and what is wrong."""

    source: str
    row: int | None
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = self.source + (f", row {self.row}" if self.row else "")
        if self.column:
            where += f", column {self.column}"
        value = f" ({self.value!r})" if self.value else ""
        return f"{where}{value}: {self.message}"

    @classmethod
    def of_row(cls, row: Row, message: str) -> Problem:
        """Return a problem of a whole row (no one column)."""
        return cls(row.source, row.number, "", "", message)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


@dataclass
class ImportResult:
    """What an import found and did: its problems, and rows by kind and outcome."""

    problems: list[Problem] = field(default_factory=list)
    #: kind -> {"created": n, "updated": n, "unchanged": n}
    counts: dict[str, Counter] = field(default_factory=dict)
    committed: bool = False
    patients: int = 0

    @property
    def ok(self) -> bool:
        """Return whether the file has no problems."""
        return not self.problems

    @property
    def rows(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def outcomes(self) -> str:
        """Return the rows by outcome in words: "3 created, 22 unchanged"."""
        total = sum(self.counts.values(), Counter())
        return ", ".join(
            f"{total[outcome]} {outcome}"
            for outcome in ("created", "updated", "unchanged")
            if total[outcome]
        )

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "committed": self.committed,
            "patients": self.patients,
            "rows": self.rows,
            "counts": {k: dict(v) for k, v in self.counts.items()},
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass
class Row:
    """One parsed row: where it came from, its values, and the record it becomes."""

    kind: RecordKind
    source: str
    number: int
    values: dict
    patient: int | None = None  # a stored patient's id, or a new one's (negative)
    instance: object = None
    changed: list[str] = field(default_factory=list)
    created: bool = False
    #: Which of the file's records of the patient on this date (0 the first):
    #: it matches the stored record of that date in the same place, by id.
    occurrence: int = 0
    #: Columns whose cell could not be read (already reported).
    bad: set[str] = field(default_factory=set)


class ImportAborted(Exception):
    """Raised inside the commit to roll the whole import back, with why."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def run_import(
    files,
    *,
    site: Site,
    user,
    commit: bool,
    file_name: str = "",
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Check the files and, with ``commit`` and no problem, write all of them.

    `files` is what registry.importfiles.read takes: a folder, a .zip, an .xlsx,
    a .csv, or a list of (name, bytes) pairs. Nothing is written unless
    ``commit`` is true and no problem was found.
    """
    say = progress or (lambda message: None)
    job = _Import(site=site, user=user, file_name=file_name or _name_of(files))
    say("reading the files")
    job.read(files)
    say("checking every row")
    job.check()
    result = job.result()
    if commit and result.ok:
        say("writing")
        try:
            job.write()
        except ImportAborted as aborted:  # what was checked changed meanwhile
            result.problems.extend(aborted.problems)
            return result
        except ValidationError as refused:  # e.g. records locked meanwhile
            result.problems.extend(
                Problem(job.file_name, None, "", "", message)
                for message in refused.messages
            )
            return result
        result.committed = True
    return result


def _name_of(files) -> str:
    if isinstance(files, list | tuple):
        return ", ".join(str(f[0] if isinstance(f, tuple) else f) for f in files)
    return str(files)


def reason(file_name: str, user) -> str:
    """Return the change reason each history row of an import records."""
    if user is None:
        who = f"{getpass.getuser()} (command line)"
    else:
        who = user.get_username()
    return f"import of {file_name} by {who}"[:100]


def locked_record_problems(rows: list[Row]) -> list[Problem]:
    """Return a problem for every row that would change a locked record.

    A data manager locks a patient's records of one kind (registry.status); a
    locked kind takes no new record and no change until it is unlocked. One
    query, whatever the number of rows. Rows that change nothing pass.
    """
    from registry.models.status import FormStatus, RecordStatus
    from registry.status import kind_of

    writing = [
        r for r in rows if r.patient and r.patient > 0 and (r.created or r.changed)
    ]
    if not writing:
        return []
    locked = set(
        RecordStatus.objects.filter(
            patient_id__in={r.patient for r in writing}, status=FormStatus.LOCKED
        ).values_list("patient_id", "kind")
    )
    problems = []
    for row in writing:
        kind = kind_of(row.kind.model)
        if (row.patient, kind) in locked:
            problems.append(
                Problem.of_row(
                    row,
                    f"locked: this patient's {kind.label.lower()} records are "
                    "locked; a data manager must unlock them before they change",
                )
            )
    return problems


#: What a problem shows for the value of an identifier column (MRN, birth date).
HIDDEN = "(identifier not shown)"


class _Import:
    """The state of one import: the rows read, the stored records, the problems."""

    def __init__(self, *, site: Site, user, file_name: str):
        self.site = site
        self.user = user
        self.file_name = file_name
        self.problems: list[Problem] = []
        self.rows: dict[str, list[Row]] = defaultdict(list)
        self.sheets: dict[str, importfiles.Sheet] = {}
        # patients: registry number / source id -> id (stored) or -n (new)
        self.by_number: dict[str, int] = {}
        self.by_source: dict[str, int] = {}
        self.stored_patients: dict[int, Patient] = {}
        self.new_patients: dict[int, Row] = {}
        self.stored: dict[str, dict] = {}
        self.field_checks: dict[tuple, list[str]] = {}

    # --- reading -----------------------------------------------------------------

    def problem(self, source, row, column, value, message) -> None:
        entry = None
        if row is not None and column:
            entry = dictionary.entry_map(row.kind.name).get(column)
        number = row.number if isinstance(row, Row) else row
        if entry is not None and entry.identifier and value:
            # nor in the message, where a rule may quote the value it read
            for shown in {str(value), str(value).strip()} - {""}:
                message = message.replace(shown, HIDDEN)
            value = HIDDEN
        self.problems.append(Problem(source, number, column, str(value), message))

    def read(self, files) -> None:
        sheets, unreadable = importfiles.read(files)
        for bad in unreadable:
            self.problems.append(Problem(bad.source, None, "", "", bad.message))
        names = [k.name for k in dictionary.record_kinds()]
        for sheet in sheets:
            if sheet.name == "dictionary":
                continue  # an export's own dictionary, read back with its data
            kind = dictionary.kind_named(sheet.name)
            if kind is None:
                self.problems.append(
                    Problem(
                        sheet.source,
                        None,
                        "",
                        sheet.name,
                        "not a record kind: name each file or sheet after one of "
                        + ", ".join(names),
                    )
                )
                continue
            if kind.name in self.sheets:
                self.problems.append(
                    Problem(
                        sheet.source, None, "", "", f"a second {kind.name} file/sheet"
                    )
                )
                continue
            self.sheets[kind.name] = sheet
            self._read_sheet(kind, sheet)
        if not sheets and not unreadable:
            self.problems.append(Problem(self.file_name, None, "", "", "no files"))

    def _read_sheet(self, kind: RecordKind, sheet) -> None:
        entries = dictionary.entry_map(kind.name)
        for number, column, message in sheet.problems:
            self.problems.append(Problem(sheet.source, number, column, "", message))
        for column in sheet.header:
            if column not in entries:
                self.problems.append(
                    Problem(
                        sheet.source,
                        1,
                        column,
                        "",
                        "unknown column (the data dictionary names the columns)",
                    )
                )
        needed = [c for c in kind.key if c not in sheet.header]
        if kind.name != "patient" and not set(PATIENT_REFERENCE) & set(sheet.header):
            needed.append(" or ".join(PATIENT_REFERENCE))
        for column in needed:
            self.problems.append(
                Problem(sheet.source, 1, column, "", "this column is required")
            )
        if needed:
            return
        for number, cells in sheet.rows:
            row = Row(kind, sheet.source, number, {})
            for column, text in cells.items():
                if column in entries:
                    self._parse(row, entries[column], text)
            self.rows[kind.name].append(row)

    def _parse(self, row: Row, entry: Entry, text: str) -> None:
        text = (text or "").strip()
        if "\x00" in text:  # a file's cell: refused as forms and the API refuse it
            row.bad.add(entry.name)
            self.problem(
                row.source,
                row,
                entry.name,
                text.replace("\x00", "\\x00"),
                f"{HOLDS_NUL}, which no field may hold",
            )
            return
        try:
            row.values[entry.name] = parse(entry, text)
        except ValueError as exc:
            row.bad.add(entry.name)
            self.problem(row.source, row, entry.name, text, str(exc))

    # --- matching ----------------------------------------------------------------

    def check(self) -> None:
        self._load_patients()
        self._match_patients()
        for kind in dictionary.record_kinds()[1:]:
            self._refer_to_patients(kind)
        self._load_records()
        for kind in dictionary.record_kinds()[1:]:
            self._match_records(kind)
        self._validate()
        self.problems.extend(locked_record_problems(self._all_rows()))

    def _all_rows(self) -> list[Row]:
        return [row for rows in self.rows.values() for row in rows]

    def _load_patients(self) -> None:
        """Read the stored patients the file names, by number or source id."""
        numbers, sources = set(), set()
        for row in self._all_rows():
            if row.values.get("registry_number"):
                numbers.add(row.values["registry_number"])
            if row.values.get("source_record_id"):
                sources.add(row.values["source_record_id"])
        self.other_site_numbers: set[str] = set()
        numbers_list = sorted(numbers)
        for start in range(0, len(numbers_list), CHUNK):
            part = numbers_list[start : start + CHUNK]
            for patient in Patient.objects.filter(registry_number__in=part):
                if patient.site_id != self.site.pk:
                    self.other_site_numbers.add(patient.registry_number)
                else:
                    self._remember(patient)
        sources_list = sorted(sources)
        for start in range(0, len(sources_list), CHUNK):
            part = sources_list[start : start + CHUNK]
            for patient in Patient.objects.filter(
                site=self.site, source_record_id__in=part
            ):
                self._remember(patient)
        mrns = {
            row.values.get("mrn")
            for row in self.rows["patient"]
            if row.values.get("mrn")
        }
        self.stored_mrns = dict(
            Patient.objects.filter(site=self.site, mrn__in=sorted(mrns)).values_list(
                "mrn", "pk"
            )
        )

    @property
    def unknown(self) -> str:
        """Say that a registry number is no patient of this site, whether or
        not another site has it: as a page of another site's patient is not
        found, an import does not confirm that one exists."""
        return f"unknown patient: no patient of site {self.site.code} has this number"

    def _remember(self, patient: Patient) -> None:
        self.stored_patients[patient.pk] = patient
        self.by_number[patient.registry_number] = patient.pk
        if patient.source_record_id:
            self.by_source[patient.source_record_id] = patient.pk

    def _match_patients(self) -> None:
        prefix = self.site.registry_prefix()
        seen: dict[int, Row] = {}
        for row in self.rows["patient"]:
            number = row.values.get("registry_number") or ""
            source = row.values.get("source_record_id") or ""
            site_code = row.values.pop("site", None)
            if site_code and site_code != self.site.code:
                self.problem(
                    row.source,
                    row,
                    "site",
                    site_code,
                    f"this import is for site {self.site.code}",
                )
            if number in self.other_site_numbers:
                self.problem(row.source, row, "registry_number", number, self.unknown)
                continue
            pk = self.by_number.get(number) if number else None
            if pk is None and source and source in self.by_source and not number:
                pk = self.by_source[source]
            if pk is None:
                if not source and not number:
                    self.problem(
                        row.source,
                        row,
                        "source_record_id",
                        "",
                        "a new patient needs the source system's record id (or a "
                        "registry number of this site)",
                    )
                    continue
                if number and not number.startswith(prefix):
                    self.problem(
                        row.source,
                        row,
                        "registry_number",
                        number,
                        f"unknown patient: not a registry number of this site "
                        f"(they start {prefix}); leave it blank for a new patient",
                    )
                    continue
                if source and source in self.by_source:
                    self.problem(
                        row.source,
                        row,
                        "source_record_id",
                        source,
                        "duplicate: another patient has this source record id",
                    )
                    continue
                pk = -(len(self.new_patients) + 1)
                self.new_patients[pk] = row
                row.created = True
                if source:
                    self.by_source[source] = pk
                if number:
                    self.by_number[number] = pk
            elif source and self.by_source.get(source, pk) != pk:
                self.problem(
                    row.source,
                    row,
                    "source_record_id",
                    source,
                    "duplicate: another patient has this source record id",
                )
                continue
            if pk in seen:
                self.problem(
                    row.source,
                    row,
                    "registry_number" if number else "source_record_id",
                    number or source,
                    f"duplicate: the same patient as row {seen[pk].number}",
                )
                continue
            seen[pk] = row
            row.patient = pk
            mrn = row.values.get("mrn")
            if mrn and self.stored_mrns.get(mrn, pk) != pk:
                self.problem(
                    row.source,
                    row,
                    "mrn",
                    mrn,
                    "duplicate: a patient with this MRN exists at this site",
                )
        mrn_rows = defaultdict(list)
        for row in self.rows["patient"]:
            if row.values.get("mrn") and row.patient is not None:
                mrn_rows[row.values["mrn"]].append(row)
        for same in mrn_rows.values():
            for row in same[1:]:
                self.problem(
                    row.source,
                    row,
                    "mrn",
                    row.values["mrn"],
                    f"duplicate: the same MRN as row {same[0].number}",
                )

    def _refer_to_patients(self, kind: RecordKind) -> None:
        for row in self.rows[kind.name]:
            number = row.values.pop("registry_number", "") or ""
            source = row.values.pop("source_record_id", "") or ""
            pk = self.by_number.get(number) if number else None
            if pk is None and source:
                pk = self.by_source.get(source)
            if pk is not None:
                row.patient = pk
                continue
            column = "registry_number" if number else "source_record_id"
            if number:
                message = self.unknown
            elif not source:
                message = "name the patient: registry_number or source_record_id"
            else:
                message = "unknown patient: not in the registry nor in the patient file"
            self.problem(row.source, row, column, number or source, message)

    def _load_records(self) -> None:
        """Read the stored records of the patients named, one query per kind and
        chunk."""
        ids = sorted(pk for pk in self.stored_patients)
        for kind in dictionary.record_kinds()[1:]:
            found: dict = defaultdict(list)
            for start in range(0, len(ids), CHUNK):
                part = ids[start : start + CHUNK]
                records = kind.model.objects.filter(patient_id__in=part)
                for record in records.order_by("pk"):
                    found[self._key(kind, record.patient_id, record)].append(record)
            self.stored[kind.name] = found

    @staticmethod
    def _key(kind: RecordKind, patient: int, source) -> tuple:
        get = source.get if isinstance(source, dict) else source.__dict__.get
        return (patient, *(get(name) for name in kind.key))

    def _match_records(self, kind: RecordKind) -> None:
        """Match each row to the stored record it updates, if any.

        A patient may have several records of a kind on one date (a resection
        of the primary and one of the liver as two operations of the day, a
        clinic visit and a telephone call): the file's rows of that date match
        the stored records of that date in order, the first row the first
        record by id, as the export writes them; the rows past them add
        records. Two rows alike in every value are one row given twice.
        """
        seen: dict[tuple, list[Row]] = {}
        for row in self.rows[kind.name]:
            if row.patient is None or any(row.values.get(k) is None for k in kind.key):
                if row.patient is not None:
                    self.problem(row.source, row, kind.key[0], "", "a date is required")
                row.patient = None
                continue
            key = self._key(kind, row.patient, row.values)
            earlier = seen.setdefault(key, [])
            same = [r for r in earlier if kind.single or r.values == row.values]
            if same:
                what = "patient" if kind.single else "values"
                self.problem(
                    row.source,
                    row,
                    kind.key[0] if kind.key else "registry_number",
                    str(key[-1]) if kind.key else "",
                    f"duplicate: the same {what} as row {same[0].number}",
                )
                row.patient = None
                continue
            row.occurrence = len(earlier)
            earlier.append(row)

    # --- validating --------------------------------------------------------------

    def _validate(self) -> None:
        rows = [r for r in self._all_rows() if r.patient is not None]
        for row in rows:
            self._build(row)
        with known_dates(self._dates(rows)):
            for row in rows:
                self._clean(row)

    def _build(self, row: Row) -> None:
        kind = row.kind
        if kind.name == "patient":
            stored = self.stored_patients.get(row.patient)
        else:
            key = self._key(kind, row.patient, row.values)
            found = self.stored[kind.name].get(key, [])
            stored = found[row.occurrence] if row.occurrence < len(found) else None
        if stored is None:
            instance = kind.model()
            if kind.name == "patient":
                instance.site = self.site
            else:
                instance.patient_id = row.patient
            row.created = True
            row.changed = list(row.values)
        else:
            instance = stored
            row.changed = [
                name
                for name, value in row.values.items()
                if getattr(instance, name) != value
            ]
        for name in row.changed:
            setattr(instance, name, row.values[name])
        if kind.name == "patient" and row.patient < 0:
            instance.pk = row.patient  # so clean() finds the new patient's dates
        row.instance = instance

    def _dates(self, rows: list[Row]) -> dict[int, KnownDates]:
        """Return each patient's dates as the registry will hold them."""
        births: dict[int, object] = {
            pk: p.date_of_birth for pk, p in self.stored_patients.items()
        }
        single: dict[str, dict[int, object]] = {"primary_tumour": {}, "death": {}}
        many: dict[int, dict[tuple, tuple]] = defaultdict(dict)
        for kind in dictionary.record_kinds()[1:]:
            for key, records in self.stored[kind.name].items():
                for occurrence, record in enumerate(records):
                    self._note(kind, key, record, single, many, occurrence)
        for row in rows:
            if row.kind.name == "patient":
                births[row.patient] = row.instance.date_of_birth
            else:
                key = self._key(row.kind, row.patient, row.values)
                self._note(row.kind, key, row.instance, single, many, row.occurrence)
        patients = set(births) | set(many) | {p for d in single.values() for p in d}
        dates = {}
        for pk in patients:
            tumour = single["primary_tumour"].get(pk)
            death = single["death"].get(pk)
            records = many.get(pk, {})
            dates[pk] = KnownDates(
                birth=births.get(pk),
                diagnosis=getattr(tumour, "diagnosis_date", None),
                death=getattr(death, "date", None),
                dated=tuple(d for pair in records.values() for d in pair[0]),
                follow_ups=tuple(d for pair in records.values() for d in pair[1]),
            )
        return dates

    @staticmethod
    def _note(kind: RecordKind, key, record, single, many, occurrence: int) -> None:
        if kind.name in single:
            single[kind.name][key[0]] = record
            return
        if kind.name not in _DATED:
            return
        what = _DATED[kind.name]
        when = [
            getattr(record, f)
            for f in ("date", "start_date", "end_date", "detected_date")
            if getattr(record, f, None)
        ]
        follow_ups = when if kind.name == "follow_up" else []
        many[key[0]][(kind.name, *key[1:], occurrence)] = (
            tuple((d, what) for d in when),
            tuple(follow_ups),
        )

    def _clean(self, row: Row) -> None:
        """Validate the record as Model.full_clean() does (without the uniqueness
        and constraint queries, checked in bulk above): each field's own
        validation, then the model's clean()."""
        instance = row.instance
        if not row.changed:
            return
        errors: dict[str, list[str]] = {}
        for f in _checked_fields(type(instance)):
            raw = getattr(instance, f.attname)
            if f.blank and raw in f.empty_values:
                continue
            found = self._field_errors(f, raw, instance)
            if found:
                errors[f.name] = found
        try:
            instance.clean()
        except ValidationError as exc:
            for name, messages in exc.update_error_dict({}).items():
                errors.setdefault(name, []).extend(
                    m for e in messages for m in ValidationError(e).messages
                )
        for name, messages in errors.items():
            if name in row.bad:
                continue  # the cell itself was reported
            column = "" if name == NON_FIELD_ERRORS else name
            value = row.values.get(name, "")
            for message in messages:
                self.problem(row.source, row, column, _shown(value), message)

    def _field_errors(self, f, raw, instance) -> list[str]:
        """Return the field's messages for `raw`; a field's own validation depends
        on the value alone, so each distinct value is checked once."""
        key = (f, raw if not isinstance(raw, list | dict) else repr(raw))
        if key not in self.field_checks:
            try:
                f.clean(raw, instance)
                self.field_checks[key] = []
            except ValidationError as exc:
                self.field_checks[key] = list(exc.messages)
        return self.field_checks[key]

    # --- the result and the commit -----------------------------------------------

    def result(self) -> ImportResult:
        counts: dict[str, Counter] = {}
        for kind in dictionary.record_kinds():
            rows = self.rows.get(kind.name, [])
            if not rows:
                continue
            counter = Counter()
            for row in rows:
                if row.patient is None:
                    continue
                outcome = (
                    "created"
                    if row.created
                    else ("updated" if row.changed else "unchanged")
                )
                counter[outcome] += 1
            counts[kind.name] = counter
        patients = {r.patient for r in self._all_rows() if r.patient is not None}
        self.problems.sort(key=_problem_order)
        return ImportResult(
            problems=list(self.problems), counts=counts, patients=len(patients)
        )

    def write(self) -> None:
        """Write every row, all or nothing, refreshing the facts once at the end."""
        why = reason(self.file_name, self.user)
        summary = self.result()
        touched: set[int] = set()
        with transaction.atomic(), facts.deferred(), status.acting_as(self.user):
            self._still_as_checked()
            ids = self._write_patients(why)
            for kind in dictionary.record_kinds()[1:]:
                touched |= self._write_kind(kind, ids, why)
            touched |= {pk for pk in ids.values()}
            TransferLog.objects.create(
                action=TransferLog.Action.IMPORT,
                user=self.user,
                file_name=self.file_name[:200],
                file_format=_format_of(self.file_name),
                sites=self.site.code,
                patients=len({*touched, *self.stored_patients}),
                rows=summary.rows,
                detail={k: dict(v) for k, v in summary.counts.items()},
            )

    def _still_as_checked(self) -> None:
        """Lock what the check read, and stop the write if it changed since.

        Between the check and the write (a large file takes minutes) another
        user may delete a patient the file names, or change or delete a record
        it updates: writing then would fail on the missing patient or write
        over their change with its version. The stored patients the rows name
        and the records they update are locked (``SELECT ... FOR [NO KEY] UPDATE``) and
        compared with what was read; any difference raises ImportAborted.
        """
        problems: list[Problem] = []
        named = sorted({r.patient for r in self._all_rows() if (r.patient or 0) > 0})
        alive: set[int] = set()
        for start in range(0, len(named), CHUNK):
            alive.update(  # as a refresh locks them (registry.facts)
                Patient.objects.select_for_update(no_key=True)
                .filter(pk__in=named[start : start + CHUNK])
                .values_list("pk", flat=True)
            )
        for row in self._all_rows():
            if (row.patient or 0) > 0 and row.patient not in alive:
                problems.append(
                    Problem.of_row(
                        row,
                        "the patient was deleted since the file was checked: "
                        "nothing was written; check the file again",
                    )
                )
        for kind in dictionary.record_kinds():
            rows = [
                r
                for r in self.rows.get(kind.name, [])
                if (r.patient or 0) > 0 and not r.created and r.changed
            ]
            ids = sorted(r.instance.pk for r in rows)
            versions: dict[int, int] = {}
            for start in range(0, len(ids), CHUNK):
                versions.update(
                    kind.model.objects.select_for_update()
                    .filter(pk__in=ids[start : start + CHUNK])
                    .values_list("pk", "version")
                )
            for row in rows:
                if versions.get(row.instance.pk) != row.instance.version:
                    what = "changed" if row.instance.pk in versions else "deleted"
                    problems.append(
                        Problem.of_row(
                            row,
                            f"this {kind.label.lower()} was {what} since the file "
                            "was checked: nothing was written; check the file again",
                        )
                    )
        if problems:
            raise ImportAborted(problems)

    def _write_patients(self, why: str) -> dict[int, int]:
        """Write the patients; return the ids of the new ones by their number."""
        rows = [r for r in self.rows["patient"] if r.patient is not None]
        new = [r for r in rows if r.patient < 0]
        site = Site.objects.select_for_update().get(pk=self.site.pk)
        prefix = site.registry_prefix()
        given = {
            int(r.instance.registry_number.removeprefix(prefix))
            for r in new
            if r.instance.registry_number
            and r.instance.registry_number.removeprefix(prefix).isdigit()
        }
        number = max(site.last_registry_number, site.highest_registry_number())
        for row in new:
            row.instance.pk = None
            if not row.instance.registry_number:
                number += 1
                while number in given:  # named by another new patient's row
                    number += 1
                row.instance.registry_number = f"{prefix}{number:05d}"
        last = max([number, *given])
        Site.objects.filter(pk=site.pk).update(last_registry_number=last)
        created = [r.instance for r in new]
        self._create(created, Patient, why)
        if any(p.pk is None for p in created):  # a database without RETURNING
            found = dict(
                Patient.objects.filter(
                    registry_number__in=[p.registry_number for p in created]
                ).values_list("registry_number", "pk")
            )
            for patient in created:
                patient.pk = found[patient.registry_number]
        ids = {row.patient: row.instance.pk for row in new}
        self._update([r for r in rows if r.patient > 0 and r.changed], Patient, why)
        return ids

    def _write_kind(self, kind: RecordKind, ids: dict[int, int], why: str) -> set:
        rows = [r for r in self.rows.get(kind.name, []) if r.patient is not None]
        for row in rows:
            if row.patient < 0:
                row.instance.patient_id = ids[row.patient]
        created = [r.instance for r in rows if r.created]
        self._create(created, kind.model, why)
        self._update([r for r in rows if not r.created and r.changed], kind.model, why)
        return {r.instance.patient_id for r in rows if r.created or r.changed}

    def _create(self, objs: list, model, why: str) -> None:
        """Insert new records with their history rows: COPY on PostgreSQL.

        The ORM's bulk insert prepares each of a large import's millions of
        values through its field; COPY takes them as text (registry.copyrows).
        Both refuse locked patients and note the patients whose facts to
        refresh.
        """
        if connection.vendor == "postgresql":
            copyrows.create_with_history(objs, model, user=self.user, reason=why)
            return
        bulk_create_with_history(
            objs,
            model,
            batch_size=BATCH,
            default_user=self.user,
            default_change_reason=why,
        )

    def _update(self, rows: list[Row], model, why: str) -> None:
        if not rows:
            return
        now = timezone.now()
        by_fields: dict[tuple, list] = defaultdict(list)
        for row in rows:
            row.instance.version += 1
            row.instance.updated_at = now
            by_fields[tuple(sorted(row.changed))].append(row.instance)
        for changed, objs in by_fields.items():
            bulk_update_with_history(
                objs,
                model,
                [*changed, "version", "updated_at"],
                batch_size=BATCH,
                default_user=self.user,
                default_change_reason=why,
                manager=model.objects,
            )


@functools.cache
def _checked_fields(model) -> tuple:
    """Return the fields full_clean() would check on import (not the patient or
    site, resolved by the import itself)."""
    return tuple(
        f
        for f in model._meta.fields
        if f.name not in ("patient", "site") and not f.primary_key and f.editable
    )


def _format_of(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower()[:10] if "." in name else "csv"


def _problem_order(problem: Problem) -> tuple:
    return (problem.source, problem.row or 0, problem.column)


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


# --- parsing cells ------------------------------------------------------------------


def parse(entry: Entry, text: str):
    """Return the cell `text` as the field's value; raise ValueError saying why not.

    Codes are accepted as codes or as their labels (in any letter case). An empty
    cell is an empty value (None for dates and numbers), which the model's
    validation refuses where the field is required.
    """
    if entry.type == "code":
        return _code(entry, text)
    if text == "":
        return None if entry.type in ("date", "decimal", "integer") else text
    if entry.type == "date":
        return _date(text)
    if entry.type == "decimal":
        if "," in text:  # read as the forms read it: a comma is no decimal point
            raise ValueError("not a number: write a decimal point (12.5), not a comma")
        try:
            value = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise ValueError("not a number") from None
        if not value.is_finite():
            raise ValueError("not a number")
        return value
    if entry.type == "integer":
        # digits (a spreadsheet's 10.0 too), as the forms read a whole number
        if not WHOLE_NUMBER.fullmatch(text):
            raise ValueError("not a whole number")
        return int(decimal.Decimal(text))
    if entry.type == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("write true or false (yes/no, 1/0)")
    return text


#: A date as the forms read it (YYYY-MM-DD), with the time some systems write
#: after it ("2004-01-10T00:00:00"), which must be a time too.
DATE_TEXT = re.compile(
    r"(\d{4}-\d{1,2}-\d{1,2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?"
)
#: A whole number as the forms read it, or as a spreadsheet writes one (10.0).
WHOLE_NUMBER = re.compile(r"[+-]?\d+(?:\.0*)?")


def _date(text: str) -> datetime.date:
    """Return the date `text` writes as YYYY-MM-DD (not a week date, nor
    20040110, which Python's ISO parser reads too); raise ValueError if not."""
    found = DATE_TEXT.fullmatch(text)
    try:
        if found is None:
            raise ValueError
        if found[2]:
            datetime.time.fromisoformat(found[2])
        return datetime.datetime.strptime(found[1], "%Y-%m-%d").date()
    except ValueError:
        raise ValueError("bad date: write it as YYYY-MM-DD") from None


def _code(entry: Entry, text: str) -> str:
    if text == "" or text in entry.codes:
        return text
    folded = text.casefold()
    for code, label in entry.codes.items():
        if folded in (code.casefold(), label.casefold()):
            return code
    allowed = ", ".join(f"{c} ({label})" for c, label in entry.codes.items())
    raise ValueError(f"unknown code; allowed are {allowed}")
