"""The self-contained HTML report: interactive charts, every table with suppression marks, a method note.

One file that opens offline from disk: the charts are drawn by plotly.js, which
is inlined (compressed) from the ``plotly`` Python package, so the page makes
no request. The same report gives the same bytes (fixed element ids, no
timestamps; row order is the tables' own, which is sorted). Person and
household ids never reach the tables, so never the page.

Example
-------
>>> html = render_html(report, lang="sv", scenario=comparison)   # doctest: +SKIP
"""

from __future__ import annotations

import json
from html import escape

import polars as pl

from flyttkedja.analysis import charts
from flyttkedja.analysis.charts import Text
from flyttkedja.analysis.labels import SUPPRESSED_MARK
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

CSS = """body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;
padding:1em 1.5em;color:#222;line-height:1.4}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:2em}
nav a{margin-right:1em}table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}th{background:#f4f4f4}td.k{text-align:left}
td.s{color:#b00}.note{color:#555;font-size:.9em}.figs{display:flex;gap:2em;flex-wrap:wrap}
.fig b{font-size:1.6em;display:block}.panels{display:flex;gap:1em}.panel{flex:1 1 0;min-width:0}
.panel h3{font-size:1em;margin:.2em 0}div.chart{width:100%;min-height:120px}
details{margin:.4em 0}summary{cursor:pointer;font-weight:600}
@media print{div.chart{break-inside:avoid}}"""

# Unpacks plotly.js (charts.plotly_loader) and draws every div.chart from its spec. Sets <html data-charts="ready">
# when all are drawn, "failed" (and a console error) otherwise, so tests and readers can tell.
LOADER = """(async () => {
  const root = document.documentElement, $ = (id) => document.getElementById(id);
  try {
    if (!("DecompressionStream" in window)) throw new Error("this browser cannot unpack the charts");
    await window.flyttkedjaPlotly();  // charts.plotly_loader(): shared with the scenario explorer
    const specs = JSON.parse($("chart-specs").textContent);
    if (specs.locale) Plotly.register({moduleType: "locale", name: specs.locale.name,
                                       dictionary: specs.locale.dictionary});
    for (const el of document.querySelectorAll("div.chart")) {
      const f = specs.charts[el.dataset.chart];
      await Plotly.newPlot(el, f.data, f.layout, f.config);
    }
    root.dataset.charts = "ready";
  } catch (e) {
    root.dataset.charts = "failed";
    $("no-charts").hidden = false;
    console.error("flyttkedja report: charts not drawn:", e);
  }
})();"""


def render_html(report, lang: str = "en", scenario: pl.DataFrame | None = None, alongside=None,
                explorer=None) -> str:
    """The report as one HTML document (a str).

    ``scenario`` is a scenario comparison table, if any. ``alongside`` is a
    second Report of the same register under another chain convention (e.g.
    trees beside paths): each chart whose figures differ is then drawn twice,
    side by side, captioned with the convention. ``explorer``: a scenario
    output (or saved model) directory whose model the scenario explorer
    section lets the reader try programmes on (:mod:`flyttkedja.explorer`).
    """
    t = Text(lang)
    page = _Page(t, [report] + ([alongside] if alongside is not None else []))
    sections = [page.key_figures(),
                page.charts("length_distribution", charts.length_figure, f"{t('share')} · {t('chains')}", True),
                page.charts("flows", charts.flows_figure, t("sankey_note"), True),
                page.charts("reach", charts.reach_figure, f"{t('per_100')}. {t('interval_note')}", True)]
    if "rounds" in report.tables:
        sections.append(page.charts("rounds", charts.rounds_figure,
                                    f"{t('cumulative_per_100')} ({t('all')}). {t('interval_note')}"))
    sections.append(page.charts("end_reasons", charts.end_figure, t("share_of_chains")))
    if scenario is not None:
        sections.append(page.scenario(scenario))
    if explorer is not None:
        from flyttkedja.explorer import explorer_body

        sections.append(_section("explorer", t, explorer_body(explorer, lang, embedded=True)))
    sections += [_tables_section(report, t, scenario), _method(report, t, lang)]
    keys = ["length_distribution", "flows", "reach", "rounds", "end_reasons", "scenario", "explorer", "tables",
            "method_note"]
    present = {"rounds": "rounds" in report.tables, "scenario": scenario is not None, "explorer": explorer is not None}
    nav = "".join(f'<a href="#{k}">{escape(t(k))}</a>' for k in keys if present.get(k, True))
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(t('title'))}</title><style>{CSS}</style></head><body>"
            f"<h1>{escape(t('title'))}</h1><nav>{nav}</nav>"
            f'<noscript><p class="note">{escape(t("no_charts"))}</p></noscript>'
            f'<p class="note" id="no-charts" hidden>{escape(t("no_charts"))}</p>'
            + "".join(sections) + page.scripts() + "</body></html>\n")


class _Page:
    """The charts of one page: their specs by name (fixed, so the same report gives the same ids)."""

    def __init__(self, t: Text, reports: list):
        self.t, self.reports = t, reports
        self.specs: dict[str, dict] = {}
        self.colours = charts.colours(reports[0], t)

    def _chart(self, name: str, fig: dict) -> str:
        self.specs[name] = {**fig, "config": charts.config(name, self.t)}
        return f'<div class="chart" id="chart-{escape(name)}" data-chart="{escape(name)}"></div>'

    def _panels(self, key: str, figs: list[dict]) -> str:
        """One chart, or one per convention side by side when the reports' figures differ."""
        if len(figs) == 1 or all(f == figs[0] for f in figs[1:]):
            return self._chart(key, figs[0])
        panels = []
        for r, fig in zip(self.reports, figs):
            conv = getattr(r, "convention", "path")
            panels.append(f'<div class="panel"><h3>{escape(self.t("convention_" + conv))}</h3>'
                          f"{self._chart(f'{key}__{conv}', fig)}</div>")
        return f'<div class="panels">{"".join(panels)}</div>'

    def charts(self, key: str, build, note: str, coloured: bool = False) -> str:
        figs = [build(r, self.t, self.colours) if coloured else build(r, self.t) for r in self.reports]
        return _section(key, self.t, self._panels(key, figs), escape(note))

    def key_figures(self) -> str:
        blocks = [_key_figures(r, self.t) for r in self.reports]
        if len(blocks) == 1 or all(b == blocks[0] for b in blocks[1:]):
            return blocks[0]
        return '<div class="panels">' + "".join(
            f'<div class="panel"><h3>{escape(self.t("convention_" + getattr(r, "convention", "path")))}</h3>{b}'
            "</div>" for r, b in zip(self.reports, blocks)) + "</div>"

    def scenario(self, scenario: pl.DataFrame) -> str:
        t = self.t
        from flyttkedja.scenario.summary import headline, summary_paragraphs  # the planner's sentences (one source)

        parts = [f"<p>{escape(p)}</p>" for p in summary_paragraphs(scenario, lang=t.lang)]
        parts.append(self._chart("scenario", charts.scenario_figure(headline(scenario), t)))
        return _section("scenario", t, "".join(parts), escape(f"{t('scenario_note')} {t('interval_note')}"))

    def scripts(self) -> str:
        version, bundle = charts.plotly_bundle()
        specs = {"charts": self.specs}
        if self.t.lang == "sv":
            specs["locale"] = {"name": "sv", "dictionary": charts.SV_LOCALE}
        data = json.dumps(specs, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        data = data.replace("<", "\\u003c")  # valid JSON that can never close the script element
        return (f'<script type="application/json" id="chart-specs">{data}</script>'
                f'<script type="application/gzip;base64" id="plotly-js" data-version="{escape(version)}">'
                f"{bundle}</script><script>{charts.plotly_loader()}</script><script>{LOADER}</script>")


def _key_figures(report, t) -> str:
    s = report.tables["length_summary"]
    if report.by:
        s = s.filter(pl.all_horizontal([pl.col(c) == "all" for c in report.by]))
    d = {r["statistic"]: r for r in s.iter_rows(named=True)}
    comma = getattr(t, "lang", "en") == "sv"  # Swedish decimal comma in the big figures
    fig = lambda v, k: f'<div class="fig"><b>{v.replace(".", ",") if comma else v}</b>{escape(t(k))}</div>'  # noqa: E731
    mean = d.get("mean", {})
    return ('<div class="figs">' + fig(_num(mean.get("n_base"), 0), "new_builds")
            + fig(_num(mean.get("value"), 2), "mean_length")
            + fig(_num(d.get("per_100", {}).get("value"), 0), "moves_per_100") + "</div>")


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
            f'<p class="note">{escape(params)}</p><ol>{refs}</ol>'
            f'<p class="note">{escape(t("charts_credit").format(v=charts.plotly_bundle()[0]))}</p></section>')


def _num(x, digits: int) -> str:
    if x is None:
        return SUPPRESSED_MARK
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)
