"""History rows cannot be changed or deleted: the database refuses (both vendors).

Run on SQLite by default and on PostgreSQL with DATABASE_URL; the triggers are
created by the migration r11_status_triggers (registry.appendonly).
"""

from __future__ import annotations

from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.test import TestCase
from django.utils import timezone

from registry import appendonly, status
from registry.models import DataQuery, Operation, Patient, QueryStep
from tests.factories import make_death, make_full_patient, make_user


class HistoryAppendOnlyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.patient = make_full_patient()
        cls.patient.ecog = 1
        cls.patient.save()
        make_death(cls.patient)
        user = make_user("mark", group="Data manager")
        cls.patient.site.members.add(user)  # a row of the site's members history
        status.set_status(patient=cls.patient, kind="death", to=1, user=user)
        query = DataQuery.objects.create(
            patient=cls.patient,
            kind="patient",
            record_id=cls.patient.pk,
            field="ecog",
            question="ECOG 1?",
            opened_by=user,
            opened_at=timezone.now(),
            updated_at=timezone.now(),
        )
        QueryStep.objects.create(
            query=query, action="opened", text="ECOG 1?", by=user, at=timezone.now()
        )

    def assertRefused(self, sql: str):
        with self.assertRaisesRegex(DatabaseError, appendonly.MESSAGE):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)

    def test_update_and_delete_of_every_history_table_are_refused_by_sql(self):
        models = {model._meta.db_table: model for model in apps.get_models()}
        for table in appendonly.TABLES:
            with self.subTest(table=table):
                model = models[table]
                self.assertTrue(model._default_manager.exists(), "no row to try")
                column = model._meta.pk.column
                self.assertRefused(f"UPDATE {table} SET {column} = {column}")
                self.assertRefused(f"DELETE FROM {table}")

    def test_the_orm_is_refused_too_and_the_rows_stay(self):
        rows = Patient.history.filter(id=self.patient.pk)
        before = list(rows.values_list("history_id", "ecog"))
        with self.assertRaises(DatabaseError), transaction.atomic():
            rows.update(ecog=4)
        with self.assertRaises(DatabaseError), transaction.atomic():
            Operation.history.all().delete()
        with self.assertRaises(DatabaseError), transaction.atomic():
            QueryStep.objects.update(text="rewritten")
        self.assertEqual(list(rows.values_list("history_id", "ecog")), before)
        self.assertEqual(QueryStep.objects.get().text, "ECOG 1?")

    def test_new_history_rows_are_still_written(self):
        count = Patient.history.count()
        self.patient.ecog = 2
        self.patient.save()
        self.assertEqual(Patient.history.count(), count + 1)
