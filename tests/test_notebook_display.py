"""Rich display in notebooks: `_repr_html_` of Report, ChainSet and the scenario comparison.

Only published aggregates may show: the figures are those of the disclosure-
controlled tables, a withheld cell is "..", and no identifier appears.
"""

from __future__ import annotations

import re

import polars as pl
import pytest
from test_report_html import build_report

from flyttkedja.analysis.labels import SUPPRESSED_MARK, label

IDS = ("household_id", "person_id", "dwelling_id", "seed_dwelling", "move_row", "chain_id")


@pytest.fixture(scope="module")
def chainset(small_register):
    from flyttkedja.core import trace

    reg = small_register
    return trace(reg.moves, reg.dwellings, "new_builds", window=reg.window, max_gap_days=reg.max_gap_days)


@pytest.fixture(scope="module")
def report(small_register):
    return build_report(small_register, replicates=20)


def _cells(html: str) -> list[str]:
    return re.findall(r"<td[^>]*>([^<]*)</td>", html)


def _safe(html: str) -> None:
    assert "<script" not in html
    for name in IDS:
        assert name not in html, name


def test_report_repr_html_is_the_length_summary(report):
    html = report._repr_html_()
    _safe(html)
    assert label("mean_length") in html and label("rental") in html
    s = report["length_summary"]
    for r in s.filter(pl.col("statistic") == "mean").iter_rows(named=True):
        if r["value"] is not None:
            assert f"{r['value']:.2f} ({r['ci_low']:.2f}–{r['ci_high']:.2f})" in html
    for name, frame in report.tables.items():
        assert f"{name} ({frame.height} rows, {int(frame['suppressed'].sum())} withheld)" in html
    assert "threshold 5" in html and "path convention" in html


def test_chainset_repr_html_passes_disclosure_control(chainset):
    from flyttkedja.analysis import length_summary
    from flyttkedja.analysis.display import chainset_html

    html = chainset._repr_html_()
    _safe(html)
    s = length_summary(chainset, by=["tenure"], ci=False)
    total = s.filter((pl.col("tenure") == "all") & (pl.col("statistic") == "mean")).row(0, named=True)
    assert f"<p>{total['n_base']} chains, {total['n']} links (moves)</p>" in html
    assert "window 2020-01-01 – 2022-12-31" in html and "gap limit 365 days" in html
    # with a high threshold the small seed groups are withheld: their counts are not on the page
    strict = chainset_html(chainset, threshold=20)
    counts = chainset.chains.group_by("tenure").len()
    small = counts.filter(pl.col("len") < 20)
    assert small.height and SUPPRESSED_MARK in _cells(strict)
    shown = _cells(strict)
    for n in small["len"].to_list():
        row = next(i for i, c in enumerate(shown) if c == label(small.filter(pl.col("len") == n)["tenure"][0]))
        assert shown[row + 1] == SUPPRESSED_MARK


def contract_fixture() -> pl.DataFrame:
    """A comparison in the contract's shape: gross/net/ratio per programme, plus per-line and per-area rows."""
    from flyttkedja.scenario.compare import COMPARISON_COLUMNS, GROSS, NET, RATIO

    rows = []
    for prog, scale in (("rental_100", 1.0), ("coop_100", 2.0)):
        for line, area, k in ((None, "region", 1), ("0", "region", 10), (None, "rest", 100)):
            rows += [(prog, line, area, "transition_model", GROSS, None, 210.0 * scale * k, None, None, 900, False),
                     (prog, line, area, "microsimulation", GROSS, None, 205.0 * scale * k, 190.0, 220.0, 20, False),
                     (prog, line, area, "microsimulation", NET, None, 118.0 * scale * k, 74.0, 162.0, 20,
                      prog == "coop_100"),
                     (prog, line, area, "microsimulation", RATIO, None, 0.58 * scale, 0.4, 0.7, 20, False),
                     (prog, line, area, "microsimulation", "reached_young_adults_per_100_new", "young_adults",
                      41.0 * k, None, None, 3, True)]
    return pl.DataFrame(rows, schema=list(COMPARISON_COLUMNS), orient="row")


def test_comparison_repr_html_headline():
    from flyttkedja.scenario import Comparison

    table = contract_fixture()
    html = Comparison(table, ("programme 'coop_100' line 0: its strata hold 3 vacancy records",))._repr_html_()
    _safe(html)
    cells = _cells(html)
    assert "205.00 (190.00–220.00)" in cells and "210.00" in cells  # microsimulation with interval, model without
    assert label("moves_net_per_100_new") in cells and label("displacement_ratio") in cells
    assert "reached young adults" not in html  # key measures only
    assert "2050.00" not in html and "20500.00" not in html  # no per-line or per-area rows
    assert "2 programme(s): rental_100, coop_100" in html and "its strata hold 3" in html
    assert "rental_100: " in html  # the planner's sentences of flyttkedja.scenario.summary


def test_comparison_withheld_cells_are_marked():
    from flyttkedja.scenario import Comparison

    html = Comparison(contract_fixture())._repr_html_()
    coop = [c for c in re.findall(r"<tr>(.*?)</tr>", html) if "coop_100" in c and label("moves_net_per_100_new") in c]
    assert coop and all(f">{SUPPRESSED_MARK}<" in c and "236" not in c for c in coop)  # 118 × 2 withheld
    assert "236" not in html


def test_load_comparison_reads_the_run_warnings(tmp_path):
    from flyttkedja import store
    from flyttkedja.scenario import Comparison, load_comparison

    table = contract_fixture()
    table.write_parquet(tmp_path / store.COMPARISON_FILE)
    assert load_comparison(tmp_path).warnings == ()
    store.write_scenario_manifest(tmp_path, store.ScenarioManifest({"name": "x"}, warnings=["few records"]))
    loaded = load_comparison(tmp_path)
    assert isinstance(loaded, Comparison) and loaded.warnings == ("few records",)
    assert loaded.table.equals(table.select(loaded.table.columns))
    assert "few records" in loaded._repr_html_()


def test_report_scenario_section_never_shows_withheld_estimates(report):
    """The planner's sentences, the chart and the table of report.html print ".." for a withheld row."""
    page = report.html(scenario=contract_fixture())
    page = page[:page.index('<script type="application/gzip;base64"')]  # the plotly bundle's digits aside
    # the withheld estimates (236, 2360) as numbers of their own, not digits inside another value (30.236)
    assert re.search(r"(?<![\d.])2360?(?![\d])", page) is None
    assert f"gains {SUPPRESSED_MARK} moves" in page
