"""Analysis of traced chains: length, vacancy flows, reach, rounds, segregation, end reasons.

Polars in and out; bootstrap intervals on every rate and mean; disclosure
control on by default. Definitions: docs/analysis.md and docs/disclosure.md.

Example
-------
>>> from flyttkedja.analysis import Report
>>> report = Report(chainset, areas=register.areas)     # doctest: +SKIP
>>> print(report.summary()); report.write("out/report")  # doctest: +SKIP
"""

from flyttkedja.analysis.bootstrap import percentile_interval, replicate_cell_totals
from flyttkedja.analysis.disclosure import Model, Rules, attack, cell_key_perturbation, protect, secondary_suppression
from flyttkedja.analysis.groups import (
    TARGET_GROUPS,
    area_income_classes,
    consumption_units,
)
from flyttkedja.analysis.release import Ledger
from flyttkedja.analysis.report import Report
from flyttkedja.analysis.tabulation import (
    DEPTH_TABLES,
    TABLES,
    default_tables,
    depth_distribution,
    depth_summary,
    end_reasons,
    length_distribution,
    length_summary,
    reach,
    rounds,
    segregation,
    tables,
    vacancy_flows,
)

__all__ = [
    "DEPTH_TABLES", "Ledger", "Model", "Report", "Rules", "TABLES", "TARGET_GROUPS", "area_income_classes",
    "attack", "cell_key_perturbation", "consumption_units", "default_tables", "depth_distribution",
    "depth_summary", "end_reasons", "length_distribution", "length_summary", "percentile_interval", "protect",
    "reach", "replicate_cell_totals", "rounds", "secondary_suppression", "segregation", "tables",
    "vacancy_flows",
]
