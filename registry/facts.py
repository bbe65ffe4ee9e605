"""Keep each patient's stored derived facts equal to the rules, on every write.

A patient's row of ``registry.models.DerivedFacts`` is rewritten by
:func:`refresh` in the same transaction as every write to the patient or their
records:

- ``save()`` and ``delete()`` of any clinical model, through the signals below
  (forms, the admin and its revert, services, the shell);
- ``QuerySet.update()``, ``bulk_create()`` and ``bulk_update()`` of a clinical
  model, through ``registry.models.base.ClinicalQuerySet``;
- many writes at once (the demo generator, an import) inside :func:`deferred`,
  which refreshes each patient once when the block ends.

The rules are ``registry.derive``'s alone; here they are only applied. The
plain facts of many patients are read in two queries (the patients, then all
their records in one UNION ALL), whatever their number.

Each refresh also gives the data of the sites it touched a new version
(:func:`new_versions`), for the summaries kept per site (registry.summaries).
"""

from __future__ import annotations

import contextlib
import contextvars
import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.db import transaction

from registry import derive
from registry.derive import ContactFact, CourseFact, OperationFact, PatientFacts

#: Patients refreshed per statement: keeps IN lists and memory bounded.
CHUNK = 2000

# While set, writes collect the patients they touch instead of refreshing them
# (and the sites of the patients they delete, instead of giving each a version).
_pending: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar(
    "pending_fact_refresh", default=None
)
_pending_sites: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar(
    "pending_site_versions", default=None
)


#: The records a patient's plain facts are read from, all in one statement (a
#: UNION ALL): the fact each gives, its model, and its columns in a common row
#: of two dates and four texts (None where the model has fewer); each row is
#: tagged with its model's place here.
RECORD_COLUMNS: tuple[tuple[str, str, tuple, tuple], ...] = (
    (
        "liver",
        "LiverMetastases",
        ("detected_date", None),
        ("initial_resectability", "timing", None, None),
    ),
    ("death", "Death", ("date", None), ("cause", None, None, None)),
    (
        "operations",
        "Operation",
        ("date", None),
        ("primary_procedure", "liver_procedure", "palliative_procedure", "margin"),
    ),
    ("radiation", "RadiationCourse", ("start_date", "end_date"), (None,) * 4),
    (
        "systemic",
        "SystemicTherapyLine",
        ("start_date", "end_date"),
        ("regimen", "biologic", None, None),
    ),
    ("contacts", "FollowUp", ("date", None), ("disease_status", None, None, None)),
)


def plain_facts(patient_ids: Iterable[int], *, apps=None) -> dict[int, PatientFacts]:
    """Return the plain facts registry.derive reads, for each patient (2 queries).

    ``apps`` is a migration's app registry, when a migration fills the facts.
    """
    ids = list(patient_ids)
    found = _read(ids, apps=apps, sites=False)
    return {pk: found.get(pk, (PatientFacts(diagnosis_date=None), ()))[0] for pk in ids}


def _read(
    ids: list[int], *, apps=None, sites: bool
) -> dict[int, tuple[PatientFacts, tuple]]:
    """Return, for each of these patients that exists, their plain facts and (with
    `sites`) the sites their patient row and their stored facts hold: one query
    for the patients and their diagnoses, one for all their records."""
    from django.apps import apps as installed
    from django.db.models import CharField, DateField, F, Value
    from django.db.models.functions import Cast

    model = (apps or installed).get_model
    patient_model = model("registry", "Patient")
    held = []
    if sites:
        held = ["site_id"]
        # a migration's DerivedFacts may predate the site copied onto them
        facts_fields = {f.name for f in model("registry", "DerivedFacts")._meta.fields}
        held += ["facts__site_id"] if "site" in facts_fields else []
    # the patient and their diagnosis (one to one), joined
    patients = (
        patient_model._default_manager.filter(pk__in=ids)
        .order_by()
        .values_list(
            "pk",
            "ecog",
            "date_of_birth",
            "age_at_diagnosis",
            "tumour__diagnosis_date",
            "tumour__primary_site",
            "tumour__anal_verge_cm",
            "tumour__cea_ng_ml",
            "tumour__clinical_t",
            "tumour__clinical_n",
            "tumour__clinical_m",
            *held,
        )
    )
    patient = {}
    for pk, ecog, birth, age, diagnosis, site, verge, cea, *rest in patients:
        stage, held_sites = rest[:3], tuple(rest[3:])
        patient[pk] = (
            {
                "ecog": ecog,
                "date_of_birth": birth,
                "age_at_diagnosis": age,
                "diagnosis_date": diagnosis,
                "primary_site": site or "",
                "anal_verge_cm": verge,
                "cea_ng_ml": cea,
                "stage": tuple(code or "" for code in stage) if diagnosis else (),
            },
            held_sites,
        )
    if not patient:
        return {}

    def columns(names, field, prefix):
        return {
            # a typed NULL: PostgreSQL types a UNION's columns pair by pair
            f"{prefix}{i}": F(name) if name else Cast(Value(None), field)
            for i, name in enumerate(names)
        }

    branches = []
    for tag, (_, name, dates, texts) in enumerate(RECORD_COLUMNS):
        # every column an annotation, so that each branch selects them in order
        selected = {
            "of_patient": F("patient_id"),
            "record": Value(tag),
            "entered": F("pk"),
            **columns(dates, DateField(), "date"),
            **columns(texts, CharField(), "text"),
        }
        branches.append(
            model("registry", name)
            ._default_manager.filter(patient_id__in=list(patient))
            .order_by()
            .annotate(**selected)
            .values_list(*selected)
        )
    # in the order entered within each model: the first systemic line breaks
    # ties by it
    records = branches[0].union(*branches[1:], all=True).order_by("entered")
    liver, death = {}, {}
    many: dict[str, defaultdict] = {
        name: defaultdict(list)
        for name in ("operations", "radiation", "systemic", "contacts")
    }
    for pk, tag, _, first, second, *texts in records:
        fact = RECORD_COLUMNS[tag][0]
        if fact == "liver":
            liver[pk] = (texts[0], texts[1] or "", first)
        elif fact == "death":
            death[pk] = (first, texts[0])
        elif fact == "operations":
            many[fact][pk].append(OperationFact(first, *texts))
        elif fact == "contacts":
            many[fact][pk].append(ContactFact(first, texts[0]))
        else:  # a radiation course, or a systemic line with its regimen and biologic
            regimen, biologic = (text or "" for text in texts[:2])
            many[fact][pk].append(CourseFact(first, second, regimen, biologic))
    return {
        pk: (
            PatientFacts(
                initial_resectability=liver.get(pk, (None, "", None))[0],
                timing=liver.get(pk, (None, "", None))[1],
                detected_date=liver.get(pk, (None, "", None))[2],
                operations=tuple(many["operations"][pk]),
                radiation=tuple(many["radiation"][pk]),
                systemic=tuple(many["systemic"][pk]),
                contacts=tuple(many["contacts"][pk]),
                death_date=death.get(pk, (None, ""))[0],
                death_cause=death.get(pk, (None, ""))[1],
                **values,
            ),
            held_sites,
        )
        for pk, (values, held_sites) in patient.items()
    }


def computed(patient_ids: Iterable[int], *, apps=None) -> dict[int, derive.StoredFacts]:
    """Return what each patient's stored facts should be, by the rules."""
    return {
        pk: derive.stored_facts(facts)
        for pk, facts in plain_facts(patient_ids, apps=apps).items()
    }


def refresh_everyone(apps, *, chunk: int = 5000) -> None:
    """Compute every patient's facts again by the rules, `chunk` patients at a
    time: what a migration that adds a stored fact runs (the new column is a
    rule's result, never worked out in the migration). ``apps`` is the
    migration's app registry."""
    patient = apps.get_model("registry", "Patient")
    ids = list(patient.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), chunk):
        refresh(ids[start : start + chunk], apps=apps)


def refresh(patient_ids: Iterable[int], *, apps=None) -> None:
    """Rewrite the stored facts of these patients (those that still exist).

    ``apps`` is a migration's app registry, when a migration fills the facts.
    """
    from django.apps import apps as installed

    DerivedFacts = (apps or installed).get_model("registry", "DerivedFacts")
    Patient = (apps or installed).get_model("registry", "Patient")
    ids = {pk for pk in patient_ids if pk is not None}
    if not ids:
        return
    pending = _pending.get()
    if pending is not None:
        pending.update(ids)
        return
    columns = [f.name for f in DerivedFacts._meta.concrete_fields if not f.primary_key]
    ordered = sorted(ids)
    with transaction.atomic():
        for start in range(0, len(ordered), CHUNK):
            part = ordered[start : start + CHUNK]
            # One patient's writers refresh in turn: without a lock, two saves
            # at once (a death, a follow-up) each read the records without the
            # other's, and the last to write its facts wins with stale ones.
            # In id order; NO KEY UPDATE, which a record's insert (KEY SHARE on
            # its patient) does not wait for, so two inserts cannot deadlock.
            list(
                Patient._default_manager.select_for_update(no_key=True)
                .filter(pk__in=part)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            # the patients that still exist, their sites (copied with the facts)
            # and the sites their facts held until now (a transfer leaves one)
            found = _read(part, apps=apps, sites=True)
            # a migration's DerivedFacts may predate some facts: only its columns
            rows = [
                DerivedFacts(
                    patient_id=pk,
                    **({"site_id": sites[0]} if "site" in columns else {}),
                    **{
                        k: v
                        for k, v in derive.stored_facts(facts).as_dict().items()
                        if k in columns
                    },
                )
                for pk, (facts, sites) in found.items()
            ]
            DerivedFacts.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["patient"],
                update_fields=columns,
            )
            new_versions(
                {site for _, sites in found.values() for site in sites}, apps=apps
            )


def new_versions(site_ids: Iterable[int | None], *, apps=None) -> None:
    """Give the data of these sites a new version (``registry.models.SiteVersion``,
    one statement): a write to their patients' data has changed what their
    per-site summaries count (registry.summaries).

    A random value rather than a count: it needs no read of the old one, and
    two writers at one site simply leave the last one's. The sites are written
    in order of id, so that two transactions lock them in the same order.
    ``apps`` is a migration's app registry: one older than the versions has
    none to change.
    """
    from django.apps import apps as installed

    try:
        SiteVersion = (apps or installed).get_model("registry", "SiteVersion")
    except LookupError:
        return
    sites = sorted({pk for pk in site_ids if pk is not None})
    pending = _pending_sites.get()
    if pending is not None:
        pending.update(sites)
        return
    if sites:
        SiteVersion.objects.bulk_create(
            [SiteVersion(site_id=pk, version=secrets.randbits(62)) for pk in sites],
            update_conflicts=True,
            unique_fields=["site"],
            update_fields=["version"],
        )


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Refresh each patient written inside the block once, when it ends.

    For many writes at once (the demo generator, an import): the block's
    writes only note the patients they touch.
    """
    if _pending.get() is not None:  # already inside a deferred block
        yield
        return
    pending: set[int] = set()
    sites: set[int] = set()
    token, sites_token = _pending.set(pending), _pending_sites.set(sites)
    try:
        yield
    finally:
        _pending.reset(token)
        _pending_sites.reset(sites_token)
    refresh(pending)
    new_versions(sites)


# --- signals: save() and delete() of any clinical model ---------------------------


def patient_id_of(instance) -> int | None:
    """Return the id of the patient a clinical record (or patient) belongs to."""
    from registry.models import Patient

    return instance.pk if isinstance(instance, Patient) else instance.patient_id


def on_save(sender, instance, raw=False, **kwargs) -> None:
    if raw:  # loading a fixture: the facts are loaded, or refreshed, after
        return
    refresh([patient_id_of(instance)])


def on_delete(sender, instance, origin=None, **kwargs) -> None:
    from registry.models import Patient

    if isinstance(origin, Patient) or (getattr(origin, "model", None) is Patient):
        return  # the patient is being deleted with their records and facts
    refresh([patient_id_of(instance)])


def on_patient_delete(sender, instance, **kwargs) -> None:
    # Deleted with their records and facts: their site counts one fewer. The
    # site as stored, not the instance's, which may predate a transfer.
    from registry.models import Patient

    found = Patient.objects.filter(pk=instance.pk).values_list("site_id", "facts__site")
    new_versions(site for row in found for site in row)


def on_site_save(sender, instance, raw=False, **kwargs) -> None:
    # a new site has a version from the start, so its summaries are kept
    new_versions([instance.pk])


def connect() -> None:
    """Connect the signal handlers to every clinical model (RegistryConfig.ready),
    and give every site saved a new version."""
    from django.db.models.signals import post_delete, post_save, pre_delete

    from registry.models import Patient, Site

    for model in clinical_models():
        post_save.connect(on_save, sender=model, dispatch_uid=f"facts-save-{model}")
        post_delete.connect(
            on_delete, sender=model, dispatch_uid=f"facts-delete-{model}"
        )
    pre_delete.connect(on_patient_delete, sender=Patient, dispatch_uid="site-delete")
    post_save.connect(on_site_save, sender=Site, dispatch_uid="site-version")


def annotation_models() -> list:
    """Return the models about a patient's data that no derived fact reads
    (a confirmed entry warning): they need no refresh."""
    from registry.models import ConfirmedWarning

    return [ConfirmedWarning]


def clinical_models() -> list:
    """Return the patient and every model of a patient's clinical records."""
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

    return [
        Patient,
        PrimaryTumour,
        LiverMetastases,
        RadiationCourse,
        SystemicTherapyLine,
        Operation,
        FollowUp,
        Death,
    ]


# --- checking: recompute and compare ---------------------------------------------


def differences(patient_ids: Iterable[int]) -> dict[int, list[str]]:
    """Return, per patient whose stored facts differ from the rules, what differs.

    A patient without a stored row differs in every fact ("no stored facts").
    """
    from registry.models import DerivedFacts, Patient

    ids = list(patient_ids)
    stored = {
        row.pop("patient_id"): row
        for row in DerivedFacts.objects.filter(patient_id__in=ids).values()
    }
    site = dict(Patient.objects.filter(pk__in=ids).values_list("pk", "site_id"))
    found: dict[int, list[str]] = {}
    for pk, expected in computed(ids).items():
        row = stored.get(pk)
        if row is None:
            found[pk] = ["no stored facts"]
            continue
        wrong = [
            f"{name} stored {row[name]!r}, the rules give {value!r}"
            for name, value in expected.as_dict().items()
            if row[name] != value
        ]
        if row["site_id"] != site.get(pk):
            wrong.append(
                f"site stored {row['site_id']!r}, the patient's is {site.get(pk)!r}"
            )
        if wrong:
            found[pk] = wrong
    return found


def check_all(*, fix: bool = False, chunk: int = CHUNK) -> tuple[int, dict]:
    """Recompute every patient's facts in chunks; return (patients, differences).

    With ``fix``, the patients that differ are refreshed. The result is kept as
    the latest check (registry.models.FactsCheck), which the data-quality page
    shows, and every site's data gets a new version: what the check found (a
    row missing, written around the refresh) is counted on the next page.
    """
    from registry.models import FactsCheck, Patient, Site

    ids = Patient.objects.order_by("pk").values_list("pk", "site_id")
    checked, found = 0, {}
    by_site: dict[str, list[int]] = {}
    for start in range(0, ids.count(), chunk):
        part = dict(ids[start : start + chunk])
        checked += len(part)
        differ = differences(list(part))
        found |= differ
        for pk, site in part.items():
            counts = by_site.setdefault(str(site), [0, 0])
            counts[0] += 1
            counts[1] += pk in differ
    if fix and found:
        refresh(found)
    FactsCheck.objects.create(
        patients=checked,
        mismatched=len(found),
        fixed=fix and bool(found),
        by_site=by_site,
    )
    new_versions(Site.objects.values_list("pk", flat=True))
    return checked, found
