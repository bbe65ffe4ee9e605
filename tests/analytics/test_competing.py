"""Tests for analytics.competing against R's cmprsk and survival, and by hand.

Expected numbers come from tests/fixtures/r/competing_output.csv, written by
tests/fixtures/r/competing.R (R 4.2.2, survival 3.5-3, cmprsk 2.2-11) from
tests/fixtures/r/data/mgus2.csv (survival's mgus2: months to plasma-cell
malignancy, cause 1, or death, cause 2) and competing_edge.csv (hand-made: ties
of both causes, censoring at event times, a group without cause 1, censoring-only
tails). The R calls: ``cmprsk::cuminc`` (curves, variances, Gray's test),
``cmprsk::timepoints`` (values at times), ``survival::survfit`` with a multi-state
``Surv`` (the Aalen-Johansen estimate, an independent check), and
``survival:::survfit_confint(..., logse = FALSE)`` (the limits). R's printout is
in competing_printed.txt. Regenerate with ``Rscript tests/fixtures/r/competing.R``.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter

from analytics import competing
from analytics.competing import (
    CumulativeIncidence,
    confidence_limits,
    cumulative_incidence,
    gray_test,
)
from analytics.survival import kaplan_meier
from tests.analytics.r_reference import FIXTURES

TEXT_FIELDS = {"groups", "curves", "tests|cause"}
#: Agreement asked of every number: the estimates and variances are sums of the
#: same terms as cmprsk's Fortran, so they agree to rounding.
TIGHT = {"rel": 1e-10, "abs": 1e-13}


@cache
def _rows() -> pd.DataFrame:
    return pd.read_csv(
        FIXTURES / "competing_output.csv", dtype={"value": str}, keep_default_na=False
    )


@cache
def r_case(case: str) -> dict:
    """The values competing.R wrote for one case: field -> array or labels."""
    rows = _rows()
    rows = rows[rows["case"] == case]
    assert len(rows), f"no fixture case {case!r}: rerun competing.R"
    out: dict = {}
    for field, part in rows.groupby("field", sort=False):
        values = part.sort_values("i")["value"].tolist()
        out[field] = (
            values
            if field in TEXT_FIELDS
            else np.array([np.nan if v == "NA" else float(v) for v in values])
        )
    return out


def data(name: str) -> pd.DataFrame:
    df = pd.read_csv(FIXTURES / "data" / f"{name}.csv")
    if name == "competing_edge":
        df["grp"] = pd.Categorical(df["grp"], ["ties", "nocause1", "late"])
    return df


# case -> (data set, group, strata), as competing.R runs cuminc
CASES = {
    "mgus2_sex": ("mgus2", "sex", None),
    "mgus2_sex_strata": ("mgus2", "sex", "old"),
    "edge": ("competing_edge", "grp", None),
    "edge_two": ("competing_edge", "grp", None),
}


def fitted(case: str, **options) -> dict[str, dict[str, CumulativeIncidence]]:
    name, group, _ = CASES[case]
    df = data(name)
    if case == "edge_two":
        df = df[df["grp"] != "late"]
    return cumulative_incidence(
        df, duration="time", status="status", group=group, **options
    )


def curve_names(case: str) -> list[tuple[str, str, str]]:
    return [(n, *n.rsplit(" ", 1)) for n in r_case(case)["curves"]]


class TestCumulativeIncidenceAgainstR:
    @pytest.mark.parametrize("case", ["mgus2_sex", "edge", "edge_two"])
    def test_curves_equal_cuminc_corner_by_corner(self, case):
        r = r_case(case)
        curves = fitted(case)
        assert list(curves) == r["groups"]
        for name, group, cause in curve_names(case):
            time, est, var = curves[group][cause].steps()
            np.testing.assert_array_equal(time, r[f"{name}|time"])
            assert est == pytest.approx(r[f"{name}|est"], **TIGHT), name
            assert var == pytest.approx(r[f"{name}|var"], **TIGHT), name

    @pytest.mark.parametrize("case", ["mgus2_sex", "edge", "edge_two"])
    def test_values_at_times_equal_timepoints(self, case):
        r = r_case(case)
        curves = fitted(case)
        for name, group, cause in curve_names(case):
            at = curves[group][cause].at(r["times"])
            est = [np.nan if a.estimate is None else a.estimate for a in at]
            var = [np.nan if a.variance is None else a.variance for a in at]
            assert est == pytest.approx(r[f"{name}|at.est"], nan_ok=True, **TIGHT)
            assert var == pytest.approx(r[f"{name}|at.var"], nan_ok=True, **TIGHT)

    @pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
    @pytest.mark.parametrize("level", [0.95, 0.9])
    @pytest.mark.parametrize("case", ["mgus2_sex", "edge"])
    def test_limits_equal_survfit_confint_on_cuminc_variance(
        self, case, conf_type, level
    ):
        r = r_case(case)
        curves = fitted(case, conf_type=conf_type, conf_level=level)
        for name, group, cause in curve_names(case):
            at = curves[group][cause].at(r["times"])
            lower = [np.nan if a.lower is None else a.lower for a in at]
            upper = [np.nan if a.upper is None else a.upper for a in at]
            key = f"{conf_type}|{level}"
            expected_lower = r[f"{name}|at.lower|{key}"]
            expected_upper = r[f"{name}|at.upper|{key}"]
            assert lower == pytest.approx(expected_lower, nan_ok=True, **TIGHT), name
            assert upper == pytest.approx(expected_upper, nan_ok=True, **TIGHT), name

    @pytest.mark.parametrize("case", ["mgus2_sex", "edge"])
    def test_estimates_equal_survfit_multi_state_aalen_johansen(self, case):
        # survival's survfit(Surv(time, factor(status)) ~ 1) per group: pstate of
        # each cause at each of its times, computed by different code.
        r = r_case(case)
        curves = fitted(case)
        for group in r["groups"]:
            times = r[f"{group}|aj.time"]
            for cause in ("1", "2"):
                at = curves[group][cause].at(times)
                assert [a.estimate for a in at] == pytest.approx(
                    r[f"{group}|aj.{cause}"], rel=1e-10, abs=1e-13
                ), (group, cause)

    def test_group_without_the_cause_has_a_zero_curve_to_its_last_time(self):
        # competing_edge's nocause1: only competing events, censored up to 11
        curve = fitted("edge")["nocause1"]["1"]
        assert curve.events == 0 and curve.time.size == 0
        at = curve.at([0, 5, 11, 11.5])
        assert [a.estimate for a in at[:3]] == [0.0, 0.0, 0.0]
        assert at[0].variance == 0.0
        assert not at[3].estimable and at[3].estimate is None

    def test_censoring_only_tail_keeps_the_last_value_then_stops(self):
        # competing_edge's late: one cause-1 event at 3 among 7 (6 at risk, one
        # censored at 2), then a death at 6 and censorings to 15; by hand
        # F1 = 1/6 from 3 to 15, not estimable after 15.
        curve = fitted("edge")["late"]["1"]
        at = curve.at([2.9, 3, 14, 15, 15.1])
        assert at[0].estimate == 0
        assert [a.estimate for a in at[1:4]] == pytest.approx([1 / 6] * 3)
        assert not at[4].estimable

    def test_tied_causes_by_hand(self):
        # competing_edge's ties, first two times. t=1: 15 at risk, one cause 1:
        # F1 = 1/15, S = 14/15. t=2: 14 at risk, two cause 1 and one cause 2:
        # F1 = 1/15 + (14/15)(2/14) = 3/15, F2 = (14/15)(1/14) = 1/15.
        curves = fitted("edge")["ties"]
        assert curves["1"].at([1, 2])[1].estimate == pytest.approx(3 / 15)
        assert curves["1"].at([1])[0].estimate == pytest.approx(1 / 15)
        assert curves["2"].at([2])[0].estimate == pytest.approx(1 / 15)

    def test_causes_and_event_free_survival_add_up_to_one(self):
        df = data("mgus2")
        curves = cumulative_incidence(df, duration="time", status="status")["All"]
        df["any"] = (df["status"] > 0).astype(int)
        km = kaplan_meier(df, duration="time", event="any")["All"]
        times = [6, 24, 100, 250]
        total = np.array(
            [
                curves["1"].at([t])[0].estimate + curves["2"].at([t])[0].estimate
                for t in times
            ]
        )
        survival = np.array([lm.survival for lm in km.at(times)])
        assert total + survival == pytest.approx(np.ones(len(times)))

    def test_estimates_equal_lifelines_where_no_times_tie(self):
        # lifelines' AalenJohansenFitter jitters tied times, so only untied data
        rng = np.random.default_rng(3)
        df = pd.DataFrame(
            {
                "t": rng.exponential(10, 60).round(6) + 0.001,
                "s": rng.choice([0, 1, 2], 60),
            }
        )
        assert df["t"].is_unique
        fitter = AalenJohansenFitter(calculate_variance=False)
        fitter.fit(df["t"], df["s"], event_of_interest=1)
        expected = fitter.cumulative_density_
        curve = cumulative_incidence(df, duration="t", status="s")["All"]["1"]
        got = [a.estimate for a in curve.at(expected.index.to_numpy())]
        assert got == pytest.approx(expected.iloc[:, 0].to_numpy(), abs=1e-12)

    def test_counted_rows_give_the_same_curves(self):
        df = data("mgus2")
        counted = df.groupby(["sex", "time", "status"]).size().rename("n").reset_index()
        one = cumulative_incidence(df, duration="time", status="status", group="sex")
        many = cumulative_incidence(
            counted, duration="time", status="status", group="sex", weights="n"
        )
        for group in one:
            for cause in one[group]:
                a, b = one[group][cause], many[group][cause]
                np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-12)
                np.testing.assert_allclose(a.variance, b.variance, rtol=1e-12)

    def test_text_causes_are_sorted_and_censored_code_is_chosen(self):
        df = pd.DataFrame(
            {
                "t": [1, 2, 3, 4, 5],
                "why": ["death", "recurrence", "alive", "recurrence", "alive"],
            }
        )
        curves = cumulative_incidence(df, duration="t", status="why", censored="alive")[
            "All"
        ]
        assert list(curves) == ["death", "recurrence"]
        assert curves["recurrence"].events == 2

    def test_a_cause_nobody_had_gets_a_zero_curve_and_no_test(self):
        df = data("competing_edge").query("status != 1")
        curves = cumulative_incidence(
            df, duration="time", status="status", group="grp", causes=(1, 2)
        )
        assert all(c["1"].events == 0 for c in curves.values())
        assert curves["ties"]["1"].at([5])[0].estimate == 0
        tests = gray_test(
            df, duration="time", status="status", group="grp", causes=(1, 2)
        )
        assert tests["1"].statistic is None and tests["1"].p_value is None
        assert tests["2"].statistic is not None

    def test_negative_times_are_refused(self):
        df = pd.DataFrame({"t": [1, -2], "s": [1, 0]})
        with pytest.raises(ValueError, match="'t' must be finite and >= 0"):
            cumulative_incidence(df, duration="t", status="s")

    def test_limits_are_none_where_r_gives_na(self):
        lower, upper = confidence_limits(
            np.array([0.0, 0.3]), np.array([0.0, 0.01]), "log-log", 0.95
        )
        assert np.isnan(lower[0]) and np.isnan(upper[0])
        assert 0 < lower[1] < 0.3 < upper[1] < 1


class TestGrayTestAgainstR:
    @pytest.mark.parametrize("case", list(CASES))
    def test_statistic_and_p_equal_cuminc_tests(self, case):
        r = r_case(case)
        name, group, strata = CASES[case]
        df = data(name)
        if case == "edge_two":
            df = df[df["grp"] != "late"]
        tests = gray_test(
            df, duration="time", status="status", group=group, strata=strata
        )
        assert list(tests) == r["tests|cause"]
        assert [t.statistic for t in tests.values()] == pytest.approx(
            r["tests|stat"], rel=1e-10
        )
        assert [t.p_value for t in tests.values()] == pytest.approx(
            r["tests|pv"], rel=1e-8
        )
        assert [t.df for t in tests.values()] == list(r["tests|df"])

    def test_strata_change_the_test_not_the_curves(self):
        # mgus2 by sex, stratified by age 70+: R's statistics differ (1.74 vs 1.19)
        plain = r_case("mgus2_sex")["tests|stat"]
        stratified = r_case("mgus2_sex_strata")["tests|stat"]
        assert not np.allclose(plain, stratified)
        tests = gray_test(
            data("mgus2"), duration="time", status="status", group="sex", strata="old"
        )
        assert tests["1"].strata == 2

    def test_counted_rows_give_the_same_test(self):
        df = data("competing_edge")
        counted = (
            df.groupby(["grp", "time", "status"], observed=True)
            .size()
            .rename("n")
            .reset_index()
        )
        one = gray_test(df, duration="time", status="status", group="grp")
        many = gray_test(
            counted, duration="time", status="status", group="grp", weights="n"
        )
        for cause in one:
            assert many[cause].statistic == pytest.approx(one[cause].statistic)

    def test_times_summed_in_chunks_give_the_same_test(self, monkeypatch):
        df = data("mgus2")
        whole = gray_test(df, duration="time", status="status", group="sex")
        monkeypatch.setattr(competing, "GRAY_CHUNK_CELLS", 7)  # one time a chunk
        chunked = gray_test(df, duration="time", status="status", group="sex")
        for cause in whole:
            assert chunked[cause].statistic == pytest.approx(
                whole[cause].statistic, rel=1e-12
            )

    def test_one_group_gives_no_test(self):
        assert gray_test(data("mgus2"), duration="time", status="status", group="old")
        one = data("mgus2").assign(g="all")
        assert gray_test(one, duration="time", status="status", group="g") == {}
