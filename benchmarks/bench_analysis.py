"""Benchmarks of flyttkedja.analysis: all tables, and the bootstrap against a polars bootstrap.

Scale: ``FLYTTKEDJA_BENCH_SCALE`` chains (default 100_000; the issue's target is
1_000_000: ``FLYTTKEDJA_BENCH_SCALE=1000000``). Replicates:
``FLYTTKEDJA_BENCH_REPLICATES`` (default 1000). The polars baseline runs
``FLYTTKEDJA_BENCH_POLARS_REPLICATES`` (default 10) replicates and is scaled
to the same number; the ratio is printed and stored in ``extra_info``.

    FLYTTKEDJA_BENCH_SCALE=1000000 pytest benchmarks/bench_analysis.py --benchmark-enable -s

The ChainSet is made by a vectorised maker (:func:`make_chainset`): random
but consistent chains, links, moves and dwellings, seeds clustered 20 to a
building.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from flyttkedja.analysis import tables
from flyttkedja.analysis._engine import prepare
from flyttkedja.analysis.bootstrap import replicate_cell_totals
from flyttkedja.analysis.tabulation import TABLES, Options, build_specs, publish
from flyttkedja.core.chainset import ChainSet
from flyttkedja.schema import AREA_TYPES, HOUSEHOLD_TYPES, TENURES

N_CHAINS = int(os.environ.get("FLYTTKEDJA_BENCH_SCALE", "100000"))
REPLICATES = int(os.environ.get("FLYTTKEDJA_BENCH_REPLICATES", "1000"))
POLARS_REPLICATES = int(os.environ.get("FLYTTKEDJA_BENCH_POLARS_REPLICATES", "10"))
CLUSTER = os.environ.get("FLYTTKEDJA_BENCH_CLUSTER") or None  # e.g. "building_id"; default: resample chains
N_AREAS = 200


def make_chainset(n_chains: int, seed: int = 0) -> tuple[ChainSet, pa.Table]:
    """A consistent random ChainSet of ``n_chains`` new-build chains, without Python loops."""
    rng = np.random.default_rng(seed)
    length = np.minimum(rng.geometric(0.38, n_chains) - 1, 12).astype(np.int32)
    n_links = int(length.sum())
    chain_of_link = np.repeat(np.arange(n_chains), length)
    first = np.cumsum(length) - length
    step = (np.arange(n_links) - np.repeat(first, length) + 1).astype(np.int32)
    last = step == np.repeat(length, length)
    end = np.where(length == 0, rng.choice(["unfilled", "censored"], n_chains, p=[.8, .2]),
                   rng.choice(["new_household", "in_migrant", "immigrant", "not_vacated"], n_chains,
                              p=[.45, .2, .1, .25]))
    end_of_link = np.repeat(end, length)
    has_from = ~last | (end_of_link == "not_vacated")
    vacates = ~last
    # dwellings: seeds 0..n-1, then one per link that leaves a dwelling
    from_dw = np.full(n_links, -1, np.int64)
    from_dw[has_from] = n_chains + np.arange(int(has_from.sum()))
    n_dw = n_chains + int(has_from.sum())
    to_dw = np.empty(n_links, np.int64)
    to_dw[step == 1] = chain_of_link[step == 1]
    later = np.flatnonzero(step > 1)
    to_dw[later] = from_dw[later - 1]
    area = rng.integers(0, N_AREAS, n_dw).astype(np.int32)
    rooms = rng.integers(1, 6, n_dw).astype(np.int8)
    tenure = np.array(TENURES)[rng.integers(0, 3, n_dw)]
    building = np.where(np.arange(n_dw) < n_chains, np.arange(n_dw) // 20, n_dw + np.arange(n_dw))
    start = dt.date(2016, 1, 1)
    seed_day = rng.integers(0, 1460, n_chains)
    move_day = np.repeat(seed_day, length) + step * 30
    dates = lambda days: pa.array(days.astype("timedelta64[D]") + np.datetime64(start, "D"))  # noqa: E731
    dwellings = pa.table({
        "dwelling_id": np.arange(n_dw, dtype=np.int64), "building_id": building.astype(np.int64),
        "tenure": tenure, "building_type": np.where(tenure == "owner", "small_house", "multi_dwelling"),
        "rooms": rooms, "area_id": area, "area_type": np.array(AREA_TYPES)[area % 5],
        "municipality": np.where(area < 100, "1480", "1280"),
    })
    size = rng.integers(1, 6, n_links).astype(np.int8)
    adults = np.minimum(size, rng.integers(1, 3, n_links)).astype(np.int8)
    moves = pa.table({
        "household_id": np.arange(n_links, dtype=np.int64), "move_date": dates(move_day),
        "from_dwelling": pa.array(from_dw, mask=from_dw < 0), "to_dwelling": to_dw, "vacates": vacates,
        "fills": np.ones(n_links, bool), "size": size, "adults": adults,
        "age_head": rng.integers(18, 90, n_links).astype(np.int16),
        "income": rng.lognormal(12.5, 0.6, n_links).astype(np.int64),
        "household_type": np.array(HOUSEHOLD_TYPES)[rng.integers(0, 5, n_links)],
        "born_abroad": rng.random(n_links) < 0.25,
    })
    seed_attrs = pl.from_arrow(dwellings.slice(0, n_chains)).select("tenure", "rooms", "area_type",
                                                                     "building_type", "municipality")
    chains = pl.DataFrame({
        "chain_id": np.arange(n_chains, dtype=np.int64), "seed_kind": ["new_build"] * n_chains,
        "seed_dwelling": np.arange(n_chains, dtype=np.int64), "seed_date": dates(seed_day),
        "seed_move": pl.Series([None] * n_chains, dtype=pl.Int64), "length": length, "end_reason": end,
        "end_date": dates(seed_day + length * 30),
    }).hstack(seed_attrs)
    links = pl.DataFrame({
        "chain_id": chain_of_link.astype(np.int64), "step": step, "move_row": np.arange(n_links, dtype=np.int64),
        "household_id": np.arange(n_links, dtype=np.int64), "move_date": dates(move_day),
        "from_dwelling": pl.Series(np.where(vacates, from_dw, 0)).scatter(np.flatnonzero(~vacates), None),
        "to_dwelling": to_dw,
    })
    areas = pa.table({"area_id": pa.array(np.arange(N_AREAS), pa.int32()),
                      "municipality": np.where(np.arange(N_AREAS) < 100, "1480", "1280"),
                      "area_type": np.array(AREA_TYPES)[np.arange(N_AREAS) % 5],
                      "median_income": rng.integers(150_000, 450_000, N_AREAS)})
    return ChainSet(chains, links, moves, dwellings), areas


@pytest.fixture(scope="module")
def chainset():
    return make_chainset(N_CHAINS)


def polars_bootstrap(b, replicates: int, seed: int) -> np.ndarray:
    """A straightforward polars bootstrap: per replicate, weight each unit by how often it was drawn
    and sum the weights of every record by cell with a group_by (the same replicate cell totals)."""
    rng = np.random.default_rng(seed)
    units = b.p.chains["_unit"].to_numpy()
    records = pl.concat([f.records.select("_chain", pl.col("_cell") + off) for f, off in zip(
        b.families, np.cumsum([0] + [f.cells.height for f in b.families]))])
    records = records.with_columns(_unit=pl.Series(units)[records["_chain"]])
    out = np.zeros((replicates, b.n_cells))
    for r in range(replicates):
        w = np.bincount(rng.integers(0, b.p.n_units, b.p.n_units), minlength=b.p.n_units)
        sums = records.with_columns(w=pl.Series(w)[records["_unit"]]).group_by("_cell").agg(pl.col("w").sum())
        out[r, sums["_cell"].to_numpy()] = sums["w"].to_numpy()
    return out


def test_all_tables(benchmark, chainset):
    """Every table with point estimates and disclosure control (no bootstrap)."""
    cs, areas = chainset
    tables(cs, areas=areas, ci=False)  # warm up
    benchmark.extra_info["chains"] = len(cs)
    result = benchmark.pedantic(lambda: tables(cs, areas=areas, ci=False), rounds=3, iterations=1)
    assert set(result) == set(TABLES)


def test_bootstrap_vs_polars(benchmark, chainset, speed_ratio):
    """Bootstrap with REPLICATES replicates (numba kernel) against a polars bootstrap scaled to as many."""
    cs, areas = chainset
    t0 = time.perf_counter()  # chains are the units (1 per chain): the bootstrap's worst case
    b, specs = build_specs(prepare(cs, areas=areas, cluster=CLUSTER), TABLES, 6)
    prep_seconds = time.perf_counter() - t0
    units = b.p.chains["_unit"].to_numpy()
    cells = np.concatenate([f.records["_cell"].to_numpy() + o for f, o in zip(
        b.families, np.cumsum([0] + [f.cells.height for f in b.families]))])
    chains = np.concatenate([f.records["_chain"].to_numpy() for f in b.families])
    replicate_cell_totals(units[chains[:100]], cells[:100], n_units=b.p.n_units, n_cells=b.n_cells,
                          replicates=2, seed=0)  # JIT warm-up
    t0 = time.perf_counter()
    polars_bootstrap(b, POLARS_REPLICATES, 0)
    polars_seconds = (time.perf_counter() - t0) * REPLICATES / POLARS_REPLICATES
    opts = Options(replicates=REPLICATES)
    result, _ = benchmark.pedantic(lambda: publish(b, specs, opts), rounds=1, iterations=1)  # (tables, checking summary)
    ours = benchmark.stats.stats.mean
    benchmark.extra_info.update(chains=len(cs), records=len(cells), units=b.p.n_units, replicates=REPLICATES,
                                prepare_seconds=prep_seconds, polars_seconds_scaled=polars_seconds,
                                ratio=polars_seconds / ours)
    print(f"\n{len(cs)} chains, {len(cells)} records, {b.p.n_units} units, {REPLICATES} replicates: "
          f"flyttkedja {ours:.2f} s (bootstrap + all tables' estimates, intervals, disclosure; plus "
          f"{prep_seconds:.2f} s preparing the cells), polars bootstrap of the cell totals alone "
          f"{polars_seconds:.1f} s (scaled from {POLARS_REPLICATES}), ratio {polars_seconds / ours:.1f}x")
    assert result["length_summary"]["ci_low"].null_count() < result["length_summary"].height
    speed_ratio("bootstrap_vs_polars", polars_seconds, ours)
