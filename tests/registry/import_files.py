"""Import files for tests, made in memory: (name, bytes) pairs as uploads give."""

from __future__ import annotations

import csv
import io

from registry import dictionary


def csv_file(kind: str, rows: list[dict], columns: list[str] | None = None):
    """Return ("kind.csv", bytes) with `rows`; columns default to the dictionary's
    columns that any row uses, in dictionary order."""
    if columns is None:
        used = {name for row in rows for name in row}
        columns = [c for c in dictionary.columns(kind) if c in used]
        columns += sorted(used - set(columns))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return (f"{kind}.csv", out.getvalue().encode())


def patient_row(n: int, **values) -> dict:
    """Return a new patient's row, named by source record id SRC<n>."""
    row = {
        "source_record_id": f"SRC{n}",
        "mrn": f"M{n:07d}",
        "date_of_birth": "1950-03-01",
        "sex": "F",
        "presenting_symptom": "none",
    }
    return row | values


def tumour_row(n: int, **values) -> dict:
    row = {
        "source_record_id": f"SRC{n}",
        "diagnosis_date": "2004-01-10",
        "primary_site": "rectum_mid",
        "histology": "adeno",
        "clinical_t": "T3",
        "clinical_n": "N1a",
        "clinical_m": "M1a",
        "kras": "nt",
        "nras": "nt",
        "braf": "nt",
        "mmr": "nt",
    }
    return row | values


def operation_row(n: int, **values) -> dict:
    row = {
        "source_record_id": f"SRC{n}",
        "date": "2004-08-15",
        "primary_procedure": "lar",
        "liver_procedure": "minor",
        "palliative_procedure": "none",
        "intent": "curative",
        "emergency": "false",
    }
    return row | values


def follow_up_row(n: int, **values) -> dict:
    row = {
        "source_record_id": f"SRC{n}",
        "date": "2005-01-10",
        "contact_type": "clinic",
        "disease_status": "ned",
    }
    return row | values


def death_row(n: int, **values) -> dict:
    return {
        "source_record_id": f"SRC{n}",
        "date": "2007-06-01",
        "cause": "colorectal",
    } | values


def cohort(n: int) -> list[tuple[str, bytes]]:
    """Return the files of `n` new patients, each with diagnosis, operation and
    a follow-up contact."""
    return [
        csv_file("patient", [patient_row(i) for i in range(1, n + 1)]),
        csv_file("primary_tumour", [tumour_row(i) for i in range(1, n + 1)]),
        csv_file("operation", [operation_row(i) for i in range(1, n + 1)]),
        csv_file("follow_up", [follow_up_row(i) for i in range(1, n + 1)]),
    ]
