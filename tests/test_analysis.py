"""flyttkedja.analysis: exact tables on a hand-computed register, and against the plain reference."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flyttkedja import store
from flyttkedja.analysis import (
    consumption_units,
    end_reasons,
    length_distribution,
    length_summary,
    reach,
    rounds,
    segregation,
    tables,
    vacancy_flows,
)
from flyttkedja.core.chainset import ChainSet
from flyttkedja.schema import SchemaError
from naive_analysis import naive_lower_median, naive_tables, random_chainset

EXACT = dict(ci=False, disclosure=None)


def hand_register() -> tuple[ChainSet, pa.Table]:
    """Three new builds (docs/analysis.md walks through the same example).

    A: rental seed 1 ← household from 10 ← household from 11 ← new household (3 links)
    B: cooperative seed 2 ← household from 12 ← immigrant (2 links)
    C: owner seed 3, never occupied (0 links, unfilled)
    """
    d = dt.date(2021, 1, 1)
    dwellings = pl.DataFrame({
        "dwelling_id": [1, 2, 3, 10, 11, 12],
        "building_id": [100, 100, 101, 200, 201, 202],
        "tenure": ["rental", "cooperative", "owner", "rental", "rental", "cooperative"],
        "landlord": ["public", None, None, "private", "private", None],
        "building_type": ["multi_dwelling", "multi_dwelling", "small_house", "multi_dwelling", "multi_dwelling",
                          "multi_dwelling"],
        "rooms": pl.Series([2, 3, 5, 1, 2, 3], dtype=pl.Int8),
        "area_id": pl.Series([0, 1, 1, 0, 0, 1], dtype=pl.Int32),
        "area_type": ["challenges", "good", "good", "challenges", "challenges", "good"],
        "municipality": ["1480"] * 6,
    })
    moves = pl.DataFrame({
        "household_id": [1, 2, 3, 4, 5],
        "move_date": [d + dt.timedelta(days=i) for i in (10, 20, 30, 15, 25)],
        "from_dwelling": pl.Series([10, 11, None, 12, None], dtype=pl.Int64),
        "to_dwelling": pl.Series([1, 10, 11, 2, 12], dtype=pl.Int64),
        "vacates": [True, True, False, True, False],
        "fills": [True] * 5,
        "size": pl.Series([1, 2, 1, 4, 3], dtype=pl.Int8),
        "adults": pl.Series([1, 2, 1, 2, 1], dtype=pl.Int8),
        "age_head": pl.Series([25, 70, 19, 40, 30], dtype=pl.Int16),
        "income": [200_000, 300_000, 60_000, 500_000, 100_000],
        "household_type": ["single", "couple", "single", "couple_with_children", "single_parent"],
        "born_abroad": [False, False, True, False, True],
    })
    chains = pl.DataFrame({
        "chain_id": [0, 1, 2], "seed_kind": ["new_build"] * 3, "seed_dwelling": [1, 2, 3],
        "seed_date": [d] * 3, "seed_move": pl.Series([None] * 3, dtype=pl.Int64),
        "length": pl.Series([3, 2, 0], dtype=pl.Int32), "end_reason": ["new_household", "immigrant", "unfilled"],
        "end_date": [d + dt.timedelta(days=30), d + dt.timedelta(days=25), d],
        "tenure": ["rental", "cooperative", "owner"], "rooms": pl.Series([2, 3, 5], dtype=pl.Int8),
    })
    links = pl.DataFrame({
        "chain_id": [0, 0, 0, 1, 1], "step": pl.Series([1, 2, 3, 1, 2], dtype=pl.Int32),
        "move_row": [0, 1, 2, 3, 4], "household_id": [1, 2, 3, 4, 5],
        "move_date": moves["move_date"], "from_dwelling": pl.Series([10, 11, None, 12, None], dtype=pl.Int64),
        "to_dwelling": [1, 10, 11, 2, 12],
    })
    areas = pa.table({"area_id": pa.array([0, 1], pa.int32()), "municipality": ["1480"] * 2,
                      "area_type": ["challenges", "good"], "median_income": [150_000, 300_000]})
    return ChainSet(chains, links, moves.to_arrow(), dwellings.to_arrow()), areas


def value(frame: pl.DataFrame, **keys) -> float:
    row = frame.filter(*[pl.col(k) == v for k, v in keys.items()])
    assert row.height == 1, (keys, row)
    return row["value"][0]


def test_hand_register_length():
    cs, _ = hand_register()
    out = length_summary(cs, **EXACT)
    assert value(out, tenure="rental", statistic="mean") == 3
    assert value(out, tenure="cooperative", statistic="per_100") == 200
    assert value(out, tenure="owner", statistic="median") == 0
    assert value(out, tenure="all", statistic="per_100") == pytest.approx(500 / 3)
    assert value(out, tenure="all", statistic="median") == 2
    dist = length_distribution(cs, by=[], **EXACT)
    assert dist.select("length", "n").sort("length").rows() == [(0, 1), (2, 1), (3, 1)]


def test_hand_register_flows_reach_rounds_segregation_end():
    cs, areas = hand_register()
    out = tables(cs, areas=areas, **EXACT)
    flows = out["flows"]
    assert value(flows, tenure="rental", step="all", dimension="tenure", category="rental") == 200
    assert value(flows, tenure="rental", step="2", dimension="size_band", category="2") == 100
    assert value(flows, tenure="cooperative", step="1", dimension="area_type", category="good") == 100
    assert value(flows, tenure="all", step="1", dimension="tenure", category="all") == pytest.approx(200 / 3)
    r = out["reach"]
    assert value(r, tenure="rental", target_group="young_adults", statistic="per_100") == 200
    assert value(r, tenure="all", target_group="young_adults", statistic="share_of_chains") == pytest.approx(1 / 3)
    # income per consumption unit: median (person-weighted) 198 675 → low income < 119 205: moves 2 and 4
    assert value(r, tenure="all", target_group="low_income", statistic="share_of_chains") == pytest.approx(2 / 3)
    assert value(r, tenure="all", target_group="lowest_quintile", statistic="per_100") == 0
    assert value(r, tenure="cooperative", target_group="families", statistic="per_100") == 200
    rd = out["rounds"]  # area 0 is below the median (dwelling-weighted position 0.25), area 1 above
    assert value(rd, tenure="all", step=1, area_class="below_median", statistic="share") == 0.5
    assert value(rd, tenure="all", step=2, area_class="below_median", statistic="share") == 1.0
    assert value(rd, tenure="all", step=2, area_class="below_median",
                 statistic="cumulative_per_100") == pytest.approx(200 / 3)
    seg = out["segregation"]
    assert value(seg, tenure="all", origin="challenges", destination="challenges", statistic="per_100") == \
        pytest.approx(200 / 3)
    assert value(seg, tenure="all", origin="no_dwelling", destination="all", statistic="per_100") == \
        pytest.approx(200 / 3)
    assert value(seg, tenure="cooperative", origin="good", destination="good", statistic="share_of_origin") == 1
    end = out["end_reasons"]
    assert value(end, tenure="all", end_reason="unfilled") == pytest.approx(1 / 3)
    assert value(end, tenure="owner", end_reason="unfilled") == 1


def test_consumption_units_scale():
    frame = pl.DataFrame({"size": [1, 2, 2, 4, 3], "adults": [1, 2, 2, 2, 1],
                          "household_type": ["single", "couple", "other", "couple_with_children", "single_parent"]})
    assert frame.select(consumption_units()).to_series().to_list() == pytest.approx([1.0, 1.51, 1.6, 2.45, 1.94])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 25), rounds_k=st.integers(1, 4))
@example(seed=185, n=13, rounds_k=1)  # an area's midpoint exactly on the 0.2 bound (11/55)
def test_tables_match_plain_reference(seed, n, rounds_k):
    cs, areas = random_chainset(seed, n_chains=n, max_length=6, n_buildings=max(1, n // 3))
    out = tables(cs, areas=areas, rounds=rounds_k, **EXACT)
    ref = naive_tables(cs, areas, rounds=rounds_k)
    g = lambda *k: ref.get(k, 0.0)  # noqa: E731
    for r in out["length_summary"].iter_rows(named=True):
        t = r["tenure"]
        assert (r["n"], r["n_base"]) == (g("links", t), g("chains", t))
        if r["statistic"] == "median":
            lengths = cs.chains.filter((pl.col("tenure") == t) | (t == "all"))["length"].to_list()
            assert r["value"] == naive_lower_median(lengths)
        else:
            factor = 100 if r["statistic"] == "per_100" else 1
            assert r["value"] == pytest.approx(factor * g("links", t) / g("chains", t))
    for r in out["length_distribution"].iter_rows(named=True):
        assert r["n"] == g("length", r["tenure"], r["length"])
    for r in out["end_reasons"].iter_rows(named=True):
        assert r["n"] == g("end", r["tenure"], r["end_reason"])
    for r in out["flows"].iter_rows(named=True):
        assert r["n"] == g("flow", r["tenure"], r["step"], r["dimension"], r["category"]), r
        assert r["value"] == pytest.approx(100 * r["n"] / r["n_base"])
    for r in out["reach"].iter_rows(named=True):
        kind = "reach_hh" if r["statistic"] == "per_100" else "reach_chains"
        assert r["n"] == g(kind, r["tenure"], r["target_group"]), r
    for r in out["segregation"].filter(pl.col("statistic") == "per_100").iter_rows(named=True):
        if "all" not in (r["origin"], r["destination"]):
            assert r["n"] == g("seg", r["tenure"], r["origin"], r["destination"])
    for r in out["rounds"].iter_rows(named=True):
        if r["statistic"] == "share":
            assert (r["n"], r["n_base"]) == (g("round", r["tenure"], r["step"], r["area_class"]),
                                             g("round_base", r["tenure"], r["step"]))
        else:
            assert r["n"] == sum(g("round", r["tenure"], j, r["area_class"]) for j in range(1, r["step"] + 1))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30))
def test_flows_sum_to_links_and_reach_within_links(seed, n):
    cs, areas = random_chainset(seed, n_chains=n)
    out = tables(cs, ["length_summary", "flows", "reach", "segregation"], **EXACT)
    links = out["length_summary"].filter(pl.col("statistic") == "mean").select("tenure", links="n")
    vacated = cs.links.join(pl.from_arrow(cs.moves.select(["vacates"])).with_row_index("move_row").with_columns(
        pl.col("move_row").cast(pl.Int64)), on="move_row").filter(pl.col("vacates") & pl.col("from_dwelling")
                                                                   .is_not_null()).height
    flows = out["flows"].filter((pl.col("step") == "all") & (pl.col("category") == "all"))
    assert set(flows.filter(pl.col("tenure") == "all")["n"].to_list()) == {vacated}
    by_step = out["flows"].filter((pl.col("step") != "all") & (pl.col("category") != "all")
                                  & (pl.col("tenure") == "all"))
    for dim in ("tenure", "size_band", "area_type"):
        assert by_step.filter(pl.col("dimension") == dim)["n"].sum() == vacated
    seg_total = out["segregation"].filter((pl.col("origin") == "all") & (pl.col("destination") == "all")
                                          & (pl.col("statistic") == "per_100")).select("tenure", seg="n")
    assert seg_total.join(links, on="tenure").select((pl.col("seg") == pl.col("links")).all()).item()
    reached = out["reach"].join(links, on="tenure")
    assert (reached.filter(pl.col("statistic") == "per_100")["n"] <= reached.filter(
        pl.col("statistic") == "per_100")["links"]).all()
    chains = out["length_summary"].filter(pl.col("statistic") == "mean").select("tenure", chains="n_base")
    share = out["reach"].filter(pl.col("statistic") == "share_of_chains").join(chains, on="tenure")
    assert (share["n"] <= share["chains"]).all()


def test_custom_target_group_and_grouping():
    cs, _ = hand_register()
    out = reach(cs, by=["tenure", "rooms"], target_groups={"big": pl.col("size") >= 3}, **EXACT)
    assert set(out["target_group"]) == {"big"}
    assert value(out, tenure="cooperative", rooms="3", target_group="big", statistic="per_100") == 200
    assert value(out, tenure="all", rooms="all", target_group="big", statistic="per_100") == pytest.approx(200 / 3)


def test_other_public_functions_agree_with_tables():
    cs, areas = hand_register()
    all_tables = tables(cs, areas=areas, **EXACT)
    for name, fn in [("flows", vacancy_flows), ("segregation", segregation), ("end_reasons", end_reasons)]:
        assert fn(cs, **EXACT).equals(all_tables[name])
    assert rounds(cs, areas=areas, **EXACT).equals(all_tables["rounds"])


def test_bad_input_errors():
    cs, _ = hand_register()
    with pytest.raises(SchemaError, match="no seed attribute.*'nope'"):
        length_summary(cs, by=["nope"], **EXACT)
    with pytest.raises(ValueError, match="disclosure"):
        length_summary(cs, disclosure="blur")
    with pytest.raises(ValueError, match="unknown table"):
        tables(cs, ["lengths"])
    with pytest.raises(TypeError, match="ChainSet"):
        length_summary(cs.chains)
    bad = ChainSet(cs.chains, cs.links, cs.moves.drop_columns(["income"]), cs.dwellings)
    with pytest.raises(SchemaError, match=r"moves: missing column\(s\) \['income'\]"):
        reach(bad, **EXACT)


def test_bootstrap_intervals_reproducible_and_cover_estimate():
    cs, areas = random_chainset(3, n_chains=60, n_buildings=20)
    a = tables(cs, areas=areas, replicates=200, seed=5, disclosure=None)
    b = tables(cs, areas=areas, replicates=200, seed=5, disclosure=None)
    c = tables(cs, areas=areas, replicates=200, seed=6, disclosure=None)
    for name in a:
        assert a[name].equals(b[name])
    s = a["length_summary"].filter(pl.col("tenure") == "all")
    assert (s["ci_low"] <= s["value"]).all() and (s["value"] <= s["ci_high"]).all()
    assert (s["ci_low"] < s["ci_high"]).all()
    assert not a["flows"]["ci_low"].equals(c["flows"]["ci_low"])


def test_no_identifiers_in_outputs():
    cs, areas = random_chainset(1, n_chains=30)
    for frame in tables(cs, areas=areas, replicates=20).values():
        assert not {"chain_id", "household_id", "move_row", "seed_dwelling", "dwelling_id", "from_dwelling",
                    "to_dwelling", "building_id", "area_id"} & set(frame.columns)
        assert not [c for c in frame.columns if c.startswith("_")]


def test_suppression_default_hides_small_counts():
    cs, areas = random_chainset(2, n_chains=30)
    out = tables(cs, areas=areas, ci=False)
    for frame in out.values():
        published = frame.filter(~pl.col("suppressed"))
        assert ((published["n"] == 0) | (published["n"] >= 5)).all()
        assert ((published["n_base"] >= 5) | (published["n_base"] == 0)).all()
        assert published.filter(pl.col("n_base") == 0)["value"].null_count() == (published["n_base"] == 0).sum()
        hidden = frame.filter(pl.col("suppressed"))
        assert hidden["value"].null_count() == hidden.height


def test_cell_key_method_consistent():
    cs, areas = random_chainset(4, n_chains=40)
    # the same secret key gives the same perturbations (docs/disclosure.md: the key must be secret)
    a = tables(cs, areas=areas, ci=False, disclosure="cell_key", cell_key="a secret")
    b = tables(cs, areas=areas, ci=False, disclosure="cell_key", cell_key="a secret")
    raw = tables(cs, areas=areas, ci=False, disclosure=None)
    for name in a:
        assert a[name].equals(b[name])
        diff = (a[name]["n"] - raw[name]["n"]).abs()
        assert diff.max() <= 2 and not a[name]["suppressed"].any()
        assert (a[name].filter(raw[name]["n"] == 0)["n"] == 0).all()
    # the same cell published twice (flows' "all" category for each dimension) gets the same perturbation
    f = a["flows"].filter(pl.col("category") == "all")
    assert f.group_by("tenure", "step").agg(pl.col("n").n_unique())["n"].max() == 1


def test_report_write_and_summary(tmp_path):
    from flyttkedja.analysis import Report

    cs, areas = random_chainset(5, n_chains=40, n_buildings=10)
    report = Report(cs, areas=areas, replicates=50)
    text = str(report)
    assert "mean length" in text and "Rounds" in text
    out = report.write(tmp_path / "rep")
    names = sorted(p.name for p in out.iterdir())
    assert "flows.parquet" in names and "flows.csv" in names and store.REPORT_MANIFEST in names
    again = Report(cs, areas=areas, replicates=50).write(tmp_path / "rep2")
    for name in names:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    with pytest.raises(FileExistsError):
        report.write(tmp_path / "rep")
    assert pl.read_parquet(out / "reach.parquet").equals(report["reach"])
    assert store.read_report_manifest(out)["bootstrap_units"] == {"resampled": "building_id", "units": 10}


def test_report_cli(tmp_path):
    from click.testing import CliRunner

    from flyttkedja.cli import main

    cs, _ = random_chainset(6, n_chains=30)
    cs.write(tmp_path / "trace")
    (tmp_path / "reg").mkdir()
    pl.from_arrow(cs.moves).write_parquet(store.register_file(tmp_path / "reg", "moves"))
    pl.from_arrow(cs.dwellings).write_parquet(store.register_file(tmp_path / "reg", "dwellings"))
    store.write_trace_manifest(tmp_path / "trace", store.TraceManifest(params={"register_dir": str(tmp_path / "reg")}))
    result = CliRunner().invoke(main, ["report", str(tmp_path / "trace"), "--out", str(tmp_path / "rep"),
                                       "--replicates", "20", "--by", "tenure,rooms"])
    assert result.exit_code == 0, result.output
    assert "mean length" in result.output
    frame = pl.read_csv(tmp_path / "rep" / "length_summary.csv")
    assert {"tenure", "rooms", "statistic", "value", "suppressed"} <= set(frame.columns)


def test_report_on_synthetic_register(small_register):
    from flyttkedja.analysis import Report
    from flyttkedja.core import trace

    reg = small_register
    cs = trace(reg.moves, reg.dwellings, "new_builds", window=reg.window, max_gap_days=reg.max_gap_days)
    report = Report(cs, areas=reg.areas, replicates=100, disclosure=None)
    summary = report["length_summary"].filter((pl.col("tenure") == "all") & (pl.col("statistic") == "mean"))
    assert summary["n_base"][0] == cs.chains.height and summary["n"][0] == cs.links.height
    assert summary["value"][0] == pytest.approx(cs.chains["length"].mean())
    ends = report["end_reasons"].filter(pl.col("tenure") == "all")
    assert ends["n"].sum() == cs.chains.height
    # every link is one row of the segregation matrix
    seg = report["segregation"].filter((pl.col("tenure") == "all") & (pl.col("origin") != "all")
                                       & (pl.col("destination") != "all") & (pl.col("statistic") == "per_100"))
    assert seg["n"].sum() == cs.links.height
    assert "mean length" in report.summary()
