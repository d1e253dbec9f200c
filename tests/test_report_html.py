"""The HTML report: self-contained, reproducible, labelled in both languages, suppression marked."""

from __future__ import annotations

import json
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


def chart_specs(html: str) -> dict:
    """The plotly figure specs written into a report page, by chart name."""
    block = re.search(r'<script type="application/json" id="chart-specs">(.*?)</script>', html, re.S).group(1)
    return json.loads(block)["charts"]


@pytest.fixture(scope="module")
def report(small_register):
    return build_report(small_register)


CHARTS = ("length_distribution", "flows", "reach", "rounds", "end_reasons")


def test_html_self_contained_and_complete(report):
    html = report.html(scenario=scenario_fixture())
    # offline: no external resources of any kind; the only scripts are inline
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", html)
    assert "http://" not in html and "https://" not in html
    assert "@import" not in html and "url(" not in html
    assert not re.search(r"<script[^>]*\bsrc\b", html)
    specs = chart_specs(html)
    assert list(specs) == [*CHARTS, "scenario"]
    for name in specs:
        assert f'<div class="chart" id="chart-{name}" data-chart="{name}"></div>' in html, name
    for ref in ("White", "Lansing", "Emmi", "Malmö", "Mast", "Bratu"):
        assert ref in html
    # every table is rendered, with the suppression mark where cells were withheld
    assert report["flows"]["suppressed"].any()
    assert f'<td class="s">{SUPPRESSED_MARK}</td>' in html
    assert html.count("<details>") == len(report.tables) + 1


def test_chart_specs_are_valid_plotly(report):
    """Every figure is accepted by plotly's own schema (the Python package validates every property)."""
    import plotly.graph_objects as go

    for name, spec in chart_specs(report.html(lang="sv", scenario=scenario_fixture())).items():
        go.Figure(data=spec["data"], layout=spec["layout"])  # raises ValueError on any unknown property
        assert spec["data"], name
        assert spec["config"]["toImageButtonOptions"]["filename"] == name


def test_plotly_is_inlined_exactly(report):
    """The page carries the plotly package's own plotly.min.js (gzip, base64), and stays far below 5 MB."""
    import base64
    import gzip
    import importlib.resources

    html = report.html(scenario=scenario_fixture())
    packed = re.search(r'<script type="application/gzip;base64" id="plotly-js" data-version="([^"]+)">([^<]*)',
                       html)
    js = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    assert gzip.decompress(base64.b64decode(packed.group(2))) == js
    assert f"plotly.js v{packed.group(1)}".encode() in js[:400]
    assert len(html.encode()) < 5_000_000


def test_withheld_cells_are_marked_never_drawn(report):
    """A suppressed share is a zero-height bar labelled ".." whose hover says withheld; published bars are the table's."""
    d = report["length_distribution"].filter(pl.col("statistic") == "share")
    spec = chart_specs(report.html())["length_distribution"]
    marks = sum(tr["text"].count(SUPPRESSED_MARK) for tr in spec["data"])
    assert marks == d["suppressed"].sum() > 0
    for tr in spec["data"]:
        for x, y, text, hover in zip(tr["x"], tr["y"], tr["text"], tr["hovertemplate"]):
            if text == SUPPRESSED_MARK:
                assert y == 0 and "withheld" in hover
    rental = next(tr for tr in spec["data"] if tr["name"] == label("rental"))
    table = d.filter(pl.col("tenure") == "rental").sort("length")
    assert rental["x"] == table["length"].to_list()
    assert rental["y"] == pytest.approx([0.0 if v is None else v for v in table["value"].to_list()], rel=1e-5)


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
    assert re.search(r"<b>\d+,\d\d</b>medellängd", sv) and re.search(r"<b>\d+\.\d\d</b>mean chain length", en)
    assert label("owner", "sv") == "äganderätt" and label("unknown_code", "sv") == "unknown_code"
    with pytest.raises(ValueError, match="lang"):
        label("rental", "de")
    assert LANGS == ("en", "sv")


def test_sankey_bands_are_the_published_flows(report):
    """At every step of the slider the bands are exactly the published tenure flows (n shown) of each seed tenure."""
    from flyttkedja.analysis.charts import sankey_steps

    spec = chart_specs(report.html())["flows"]
    trace = spec["data"][0]
    nodes = trace["node"]["label"]
    views = [a["args"][0] for a in spec["layout"]["sliders"][0]["steps"]]
    assert [s["label"] for s in spec["layout"]["sliders"][0]["steps"]] == [*sankey_steps(report)[:-1], "all steps"]
    active = spec["layout"]["sliders"][0]["active"]  # the first step with bands is what is drawn at first
    assert views[active]["link.value"] == [trace["link"]["value"]] and trace["link"]["value"]
    assert all(not v["link.value"][0] for v in views[:active]) and trace["visible"]
    for step, view in zip(sankey_steps(report), views):
        bands = sorted((nodes[s], nodes[t], v) for s, t, v in
                       zip(view["link.source"][0], view["link.target"][0], view["link.value"][0]))
        f = report["flows"].filter((pl.col("step") == step) & (pl.col("dimension") == "tenure")
                                   & (pl.col("category") != "all") & (pl.col("tenure") != "all")
                                   & (pl.col("n") > 0))  # a band's rate may be withheld, its count not
        assert bands == sorted((label(r["tenure"]), label(r["category"]), r["n"]) for r in f.iter_rows(named=True))


def test_conventions_side_by_side_where_they_differ(report, small_register):
    """With a tree-convention report alongside, charts that differ are drawn twice, captioned; equal ones once."""
    import dataclasses

    from flyttkedja.analysis import Report
    from flyttkedja.core import trace

    reg = small_register
    cs = trace(reg.moves, reg.dwellings, "new_builds", window=reg.window, max_gap_days=reg.max_gap_days)
    other = dataclasses.replace(cs, params={**cs.params, "convention": "tree"},
                                chains=cs.chains.with_columns(length=pl.col("length") + (pl.col("chain_id") % 2)))
    # without disclosure control: with it, a small register's withheld cells can differ between the two
    # conventions' releases even where the links are the same
    tree = Report(other, areas=reg.areas, replicates=40, disclosure=None)
    path = Report(cs, areas=reg.areas, replicates=40, disclosure=None)
    assert tree.convention == "tree" and path.convention == "path"
    html = path.html(alongside=tree)
    specs = chart_specs(html)
    assert {"length_distribution__path", "length_distribution__tree"} <= set(specs)
    assert "flows" in specs and "flows__tree" not in specs  # the links are the same: one Sankey
    assert label("convention_path") in html and label("convention_tree") in html
    assert chart_specs(report.html(alongside=report)).keys() == chart_specs(report.html()).keys()


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
    html = Report(cs, areas=reg.areas, by=by, replicates=10, disclosure=None).html(scenario=scenario_fixture())
    specs = chart_specs(html)
    assert list(specs) == [*CHARTS, "scenario"]
    assert all(spec["data"] for spec in specs.values())
    assert len(html.encode()) < 5_000_000


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
