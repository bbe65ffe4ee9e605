"""Baseline comparison tables by group, with the test that fits each variable.

Continuous variables get mean (SD) and median (IQR) per group with a one-way ANOVA
(R's ``aov``) and a Kruskal-Wallis test (R's ``kruskal.test``). Categorical variables
get n (%) per group with Pearson's chi-square test (R's ``chisq.test``, Yates'
correction on 2 x 2 tables) or, when any expected count is below 5, Fisher's exact
test (R's ``fisher.test``, 2 x 2 and r x c). An ordered factor against a yes/no
outcome gets the Cochran-Armitage test for trend (R's ``prop.trend.test``).

Nothing here touches Django: a DataFrame and column names in, frozen dataclasses
out. ``tests/fixtures/r/reference.R`` prints the R numbers the tests pin these to.

Shared assumptions
------------------
* Observations are independent: one row per patient.
* Rows with a missing group are left out everywhere; a row with a missing value of
  one variable is left out of that variable's summary and test only, and counted in
  ``missing``.
* Groups and levels are labelled as text, ordered by category order for a
  categorical column, otherwise sorted (R's ``factor()`` order). Groups or levels
  with no observation are left out of the tests, as R's ``table(factor(...))`` of
  the observed values would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from analytics.survival import factor_codes

#: Fisher's exact test replaces chi-square when any expected count is below this.
MIN_EXPECTED = 5.0

#: Largest number of arcs or live paths in one level of the r x c exact test before
#: the Monte Carlo fallback: about a second and a few hundred MB at most.
FISHER_MAX_STEPS = 2_000_000

#: Draws for the Monte Carlo fallback of the r x c exact test, and its fixed seed
#: (a report must give the same P value every time it is run).
FISHER_MONTE_CARLO_DRAWS = 100_000
FISHER_MONTE_CARLO_SEED = 20020101

# R's tolerances for "as or more extreme than observed": fisher.test uses a
# relative error of 1e-7 on 2 x 2 tables and FEXACT (r x c) adds 3.45254e-7 to
# the observed log-probability.
_RELATIVE_ERROR_2X2 = 1 + 1e-7
_FEXACT_TOLERANCE = 3.45254e-7


@dataclass(frozen=True)
class StatTest:
    """The outcome of one significance test.

    ``statistic``/``df`` are None for tests that have none (Fisher's exact test);
    ``p_value`` is None when the test cannot be computed (e.g. a single group), and
    ``note`` says why, or how the P value was obtained when that matters.
    """

    name: str
    statistic: float | None
    df: float | None
    p_value: float | None
    note: str = ""


@dataclass(frozen=True)
class ContinuousSummary:
    """Summary of a continuous variable in one group.

    SD divides by n - 1 (None for fewer than two values); quartiles are R's default
    type 7 quantiles; every statistic is None without observations. ``missing``
    counts the group's rows without a value.
    """

    n: int
    missing: int
    mean: float | None
    sd: float | None
    median: float | None
    q1: float | None
    q3: float | None
    minimum: float | None
    maximum: float | None


@dataclass(frozen=True)
class ContinuousRow:
    """A continuous variable by group: summaries and both tests."""

    variable: str
    groups: dict[str, ContinuousSummary]
    overall: ContinuousSummary
    anova: StatTest
    kruskal: StatTest


@dataclass(frozen=True)
class CategoricalRow:
    """A categorical variable by group: n and % per level, and the chosen test.

    ``percents`` are within each group, over its non-missing values. ``test`` is
    Fisher's exact test when ``expected_min`` < :data:`MIN_EXPECTED`, else the
    chi-square test, which is always given in ``chi_square`` as well. ``trend`` is
    the Cochran-Armitage test when the variable is ordinal and there are two
    groups, otherwise None.
    """

    variable: str
    levels: tuple[str, ...]
    counts: dict[str, dict[str, int]]
    percents: dict[str, dict[str, float]]
    overall: dict[str, int]
    missing: dict[str, int]
    expected_min: float | None
    test: StatTest
    chi_square: StatTest
    trend: StatTest | None = None


@dataclass(frozen=True)
class BaselineTable:
    """Baseline characteristics by group, one row per variable, in the order asked."""

    group: str
    groups: tuple[str, ...]
    n: dict[str, int]
    rows: list[ContinuousRow | CategoricalRow]


@dataclass(frozen=True)
class Trend:
    """Cochran-Armitage test for trend of a yes/no outcome over ordered levels."""

    levels: tuple[str, ...]
    scores: tuple[float, ...]
    events: tuple[int, ...]
    totals: tuple[int, ...]
    test: StatTest


# --------------------------------------------------------------------------------------
# helpers


# --------------------------------------------------------------------------------------
# continuous


def summarize(values: np.ndarray, *, missing: int = 0) -> ContinuousSummary:
    """Return n, mean, SD (n - 1), median, quartiles (R type 7) and range."""
    values = np.asarray(values, dtype=float)
    n = values.size
    if n == 0:
        return ContinuousSummary(0, missing, None, None, None, None, None, None, None)
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return ContinuousSummary(
        n=n,
        missing=missing,
        mean=float(values.mean()),
        sd=float(values.std(ddof=1)) if n > 1 else None,
        median=float(median),
        q1=float(q1),
        q3=float(q3),
        minimum=float(values.min()),
        maximum=float(values.max()),
    )


def anova(samples: Sequence[np.ndarray]) -> StatTest:
    """One-way ANOVA F test, as ``summary(aov(y ~ group))``.

    Assumes normally distributed values with equal variances across groups. Groups
    without observations are left out.
    """
    groups = [np.asarray(s, dtype=float) for s in samples if len(s) > 0]
    k = len(groups)
    n = sum(g.size for g in groups)
    name = "One-way ANOVA"
    if k < 2 or n - k < 1:
        return StatTest(name, None, None, None, "needs two groups and n > groups")
    if all(np.all(g == g[0]) for g in groups):
        return StatTest(name, None, float(k - 1), None, "no variation within groups")
    result = stats.f_oneway(*groups)
    return StatTest(name, float(result.statistic), float(k - 1), float(result.pvalue))


def kruskal_wallis(samples: Sequence[np.ndarray]) -> StatTest:
    """Kruskal-Wallis rank-sum test with the tie correction, as ``kruskal.test``.

    Assumes only independent observations; compares distributions (location
    shift when shapes agree) without normality.
    """
    groups = [np.asarray(s, dtype=float) for s in samples if len(s) > 0]
    name = "Kruskal-Wallis"
    if len(groups) < 2:
        return StatTest(name, None, None, None, "needs two groups")
    if np.ptp(np.concatenate(groups)) == 0:
        return StatTest(name, None, float(len(groups) - 1), None, "all values equal")
    statistic, p = stats.kruskal(*groups)
    return StatTest(name, float(statistic), float(len(groups) - 1), float(p))


def continuous_row(df: pd.DataFrame, *, variable: str, group: str) -> ContinuousRow:
    """Summarise ``variable`` by ``group`` and test it (ANOVA and Kruskal-Wallis)."""
    codes, labels = factor_codes(df[group])
    values = pd.to_numeric(df[variable], errors="raise").to_numpy(dtype=float)
    in_group = codes >= 0
    present = ~np.isnan(values)
    summaries = {}
    samples = []
    # sorted: sums in a fixed order, so that the means, SDs and F test do not
    # depend on the order of the rows (to the last digit: counted values give
    # the same numbers as the patients' rows)
    for j, label in enumerate(labels):
        mine = codes == j
        sample = np.sort(values[mine & present])
        samples.append(sample)
        summaries[label] = summarize(sample, missing=int((mine & ~present).sum()))
    overall = summarize(
        np.sort(values[in_group & present]),
        missing=int((in_group & ~present).sum()),
    )
    return ContinuousRow(
        variable=variable,
        groups=summaries,
        overall=overall,
        anova=anova(samples),
        kruskal=kruskal_wallis(samples),
    )


# --------------------------------------------------------------------------------------
# contingency tables


def _clean_table(table: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
    counts = np.asarray(table)
    if counts.ndim != 2:
        raise ValueError("a contingency table must be two-dimensional")
    if np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise ValueError("a contingency table holds non-negative integer counts")
    counts = counts.astype(np.int64)
    return counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]


def expected_counts(table: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
    """Expected counts under independence (row total x column total / n)."""
    return stats.contingency.expected_freq(_clean_table(table))


def chi_square(table: np.ndarray | Sequence[Sequence[int]]) -> StatTest:
    """Pearson's chi-square test of independence, as R's ``chisq.test(table)``.

    Yates' continuity correction is applied to 2 x 2 tables only, as R does by
    default. Empty rows and columns are dropped first. Assumes independent
    observations and expected counts of 5 or more (otherwise use
    :func:`fisher_exact`).
    """
    counts = _clean_table(table)
    r, c = counts.shape
    if r < 2 or c < 2:
        return StatTest("Pearson's chi-square", None, None, None, "needs a 2 x 2 table")
    # scipy corrects only when dof = 1, i.e. 2 x 2 once empty rows are dropped;
    # there every cell is equally far from its expected count, so its per-cell
    # min(0.5, |O - E|) is R's min(0.5, min |O - E|)
    statistic, p_value, dof, _ = stats.chi2_contingency(counts)
    yates = r == 2 and c == 2
    name = "Pearson's chi-square" + (" with Yates' correction" if yates else "")
    return StatTest(name, float(statistic), float(dof), float(p_value))


def _log_factorial(n: int) -> np.ndarray:
    return special.gammaln(np.arange(n + 1) + 1.0)


def _fisher_2x2(counts: np.ndarray) -> float:
    """R's two-sided 2 x 2 rule: sum of hypergeometric probabilities <= observed."""
    m, n = counts[:, 0].sum(), counts[:, 1].sum()
    k = counts[0].sum()
    x = counts[0, 0]
    support = np.arange(max(0, k - n), min(k, m) + 1)
    logd = stats.hypergeom.logpmf(support, m + n, m, k)
    d = np.exp(logd - logd.max())
    d /= d.sum()
    observed = d[x - support[0]]
    return float(min(1.0, d[d <= observed * _RELATIVE_ERROR_2X2].sum()))


class _TooLarge(Exception):
    pass


def _column_vectors(
    states: np.ndarray, total: int, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every way to fill a column of sum ``total`` under each state's row totals.

    Returns (owner, vectors): one row per vector x with 0 <= x_i <= state_i and
    sum(x) == total, grouped by the index of the state it belongs to. Raises
    ``_TooLarge`` past ``limit`` vectors.
    """
    count, r = states.shape
    room_after = np.cumsum(states[:, ::-1], axis=1)[:, ::-1] - states
    owner = np.arange(count)
    # int32 halves the memory of these, the largest arrays of the exact test
    partial = np.zeros((count, 0), dtype=np.int32)
    left = np.full(count, total, dtype=np.int32)
    for i in range(r - 1):
        lo = np.maximum(0, left - room_after[owner, i])
        width = np.maximum(np.minimum(states[owner, i], left) - lo + 1, 0)
        if width.sum() > limit:
            raise _TooLarge
        parent = np.repeat(np.arange(owner.size), width)
        value = lo[parent] + (
            np.arange(width.sum()) - np.repeat(np.cumsum(width) - width, width)
        )
        partial = np.column_stack((partial[parent], value))
        left = left[parent] - value
        owner = owner[parent]
    return owner, np.column_stack((partial, left))


def _unique_rows(margins: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``margins`` and, for each input row, its distinct row."""
    r = margins.shape[1]
    if (n + 1) ** r < 2**62:
        # one integer key per row is much faster than np.unique(axis=0)
        keys = margins.astype(np.int64) @ ((n + 1) ** np.arange(r, dtype=np.int64))
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return margins[first], inverse.ravel()
    distinct, inverse = np.unique(margins, axis=0, return_inverse=True)
    return distinct, inverse.ravel()


def _fisher_rxc(counts: np.ndarray, max_steps: int) -> float:
    """Exact r x c Fisher test by a network algorithm, as R's FEXACT defines it.

    The P value sums the probabilities of all tables with the observed margins
    whose probability is at most the observed one (log-probability within
    FEXACT's tolerance). With T = sum of log(x!) over the cells, a table's
    probability is exp(constant - T), so "as extreme" means T >= T_observed - tol.

    Tables are built column by column, smallest columns first. The state (node)
    after some columns is the sorted vector of remaining row totals: the rest of
    the table's distribution depends on nothing else. Three passes:

    1. enumerate the nodes reachable at each level and the arcs between them
       (one arc per way of filling the next column, weighted by its sum of log x!);
    2. backwards, the exact smallest and largest remaining T from each node; the
       last two columns are enumerated together (the second-to-last fixes the
       last);
    3. forwards, carry paths as (node, T so far, number of paths), merging paths
       with equal T; a path whose every completion is as extreme as observed is
       settled with the closed-form mass of its completions, one whose no
       completion is is dropped, the rest are extended.

    Raises ``_TooLarge`` when the arcs or live paths of a level exceed
    ``max_steps``.
    """
    if counts.shape[0] > counts.shape[1]:
        counts = counts.T
    rows = counts.sum(axis=1).astype(np.int32)
    cols = np.sort(counts.sum(axis=0)).astype(np.int32)
    depth = cols.size - 2
    n = int(rows.sum())
    lf = _log_factorial(n)
    constant = lf[rows].sum() + lf[cols].sum() - lf[n]
    threshold = lf[counts].sum() - _FEXACT_TOLERANCE

    # 1. nodes and arcs
    nodes = [np.sort(rows)[None, :]]
    arcs = []  # per level: (offsets into the arcs by node, child node, arc T)
    for j in range(depth):
        owner, vectors = _column_vectors(nodes[j], int(cols[j]), max_steps)
        distinct, child = _unique_rows(np.sort(nodes[j][owner] - vectors, axis=1), n)
        nodes.append(distinct)
        offsets = np.concatenate(([0], np.cumsum(np.bincount(owner))))
        arcs.append((offsets, child, lf[vectors].sum(axis=1)))

    # 2. the last two columns in full, then exact bounds on the remaining T
    last = nodes[depth]
    owner, vectors = _column_vectors(last, int(cols[depth]), max_steps)
    future = lf[vectors].sum(axis=1) + lf[last[owner] - vectors].sum(axis=1)
    seg_start = np.concatenate(([0], np.cumsum(np.bincount(owner))))
    low = np.minimum.reduceat(future, seg_start[:-1])
    high = np.maximum.reduceat(future, seg_start[:-1])
    bounds = [(low, high)]
    for offsets, child, cell in reversed(arcs):
        low = np.minimum.reduceat(cell + low[child], offsets[:-1])
        high = np.maximum.reduceat(cell + high[child], offsets[:-1])
        bounds.append((low, high))
    bounds.reverse()

    # 3. paths
    node = np.zeros(1, dtype=np.int64)
    past = np.zeros(1)
    weight = np.ones(1)
    p_value = 0.0
    for j in range(depth):
        low, high = bounds[j]
        settled = past + low[node] >= threshold
        if settled.any():
            state = nodes[j][node[settled]]
            # sum over completions of exp(-T) = N! / (prod rows! prod cols!)
            log_mass = lf[cols[j:].sum()] - lf[state].sum(axis=1) - lf[cols[j:]].sum()
            p_value += (
                weight[settled] * np.exp(constant - past[settled] + log_mass)
            ).sum()
        alive = ~settled & (past + high[node] >= threshold)
        node, past, weight = node[alive], past[alive], weight[alive]
        if node.size == 0:
            return min(1.0, float(p_value))
        offsets, child, cell = arcs[j]
        length = offsets[node + 1] - offsets[node]
        if length.sum() > max_steps:
            raise _TooLarge
        path = np.repeat(np.arange(node.size), length)
        arc = offsets[node][path] + (
            np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
        )
        node, past, weight = child[arc], past[path] + cell[arc], weight[path]
        # merge paths reaching the same node with the same T (to 1e-9; FEXACT
        # also pools nearly equal past probabilities)
        rounded = np.rint(past * 1e9).astype(np.int64)
        order = np.lexsort((rounded, node))
        node, past, weight = node[order], past[order], weight[order]
        rounded = rounded[order]
        starts = np.flatnonzero(
            np.concatenate(
                ([True], (node[1:] != node[:-1]) | (rounded[1:] != rounded[:-1]))
            )
        )
        node, past = node[starts], past[starts]
        weight = np.add.reduceat(weight, starts)

    # last two columns, for the nodes live paths reach: sort each node's
    # completions, and sum those at least as extreme by a binary search per path
    needed = np.zeros(len(last), dtype=bool)
    needed[node] = True
    keep = needed[owner]
    owner, future = owner[keep], future[keep]
    span = float(future.max() - future.min()) + 1.0 if future.size else 1.0
    if len(last) * span < 1e6:
        # one float sort on node + scaled T: much faster than a lexsort, and the
        # key's rounding (< 1e-10) is far below FEXACT's tolerance
        order = np.argsort(owner * span + (future - future.min()))
    else:
        order = np.lexsort((future, owner))
    owner, future = owner[order], future[order]
    seg_start = np.searchsorted(owner, np.arange(len(last) + 1))
    # tail[k] = sum of exp(future[start] - future) from k to the segment's end
    scaled = np.exp(future[seg_start[owner]] - future)
    running = np.cumsum(scaled)
    tail = running[seg_start[owner + 1] - 1] - running + scaled
    lo, hi = seg_start[node], seg_start[node + 1]
    target = threshold - past
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        below = (lo < hi) & (future[np.minimum(mid, future.size - 1)] < target)
        lo = np.where(below, mid + 1, lo)
        hi = np.where(below | (lo >= hi), hi, mid)
    found = lo < seg_start[node + 1]
    p_value += (
        weight[found]
        * np.exp(constant - past[found] - future[seg_start[node[found]]])
        * tail[lo[found]]
    ).sum()
    return min(1.0, float(p_value))


def _fisher_monte_carlo(counts: np.ndarray) -> float:
    """P value from tables drawn with the observed margins, as R's
    ``fisher.test(simulate.p.value = TRUE)``: (1 + #as extreme) / (B + 1)."""
    rows, cols = counts.sum(axis=1), counts.sum(axis=0)
    lf = _log_factorial(int(counts.sum()))
    observed_t = lf[counts].sum()
    draws = stats.random_table(rows, cols, seed=FISHER_MONTE_CARLO_SEED).rvs(
        FISHER_MONTE_CARLO_DRAWS, method="patefield"
    )
    t = lf[draws].sum(axis=(1, 2))
    extreme = int((t >= observed_t - _FEXACT_TOLERANCE).sum())
    return (1 + extreme) / (FISHER_MONTE_CARLO_DRAWS + 1)


def fisher_exact(
    table: np.ndarray | Sequence[Sequence[int]], *, max_steps: int = FISHER_MAX_STEPS
) -> StatTest:
    """Fisher's exact test of independence, two-sided, as R's ``fisher.test``.

    2 x 2 tables use R's rule (hypergeometric probabilities no larger than the
    observed one, relative error 1e-7); larger tables an exact network algorithm
    with FEXACT's definition and tolerance. scipy's ``fisher_exact`` is not used
    because its r x c P value is a Monte Carlo estimate. Empty rows and columns are
    dropped first. Conditions on both margins; assumes independent observations.

    When the exact computation would exceed ``max_steps``, the P value is a Monte
    Carlo estimate with a fixed seed (R's ``simulate.p.value``), and ``note`` says so.
    """
    counts = _clean_table(table)
    name = "Fisher's exact test"
    if counts.shape[0] < 2 or counts.shape[1] < 2:
        return StatTest(name, None, None, None, "needs a 2 x 2 table")
    if counts.shape == (2, 2):
        return StatTest(name, None, None, _fisher_2x2(counts))
    try:
        return StatTest(name, None, None, _fisher_rxc(counts, max_steps))
    except _TooLarge:
        p = _fisher_monte_carlo(counts)
        note = (
            f"table too large for the exact computation: Monte Carlo P value from "
            f"{FISHER_MONTE_CARLO_DRAWS} tables (seed {FISHER_MONTE_CARLO_SEED})"
        )
        return StatTest(name + " (Monte Carlo)", None, None, p, note)


def independence_test(table: np.ndarray | Sequence[Sequence[int]]) -> StatTest:
    """Chi-square, or Fisher's exact test when any expected count is below 5."""
    counts = _clean_table(table)
    if counts.shape[0] < 2 or counts.shape[1] < 2:
        return chi_square(counts)
    if expected_counts(counts).min() < MIN_EXPECTED:
        return fisher_exact(counts)
    return chi_square(counts)


# --------------------------------------------------------------------------------------
# trend


def prop_trend(
    events: Sequence[int], totals: Sequence[int], scores: Sequence[float] | None = None
) -> StatTest:
    """Chi-square test for trend in proportions, as R's ``prop.trend.test``.

    The Cochran-Armitage statistic [sum x_i (s_i - s_bar)]^2 / (p (1 - p)
    sum n_i (s_i - s_bar)^2), with s_bar weighted by n_i and p the overall
    proportion; chi-square on 1 df. Scores default to 1, 2, ... (R's default).
    Assumes independent observations and that the scores reflect the spacing of
    the ordered levels; it tests a linear trend, not any difference.
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    s = np.arange(1, x.size + 1, dtype=float) if scores is None else np.asarray(scores)
    s = s.astype(float)
    if not x.size == n.size == s.size:
        raise ValueError("events, totals and scores must have the same length")
    name = "Chi-square test for trend"
    keep = n > 0
    x, n, s = x[keep], n[keep], s[keep]
    p = x.sum() / n.sum() if n.sum() > 0 else float("nan")
    centred = s - (n * s).sum() / n.sum() if n.sum() > 0 else s
    spread = (n * centred**2).sum()
    if x.size < 2 or not 0 < p < 1 or spread == 0:
        return StatTest(name, None, 1.0, None, "needs two levels and both outcomes")
    statistic = float((x * centred).sum() ** 2 / (p * (1 - p) * spread))
    return StatTest(name, statistic, 1.0, float(special.chdtrc(1, statistic)))


def _yes_no(values: pd.Series) -> np.ndarray:
    """1.0 for yes, 0.0 for no, NaN for missing, from bool or 0/1 values."""
    out = pd.to_numeric(values.astype("object"), errors="raise").to_numpy(
        dtype=float, na_value=np.nan
    )
    if np.any((out != 0) & (out != 1) & ~np.isnan(out)):
        raise ValueError("the outcome must be yes/no: boolean or 0/1")
    return out


def trend_test(
    df: pd.DataFrame,
    *,
    factor: str,
    outcome: str,
    scores: Sequence[float] | None = None,
) -> Trend:
    """Cochran-Armitage test for trend of a yes/no ``outcome`` over ordered ``factor``.

    Levels come in category order for a categorical ``factor`` (make it ordered
    with the clinical order, e.g. extent of liver disease < 25% < 50% ...),
    otherwise sorted. ``scores`` give one number per level (default 1, 2, ...).
    Rows missing either value are left out. See :func:`prop_trend`.
    """
    codes, levels = factor_codes(df[factor])
    yes = _yes_no(df[outcome])
    keep = (codes >= 0) & ~np.isnan(yes)
    k = len(levels)
    totals = np.bincount(codes[keep], minlength=k)
    events = np.bincount(codes[keep], weights=yes[keep], minlength=k)
    if scores is not None and len(scores) != k:
        raise ValueError(f"{k} levels ({levels}) but {len(scores)} scores")
    score = tuple(float(v) for v in (scores if scores is not None else range(1, k + 1)))
    return Trend(
        levels=levels,
        scores=score,
        events=tuple(int(v) for v in np.rint(events)),
        totals=tuple(int(v) for v in totals),
        test=prop_trend(events, totals, score),
    )


# --------------------------------------------------------------------------------------
# categorical rows and the table


def categorical_row(
    df: pd.DataFrame, *, variable: str, group: str, ordinal: bool = False
) -> CategoricalRow:
    """Count ``variable`` by ``group`` and test independence.

    Fisher's exact test replaces chi-square when any expected count is below
    :data:`MIN_EXPECTED`. With ``ordinal`` and exactly two groups the
    Cochran-Armitage trend test (levels scored 1, 2, ...) is added.
    """
    group_codes, groups = factor_codes(df[group])
    level_codes, levels = factor_codes(df[variable])
    in_group = group_codes >= 0
    present = in_group & (level_codes >= 0)
    table = np.zeros((len(levels), len(groups)), dtype=np.int64)
    np.add.at(table, (level_codes[present], group_codes[present]), 1)
    counts, percents, missing = {}, {}, {}
    for j, g in enumerate(groups):
        column = table[:, j]
        total = column.sum()
        counts[g] = dict(zip(levels, (int(v) for v in column), strict=True))
        percents[g] = {
            lv: (100.0 * v / total if total else float("nan"))
            for lv, v in zip(levels, column, strict=True)
        }
        missing[g] = int(((group_codes == j) & (level_codes < 0)).sum())
    cleaned = _clean_table(table)
    expected_min = (
        float(expected_counts(cleaned).min()) if min(cleaned.shape) >= 2 else None
    )
    chi = chi_square(cleaned)
    # independence_test's rule, without cleaning and counting the table again
    small = expected_min is not None and expected_min < MIN_EXPECTED
    trend = None
    if ordinal and len(groups) == 2:
        trend = prop_trend(table[:, 1], table.sum(axis=1))
    return CategoricalRow(
        variable=variable,
        levels=levels,
        counts=counts,
        percents=percents,
        overall=dict(zip(levels, (int(v) for v in table.sum(axis=1)), strict=True)),
        missing=missing,
        expected_min=expected_min,
        test=fisher_exact(cleaned) if small else chi,
        chi_square=chi,
        trend=trend,
    )


def baseline_table(
    df: pd.DataFrame,
    *,
    frames: Mapping[str, pd.DataFrame] | None = None,
    group: str,
    continuous: Sequence[str] = (),
    categorical: Sequence[str] = (),
    ordinal: Sequence[str] = (),
) -> BaselineTable:
    """Build a baseline characteristics table by ``group``.

    Parameters
    ----------
    df
        One row per patient.
    frames
        One frame per variable (rows: patients, with the ``group`` column) when
        the variables were read apart; ``df`` then gives only the groups.
    group
        The grouping column (e.g. resection strategy).
    continuous
        Numeric columns: mean (SD), median (IQR), ANOVA and Kruskal-Wallis.
    categorical
        Unordered categorical columns: n (%), chi-square or Fisher's exact test.
    ordinal
        Ordered categorical columns (give them an ordered categorical dtype for
        the clinical order): as categorical, plus the trend test with two groups.

    Rows come in the order continuous, categorical, ordinal, each as listed.
    """
    codes, groups = factor_codes(df[group])
    n = {g: int((codes == j).sum()) for j, g in enumerate(groups)}

    def of(variable: str) -> pd.DataFrame:
        return df if frames is None else frames[variable]

    rows: list[ContinuousRow | CategoricalRow] = [
        continuous_row(of(v), variable=v, group=group) for v in continuous
    ]
    rows += [categorical_row(of(v), variable=v, group=group) for v in categorical]
    rows += [
        categorical_row(of(v), variable=v, group=group, ordinal=True) for v in ordinal
    ]
    return BaselineTable(group=group, groups=groups, n=n, rows=rows)


__all__ = [
    "MIN_EXPECTED",
    "BaselineTable",
    "CategoricalRow",
    "ContinuousRow",
    "ContinuousSummary",
    "StatTest",
    "Trend",
    "anova",
    "baseline_table",
    "categorical_row",
    "chi_square",
    "continuous_row",
    "expected_counts",
    "fisher_exact",
    "independence_test",
    "kruskal_wallis",
    "prop_trend",
    "summarize",
    "trend_test",
]
