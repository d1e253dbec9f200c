"""Round trip on the synthetic register (flyttkedja.synth): persons → moves → chains.

1. Day level: the generator's person events + person panel → ``from_person_moves``
   reproduce its household moves row by row on every column (modulo household
   labels); without the panel's family positions, the documented approximation.
2. Annual level: the generator's person panel → ``from_snapshots`` equals
   ``from_person_moves`` on the generator's events collapsed by ``annual_projection``
   (the household moves at annual resolution), and both trace to the same chains.
3. What annual resolution loses, measured against the day-level moves.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import flyttkedja
from flyttkedja.ingest import annual_projection, from_person_moves, from_snapshots

synth = pytest.importorskip("flyttkedja.synth")
if not hasattr(synth, "generate"):
    pytest.skip("flyttkedja.synth.generate not available yet", allow_module_level=True)

KEY = ["move_date", "from_dwelling", "to_dwelling"]
# one row per move: two young adults leaving their parental homes to move in together are two moves
# with the same (date, null, to_dwelling), the one that fills and the one that joins it
ROW = [*KEY, "fills"]
EXACT = ["origin", "destination", "vacates", "fills", "size", "adults"]
OUTSIDE = {"immigrant": "in_migrant", "emigrant": "out_migrant", "dissolved": "out_migrant"}


def day_level(reg, persons=None) -> pl.DataFrame:
    persons = reg.persons if persons is None else persons
    return pl.from_arrow(from_person_moves(reg.person_events, persons, reg.dwellings))


def annual(reg) -> pl.DataFrame:
    return pl.from_arrow(from_snapshots(reg.persons, reg.dwellings, absent_origin="in_migrant",
                                        absent_destination="out_migrant"))


@pytest.fixture(scope="module")
def metro_register():
    """The metro preset at a small scale: a city region with every mechanism, 6 years."""
    return synth.generate("metro", scale=0.03, years=6, seed=3)


def assert_same_moves(truth: pl.DataFrame, ours: pl.DataFrame) -> None:
    """Equal on every column, row for row, but household labels (ours number the moves)."""
    assert truth.height == ours.height > 0 and truth.select(ROW).is_unique().all()
    assert ours["household_id"].to_list() == list(range(ours.height))
    truth, ours = (t.drop("household_id").sort(ROW, nulls_last=True) for t in (truth, ours))
    for column in truth.columns:
        differ = truth[column].ne_missing(ours[column])
        assert not differ.any(), f"{column}: {differ.sum()} of {truth.height} moves differ"


@pytest.mark.parametrize("name", ["small_register", "metro_register"])
def test_events_reproduce_the_generator_moves(name, request):
    """With family positions in the panel, every column of every move comes back."""
    reg = request.getfixturevalue(name)
    assert_same_moves(pl.from_arrow(reg.moves), day_level(reg))


def test_without_family_positions_the_documented_approximation(small_register):
    """No family_position column: the age rules of docs/ingest.md (oldest is head, 15-year gap)."""
    truth = pl.from_arrow(small_register.moves)
    ours = day_level(small_register, small_register.persons.drop(["family_position"]))
    assert truth.height == ours.height
    # Rows pair up on (date, from, to), except that a partner at least 15 years younger
    # than the oldest resident who leaves is taken for a home leaver (from_dwelling null)
    only_truth = truth.join(ours, on=KEY, how="anti", nulls_equal=True)
    only_ours = ours.join(truth, on=KEY, how="anti", nulls_equal=True)
    assert only_truth.height == only_ours.height <= max(1, 0.001 * truth.height)
    assert (only_truth["origin"] == "dwelling").all() and (only_ours["origin"] == "new_household").all()
    truth = truth.join(only_truth, on=KEY, how="anti", nulls_equal=True).sort(KEY, nulls_last=True)
    ours = ours.join(only_ours, on=KEY, how="anti", nulls_equal=True).sort(KEY, nulls_last=True)
    for column in [*EXACT, "income"]:
        assert truth[column].equals(ours[column]), column
    # household_type takes members born 15+ years after the oldest for children: only
    # couples with a wider age gap come out as single parents
    wrong = truth["household_type"] != ours["household_type"]
    assert 0 < wrong.sum() <= max(1, 0.01 * truth.height)
    assert truth.filter(wrong)["household_type"].is_in(["couple", "couple_with_children"]).all()
    assert (ours.filter(wrong)["household_type"] == "single_parent").all()
    # the head is the oldest member: at least as old as the generator's head, the same
    # person in one-person households
    assert (ours["age_head"] >= truth["age_head"]).all() and (ours["age_head"] > truth["age_head"]).any()
    single = truth["size"] == 1
    assert ours.filter(single)["age_head"].equals(truth.filter(single)["age_head"])
    assert ours.filter(single)["born_abroad"].equals(truth.filter(single)["born_abroad"])


def trace(reg, moves: pl.DataFrame):
    return flyttkedja.trace(moves, reg.dwellings, window=reg.window, max_gap_days=reg.max_gap_days)


def test_snapshots_equal_the_annual_projection_and_trace_alike(small_register):
    reg = small_register
    by_panel = annual(reg)
    projected = pl.from_arrow(from_person_moves(annual_projection(reg.person_events, reg.persons),
                                                reg.persons, reg.dwellings, ordered=False))
    assert by_panel.height > 0 and by_panel.equals(projected)
    a, b = trace(reg, by_panel), trace(reg, projected)
    assert a.chains.height > 0 and a.chains.equals(b.chains) and a.links.equals(b.links)


def test_what_annual_resolution_loses(small_register):
    reg = small_register
    ev = pl.from_arrow(reg.person_events).with_columns(year=pl.col("event_date").dt.year())
    # every household move whose persons and dwellings see nothing else that year ("simple")
    # appears unchanged at annual resolution, dated 31 December
    busy_person = ev.group_by("person_id", "year").agg(n=pl.col("event_date").n_unique()).filter(pl.col("n") > 1)
    touches = pl.concat([ev.select("year", "event_date", dwelling="from_dwelling"),
                         ev.select("year", "event_date", dwelling="to_dwelling")]).drop_nulls()
    busy_dwelling = touches.group_by("dwelling", "year").agg(n=pl.col("event_date").n_unique()).filter(pl.col("n") > 1)
    # a child arriving in its birth year looks like a birth in the area at year end
    born = pl.from_arrow(reg.persons).select("person_id", year=pl.col("birth_year").cast(pl.Int32)).unique()
    complex_events = pl.concat([
        ev.join(busy_person, on=["person_id", "year"], how="semi"),
        ev.join(born, on=["person_id", "year"], how="semi"),
        ev.join(busy_dwelling, left_on=["from_dwelling", "year"], right_on=["dwelling", "year"], how="semi"),
        ev.join(busy_dwelling, left_on=["to_dwelling", "year"], right_on=["dwelling", "year"], how="semi"),
    ]).select("event_date", "to_dwelling", "from_dwelling")
    truth = pl.from_arrow(reg.moves).with_row_index("_i")
    hit_to = truth.join(complex_events, left_on=["move_date", "to_dwelling"],
                        right_on=["event_date", "to_dwelling"], how="semi")
    hit_from = truth.join(complex_events, left_on=["move_date", "from_dwelling"],
                          right_on=["event_date", "from_dwelling"], how="semi")
    simple = truth.filter(~pl.col("_i").is_in(pl.concat([hit_to["_i"], hit_from["_i"]]).implode()))
    seen = simple.with_columns(
        move_date=pl.date(pl.col("move_date").dt.year(), 12, 31),
        origin=pl.col("origin").replace(OUTSIDE), destination=pl.col("destination").replace(OUTSIDE),
    ).select(KEY + EXACT + ["household_type", "income"])
    yearly = annual(reg).select(KEY + EXACT + ["household_type", "income"])
    missing = seen.join(yearly, on=seen.columns, how="anti", nulls_equal=True)
    assert simple.height > 0.3 * truth.height and missing.height == 0, missing
    # and the losses are real in this register: moves collapsed, intermediate dwellings, flags
    multi = busy_person.height
    intermediate = (ev.filter(pl.col("to_dwelling").is_not_null())
                    .join(ev.filter(pl.col("from_dwelling").is_not_null()),
                          left_on=["person_id", "year", "to_dwelling"],
                          right_on=["person_id", "year", "from_dwelling"], how="semi").height)
    assert multi > 0 and intermediate > 0
    day, year = trace(reg, pl.from_arrow(reg.moves)), trace(reg, annual(reg))
    assert set(day.chains["seed_dwelling"]) == set(year.chains["seed_dwelling"])
    print(f"\nannual resolution: {truth.height} day-level moves, {yearly.height} annual; "
          f"{simple.height} simple moves unchanged; {multi} person-years with moves on 2+ days; "
          f"{intermediate} intermediate dwellings; mean chain length day "
          f"{day.chains['length'].mean():.3f} vs annual {year.chains['length'].mean():.3f}")


def test_dates_are_year_ends_inside_the_window(small_register):
    moves = annual(small_register)
    start, end = small_register.window
    assert moves["move_date"].is_in([dt.date(y, 12, 31) for y in range(start.year, end.year + 1)]).all()


def test_the_panel_has_one_head_per_household(small_register):
    """The generator's family positions: one head per household and year, at most one partner."""
    persons = pl.from_arrow(small_register.persons)
    per = persons.group_by("year", "household_id").agg(
        heads=(pl.col("family_position") == "head").sum(), partners=(pl.col("family_position") == "partner").sum())
    assert (per["heads"] == 1).all() and (per["partners"] <= 1).all()
    assert set(persons["family_position"]) == {"head", "partner", "child"}
