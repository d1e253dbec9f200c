"""The numba tracer against the plain-Python reference (tests/naive_trace.py)."""

from __future__ import annotations

import importlib
import random

import numba
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flyttkedja
from flyttkedja.core import vacancy_statistics
from tests import naive_trace as naive

MOVE_TYPES = {"household_id": pa.int64(), "move_date": pa.date32(), "from_dwelling": pa.int64(),
              "to_dwelling": pa.int64(), "origin": pa.string(), "destination": pa.string(),
              "vacates": pa.bool_(), "fills": pa.bool_(), "income": pa.int64()}
DWELLING_TYPES = {"dwelling_id": pa.int64(), "building_id": pa.int64(), "completed": pa.date32(),
                  "demolished": pa.date32()}


def tables(moves: list[dict], dwellings: list[dict]) -> tuple[pa.Table, pa.Table]:
    def table(rows, types):
        return pa.table({k: pa.array([r[k] for r in rows], t) for k, t in types.items()})
    return table(moves, MOVE_TYPES), table(dwellings, DWELLING_TYPES)


def expected_frames(chains: list[dict]) -> tuple[pl.DataFrame, list[list[int]]]:
    cols = ["seed_kind", "seed_dwelling", "seed_date", "seed_move", "length", "end_reason", "end_date"]
    frame = pl.DataFrame({c: [ch[c] for ch in chains] for c in cols},
                         schema={"seed_kind": pl.String, "seed_dwelling": pl.Int64, "seed_date": pl.Date,
                                 "seed_move": pl.Int64, "length": pl.Int32, "end_reason": pl.String,
                                 "end_date": pl.Date})
    return frame, [ch["links"] for ch in chains]


def assert_same_chains(cs, chains: list[dict]) -> None:
    want, want_links = expected_frames(chains)
    got = cs.chains.select(want.columns)
    assert got.equals(want), (got, want)
    got_links = [[] for _ in range(cs.chains.height)]
    for c, step, row in cs.links.select("chain_id", "step", "move_row").iter_rows():
        assert step == len(got_links[c]) + 1
        got_links[c].append(row)
    assert got_links == want_links


def params(data) -> dict:
    return {"max_gap_days": data.draw(st.sampled_from([0, 1, 3, 10, 365])),
            "max_length": data.draw(st.sampled_from([1, 2, 3, 1000]))}


def window(data, moves) -> tuple | None:
    if not moves or data.draw(st.booleans()):
        return None
    days = sorted({m["move_date"] for m in moves})
    a = data.draw(st.sampled_from(days))
    b = data.draw(st.sampled_from(days))
    return (min(a, b), max(a, b))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), data=st.data())
def test_matches_naive(rng: random.Random, data) -> None:
    moves, dwellings = naive.drawn_register(rng)
    if not moves:
        return
    kw = params(data)
    kw["window"] = window(data, moves)
    mv, dw = tables(moves, dwellings)
    for seeds in ("new_builds", "all"):
        want, quality = naive.trace(moves, dwellings, seeds, **kw)
        cs = flyttkedja.trace(mv, dw, seeds, **kw)
        assert_same_chains(cs, want)
        assert {k: cs.quality[k] for k in quality} == quality
    # a dwelling selection: every vacancy at the chosen dwellings
    chosen = {d["dwelling_id"] for d in dwellings if rng.random() < 0.5}
    want, _ = naive.trace(moves, dwellings, chosen, **kw)
    assert_same_chains(flyttkedja.trace(mv, dw, np.array(sorted(chosen), dtype=np.int64), **kw), want)
    # statistics for every vacancy without walking: same lengths, reasons and counts
    low = [m["income"] < 200_000 for m in moves]
    stats = vacancy_statistics(mv, dw, {"low": pl.col("income") < 200_000, "all": np.ones(len(moves), bool)}, **kw)
    every, _ = naive.trace(moves, dwellings, "all", **kw)
    assert stats["length"].to_list() == [c["length"] for c in every]
    assert stats["end_reason"].to_list() == [c["end_reason"] for c in every]
    assert stats["low"].to_list() == [sum(low[r] for r in c["links"]) for c in every]
    assert stats["all"].to_list() == [c["length"] for c in every]


def ring_register(n_ring: int = 3) -> tuple[list[dict], list[dict]]:
    """A new build filled from a dwelling that is then part of nothing, plus an n-ring."""
    from datetime import date
    day = date(2021, 5, 1)
    dwellings = [{"dwelling_id": i, "building_id": 0, "completed": None, "demolished": None} for i in range(n_ring)]
    moves = [{"household_id": 10 + j, "move_date": day, "from_dwelling": j, "to_dwelling": (j + 1) % n_ring,
              "origin": "dwelling", "destination": "dwelling", "vacates": True, "fills": True,
              "income": 100_000 * (j + 1)} for j in range(n_ring)]
    return moves, dwellings


@pytest.mark.parametrize("n_ring,max_length", [(2, 1000), (3, 1000), (3, 3), (3, 2), (4, 1)])
def test_cycles_and_max_length(n_ring: int, max_length: int) -> None:
    moves, dwellings = ring_register(n_ring)
    mv, dw = tables(moves, dwellings)
    want, _ = naive.trace(moves, dwellings, "all", max_length=max_length)
    cs = flyttkedja.trace(mv, dw, "all", max_length=max_length)
    assert_same_chains(cs, want)
    expected = "cycle" if n_ring <= max_length else "max_length"
    assert set(cs.chains["end_reason"]) == {expected}
    assert set(cs.chains["length"]) == {min(n_ring, max_length)}
    stats = vacancy_statistics(mv, dw, pl.col("income") > 150_000, max_length=max_length)
    assert stats["count"].to_list() == [sum(moves[r]["income"] > 150_000 for r in c["links"]) for c in want]


def with_one_and_two_threads(run) -> list:
    """``run()`` with numba limited to 1 and to 2 threads (the machine's maximum when lower);
    small registers too (``trace`` would otherwise run them on one thread: serial_when_small)."""
    module = importlib.import_module("flyttkedja.core.trace")  # (flyttkedja.core.trace is the function)
    before, below = numba.get_num_threads(), module.SERIAL_BELOW
    results = []
    try:
        module.SERIAL_BELOW = 0
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            results.append(run())
    finally:
        numba.set_num_threads(before)
        module.SERIAL_BELOW = below
    return results


def test_same_result_for_one_and_two_threads() -> None:
    rng = random.Random(11)
    # > 4096 dwellings: the radix sort by dwelling takes two passes
    moves, dwellings = naive.random_register(rng, n_dwellings=5000, n_days=150, p_corrupt=0.05)
    mv, dw = tables(moves, dwellings)

    def run():
        cs = flyttkedja.trace(mv, dw, "all", max_gap_days=30)
        return cs.chains, cs.links, vacancy_statistics(mv, dw, pl.col("income") < 200_000, max_gap_days=30)
    (c1, l1, s1), (c2, l2, s2) = with_one_and_two_threads(run)
    assert c1.equals(c2) and l1.equals(l2) and s1.equals(s2)
    want, _ = naive.trace(moves, dwellings, "all", max_gap_days=30)
    assert_same_chains(flyttkedja.trace(mv, dw, "all", max_gap_days=30), want)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), spans=st.sampled_from([1, 2, 3, 4, 8]),
       max_gap=st.sampled_from([0, 2, 365]), shuffle=st.booleans())
def test_successor_pass_matches_the_reference(rng: random.Random, spans: int, max_gap: int, shuffle: bool) -> None:
    """The time-ordered successor pass decides every vacancy as the reference does, for
    sorted and unsorted rows and any number of spans of days (threads), more than days included."""
    from flyttkedja.core._prepare import prepare
    from flyttkedja.core.trace import serial_when_small, successors
    from flyttkedja.schema import END_REASONS

    moves, dwellings = naive.random_register(rng, n_dwellings=rng.randrange(2, 20), n_days=rng.randrange(1, 30),
                                             p_corrupt=0.2)
    if shuffle:
        rng.shuffle(moves)
    if not moves:
        return
    with serial_when_small(len(moves)):  # spans, not threads, are what varies here (threads: below)
        r = prepare(*tables(moves, dwellings), max_gap_days=max_gap)
        step, comp_first, inconsistent, orphan = successors(r, spans)
    window = r.window_dates()
    outcome, want_inconsistent = naive.fill_vacancies(naive.dwelling_events(moves, dwellings, window), window, max_gap)
    for (kind, ref), (filler, reason) in outcome.items():
        got = comp_first[r.dense(np.array([ref]))[0]] if kind == "completion" else step[ref]
        assert got == (filler if filler is not None else -(END_REASONS.index(reason) + 1)), (kind, ref)
    assert inconsistent == want_inconsistent
    _, quality = naive.trace(moves, dwellings, window=window, max_gap_days=max_gap)
    assert orphan == quality["orphan_fills"]
