"""Couples formed from two households: ingest writes every household move of the filling,
so the tree convention (docs/chains.md) frees both dwellings the couple left."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa

import flyttkedja
from flyttkedja.ingest import from_person_moves, from_snapshots
from tests.test_ingest import events_df, moves_df, panel

D = dt.date
# 2019: 1 alone in 10, 2 alone in 11, 5 alone in 12. 2020-03-01: 1 and 2 move in together in the
# new build 13, with 4 from abroad; 3 (an in-migrant) joins 5 in 12, which 5 keeps (no
# move). 2020-05-01: 7 from abroad into 10; 2020-06-01: 8 from abroad into 11.
COUPLE = [(1, 2019, 10, 1990), (2, 2019, 11, 1992), (5, 2019, 12, 1950),
          (1, 2020, 13, 1990), (2, 2020, 13, 1992), (4, 2020, 13, 1991), (5, 2020, 12, 1950), (3, 2020, 12, 1960),
          (7, 2020, 10, 1985), (8, 2020, 11, 1988)]
EVENTS = [(1, D(2020, 3, 1), "move", 10, 13), (2, D(2020, 3, 1), "move", 11, 13),
          (4, D(2020, 3, 1), "immigration", None, 13), (3, D(2020, 3, 1), "in_migration", None, 12),
          (7, D(2020, 5, 1), "immigration", None, 10), (8, D(2020, 6, 1), "immigration", None, 11)]
DWELLINGS = pa.table({"dwelling_id": [10, 11, 12, 13],
                      "completed": pa.array([None, None, None, D(2020, 1, 1)], pa.date32())})
WINDOW = ("2020-01-01", "2020-12-31")


def check(moves: pa.Table, date: dt.date) -> None:
    m = moves_df(moves)
    into = m.filter(pl.col("to_dwelling") == 13).sort("from_dwelling", nulls_last=True)
    assert into.select("from_dwelling", "origin", "vacates", "fills").rows() == [
        (10, "dwelling", True, True), (11, "dwelling", True, False), (None, "immigrant", False, False)]
    assert set(into["move_date"]) == {date}  # one filling: one date, one to_dwelling
    assert m.filter(pl.col("to_dwelling") == 12).height == 0  # 3 joins 5, who keeps 12: no move
    path = flyttkedja.trace(moves, DWELLINGS, window=WINDOW)
    tree = flyttkedja.trace(moves, DWELLINGS, window=WINDOW, convention="tree")
    assert path.chains.select("length", "end_reason").row(0) == (2, "immigrant")
    assert tree.chains.select("length", "depth", "leaves").row(0) == (5, 2, 3)
    assert tree.links.filter(pl.col("step") == 1).height == 3  # households in the first link


def test_day_level_couple_from_two_dwellings_and_a_partner_from_abroad() -> None:
    check(from_person_moves(events_df(EVENTS), panel(COUPLE)), D(2020, 3, 1))


def test_annual_couple_from_two_dwellings_and_a_partner_from_abroad() -> None:
    check(from_snapshots(panel(COUPLE)), D(2020, 12, 31))
