"""Fill an empty registry with the synthetic demo cohort and demo users.

The cohort is generated and written a chunk of patients at a time
(registry.demo.generate_chunks), so memory stays bounded at any size. Each chunk
is written straight into the tables, bypassing the ORM: on PostgreSQL with COPY
(the indexes that enforce nothing dropped meanwhile and built again at the end),
elsewhere with executemany. Everything the ORM path would write is written here
too: every record's creation in its history table (as simple-history's
``bulk_create_with_history`` writes it) and each patient's stored derived facts,
computed by ``registry.derive.stored_facts`` from the generated records (as
``registry.facts.refresh`` would compute them from the database).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from registry import demo, derive, facts
from registry.copyrows import copy_format, copy_text
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
#: Synthetic patients deleted at a time by --replace.
DELETE_CHUNK = 1000
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


#: The largest registry and chunk seed_demo makes (ten national registries).
MAX_PATIENTS = 10_000_000
MAX_CHUNK_SIZE = 1_000_000


class Command(BaseCommand):
    help = (
        "Create the synthetic demo cohort (74 patients shaped like a published "
        "series of Stage IV rectal cancer with liver metastases, or --patients N of "
        "the same shape) and one demo user per group."
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
        # a mistyped 10^11 would run until the memory ran out
        if not 1 <= patients <= MAX_PATIENTS:
            raise CommandError(
                f"--patients must be from 1 to {MAX_PATIENTS:,} (got {patients})."
            )
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise CommandError(
                f"--chunk-size must be from 1 to {MAX_CHUNK_SIZE:,} (got {chunk_size})."
            )
        # The old cohort is removed in the transaction that writes the new one:
        # a run refused, failing or interrupted (Ctrl-C) leaves the old cohort.
        with transaction.atomic():
            self._seed(
                patients,
                seed,
                if_empty=if_empty,
                replace=replace,
                chunk_size=chunk_size,
            )

    def _seed(self, patients, seed, *, if_empty, replace, chunk_size) -> None:
        if replace:
            real = Patient.objects.exclude(is_synthetic=True).count()
            if real:
                raise CommandError(
                    f"The registry holds {real} patients who are not synthetic: "
                    "--replace swaps the demo cohort of a registry that holds "
                    "no real patients. Nothing was removed."
                )
            removed = self._remove_synthetic()
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
            with CohortWriter(sites=sites, patients=patients) as writer:
                written = 0
                for chunk in demo.generate_chunks(
                    patients=patients, seed=seed, chunk_size=chunk_size
                ):
                    writer.write(chunk)
                    written += len(chunk)
                    if written < patients:
                        elapsed = time.perf_counter() - started
                        self.stdout.write(
                            f"  {written:,} of {patients:,} patients made "
                            f"({elapsed:.0f} s)"
                        )
            # The cohort was numbered here, not by Patient.save: move each site's
            # counter past the numbers it gave.
            for site in sites:
                Site.objects.filter(pk=site.pk).update(
                    last_registry_number=site.highest_registry_number()
                )
            # written around registry.facts.refresh: the sites' summaries
            # (registry.summaries) are counted again
            facts.new_versions(site.pk for site in sites)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {patients} synthetic patients at {len(sites)} sites "
                f"in {elapsed:.1f} s (seed {seed})."
            )
        )
        self._ensure_users()

    def _remove_synthetic(self) -> int:
        """Delete the synthetic patients (with their records and facts) and the
        synthetic sites left without patients; return how many rows of patients,
        records and facts went.

        The ORM deletes them, so each deletion is kept in the history as any is,
        a chunk of patients at a time: it holds every object it deletes in
        memory meanwhile.
        """
        patients = Patient.objects.synthetic().order_by("pk")
        ids = list(patients.values_list("pk", flat=True))
        removed = 0
        with transaction.atomic():
            # each deleted patient's site gets a new version once, at the end
            with facts.deferred():
                for start in range(0, len(ids), DELETE_CHUNK):
                    chunk = ids[start : start + DELETE_CHUNK]
                    count, _ = Patient.objects.filter(pk__in=chunk).delete()
                    removed += count
            Site.objects.filter(is_synthetic=True, patients__isnull=True).delete()
        return removed

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

    A row is read from one dictionary of values by attribute name; fields the
    generator leaves out take their value in `common`, else the model field's
    default. The columns named in `first` come first, in that order: a record's
    table and its history table start with the same columns.
    """

    def __init__(
        self,
        model,
        *,
        common: dict,
        key: str | None = "id",
        first: Sequence[str] = (),
    ) -> None:
        fields = {field.attname: field for field in model._meta.concrete_fields}
        self.model = model
        self.name = model._meta.db_table
        self.fields = [fields[name] for name in first] + [
            field for name, field in fields.items() if name not in first
        ]
        self.columns = [field.column for field in self.fields]
        self.names = [field.attname for field in self.fields]
        self.shared = len(first)
        self.defaults = {name: field.get_default() for name, field in fields.items()}
        # Extra keys are harmless: a record's values serve its history row too.
        self.defaults |= common
        #: This table's columns of the values every row of the cohort shares
        #: (the generator never gives them).
        self.common = {name: value for name, value in common.items() if name in fields}
        #: The column numbered from the table's sequence (None: given, as facts').
        self.key = key
        self.next_id = 0
        self.rows: list = []

    def take_id(self) -> int:
        """Return the next id of this table and count it as used."""
        self.next_id += 1
        return self.next_id - 1


class CohortWriter:
    """Writes the generated cohort a chunk at a time, with its history and facts.

    Ids are numbered here from each table's sequence, reserved when the writer
    starts and moved past the ids used when it ends: a patient's id is the first
    patient id plus its place in the registry, so ids follow registry numbers
    whatever the chunks, as they do when the ORM inserts the cohort. Every table
    written is locked against other writers until the transaction ends
    (PostgreSQL), so no other insert takes an id of these ranges. Use it as a
    context manager, inside the transaction.
    """

    def __init__(self, *, sites: list[Site], patients: int) -> None:
        now = timezone.now()
        # What every row of the cohort shares: creation time, first version,
        # and the creation entry of the history.
        common = {
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "history_date": now,
            "history_change_reason": REASON,
            "history_type": "+",
            "history_user_id": None,
        }
        self.site_ids = [site.pk for site in sites]
        self.patient_count = patients
        self.history: dict = {}
        self.patients = self._with_history(Patient, common)
        self.records = [
            (self._with_history(model, common), attribute)
            for model, attribute in RECORDS
        ]
        self.facts = Table(DerivedFacts, common=common, key=None)
        self.backend = (
            PostgresTables() if connection.vendor == "postgresql" else InsertTables()
        )

    def _with_history(self, model, common: dict) -> Table:
        """Return the model's table, keeping its history table's by its side."""
        history = model.history.model
        tracked = [field.attname for field in history.tracked_fields]
        table = Table(model, common=common, first=tracked)
        self.history[model] = Table(
            history, common=common, key="history_id", first=tracked
        )
        return table

    def __enter__(self) -> CohortWriter:
        self.backend.start(list(self.tables()))
        for table in self.tables():
            if table.key:
                table.next_id = self.backend.first_id(table)
        # The patients' ids are reserved as one range, numbered by place.
        self.first_patient_id = self.patients.next_id
        self.patients.next_id += self.patient_count
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        self.backend.finish(succeeded=error_type is None)
        if error_type is None:
            for table in self.tables():
                if table.key:
                    self.backend.set_next_id(table)

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
        rows = []
        for table in self.tables():
            rows.append((table, table.rows))
            table.rows = []
        self.backend.write(rows)

    def _add(self, record: demo.DemoPatient) -> None:
        patient_id = self.first_patient_id + record.position
        site_id = self.site_ids[record.site_index]
        values = {
            **self.patients.defaults,
            **record.patient,
            "id": patient_id,
            "site_id": site_id,
        }
        self._add_with_history(self.patients, values)
        for table, attribute in self.records:
            found = getattr(record, attribute)
            for fields in [found] if isinstance(found, dict) else found or ():
                values = {
                    **table.defaults,
                    **fields,
                    "id": table.take_id(),
                    "patient_id": patient_id,
                }
                self._add_with_history(table, values)
        facts = derive.stored_facts(record.plain_facts())
        # vars(): the fields as_dict() gives, without its deep copy of each.
        self.backend.add(
            self.facts,
            None,
            vars(facts) | {"patient_id": patient_id, "site_id": site_id},
        )

    def _add_with_history(self, table: Table, values: dict) -> None:
        """Add a record's row and the row of its creation in the history."""
        history = self.history[table.model]
        values["history_id"] = history.take_id()
        self.backend.add(table, history, values)


class PostgresTables:
    """Ids from the tables' sequences; rows written with COPY (psycopg 3).

    Rows are put in COPY's text format as they are added, and a thread of its
    own sends each chunk while the next one is made, so the server's work
    (storing, checking foreign keys) goes on beside the generator's instead of
    after it. At most two chunks are held: the one being sent and the one being
    made.

    The indexes that enforce nothing (neither primary key, nor unique, nor
    backing a constraint) are dropped for the load and built again from their
    definitions at its end, in the same transaction, as PostgreSQL's "Populating
    a Database" advises: one sort per index instead of a million scattered
    insertions into it. A failed load rolls the drops back with the rows. The
    unique indexes stay, checking every row as it comes.
    """

    def __init__(self) -> None:
        connection.ensure_connection()
        self.raw = connection.connection
        self.quote = connection.ops.quote_name
        #: Per table, how its shared and its own columns are written: the
        #: varying ones value by value, the cohort's common ones (creation time,
        #: version, history entry) once, as text to append (see start).
        self.formats: dict[Table, tuple[list, list, list, list]] = {}
        #: Per table, its columns in the order its rows are written.
        self.columns: dict[Table, list[str]] = {}
        self.chunks: queue.Queue = queue.Queue(maxsize=1)
        self.failure: BaseException | None = None
        self.sender = threading.Thread(target=self._send_chunks, daemon=True)
        #: The definitions of the indexes dropped for the load.
        self.dropped: list[str] = []

    def start(self, tables: list[Table]) -> None:
        for table in tables:
            formats, columns = [], []
            for part in (table.fields[: table.shared], table.fields[table.shared :]):
                # the common values last, so they are written once per table,
                # in the same order for a record's table and its history
                varying = [field for field in part if field.attname not in table.common]
                fixed = [field for field in part if field.attname in table.common]
                texts = [copy_text(table.common[field.attname]) for field in fixed]
                formats.append(
                    [(copy_format(field), field.attname) for field in varying]
                )
                formats.append(["\t".join(texts)] if texts else [])
                columns += [field.column for field in varying + fixed]
            self.formats[table] = tuple(formats)
            self.columns[table] = columns
        names = ", ".join(self.quote(table.name) for table in tables)
        # Blocks other inserts (and their nextval) until the transaction ends.
        # Reads go on, except of a table whose indexes are dropped below:
        # DROP INDEX locks its table against reads too.
        self.raw.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
        self.dropped = self._drop_indexes(tables)
        # Foreign keys checked as each COPY ends, while the next chunk is made,
        # rather than all at the commit (millions of checks queued until then).
        self.raw.execute("SET CONSTRAINTS ALL IMMEDIATE")
        self.sender.start()

    def first_id(self, table: Table) -> int:
        return self.raw.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s))", [table.name, table.key]
        ).fetchone()[0]

    def set_next_id(self, table: Table) -> None:
        self.raw.execute(
            "SELECT setval(pg_get_serial_sequence(%s, %s), %s, false)",
            [table.name, table.key, table.next_id],
        )

    def add(self, table: Table, history: Table | None, values: dict) -> None:
        """Add a row to `table`, and to `history` if given (their shared columns
        are written once)."""
        shared_formats, shared_fixed, own_formats, own_fixed = self.formats[table]
        shared = [write(values[name]) for write, name in shared_formats]
        shared += shared_fixed
        own = [write(values[name]) for write, name in own_formats]
        table.rows.append("\t".join(shared + own + own_fixed) + "\n")
        if history is not None:
            _, _, own_formats, own_fixed = self.formats[history]
            own = [write(values[name]) for write, name in own_formats]
            history.rows.append("\t".join(shared + own + own_fixed) + "\n")

    def write(self, rows: list[tuple[Table, list[str]]]) -> None:
        """Hand one chunk's rows to the sender, once it has sent the last."""
        data = [(table, "".join(lines).encode()) for table, lines in rows if lines]
        self.chunks.join()
        self._raise_failure()
        self.chunks.put(data)

    def finish(self, *, succeeded: bool) -> None:
        """Wait for the sender to send every chunk (drop them if not `succeeded`)."""
        if not succeeded:
            self.failure = self.failure or RuntimeError("seeding stopped")
        self.chunks.put(None)
        self.sender.join()
        if succeeded:
            self._raise_failure()
            # Each index built in one sort in memory where it fits (PostgreSQL's
            # default, 64 MB, sorts the largest of 10^6 patients on disk);
            # for this transaction only.
            self.raw.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for definition in self.dropped:
                self.raw.execute(definition)
            self.raw.execute("SET CONSTRAINTS ALL DEFERRED")

    def _drop_indexes(self, tables: list[Table]) -> list[str]:
        """Drop the indexes of `tables` that enforce nothing; return their
        definitions (``CREATE INDEX ...``)."""
        dropped = self.raw.execute(
            """
            SELECT ix.oid::regclass::text, pg_get_indexdef(ix.oid)
            FROM pg_index
            JOIN pg_class ix ON ix.oid = pg_index.indexrelid
            WHERE pg_index.indrelid = ANY(%s::regclass[])
              AND NOT pg_index.indisprimary
              AND NOT pg_index.indisunique
              AND NOT EXISTS (
                SELECT FROM pg_constraint WHERE conindid = pg_index.indexrelid
              )
            ORDER BY pg_index.indrelid, ix.relname
            """,
            [[self.quote(table.name) for table in tables]],
        ).fetchall()
        if dropped:
            self.raw.execute(f"DROP INDEX {', '.join(name for name, _ in dropped)}")
        return [definition for _, definition in dropped]

    def _send_chunks(self) -> None:
        while (data := self.chunks.get()) is not None:
            try:
                if self.failure is None:
                    for table, lines in data:
                        self._copy(table, lines)
            except BaseException as error:  # raised in the generator's thread
                self.failure = error
            finally:
                self.chunks.task_done()

    def _copy(self, table: Table, lines: bytes) -> None:
        columns = ", ".join(map(self.quote, self.columns[table]))
        statement = f"COPY {self.quote(table.name)} ({columns}) FROM STDIN"
        with self.raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(lines)

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise CommandError(f"Writing the cohort failed: {self.failure}") from (
                self.failure
            )


class InsertTables:
    """Ids after the highest ever used; rows inserted with executemany (SQLite).

    Correct rather than fast: every value goes through its field's
    ``get_db_prep_save``, as the ORM's inserts do.
    """

    def start(self, tables: list[Table]) -> None:
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

    def add(self, table: Table, history: Table | None, values: dict) -> None:
        """Add a row to `table`, and to `history` if given."""
        for each in (table, history) if history is not None else (table,):
            each.rows.append([values[name] for name in each.names])

    def write(self, rows: list[tuple[Table, list[tuple]]]) -> None:
        quote = connection.ops.quote_name
        for table, table_rows in rows:
            if not table_rows:
                continue
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
                        for row in table_rows
                    ],
                )

    def finish(self, *, succeeded: bool) -> None:
        """Nothing to wait for: every chunk was written as it came."""
