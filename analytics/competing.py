"""Competing risks on tidy data: cumulative incidence and Gray's test.

When patients can fail in more than one way (die of colorectal cancer, or of
something else first), one minus a Kaplan-Meier curve that censors the other
causes overstates the chance of the cause of interest: it pretends the patients
who died of other causes could still have died of the cancer. The cumulative
incidence function (CIF) of a cause is the probability of having failed from
that cause by time t with the other causes in play; the causes' CIFs and the
probability of being event-free add up to 1.

Every function takes a :class:`pandas.DataFrame` plus column names, as
:mod:`analytics.survival` does, and returns small frozen dataclasses. Nothing
here touches Django or the database.

The numbers are those of R's ``cmprsk`` package (2.2-11): ``cuminc`` for the
estimates, their variances and Gray's test, ``timepoints`` for the values at
given times. The estimates also equal ``survival``'s multi-state ``survfit``
(the Aalen-Johansen estimator). ``tests/fixtures/r/competing.R`` prints the
reference values the tests pin them to. Both are computed here with numpy
rather than called from a library because no Python package reproduces them:
lifelines' ``AalenJohansenFitter`` (0.30) breaks tied times apart by random
jitter, so its estimate differs from R's wherever times tie (whole days, in a
registry), its variance is computed one event time at a time, and it has no
test between groups.

Shared assumptions
------------------
* ``status`` holds a code per row: ``censored`` (0 by default) for a censored
  time, any other value for the cause the patient failed from. Causes are the
  distinct non-censored codes, sorted (R's ``sort(unique())``), and compared
  as text (``"1"``, ``"recurrence"``).
* Right-censored data with independent censoring; ``duration`` finite, >= 0.
* Rows with a missing duration, status, group or weight are dropped (R's
  ``na.omit``); ``weights`` counts patients per row, as in
  :mod:`analytics.survival`, and gives the same numbers as one row each.
* Nearly equal times are tied as R's ``aeqSurv`` does (as :mod:`analytics.survival`
  does); cmprsk ties only exactly equal times, which is the same for times in
  whole days or whole days divided by a unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.survival import (
    ALL,
    CONF_TYPES,
    ConfType,
    _chi2_sf,
    _confidence_limits,
    _fix_ties,
    _float_or_none,
    _readonly,
    _require_columns,
    factor_codes,
)

#: Gray's test is not computed when its variance matrix is singular: R's ``qr``
#: rank tolerance.
RANK_TOLERANCE = 1e-7


@dataclass(frozen=True)
class IncidenceAt:
    """The cumulative incidence of one cause at one time, as ``timepoints`` gives.

    ``estimable`` is False when ``time`` is beyond the group's last follow-up
    time (cmprsk gives NA): the estimate, variance and limits are then None. A
    limit is also None where R's would be NA (an estimate of 0 under the log
    and log-log intervals, of 1 under log-log).
    """

    time: float
    estimate: float | None
    variance: float | None
    lower: float | None
    upper: float | None
    estimable: bool

    @property
    def std_err(self) -> float | None:
        """Return the standard error (the square root of cmprsk's variance)."""
        return None if self.variance is None else float(np.sqrt(self.variance))

    def to_dict(self) -> dict:
        """Return the value as JSON-ready data."""
        return {
            "time": self.time,
            "estimate": self.estimate,
            "std_err": self.std_err,
            "lower": self.lower,
            "upper": self.upper,
            "estimable": self.estimable,
        }


@dataclass(frozen=True, eq=False)
class CumulativeIncidence:
    """The cumulative incidence of one cause in one group, a step function.

    ``time`` holds the distinct times at which the cause occurred, ``estimate``
    the Aalen-Johansen estimate just after each, and ``variance`` its variance
    as cmprsk's ``cuminc`` computes it (Gray's asymptotic formula, updated at the
    cause's own times only, as cmprsk does). Before the first time the estimate
    is 0 with variance 0; it stays at its last value until ``last_time``, the
    group's longest follow-up (of any status), and is not estimable beyond.
    """

    group: str
    cause: str
    n: int
    events: int
    last_time: float
    conf_type: str
    conf_level: float
    time: np.ndarray
    estimate: np.ndarray
    variance: np.ndarray

    def at(self, times: Iterable[float]) -> list[IncidenceAt]:
        """Return the estimate at each of `times`, as ``cmprsk::timepoints`` does,
        with pointwise limits (:func:`confidence_limits`)."""
        wanted = np.asarray(list(times), dtype=float)
        if np.any(~np.isfinite(wanted)) or np.any(wanted < 0):
            raise ValueError("times must be finite and >= 0")
        row = np.searchsorted(self.time, wanted, side="right") - 1
        # a leading 0 for "before the first time" (and for a curve without any)
        est = np.concatenate(([0.0], self.estimate))[row + 1]
        var = np.concatenate(([0.0], self.variance))[row + 1]
        lower, upper = confidence_limits(est, var, self.conf_type, self.conf_level)
        out = []
        for i, t in enumerate(wanted):
            if t > self.last_time:
                out.append(IncidenceAt(float(t), None, None, None, None, False))
            else:
                out.append(
                    IncidenceAt(
                        time=float(t),
                        estimate=float(est[i]),
                        variance=float(var[i]),
                        lower=_float_or_none(lower[i]),
                        upper=_float_or_none(upper[i]),
                        estimable=True,
                    )
                )
        return out

    def steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (time, estimate, variance) laid out as ``cuminc`` returns them.

        Every corner of the step function: (0, 0, 0), then each event time twice
        (the values before and after the jump), then the last follow-up time with
        the final values; ready to draw by joining the points.
        """
        k = self.time.size
        time = np.concatenate(([0.0], np.repeat(self.time, 2), [self.last_time]))
        before_est = np.concatenate(([0.0], self.estimate[:-1])) if k else []
        before_var = np.concatenate(([0.0], self.variance[:-1])) if k else []
        est = np.empty(2 * k + 2)
        var = np.empty(2 * k + 2)
        est[0] = var[0] = 0.0
        est[1:-1:2], est[2:-1:2] = before_est, self.estimate
        var[1:-1:2], var[2:-1:2] = before_var, self.variance
        est[-1] = self.estimate[-1] if k else 0.0
        var[-1] = self.variance[-1] if k else 0.0
        return time, est, var


@dataclass(frozen=True)
class GrayTest:
    """Gray's test that the cumulative incidence of one cause is equal in all
    groups (``cuminc``'s ``Tests`` row): a chi-square on ``df`` = groups - 1.

    ``statistic`` and ``p_value`` are None when the variance matrix is singular
    (cmprsk reports a statistic of -1).
    """

    cause: str
    statistic: float | None
    df: int
    p_value: float | None
    groups: tuple[str, ...]
    strata: int = 1

    def to_dict(self) -> dict:
        """Return the test as JSON-ready data."""
        return {
            "cause": self.cause,
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "groups": list(self.groups),
            "strata": self.strata,
        }


def confidence_limits(
    estimate: np.ndarray, variance: np.ndarray, conf_type: str, conf_level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return pointwise limits of cumulative incidence as R's survfit draws them
    for a state probability: ``survfit_confint(p, sqrt(var), logse = FALSE)``.

    NaN marks R's NA: the log and log-log limits of an estimate of 0, the
    log-log limits of an estimate of 1. cmprsk itself gives no limits; these
    apply survival's formulas to cmprsk's variance.
    """
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, not {conf_type!r}")
    estimate = np.asarray(estimate, dtype=float)
    se = np.sqrt(np.asarray(variance, dtype=float))
    with np.errstate(all="ignore"):
        se_log = np.where(se == 0, 0.0, se / estimate)
    return _confidence_limits(estimate, se_log, conf_type, conf_level)


# --------------------------------------------------------------------------------------
# Preparing the data


@dataclass(frozen=True)
class _Prepared:
    time: np.ndarray
    cause: np.ndarray  # index into causes, -1 for censored
    weight: np.ndarray
    group: np.ndarray
    stratum: np.ndarray
    causes: tuple[str, ...]
    groups: tuple[str, ...]
    strata: int


def _prepare(
    df: pd.DataFrame,
    *,
    duration: str,
    status: str,
    group: str | None,
    strata: str | None,
    weights: str | None,
    censored,
    causes: Sequence = (),
) -> _Prepared:
    _require_columns(df, [c for c in (duration, status, group, strata, weights) if c])
    time = df[duration].to_numpy(dtype=float, na_value=np.nan)
    codes = df[status]
    w = (
        df[weights].to_numpy(dtype=float, na_value=np.nan)
        if weights
        else np.ones(time.size)
    )
    if group:
        gcode, glabels = factor_codes(df[group])
    else:
        gcode, glabels = np.zeros(time.size, dtype=np.int64), (ALL,)
    if strata:
        scode, _ = factor_codes(df[strata])
    else:
        scode = np.zeros(time.size, dtype=np.int64)
    keep = (
        ~np.isnan(time)
        & codes.notna().to_numpy()
        & ~np.isnan(w)
        & (gcode >= 0)
        & (scode >= 0)
    )
    if np.any(~np.isfinite(time[keep])) or np.any(time[keep] < 0):
        raise ValueError(f"{duration!r} must be finite and >= 0")
    if np.any(w[keep] < 0) or np.any(w[keep] != np.round(w[keep])):
        raise ValueError(f"{weights!r} must hold non-negative integer counts")
    keep &= w > 0
    failed = keep & (codes != censored).to_numpy()
    found = sorted(set(pd.unique(codes[failed])) | set(causes))
    causes = tuple(str(c) for c in found)
    cause = np.full(time.size, -1, dtype=np.int64)
    for i, c in enumerate(found):
        cause[failed & (codes == c).to_numpy()] = i
    time, cause, w = time[keep], cause[keep], w[keep]
    gcode, scode = gcode[keep], scode[keep]
    # groups and strata without patients lose their labels (cuminc's table > 0)
    used = np.unique(gcode)
    remap = np.full(len(glabels), -1)
    remap[used] = np.arange(used.size)
    return _Prepared(
        time=_fix_ties(time),
        cause=cause,
        weight=w,
        group=remap[gcode],
        stratum=scode,
        causes=causes,
        groups=tuple(glabels[i] for i in used),
        strata=int(np.unique(scode).size),
    )


def _tabulate(
    time: np.ndarray, cause: np.ndarray, weight: np.ndarray, nc: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the distinct times, the counts failing from each cause at each
    (times x causes) and the numbers at risk just before each."""
    times, where = np.unique(time, return_inverse=True)
    m = times.size
    at_risk = np.bincount(where, weights=weight, minlength=m)[::-1].cumsum()[::-1]
    hit = cause >= 0
    cell = where[hit] * nc + cause[hit]
    failed = np.bincount(cell, weights=weight[hit], minlength=m * nc)
    return times, failed.reshape(m, nc), at_risk


# --------------------------------------------------------------------------------------
# Cumulative incidence


def cumulative_incidence(
    df: pd.DataFrame,
    *,
    duration: str = "months",
    status: str = "status",
    group: str | None = None,
    weights: str | None = None,
    censored=0,
    causes: Sequence = (),
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
) -> dict[str, dict[str, CumulativeIncidence]]:
    """Estimate the cumulative incidence of every cause per group, as R's
    ``cmprsk::cuminc(time, status, group)`` does.

    Parameters
    ----------
    df
        One row per patient, or counted rows (``weights``).
    duration, status
        Column names: the time to the first event or censoring, and what ended
        it (``censored``, or the cause).
    group
        Column to split by (R's factor order); None gives one group keyed
        :data:`analytics.survival.ALL`.
    causes
        Causes to estimate even where no patient had them (a curve of zeros),
        besides those found.
    conf_type, conf_level
        The pointwise limits :meth:`CumulativeIncidence.at` gives.

    Returns
    -------
    dict
        Group -> cause -> :class:`CumulativeIncidence`, in group and cause
        order. Every cause found anywhere has a curve in every group (all
        zeros where the group had none of it), as ``cuminc`` gives.

    Notes
    -----
    The Aalen-Johansen estimate: at each time t with d_k(t) failures from cause
    k among n(t) at risk, F_k jumps by S(t-) d_k(t) / n(t), where S is the
    Kaplan-Meier estimate of being free of every cause. The variance is Gray's
    (1988) delta-method formula as ``cuminc`` computes it, with its correction
    for tied failures.
    """
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, not {conf_type!r}")
    if not 0 < conf_level < 1:
        raise ValueError("conf_level must be between 0 and 1")
    data = _prepare(
        df,
        duration=duration,
        status=status,
        group=group,
        strata=None,
        weights=weights,
        censored=censored,
        causes=causes,
    )
    result: dict[str, dict[str, CumulativeIncidence]] = {}
    for g, label in enumerate(data.groups):
        mine = data.group == g
        time, cause, weight = data.time[mine], data.cause[mine], data.weight[mine]
        times, failed, at_risk = _tabulate(time, cause, weight, len(data.causes))
        result[label] = {
            name: _cif(
                label,
                name,
                times,
                failed[:, k],
                failed.sum(axis=1),
                at_risk,
                conf_type=conf_type,
                conf_level=conf_level,
            )
            for k, name in enumerate(data.causes)
        }
    return result


def _cif(
    group: str,
    cause: str,
    times: np.ndarray,
    d1: np.ndarray,
    d_all: np.ndarray,
    at_risk: np.ndarray,
    *,
    conf_type: str,
    conf_level: float,
) -> CumulativeIncidence:
    """One curve: cmprsk's ``cinc`` routine, vectorised over the distinct times."""
    n = at_risk
    d2 = d_all - d1
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(n > 0, (n - d_all) / n, 1.0)
        fkn = np.cumprod(step)  # event-free survival just after each time
        fk = np.concatenate(([1.0], fkn[:-1]))  # ... and just before
        f = np.cumsum(np.where(n > 0, fk * d1 / n, 0.0))

        def increments(d, t3, t4):
            t5 = np.where(d > 1, 1 - (d - 1) / (n - 1), 1.0)
            t6 = fk * fk * t5 * d / (n * n)
            return t4 * t4 * t6, t3 * t4 * t6, t3 * t3 * t6

        inv = np.where(fkn > 0, 1 / fkn, 0.0)
        other = (d2 > 0) & (fkn > 0)
        o1, o2, o3 = increments(d2, inv, f * inv)
        own = d1 > 0
        c1, c2, c3 = increments(d1, inv, 1 + inv * f)
    v1 = np.cumsum(np.where(other, o1, 0) + np.where(own, c1, 0))
    v2 = np.cumsum(np.where(other, o2, 0) + np.where(own, c2, 0))
    v3 = np.cumsum(np.where(other, o3, 0) + np.where(own, c3, 0))
    variance = v1 + f * f * v3 - 2 * f * v2
    return CumulativeIncidence(
        group=group,
        cause=cause,
        n=int(round(n[0])) if n.size else 0,
        events=int(round(d1.sum())),
        last_time=float(times[-1]) if times.size else 0.0,
        conf_type=conf_type,
        conf_level=conf_level,
        time=_readonly(times[own]),
        estimate=_readonly(f[own]),
        variance=_readonly(variance[own]),
    )


# --------------------------------------------------------------------------------------
# Gray's test


def gray_test(
    df: pd.DataFrame,
    *,
    duration: str = "months",
    status: str = "status",
    group: str,
    strata: str | None = None,
    weights: str | None = None,
    censored=0,
    causes: Sequence = (),
    rho: float = 0.0,
) -> dict[str, GrayTest]:
    """Test, for every cause, that its cumulative incidence is the same in all
    groups: Gray's (1988) K-sample test, as ``cmprsk::cuminc`` reports it.

    Parameters
    ----------
    strata
        Column of strata: the scores and their variance are summed over strata
        (cuminc's ``strata``); None (cuminc's default) is one stratum.
    rho
        Power of the weight function (1 - F(t-))^rho; 0, cuminc's default, weighs
        all times alike, the analogue of the log-rank test.

    Returns
    -------
    dict
        Cause -> :class:`GrayTest`, in cause order (empty with fewer than two
        groups: cuminc then reports no test).

    Notes
    -----
    Compares subdistribution hazards: it asks whether the groups fail from the
    cause at different rates in the presence of the other causes, not whether
    the cause-specific hazards differ. Like the log-rank test it is most
    powerful when one group's subdistribution hazard is a constant multiple of
    another's; it assumes independent censoring.
    """
    data = _prepare(
        df,
        duration=duration,
        status=status,
        group=group,
        strata=strata,
        weights=weights,
        censored=censored,
        causes=causes,
    )
    ng = len(data.groups)
    if ng < 2:
        return {}
    tests = {}
    for k, cause in enumerate(data.causes):
        # cmprsk's coding for crstm: 1 the cause of interest, 2 any other cause
        code = np.where(data.cause == k, 1, np.where(data.cause >= 0, 2, 0))
        score = np.zeros(ng - 1)
        var = np.zeros((ng - 1, ng - 1))
        for s in np.unique(data.stratum):
            mine = data.stratum == s
            sc, v = _gray_stratum(
                data.time[mine],
                code[mine],
                data.weight[mine],
                data.group[mine],
                ng,
                rho,
            )
            score += sc
            var += v
        tests[cause] = _gray_result(cause, score, var, data.groups, data.strata)
    return tests


def _gray_result(cause, score, var, groups, strata) -> GrayTest:
    df = len(groups) - 1
    singular = np.linalg.svd(var, compute_uv=False)
    if singular.size == 0 or singular[-1] <= RANK_TOLERANCE * singular[0]:
        return GrayTest(cause, None, df, None, tuple(groups), strata)
    statistic = float(score @ np.linalg.solve(var, score))
    return GrayTest(
        cause, statistic, df, _chi2_sf(statistic, df), tuple(groups), strata
    )


#: Event times processed at once by Gray's test: bounds its memory (a few arrays
#: of this many times x groups x groups) whatever the number of distinct times.
GRAY_CHUNK_CELLS = 2_000_000


def _gray_stratum(
    time: np.ndarray,
    code: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    ng: int,
    rho: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the scores of groups 1..ng-1 and their covariance in one stratum.

    cmprsk's ``crst`` routine (Gray 1988, section 2), whose loop over the
    distinct times only accumulates sums: the per-group Kaplan-Meier and
    cumulative incidence before each time, the pooled incidence and the
    matrices ``a`` and ``c`` are computed for all times at once with cumulative
    sums and products, and the score and variance are sums over the times
    (in chunks of times, so memory stays bounded). Counted rows enter as their
    counts. The names follow the Fortran's.
    """
    times, where = np.unique(time, return_inverse=True)
    m = times.size
    counts = np.zeros((m, 3, ng))
    np.add.at(counts, (where, code, group), weight)
    d1, d2 = counts[:, 1, :], counts[:, 2, :]
    total = counts.sum(axis=1)
    rs = total[::-1].cumsum(axis=0)[::-1]  # at risk per group just before
    live = rs > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        skm = np.cumprod(np.where(live, (rs - d1 - d2) / rs, 1.0), axis=0)
        skmm = np.vstack([np.ones((1, ng)), skm[:-1]])
        f1 = np.cumsum(np.where(live, skmm * d1 / rs, 0.0), axis=0)
        f1m = np.vstack([np.zeros((1, ng)), f1[:-1]])
        ratio = np.where(live, rs / skmm, 0.0)
    # only the times with a failure (of either cause) contribute
    nd1, nd2 = d1.sum(axis=1), d2.sum(axis=1)
    keep = (nd1 > 0) | (nd2 > 0)
    d1, d2, rs, live = d1[keep], d2[keep], rs[keep], live[keep]
    skm, skmm, f1m, ratio = skm[keep], skmm[keep], f1m[keep], ratio[keep]
    nd1 = nd1[keep]
    tr = ratio.sum(axis=1)
    tq = (ratio * (1 - f1m)).sum(axis=1)
    jump = nd1 / tr
    f = np.cumsum(jump)  # the pooled cumulative incidence after each time
    fm = f - jump  # ... and before
    fb = (1 - fm) ** rho
    ng1 = ng - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        score = fb[:, None] * (d1 - nd1[:, None] * ratio * (1 - f1m) / tq[:, None])
        s = np.where(live, score, 0.0)[:, :ng1].sum(axis=0)
        # the cause of interest: every live group at times it occurred
        t4 = np.where(skm > 0, 1 - (1 - f[:, None]) / skm, 1.0)
        t5 = np.where(
            nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0
        )
        t3 = np.where(live & (nd1[:, None] > 0), t5 * skmm * nd1[:, None], 0.0)
        t3 = np.where(t3 != 0, t3 / (tr[:, None] * rs), 0.0)
        # the other causes: the groups they occurred in
        other = (skm > 0) & (d2 > 0)
        u4 = np.where(other, (1 - f[:, None]) / skm, 0.0)
        u5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
        u3 = np.where(other, u5 * skmm**2 * d2 / rs**2, 0.0)
        c_weight = nd1 / (tr * (1 - fm))
    v3 = (t4 * t4 * t3).sum(axis=0) + (u4 * u4 * u3).sum(axis=0)
    v2 = np.zeros((ng1, ng))
    v = np.zeros((ng1, ng1))
    c = np.zeros((ng, ng))
    step = max(1, GRAY_CHUNK_CELLS // (ng * ng))
    for lo in range(0, keep.sum(), step):
        hi = lo + step
        r, w = ratio[lo:hi], fb[lo:hi, None, None]
        a = -w * r[:, :, None] * r[:, None, :] / tr[lo:hi, None, None]
        diag = np.arange(ng)
        a[:, diag, diag] = w[:, :, 0] * r * (1 - r / tr[lo:hi, None])
        cc = c + np.cumsum(a * c_weight[lo:hi, None, None], axis=0)
        c = cc[-1]
        t1 = a[:, :ng1, :] - t4[lo:hi, None, :] * cc[:, :ng1, :]
        v2 += np.einsum("eik,ek->ik", t1, t4[lo:hi] * t3[lo:hi])
        v += np.einsum("eik,ejk,ek->ij", t1, t1, t3[lo:hi])
        u1 = u4[lo:hi, None, :] * cc[:, :ng1, :]
        v2 -= np.einsum("eik,ek->ik", u1, u4[lo:hi] * u3[lo:hi])
        v += np.einsum("eik,ejk,ek->ij", u1, u1, u3[lo:hi])
    cv = c[:ng1] @ v2.T
    v += (c[:ng1] * v3) @ c[:ng1].T + cv + cv.T
    return s, v


__all__ = [
    "CumulativeIncidence",
    "GrayTest",
    "IncidenceAt",
    "confidence_limits",
    "cumulative_incidence",
    "gray_test",
]
