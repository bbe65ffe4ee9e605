"""The clinical rules of registry.derive, one edge case per test."""

import dataclasses
import datetime
from decimal import Decimal

from django.test import SimpleTestCase

from registry import derive
from registry.choices import (
    CauseOfDeath,
    Endpoint,
    IndexDate,
    StagedOrder,
    Strategy,
    VitalStatus,
)
from registry.derive import ContactFact, CourseFact, OperationFact, PatientFacts

D = datetime.date


def op(date, primary="none", liver="none", palliative="none", margin=""):
    return OperationFact(date, primary, liver, palliative, margin)


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


# --- Data-quality flags: each rule as docs/data-entry.md states it ("The data
# quality page" table) and registry.derive implements it.


def complete(**changes) -> PatientFacts:
    """Return a patient with every key field filled and nothing to flag."""
    facts = PatientFacts(
        diagnosis_date=D(2004, 1, 10),
        initial_resectability="resectable",
        systemic=(CourseFact(D(2004, 2, 1), D(2004, 6, 1)),),
        operations=(op(D(2004, 7, 15), "lar", "minor", margin="R0"),),
        contacts=(ContactFact(D(2005, 1, 10)), ContactFact(D(2005, 9, 10))),
        ecog=0,
        primary_site="rectum_mid",
        anal_verge_cm=Decimal("6.0"),
        cea_ng_ml=Decimal("5.0"),
    )
    return dataclasses.replace(facts, **changes)


class CancerSpecificSurvivalTests(SimpleTestCase):
    """Cancer-specific survival: death from colorectal cancer is the event; any
    other death censors at the date of death and is the competing event."""

    def died(self, cause, *, contacts=()):
        return PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            contacts=contacts,
            death_date=D(2006, 1, 1),
            death_cause=cause,
        )

    def css(self, facts, as_of=None):
        as_of = as_of or D(2010, 1, 1)
        return derive.survival(facts, endpoint=Endpoint.CANCER_SPECIFIC, as_of=as_of)

    def test_death_from_colorectal_cancer_is_the_event(self):
        result = self.css(self.died(CauseOfDeath.COLORECTAL))
        self.assertEqual(
            (result.end, result.event, result.competing), (D(2006, 1, 1), True, False)
        )
        self.assertEqual(
            derive.cancer_death(self.died(CauseOfDeath.COLORECTAL)), D(2006, 1, 1)
        )

    def test_every_other_cause_is_censored_at_death_and_competing(self):
        for cause in set(CauseOfDeath.values) - {CauseOfDeath.COLORECTAL}:
            with self.subTest(cause):
                result = self.css(self.died(cause))
                self.assertEqual(
                    (result.end, result.event, result.competing),
                    (D(2006, 1, 1), False, True),
                )
                self.assertIsNone(derive.cancer_death(self.died(cause)))

    def test_overall_survival_counts_every_death(self):
        result = derive.survival(self.died(CauseOfDeath.OTHER), as_of=D(2010, 1, 1))
        self.assertEqual((result.event, result.competing), (True, False))

    def test_death_after_the_cutoff_is_neither(self):
        result = self.css(self.died(CauseOfDeath.OTHER), as_of=D(2005, 6, 1))
        self.assertEqual(
            (result.end, result.event, result.competing), (D(2005, 6, 1), False, False)
        )

    def test_alive_patient_is_censored_at_last_contact(self):
        alive = PatientFacts(
            diagnosis_date=D(2004, 1, 1), contacts=(ContactFact(D(2005, 6, 1)),)
        )
        result = self.css(alive)
        self.assertEqual(
            (result.end, result.event, result.competing), (D(2005, 6, 1), False, False)
        )

    def test_stored_facts_keep_the_cancer_death_date_only(self):
        self.assertEqual(
            derive.stored_facts(self.died(CauseOfDeath.COLORECTAL)).cancer_death_date,
            D(2006, 1, 1),
        )
        self.assertIsNone(
            derive.stored_facts(self.died(CauseOfDeath.UNKNOWN)).cancer_death_date
        )


class RecurrenceCompetingTests(SimpleTestCase):
    """A death without recurrence ends recurrence-free survival as a competing
    event to recurrence; a recurrence on or before the death does not."""

    def rfs(self, facts):
        return derive.survival(
            facts, endpoint=Endpoint.RECURRENCE_FREE, as_of=D(2010, 1, 1)
        )

    def test_death_without_recurrence_is_competing(self):
        facts = PatientFacts(diagnosis_date=D(2004, 1, 1), death_date=D(2005, 1, 1))
        result = self.rfs(facts)
        self.assertEqual((result.event, result.competing), (True, True))

    def test_recurrence_first_is_not_competing(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            contacts=(ContactFact(D(2004, 6, 1), "hepatic"),),
            death_date=D(2005, 1, 1),
        )
        result = self.rfs(facts)
        self.assertEqual(
            (result.end, result.event, result.competing), (D(2004, 6, 1), True, False)
        )

    def test_recurrence_on_the_day_of_death_counts_as_recurrence(self):
        facts = PatientFacts(
            diagnosis_date=D(2004, 1, 1),
            contacts=(ContactFact(D(2005, 1, 1), "progression"),),
            death_date=D(2005, 1, 1),
        )
        self.assertFalse(self.rfs(facts).competing)


class MissingKeyFieldFlagTests(SimpleTestCase):
    def test_a_complete_patient_has_no_missing_key_field(self):
        facts = complete()
        for flag in (
            derive.no_diagnosis,
            derive.no_liver,
            derive.no_ecog,
            derive.no_cea,
            derive.no_verge,
            derive.no_margin,
        ):
            with self.subTest(flag=flag.__name__):
                self.assertFalse(flag(facts))

    def test_no_primary_tumour_record_is_no_diagnosis(self):
        self.assertTrue(derive.no_diagnosis(complete(diagnosis_date=None)))

    def test_no_liver_record_is_no_liver_assessment(self):
        self.assertTrue(derive.no_liver(complete(initial_resectability=None)))

    def test_blank_ecog_is_flagged_but_ecog_zero_is_recorded(self):
        self.assertTrue(derive.no_ecog(complete(ecog=None)))
        self.assertFalse(derive.no_ecog(complete(ecog=0)))

    def test_diagnosis_without_cea_is_flagged_but_cea_zero_is_recorded(self):
        self.assertTrue(derive.no_cea(complete(cea_ng_ml=None)))
        self.assertFalse(derive.no_cea(complete(cea_ng_ml=Decimal("0.0"))))

    def test_cea_is_not_asked_before_the_diagnosis_is_recorded(self):
        facts = complete(diagnosis_date=None, cea_ng_ml=None)
        self.assertFalse(derive.no_cea(facts))

    def test_every_rectal_tumour_without_its_distance_from_the_verge_is_flagged(self):
        for site in ("rectum_low", "rectum_mid", "rectum_high"):
            with self.subTest(site=site):
                facts = complete(primary_site=site, anal_verge_cm=None)
                self.assertTrue(derive.no_verge(facts))

    def test_distance_from_the_verge_is_not_asked_of_a_colon_tumour(self):
        for site in ("rectosigmoid", "sigmoid", "caecum"):
            with self.subTest(site=site):
                facts = complete(primary_site=site, anal_verge_cm=None)
                self.assertFalse(derive.no_verge(facts))

    def test_distance_of_zero_from_the_verge_is_recorded(self):
        self.assertFalse(derive.no_verge(complete(anal_verge_cm=Decimal("0.0"))))

    def test_distance_from_the_verge_is_not_asked_without_a_diagnosis(self):
        facts = complete(diagnosis_date=None, anal_verge_cm=None)
        self.assertFalse(derive.no_verge(facts))

    def test_resection_of_the_primary_or_liver_without_margin_is_flagged(self):
        for operation in (
            op(D(2004, 7, 15), primary="lar"),
            op(D(2004, 7, 15), liver="wedge"),
        ):
            with self.subTest(operation=operation):
                facts = complete(operations=(operation,))
                self.assertTrue(derive.no_margin(facts))

    def test_one_resection_without_margin_among_several_is_flagged(self):
        operations = (
            op(D(2004, 7, 15), primary="lar", margin="R0"),
            op(D(2004, 10, 1), liver="major"),
        )
        self.assertTrue(derive.no_margin(complete(operations=operations)))

    def test_operations_that_resect_nothing_need_no_margin(self):
        # a stent, ablation alone and a biopsy are not resections (README)
        operations = (
            op(D(2004, 7, 15), palliative="stent"),
            op(D(2004, 8, 1), liver="ablation"),
            op(D(2004, 9, 1), liver="biopsy"),
        )
        self.assertFalse(derive.no_margin(complete(operations=operations)))

    def test_a_margin_stands_with_its_procedures(self):
        # derive.margin_problem, the one rule Operation.clean and the import read
        cases = {
            ("R0", "lar"): None,
            ("unk", "lar"): None,
            ("na", "none"): None,
            ("na", "lar"): "has a margin",
            ("R1", "none"): "needs a resection",
        }
        for (margin, primary), says in cases.items():
            with self.subTest(margin=margin, primary=primary):
                problem = derive.margin_problem(
                    OperationFact(D(2004, 7, 15), primary, margin=margin)
                )
                if says is None:
                    self.assertIsNone(problem)
                else:
                    self.assertIn(says, problem)

    def test_a_resection_has_its_margin_only_as_r0_r1_or_r2(self):
        for margin in ("R0", "R1", "R2"):
            with self.subTest(margin=margin):
                operations = (op(D(2004, 7, 15), primary="lar", margin=margin),)
                self.assertFalse(derive.no_margin(complete(operations=operations)))
        # "Not applicable (no resection)" says there was none: for a resection
        # it is no margin (an audit found such resections never listed)
        operations = (op(D(2004, 7, 15), primary="lar", margin="na"),)
        self.assertTrue(derive.no_margin(complete(operations=operations)))


class LateOperationTests(SimpleTestCase):
    """More than UNTREATED_INTERVAL (365 days) after diagnosis, no therapy between."""

    def facts(self, operation_date, *, radiation=(), systemic=()):
        return complete(
            operations=(op(operation_date, primary="lar", margin="R0"),),
            radiation=radiation,
            systemic=systemic,
        )

    def test_operation_366_days_after_diagnosis_without_therapy_is_flagged(self):
        self.assertEqual(derive.UNTREATED_INTERVAL, datetime.timedelta(days=365))
        self.assertTrue(derive.late_operation(self.facts(D(2005, 1, 10))))

    def test_operation_365_days_after_diagnosis_is_not_flagged(self):
        self.assertFalse(derive.late_operation(self.facts(D(2005, 1, 9))))

    def test_therapy_started_between_diagnosis_and_operation_is_not_flagged(self):
        systemic = (CourseFact(D(2004, 6, 1), D(2004, 12, 1)),)
        facts = self.facts(D(2005, 6, 1), systemic=systemic)
        self.assertFalse(derive.late_operation(facts))

    def test_therapy_started_on_the_day_of_diagnosis_or_operation_counts(self):
        for start in (D(2004, 1, 10), D(2005, 6, 1)):
            with self.subTest(start=start):
                radiation = (CourseFact(start, None),)
                facts = self.facts(D(2005, 6, 1), radiation=radiation)
                self.assertFalse(derive.late_operation(facts))

    def test_therapy_before_diagnosis_or_after_the_operation_does_not_count(self):
        for start in (D(2003, 12, 1), D(2005, 6, 2)):
            with self.subTest(start=start):
                radiation = (CourseFact(start, start + datetime.timedelta(days=30)),)
                facts = self.facts(D(2005, 6, 1), radiation=radiation)
                self.assertTrue(derive.late_operation(facts))

    def test_without_a_diagnosis_no_operation_is_late(self):
        facts = dataclasses.replace(self.facts(D(2009, 1, 1)), diagnosis_date=None)
        self.assertFalse(derive.late_operation(facts))


class FollowUpGapTests(SimpleTestCase):
    """Two consecutive contacts more than FOLLOW_UP_GAP (365 days) apart."""

    def facts(self, *days):
        return complete(contacts=tuple(ContactFact(day) for day in days))

    def test_contacts_366_days_apart_are_a_gap(self):
        self.assertEqual(derive.FOLLOW_UP_GAP, datetime.timedelta(days=365))
        self.assertTrue(derive.follow_up_gap(self.facts(D(2005, 1, 1), D(2006, 1, 2))))

    def test_contacts_365_days_apart_are_not_a_gap(self):
        self.assertFalse(derive.follow_up_gap(self.facts(D(2005, 1, 1), D(2006, 1, 1))))

    def test_only_consecutive_contacts_are_compared(self):
        days = (D(2005, 1, 1), D(2005, 10, 1), D(2006, 6, 1))
        self.assertFalse(derive.follow_up_gap(self.facts(*days)))

    def test_contacts_entered_out_of_order_are_compared_in_date_order(self):
        days = (D(2006, 6, 1), D(2005, 1, 1), D(2005, 10, 1))
        self.assertFalse(derive.follow_up_gap(self.facts(*days)))

    def test_contacts_of_the_same_day_count_as_one(self):
        days = (D(2005, 1, 1), D(2005, 1, 1), D(2006, 6, 1))
        self.assertTrue(derive.follow_up_gap(self.facts(*days)))

    def test_one_contact_or_none_has_no_gap(self):
        self.assertFalse(derive.follow_up_gap(self.facts(D(2005, 1, 1))))
        self.assertFalse(derive.follow_up_gap(self.facts()))


class NoFollowUpTests(SimpleTestCase):
    def test_living_patient_without_any_contact_is_flagged(self):
        self.assertTrue(derive.no_follow_up(complete(contacts=())))

    def test_a_recorded_death_closes_follow_up(self):
        facts = complete(contacts=(), death_date=D(2005, 1, 1))
        self.assertFalse(derive.no_follow_up(facts))

    def test_living_patient_with_a_contact_is_not_flagged(self):
        facts = complete(contacts=(ContactFact(D(2005, 1, 1)),))
        self.assertFalse(derive.no_follow_up(facts))


class KeyFieldsTests(SimpleTestCase):
    """Completeness: six key fields, one point each (docs/data-entry.md)."""

    def test_a_complete_patient_fills_all_six(self):
        self.assertEqual(len(derive.KEY_FIELDS), 6)
        self.assertEqual(derive.key_fields_filled(complete()), 6)

    def test_a_patient_alone_fills_only_the_margins_that_do_not_apply(self):
        facts = PatientFacts(diagnosis_date=None)
        self.assertEqual(
            derive.key_fields(facts),
            {label: label == "resection margins" for label in derive.KEY_FIELDS},
        )

    def test_fields_that_do_not_apply_count_as_filled(self):
        facts = complete(primary_site="sigmoid", anal_verge_cm=None, operations=())
        self.assertEqual(derive.key_fields_filled(facts), 6)

    def test_each_missing_field_costs_one_point(self):
        for change, label in (
            ({"initial_resectability": None}, "liver metastases"),
            ({"ecog": None}, "ECOG"),
            ({"cea_ng_ml": None}, "CEA at diagnosis"),
            ({"anal_verge_cm": None}, "distance from the anal verge (rectal tumours)"),
            ({"operations": (op(D(2004, 7, 15), "lar"),)}, "resection margins"),
        ):
            with self.subTest(label=label):
                filled = derive.key_fields(complete(**change))
                self.assertEqual([k for k, v in filled.items() if not v], [label])

    def test_a_missing_diagnosis_leaves_its_cea_and_distance_unfilled(self):
        filled = derive.key_fields(complete(diagnosis_date=None))
        self.assertEqual(
            [k for k, v in filled.items() if not v],
            [
                "diagnosis",
                "CEA at diagnosis",
                "distance from the anal verge (rectal tumours)",
            ],
        )


class StoredFlagsTests(SimpleTestCase):
    def test_stored_facts_hold_every_flag_and_the_completeness(self):
        facts = complete(ecog=None, contacts=())
        stored = derive.stored_facts(facts)
        flags = {
            name: getattr(stored, name)
            for name in (
                "no_diagnosis",
                "no_liver",
                "no_ecog",
                "no_cea",
                "no_verge",
                "no_margin",
                "late_operation",
                "follow_up_gap",
                "no_follow_up",
            )
        }
        self.assertEqual(
            {name for name, flagged in flags.items() if flagged},
            {"no_ecog", "no_follow_up"},
        )
        self.assertEqual(stored.key_fields_filled, 5)
