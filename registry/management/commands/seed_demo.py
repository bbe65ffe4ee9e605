"""Fill an empty registry with the synthetic demo cohort and demo users.

The cohort is generated and written a chunk of patients at a time
(registry.demo.generate_chunks), so memory stays bounded at any size. Each chunk
is written straight into the tables, bypassing the ORM: on PostgreSQL with COPY,
elsewhere with executemany. Everything the ORM path would write is written here
too: every record's creation in its history table (as simple-history's
``bulk_create_with_history`` writes it) and each patient's stored derived facts,
computed by ``registry.derive.stored_facts`` from the generated records (as
``registry.facts.refresh`` would compute them from the database).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from registry import demo, derive
from registry.models import (
    Death,
    DerivedFacts,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    Site,
    SystemicTherapyLine,
)

#: Demo accounts: (username, password, group, staff, member of which sites).
DEMO_USERS = (
    ("nurse", "nurse-demo-2026", "Data entry", False, "first"),
    ("manager", "manager-demo-2026", "Data manager", True, "all"),
    ("analyst", "analyst-demo-2026", "Analyst", False, "all"),
)
REASON = "synthetic demo data (seed_demo)"
#: A patient's records by model: the DemoPatient attribute holding them.
RECORDS = (
    (PrimaryTumour, "tumour"),
    (LiverMetastases, "liver"),
    (RadiationCourse, "radiation"),
    (SystemicTherapyLine, "systemic"),
    (Operation, "operations"),
    (FollowUp, "followups"),
    (Death, "death"),
)


class Command(BaseCommand):
    help = (
        "Create the synthetic demo cohort (74 patients shaped like the study in "
        "DESIGN.md, or --patients N of the same shape) and one demo user per group."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--patients", type=int, default=74, help="How many patients (default 74)."
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            help=f"Random seed (default {demo.DEFAULT_SEED}).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing, successfully, if the registry already holds patients.",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Delete the synthetic patients and sites first (real data is kept).",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=demo.CHUNK_SIZE,
            help="Patients generated and written at a time "
            f"(default {demo.CHUNK_SIZE:,}); bounds the memory taken.",
        )

    def handle(
        self,
        *args,
        patients: int,
        seed: int,
        if_empty: bool,
        replace: bool,
        chunk_size: int,
        **opts,
    ):
        if patients < 1:
            raise CommandError(f"--patients must be at least 1 (got {patients}).")
        if chunk_size < 1:
            raise CommandError(f"--chunk-size must be at least 1 (got {chunk_size}).")
        if replace:
            removed, _ = Patient.objects.synthetic().delete()
            Site.objects.filter(is_synthetic=True, patients__isnull=True).delete()
            self.stdout.write(f"Removed {removed} synthetic rows.")
        existing = Patient.objects.count()
        if existing:
            if if_empty:
                self.stdout.write(
                    f"The registry already holds {existing} patients; not seeding."
                )
                self._ensure_users()
                return
            raise CommandError(
                f"The registry already holds {existing} patients; seed_demo only fills "
                "an empty registry (use --replace to swap the synthetic cohort)."
            )
        started = time.perf_counter()
        with transaction.atomic():
            sites = self._sites(patients)
            writer = CohortWriter(sites=sites, patients=patients)
            written = 0
            for chunk in demo.generate_chunks(
                patients=patients, seed=seed, chunk_size=chunk_size
            ):
                writer.write(chunk)
                written += len(chunk)
                if written < patients:
                    elapsed = time.perf_counter() - started
                    self.stdout.write(
                        f"  {written:,} of {patients:,} patients ({elapsed:.0f} s)"
                    )
            writer.finish()
            # The cohort was numbered here, not by Patient.save: move each site's
            # counter past the numbers it gave.
            for site in sites:
                Site.objects.filter(pk=site.pk).update(
                    last_registry_number=site.highest_registry_number()
                )
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {patients} synthetic patients at {len(sites)} sites "
                f"in {elapsed:.1f} s (seed {seed})."
            )
        )
        self._ensure_users()

    def _sites(self, patients: int) -> list[Site]:
        sites = []
        for code, name in demo.site_list(patients):
            site, _ = Site.objects.get_or_create(
                code=code, defaults={"name": name, "is_synthetic": True}
            )
            sites.append(site)
        return sites

    def _ensure_users(self) -> None:
        User = get_user_model()
        sites = list(Site.objects.filter(is_synthetic=True).order_by("code"))
        self.stdout.write(
            "Demo logins (synthetic data only; change them for real use):"
        )
        for username, password, group_name, staff, membership in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_staff = staff
                user.save()
            user.groups.add(Group.objects.get(name=group_name))
            for site in sites if membership == "all" else sites[:1]:
                site.members.add(user)
            shown = (
                password if created or user.check_password(password) else "(changed)"
            )
            self.stdout.write(f"  {username:8} {shown:20} {group_name}")


class Table:
    """A table the cohort is written into: its columns, and its rows of a chunk.

    A row is read from one dictionary of column values by attribute name; fields
    the generator leaves out take the model field's default.
    """

    def __init__(self, model, *, key: str | None = "id") -> None:
        self.model = model
        self.name = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self.columns = [field.column for field in self.fields]
        self.defaults = {field.attname: field.get_default() for field in self.fields}
        self.row = operator.itemgetter(*(field.attname for field in self.fields))
        #: The column numbered from the table's sequence (None: given, as facts').
        self.key = key
        self.next_id = 0
        self.rows: list[tuple] = []

    def take_id(self) -> int:
        """Return the next id of this table and count it as used."""
        self.next_id += 1
        return self.next_id - 1


class CohortWriter:
    """Writes the generated cohort a chunk at a time, with its history and facts.

    Ids are numbered here from each table's sequence, reserved when the writer
    is made and moved past the ids used by :meth:`finish`: a patient's id is the
    first patient id plus its place in the registry, so ids follow registry
    numbers whatever the chunks, as they do when the ORM inserts the cohort.
    Every table written is locked against other writers until the transaction
    ends (PostgreSQL), so no other insert takes an id of these ranges.
    """

    def __init__(self, *, sites: list[Site], patients: int) -> None:
        now = timezone.now()
        self.site_ids = [site.pk for site in sites]
        self.patients = Table(Patient)
        self.records = [(Table(model), attribute) for model, attribute in RECORDS]
        self.history = {
            table.model: Table(table.model.history.model, key="history_id")
            for table in [self.patients, *(t for t, _ in self.records)]
        }
        self.facts = Table(DerivedFacts, key=None)
        # What every row of the cohort shares: creation time, first version,
        # and the creation entry of the history.
        self.common = {
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "history_date": now,
            "history_change_reason": REASON,
            "history_type": "+",
            "history_user_id": None,
        }
        self.backend = (
            PostgresTables() if connection.vendor == "postgresql" else (InsertTables())
        )
        self.backend.lock(list(self.tables()))
        for table in self.tables():
            if table.key:
                table.next_id = self.backend.first_id(table)
        # The patients' ids are reserved as one range, numbered by place.
        self.first_patient_id = self.patients.next_id
        self.patients.next_id += patients

    def tables(self) -> Iterator[Table]:
        """Yield every table written, the patients' first (FKs point back)."""
        yield self.patients
        yield from (table for table, _ in self.records)
        yield from self.history.values()
        yield self.facts

    def write(self, chunk: list[demo.DemoPatient]) -> None:
        """Write the patients of one chunk with their records, history and facts."""
        for record in chunk:
            self._add(record)
        for table in self.tables():
            self.backend.write(table, table.rows)
            table.rows = []

    def finish(self) -> None:
        """Move each table's sequence past the ids written."""
        for table in self.tables():
            if table.key:
                self.backend.set_next_id(table)

    def _add(self, record: demo.DemoPatient) -> None:
        patient_id = self.first_patient_id + record.position
        values = {
            **self.patients.defaults,
            **self.common,
            **record.patient,
            "id": patient_id,
            "site_id": self.site_ids[record.site_index],
        }
        self._append(self.patients, values)
        for table, attribute in self.records:
            found = getattr(record, attribute)
            for fields in [found] if isinstance(found, dict) else found or ():
                values = {
                    **table.defaults,
                    **self.common,
                    **fields,
                    "id": table.take_id(),
                    "patient_id": patient_id,
                }
                self._append(table, values)
        facts = derive.stored_facts(record.plain_facts())
        self.facts.rows.append(
            self.facts.row({**facts.as_dict(), "patient_id": patient_id})
        )

    def _append(self, table: Table, values: dict) -> None:
        table.rows.append(table.row(values))
        history = self.history[table.model]
        values["history_id"] = history.take_id()
        history.rows.append(history.row(values))


class PostgresTables:
    """Ids from the tables' sequences; rows written with COPY (psycopg 3)."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self.raw = connection.connection
        self.quote = connection.ops.quote_name

    def lock(self, tables: list[Table]) -> None:
        names = ", ".join(self.quote(table.name) for table in tables)
        # Blocks other inserts (and their nextval) until the transaction ends;
        # reads go on.
        self.raw.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")

    def first_id(self, table: Table) -> int:
        return self.raw.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s))", [table.name, table.key]
        ).fetchone()[0]

    def set_next_id(self, table: Table) -> None:
        self.raw.execute(
            "SELECT setval(pg_get_serial_sequence(%s, %s), %s, false)",
            [table.name, table.key, table.next_id],
        )

    def write(self, table: Table, rows: list[tuple]) -> None:
        if not rows:
            return
        columns = ", ".join(self.quote(column) for column in table.columns)
        statement = f"COPY {self.quote(table.name)} ({columns}) FROM STDIN"
        with self.raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


class InsertTables:
    """Ids after the highest ever used; rows inserted with executemany (SQLite).

    Correct rather than fast: every value goes through its field's
    ``get_db_prep_save``, as the ORM's inserts do.
    """

    def lock(self, tables: list[Table]) -> None:
        """Nothing to lock: SQLite has one writer at a time."""

    def first_id(self, table: Table) -> int:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX({quote(table.key)}) FROM {quote(table.name)}")
            highest = cursor.fetchone()[0] or 0
            if connection.vendor == "sqlite":
                # AUTOINCREMENT never gives an id again, even a deleted one's:
                # the history of a deleted record is found by its id.
                cursor.execute(
                    "SELECT seq FROM sqlite_sequence WHERE name = %s", [table.name]
                )
                used = cursor.fetchone()
                highest = max(highest, used[0] if used else 0)
        return highest + 1

    def set_next_id(self, table: Table) -> None:
        """Nothing to do: inserting an id moves SQLite's sequence past it."""

    def write(self, table: Table, rows: list[tuple]) -> None:
        if not rows:
            return
        quote = connection.ops.quote_name
        columns = ", ".join(quote(column) for column in table.columns)
        marks = ", ".join(["%s"] * len(table.columns))
        fields = table.fields
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})",
                [
                    [
                        field.get_db_prep_save(value, connection)
                        for field, value in zip(fields, row, strict=True)
                    ]
                    for row in rows
                ],
            )
