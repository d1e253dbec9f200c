"""From person movements in one period to household moves (shared by both ingesters).

A *period* is one pair of consecutive snapshots (annual data) or one day
(dated events). The input has one row per person who changed location in the
period, with the occupancy facts the rules need; the output is canonical
MOVES rows. The rules (docs/ingest.md, "Rules"):

* persons with the same (from dwelling, to dwelling) in a period move together:
  one household move; its head is the member whose family position is head
  (of several, one whose position is not outdated), else the oldest member
  (ties: the first in the input's row order, ``row``: never the value of a
  pseudonymised id, so that results do not depend on how ids were drawn);
  ``household_id`` numbers the moves in output order (person registers show
  who lives together each period, not one household's identity through splits
  and unions, so every move is its own household);
* a departure from dwelling A *vacates* A when nobody who lived in A at the
  start of the period is still there at its end, and it is the one group that
  carries the household on: among the groups leaving an emptied A, the first by
  (the last to leave when the order inside the period is known, moves to a
  dwelling before leaving the area, oldest head, head first in row order);
* a group leaving A that does not vacate it is a *home leaver* (origin
  ``new_household``, ``from_dwelling`` null) when its head was a child in the
  snapshot before the period's year (without a position: is at least
  ``parent_gap`` years younger than A's oldest resident at the start of the
  period), otherwise a *split* (origin ``dwelling``, ``vacates`` false);
* an arrival *fills* dwelling B when nobody who lived in B at the start is
  still there at the end, and it is the first arriving group by (the first to
  arrive when the order is known, comes from a dwelling of the area, oldest
  head, head first in row order); later groups join it;
* ``household_type``: members whose family position is child are children
  (a member without a position: born at least ``parent_gap`` years after the
  oldest member; likewise a member whose position is an outdated ``child``),
  the others the couple; the head is never a child (a home leaver whose position comes from
  the snapshot before the move is ``child``); which snapshot's position the
  ingesters give each mover is in docs/ingest.md, "Family positions";
* a person who leaves the area (or dies) while others stay is a member
  leaving, and a person who arrives from outside into a dwelling someone
  keeps is a member joining: neither is a household move. A group from
  outside that arrives in a dwelling another group fills in the period is a
  household move (``from_dwelling`` null, ``fills`` false): it moved in with
  the filler (a couple formed from two households), and the tree convention
  of docs/chains.md counts it in that filling. Every other arriving group
  into a filled dwelling is written too, dated like the filler, so a couple
  from two dwellings is two moves with one date and one ``to_dwelling``.
"""

from __future__ import annotations

import polars as pl

from flyttkedja.schema import MOVES

# Columns of the movers frame this module reads (types after casting).
MOVER_COLUMNS: dict[str, pl.DataType] = {
    "period": pl.Int64,          # year or day number: moves of one period are decided together
    "move_date": pl.Date,
    "ref_year": pl.Int32,        # year in which ages are taken (age = ref_year - birth_year)
    "person_id": pl.Int64,
    "d0": pl.Int64,              # dwelling at the start of the period (null: none in the area)
    "d1": pl.Int64,              # dwelling at the end of the period
    "birth_year": pl.Int32,
    "born_abroad": pl.Boolean,
    "income": pl.Int64,
    "origin_kind": pl.String,       # origin when d0 is null (in_migrant, immigrant)
    "destination_kind": pl.String,  # destination when d1 is null (out_migrant, emigrant, dissolved)
    "stay_from": pl.Int64,       # start residents of d0 still in d0 at the end
    "stay_to": pl.Int64,         # start residents of d1 still in d1 at the end
    "oldest_from": pl.Int32,     # birth year of d0's oldest resident at the start
    "position": pl.String,       # family position at the move (null: not known; see module docstring)
    "position_before": pl.String,  # family position in the last snapshot before the move's year
    "position_outdated": pl.Boolean,  # position from a snapshot before an earlier move of the person
    "order": pl.Int64,           # order of events inside the period (0 throughout when unknown)
    "row": pl.Int64,             # the person's place in the input's row order: the last tie-break
}
MOVES_POLARS: dict[str, pl.DataType] = dict(pl.from_arrow(MOVES.empty_table()).schema)
ADULT_AGE = 18
PARENT_GAP = 15


def household_moves(movers: pl.LazyFrame, *, parent_gap: int = PARENT_GAP, first_label: int = 0) -> pl.LazyFrame:
    """Group person movements into canonical household moves (see module docstring).

    Returns a lazy frame with the MOVES columns in MOVES order, sorted by
    (move_date, to_dwelling, from_dwelling, head's row), with ``household_id`` =
    ``first_label`` + row number.
    """
    # head: the member whose family position is head, else (no position) the oldest
    # (of several heads, one whose position is not outdated: who lived there first)
    head = [pl.col("position").ne_missing("head"), "position_outdated", "birth_year", "row"]
    position = pl.col("position")
    # a child by position, or by age when the position is unknown or an outdated "child" (a young adult who
    # left home, moved in with a partner and left the area with them within one year is a child in the last
    # snapshot): a move within the year can end being a child, not being a head or partner
    child_by_age = pl.col("birth_year") >= pl.col("birth_year").min() + parent_gap
    child = (pl.when(position.is_null() | (pl.col("position_outdated") & (position == "child"))).then(child_by_age)
             .otherwise(position == "child"))
    groups = (
        movers.group_by(["period", "d0", "d1"])
        .agg(
            size=pl.len(),
            adults=((pl.col("ref_year") - pl.col("birth_year")) >= ADULT_AGE).sum(),
            income=pl.col("income").sum(),
            head_birth_year=pl.col("birth_year").sort_by(head).first(),
            # the head is never a child of its own household: a young adult who left home and moved again
            # later that year carries the position before the move (child), but moves as the head
            children=(child & (pl.col("row") != pl.col("row").sort_by(head).first())).sum(),
            head_row=pl.col("row").sort_by(head).first(),
            head_was_child=pl.col("position_before").sort_by(head).first() == "child",
            born_abroad=pl.col("born_abroad").sort_by(head).first(),
            origin_kind=pl.col("origin_kind").sort_by(head).first(),
            destination_kind=pl.col("destination_kind").sort_by(head).first(),
            move_date=pl.col("move_date").first(),
            last_leaving=-pl.col("order").max(),
            first_arriving=pl.col("order").min(),
            ref_year=pl.col("ref_year").first(),
            stay_from=pl.col("stay_from").first(),
            stay_to=pl.col("stay_to").first(),
            oldest_from=pl.col("oldest_from").first(),
        )
    )
    first = pl.int_range(pl.len()).over
    groups = (
        groups.sort(["period", "d0", "last_leaving", pl.col("d1").is_null(), "head_birth_year", "head_row"],
                    nulls_last=True)
        .with_columns(first_from=first(["period", "d0"]) == 0)
        .sort(["period", "d1", "first_arriving", pl.col("d0").is_null(), "head_birth_year", "head_row"],
              nulls_last=True)
        .with_columns(first_to=first(["period", "d1"]) == 0)
    )
    d0, d1 = pl.col("d0"), pl.col("d1")
    vacates = d0.is_not_null() & (pl.col("stay_from") == 0) & pl.col("first_from")
    fills = d1.is_not_null() & (pl.col("stay_to") == 0) & pl.col("first_to")
    by_age = pl.col("head_birth_year") >= pl.col("oldest_from") + parent_gap
    home_leaver = d0.is_not_null() & ~vacates & pl.coalesce("head_was_child", by_age)
    # a member leaving, or joining from outside a dwelling someone keeps, is no household move;
    # joining from outside a dwelling filled in the period is (the tree convention counts it)
    joins_kept = d0.is_null() & ~pl.col("fills") & (pl.col("stay_to") > 0)
    groups = groups.with_columns(vacates=vacates, fills=fills, home_leaver=home_leaver).filter(
        ~((d1.is_null() & ~pl.col("vacates")) | joins_kept)
    )
    # members born parent_gap years after the oldest are children, the others the couple
    couple, children = pl.col("size") - pl.col("children"), pl.col("children")
    household_type = (
        pl.when((couple == 1) & (children == 0)).then(pl.lit("single"))
        .when((couple == 2) & (children == 0)).then(pl.lit("couple"))
        .when((couple == 1) & (children > 0)).then(pl.lit("single_parent"))
        .when((couple == 2) & (children > 0)).then(pl.lit("couple_with_children"))
        .otherwise(pl.lit("other"))
    )
    out = groups.with_columns(
        from_dwelling=pl.when(pl.col("home_leaver")).then(None).otherwise(d0),
        to_dwelling=d1,
        origin=pl.when(d0.is_null()).then(pl.col("origin_kind"))
        .when(pl.col("home_leaver")).then(pl.lit("new_household"))
        .otherwise(pl.lit("dwelling")),
        destination=pl.when(d1.is_null()).then(pl.col("destination_kind")).otherwise(pl.lit("dwelling")),
        age_head=pl.col("ref_year") - pl.col("head_birth_year"),
        household_type=household_type,
    ).sort(["move_date", "to_dwelling", "from_dwelling", "head_row"], nulls_last=True)
    out = out.with_row_index("household_id", offset=first_label)
    return out.select([pl.col(name).cast(dtype) for name, dtype in MOVES_POLARS.items()])


def to_moves_table(frame: pl.DataFrame):
    """A collected household-moves frame as a pyarrow Table with the MOVES schema."""
    return frame.to_arrow().cast(MOVES)
