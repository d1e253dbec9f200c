"""The self-contained HTML report: inline SVG charts, every table with suppression marks, a method note.

One file, no scripts, no external fonts or links: it opens offline and the same
report gives the same bytes (no timestamps; row order is the tables' own, which
is sorted). Person and household ids never reach the tables, so never the page.

Example
-------
>>> html = render_html(report, lang="sv", scenario=comparison)   # doctest: +SKIP
"""

from __future__ import annotations

from html import escape

import polars as pl

from flyttkedja.analysis import svg
from flyttkedja.analysis.labels import SUPPRESSED_MARK, label
from flyttkedja.schema import TENURES

REFERENCES = (
    "White, H. C. (1970). Chains of Opportunity: System Models of Mobility in Organizations. Harvard University Press.",
    "Lansing, J. B., Clifton, C. W. & Morgan, J. N. (1969). New Homes and Poor People: A Study of Chains of Moves. "
    "Institute for Social Research, University of Michigan.",
    "Emmi, P. C. & Magnusson, L. Vacancy-chain (Markov) models of Swedish housing markets "
    "(Gävle, Jönköping, Västerås).",
    "Malmö stad (2019). Flyttkedjor i Malmö: nyproduktion 2016–2019 (Kristersson & McShane).",
    "Mast, E. (2021). JUE: the effect of new market-rate housing construction on the low-income housing market.",
    "Bratu, C., Harjunen, O. & Saarimaa, T. (2023). JUE: city-wide effects of new housing supply: "
    "evidence from moving chains.",
)

METHOD = {
    "en": ("Each new dwelling completed in the study window starts a vacancy chain: the household moving in "
           "leaves a dwelling, which is filled by the next household, and so on, until a vacancy is filled "
           "by a household that leaves no dwelling behind (a new household, an in-migrant, an immigrant) or is "
           "not filled within the gap limit (White 1970; Lansing, Clifton & Morgan 1969). Chain length is the "
           "number of moves. Rates are per 100 new dwellings of the seed group; intervals are percentile "
           "bootstrap intervals resampling buildings. Small cells are withheld (marked \"..\") and further "
           "cells withheld so that no withheld value can be recovered from margins. Definitions: "
           "docs/analysis.md and docs/disclosure.md."),
    "sv": ("Varje ny bostad som färdigställts under perioden startar en flyttkedja: hushållet som flyttar in "
           "lämnar en bostad som fylls av nästa hushåll, och så vidare, tills en vakans fylls av ett hushåll "
           "som inte lämnar någon bostad efter sig (nytt hushåll, inflyttare, invandrare) eller inte fylls "
           "inom tidsgränsen (White 1970; Lansing, Clifton & Morgan 1969). Kedjans längd är antalet "
           "flyttningar. Tal anges per 100 nya bostäder i gruppen; intervallen är percentil-bootstrap med "
           "byggnader som enhet. Små celler undertrycks (markerade \"..\") och ytterligare celler så att inget "
           "undertryckt värde kan räknas fram ur marginalerna. Definitioner: docs/analysis.md och "
           "docs/disclosure.md."),
}

CSS = """body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1000px;
padding:1em 1.5em;color:#222;line-height:1.4}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:2em}
nav a{margin-right:1em}table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}th{background:#f4f4f4}td.k{text-align:left}
td.s{color:#b00}.note{color:#555;font-size:.9em}.sankeys{display:flex;flex-wrap:wrap;gap:8px}
.figs{display:flex;gap:2em;flex-wrap:wrap}.fig b{font-size:1.6em;display:block}svg.chart{max-width:100%;height:auto}
details{margin:.4em 0}summary{cursor:pointer;font-weight:600}"""

SANKEY_STEPS = ("1", "2", "3", "4")


def render_html(report, lang: str = "en", scenario: pl.DataFrame | None = None) -> str:
    """The report as one HTML document (a str); ``scenario`` is a scenario comparison table, if any."""
    t = lambda k: label(k, lang)  # noqa: E731
    c = _colours(report, t)
    sections = [_key_figures(report, t), _length_chart(report, t, c), _sankeys(report, t, c),
                _reach_chart(report, t, c)]
    if "rounds" in report.tables:
        sections.append(_rounds_chart(report, t))
    sections.append(_end_chart(report, t))
    if scenario is not None:
        sections.append(_scenario_section(scenario, t, lang))
    sections += [_tables_section(report, t, scenario), _method(report, t, lang)]
    nav = "".join(f'<a href="#{k}">{escape(t(k))}</a>' for k in
                  ["length_distribution", "flows", "reach", "rounds", "end_reasons", "scenario", "tables", "method_note"]
                  if k != "rounds" or "rounds" in report.tables if k != "scenario" or scenario is not None)
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(t('title'))}</title><style>{CSS}</style></head><body>"
            f"<h1>{escape(t('title'))}</h1><nav>{nav}</nav>" + "".join(sections) + "</body></html>\n")


def _colours(report, t) -> dict[str, str]:
    """One colour per seed group (and per first-attribute value, for the Sankeys), the same in every chart."""
    s = report.tables["length_summary"]
    names = list(dict.fromkeys(_group(r, report.by, t) for r in s.iter_rows(named=True)))
    if report.by:
        names += [t(v) for v in s[report.by[0]].unique(maintain_order=True).to_list()]
    names = list(dict.fromkeys(names))
    out = {n: svg.colour(i) for i, n in enumerate(n for n in names if n != t("all"))}
    for n in names:  # the grand margin ("all", "all / all") is dark grey everywhere
        if set(n.split(" / ")) == {t("all")}:
            out[n] = "#444444"
    return out


def _group(row: dict, by: tuple[str, ...], t) -> str:
    return " / ".join(t(row[c]) for c in by) if by else t("all")


def _key_figures(report, t) -> str:
    s = report.tables["length_summary"]
    if report.by:
        s = s.filter(pl.all_horizontal([pl.col(c) == "all" for c in report.by]))
    d = {r["statistic"]: r for r in s.iter_rows(named=True)}
    fig = lambda v, k: f'<div class="fig"><b>{v}</b>{escape(t(k))}</div>'  # noqa: E731
    mean = d.get("mean", {})
    return ('<div class="figs">' + fig(_num(mean.get("n_base"), 0), "new_builds")
            + fig(_num(mean.get("value"), 2), "mean_length")
            + fig(_num(d.get("per_100", {}).get("value"), 0), "moves_per_100") + "</div>")


def _length_chart(report, t, colours) -> str:
    d = report.tables["length_distribution"].filter(pl.col("statistic") == "share")
    series: dict[str, list] = {}
    for r in d.iter_rows(named=True):
        series.setdefault(_group(r, report.by, t), []).append((str(r["length"]), r["value"], None, None))
    return _section("length_distribution", t, svg.bars(series, "length_distribution", t("length"), colours),
                    f'{escape(t("share"))} · {escape(t("chains"))}')


def _sankeys(report, t, colours) -> str:
    f = report.tables["flows"].filter((pl.col("dimension") == "tenure") & (pl.col("category") != "all"))
    if report.by:  # seed groups, not their margin (the flows table has only the grand margin)
        f = f.filter(~pl.all_horizontal([pl.col(c) == "all" for c in report.by]))
    charts = []
    for step in SANKEY_STEPS:
        rows = f.filter(pl.col("step") == step)
        bands = [(_group(r, report.by, t), t(r["category"]), float(r["n"]))
                 for r in rows.iter_rows(named=True) if r["n"] is not None and r["n"] > 0]
        hidden = rows.filter(pl.col("suppressed")).height
        title = f"{t('step')} {step}" + (f" ({hidden}× {SUPPRESSED_MARK})" if hidden else "")
        nodes = len({b[0] for b in bands})
        right = [t(c) for c in TENURES] + sorted({b[1] for b in bands} - {t(c) for c in TENURES})
        charts.append(svg.sankey(bands, f"sankey_step_{step}", title, right=right,
                                 height=max(220, 40 + 26 * nodes), colours=colours) if bands
                      else f'<p class="note">{escape(title)}: {escape(t("no_data"))}</p>')
    body = f'<div class="sankeys">{"".join(charts)}</div>'
    return _section("flows", t, body, t("sankey"))


def _margin(frame: pl.DataFrame, by: tuple[str, ...]) -> pl.DataFrame:
    return frame.filter(pl.all_horizontal([pl.col(c) == "all" for c in by])) if by else frame


def _reach_chart(report, t, colours) -> str:
    d = report.tables["reach"].filter(pl.col("statistic") == "per_100")
    series: dict[str, list] = {}
    for r in d.iter_rows(named=True):
        series.setdefault(_group(r, report.by, t), []).append(
            (t(r["target_group"]), r["value"], r["ci_low"], r["ci_high"]))
    return _section("reach", t, svg.bars(series, "reach", t("target_group"), colours),
                    f'{escape(t("per_100"))}. {escape(t("interval_note"))}')


def _rounds_chart(report, t) -> str:
    d = _margin(report.tables["rounds"], report.by).filter(pl.col("statistic") == "cumulative_per_100").sort("step")
    series: dict[str, list] = {}
    for r in d.iter_rows(named=True):
        series.setdefault(t(r["area_class"]), []).append((str(r["step"]), r["value"]))
    return _section("rounds", t, svg.lines(series, "rounds", t("step")),
                    f'{escape(t("cumulative_per_100"))} ({escape(t("all"))})')


def _end_chart(report, t) -> str:
    d = report.tables["end_reasons"].filter(pl.col("statistic") == "share")
    rows: dict[str, list] = {}
    for r in d.iter_rows(named=True):
        rows.setdefault(_group(r, report.by, t), []).append((t(r["end_reason"]), r["value"]))
    return _section("end_reasons", t, svg.stacked(rows, "end_reasons"), escape(t("share")))


def _scenario_section(scenario: pl.DataFrame, t, lang: str = "en") -> str:
    from flyttkedja.scenario.summary import headline, summary_paragraphs  # the planner's sentences (one source)

    charts = [f"<p>{escape(p)}</p>" for p in summary_paragraphs(scenario, lang=lang)]
    scenario = headline(scenario)
    for measure in sorted(scenario["measure"].unique().to_list()):
        d = scenario.filter(pl.col("measure") == measure).sort(["programme", "method", "group"], nulls_last=False)
        series: dict[str, list] = {}
        for r in d.iter_rows(named=True):
            value = None if r["suppressed"] else r["estimate"]
            lo, hi = (None, None) if r["suppressed"] else (r["lower"], r["upper"])
            series.setdefault(t(r["method"]), []).append(
                (r["programme"] + (f" · {t(r['group'])}" if r["group"] is not None else ""), value, lo, hi))
        charts.append(f"<h3>{escape(measure)}</h3>" + svg.bars(series, f"scenario_{measure}"))
    return _section("scenario", t, "".join(charts), escape(t("interval_note")))


def _section(key: str, t, body: str, note: str = "") -> str:
    return f'<section id="{key}"><h2>{escape(t(key))}</h2><p class="note">{note}</p>{body}</section>'


def _tables_section(report, t, scenario) -> str:
    threshold = report.options.get("threshold", 5)
    parts = [f'<p class="note">{escape(t("suppressed_note").format(t=threshold))}</p>']
    frames = dict(report.tables)
    if scenario is not None:
        frames["scenario"] = scenario
    for name, frame in frames.items():
        parts.append(f"<details><summary>{escape(t(name))} ({frame.height})</summary>{table_html(frame, t)}</details>")
    return f'<section id="tables"><h2>{escape(t("tables"))}</h2>{"".join(parts)}</section>'


def table_html(frame: pl.DataFrame, t) -> str:
    """A table with labelled headers; numbers of suppressed rows shown as ".."."""
    cols = [c for c in frame.columns if c != "suppressed"]
    head = "".join(f"<th>{escape(t(c))}</th>" for c in cols)
    body = []
    for r in frame.iter_rows(named=True):
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, str):
                cells.append(f'<td class="k">{escape(t(v))}</td>')
            elif v is None or (r.get("suppressed") and isinstance(v, float)):
                cells.append(f'<td class="s">{SUPPRESSED_MARK}</td>')
            else:
                cells.append(f"<td>{_num(v, 3 if isinstance(v, float) else 0)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _method(report, t, lang: str) -> str:
    refs = "".join(f"<li>{escape(r)}</li>" for r in REFERENCES)
    params = ", ".join(f"{k}={v}" for k, v in sorted(report.parameters().items())
                       if k in ("by", "replicates", "level", "seed", "disclosure", "threshold", "rounds"))
    return (f'<section id="method_note"><h2>{escape(t("method_note"))}</h2><p>{escape(METHOD[lang])}</p>'
            f'<p class="note">{escape(params)}</p><ol>{refs}</ol></section>')


def _num(x, digits: int) -> str:
    if x is None:
        return SUPPRESSED_MARK
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)
