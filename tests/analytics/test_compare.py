"""Tests for analytics.compare against R (stats package) and hand calculation.

Expected numbers come from tests/fixtures/r/reference_output.csv, written by
tests/fixtures/r/reference.R (R 4.2.2) from R's lung, veteran, ovarian and aml
data in tests/fixtures/r/data/. Each test names the fixture case and the R call;
R's printout is in tests/fixtures/r/reference_printed.txt. R is not needed to run
the tests. Regenerate with ``Rscript tests/fixtures/r/reference.R``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics.compare import (
    MIN_EXPECTED,
    CategoricalRow,
    ContinuousRow,
    anova,
    baseline_table,
    categorical_row,
    chi_square,
    continuous_row,
    expected_counts,
    fisher_exact,
    independence_test,
    kruskal_wallis,
    prop_trend,
    trend_test,
)
from tests.analytics.r_reference import REL, r_case, r_data


def r_table(case: str) -> np.ndarray:
    """The contingency table R tested, rebuilt from its column-major values."""
    r = r_case(case)
    rows, cols = (int(v) for v in r["dim"])
    return r["table"].reshape(cols, rows).T.astype(int)


def approx(expected) -> object:
    return pytest.approx(expected, rel=REL, abs=1e-300, nan_ok=True)


CONTINUOUS_CASES = {
    # case: (data, variable, group)
    "cont_lung_age_by_ecog": ("lung", "age", "ph.ecog"),
    "cont_lung_wtloss_by_sex": ("lung", "wt.loss", "sex"),
    "cont_veteran_karno_by_celltype": ("veteran", "karno", "celltype"),
    "cont_ovarian_age_by_rx": ("ovarian", "age", "rx"),
}


class TestContinuousAgainstR:
    """Case cont_*: summary(aov(y ~ factor(g))), kruskal.test(y ~ factor(g)) and
    tapply(y, g, mean / sd / median / quantile(0.25, 0.75)), in reference.R's
    cont_case (rows with a missing value or group dropped first)."""

    @pytest.mark.parametrize("case", list(CONTINUOUS_CASES))
    def test_anova_matches_r_aov(self, case):
        r = r_case(case)
        data, variable, group = CONTINUOUS_CASES[case]
        row = continuous_row(r_data(data), variable=variable, group=group)
        assert row.anova.statistic == approx(r["aov.F"][0])
        assert row.anova.df == r["aov.df1"][0]
        assert row.anova.p_value == approx(r["aov.p"][0])

    @pytest.mark.parametrize("case", list(CONTINUOUS_CASES))
    def test_kruskal_wallis_matches_r_kruskal_test(self, case):
        r = r_case(case)
        data, variable, group = CONTINUOUS_CASES[case]
        row = continuous_row(r_data(data), variable=variable, group=group)
        assert row.kruskal.statistic == approx(r["kw.stat"][0])
        assert row.kruskal.df == r["kw.df"][0]
        assert row.kruskal.p_value == approx(r["kw.p"][0])

    @pytest.mark.parametrize("case", list(CONTINUOUS_CASES))
    def test_group_summaries_match_r_mean_sd_median_and_type_7_quartiles(self, case):
        r = r_case(case)
        data, variable, group = CONTINUOUS_CASES[case]
        row = continuous_row(r_data(data), variable=variable, group=group)
        assert list(row.groups) == r["groups"]
        summaries = list(row.groups.values())
        for field in ("mean", "sd", "median", "q1", "q3"):
            # an SD of one value is NA in R and None here
            got = [getattr(s, field) for s in summaries]
            assert [np.nan if v is None else v for v in got] == approx(r[field])
        assert [s.n for s in summaries] == r["n"].tolist()
        assert [s.missing for s in summaries] == r["missing"].tolist()

    def test_missing_values_are_counted_not_summarised(self):
        # cont_lung_wtloss_by_sex: wt.loss is NA for 14 patients (10 men, 4 women)
        row = continuous_row(r_data("lung"), variable="wt.loss", group="sex")
        assert {g: s.missing for g, s in row.groups.items()} == {"1": 10, "2": 4}
        assert row.overall.missing == 14
        assert row.overall.n == 214


TABLE_CASES = [
    "tab_ovarian_rx_resid",
    "tab_ovarian_rx_ecog",
    "tab_aml_x_status",
    "tab_lung_sex_status",
    "tab_lung_sex_ecog",
    "tab_veteran_celltype_trt",
    "tab_veteran_celltype_prior",
    "tab_veteran_celltype_karno3",
    "tab_job_satisfaction",
    "tab_sparse_4x4_n74",
    "tab_sparse_4x5_n74",
    "tab_sparse_2x5_n300",
]


class TestContingencyTablesAgainstR:
    """Case tab_*: chisq.test(table) (Yates on 2 x 2) and fisher.test(table,
    workspace = 2e7), in reference.R's tab_case."""

    @pytest.mark.parametrize("case", TABLE_CASES)
    def test_chi_square_matches_r_chisq_test(self, case):
        r = r_case(case)
        result = chi_square(r_table(case))
        assert result.statistic == approx(r["chisq.stat"][0])
        assert result.df == r["chisq.df"][0]
        assert result.p_value == approx(r["chisq.p"][0])
        assert expected_counts(r_table(case)).min() == approx(r["expected.min"][0])

    @pytest.mark.parametrize("case", TABLE_CASES)
    def test_fisher_exact_matches_r_fisher_test_for_2x2_and_r_x_c(self, case):
        r = r_case(case)
        result = fisher_exact(r_table(case))
        assert result.note == ""  # exact, not the Monte Carlo fallback
        assert result.p_value == approx(r["fisher.p"][0])

    def test_yates_correction_is_applied_to_2x2_tables_only(self):
        assert "Yates" in chi_square(r_table("tab_lung_sex_status")).name
        assert "Yates" not in chi_square(r_table("tab_veteran_celltype_trt")).name

    def test_fisher_replaces_chi_square_when_an_expected_count_is_below_five(self):
        # tab_lung_sex_ecog: ph.ecog 3 has one patient, expected 0.40 and 0.60
        sparse = independence_test(r_table("tab_lung_sex_ecog"))
        assert sparse.name == "Fisher's exact test"
        assert sparse.p_value == approx(r_case("tab_lung_sex_ecog")["fisher.p"][0])
        # tab_veteran_celltype_trt: smallest expected 13.4
        dense = independence_test(r_table("tab_veteran_celltype_trt"))
        assert dense.name == "Pearson's chi-square"
        assert MIN_EXPECTED == 5

    def test_too_large_tables_fall_back_to_a_seeded_monte_carlo_p(self):
        # tab_job_satisfaction: R's exact P = 0.7827; a Monte Carlo estimate from
        # 100,000 tables has a standard error of about 0.0013.
        table = r_table("tab_job_satisfaction")
        first = fisher_exact(table, max_steps=10)
        assert "Monte Carlo" in first.note
        assert first.p_value == pytest.approx(0.7826849, abs=0.01)
        assert fisher_exact(table, max_steps=10).p_value == first.p_value

    def test_empty_rows_and_columns_are_dropped_before_testing(self):
        table = [[3, 0, 1], [1, 0, 3], [0, 0, 0]]
        assert fisher_exact(table).p_value == fisher_exact([[3, 1], [1, 3]]).p_value
        assert chi_square([[5, 5]]).p_value is None


class TestTrendAgainstR:
    """Case trend_*: prop.trend.test(x, n, score), in reference.R's trend_case."""

    @pytest.mark.parametrize(
        "case",
        [
            "trend_smokers",
            "trend_lung_death_by_ecog",
            "trend_lung_death_by_ecog_scores",
        ],
    )
    def test_statistic_and_p_match_r_prop_trend_test(self, case):
        r = r_case(case)
        result = prop_trend(r["x"], r["n"], r["score"])
        assert result.statistic == approx(r["stat"][0])
        assert result.df == 1
        assert result.p_value == approx(r["p"][0])

    def test_trend_from_patient_rows_matches_r(self):
        # trend_lung_death_by_ecog: deaths (status 2) by ph.ecog 0, 1, 2, 3
        lung = r_data("lung").assign(dead=lambda d: d["status"] == 2)
        trend = trend_test(lung, factor="ph.ecog", outcome="dead")
        r = r_case("trend_lung_death_by_ecog")
        assert trend.levels == ("0", "1", "2", "3")
        assert list(trend.events) == r["x"].tolist()
        assert list(trend.totals) == r["n"].tolist()
        assert trend.test.p_value == approx(r["p"][0])

    def test_ordered_categories_set_the_order_of_the_levels(self):
        extent = pd.Categorical(
            ["<25%", "25-50%", ">50%", "<25%", ">50%", "25-50%", "<25%", ">50%"],
            categories=["<25%", "25-50%", ">50%"],
            ordered=True,
        )
        df = pd.DataFrame({"extent": extent, "resected": [1, 1, 0, 1, 0, 0, 1, 0]})
        trend = trend_test(df, factor="extent", outcome="resected")
        assert trend.levels == ("<25%", "25-50%", ">50%")
        assert trend.events == (3, 1, 0)
        # by hand: x = (3, 1, 0), n = (3, 2, 3), scores 1, 2, 3; p = 4/8 = 0.5
        # s_bar = (3*1 + 2*2 + 3*3) / 8 = 2; sum x (s - s_bar) = -3 + 0 + 0 = -3
        # sum n (s - s_bar)^2 = 3 + 0 + 3 = 6; chi-square = 9 / (0.25 * 6) = 6
        assert trend.test.statistic == pytest.approx(6.0)


class TestByHand:
    def test_chi_square_with_yates_by_hand(self):
        # [[3, 1], [1, 3]]: every expected count 2, |O - E| = 1, Yates 0.5:
        # 4 * (1 - 0.5)^2 / 2 = 0.5 on 1 df, P = erfc(sqrt(0.25)) = 0.4795
        result = chi_square([[3, 1], [1, 3]])
        assert result.statistic == pytest.approx(0.5)
        assert result.p_value == pytest.approx(math.erfc(math.sqrt(0.25)))

    def test_fisher_2x2_by_hand(self):
        # [[3, 1], [1, 3]]: margins 4/4, 4/4. P(x) = C(4, x) C(4, 4 - x) / C(8, 4)
        # = 1, 16, 36, 16, 1 over 70 for x = 0..4; observed x = 3 (16/70);
        # two-sided: all with P <= 16/70: (1 + 16 + 16 + 1) / 70 = 0.485714
        assert fisher_exact([[3, 1], [1, 3]]).p_value == pytest.approx(34 / 70)

    def test_fisher_r_x_c_by_hand(self):
        # [[1, 0, 0], [0, 1, 0], [0, 0, 1]]: all margins 1; the 3! = 6 tables are
        # the permutation matrices, each with probability 1/6, all as extreme:
        # P = 1.
        assert fisher_exact(np.eye(3, dtype=int)).p_value == pytest.approx(1.0)
        # Rows and columns 2, 1, 1: seven tables. P(observed) = (2! 1! 1!)^2 /
        # (4! 2!) = 1/12, as for the other table with the 2 in the corner; the five
        # with the 2 split have 1/6 each. P = 2/12 = 1/6 (R: fisher.test(...)
        # $p.value = 0.1666667).
        table = [[2, 0, 0], [0, 1, 0], [0, 0, 1]]
        assert fisher_exact(table).p_value == pytest.approx(1 / 6)

    def test_anova_and_kruskal_by_hand(self):
        # groups (1, 2, 3) and (4, 5, 6): grand mean 3.5; between = 3 * 1.5^2 * 2
        # = 13.5 on 1 df; within = 2 + 2 = 4 on 4 df; F = 13.5 / 1 = 13.5
        result = anova([np.array([1, 2, 3]), np.array([4, 5, 6])])
        assert (result.statistic, result.df) == (pytest.approx(13.5), 1)
        # ranks 1-3 and 4-6: H = 12 / (6 * 7) * (6^2 / 3 + 15^2 / 3) - 3 * 7
        # = 0.285714 * 87 - 21 = 3.857143
        kw = kruskal_wallis([np.array([1, 2, 3]), np.array([4, 5, 6])])
        assert kw.statistic == pytest.approx(12 / 42 * (36 / 3 + 225 / 3) - 21)

    def test_tests_that_cannot_be_computed_say_why(self):
        assert anova([np.array([1.0, 2.0])]).p_value is None
        assert kruskal_wallis([np.ones(3), np.ones(3)]).note == "all values equal"
        assert prop_trend([0, 0], [3, 4]).p_value is None


class TestBaselineTable:
    def test_lung_baseline_by_sex_has_a_row_per_variable_with_the_right_test(self):
        lung = r_data("lung").assign(
            ecog=lambda d: pd.Categorical(d["ph.ecog"], [0, 1, 2, 3], ordered=True)
        )
        table = baseline_table(
            lung,
            group="sex",
            continuous=["age", "wt.loss"],
            categorical=["inst"],
            ordinal=["ecog"],
        )
        assert table.groups == ("1", "2")
        assert table.n == {"1": 138, "2": 90}
        age, wtloss, inst, ecog = table.rows
        assert isinstance(age, ContinuousRow) and isinstance(ecog, CategoricalRow)
        assert wtloss.overall.missing == 14
        # ph.ecog by sex is tab_lung_sex_ecog: expected 0.40 < 5, so Fisher
        assert ecog.test.name == "Fisher's exact test"
        assert ecog.test.p_value == approx(r_case("tab_lung_sex_ecog")["fisher.p"][0])
        assert ecog.chi_square.p_value == approx(
            r_case("tab_lung_sex_ecog")["chisq.p"][0]
        )
        assert ecog.missing == {"1": 1, "2": 0}
        assert ecog.levels == ("0", "1", "2", "3")
        # sex 2 by ph.ecog level: trend_lung_sex_by_ecog (prop.trend.test)
        trend = r_case("trend_lung_sex_by_ecog")
        assert ecog.trend is not None
        assert (ecog.trend.statistic, ecog.trend.p_value) == approx(
            [trend["stat"][0], trend["p"][0]]
        )
        for group in table.groups:
            assert sum(ecog.percents[group].values()) == pytest.approx(100)
        assert inst.trend is None

    def test_categorical_counts_and_percents_by_group(self):
        # tab_ovarian_rx_resid: table(rx, resid.ds) = [[5, 8], [6, 7]]
        row = categorical_row(r_data("ovarian"), variable="resid.ds", group="rx")
        assert row.counts == {"1": {"1": 5, "2": 8}, "2": {"1": 6, "2": 7}}
        assert row.percents["1"]["1"] == pytest.approx(100 * 5 / 13)
        assert row.overall == {"1": 11, "2": 15}
        assert row.test.p_value == approx(r_case("tab_ovarian_rx_resid")["chisq.p"][0])
