"""Results do not depend on how the pseudonymised ids were drawn.

Person, household and dwelling ids are relabelled by a random permutation (onto
random large values, so that neither their order nor their size carries over);
ingestion, tracing and the analysis tables must give the same result once the
ids are mapped back: every tie-break is on stable attributes or row order.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flyttkedja
from flyttkedja.analysis import tables
from flyttkedja.ingest import from_person_moves, from_snapshots
from flyttkedja.synth import generate

PERSON_COLUMNS = ("person_id",)
DWELLING_COLUMNS = ("dwelling_id", "from_dwelling", "to_dwelling")
HOUSEHOLD_COLUMNS = ("household_id",)


@pytest.fixture(scope="module")
def register():
    return generate("tiny", seed=3, years=4)


def _relabel(values: pa.ChunkedArray, mapping: dict[int, int]) -> pa.Array:
    return pa.array([None if v is None else mapping[v] for v in values.to_pylist()], pa.int64())


def _permutation(ids, rng: np.random.Generator, negate: bool) -> dict[int, int]:
    ids = sorted({int(i) for i in ids if i is not None})
    if negate:
        return {i: -i for i in ids}
    targets = rng.choice(10**12, size=len(ids), replace=False) + 1
    return dict(zip(ids, (int(t) for t in targets)))


def _apply(table: pa.Table, maps: dict[tuple, dict]) -> pa.Table:
    for columns, mapping in maps.items():
        for c in columns:
            if c in table.column_names:
                table = table.set_column(table.column_names.index(c), c, _relabel(table[c], mapping))
    return table


def _relabelled(register, seed: int, negate: bool):
    rng = np.random.default_rng(seed)
    persons, events, dwellings = register.persons, register.person_events, register.dwellings
    maps = {
        PERSON_COLUMNS: _permutation(persons["person_id"].to_pylist() + events["person_id"].to_pylist(), rng,
                                     negate),
        DWELLING_COLUMNS: _permutation(dwellings["dwelling_id"].to_pylist(), rng, negate),
        HOUSEHOLD_COLUMNS: _permutation(persons["household_id"].to_pylist()
                                        + register.moves["household_id"].to_pylist(), rng, negate),
    }
    return maps, {name: _apply(t, maps) for name, t in
                  [("persons", persons), ("events", events), ("dwellings", dwellings), ("moves", register.moves)]}


def _moves_back(moves: pa.Table, dwelling_map: dict) -> pl.DataFrame:
    """Moves with dwelling ids mapped back, household_id (a row number or a relabelled id) left out, sorted."""
    back = {v: k for k, v in dwelling_map.items()}
    frame = pl.from_arrow(_apply(moves, {("from_dwelling", "to_dwelling"): back})).drop("household_id")
    return frame.sort(frame.columns, nulls_last=True)


def _chains_back(cs, dwelling_map: dict) -> pl.DataFrame:
    """Each chain as its seed, outcome and the (date, from, to) of every link, dwelling ids mapped back."""
    back = {v: k for k, v in dwelling_map.items()}
    remap = lambda col: pl.col(col).replace_strict(back, default=None, return_dtype=pl.Int64)  # noqa: E731
    links = (cs.links.with_columns(remap("from_dwelling"), remap("to_dwelling"))
             .sort("chain_id", "step")
             .group_by("chain_id", maintain_order=True)
             .agg(path=pl.concat_str([pl.col("move_date").cast(pl.String), pl.col("from_dwelling").cast(pl.String),
                                      pl.col("to_dwelling").cast(pl.String)], separator="/", ignore_nulls=False)
                  .fill_null("-").str.join(" ")))
    chains = (cs.chains.join(links, on="chain_id", how="left")
              .with_columns(remap("seed_dwelling"), pl.col("path").fill_null(""))
              .drop("chain_id", "seed_move"))
    return chains.sort(chains.columns, nulls_last=True)


def _tables(cs, ci: bool) -> dict[str, pl.DataFrame]:
    # the bootstrap and disclosure control in one test (slow), the point estimates in all
    out = tables(cs, by=("tenure",), ci=ci, replicates=20, disclosure="suppress" if ci else None)
    return {k: v.sort(v.columns, nulls_last=True) for k, v in out.items()}


def _check_same(want_moves, got_moves, register, relabelled, maps, seeds, ci=False):
    dmap = maps[DWELLING_COLUMNS]
    identity = {k: k for k in dmap}
    assert _moves_back(got_moves, dmap).equals(_moves_back(want_moves, identity))
    want = flyttkedja.trace(want_moves, register.dwellings, seeds, window=register.window, max_gap_days=365)
    got = flyttkedja.trace(got_moves, relabelled["dwellings"], seeds, window=register.window, max_gap_days=365)
    assert _chains_back(got, dmap).equals(_chains_back(want, identity))
    assert got.quality == want.quality
    want_tables, got_tables = _tables(want, ci), _tables(got, ci)
    for name in want_tables:
        assert got_tables[name].equals(want_tables[name]), name
    return want


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), negate=st.booleans())
def test_from_snapshots_and_trace_ignore_id_values(register, seed, negate):
    maps, relabelled = _relabelled(register, seed, negate)
    want_moves = from_snapshots(register.persons, register.dwellings, absent_origin="in_migrant",
                                absent_destination="out_migrant")
    got_moves = from_snapshots(relabelled["persons"], relabelled["dwellings"], absent_origin="in_migrant",
                               absent_destination="out_migrant")
    want = _check_same(want_moves, got_moves, register, relabelled, maps, "new_builds", ci=True)
    assert len(want.chains) > 20 and want.links.height > len(want.chains)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), negate=st.booleans(), ordered=st.booleans())
def test_from_person_moves_and_trace_ignore_id_values(register, seed, negate, ordered):
    maps, relabelled = _relabelled(register, seed, negate)
    want_moves = from_person_moves(register.person_events, register.persons, register.dwellings, ordered=ordered)
    got_moves = from_person_moves(relabelled["events"], relabelled["persons"], relabelled["dwellings"],
                                  ordered=ordered)
    _check_same(want_moves, got_moves, register, relabelled, maps, "all")


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), negate=st.booleans())
def test_trace_ignores_id_values(register, seed, negate):
    """The generator's own moves (household ids too) relabelled: same chains, every vacancy as a seed."""
    maps, relabelled = _relabelled(register, seed, negate)
    _check_same(register.moves, relabelled["moves"], register, relabelled, maps, "all")
