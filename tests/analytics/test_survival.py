"""Tests for analytics.survival against R's survival package and hand calculation.

Expected numbers come from tests/fixtures/r/reference_output.csv, written by
tests/fixtures/r/reference.R (R 4.2.2, survival 3.5-3) from the data files in
tests/fixtures/r/data/ (R's lung, veteran, ovarian, aml, and a hand-made edge
set). Each test names the fixture case and the R call that produced it; R's own
printout of the same calls is in tests/fixtures/r/reference_printed.txt. R is not
needed to run the tests. Regenerate with ``Rscript tests/fixtures/r/reference.R``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from analytics.survival import (
    ALL,
    SMALL_GROUP_SIZE,
    KaplanMeier,
    adjust_p,
    cox,
    kaplan_meier,
    landmark,
    logrank,
    median_followup,
    pairwise_logrank,
)
from tests.analytics.r_reference import REL, r_case, r_data


def approx(expected) -> object:
    """pytest.approx at the agreement asked of R comparisons; NaN equals NaN."""
    return pytest.approx(expected, rel=REL, abs=1e-12, nan_ok=True)


def as_float(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


# fixture name -> (data set, duration, event, group), as reference.R fits them
KM_CASES = {
    "lung_sex": ("lung", "time", "dead", "sex"),
    "lung_all": ("lung", "time", "dead", None),
    "veteran_celltype": ("veteran", "time", "status", "celltype"),
    "ovarian_rx": ("ovarian", "futime", "fustat", "rx"),
    "aml_x": ("aml", "time", "status", "x"),
    "edge_grp": ("edge", "time", "status", "grp"),
    # log-log only in reference.R
    "lung_ecog": ("lung", "time", "dead", "ph.ecog"),
    "veteran_trt": ("veteran", "time", "status", "trt"),
}
EVERY_CONF_TYPE = [
    "lung_sex",
    "lung_all",
    "veteran_celltype",
    "ovarian_rx",
    "aml_x",
    "edge_grp",
]
# the times of summary(fit, times = ...) in reference.R
LANDMARK_TIMES = {
    "lung_sex": [0, 5, 100, 180, 365, 500, 730, 1000, 1022, 1100],
    "lung_all": [0, 5, 100, 180, 365, 500, 730, 1000, 1022, 1100],
    "veteran_celltype": [30, 90, 180, 365, 999, 1000],
    "ovarian_rx": [365, 730, 1000, 1227, 1300],
    "aml_x": [12, 13, 24, 48, 100, 161, 200],
    "edge_grp": [0, 1, 2, 2.5, 3, 10, 15, 20],
    "lung_ecog": [0, 5, 100, 180, 365, 500, 730, 1000, 1022, 1100],
    "veteran_trt": [30, 90, 180, 365],
}
CONF_TYPES = ["log", "log-log", "plain"]
KM_RUNS = [(name, ct) for name in EVERY_CONF_TYPE for ct in CONF_TYPES] + [
    ("lung_ecog", "log-log"),  # ph.ecog 3 is a group of one patient
    ("veteran_trt", "log-log"),
]


def fit(name: str, conf_type: str, **kwargs) -> dict[str, KaplanMeier]:
    data, duration, event, group = KM_CASES[name]
    return kaplan_meier(
        r_data(data),
        duration=duration,
        event=event,
        group=group,
        conf_type=conf_type,
        **kwargs,
    )


class TestKaplanMeierAgainstR:
    """Case km_<data>_<group>_<conf.type>: survfit(Surv(time, status) ~ group,
    conf.type = ...), its print() table, summary(fit, times = ...) and
    summary(fit, times = ticks, extend = TRUE)$n.risk, in reference.R's km_case."""

    @pytest.mark.parametrize(("name", "conf_type"), KM_RUNS)
    def test_every_row_of_the_curve_matches_r_survfit(self, name, conf_type):
        r = r_case(f"km_{name}_{conf_type}")
        curves = fit(name, conf_type)
        assert list(curves) == r["groups"]
        for label, km in curves.items():
            assert km.time == approx(r[f"{label}|time"])
            assert km.n_risk.tolist() == r[f"{label}|n.risk"].tolist()
            assert km.n_event.tolist() == r[f"{label}|n.event"].tolist()
            assert km.n_censor.tolist() == r[f"{label}|n.censor"].tolist()
            assert km.survival == approx(r[f"{label}|surv"])
            assert km.std_err == approx(r[f"{label}|std.err"])
            assert km.lower == approx(r[f"{label}|lower"])
            assert km.upper == approx(r[f"{label}|upper"])
            assert km.n == r[f"{label}|n"][0]
            assert km.events == r[f"{label}|events"][0]

    @pytest.mark.parametrize(("name", "conf_type"), KM_RUNS)
    def test_median_and_its_ci_match_r_print_survfit(self, name, conf_type):
        r = r_case(f"km_{name}_{conf_type}")
        for label, km in fit(name, conf_type).items():
            median = km.median()
            expected = [r[f"{label}|{f}"][0] for f in ("median", "median.lower")]
            expected.append(r[f"{label}|median.upper"][0])
            assert as_float([median.estimate, median.lower, median.upper]) == approx(
                expected
            )

    @pytest.mark.parametrize(("name", "conf_type"), KM_RUNS)
    def test_survival_at_landmark_times_matches_r_summary_times(self, name, conf_type):
        r = r_case(f"km_{name}_{conf_type}")
        for label, km in fit(name, conf_type).items():
            shown = [x for x in km.at(LANDMARK_TIMES[name]) if x.estimable]
            assert [x.time for x in shown] == approx(r[f"{label}|at.time"])
            assert as_float(x.survival for x in shown) == approx(r[f"{label}|at.surv"])
            assert as_float(x.std_err for x in shown) == approx(
                r[f"{label}|at.std.err"]
            )
            assert as_float(x.lower for x in shown) == approx(r[f"{label}|at.lower"])
            assert as_float(x.upper for x in shown) == approx(r[f"{label}|at.upper"])
            assert [x.n_risk for x in shown] == r[f"{label}|at.n.risk"].tolist()

    @pytest.mark.parametrize(("name", "conf_type"), KM_RUNS)
    def test_number_at_risk_matches_r_summary_with_extend(self, name, conf_type):
        r = r_case(f"km_{name}_{conf_type}")
        for label, km in fit(name, conf_type).items():
            ticks = r[f"{label}|risk.time"]
            assert km.at_risk(ticks) == r[f"{label}|risk.n"].tolist()

    def test_median_ci_matches_r_log_method_on_lung(self):
        # km_lung_sex_log: print(survfit(Surv(time, status) ~ sex, lung)):
        # sex=1 median 270 (212, 310); sex=2 median 426 (348, 550)
        curves = fit("lung_sex", "log")
        assert curves["1"].median().estimate == 270
        assert (curves["1"].median().lower, curves["1"].median().upper) == (212, 310)
        assert curves["2"].median() == curves["2"].median().__class__(426, 348, 550)

    def test_median_ci_matches_r_log_log_method_on_lung(self):
        # km_lung_sex_log-log: print(survfit(..., conf.type = "log-log")):
        # sex=1 median 270 (210, 306); sex=2 median 426 (345, 524)
        curves = fit("lung_sex", "log-log")
        m1, m2 = curves["1"].median(), curves["2"].median()
        assert (m1.estimate, m1.lower, m1.upper) == (270, 210, 306)
        assert (m2.estimate, m2.lower, m2.upper) == (426, 345, 524)

    def test_median_not_reached_has_no_estimate_and_no_upper_limit_on_ovarian(self):
        # km_ovarian_rx_log: rx=1 median 638 (268, NA); rx=2 median NA (475, NA)
        curves = fit("ovarian_rx", "log")
        assert curves["1"].median() == curves["1"].median().__class__(638, 268, None)
        assert curves["2"].median() == curves["2"].median().__class__(None, 475, None)

    def test_single_group_gives_one_curve_keyed_all(self):
        # km_lung_all_log-log: survfit(Surv(time, status) ~ 1, lung, "log-log"):
        # n 228, 165 events, median 310 (284, 361)
        curves = fit("lung_all", "log-log")
        assert list(curves) == [ALL]
        km = curves[ALL]
        assert (km.n, km.events) == (228, 165)
        assert (km.median().estimate, km.median().lower, km.median().upper) == (
            310,
            284,
            361,
        )

    def test_tied_deaths_and_censoring_at_a_death_time_match_r_on_aml(self):
        # km_aml_x_log: Maintained has a death and a censoring both at 13 weeks;
        # Nonmaintained two deaths at 5 (12 at risk) and two at 8 (10 at risk).
        # survfit counts the deaths
        # at 13 before the censoring: n.risk 10, n.event 1, n.censor 1.
        curves = fit("aml_x", "log")
        maintained = curves["Maintained"]
        row = list(maintained.time).index(13)
        assert (maintained.n_risk[row], maintained.n_event[row]) == (10, 1)
        assert maintained.n_censor[row] == 1
        assert maintained.survival[row] == approx(10 / 11 * 9 / 10)
        non = curves["Nonmaintained"]
        assert non.n_event[:2].tolist() == [2, 2]
        assert non.survival[:2] == approx([10 / 12, 10 / 12 * 8 / 10])

    def test_group_without_events_stays_at_one_with_no_median(self):
        # km_edge_grp_log-log, group "noevents": five censored patients. R gives
        # S = 1, std.err 0, log-log limits NA (undefined at S = 1), median NA.
        km = fit("edge_grp", "log-log")["noevents"]
        assert km.events == 0
        assert km.survival.tolist() == [1.0] * 5
        assert km.std_err.tolist() == [0.0] * 5
        assert np.isnan(km.lower).all() and np.isnan(km.upper).all()
        assert km.median() == km.median().__class__(None, None, None)

    def test_curve_sitting_at_one_half_takes_the_midpoint_as_r_does(self):
        # km_edge_grp_log, group "half": deaths at 1 and 2 (S = 0.5), censored at
        # 3, death at 4. S is exactly 0.5 on [2, 4): median (2 + 4) / 2 = 3.
        km = fit("edge_grp", "log")["half"]
        assert km.median().estimate == 3

    def test_curve_ending_at_one_half_follows_print_survfit_not_quantile(self):
        # km_edge_grp_log, group "endhalf": death at 1 (S = 0.5), censored at 2.
        # print.survfit (survmean) gives 1; quantile.survfit would give 1.5.
        r = r_case("km_edge_grp_log")
        km = fit("edge_grp", "log")["endhalf"]
        assert km.median().estimate == r["endhalf|median"][0] == 1
        assert r["endhalf|quantile.median"][0] == 1.5

    def test_survival_falls_to_zero_with_r_na_standard_error_and_limits(self):
        # km_aml_x_plain, Nonmaintained: the last patient dies at 45, S = 0;
        # R's std.err is NaN and every limit NA from there.
        km = fit("aml_x", "plain")["Nonmaintained"]
        assert km.survival[-1] == 0
        assert np.isnan(km.std_err[-1])
        assert np.isnan(km.lower[-1]) and np.isnan(km.upper[-1])

    def test_ninety_percent_limits_match_r_conf_int_0_9(self):
        # km_veteran_celltype_0.9_log: survfit(..., conf.type = "log", conf.int = 0.9)
        r = r_case("km_veteran_celltype_0.9_log")
        curves = fit("veteran_celltype", "log", conf_level=0.9)
        for label, km in curves.items():
            assert km.lower == approx(r[f"{label}|lower"])
            assert km.upper == approx(r[f"{label}|upper"])
            m = km.median()
            assert as_float([m.lower, m.upper]) == approx(
                [r[f"{label}|median.lower"][0], r[f"{label}|median.upper"][0]]
            )

    def test_times_beyond_the_last_follow_up_are_not_estimable(self):
        # summary(survfit(...), times = 1100) drops 1100 for lung (last time 1022:
        # extend = FALSE); we return it flagged, with no number carried forward.
        km = fit("lung_all", "log")[ALL]
        at_end, beyond = km.at([1022, 1100])
        assert at_end.estimable and at_end.survival == approx(0.050345568070810462)
        assert not beyond.estimable
        assert (beyond.survival, beyond.lower, beyond.upper) == (None, None, None)
        assert beyond.n_risk == 0

    def test_log_log_limits_match_lifelines_kaplan_meier_fitter(self):
        # lifelines' default interval is R's log-log ("exponential Greenwood").
        lung = r_data("lung")
        km = kaplan_meier(lung, duration="time", event="dead")[ALL]
        fitter = KaplanMeierFitter().fit(lung["time"], lung["dead"])
        assert km.survival == approx(fitter.survival_function_.iloc[1:, 0].to_numpy())
        interval = fitter.confidence_interval_.iloc[1:].to_numpy()
        assert km.lower == approx(interval[:, 0])
        assert km.upper == approx(interval[:, 1])


class TestTinyDataByHand:
    """Five patients, every number worked out by hand.

    time  1  2  2  3  5
    event 1  1  0  0  1      (the censoring at 2 is counted after the death at 2)
    """

    frame = pd.DataFrame({"months": [1, 2, 2, 3, 5], "event": [1, 1, 0, 0, 1]})

    def test_survival_and_greenwood_standard_error_by_hand(self):
        km = kaplan_meier(self.frame)[ALL]
        # t=1: 5 at risk, 1 death: S = 4/5 = 0.8; Greenwood sum 1/(5*4) = 0.05
        # t=2: 4 at risk, 1 death: S = 0.8 * 3/4 = 0.6; sum + 1/(4*3) = 0.133333
        # t=3: 2 at risk, censored: S stays 0.6
        # t=5: 1 at risk, 1 death: S = 0 (Greenwood term 1/(1*0): infinite)
        assert km.time.tolist() == [1, 2, 3, 5]
        assert km.n_risk.tolist() == [5, 4, 2, 1]
        assert km.survival == approx([0.8, 0.6, 0.6, 0.0])
        # se(S) = S * sqrt(sum): 0.8 * sqrt(0.05) = 0.178885; 0.6 * sqrt(2/15)
        assert km.std_err[:3] == approx(
            [0.8 * math.sqrt(0.05), 0.6 * math.sqrt(2 / 15), 0.6 * math.sqrt(2 / 15)]
        )
        assert np.isnan(km.std_err[3])

    def test_log_interval_and_median_by_hand(self):
        km = kaplan_meier(self.frame, conf_type="log")[ALL]
        z = 1.959963984540054
        # t=1: 0.8 * exp(-z sqrt(0.05)) = 0.516109 > 0.5; upper 0.8 * exp(+...) > 1 -> 1
        # t=2: 0.6 * exp(-z sqrt(2/15)) = 0.293316 <= 0.5: lower CI of median = 2
        assert km.lower[:2] == approx(
            [
                0.8 * math.exp(-z * math.sqrt(0.05)),
                0.6 * math.exp(-z * math.sqrt(2 / 15)),
            ]
        )
        assert km.upper[:3].tolist() == [1.0, 1.0, 1.0]
        # median: first S <= 0.5 is S = 0 at t=5; the upper curve never drops
        # below 0.5 before S = 0, where it is NA: upper limit not reached
        assert km.median() == km.median().__class__(5.0, 2.0, None)

    def test_log_rank_by_hand(self):
        frame = self.frame.assign(arm=["A", "A", "A", "B", "B"])
        result = logrank(frame, duration="months", event="event", group="arm")
        # t=1: 5 at risk (A 3, B 2), 1 death in A: E_A = 3/5 = 0.6,
        #      V = 1*(5-1)/(5-1) * 3*2/5^2 = 0.24
        # t=2: 4 at risk (A 2, B 2), 1 death in A: E_A = 2/4 = 0.5,
        #      V = 1*(4-1)/(4-1) * 2*2/4^2 = 0.25
        # t=5: 1 at risk (B), 1 death in B: E_A = 0, V = 0 (n - 1 = 0)
        # O_A = 2, E_A = 1.1, chi-square = (2 - 1.1)^2 / 0.49 = 1.6530612
        assert result.observed == {"A": 2.0, "B": 1.0}
        assert result.expected["A"] == approx(1.1)
        assert result.statistic == approx(0.81 / 0.49)
        assert result.df == 1
        assert result.p_value == approx(math.erfc(math.sqrt(0.81 / 0.49 / 2)))
        assert result.small_groups == ("A", "B")

    def test_reverse_kaplan_meier_median_follow_up_by_hand(self):
        # Reverse KM: censoring is the "event", deaths censor.
        # t=1: death -> censored, S stays 1
        # t=2: 4 at risk, 1 censored (the "event"): S = 3/4 (the death at 2 is
        #      then censored)
        # t=3: 2 at risk, 1 "event": S = 3/4 * 1/2 = 0.375 <= 0.5 -> median 3
        followup = median_followup(self.frame, duration="months", event="event")
        assert followup.median == 3
        assert (followup.minimum, followup.maximum) == (1, 5)
        assert followup.n == 5

    def test_holm_adjustment_by_hand(self):
        # Holm: sort 0.01, 0.02, 0.04; multiply by 3, 2, 1 -> 0.03, 0.04, 0.04
        # (running maximum), back in the original order.
        assert adjust_p([0.04, 0.01, 0.02]) == approx([0.04, 0.03, 0.04])
        # no test (None) stays None and does not count: 0.4 * 2, then max(0.5, 0.8)
        adjusted = adjust_p([0.5, None, 0.4])
        assert adjusted[1] is None
        assert [adjusted[0], adjusted[2]] == approx([0.8, 0.8])
        assert adjust_p([0.5, 0.4], method="bonferroni") == approx([1.0, 0.8])


LOGRANK_CASES = {
    "lung_sex": ("lung", "time", "dead", "sex"),
    "lung_ecog": ("lung", "time", "dead", "ph.ecog"),
    "veteran_celltype": ("veteran", "time", "status", "celltype"),
    "veteran_trt": ("veteran", "time", "status", "trt"),
    "ovarian_rx": ("ovarian", "futime", "fustat", "rx"),
    "aml_x": ("aml", "time", "status", "x"),
    "edge_grp": ("edge", "time", "status", "grp"),
}


def run_logrank(name: str):
    data, duration, event, group = LOGRANK_CASES[name]
    return logrank(r_data(data), duration=duration, event=event, group=group)


class TestLogRankAgainstR:
    """Case lr_<data>_<group>: survdiff(Surv(time, status) ~ group), p from
    pchisq(chisq, df); pairwise: survdiff on each pair's subset, then
    p.adjust(p, method = "holm"), in reference.R's lr_case."""

    @pytest.mark.parametrize("name", list(LOGRANK_CASES))
    def test_chi_square_df_p_observed_and_expected_match_r_survdiff(self, name):
        r = r_case(f"lr_{name}")
        result = run_logrank(name)
        assert list(result.observed) == r["groups"]
        assert result.statistic == approx(r["chisq"][0])
        assert result.df == r["df"][0]
        assert result.p_value == approx(r["p"][0])
        assert list(result.observed.values()) == approx(r["observed"])
        assert list(result.expected.values()) == approx(r["expected"])
        assert list(result.n.values()) == r["n"].tolist()

    @pytest.mark.parametrize("name", ["lung_ecog", "veteran_celltype", "edge_grp"])
    def test_pairwise_with_holm_matches_r_survdiff_subsets_and_p_adjust(self, name):
        r = r_case(f"lr_{name}")
        data, duration, event, group = LOGRANK_CASES[name]
        pairs = pairwise_logrank(
            r_data(data), duration=duration, event=event, group=group
        )
        assert [p.group_a for p in pairs] == r["pair.a"]
        assert [p.group_b for p in pairs] == r["pair.b"]
        assert [p.statistic for p in pairs] == approx(r["pair.chisq"])
        assert [p.p_value for p in pairs] == approx(r["pair.p"])
        assert [p.p_adjusted for p in pairs] == approx(r["pair.holm"])

    def test_groups_under_ten_patients_are_flagged_not_hidden(self):
        # lr_lung_ecog: ph.ecog 3 has one patient; R still reports the test.
        result = run_logrank("lung_ecog")
        assert result.small_groups == ("3",)
        assert result.p_value == approx(r_case("lr_lung_ecog")["p"][0])
        assert any("unstable" in w for w in result.warnings)
        pairs = pairwise_logrank(
            r_data("lung"), duration="time", event="dead", group="ph.ecog"
        )
        assert [p.small_groups for p in pairs if p.group_b == "3"] == [("3",)] * 3
        assert all(p.small_groups == () for p in pairs if p.group_b != "3")
        assert SMALL_GROUP_SIZE == 10

    def test_group_without_events_is_tested_like_r(self):
        # lr_edge_grp: "noevents" observes 0 deaths against 3.798 expected.
        result = run_logrank("edge_grp")
        assert result.observed["noevents"] == 0
        assert result.expected["noevents"] == approx(
            r_case("lr_edge_grp")["expected"][1]
        )

    def test_a_single_group_has_nothing_to_test(self):
        # survdiff refuses a single group; we return df 0, no P, and say why.
        result = logrank(r_data("lung"), duration="time", event="dead", group="inst")
        assert result.df > 0
        single = logrank(
            r_data("lung").assign(one="all"), duration="time", event="dead", group="one"
        )
        assert (single.statistic, single.df, single.p_value) == (0.0, 0, None)
        assert single.warnings

    def test_statistic_matches_lifelines_multivariate_logrank_test(self):
        vet = r_data("veteran")
        lifelines_result = multivariate_logrank_test(
            vet["time"], vet["celltype"], vet["status"]
        )
        ours = logrank(vet, duration="time", event="status", group="celltype")
        assert ours.statistic == approx(lifelines_result.test_statistic)


class TestAggregatedRows:
    """weights = "n": one row per (group, time, event) with a count gives the same
    numbers as one row per patient."""

    @staticmethod
    def aggregate(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        return df.groupby(columns, observed=True).size().rename("n").reset_index()

    def test_kaplan_meier_median_landmarks_and_at_risk_are_identical(self):
        vet = r_data("veteran")
        agg = self.aggregate(vet, ["celltype", "time", "status"])
        assert len(agg) < len(vet)
        for conf_type in CONF_TYPES:
            one = kaplan_meier(
                vet,
                duration="time",
                event="status",
                group="celltype",
                conf_type=conf_type,
            )
            many = kaplan_meier(
                agg,
                duration="time",
                event="status",
                group="celltype",
                weights="n",
                conf_type=conf_type,
            )
            assert list(one) == list(many)
            for label in one:
                a, b = one[label], many[label]
                for field in ("time", "n_risk", "n_event", "n_censor", "survival"):
                    np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
                for field in ("std_err", "lower", "upper"):
                    np.testing.assert_allclose(
                        getattr(a, field), getattr(b, field), rtol=1e-12
                    )
                assert a.median() == b.median()
                assert a.at([30, 90, 365]) == b.at([30, 90, 365])
                assert a.at_risk(range(0, 1000, 100)) == b.at_risk(range(0, 1000, 100))

    def test_log_rank_pairwise_and_follow_up_are_identical(self):
        lung = r_data("lung")
        agg = self.aggregate(lung, ["ph.ecog", "time", "dead"])
        kwargs = {"duration": "time", "event": "dead", "group": "ph.ecog"}
        a, b = logrank(lung, **kwargs), logrank(agg, weights="n", **kwargs)
        assert b.statistic == pytest.approx(a.statistic, rel=1e-12)
        assert (a.df, a.n, a.observed, a.small_groups) == (
            b.df,
            b.n,
            b.observed,
            b.small_groups,
        )
        pa = pairwise_logrank(lung, **kwargs)
        pb = pairwise_logrank(agg, weights="n", **kwargs)
        assert [p.p_adjusted for p in pa] == pytest.approx(
            [p.p_adjusted for p in pb], rel=1e-12
        )
        assert median_followup(lung, **kwargs) == median_followup(
            agg, weights="n", **kwargs
        )

    def test_aggregated_fixture_still_matches_r(self):
        # km_veteran_celltype_log-log and lr_veteran_celltype from aggregated rows
        vet = self.aggregate(r_data("veteran"), ["celltype", "time", "status"])
        r = r_case("km_veteran_celltype_log-log")
        curves = kaplan_meier(
            vet, duration="time", event="status", group="celltype", weights="n"
        )
        for label, km in curves.items():
            assert km.survival == approx(r[f"{label}|surv"])
            assert km.lower == approx(r[f"{label}|lower"])
        result = logrank(
            vet, duration="time", event="status", group="celltype", weights="n"
        )
        assert result.statistic == approx(r_case("lr_veteran_celltype")["chisq"][0])

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["a", "b", "c"]),
                st.integers(min_value=0, max_value=12),
                st.booleans(),
            ),
            min_size=2,
            max_size=60,
        )
    )
    def test_any_cohort_gives_identical_results_aggregated(self, rows):
        df = pd.DataFrame(rows, columns=["arm", "months", "event"])
        agg = self.aggregate(df, ["arm", "months", "event"])
        one = kaplan_meier(df, group="arm")
        many = kaplan_meier(agg, group="arm", weights="n")
        assert list(one) == list(many)
        for label in one:
            np.testing.assert_array_equal(one[label].survival, many[label].survival)
            np.testing.assert_array_equal(one[label].n_risk, many[label].n_risk)
            assert one[label].median() == many[label].median()
        a = logrank(df, duration="months", event="event", group="arm")
        b = logrank(agg, duration="months", event="event", group="arm", weights="n")
        assert b.statistic == pytest.approx(a.statistic, rel=1e-9, abs=1e-12)
        assert a.df == b.df

    def test_rows_with_zero_weight_are_ignored(self):
        df = pd.DataFrame(
            {"months": [1, 2, 3, 4], "event": [1, 0, 1, 1], "n": [2, 0, 1, 0]}
        )
        km = kaplan_meier(df, weights="n")[ALL]
        assert km.time.tolist() == [1, 3]
        assert km.n == 3

    def test_non_integer_weights_are_refused(self):
        df = pd.DataFrame({"months": [1, 2], "event": [1, 0], "n": [1.5, 1]})
        with pytest.raises(ValueError, match="integer counts"):
            kaplan_meier(df, weights="n")


class TestFollowUpAgainstR:
    """Case fu_<data>_<group>_<conf.type>: print(survfit(Surv(time, 1 - status) ~
    group, conf.type = ...)) and range(time), in reference.R's fu_case."""

    CASES = {
        "lung_all": ("lung", "time", "dead", None),
        "lung_sex": ("lung", "time", "dead", "sex"),
        "veteran_all": ("veteran", "time", "status", None),
        "ovarian_all": ("ovarian", "futime", "fustat", None),
        "aml_x": ("aml", "time", "status", "x"),
    }

    @pytest.mark.parametrize("conf_type", ["log", "log-log"])
    @pytest.mark.parametrize("name", list(CASES))
    def test_reverse_kaplan_meier_median_and_range_match_r(self, name, conf_type):
        r = r_case(f"fu_{name}_{conf_type}")
        data, duration, event, group = self.CASES[name]
        result = median_followup(
            r_data(data),
            duration=duration,
            event=event,
            group=group,
            conf_type=conf_type,
        )
        by_group = {ALL: result} if group is None else result
        assert list(by_group) == r["groups"]
        for label, followup in by_group.items():
            expected = [
                r[f"{label}|median"][0],
                r[f"{label}|median.lower"][0],
                r[f"{label}|median.upper"][0],
                *r[f"{label}|range"],
            ]
            got = [
                followup.median,
                followup.lower,
                followup.upper,
                followup.minimum,
                followup.maximum,
            ]
            assert as_float(got) == approx(expected)


class TestFollowUpAtEachLevelAgainstR:
    """Case fu_<data>_<group>_<conf.type>_<level>: reference.R's fu_case with
    ``conf.int = level``, for every CI type at 90%, 95% and 99%."""

    CASES = {
        "lung_all": ("lung", "time", "dead", None),
        "aml_x": ("aml", "time", "status", "x"),
    }

    @pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
    @pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
    @pytest.mark.parametrize("name", list(CASES))
    def test_reverse_kaplan_meier_interval_matches_r(self, name, conf_type, level):
        r = r_case(f"fu_{name}_{conf_type}_{level}")
        data, duration, event, group = self.CASES[name]
        result = median_followup(
            r_data(data),
            duration=duration,
            event=event,
            group=group,
            conf_type=conf_type,
            conf_level=level,
        )
        by_group = {ALL: result} if group is None else result
        assert list(by_group) == r["groups"]
        for label, followup in by_group.items():
            expected = [
                r[f"{label}|median"][0],
                r[f"{label}|median.lower"][0],
                r[f"{label}|median.upper"][0],
            ]
            got = [followup.median, followup.lower, followup.upper]
            assert as_float(got) == approx(expected)


class TestLandmarkAgainstR:
    """Case landmark_lung_180 in reference.R: keep time > 180 or censored at 180,
    then survfit(Surv(time - 180, status) ~ sex, conf.type = "log-log") and
    survdiff on the kept patients."""

    def test_kept_and_excluded_counts_match_r(self):
        r = r_case("landmark_lung_180")
        result = landmark(r_data("lung"), landmark=180, duration="time", event="dead")
        assert result.included == r["n.kept"][0] == len(result.frame)
        assert result.excluded == {
            "event_by_landmark": r["n.died"][0],
            "censored_before_landmark": r["n.censored"][0],
        }
        assert result.frame["time"].min() >= 0

    def test_survival_after_the_landmark_matches_r(self):
        r = r_case("landmark_lung_180")
        kept = landmark(r_data("lung"), landmark=180, duration="time", event="dead")
        curves = kaplan_meier(kept.frame, duration="time", event="dead", group="sex")
        medians = [km.median() for km in curves.values()]
        assert [m.estimate for m in medians] == approx(r["median"])
        assert [m.lower for m in medians] == approx(r["median.lower"])
        assert [m.upper for m in medians] == approx(r["median.upper"])
        result = logrank(kept.frame, duration="time", event="dead", group="sex")
        assert (result.statistic, result.p_value) == approx((r["chisq"][0], r["p"][0]))

    def test_death_at_the_landmark_is_excluded_and_censoring_at_it_kept(self):
        df = pd.DataFrame(
            {"months": [5, 6, 6, 7, 3], "event": [1, 1, 0, 0, 0], "n": [1, 2, 1, 1, 4]}
        )
        result = landmark(df, landmark=6, duration="months", event="event", weights="n")
        assert result.frame["months"].tolist() == [0, 1]
        assert result.included == 2
        assert result.excluded == {
            "event_by_landmark": 3,
            "censored_before_landmark": 4,
        }


COX_CASES = {
    # case: (data, duration, event, group, reference, covariates)
    "cox_lung_sex_age_karno": ("lung", "time", "dead", "sex", "1", ("age", "ph.karno")),
    "cox_veteran_celltype_karno_age": (
        "veteran",
        "time",
        "status",
        "celltype",
        "squamous",
        ("karno", "age"),
    ),
    "cox_veteran_celltype_ref_large_karno": (
        "veteran",
        "time",
        "status",
        "celltype",
        "large",
        ("karno",),
    ),
    "cox_ovarian_rx_age": ("ovarian", "futime", "fustat", "rx", "1", ("age",)),
    "cox_aml_x": ("aml", "time", "status", "x", "Maintained", ()),
}


def fit_cox(case: str):
    data, duration, event, group, reference, covariates = COX_CASES[case]
    return cox(
        r_data(data),
        duration=duration,
        event=event,
        group=group,
        reference=reference,
        covariates=covariates,
    )


class TestCoxAgainstR:
    """Case cox_*: summary(coxph(Surv(time, status) ~ factor(group) + covariates))
    with Efron ties, and cox.zph(fit) (survival 3.5-3: score test, transform "km"),
    in reference.R's cox_case."""

    @pytest.mark.parametrize("case", list(COX_CASES))
    def test_hazard_ratios_limits_and_p_values_match_r_coxph(self, case):
        r = r_case(case)
        result = fit_cox(case)
        assert len(result.terms) == len(r["terms"])
        assert [t.coef for t in result.terms] == approx(r["coef"])
        assert [t.se for t in result.terms] == approx(r["se"])
        assert [t.hazard_ratio for t in result.terms] == approx(r["hr"])
        assert [t.lower for t in result.terms] == approx(r["lower"])
        assert [t.upper for t in result.terms] == approx(r["upper"])
        assert [t.p_value for t in result.terms] == approx(r["p"])
        assert (result.n, result.events) == (r["n"][0], r["nevent"][0])

    @pytest.mark.parametrize("case", list(COX_CASES))
    def test_proportional_hazards_check_matches_r_cox_zph(self, case):
        r = r_case(case)
        result = fit_cox(case)
        assert [t.term for t in result.ph_test][-1] == "GLOBAL"
        assert len(result.ph_test) == len(r["zph.terms"])
        assert [t.statistic for t in result.ph_test] == approx(r["zph.chisq"])
        assert [t.df for t in result.ph_test] == r["zph.df"].tolist()
        assert [t.p_value for t in result.ph_test] == approx(r["zph.p"])

    def test_group_levels_are_terms_against_the_reference_with_covariates(self):
        # cox_veteran_celltype_ref_large_karno: relevel(celltype, ref = "large")
        result = fit_cox("cox_veteran_celltype_ref_large_karno")
        assert result.reference == "large"
        assert [t.term for t in result.terms] == [
            "squamous",
            "smallcell",
            "adeno",
            "karno",
        ]
        assert [t.term for t in result.ph_test] == ["celltype", "karno", "GLOBAL"]
        assert [t.df for t in result.ph_test] == [3, 1, 4]

    def test_rows_missing_a_covariate_are_dropped_as_r_does(self):
        # cox_lung_sex_age_karno: one lung patient lacks ph.karno; R's n = 227
        assert fit_cox("cox_lung_sex_age_karno").n == 227

    def test_doubtful_proportional_hazards_are_warned_about(self):
        # cox.zph on veteran: karno P = 0.00012 (reference_printed.txt)
        result = fit_cox("cox_veteran_celltype_karno_age")
        assert "karno" in [test.term for test in result.doubtful]
        assert all(test.p_value < 0.05 for test in result.doubtful)

    def test_group_without_events_is_warned_about_and_others_still_match_r(self):
        # cox_edge_grp: coxph(Surv(time, status) ~ grp, edge). grpnoevents
        # diverges (R stops at -20.7, se 1.3e4; both fits only say "very
        # negative"); the other groups' estimates are finite and must match.
        r = r_case("cox_edge_grp")
        result = cox(
            r_data("edge"),
            duration="time",
            event="status",
            group="grp",
            reference="ties",
        )
        terms = {t.term: t for t in result.terms}
        for i, name in enumerate(r["terms"]):
            term = terms[name.removeprefix("grp")]
            if name == "grpnoevents":
                assert term.coef < -10 and r["coef"][i] < -10
            else:
                assert (term.coef, term.se, term.p_value) == approx(
                    [r["coef"][i], r["se"][i], r["p"][i]]
                )
        assert any("noevents" in w and "no events" in w for w in result.warnings)
        assert any("fewer than 10" in w for w in result.warnings)

    def test_covariate_whose_coefficient_may_be_infinite_is_warned_about(self):
        # cox_marker_grp_marker: no patient with marker = 1 has the event; R
        # warns "Loglik converged before variable 2; coefficient may be
        # infinite" (reference_printed.txt) and stops marker at -21.
        r = r_case("cox_marker_grp_marker")
        d = pd.DataFrame(
            {
                "time": range(1, 13),
                "status": [1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1],
                "grp": ["a", "b"] * 6,
                "marker": [0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0],
            }
        )
        result = cox(
            d,
            duration="time",
            event="status",
            group="grp",
            reference="a",
            covariates=["marker"],
        )
        terms = {t.term: t for t in result.terms}
        assert (terms["b"].coef, terms["b"].se) == approx([r["coef"][0], r["se"][0]])
        assert terms["marker"].coef < -20 and r["coef"][1] < -20
        flagged = [w for w in result.warnings if "may be infinite" in w]
        assert len(flagged) == 1 and "'marker'" in flagged[0]

    @pytest.mark.parametrize("covariates", [(), ("prior",)])
    def test_counted_rows_give_the_fit_of_the_rows_they_stand_for(self, covariates):
        # veteran has tied times; aggregated to (time, status, celltype[, prior])
        # counts, the weighted fit must be that of the patients, which the test
        # above pins to R's coxph.
        vet = r_data("veteran")
        columns = ["time", "status", "celltype", *covariates]
        counts = vet.groupby(columns, observed=True).size().rename("n").reset_index()
        assert len(counts) < len(vet)
        args = {
            "duration": "time",
            "event": "status",
            "group": "celltype",
            "reference": "large",
            "covariates": list(covariates),
        }
        rows = cox(vet, **args)
        counted = cox(counts, weights="n", **args)
        assert (counted.n, counted.events) == (rows.n, rows.events)
        for a, b in zip(counted.terms, rows.terms, strict=True):
            assert (a.term, a.coef, a.se) == (
                b.term,
                pytest.approx(b.coef, rel=1e-9),
                pytest.approx(b.se, rel=1e-9),
            )
        assert [t.statistic for t in counted.ph_test] == pytest.approx(
            [t.statistic for t in rows.ph_test], rel=1e-9
        )

    def test_hazard_ratios_agree_with_lifelines_cox_ph_fitter(self):
        # An independent implementation: lifelines stops its Newton steps on a
        # small decrement, so its estimates are within about 1e-4 of the maximum.
        vet = r_data("veteran")
        ours = cox(
            vet,
            duration="time",
            event="status",
            group="celltype",
            reference="large",
            covariates=["karno"],
        )
        design = pd.get_dummies(vet["celltype"].astype(str), dtype=float)
        frame = design.drop(columns="large").assign(
            karno=vet["karno"], time=vet["time"], status=vet["status"]
        )
        fitter = CoxPHFitter().fit(frame, duration_col="time", event_col="status")
        for term in ours.terms:
            assert term.coef == pytest.approx(fitter.params_[term.term], rel=1e-4)
            assert term.se == pytest.approx(
                fitter.standard_errors_[term.term], rel=1e-4
            )

    def test_collinear_covariates_are_refused_with_their_names(self):
        vet = r_data("veteran").assign(karno2=lambda d: d["karno"] * 2)
        with pytest.raises(ValueError, match="singular.*karno, karno2"):
            cox(
                vet,
                duration="time",
                event="status",
                group="celltype",
                reference="large",
                covariates=["karno", "karno2"],
            )

    def test_no_events_at_all_is_refused(self):
        vet = r_data("veteran").assign(status=0)
        with pytest.raises(ValueError, match="no events"):
            cox(
                vet,
                duration="time",
                event="status",
                group="celltype",
                reference="large",
            )

    def test_unknown_reference_and_other_ties_are_refused(self):
        vet = r_data("veteran")
        with pytest.raises(ValueError, match="reference"):
            cox(vet, duration="time", event="status", group="celltype", reference="x")
        with pytest.raises(ValueError, match="efron"):
            cox(
                vet,
                duration="time",
                event="status",
                group="celltype",
                reference="large",
                ties="breslow",
            )


class TestInputs:
    def test_nearly_equal_times_are_tied_as_r_aeqsurv_does(self):
        # 30 days / 30.4375 computed two ways differs in the last bits; R's
        # aeqSurv (timefix) treats such times as one.
        exact = pd.DataFrame({"months": [1.0, 1.0, 2.0], "event": [1, 1, 0]})
        nearly = exact.assign(months=[1.0, 1.0 + 1e-12, 2.0])
        a = kaplan_meier(exact)[ALL]
        b = kaplan_meier(nearly)[ALL]
        assert b.time.tolist() == [1.0, 2.0]
        np.testing.assert_array_equal(a.survival, b.survival)

    def test_rows_missing_time_event_or_group_are_dropped(self):
        df = pd.DataFrame(
            {
                "months": [1, 2, None, 4, 5],
                "event": [1, None, 1, 0, 1],
                "arm": ["a", "a", "a", None, "b"],
            }
        )
        curves = kaplan_meier(df, group="arm")
        assert {k: v.n for k, v in curves.items()} == {"a": 1, "b": 1}

    def test_negative_times_and_odd_event_codes_are_refused(self):
        with pytest.raises(ValueError, match=">= 0"):
            kaplan_meier(pd.DataFrame({"months": [-1, 2], "event": [1, 0]}))
        with pytest.raises(ValueError, match="0/1"):
            kaplan_meier(pd.DataFrame({"months": [1, 2], "event": [2, 1]}))

    def test_float_group_codes_read_as_integers(self):
        # lung's ph.ecog is float because of one NA; labels stay "0", "1", ...
        curves = kaplan_meier(
            r_data("lung"), duration="time", event="dead", group="ph.ecog"
        )
        assert list(curves) == ["0", "1", "2", "3"]

    def test_results_are_frozen(self):
        km = kaplan_meier(TestTinyDataByHand.frame)[ALL]
        with pytest.raises(AttributeError):
            km.n = 3  # type: ignore[misc]
        with pytest.raises(ValueError):
            km.survival[0] = 0.5
