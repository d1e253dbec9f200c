"""The tree convention against the plain-Python reference (tests/naive_trace.py: trace_tree).

Edge cases: couples from two dwellings, one partner from the parental home (a split or a
new household), a couple on the day of a swap, three households merging, joins of a
dwelling that is not empty, unsorted rows, cycles, the depth bound. Registers without
same-day arrivals at one dwelling give identical chains under both conventions.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flyttkedja
from tests import naive_trace as naive
from tests.test_trace_naive import params, tables, window, with_one_and_two_threads

PATH_COLUMNS = ["chain_id", "seed_kind", "seed_dwelling", "seed_date", "seed_move", "length", "end_reason",
                "end_date"]


def assert_same_trees(cs, want: list[dict]) -> None:
    got = cs.chains
    for column in ("seed_kind", "seed_dwelling", "seed_date", "seed_move", "length", "depth", "leaves",
                   "end_reason", "end_date"):
        assert got[column].to_list() == [c[column] for c in want], column
    links = cs.links
    assert links["chain_id"].to_list() == [i for i, c in enumerate(want) for _ in c["links"]]
    for column, key in (("move_row", "links"), ("step", "rounds"), ("parent_row", "parents"),
                        ("end_reason", "reasons"), ("joined", "joined")):
        assert links[column].to_list() == [x for c in want for x in c[key]], column


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), data=st.data())
def test_trees_match_naive(rng: random.Random, data) -> None:
    moves, dwellings = naive.drawn_register(rng)
    if not moves:
        return
    kw = params(data)
    kw["window"] = window(data, moves)
    mv, dw = tables(moves, dwellings)
    for seeds in ("new_builds", "all"):
        want, extra = naive.trace_tree(moves, dwellings, seeds, **kw)
        cs = flyttkedja.trace(mv, dw, seeds, convention="tree", **kw)
        assert_same_trees(cs, want)
        assert cs.quality["joiners"] == extra["joiners"]
        assert cs.params["convention"] == "tree"
    chosen = {d["dwelling_id"] for d in dwellings if rng.random() < 0.5}
    want, _ = naive.trace_tree(moves, dwellings, chosen, **kw)
    assert_same_trees(flyttkedja.trace(mv, dw, np.array(sorted(chosen), dtype=np.int64), convention="tree", **kw),
                      want)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), data=st.data())
def test_without_couples_both_conventions_agree(rng: random.Random, data) -> None:
    """No dwelling gets two arrivals on one day: every tree is its spine, the path."""
    moves, dwellings = naive.drawn_register(rng, couples=False)
    if not moves:
        return
    arrivals = Counter((m["to_dwelling"], m["move_date"]) for m in moves if m["to_dwelling"] is not None)
    assert max(arrivals.values(), default=1) == 1  # no couples: no dwelling gets two arrivals on one day
    kw = params(data)
    kw["window"] = window(data, moves)
    mv, dw = tables(moves, dwellings)
    for seeds in ("new_builds", "all"):
        path = flyttkedja.trace(mv, dw, seeds, **kw)
        tree = flyttkedja.trace(mv, dw, seeds, convention="tree", **kw)
        assert tree.quality.pop("joiners") == 0
        assert tree.quality == path.quality
        assert tree.chains.equals(path.chains)  # depth = length, one leaf
        assert tree.links.select(path.links.columns).equals(path.links)
        assert path.params["convention"] == "path"


D = date(2021, 3, 2)


def move(h, day, a, b, vacates=True, fills=True, origin="dwelling", destination="dwelling"):
    return {"household_id": h, "move_date": date(2021, 3, day), "from_dwelling": a, "to_dwelling": b,
            "origin": origin, "destination": destination, "vacates": vacates, "fills": fills,
            "income": 100_000 * h}


def dwellings_of(n: int, built=(1,)) -> list[dict]:
    return [{"dwelling_id": i, "building_id": 0, "completed": D if i in built else None, "demolished": None}
            for i in range(1, n + 1)]


def both(moves, dwellings, seeds="new_builds"):
    """(path, tree) ChainSets over March 2021; the tree checked against the reference."""
    mv, dw = tables(moves, dwellings)
    kw = {"window": (D, date(2021, 3, 31)), "max_gap_days": 365}
    tree = flyttkedja.trace(mv, dw, seeds, convention="tree", **kw)
    assert_same_trees(tree, naive.trace_tree(moves, dwellings, seeds, **kw)[0])
    return flyttkedja.trace(mv, dw, seeds, **kw), tree


def test_worked_example() -> None:
    """docs/chains.md, "Trees": a couple from dwellings 2 and 3 moves into new build 1."""
    moves = [move(7, 5, 2, 1), move(8, 5, 3, 1, fills=False), move(9, 9, None, 2, False, origin="new_household"),
             move(10, 12, 4, 3, vacates=False)]
    path, tree = both(moves, dwellings_of(4))
    assert path.chains.select("length", "depth", "end_reason").row(0) == (2, 2, "new_household")
    assert tree.chains.select("length", "depth", "leaves", "end_reason", "end_date").row(0) == (
        4, 2, 2, "new_household", date(2021, 3, 12))
    assert tree.links.select("step", "move_row", "parent_row", "joined", "end_reason").rows() == [
        (1, 0, None, False, None), (1, 1, None, True, None),
        (2, 2, 0, False, "new_household"), (2, 3, 1, False, "not_vacated")]


def test_partner_from_the_parental_home() -> None:
    """The partner leaves others behind (a split) or forms from nowhere: a leaf in round 1."""
    for partner in (move(8, 5, 3, 1, vacates=False, fills=False),
                    move(8, 5, None, 1, vacates=False, fills=False, origin="new_household")):
        _, tree = both([move(7, 5, 2, 1), partner], dwellings_of(3))
        assert tree.links["end_reason"].to_list() == ["censored", "not_vacated" if partner["from_dwelling"]
                                                      else "new_household"]


def test_three_households_merging() -> None:
    moves = [move(8, 5, 3, 1, fills=False), move(7, 5, 2, 1), move(9, 5, 4, 1, fills=False),
             move(10, 7, None, 4, False, origin="immigrant")]
    _, tree = both(moves, dwellings_of(4))
    assert tree.links.select("move_row", "joined").rows() == [(1, False), (0, True), (2, True), (3, False)]
    assert tree.chains.select("length", "depth", "leaves").row(0) == (4, 2, 3)


def test_couple_on_the_day_of_a_swap() -> None:
    """2 and 3 swap; 4's household joins 2's old dwelling the same day: the ring's vacancies
    are one closed tree, and 4's dwelling hangs off it."""
    moves = [move(7, 5, 2, 3), move(8, 5, 3, 2), move(9, 5, 4, 2, fills=False),
             move(10, 8, None, 4, False, origin="in_migrant")]
    path, tree = both(moves, dwellings_of(4, built=()), seeds="all")
    ring = tree.chains.filter(pl.col("seed_move") == 0)
    assert ring.select("length", "depth", "end_reason").row(0) == (4, 2, "cycle")
    assert path.chains.filter(pl.col("seed_move") == 0).select("length", "end_reason").row(0) == (2, "cycle")


def test_merge_into_a_dwelling_that_is_not_empty() -> None:
    """A household joining an occupied dwelling on a day nobody filled it is no member of a filling."""
    moves = [move(7, 5, 2, 1), move(8, 6, 3, 1, fills=False)]
    path, tree = both(moves, dwellings_of(3), seeds="all")
    assert tree.chains.equals(path.chains)
    assert tree.quality["joiners"] == 0


def test_depth_bound_and_threads() -> None:
    rng = random.Random(11)
    moves, dwellings = naive.random_register(rng, n_dwellings=5000, n_days=150, p_corrupt=0.05)
    mv, dw = tables(moves, dwellings)

    def run():
        cs = flyttkedja.trace(mv, dw, "all", max_gap_days=30, max_length=2, convention="tree")
        return cs.chains, cs.links
    results = with_one_and_two_threads(run)
    assert results[0][0].equals(results[1][0]) and results[0][1].equals(results[1][1])
    want, _ = naive.trace_tree(moves, dwellings, "all", max_gap_days=30, max_length=2)
    cs = flyttkedja.trace(mv, dw, "all", max_gap_days=30, max_length=2, convention="tree")
    assert_same_trees(cs, want)
    assert cs.chains["depth"].max() <= 2 and "max_length" in cs.links["end_reason"].to_list()


def test_unknown_convention() -> None:
    mv, dw = tables([move(7, 5, 2, 1)], dwellings_of(2))
    with pytest.raises(ValueError, match="convention"):
        flyttkedja.trace(mv, dw, convention="forest")
