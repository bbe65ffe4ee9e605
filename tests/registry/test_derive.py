"""The clinical rules of registry.derive, one edge case per test."""

import datetime

from django.test import SimpleTestCase

from registry import derive
from registry.choices import Endpoint, IndexDate, StagedOrder, Strategy, VitalStatus
from registry.derive import ContactFact, CourseFact, OperationFact, PatientFacts

D = datetime.date


def op(date, primary="none", liver="none", palliative="none"):
    return OperationFact(date, primary, liver, palliative)


class ResectionStrategyTests(SimpleTestCase):
    def test_no_operation_is_no_resection(self):
        self.assertEqual(derive.resection_strategy(()).strategy, Strategy.NONE)

    def test_one_operation_on_primary_and_liver_is_synchronous(self):
        result = derive.resection_strategy((op(D(2004, 5, 1), "lar", "major"),))
        self.assertEqual(result.strategy, Strategy.SYNCHRONOUS)
        self.assertIsNone(result.staged_order)

    def test_same_day_primary_and_liver_is_synchronous(self):
        # Two records of one day (colorectal and liver surgeons entering their
        # own parts of one operation) are still one synchronous resection.
        ops = (op(D(2004, 5, 1), primary="apr"), op(D(2004, 5, 1), liver="wedge"))
        self.assertEqual(derive.resection_strategy(ops).strategy, Strategy.SYNCHRONOUS)

    def test_primary_then_liver_is_staged_primary_first(self):
        ops = (op(D(2004, 3, 1), primary="lar"), op(D(2004, 6, 10), liver="major"))
        result = derive.resection_strategy(ops)
        self.assertEqual(result.strategy, Strategy.STAGED)
        self.assertEqual(result.staged_order, StagedOrder.PRIMARY_FIRST)
        self.assertEqual(
            result.describe(),
            "staged, primary first: primary resected 2004-03-01, liver 2004-06-10",
        )

    def test_liver_then_primary_is_staged_liver_first(self):
        ops = (op(D(2004, 6, 10), primary="lar"), op(D(2004, 3, 1), liver="minor"))
        result = derive.resection_strategy(ops)
        self.assertEqual(result.strategy, Strategy.STAGED)
        self.assertEqual(result.staged_order, StagedOrder.LIVER_FIRST)

    def test_operations_out_of_order_are_sorted_by_date(self):
        ops = (op(D(2005, 1, 1), liver="wedge"), op(D(2004, 1, 1), primary="lar"))
        self.assertEqual(
            derive.resection_strategy(ops).staged_order, StagedOrder.PRIMARY_FIRST
        )

    def test_primary_resection_alone_is_primary_only(self):
        ops = (op(D(2004, 3, 1), primary="hartmann"),)
        self.assertEqual(derive.resection_strategy(ops).strategy, Strategy.PRIMARY_ONLY)

    def test_liver_resection_alone_is_liver_only(self):
        ops = (op(D(2004, 3, 1), liver="major"),)
        self.assertEqual(derive.resection_strategy(ops).strategy, Strategy.LIVER_ONLY)

    def test_ablation_alone_is_not_a_liver_resection(self):
        ops = (op(D(2004, 3, 1), primary="lar", liver="ablation"),)
        self.assertEqual(derive.resection_strategy(ops).strategy, Strategy.PRIMARY_ONLY)
        self.assertFalse(derive.liver_resected(ops))

    def test_resection_with_ablation_is_a_liver_resection(self):
        ops = (op(D(2004, 3, 1), liver="resection_ablation"),)
        self.assertTrue(derive.liver_resected(ops))

    def test_portal_vein_embolisation_and_biopsy_are_not_resections(self):
        ops = (op(D(2004, 3, 1), liver="pve"), op(D(2004, 4, 1), liver="biopsy"))
        self.assertEqual(derive.resection_strategy(ops).strategy, Strategy.NONE)

    def test_palliative_stoma_is_not_a_resection(self):
        ops = (op(D(2004, 3, 1), palliative="stoma"),)
        self.assertEqual(derive.resection_strategy(ops).strategy, Strategy.NONE)

    def test_local_excision_resects_the_primary(self):
        ops = (op(D(2004, 3, 1), primary="local"),)
        self.assertEqual(derive.resection_strategy(ops).strategy, Strategy.PRIMARY_ONLY)

    def test_repeat_hepatectomy_after_synchronous_keeps_synchronous(self):
        ops = (
            op(D(2004, 3, 1), primary="lar", liver="minor"),
            op(D(2006, 1, 1), liver="major"),
        )
        self.assertEqual(derive.resection_strategy(ops).strategy, Strategy.SYNCHRONOUS)

    def test_synchronous_after_an_earlier_liver_resection_is_staged(self):
        # The first liver resection came before the primary was removed.
        ops = (op(D(2004, 1, 1), liver="wedge"), op(D(2004, 5, 1), "lar", "minor"))
        result = derive.resection_strategy(ops)
        self.assertEqual(result.strategy, Strategy.STAGED)
        self.assertEqual(result.staged_order, StagedOrder.LIVER_FIRST)

    def test_every_strategy_is_described_in_words(self):
        cases = [
            ((), "no resection"),
            ((op(D(2004, 1, 1), "lar", "minor"),), "synchronous: primary and liver"),
            ((op(D(2004, 1, 1), primary="lar"),), "primary only: primary resected"),
            ((op(D(2004, 1, 1), liver="minor"),), "liver only: liver resected"),
        ]
        for ops, start in cases:
            with self.subTest(start=start):
                self.assertTrue(
                    derive.resection_strategy(ops).describe().startswith(start)
                )


class ConversionTests(SimpleTestCase):
    def facts(self, call, *, chemo_start, liver_date):
        return PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            initial_resectability=call,
            systemic=(CourseFact(chemo_start, None),) if chemo_start else (),
            operations=(op(liver_date, liver="major"),) if liver_date else (),
        )

    def test_unresectable_then_resected_after_chemotherapy_is_converted(self):
        facts = self.facts(
            "unresectable", chemo_start=D(2004, 2, 1), liver_date=D(2004, 8, 1)
        )
        self.assertTrue(derive.converted(facts))

    def test_potentially_resectable_then_resected_is_converted(self):
        facts = self.facts(
            "potentially", chemo_start=D(2004, 2, 1), liver_date=D(2004, 8, 1)
        )
        self.assertTrue(derive.converted(facts))

    def test_initially_resectable_is_never_converted(self):
        facts = self.facts(
            "resectable", chemo_start=D(2004, 2, 1), liver_date=D(2004, 8, 1)
        )
        self.assertFalse(derive.converted(facts))

    def test_resection_without_prior_chemotherapy_is_not_conversion(self):
        facts = self.facts("unresectable", chemo_start=None, liver_date=D(2004, 8, 1))
        self.assertFalse(derive.converted(facts))

    def test_chemotherapy_starting_on_the_day_of_resection_is_not_conversion(self):
        facts = self.facts(
            "unresectable", chemo_start=D(2004, 8, 1), liver_date=D(2004, 8, 1)
        )
        self.assertFalse(derive.converted(facts))

    def test_unresectable_never_resected_is_not_converted(self):
        facts = self.facts("unresectable", chemo_start=D(2004, 2, 1), liver_date=None)
        self.assertFalse(derive.converted(facts))

    def test_missing_initial_call_is_not_converted(self):
        facts = self.facts(None, chemo_start=D(2004, 2, 1), liver_date=D(2004, 8, 1))
        self.assertFalse(derive.converted(facts))


class LaterPalliativeSurgeryTests(SimpleTestCase):
    def test_stoma_after_chemotherapy_started_is_later_palliative_surgery(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            systemic=(CourseFact(D(2004, 2, 1)),),
            operations=(op(D(2004, 9, 1), palliative="stoma"),),
        )
        self.assertTrue(derive.later_palliative_surgery(facts))

    def test_stoma_at_presentation_before_treatment_is_not_later(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            radiation=(CourseFact(D(2004, 2, 1)),),
            operations=(op(D(2004, 1, 15), palliative="stoma"),),
        )
        self.assertFalse(derive.later_palliative_surgery(facts))

    def test_stoma_on_the_day_treatment_starts_is_not_later(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            radiation=(CourseFact(D(2004, 2, 1)),),
            operations=(op(D(2004, 2, 1), palliative="stent"),),
        )
        self.assertFalse(derive.later_palliative_surgery(facts))

    def test_without_treatment_later_means_after_diagnosis(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            operations=(op(D(2004, 3, 1), palliative="bypass"),),
        )
        self.assertTrue(derive.later_palliative_surgery(facts))

    def test_without_diagnosis_or_treatment_nothing_is_later(self):
        facts = PatientFacts(
            diagnosis_date=None, operations=(op(D(2004, 3, 1), palliative="bypass"),)
        )
        self.assertFalse(derive.later_palliative_surgery(facts))

    def test_curative_resection_is_not_palliative_surgery(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1), operations=(op(D(2004, 9, 1), primary="lar"),)
        )
        self.assertFalse(derive.later_palliative_surgery(facts))


class LastContactTests(SimpleTestCase):
    def test_last_contact_is_the_latest_dated_fact(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            radiation=(CourseFact(D(2004, 2, 1), D(2004, 3, 10)),),
            systemic=(CourseFact(D(2004, 4, 1), D(2008, 1, 1)),),
            operations=(op(D(2004, 9, 1), primary="lar"),),
            contacts=(ContactFact(D(2007, 5, 1)),),
        )
        self.assertEqual(derive.last_known_contact(facts), D(2008, 1, 1))

    def test_ongoing_course_counts_from_its_start(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1), systemic=(CourseFact(D(2004, 4, 1), None),)
        )
        self.assertEqual(derive.last_known_contact(facts), D(2004, 4, 1))

    def test_death_is_the_last_contact(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            contacts=(ContactFact(D(2005, 1, 1)),),
            death_date=D(2005, 3, 1),
        )
        self.assertEqual(derive.last_known_contact(facts), D(2005, 3, 1))
        self.assertEqual(derive.vital_status(facts), VitalStatus.DEAD)

    def test_patient_with_no_dates_has_no_last_contact(self):
        self.assertIsNone(derive.last_known_contact(PatientFacts(diagnosis_date=None)))


class SurvivalTests(SimpleTestCase):
    facts = PatientFacts(
        diagnosis_date=D(2004, 1, 1),
        radiation=(CourseFact(D(2004, 1, 20), D(2004, 3, 1)),),
        systemic=(CourseFact(D(2004, 3, 20), D(2004, 7, 1)),),
        operations=(op(D(2004, 8, 1), "lar", "minor"),),
        contacts=(
            ContactFact(D(2005, 2, 1), "ned"),
            ContactFact(D(2006, 2, 1), "hepatic"),
            ContactFact(D(2006, 9, 1), "progression"),
        ),
        death_date=D(2007, 1, 1),
    )

    def test_death_before_cutoff_is_an_event_at_the_death_date(self):
        result = derive.survival(self.facts, as_of=D(2010, 1, 1))
        self.assertEqual((result.end, result.event), (D(2007, 1, 1), True))
        self.assertEqual(result.days, (D(2007, 1, 1) - D(2004, 1, 1)).days)
        self.assertAlmostEqual(result.months, 1096 / 30.4375)

    def test_death_after_cutoff_is_censored_at_cutoff(self):
        result = derive.survival(self.facts, as_of=D(2006, 12, 1))
        self.assertEqual((result.end, result.event), (D(2006, 12, 1), False))

    def test_alive_patient_is_censored_at_last_contact(self):
        alive = PatientFacts(
            diagnosis_date=D(2004, 1, 1), contacts=(ContactFact(D(2005, 6, 1)),)
        )
        result = derive.survival(alive, as_of=D(2010, 1, 1))
        self.assertEqual((result.end, result.event), (D(2005, 6, 1), False))

    def test_contact_after_cutoff_censors_at_cutoff(self):
        alive = PatientFacts(
            diagnosis_date=D(2004, 1, 1), contacts=(ContactFact(D(2012, 6, 1)),)
        )
        self.assertEqual(derive.survival(alive, as_of=D(2010, 1, 1)).end, D(2010, 1, 1))

    def test_death_on_the_cutoff_day_is_an_event(self):
        result = derive.survival(self.facts, as_of=D(2007, 1, 1))
        self.assertTrue(result.event)

    def test_recurrence_free_survival_ends_at_first_recurrence(self):
        result = derive.survival(
            self.facts, endpoint=Endpoint.RECURRENCE_FREE, as_of=D(2010, 1, 1)
        )
        self.assertEqual((result.end, result.event), (D(2006, 2, 1), True))

    def test_recurrence_free_survival_without_recurrence_ends_at_death(self):
        facts = PatientFacts(diagnosis_date=D(2004, 1, 1), death_date=D(2005, 1, 1))
        result = derive.survival(
            facts, endpoint=Endpoint.RECURRENCE_FREE, as_of=D(2010, 1, 1)
        )
        self.assertEqual((result.end, result.event), (D(2005, 1, 1), True))

    def test_recurrence_before_the_index_date_is_not_counted(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            operations=(op(D(2004, 8, 1), primary="lar"),),
            contacts=(
                ContactFact(D(2004, 6, 1), "progression"),
                ContactFact(D(2005, 6, 1)),
            ),
        )
        result = derive.survival(
            facts,
            endpoint=Endpoint.RECURRENCE_FREE,
            index=IndexDate.OPERATION,
            as_of=D(2010, 1, 1),
        )
        self.assertEqual(
            (result.start, result.end, result.event),
            (D(2004, 8, 1), D(2005, 6, 1), False),
        )

    def test_index_at_first_treatment_starts_at_the_earliest_course(self):
        result = derive.survival(
            self.facts, index=IndexDate.TREATMENT, as_of=D(2010, 1, 1)
        )
        self.assertEqual(result.start, D(2004, 1, 20))

    def test_index_at_first_operation(self):
        result = derive.survival(
            self.facts, index=IndexDate.OPERATION, as_of=D(2010, 1, 1)
        )
        self.assertEqual(result.start, D(2004, 8, 1))

    def test_patient_never_operated_has_no_survival_from_operation(self):
        facts = PatientFacts(diagnosis_date=D(2004, 1, 1))
        self.assertIsNone(
            derive.survival(facts, index=IndexDate.OPERATION, as_of=D(2010, 1, 1))
        )

    def test_patient_diagnosed_after_cutoff_is_not_at_risk(self):
        self.assertIsNone(derive.survival(self.facts, as_of=D(2003, 1, 1)))

    def test_missing_diagnosis_date_has_no_survival(self):
        self.assertIsNone(
            derive.survival(PatientFacts(diagnosis_date=None), as_of=D(2010, 1, 1))
        )

    def test_patient_with_only_a_diagnosis_has_zero_follow_up(self):
        result = derive.survival(
            PatientFacts(diagnosis_date=D(2004, 1, 1)), as_of=D(2010, 1, 1)
        )
        self.assertEqual((result.days, result.event), (0, False))
