"""`Comparison`: a scenario comparison table with the run's warnings, shown as a summary in notebooks.

Example
-------
>>> comparison = load_comparison("out/kustvik")     # doctest: +SKIP
>>> comparison                                       # in Jupyter: headline measures with intervals  # doctest: +SKIP
>>> comparison.table.filter(pl.col("method") == "microsimulation")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape

import polars as pl

from flyttkedja import store
from flyttkedja.analysis.charts import Text, measure_label
from flyttkedja.analysis.display import block, html_table, with_interval
from flyttkedja.analysis.labels import SUPPRESSED_MARK, label
from flyttkedja.scenario.compare import GROSS, NET, RATIO, read_comparison
from flyttkedja.scenario.summary import headline, summary_paragraphs

#: headline measures of a comparison, in the order shown (those the run has)
KEY_MEASURES = (GROSS, NET, RATIO)


@dataclass(frozen=True)
class Comparison:
    """The comparison table of a scenario run (columns :data:`~flyttkedja.scenario.COMPARISON_COLUMNS`)
    and its warnings. ``Comparison(run(scenario, out))`` wraps a fresh run."""

    table: pl.DataFrame
    warnings: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        """Jupyter's rich display: programmes, methods, the headline measures with intervals, the warnings."""
        return comparison_html(self.table, self.warnings)


def load_comparison(path: str | os.PathLike) -> Comparison:
    """The comparison of a scenario output directory, with the warnings recorded in its ``scenario.json``."""
    manifest = store.read_scenario_manifest(path)
    return Comparison(read_comparison(path), tuple(manifest.warnings) if manifest is not None else ())


def key_rows(table: pl.DataFrame) -> pl.DataFrame:
    """The comparison's key rows: :data:`KEY_MEASURES` (else its first measure) for whole programmes over the region."""
    rows = headline(table)
    present = [m for m in KEY_MEASURES if m in set(rows["measure"].to_list())]
    measures = present or sorted(rows["measure"].unique().to_list())[:1]
    order = {m: i for i, m in enumerate(measures)}
    return (rows.filter(pl.col("measure").is_in(measures))
            .with_columns(_o=pl.col("measure").replace_strict(order, return_dtype=pl.Int32))
            .sort(["programme", "_o", "method", "group"], nulls_last=False).drop("_o"))


def comparison_html(table: pl.DataFrame, warnings=(), lang: str = "en") -> str:
    """A comparison in a notebook: the planner's sentences, the key measures with 95% intervals, the warnings.

    Withheld rows (``suppressed``) show "..", never their estimate.
    """
    t = lambda k: label(k, lang)  # noqa: E731
    programmes = table["programme"].unique(maintain_order=True).to_list()
    methods = [t(m) for m in table["method"].unique(maintain_order=True).to_list()]
    rows = [[(r["programme"], True), (t(r["method"]), True), (measure_label(r["measure"], Text(lang)), True),
             (SUPPRESSED_MARK if r["suppressed"] else with_interval(r["estimate"], r["lower"], r["upper"], 2), False)]
            for r in key_rows(table).iter_rows(named=True)]
    body = (f"<p>{len(programmes)} programme(s): {escape(', '.join(programmes))}; methods: "
            f"{escape(', '.join(methods))}; {table['measure'].n_unique()} measures, {table.height} rows</p>"
            + "".join(f"<p>{escape(p)}</p>" for p in summary_paragraphs(table, lang=lang))
            + html_table([t("programme"), t("method"), t("measure"), f"{t('estimate')} (95%)"], rows))
    if warnings:
        body += "<ul>" + "".join(f"<li>{escape(w)}</li>" for w in warnings) + "</ul>"
    return block("Scenario comparison", body, "comparison.table holds every measure; "
                 "Report.write(dir, scenario=comparison.table) draws them")
