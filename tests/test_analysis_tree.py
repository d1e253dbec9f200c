"""Analysis tables of trees (tree convention): same engine, same protection, counted per move and per leaf."""

from __future__ import annotations

import random

import polars as pl
import pyarrow as pa
import pytest

import flyttkedja
from flyttkedja.analysis import Report, default_tables, tables
from tests import naive_trace as naive
from tests.test_trace_naive import tables as arrow_tables

EXACT = dict(ci=False, disclosure=None)
TENURES = ("rental", "cooperative", "owner")


def register(seed: int, couples: bool = True) -> tuple[pa.Table, pa.Table, pa.Table]:
    """A reference register (tests/naive_trace.py) with the attributes the analysis needs."""
    rng = random.Random(seed)
    moves, dwellings = naive.random_register(rng, n_dwellings=60, n_days=120, p_corrupt=0.0, couples=couples)
    mv, dw = arrow_tables(moves, dwellings)
    n, k = mv.num_rows, dw.num_rows
    mv = pl.from_arrow(mv).with_columns(age_head=pl.Series([rng.randrange(18, 90) for _ in range(n)]),
                                        size=pl.Series([rng.randrange(1, 5) for _ in range(n)]),
                                        born_abroad=pl.Series([rng.random() < .2 for _ in range(n)]))
    mv = mv.with_columns(adults=pl.min_horizontal(pl.col("size"), 2),
                         household_type=pl.when(pl.col("size") == 1).then(pl.lit("single")).otherwise(pl.lit("couple")))
    dw = pl.from_arrow(dw).with_columns(
        tenure=pl.Series([TENURES[i % 3] for i in range(k)]), rooms=pl.Series([1 + i % 5 for i in range(k)]),
        area_id=pl.Series([i % 4 for i in range(k)]),
        area_type=pl.Series([("challenges", "mixed", "good", "very_good")[i % 4] for i in range(k)]))
    areas = pa.table({"area_id": [0, 1, 2, 3], "median_income": [120_000, 200_000, 300_000, 400_000]})
    return mv.to_arrow(), dw.to_arrow(), areas


def test_tree_tables_count_moves_rounds_and_leaves() -> None:
    mv, dw, areas = register(3)
    cs = flyttkedja.trace(mv, dw, "all", convention="tree", max_gap_days=20)
    assert cs.quality["joiners"] > 0 and cs.chains["depth"].max() < cs.chains["length"].max()
    assert set(default_tables(cs)) >= {"depth_summary", "depth_distribution"}
    out = tables(cs, areas=areas, by=[], **EXACT)
    assert set(out) == set(default_tables(cs))
    for frame in out.values():
        assert frame["convention"].unique().to_list() == ["tree"]
    at = lambda name, **keys: out[name].filter(*[pl.col(c) == v for c, v in keys.items()])["value"].item()  # noqa: E731
    assert at("length_summary", statistic="mean") == pytest.approx(cs.chains["length"].mean())
    assert at("depth_summary", statistic="mean") == pytest.approx(cs.chains["depth"].mean())
    depths = sorted(cs.chains["depth"].to_list())
    assert at("depth_summary", statistic="median") == depths[(len(depths) - 1) // 2]
    leaves = pl.concat([cs.links["end_reason"].drop_nulls(), cs.chains.filter(pl.col("length") == 0)["end_reason"]])
    assert len(leaves) == cs.chains["leaves"].sum()
    for reason, count in leaves.value_counts().iter_rows():
        assert at("end_reasons", end_reason=reason) == pytest.approx(count / len(leaves))
    vacated = cs.links.filter((pl.col("step") == 1) & pl.col("from_dwelling").is_not_null()).height
    assert at("flows", step="1", dimension="tenure", category="all") == pytest.approx(100 * vacated / cs.chains.height)
    assert out["rounds"].height > 0
    report = Report(cs, areas, by=[], ci=False)
    assert report.parameters()["convention"] == "tree" and "depth_summary" in report.tables


def test_without_couples_tables_are_the_paths() -> None:
    """Same chains under both conventions, so the same tables and intervals. (Suppression may differ: a
    tree release's protection model leaves out the two identities that hold for paths only — links of
    step k from chains of length ≥ k, and no_dwelling origins from chains — since for trees in general
    they do not hold; analysis/release.py.)"""
    mv, dw, areas = register(5, couples=False)
    path = flyttkedja.trace(mv, dw, "all", max_gap_days=20)
    tree = flyttkedja.trace(mv, dw, "all", convention="tree", max_gap_days=20)
    assert tree.quality["joiners"] == 0
    opts = dict(areas=areas, replicates=50, disclosure=None)
    a, b = tables(path, **opts), tables(tree, **opts)
    assert set(b) == set(a) | {"depth_summary", "depth_distribution"}
    b = tables(tree, names=list(a), **opts)
    for name, frame in a.items():
        assert frame.drop("convention").equals(b[name].drop("convention")), name
    assert a["length_summary"]["convention"].unique().to_list() == ["path"]
