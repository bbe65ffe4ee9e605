"""Read the R reference output committed in tests/fixtures/r (see reference.R)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "r"
REL = 1e-6  # agreement with R asked of every statistic
#: Fields whose values are labels rather than numbers.
TEXT_FIELDS = {"groups", "terms", "zph.terms", "pair.a", "pair.b"}


@cache
def _reference_rows() -> pd.DataFrame:
    return pd.read_csv(
        FIXTURES / "reference_output.csv", dtype={"value": str}, keep_default_na=False
    )


@cache
def r_case(case: str) -> dict[str, np.ndarray | list[str]]:
    """The values R wrote for one case: field -> array (NA and NaN as nan)."""
    rows = _reference_rows()
    rows = rows[rows["case"] == case]
    assert len(rows), f"no fixture case {case!r}: rerun reference.R"
    out: dict[str, np.ndarray | list[str]] = {}
    for field, part in rows.groupby("field", sort=False):
        values = part.sort_values("i")["value"].tolist()
        if field in TEXT_FIELDS:
            out[field] = values
        else:
            out[field] = np.array(
                [np.nan if v in ("NA", "NaN") else float(v) for v in values]
            )
    return out


def r_data(name: str) -> pd.DataFrame:
    """A data set as R exported it, with the codings the R script used."""
    df = pd.read_csv(FIXTURES / "data" / f"{name}.csv")
    if name == "lung":
        df["dead"] = (df["status"] == 2).astype(int)  # R's Surv(time, status): 2 = dead
    if name == "veteran":
        df["celltype"] = pd.Categorical(
            df["celltype"], ["squamous", "smallcell", "adeno", "large"]
        )
    if name == "edge":
        df["grp"] = pd.Categorical(df["grp"], ["ties", "noevents", "half", "endhalf"])
    return df
