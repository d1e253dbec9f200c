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

import polars as pl

from flyttkedja import store
from flyttkedja.scenario.compare import read_comparison


@dataclass(frozen=True)
class Comparison:
    """The comparison table of a scenario run (columns :data:`~flyttkedja.scenario.COMPARISON_COLUMNS`)
    and its warnings. ``Comparison(run(scenario, out))`` wraps a fresh run."""

    table: pl.DataFrame
    warnings: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        """Jupyter's rich display: programmes, methods, the headline measures with intervals, the warnings."""
        from flyttkedja.analysis.display import comparison_html

        return comparison_html(self.table, self.warnings)


def load_comparison(path: str | os.PathLike) -> Comparison:
    """The comparison of a scenario output directory, with the warnings recorded in its ``scenario.json``."""
    manifest = store.read_scenario_manifest(path)
    return Comparison(read_comparison(path), tuple(manifest.warnings) if manifest is not None else ())
