"""Downloads of a report: figure (PNG, SVG, PDF), tables (CSV, XLSX), JSON, PDF,
DOCX. The PDF and the Word document are written by :mod:`analytics.documents`.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analytics import formatting, plots, survival
from analytics.plots import p_text
from analytics.reports import Report
from analytics.spec import CSV_TABLES
from analytics.text import in_sentence

#: Tables a report offers as CSV (listed in analytics.spec, which the command's
#: help reads without importing pandas).
TABLES = CSV_TABLES
FIGURE_FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


def curves_to_dict(curves: dict[str, survival.KaplanMeier]) -> dict:
    """Return the Kaplan-Meier curves as JSON-ready arrays (NaN as null)."""

    def array(values) -> list:
        return [
            None if not np.isfinite(v) else float(v) for v in np.asarray(values, float)
        ]

    return {
        label: {
            "n": int(curve.n),
            "events": int(curve.events),
            "conf_type": curve.conf_type,
            "conf_level": float(curve.conf_level),
            **{
                name: array(getattr(curve, name))
                for name in (
                    "time",
                    "n_risk",
                    "n_event",
                    "n_censor",
                    "survival",
                    "std_err",
                    "lower",
                    "upper",
                )
            },
        }
        for label, curve in curves.items()
    }


def curves_from_dict(data: dict) -> dict[str, survival.KaplanMeier]:
    """Rebuild Kaplan-Meier curves stored by curves_to_dict (for a stored run)."""

    def array(values) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    return {
        label: survival.KaplanMeier(
            group=label,
            n=item["n"],
            events=item["events"],
            conf_type=item["conf_type"],
            conf_level=item["conf_level"],
            time=array(item["time"]),
            n_risk=array(item["n_risk"]).astype(int),
            n_event=array(item["n_event"]).astype(int),
            n_censor=array(item["n_censor"]).astype(int),
            survival=array(item["survival"]),
            std_err=array(item["std_err"]),
            lower=array(item["lower"]),
            upper=array(item["upper"]),
        )
        for label, item in data.items()
    }


def result_json(report: Report) -> dict:
    """Return the whole result, curves included, as JSON-ready data."""
    return {**report.to_dict(), "curves": curves_to_dict(report.curves)}


def to_json(data: dict) -> str:
    """Return a whole result (``result_json``'s data) as JSON text."""
    return json.dumps(data, indent=2, ensure_ascii=False)


def figure(data: dict) -> Figure:
    """Return the Kaplan-Meier figure of a result (live or stored), drawn from
    its :func:`figure_arguments` alone."""
    return _km_figure(figure_arguments(data))


def _km_figure(arguments: dict) -> Figure:
    curves = curves_from_dict(arguments["curves"])
    return plots.km_figure(
        curves, **{k: v for k, v in arguments.items() if k != "curves"}
    )


def figure_arguments(data: dict) -> dict:
    """Return what the Kaplan-Meier figure of a result is drawn from, all of it:
    ``plots.km_figure``'s arguments, the curves as stored (``curves_to_dict``).

    Its title and time axis are the result's own (``title``, ``time_axis``:
    "from the 12-month landmark" in a landmark report); a result stored before
    they were part of it gets them written as they were then.
    """
    index = {
        "diagnosis": "diagnosis",
        "treatment": "first treatment",
        "operation": "first operation",
        "landmark": "landmark",
    }[data["spec"]["index"]]
    endpoint = data["endpoint"]["label"].capitalize()
    grouping = in_sentence(data["grouping"]["label"])
    logrank = data.get("logrank") or {}
    return {
        "curves": data["curves"],
        "time_unit": data.get("time_axis") or f"{data['time_unit']} since {index}",
        "ticks": data["at_risk"]["ticks"],
        "p_value": logrank.get("p_value"),
        "small_groups": list(logrank.get("small_groups", ())),
        "title": data.get("title") or f"{endpoint} by {grouping}",
        "footnote": suppressed_note(data),
    }


def suppressed_note(data: dict) -> str | None:
    """Return the figure's note on the groups drawn without a curve, if any."""
    info = data.get("disclosure") or {}
    if not info.get("suppressed_groups"):
        return None
    return (
        f"Not drawn: {', '.join(info['suppressed_groups'])} (fewer than "
        f"{info['min_cell']} patients)."
    )


def km_rendered(data: dict, fmt: str, *, dpi: int = 150) -> plots.Rendered:
    """Return the Kaplan-Meier figure of a result rendered as PNG, SVG or PDF
    (drawn once per process: ``plots.RENDERED``)."""
    arguments = figure_arguments(data)
    return plots.RENDERED.get(
        ["km", arguments], lambda: _km_figure(arguments), format=fmt, dpi=dpi
    )


def tables(data: dict) -> dict[str, pd.DataFrame]:
    """Return every table of a result as a DataFrame, by name."""
    unit = data["time_unit"]
    level = f"{data['spec']['conf_level'] * 100:g}%"
    groups = pd.DataFrame(
        [
            {
                "group": g["group"],
                "n": g["n"],
                "events": g["events"],
                # a suppressed group (analytics.disclosure) has no median
                f"median ({unit})": (g["median"] or {}).get("estimate"),
                f"median lower {level}": (g["median"] or {}).get("lower"),
                f"median upper {level}": (g["median"] or {}).get("upper"),
            }
            for g in data["groups"]
        ]
    )
    landmarks = pd.DataFrame(
        [
            {"group": g["group"], f"time ({unit})": m["time"], **_landmark(m)}
            for g in data["groups"]
            for m in g["landmarks"]
        ]
    )
    at_risk = (
        pd.DataFrame(
            data["at_risk"]["groups"],
            index=pd.Index(data["at_risk"]["ticks"], name=unit),
        )
        .T.rename_axis("group")
        .reset_index()
    )
    logrank = pd.DataFrame(
        [
            {
                k: v
                for k, v in data["logrank"].items()
                if k in ("statistic", "df", "p_value")
            }
        ]
    )
    pairwise = pd.DataFrame(data["pairwise"]).drop(
        columns="small_groups", errors="ignore"
    )
    cox = data.get("cox") or {}
    cox_terms = pd.DataFrame(cox.get("terms", []))
    ph = pd.DataFrame(cox.get("ph_test", []))
    followup = pd.DataFrame([data["followup"]])
    subgroups = pd.DataFrame(
        [
            {
                "subgroup": s["label"],
                "level": level["group"],
                "n": level["n"],
                "events": level["events"],
                f"median ({unit})": (level["median"] or {}).get("estimate"),
                f"time ({unit})": m.get("time"),
                **_landmark(m),
            }
            for s in data["subgroups"]
            for level in s["levels"]
            # a suppressed level has no landmarks: one row with its "<5"
            for m in level["landmarks"] or [{}]
        ]
    )
    baseline = pd.DataFrame(_baseline_rows(data["baseline"]))
    associations = pd.DataFrame(
        [
            {
                "factor": a["factor_label"],
                "outcome": a["outcome_label"],
                "test": t["name"],
                "statistic": t["statistic"],
                "df": t["df"],
                "p_value": t["p_value"],
            }
            for a in data["associations"]
            for t in a["tests"]
        ]
    )
    events = pd.DataFrame(
        [{"event": name, **value} for name, value in data["events"].items()]
    )
    return {
        "groups": groups,
        "landmarks": landmarks,
        "at_risk": at_risk,
        "logrank": logrank,
        "pairwise": pairwise,
        "cox": cox_terms,
        "ph_test": ph,
        "followup": followup,
        "subgroups": subgroups,
        "baseline": baseline,
        "associations": associations,
        "events": events,
        "competing": competing_table(data),
    }


def competing_table(data: dict) -> pd.DataFrame:
    """Return the competing-risks table: per event, group and time, the cumulative
    incidence with its interval, then Gray's test of each event (empty when the
    report has no competing-risks section)."""
    section = data.get("competing_risks")
    if not section:
        return pd.DataFrame()
    unit = data["time_unit"]
    level = f"{section['conf_level'] * 100:g}%"
    rows = []
    for analysis in section["analyses"]:
        for g in analysis["groups"]:
            for point in g["at"]:
                rows.append(
                    {
                        "event": analysis["label"],
                        "competing event": analysis["competing_label"],
                        "group": g["group"],
                        "n": g["n"],
                        "events": g["events"],
                        "competing events": g["competing"],
                        f"time ({unit})": point["time"],
                        "cumulative incidence": point["estimate"],
                        f"lower {level}": point["lower"],
                        f"upper {level}": point["upper"],
                    }
                )
        for key, event in (
            ("gray", analysis["label"]),
            ("gray_competing", analysis["competing_label"]),
        ):
            test = analysis.get(key)
            if test:
                rows.append(
                    {
                        "event": event,
                        "group": "Gray's test",
                        "statistic": test["statistic"],
                        "df": test["df"],
                        "p_value": test["p_value"],
                    }
                )
    # object columns: counts stay whole numbers (or "<5") beside the empty cells
    return pd.DataFrame(rows, dtype=object)


def competing_rendered(data: dict, fmt: str, *, dpi: int = 150) -> plots.Rendered:
    """Return the competing-risks figure of a result (``competing_risks``),
    drawn once per process (``plots.RENDERED``)."""
    section, unit = data["competing_risks"], data["time_unit"]
    return plots.RENDERED.get(
        ["competing", section, unit],
        lambda: plots.competing_figure(section, time_unit=unit),
        format=fmt,
        dpi=dpi,
    )


def _landmark(m: dict) -> dict:
    return {
        key: m.get(key) for key in ("survival", "lower", "upper", "n_risk", "estimable")
    }


def _continuous_cell(summary: dict | None) -> str:
    """Return mean (SD); median [IQR] of one group, as the page prints it."""
    return formatting.continuous_cell(summary)


def _baseline_rows(baseline: dict) -> list[dict]:
    rows = []
    for row in baseline["rows"]:
        tests = "; ".join(
            f"{t['name']} {p_text(t['p_value'])}" for t in row["tests"] if t["name"]
        )
        if row["kind"] == "continuous":
            entry = {"variable": row["label"], "level": "mean (SD); median [IQR]"}
            for group in baseline["groups"]:
                entry[group] = _continuous_cell(row["groups"].get(group))
            entry["tests"] = tests
            rows.append(entry)
            continue
        for i, level in enumerate(row["levels"]):
            entry = {"variable": row["label"] if i == 0 else "", "level": level}
            for group in baseline["groups"]:
                n = row["counts"].get(group, {}).get(level, 0)
                pct = row["percents"].get(group, {}).get(level)
                # a hidden count ("<5", analytics.disclosure) has its percentage hidden
                entry[group] = formatting.count_percent(n, pct)
            entry["tests"] = tests if i == 0 else ""
            rows.append(entry)
    return rows


def to_csv(data: dict, table: str) -> str:
    """Return one table of the result as CSV text."""
    return tables(data)[table].to_csv(index=False)


def to_xlsx(data: dict) -> bytes:
    """Return every table, the text and the specification as one workbook."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        summary = pd.DataFrame(
            {
                "section": ["Results", "Methods", *["Warning"] * len(data["warnings"])],
                "text": [data["results"], data["methods"], *data["warnings"]],
            }
        )
        summary.to_excel(writer, sheet_name="summary", index=False)
        for name, frame in tables(data).items():
            frame.to_excel(writer, sheet_name=name[:31], index=False)
        spec = pd.DataFrame(
            [(k, json.dumps(v)) for k, v in data["spec"].items()],
            columns=["field", "value"],
        )
        spec.to_excel(writer, sheet_name="specification", index=False)
    return buffer.getvalue()


def to_pdf(data: dict) -> bytes:
    """Return the whole report as a typeset PDF (analytics.documents.pdf)."""
    from analytics.documents import pdf  # ReportLab, loaded when a PDF is asked for

    return pdf.render(data)


def to_docx(data: dict) -> bytes:
    """Return the tables, figures and text as a Word document.

    Written by :mod:`analytics.documents.docx`, from the tables the page shows.
    """
    from analytics.documents import docx  # python-docx, loaded when asked for

    return docx.render(data)
