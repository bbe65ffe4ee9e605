"""Valid POST data for each data-entry form, to vary one field at a time."""

from __future__ import annotations

#: A valid submission of each record form, for a patient diagnosed 2004-01-10
#: (tests.factories.make_tumour) who is alive.
RECORD_DATA: dict[str, dict[str, str]] = {
    "tumour": {
        "diagnosis_date": "2004-01-10",
        "primary_site": "rectum_mid",
        "anal_verge_cm": "7.5",
        "histology": "adeno",
        "grade": "G2",
        "clinical_t": "T3",
        "clinical_n": "N1a",
        "clinical_m": "M1a",
        "cea_ng_ml": "12.5",
        "kras": "wt",
        "nras": "nt",
        "braf": "nt",
        "mmr": "pmmr",
    },
    "liver": {
        "timing": "synchronous",
        "detected_date": "",
        "lesion_count": "3",
        "largest_mm": "25",
        "distribution": "bilobar",
        "extent": "25to50",
        "extrahepatic": "none",
        "initial_resectability": "potentially",
    },
    "radiation": {
        "course_type": "long_crt",
        "start_date": "2004-02-01",
        "end_date": "2004-03-10",
        "total_dose_gy": "50.4",
        "fractions": "28",
        "concurrent_agent": "capecitabine",
        "completed": "on",
    },
    "systemic": {
        "setting": "neoadjuvant",
        "regimen": "folfox",
        "regimen_other": "",
        "biologic": "none",
        "start_date": "2004-04-01",
        "end_date": "2004-07-01",
        "cycles": "6",
        "stop_reason": "surgery",
        "best_response": "PR",
    },
    "operation": {
        "date": "2004-08-15",
        "primary_procedure": "lar",
        "liver_procedure": "minor",
        "palliative_procedure": "none",
        "intent": "curative",
        "margin": "R0",
        "clavien_dindo": "II",
        "length_of_stay_days": "9",
    },
    "followup": {
        "date": "2005-01-10",
        "contact_type": "clinic",
        "disease_status": "ned",
        "cea_ng_ml": "2.1",
        "notes": "Well.",
    },
    "death": {"date": "2007-06-01", "cause": "colorectal"},
}

#: One invalid submission per form: (field changed, bad value, field the
#: message must appear at, fragment of the message).
BAD_RECORD_DATA: dict[str, tuple[str, str, str, str]] = {
    "tumour": ("clinical_m", "M9", "clinical_m", "Select a valid choice"),
    "liver": ("timing", "metachronous", "detected_date", "Give the date"),
    "radiation": ("end_date", "2004-01-15", "end_date", "cannot end (2004-01-15)"),
    "systemic": ("regimen", "other", "regimen_other", "Name the other regimen"),
    "operation": ("date", "2999-01-01", "date", "cannot be in the future"),
    "followup": ("date", "2003-12-31", "date", "before the diagnosis"),
    "death": ("date", "2003-06-01", "date", "before the diagnosis"),
}


def new_patient_data(**changes: str) -> dict[str, str]:
    """Return a valid submission of the new-patient form, with `changes`."""
    data = {
        "patient-mrn": "H123456",
        "patient-date_of_birth": "1950-05-17",
        "patient-sex": "F",
        "patient-ecog": "1",
        "patient-asa_class": "II",
        "patient-charlson_index": "0",
        "patient-presenting_symptom": "bleeding",
    }
    data.update({f"tumour-{k}": v for k, v in RECORD_DATA["tumour"].items()})
    data.update({f"liver-{k}": v for k, v in RECORD_DATA["liver"].items()})
    data.update(changes)
    return data
