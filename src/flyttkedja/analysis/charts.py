"""Interactive charts of the report: plotly.js figure specs built from the published tables.

Each function returns one figure as a plain dict ``{"data": [...], "layout": {...}}``
in plotly.js's JSON schema; :mod:`flyttkedja.analysis.html` writes them into the page
and draws them with the plotly.js bundle shipped inside the ``plotly`` Python package,
inlined into the file (:func:`plotly_bundle`), so the report needs no network.

Only published cells are drawn: a withheld value (None in the table) becomes a
zero-height bar labelled ".." whose hover says it was withheld, never a number.
Floats are rounded to 6 significant digits, so the same tables give the same bytes.

Example
-------
>>> fig = length_figure(report, Text("sv"))      # doctest: +SKIP
>>> fig["data"][0]["type"]                         # doctest: +SKIP
'bar'
"""

from __future__ import annotations

import base64
import functools
import gzip
import importlib.resources
import re

import polars as pl

from flyttkedja.analysis.labels import SUPPRESSED_MARK, label
from flyttkedja.schema import TENURES

PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")  # seed groups
# other dimensions get their own colours, so no end reason or area class looks like a seed group
END_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f")
AREA_PALETTE = ("#b2182b", "#ef8a62", "#67a9cf", "#2166ac")
MARGIN_COLOUR = "#444444"  # the grand margin ("all") in every chart
WITHHELD_COLOUR = "#bbbbbb"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'
# scenario measures shown first in the comparison chart, when present (headline figures)
SCENARIO_FIRST = ("moves_gross_per_100_new", "moves_net_per_100_new", "displacement_ratio", "chain_length_mean")


class Text:
    """Labels and number formats of one language: ``t("rental")`` → "hyresrätt" for ``Text("sv")``."""

    def __init__(self, lang: str):
        label("all", lang)  # validates lang
        self.lang = lang

    def __call__(self, key) -> str:
        return label(key, self.lang)

    @property
    def separators(self) -> str:
        """plotly's decimal and thousands separators: "1 234,5" in Swedish, "1,234.5" in English."""
        return ",\u00a0" if self.lang == "sv" else ".,"


# ------------------------------------------------------------------ plotly.js
@functools.lru_cache(maxsize=1)
def plotly_bundle() -> tuple[str, str]:
    """(version, base64 of gzip of plotly.min.js) from the installed ``plotly`` package.

    Compressed (4.8 MB → 2.0 MB) so the report stays far below 5 MB; the page
    unpacks it with the browser's DecompressionStream. ``mtime=0``: same bytes
    on every call.
    """
    js = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    match = re.search(rb"plotly\.js v([0-9][^\s*]*)", js[:400])
    version = match.group(1).decode() if match else "?"
    return version, base64.b64encode(gzip.compress(js, compresslevel=9, mtime=0)).decode("ascii")


@functools.lru_cache(maxsize=1)
def plotly_loader() -> str:
    """The page script that unpacks :func:`plotly_bundle` (``plotly_unpack.js``): ``window.flyttkedjaPlotly()``
    returns one shared promise of ``Plotly`` for every script of the page."""
    return (importlib.resources.files("flyttkedja.analysis") / "plotly_unpack.js").read_text(encoding="utf-8")


def config(name: str, t: Text) -> dict:
    """plotly.js config of every chart: responsive, no logo, only the PNG download button."""
    return {"responsive": True, "displaylogo": False, "locale": t.lang, "modeBarButtons": [["toImage"]],
            "toImageButtonOptions": {"filename": name, "scale": 2}}


#: plotly.js's own words in the Swedish report (its mode bar and Sankey hover)
SV_LOCALE = {"Download plot as a PNG": "Ladda ned diagrammet som PNG",
             "Download plot": "Ladda ned diagrammet", "incoming flow count:": "inflöde:",
             "outgoing flow count:": "utflöde:", "source:": "från:", "target:": "till:"}


# ------------------------------------------------------------------ helpers
def _r(x):
    """A float rounded to 6 significant digits (None stays None): stable, compact JSON."""
    return None if x is None else float(f"{x:.6g}")


def _group(row: dict, by: tuple[str, ...], t: Text) -> str:
    return " / ".join(t(row[c]) for c in by) if by else t("all")


def _is_margin(name: str, t: Text) -> bool:
    return set(name.split(" / ")) == {t("all")}


def colours(report, t: Text) -> dict[str, str]:
    """One colour per seed group (and per value of the first ``by`` attribute), the same in every chart."""
    s = report.tables["length_summary"]
    names = list(dict.fromkeys(_group(r, report.by, t) for r in s.iter_rows(named=True)))
    if report.by:
        names += [t(v) for v in s[report.by[0]].unique(maintain_order=True).to_list()]
    names += [t(c) for c in TENURES]  # vacated tenures in the Sankey
    out: dict[str, str] = {}
    for n in dict.fromkeys(names):
        out[n] = MARGIN_COLOUR if _is_margin(n, t) else PALETTE[sum(v != MARGIN_COLOUR for v in out.values())
                                                                % len(PALETTE)]
    return out


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(t: Text, height: int, **extra) -> dict:
    base = {"height": height, "autosize": True, "separators": t.separators, "hovermode": "closest",
            "font": {"family": FONT, "size": 13, "color": "#222"}, "paper_bgcolor": "#fff", "plot_bgcolor": "#fff",
            "margin": {"l": 70, "r": 24, "t": 48, "b": 56},
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "xanchor": "left", "yanchor": "bottom"},
            "hoverlabel": {"namelength": -1, "font": {"family": FONT}}}
    return {**base, **extra}


def _axis(title: str, **extra) -> dict:
    return {"title": {"text": title}, "fixedrange": True, "gridcolor": "#e6e6e6", "zerolinecolor": "#999",
            "automargin": True, **extra}


def _withheld_hover(t: Text, what: str) -> str:
    return f"{what}: {SUPPRESSED_MARK} ({t('withheld')})<extra></extra>"


def _bars(t: Text, name: str, colour: str, cats: list, vals: list, hover_ok: str, what: str, *,
          horizontal: bool = False, customdata: list | None = None, low=None, high=None) -> dict:
    """One bar trace; withheld values (None) drawn as zero-height bars labelled "..".

    ``hover_ok`` is the hovertemplate of a published bar; ``what`` names a
    withheld one in its hover (the category is appended).
    """
    withheld = [v is None for v in vals]
    value_axis, cat_axis = ("x", "y") if horizontal else ("y", "x")
    trace = {"type": "bar", "name": name, "marker": {"color": colour}, cat_axis: cats,
             value_axis: [0.0 if v is None else _r(v) for v in vals],
             "text": [SUPPRESSED_MARK if w else "" for w in withheld], "textposition": "outside",
             "cliponaxis": False, "textfont": {"color": "#777", "size": 15},
             "hovertemplate": [_withheld_hover(t, f"{name} · {what} {c}") if w else hover_ok
                               for c, w in zip(cats, withheld)]}
    if horizontal:
        trace["orientation"] = "h"
    if customdata is not None:
        trace["customdata"] = customdata
    if low is not None and any(lo is not None for lo in low):
        plus = [None if (v is None or h is None) else _r(h - v) for v, h in zip(vals, high)]
        minus = [None if (v is None or lo is None) else _r(v - lo) for v, lo in zip(vals, low)]
        trace[f"error_{value_axis}"] = {"type": "data", "array": plus, "arrayminus": minus, "visible": True,
                                        "color": "#222", "thickness": 1.2, "width": 3}
    return trace


# ------------------------------------------------------------------ the report's charts
def length_figure(report, t: Text, colours: dict[str, str]) -> dict:
    """Chain length distribution: share of each seed group's chains with 1, 2, 3 … moves (grouped bars)."""
    d = report.tables["length_distribution"].filter(pl.col("statistic") == "share")
    series: dict[str, list] = {}
    for r in d.iter_rows(named=True):
        series.setdefault(_group(r, report.by, t), []).append(r)
    longest = max(d["length"].to_list(), default=1)
    data = [_bars(t, g, colours.get(g, MARGIN_COLOUR), [r["length"] for r in rows], [r["value"] for r in rows],
                  f"{g} · {t('length')} %{{x}}: %{{y:.1%}} ({t('chains')}: %{{customdata}})<extra></extra>",
                  t("length"), customdata=[r["n"] for r in rows])
            for g, rows in series.items()]
    xaxis = _axis(t("length_moves"), tickformat="d", **({"dtick": 1} if longest <= 25 else {}))
    return {"data": data, "layout": _layout(t, 380, barmode="group", bargap=0.15, xaxis=xaxis,
                                           yaxis=_axis(t("share_of_chains"), tickformat=".0%", rangemode="tozero"))}


def sankey_steps(report) -> list[str]:
    """The flows table's steps in reading order: "1", "2", … , "K+1+", then "all"."""
    steps = report.tables["flows"]["step"].unique().to_list()
    key = lambda s: (s == "all", int(s.rstrip("+")) if s != "all" else 0)  # noqa: E731
    return sorted(steps, key=key)


def flows_figure(report, t: Text, colours: dict[str, str]) -> dict:
    """One Sankey of vacancy flows, new-build seed group → tenure of the dwelling vacated, with a step slider.

    The slider switches the bands between steps 1, 2, … of the chains (and
    all steps together); band width is the number of vacated dwellings where
    that count is published (its rate per 100 may be withheld: ".." in the
    hover). Withheld counts are not drawn; the title counts them. A step with
    no band at all is hidden (plotly cannot draw an empty Sankey), and the
    slider starts at the first step with bands.
    """
    f = report.tables["flows"].filter((pl.col("dimension") == "tenure") & (pl.col("category") != "all"))
    if report.by:  # seed groups, not their margin
        f = f.filter(~pl.all_horizontal([pl.col(c) == "all" for c in report.by]))
    left = list(dict.fromkeys(_group(r, report.by, t) for r in f.iter_rows(named=True)))
    cats = list(TENURES) + sorted(set(f["category"].to_list()) - set(TENURES))
    right = [t(c) for c in cats]
    nodes = left + right
    steps = [s for s in sankey_steps(report) if f.filter(pl.col("step") == s).height]
    views = []
    for step in steps:
        rows = f.filter(pl.col("step") == step)
        src, tgt, val, per100, colour = [], [], [], [], []
        for r in rows.iter_rows(named=True):
            if r["n"] is None or r["n"] <= 0:
                continue
            g = _group(r, report.by, t)
            src.append(left.index(g))
            tgt.append(len(left) + cats.index(r["category"]))
            val.append(int(r["n"]))
            rate = SUPPRESSED_MARK if r["value"] is None else f"{r['value']:.1f}"
            per100.append(rate.replace(".", ",") if t.lang == "sv" else rate)
            colour.append(_rgba(colours.get(g, MARGIN_COLOUR), 0.45))
        hidden = rows.filter(pl.col("n").is_null()).height
        title = (f"{t('step')} {step}" if step != "all" else t("all_steps")) + (
            f" · {hidden}× {SUPPRESSED_MARK} ({t('withheld')})" if hidden else "")
        views.append((step, title, {"source": src, "target": tgt, "value": val, "customdata": per100,
                                    "color": colour}))
    active = next((i for i, v in enumerate(views) if v[2]["value"]), 0)
    first = views[active][2] if views else {"source": [], "target": [], "value": [], "customdata": [], "color": []}
    link = {**first, "hovertemplate": (f"%{{source.label}} → %{{target.label}}: %{{value}} {t('vacated')} "
                                       f"(%{{customdata}} {t('per_100')})<extra></extra>")}
    trace = {"type": "sankey", "arrangement": "fixed", "valueformat": "d", "visible": bool(first["value"]),
             "node": {"label": nodes, "pad": 18, "thickness": 16,
                      "color": [colours.get(n, MARGIN_COLOUR) for n in nodes], "line": {"width": 0},
                      "hovertemplate": f"%{{label}}: %{{value}} {t('vacated')}<extra></extra>"},
             "link": link}
    slider = {"active": active, "pad": {"t": 10, "b": 0}, "x": 0.01, "len": 0.96, "currentvalue": {"visible": False},
              "steps": [{"label": t("all_steps") if s == "all" else s, "method": "update",
                         "args": [{**{f"link.{k}": [v] for k, v in view.items()}, "visible": [bool(view["value"])]},
                                  {"title.text": title}]}
                        for s, title, view in views]}
    layout = _layout(t, 440 + 12 * len(left), title={"text": views[active][1] if views else t("no_data"), "x": 0,
                                                      "xref": "paper", "font": {"size": 14}},
                     margin={"l": 12, "r": 12, "t": 48, "b": 64 if len(views) > 1 else 12},
                     sliders=[slider] if len(views) > 1 else [])
    layout["annotations"] = [{"text": t("new_build_side"), "x": 0, "y": 1.0, "xref": "paper", "yref": "paper",
                              "xanchor": "left", "yanchor": "bottom", "showarrow": False, "font": {"color": "#555"}},
                             {"text": t("vacated_side"), "x": 1, "y": 1.0, "xref": "paper", "yref": "paper",
                              "xanchor": "right", "yanchor": "bottom", "showarrow": False, "font": {"color": "#555"}}]
    return {"data": [trace], "layout": layout}


def reach_figure(report, t: Text, colours: dict[str, str]) -> dict:
    """Households of each target group housed per 100 new dwellings, by seed group, with 95% intervals."""
    d = report.tables["reach"].filter(pl.col("statistic") == "per_100")
    series: dict[str, list] = {}
    for r in d.iter_rows(named=True):
        series.setdefault(_group(r, report.by, t), []).append(r)
    data = []
    for g, rows in series.items():
        cd = [[_r(r["ci_low"]), _r(r["ci_high"]), r["n"]] for r in rows]
        ci = all(r["ci_low"] is not None for r in rows if r["value"] is not None)
        hover = (f"{g} · %{{y}}: %{{x:.1f}} {t('per_100')}"
                 + (f" (95 %: %{{customdata[0]:.1f}}–%{{customdata[1]:.1f}})" if ci else "")
                 + f"; {t('households')}: %{{customdata[2]}}<extra></extra>")
        data.append(_bars(t, g, colours.get(g, MARGIN_COLOUR), [t(r["target_group"]) for r in rows],
                          [r["value"] for r in rows], hover, t("target_group"), horizontal=True, customdata=cd,
                          low=[r["ci_low"] for r in rows], high=[r["ci_high"] for r in rows]))
    n_cats = d["target_group"].n_unique()
    height = max(320, 110 + n_cats * (10 + 14 * len(series)))
    return {"data": data, "layout": _layout(t, height, barmode="group", bargap=0.2,
                                           xaxis=_axis(t("per_100"), rangemode="tozero"),
                                           yaxis=_axis("", autorange="reversed"))}


def rounds_figure(report, t: Text) -> dict:
    """Mast's rounds: cumulative dwellings vacated in low-income areas per 100 new, by step (all seeds)."""
    d = report.tables["rounds"]
    if report.by:
        d = d.filter(pl.all_horizontal([pl.col(c) == "all" for c in report.by]))
    d = d.filter(pl.col("statistic") == "cumulative_per_100").sort("step")
    data = []
    for i, cls in enumerate(d["area_class"].unique(maintain_order=True).to_list()):
        rows = d.filter(pl.col("area_class") == cls).to_dicts()
        name = t(cls)
        vals = [_r(r["value"]) for r in rows]
        steps = [r["step"] for r in rows]
        trace = {"type": "scatter", "mode": "lines+markers", "name": name, "x": steps, "y": vals,
                 "connectgaps": False, "line": {"color": AREA_PALETTE[i % len(AREA_PALETTE)], "width": 2.5},
                 "marker": {"size": 8},
                 "customdata": [[_r(r["ci_low"]), _r(r["ci_high"])] for r in rows],
                 "hovertemplate": f"{name} · {t('step')} %{{x}}: %{{y:.1f}} {t('cumulative_per_100')}"
                                  f" (95 %: %{{customdata[0]:.1f}}–%{{customdata[1]:.1f}})<extra></extra>"}
        if any(r["ci_low"] is not None for r in rows):
            trace["error_y"] = {"type": "data", "visible": True, "thickness": 1, "width": 3,
                                "array": [None if r["value"] is None or r["ci_high"] is None
                                          else _r(r["ci_high"] - r["value"]) for r in rows],
                                "arrayminus": [None if r["value"] is None or r["ci_low"] is None
                                               else _r(r["value"] - r["ci_low"]) for r in rows]}
        data.append(trace)
        hidden = [s for s, v in zip(steps, vals) if v is None]
        if hidden:  # the gaps: a ".." on the axis where a value was withheld
            data.append({"type": "scatter", "mode": "text", "x": hidden, "y": [0] * len(hidden),
                         "text": [SUPPRESSED_MARK] * len(hidden), "showlegend": False,
                         "textposition": "top center", "cliponaxis": False,
                         "textfont": {"color": AREA_PALETTE[i % len(AREA_PALETTE)], "size": 15},
                         "hovertemplate": _withheld_hover(t, f"{name} · {t('step')} %{{x}}")})
    return {"data": data, "layout": _layout(t, 360, xaxis=_axis(t("step"), dtick=1),
                                           yaxis=_axis(t("cumulative_per_100"), rangemode="tozero"))}


def end_figure(report, t: Text) -> dict:
    """How chains end: share of each seed group's chains by end reason (100% stacked bars)."""
    d = report.tables["end_reasons"].filter(pl.col("statistic") == "share")
    groups = list(dict.fromkeys(_group(r, report.by, t) for r in d.iter_rows(named=True)))
    reasons = d["end_reason"].unique(maintain_order=True).to_list()
    value = {(_group(r, report.by, t), r["end_reason"]): r for r in d.iter_rows(named=True)}
    data = []
    for i, reason in enumerate(reasons):
        rows = [value.get((g, reason)) for g in groups]
        x = [None if r is None or r["value"] is None else _r(r["value"]) for r in rows]
        data.append({"type": "bar", "orientation": "h", "name": t(reason), "y": groups, "x": x,
                     "marker": {"color": END_PALETTE[i % len(END_PALETTE)]},
                     "customdata": [None if r is None else r["n"] for r in rows],
                     "hovertemplate": f"%{{y}} · {t(reason)}: %{{x:.1%}} ({t('chains')}: %{{customdata}})"
                                      "<extra></extra>"})
    # withheld shares together: 1 − the published ones (already public: shares add up to one)
    rest = []
    for g in groups:
        rows = [value.get((g, r)) for r in reasons]
        withheld = any(r is not None and r["value"] is None for r in rows)
        rest.append(_r(max(0.0, 1.0 - sum(r["value"] for r in rows if r is not None and r["value"] is not None)))
                    if withheld else None)
    if any(v is not None for v in rest):
        data.append({"type": "bar", "orientation": "h", "name": f"{SUPPRESSED_MARK} {t('withheld')}", "y": groups,
                     "x": rest, "marker": {"color": WITHHELD_COLOUR, "pattern": {"shape": "/", "bgcolor": "#e4e4e4", "fgcolor": "#aaa",
                                                                          "fillmode": "replace"}},
                     "hovertemplate": f"%{{y}} · {t('withheld_together')}: %{{x:.1%}}<extra></extra>"})
    height = max(260, 150 + 34 * len(groups))
    return {"data": data, "layout": _layout(t, height, barmode="stack", bargap=0.3,
                                           legend={**_layout(t, 0)["legend"], "traceorder": "normal"},
                                           xaxis=_axis(t("share_of_chains"), tickformat=".0%", range=[0, 1]),
                                           yaxis=_axis("", autorange="reversed"))}


def measure_label(measure: str, t: Text) -> str:
    """A scenario measure's label: its entry in the labels, else the code with spaces ("moves per 100 new")."""
    text = t(measure)
    return text.replace("_", " ") if text == measure else text


def scenario_figure(scenario: pl.DataFrame, t: Text) -> dict:
    """The scenario comparison: estimate per programme (and group) by method, a menu to pick the measure."""
    measures = sorted(scenario["measure"].unique().to_list())
    measures = [m for m in SCENARIO_FIRST if m in measures] + [m for m in measures if m not in SCENARIO_FIRST]
    methods = scenario["method"].unique(maintain_order=True).to_list()
    data, owner = [], []
    for m in measures:
        d = scenario.filter(pl.col("measure") == m).sort(["programme", "method", "group"], nulls_last=False)
        for k, method in enumerate(methods):
            rows = d.filter(pl.col("method") == method).to_dicts()
            if not rows:
                continue
            cats = [r["programme"] + (f" · {t(r['group'])}" if r["group"] is not None else "") for r in rows]
            vals = [None if r["suppressed"] else r["estimate"] for r in rows]
            lo = [None if r["suppressed"] else r["lower"] for r in rows]
            hi = [None if r["suppressed"] else r["upper"] for r in rows]
            ci = any(v is not None for v in lo)
            hover = (f"{t(method)} · %{{x}}: %{{y:.3~g}}"
                     + (" (95 %: %{customdata[0]:.3~g}–%{customdata[1]:.3~g})" if ci else "") + "<extra></extra>")
            trace = _bars(t, t(method), END_PALETTE[k % len(END_PALETTE)], cats, vals, hover, measure_label(m, t),
                          customdata=[[_r(a), _r(b)] for a, b in zip(lo, hi)], low=lo, high=hi)
            trace["visible"] = m == measures[0]
            data.append(trace)
            owner.append(m)
    buttons = [{"label": measure_label(m, t), "method": "update",
                "args": [{"visible": [o == m for o in owner]}, {"yaxis.title.text": measure_label(m, t)}]}
               for m in measures]
    menu = {"buttons": buttons, "active": 0, "direction": "down", "x": 0, "xanchor": "left", "y": 1.18,
            "yanchor": "bottom", "showactive": True}
    layout = _layout(t, 420, barmode="group", margin={"l": 70, "r": 24, "t": 90, "b": 60},
                     xaxis=_axis(t("programme")),
                     yaxis=_axis(measure_label(measures[0], t) if measures else "", rangemode="tozero"),
                     updatemenus=[menu] if len(measures) > 1 else [],
                     legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"})
    return {"data": data, "layout": layout}
