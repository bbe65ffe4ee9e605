"""Ready-made report specifications that fill the builder.

Each is an ordinary specification (the README's format): the builder opens
filled with it (``?preset=<slug>``), to be run as it is or changed first.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.spec import DEFAULT_BASELINE


@dataclass(frozen=True)
class Preset:
    slug: str
    title: str
    description: str
    spec: dict


PRESETS: dict[str, Preset] = {
    preset.slug: preset
    for preset in (
        Preset(
            "seed-study",
            "The seed study",
            "Stage IV rectal cancer 2002–2008, overall survival by resection "
            "strategy at the study's cut-off (2009-12-31), with the baseline "
            "table, extent of liver disease against liver resection, and survival "
            "with and without liver resection.",
            {
                "name": "The seed study: survival by resection strategy",
                "cohort": {
                    "diagnosed_from": "2002-01-01",
                    "diagnosed_to": "2008-12-31",
                },
                "group_by": "strategy",
                "endpoint": "os",
                "index": "diagnosis",
                "as_of": "2009-12-31",
                "time_unit": "months",
                "times": [12, 24, 36, 60],
                "reference": "synchronous",
                "baseline": list(DEFAULT_BASELINE),
                "associations": [["extent", "liver_resected"]],
                "subgroups": ["liver_resected"],
            },
        ),
        Preset(
            "survival-by-strategy",
            "Survival by strategy",
            "Overall survival by resection strategy for every patient, cut off "
            "on the day it is run; survival only (counted in the database, "
            "fastest on a large registry).",
            {
                "name": "Overall survival by resection strategy",
                "group_by": "strategy",
                "endpoint": "os",
                "index": "diagnosis",
                "time_unit": "months",
                "times": [12, 24, 36, 60],
                "baseline": [],
                "associations": [],
                "subgroups": [],
            },
        ),
        Preset(
            "rfs-by-extent",
            "RFS by extent",
            "Recurrence-free survival by the extent of liver disease at "
            "diagnosis (a baseline factor: no immortal time), against the "
            "smallest extent, cut off on the day it is run; survival only.",
            {
                "name": "Recurrence-free survival by extent of liver disease",
                "group_by": "extent",
                "endpoint": "rfs",
                "index": "diagnosis",
                "time_unit": "months",
                "times": [12, 24, 36],
                "reference": "lt25",
                "baseline": [],
                "associations": [],
                "subgroups": [],
            },
        ),
        Preset(
            "css-competing-risks",
            "CSS and competing risks",
            "Cancer-specific survival by resection strategy in the seed study's "
            "cohort and cut-off, with the cumulative incidence of recurrence and "
            "of death from colorectal cancer (deaths from other causes competing) "
            "compared by Gray's test; survival only.",
            {
                "name": "Cancer-specific survival and competing risks by resection "
                "strategy",
                "cohort": {
                    "diagnosed_from": "2002-01-01",
                    "diagnosed_to": "2008-12-31",
                },
                "group_by": "strategy",
                "endpoint": "css",
                "index": "diagnosis",
                "as_of": "2009-12-31",
                "time_unit": "months",
                "times": [12, 24, 36, 60],
                "reference": "synchronous",
                "baseline": [],
                "associations": [],
                "subgroups": [],
                "competing_risks": True,
            },
        ),
    )
}
