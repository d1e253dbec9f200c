"""The HTML report: self-contained, reproducible, labelled in both languages, suppression marked."""

from __future__ import annotations

import re

import polars as pl
import pytest

from flyttkedja import store
from flyttkedja.analysis.labels import LANGS, SUPPRESSED_MARK, label


def build_report(register, replicates: int = 40):
    """A Report of the tiny synthetic register (default disclosure: small cells suppressed)."""
    from flyttkedja.analysis import Report
    from flyttkedja.core import trace

    cs = trace(register.moves, register.dwellings, "new_builds", window=register.window,
               max_gap_days=register.max_gap_days)
    return Report(cs, areas=register.areas, replicates=replicates)


def scenario_fixture() -> pl.DataFrame:
    """A comparison table of the shape `flyttkedja scenario run` writes (briefing contract)."""
    return pl.DataFrame({
        "programme": ["rental_100", "rental_100", "coop_100", "coop_100", "coop_100"],
        "method": ["transition_model", "microsimulation", "transition_model", "microsimulation", "microsimulation"],
        "measure": ["chain_length_mean", "chain_length_mean", "chain_length_mean", "chain_length_mean",
                    "reached_young_adults_per_100_new"],
        "group": [None, None, None, None, "young_adults"],
        "estimate": [2.1, 2.3, 2.6, 2.5, 41.0],
        "lower": [None, 2.0, None, 2.2, None],
        "upper": [None, 2.6, None, 2.9, None],
        "n": [100, 100, 100, 100, 3],
        "suppressed": [False, False, False, False, True],
    }, schema={"programme": pl.String, "method": pl.String, "measure": pl.String, "group": pl.String,
               "estimate": pl.Float64, "lower": pl.Float64, "upper": pl.Float64, "n": pl.Int64,
               "suppressed": pl.Boolean})


@pytest.fixture(scope="module")
def report(small_register):
    return build_report(small_register)


def test_html_self_contained_and_complete(report):
    html = report.html(scenario=scenario_fixture())
    # offline: no external resources of any kind, no scripts at all
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", html)
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert "<script" not in html and "@import" not in html and "url(" not in html
    for chart in ("length_distribution", "reach", "rounds", "end_reasons", "scenario_chain_length_mean"):
        assert f'data-chart="{chart}"' in html, chart
    assert 'class="chart sankey"' in html and 'class="band"' in html
    for ref in ("White", "Lansing", "Emmi", "Malmö", "Mast", "Bratu"):
        assert ref in html
    # every table is rendered, with the suppression mark where cells were withheld
    assert report["flows"]["suppressed"].any()
    assert f'<td class="s">{SUPPRESSED_MARK}</td>' in html
    assert html.count("<details>") == len(report.tables) + 1


def test_html_never_prints_identifiers(report, small_register):
    html = report.html()
    assert "household_id" not in html and "person_id" not in html and "dwelling_id" not in html
    # the suppressed cells' counts are not in the page either (tables show ".." instead)
    flows = report["flows"]
    assert flows.filter(pl.col("suppressed"))["value"].null_count() == flows["suppressed"].sum()


def test_html_byte_identical_for_same_inputs(report, small_register, tmp_path):
    a = report.write_html(tmp_path / "a.html", lang="sv", scenario=scenario_fixture())
    again = build_report(small_register)
    b = again.write_html(tmp_path / "b.html", lang="sv", scenario=scenario_fixture())
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != report.write_html(tmp_path / "c.html", lang="en").read_bytes()


def test_swedish_labels(report):
    sv, en = report.html(lang="sv"), report.html(lang="en")
    assert '<html lang="sv">' in sv and "hyresrätt" in sv and "bostadsrätt" in sv and "äganderätt" in sv
    assert "Flyttkedjor från nyproduktion" in sv and "unga vuxna" in sv
    assert "hyresrätt" not in en and "rental" in en
    assert label("owner", "sv") == "äganderätt" and label("unknown_code", "sv") == "unknown_code"
    with pytest.raises(ValueError, match="lang"):
        label("rental", "de")
    assert LANGS == ("en", "sv")


def test_sankey_bands_are_the_published_flows(report):
    """Step-1 bands are exactly the unsuppressed step-1 tenure flows of each seed tenure."""
    from flyttkedja.analysis.html import render_html

    html = render_html(report)
    step1 = html.split('data-chart="sankey_step_1"')[1].split("</svg>")[0]
    titles = re.findall(r'class="band"[^>]*><title>([^<]*)</title>', step1)
    f = report["flows"].filter((pl.col("step") == "1") & (pl.col("dimension") == "tenure")
                               & (pl.col("category") != "all") & (pl.col("tenure") != "all")
                               & ~pl.col("suppressed") & (pl.col("n") > 0))
    expected = sorted(f"{label(r['tenure'])} → {label(r['category'])}: {float(r['n']):.3g}"
                      for r in f.iter_rows(named=True))
    assert sorted(t.replace("&gt;", ">") for t in titles) == expected


def test_cli_writes_html_xlsx_with_lang_and_scenario(small_register, tmp_path):
    from click.testing import CliRunner

    from flyttkedja.cli import main

    small_register.write(tmp_path / "A")
    runner = CliRunner()
    assert runner.invoke(main, ["trace", str(tmp_path / "A"), "--out", str(tmp_path / "B")]).exit_code == 0
    (tmp_path / "S").mkdir()
    scenario_fixture().write_parquet(tmp_path / "S" / store.COMPARISON_FILE)
    result = runner.invoke(main, ["report", str(tmp_path / "B"), "--out", str(tmp_path / "C"), "--replicates", "20",
                                  "--lang", "sv", "--scenario", str(tmp_path / "S")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "C" / store.REPORT_HTML).read_text(encoding="utf-8")
    assert "hyresrätt" in html and "Scenariojämförelse" in html and "rental_100" in html
    assert (tmp_path / "C" / store.REPORT_XLSX).stat().st_size > 0
    bad = runner.invoke(main, ["report", str(tmp_path / "B"), "--out", str(tmp_path / "D"), "--lang", "de"])
    assert bad.exit_code != 0
    missing = runner.invoke(main, ["report", str(tmp_path / "B"), "--out", str(tmp_path / "E"),
                                   "--scenario", str(tmp_path / "A")])
    assert missing.exit_code != 0 and store.COMPARISON_FILE in missing.output


@pytest.mark.parametrize("by", [(), ("tenure", "rooms")])
def test_other_groupings_draw_every_chart(small_register, by):
    from flyttkedja.analysis import Report
    from flyttkedja.core import trace

    reg = small_register
    cs = trace(reg.moves, reg.dwellings, "new_builds", window=reg.window, max_gap_days=reg.max_gap_days)
    html = Report(cs, areas=reg.areas, by=by, replicates=10, disclosure=None).html()
    for chart in ("length_distribution", "sankey_step_1", "reach", "rounds", "end_reasons"):
        assert f'data-chart="{chart}"' in html, chart


@pytest.mark.parametrize("require", [False, True])
def test_browser_test_fails_without_browser_when_required(tmp_path, require):
    """CI sets FLYTTKEDJA_REQUIRE_BROWSER: then a missing Chromium is an error, not a skip."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "FLYTTKEDJA_CHROMIUM": str(tmp_path / "no-chromium")}
    env.pop("FLYTTKEDJA_REQUIRE_BROWSER", None)
    if require:
        env["FLYTTKEDJA_REQUIRE_BROWSER"] = "1"
    test = Path(__file__).with_name("test_browser_report.py")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                         env=env, capture_output=True, text=True, cwd=tmp_path)
    if require:
        assert run.returncode != 0 and "FLYTTKEDJA_REQUIRE_BROWSER" in run.stdout
    else:
        assert run.returncode in (0, 5) and "1 skipped" in run.stdout, run.stdout  # 5: nothing collected
