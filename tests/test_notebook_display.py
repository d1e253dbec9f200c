"""Rich display in notebooks: `_repr_html_` of Report, ChainSet and the scenario comparison.

Only published aggregates may show: the figures are those of the disclosure-
controlled tables, a withheld cell is "..", and no identifier appears.
"""

from __future__ import annotations

import re

import polars as pl
import pytest
from test_report_html import build_report, scenario_fixture

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


def _new_style(frame: pl.DataFrame) -> pl.DataFrame:
    """The fixture with per-line and per-area rows, as the reworked scenario engine writes them."""
    lines = frame.with_columns(line=pl.lit("0"), area=pl.lit("region"), estimate=pl.col("estimate") * 10)
    areas = frame.with_columns(line=pl.lit(None, pl.String), area=pl.lit("rest"), estimate=pl.col("estimate") * 100)
    whole = frame.with_columns(line=pl.lit(None, pl.String), area=pl.lit("region"))
    return pl.concat([whole, lines, areas]).select("programme", "line", "area", *frame.columns[1:])


@pytest.mark.parametrize("style", ["old", "new"])
def test_comparison_repr_html_headline(style):
    from flyttkedja.scenario import Comparison

    table = scenario_fixture() if style == "old" else _new_style(scenario_fixture())
    html = Comparison(table, ("programme 'coop_100' line 0: its strata hold 3 vacancy records",))._repr_html_()
    _safe(html)
    cells = _cells(html)
    assert "2.30 (2.00–2.60)" in cells and "2.10" in cells  # microsimulation with interval, model without
    assert "chain length mean" in cells and "reached young adults" not in html  # headline measures only
    assert "23.00" not in cells and "230.00" not in cells  # no per-line or per-area rows
    assert "2 programme(s): rental_100, coop_100" in html and "its strata hold 3" in html


def test_comparison_withheld_cells_are_marked():
    from flyttkedja.analysis.display import comparison_html

    table = scenario_fixture().with_columns(suppressed=pl.col("programme") == "coop_100")
    html = comparison_html(table)
    assert SUPPRESSED_MARK in _cells(html)
    assert not {"2.50", "2.20", "2.90"} & set(re.findall(r"\d+\.\d\d", html))  # coop_100: withheld


def test_load_comparison_reads_the_run_warnings(tmp_path):
    from flyttkedja import store
    from flyttkedja.scenario import Comparison, load_comparison

    scenario_fixture().write_parquet(tmp_path / store.COMPARISON_FILE)
    assert load_comparison(tmp_path).warnings == ()
    store.write_scenario_manifest(tmp_path, store.ScenarioManifest({"name": "x"}, warnings=["few records"]))
    loaded = load_comparison(tmp_path)
    assert isinstance(loaded, Comparison) and loaded.warnings == ("few records",)
    assert loaded.table.equals(scenario_fixture())
    assert "few records" in loaded._repr_html_()
