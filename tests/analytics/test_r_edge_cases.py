"""Report options and cohorts the R fixtures do not cover, compared with R.

Each test builds a small cohort, runs the report as a user would, and compares
with R 4.2 / survival 3.5-3 (the R code and its output are in each docstring).
"""

import datetime

import pytest
from django.test import TestCase

from analytics import dataset
from analytics.documents.tables import cox_caption
from analytics.reports import run_report
from analytics.spec import ReportSpec
from registry import facts
from tests.factories import (
    make_death,
    make_followup,
    make_liver,
    make_patient,
    make_site,
    make_tumour,
)

DX = datetime.date(2004, 1, 1)


def patient(site, days, dead, **liver):
    with facts.deferred():
        p = make_patient(site=site)
        make_tumour(p, diagnosis_date=DX)
        make_liver(p, **liver)
        end = DX + datetime.timedelta(days=days)
        if dead:
            make_death(p, date=end)
        else:
            make_followup(p, date=end)


def report(**spec):
    spec.setdefault("as_of", "2012-12-31")
    for key in ("baseline", "associations", "subgroups"):
        spec.setdefault(key, [])
    return run_report(ReportSpec.from_dict(spec), user=dataset.AllSites()).to_dict()


class LandmarkClockTests(TestCase):
    """A landmark of 6 months is 182.625 days; the clock must restart there."""

    @classmethod
    def setUpTestData(cls):
        a, b = make_site(name="A"), make_site(name="B")
        for site, days, dead in (
            (a, 548, True), (a, 900, False), (a, 1000, False),
            (b, 400, True), (b, 900, False), (b, 1000, True),
        ):  # fmt: skip
            patient(site, days, dead)

    def test_survival_after_a_landmark_in_months_matches_r(self):
        """R:
        d <- data.frame(days = c(548, 900, 1000, 400, 900, 1000),
                        e = c(1, 0, 0, 1, 0, 1), g = c("A","A","A","B","B","B"))
        d$t <- (d$days - 6 * 30.4375) / 30.4375   # months since the landmark
        summary(survfit(Surv(t, e) ~ g, data = d), times = 12)
          g=A: time 12, n.risk 3, surv 1.0000000
          g=B: time 12, n.risk 2, surv 0.6666667
        print(survfit(...)): g=A median NA, 0.95LCL 12.00; g=B median 26.9

        The death in A at day 548 is 365.375 days (12.004 months) after the
        landmark: A's survival at 12 months is 1. The registry truncates the
        restarted times to whole days (dataset.table_from_frame's
        ``astype(int)``), moving every time 0.375 days earlier, and reports 2/3.
        """
        rep = report(group_by="site", index="landmark", landmark=6, times=[12])
        a, b = rep["groups"]
        assert a["landmarks"][0]["survival"] == pytest.approx(1.0)
        assert a["landmarks"][0]["n_risk"] == 3
        assert b["landmarks"][0]["survival"] == pytest.approx(2 / 3)
        assert b["median"]["estimate"] == pytest.approx(
            (1000 - 6 * 30.4375) / 30.4375
        )  # R: 26.9 (26.85421)

    def test_follow_up_after_a_landmark_is_counted_from_the_landmark(self):
        """R: range(d$t) = 7.141684 32.854209 (months since the landmark).

        The registry shows 7.129363 to 32.841889: every restarted time is cut
        to whole days (0.375 days short). A Cox model with a covariate reads
        the untruncated times, so one report mixes both clocks."""
        rep = report(group_by="site", index="landmark", landmark=6)
        fu = rep["followup"]
        assert fu["minimum"] == pytest.approx((400 - 182.625) / 30.4375)
        assert fu["maximum"] == pytest.approx((1000 - 182.625) / 30.4375)


class PairwiseHolmTests(TestCase):
    """A pair with no event while both groups are at risk."""

    @classmethod
    def setUpTestData(cls):
        a, b, c = make_site(name="A"), make_site(name="B"), make_site(name="C")
        for site, days, dead in (
            (a, 100, True), (a, 200, True), (a, 300, True), (a, 400, False),
            (b, 500, True), (b, 600, True), (b, 700, False),
            (c, 150, False), (c, 160, False),
        ):  # fmt: skip
            patient(site, days, dead)

    def test_holm_adjustment_counts_every_pair_as_survminer_does(self):
        """R (survminer::pairwise_survdiff's compare.levels, p.adjust "holm";
        survdiff itself prints "Chisq= 0 on 0 degrees of freedom, p= 1"):
        p <- function(a, b) { s <- survdiff(Surv(t, e) ~ g,
                 data = droplevels(d[d$g %in% c(a, b), ]))
               pchisq(s$chisq, length(s$n) - 1, lower.tail = FALSE) }
        raw:   AB 0.07457235  AC 0.47950012  BC 1.00000000
        holm:  AB 0.2237171   AC 0.9590002   BC 1.0000000

        analytics.survival.pairwise_logrank says it works "the way
        survminer::pairwise_survdiff does it", but gives B vs C no P value and
        leaves it out of Holm's count, so AB's adjusted P is 0.149, not 0.224.
        """
        rep = report(group_by="site", time_unit="days", times=[365])
        pairs = {(p["group_a"], p["group_b"]): p for p in rep["pairwise"]}
        assert pairs["A", "B"]["p_value"] == pytest.approx(0.07457235, rel=1e-6)
        assert pairs["A", "C"]["p_value"] == pytest.approx(0.47950012, rel=1e-6)
        assert pairs["A", "B"]["p_holm"] == pytest.approx(0.2237171, rel=1e-6)
        assert pairs["A", "C"]["p_holm"] == pytest.approx(0.9590002, rel=1e-6)
        assert pairs["B", "C"]["p_value"] == pytest.approx(1.0)


class OrdinalCovariateTests(TestCase):
    """An ordinal covariate (extent of liver disease) in the Cox model."""

    @classmethod
    def setUpTestData(cls):
        a, b = make_site(name="A"), make_site(name="B")
        days = [100, 250, 400, 600, 800, 300, 500, 700,
                900, 1000, 150, 350, 450, 650, 850, 1000]  # fmt: skip
        dead = [1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0]
        extents = ["lt25", "25to50", "50to75", "lt25"] * 4
        for i in range(16):
            patient((a, b)[i % 2], days[i], dead[i], extent=extents[i])

    def test_extent_is_compared_with_its_first_level_as_in_r(self):
        """R:
        d$extent <- factor(d$extent, levels = c("lt25", "25to50", "50to75"))
        summary(coxph(Surv(t, e) ~ g + extent, data = d))
                       coef exp(coef) se(coef)     z Pr(>|z|)
        gB           0.2555    1.2911   0.9143 0.279    0.780
        extent25to50 0.1979    1.2189   0.8208 0.241    0.809
        extent50to75 0.3198    1.3768   1.0157 0.315    0.753

        The registry turns the ordinal covariate into text (reports.cox_section,
        ``astype(str)``) and sorts the labels, so "25–50%" becomes the unnamed
        reference and the table shows "< 25%" and "50–75%" against it.
        """
        rep = report(group_by="site", covariates=["extent"])
        terms = {t["term"]: t for t in rep["cox"]["terms"]}
        assert list(terms) == ["B", "extent=25–50%", "extent=50–75%"]
        assert terms["extent=25–50%"]["hazard_ratio"] == pytest.approx(1.2189, abs=1e-4)
        assert terms["extent=50–75%"]["hazard_ratio"] == pytest.approx(1.3768, abs=1e-4)
        assert terms["B"]["hazard_ratio"] == pytest.approx(1.2911, abs=1e-4)
        # the table's caption says what the covariate's levels are against
        assert rep["cox"]["covariate_references"] == {"extent": "< 25%"}
        assert "adjusted for extent of liver disease (against < 25%)" in (
            cox_caption(rep["cox"])
        )
