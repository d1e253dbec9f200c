"""Household moves from dated person events (day resolution).

The initial snapshot says where everyone lives; the events (moves, births,
deaths, migrations) are replayed in date order by a numba kernel that tracks
each dwelling's residents. All events of one day are decided together against
the occupancy at the start of the day, by the same rules as the snapshot
ingester uses for a year (``_households``), so swaps and same-day chains come
out as vacates = fills = True.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import polars as pl
import pyarrow as pa

from flyttkedja.ingest import _kernels
from flyttkedja.ingest._households import PARENT_GAP, household_moves, to_moves_table
from flyttkedja.ingest._panel import check_year, collect, open_panel
from flyttkedja.ingest.snapshots import _study_area
from flyttkedja.io import to_arrow, write_parquet
from flyttkedja.schema import SchemaError, conform

ARRIVALS = {"birth": None, "in_migration": "in_migrant", "immigration": "immigrant"}
DEPARTURES = {"death": "dissolved", "out_migration": "out_migrant", "emigration": "emigrant"}
_EPOCH = dt.date(1970, 1, 1)


def from_person_moves(
    events,
    persons,
    dwellings=None,
    *,
    columns: Mapping[str, str] | None = None,
    out=None,
    parent_gap: int = PARENT_GAP,
    ordered: bool = True,
) -> pa.Table:
    """Canonical household moves at day resolution from dated person events.

    Parameters
    ----------
    events : table or path
        PERSON_EVENTS: person_id, event_date, event (move, birth, death,
        in_migration, immigration, out_migration, emigration), from_dwelling,
        to_dwelling. Swedish/SCB event names are accepted (``conform``).
    persons : directory, file or table
        The PERSONS panel, or at least its first year: the first snapshot year
        is the initial state (31 December), later years (if given) supply the
        income and family position (optional column) of the move year and the
        attributes of persons who arrive later.
    dwellings : table or path, optional
        The study area (``dwelling_id``); events on other dwellings count as
        leaving or entering the area.
    columns : mapping, optional
        Register name → canonical name, applied to both inputs.
    out : path, optional
        Also write the moves to this Parquet file (atomically).
    parent_gap : int
        Home leaver rule, as in :func:`from_snapshots`.
    ordered : bool
        Table order is the order in which one day's events happened (default):
        of several groups leaving a dwelling that day the last one vacates it,
        of several arriving the first one fills it. ``False``: the order is
        unknown and the rules' fallbacks decide, as for snapshots (use it for
        :func:`annual_projection` output).

    Returns
    -------
    pyarrow.Table (MOVES schema), sorted by (move_date, to_dwelling,
    from_dwelling, head); household_id numbers the moves from 0.

    Example
    -------
    >>> moves = from_person_moves("reg/person_events.parquet", "reg/persons")  # doctest: +SKIP
    """
    ev = _events(events, columns)
    sources = open_panel(persons, columns)
    initial = sources[0]
    check_year(initial)
    area = _study_area(dwellings, columns)
    ev = _restrict_to_area(ev, area)
    start = dt.date(initial.year, 12, 31)
    too_early = ev.filter(pl.col("event_date") <= start)
    if too_early.height:
        rows = too_early["_row"].head(5).to_list()
        raise SchemaError(f"person_events.event_date: {too_early.height} event(s) on or before the "
                          f"initial snapshot ({start}), e.g. rows {rows}")
    attributes = _attributes(sources, ev)
    movers = _replay(ev, initial, attributes, area, ordered)
    table = to_moves_table(household_moves(movers, parent_gap=parent_gap).collect())
    if out is not None:
        write_parquet(table, out)
    return table


def _events(events, columns) -> pl.DataFrame:
    table = to_arrow(events, "person_events", columns)
    # schema.RULES refuse here: the dwellings each kind of event needs, self-moves, duplicated events ...
    table = conform(table, "person_events")
    return pl.from_arrow(table).with_row_index("_row")


def _restrict_to_area(ev: pl.DataFrame, area: pl.Series | None) -> pl.DataFrame:
    """Moves to or from dwellings outside the area become migrations."""
    if area is None:
        return ev
    inside_from = pl.col("from_dwelling").is_in(area.implode())
    inside_to = pl.col("to_dwelling").is_in(area.implode())
    ev = ev.with_columns(
        event=pl.when(pl.col("event") != "move").then("event")
        .when(~inside_from & inside_to).then(pl.lit("in_migration"))
        .when(inside_from & ~inside_to).then(pl.lit("out_migration"))
        .otherwise("event"),
        from_dwelling=pl.when(inside_from).then("from_dwelling"),
        to_dwelling=pl.when(inside_to).then("to_dwelling"),
    )
    return ev.filter(pl.col("from_dwelling").is_not_null() | pl.col("to_dwelling").is_not_null())


def _attributes(sources, ev: pl.DataFrame) -> pl.DataFrame:
    """Per person and snapshot year: birth_year, born_abroad, income, family_position (persons in events)."""
    wanted = ev.select(pl.col("person_id").unique())
    frames = []
    for source in sources:
        if source is not sources[0]:
            check_year(source)
        frames.append(collect(
            source.frame.join(wanted.lazy(), on="person_id", how="semi")
            .select("person_id", "year", "birth_year", "born_abroad", "income", "family_position"),
            source.label,
        ))
    return pl.concat(frames).sort("person_id", "year")


def _replay(ev: pl.DataFrame, initial, attributes: pl.DataFrame, area, ordered: bool) -> pl.LazyFrame:
    """Run the occupancy kernel and return the movers frame for ``household_moves``."""
    start = collect(initial.frame.select("person_id", "dwelling_id", "birth_year"), initial.label)
    if area is not None:
        start = start.with_columns(dwelling_id=pl.when(pl.col("dwelling_id").is_in(area.implode())).then("dwelling_id"))
    ev = ev.with_columns(day=(pl.col("event_date") - pl.lit(_EPOCH)).dt.total_days().cast(pl.Int32))
    ev = ev.with_columns(step=_step()).sort("step", "_row")  # replay order: date, phase, table order
    ev = _with_birth_years(ev, attributes)
    people = pl.concat([start["person_id"], ev["person_id"]]).unique().sort()
    dwellings = pl.concat([start["dwelling_id"], ev["from_dwelling"], ev["to_dwelling"]]).drop_nulls().unique().sort()
    person = _index(people, ev["person_id"])
    location = np.full(people.len(), -1, np.int64)
    housed = start.filter(pl.col("dwelling_id").is_not_null())
    location[_index(people, housed["person_id"])] = _index(dwellings, housed["dwelling_id"])
    born = np.zeros(people.len(), np.int32)
    born[_index(people, start["person_id"])] = start["birth_year"].to_numpy()
    born[person] = ev["birth_year"].to_numpy()
    stay_from, stay_to, oldest_from, status = _kernels.occupancy_through_events(
        person, ev["step"].to_numpy(), _index(dwellings, ev["from_dwelling"]),
        _index(dwellings, ev["to_dwelling"]), location, born, dwellings.len(),
    )
    _raise_on_status(ev, status)
    ev = ev.with_columns(
        stay_from=pl.Series(stay_from), stay_to=pl.Series(stay_to), oldest_from=pl.Series(oldest_from),
    )
    return _movers(ev.lazy(), attributes, ordered)


def _step() -> pl.Expr:
    """Replay step: three phases per day, each decided as one period.

    A birth followed the same day by another event of the same person (born,
    then the household moved) comes first, so the child moves with its
    household; other births come last (born after the day's moves, e.g. into
    the dwelling the household just entered); everything else in between.
    """
    born_then_more = (pl.col("event") == "birth") & (pl.len().over("person_id", "day") > 1)
    phase = pl.when(born_then_more).then(0).when(pl.col("event") == "birth").then(2).otherwise(1)
    return (pl.col("day") * 3 + phase).cast(pl.Int32)


def _index(ids: pl.Series, values: pl.Series) -> np.ndarray:
    """Dense index of ``values`` in sorted unique ``ids``; -1 for nulls."""
    arr = values.fill_null(-1).to_numpy()
    pos = np.searchsorted(ids.to_numpy(), arr).astype(np.int64)
    return np.where(values.is_null().to_numpy(), -1, pos)


def _with_birth_years(ev: pl.DataFrame, attributes: pl.DataFrame) -> pl.DataFrame:
    first = attributes.group_by("person_id").agg(pl.col("birth_year").first(), pl.col("born_abroad").first())
    # a person born during the events (and perhaps gone before the next snapshot) was born that year
    born = ev.filter(pl.col("event") == "birth").group_by("person_id").agg(
        born_in=pl.col("event_date").dt.year().min().cast(pl.Int32))
    ev = ev.join(first, on="person_id", how="left").join(born, on="person_id", how="left")
    ev = ev.with_columns(
        birth_year=pl.coalesce("birth_year", "born_in"),
        born_abroad=pl.coalesce("born_abroad", pl.lit(False)),
    ).drop("born_in")
    unknown = ev.filter(pl.col("birth_year").is_null())["_row"]
    if unknown.len():
        raise SchemaError(f"person_events.person_id: {unknown.len()} event(s) of persons found in no snapshot "
                          f"(birth year unknown), e.g. rows {unknown.sort().head(5).to_list()}")
    return ev.with_columns(pl.col("birth_year").cast(pl.Int32))


def _raise_on_status(ev: pl.DataFrame, status: np.ndarray) -> None:
    for code, what in [(_kernels.WRONG_FROM, "from_dwelling is not where the person lives at that date"),
                       (_kernels.ALREADY_HOUSED, "arrival of a person who already lives on a dwelling")]:
        rows = ev["_row"].filter(pl.Series(status == code))
        if rows.len():
            raise SchemaError(f"person_events: {rows.len()} event(s) where {what}, e.g. rows "
                              f"{rows.sort().head(5).to_list()}")


def _movers(ev: pl.LazyFrame, attributes: pl.DataFrame, ordered: bool) -> pl.LazyFrame:
    """Movers frame (``_households.MOVER_COLUMNS``): income and family position from the
    move year's snapshot, the position before the move from the previous years' (docs/ingest.md)."""
    snap = attributes.select("person_id", ref_year=pl.col("year").cast(pl.Int32), income="income",
                             position="family_position", position_year=pl.col("year").cast(pl.Int32)
                             ).sort("ref_year").lazy()
    ev = ev.filter(pl.col("event") != "birth").with_columns(ref_year=pl.col("event_date").dt.year().cast(pl.Int32))
    # the move year's snapshot (31 Dec), else the latest before it, else (income) the first after it
    ev = ev.sort("ref_year").join_asof(snap, on="ref_year", by="person_id", check_sortedness=False)
    ev = ev.join_asof(snap.select("person_id", "ref_year", income_after="income"), on="ref_year", by="person_id",
                      strategy="forward", check_sortedness=False)
    # the position before the move: the latest snapshot before the move's year
    before = snap.select("person_id", position_before="position", ref_year=pl.col("ref_year") + 1)
    ev = _positions_at_the_move(ev.join_asof(before, on="ref_year", by="person_id", check_sortedness=False))
    return ev.select(
        period=pl.col("step").cast(pl.Int64),
        move_date="event_date",
        ref_year="ref_year",
        person_id="person_id",
        d0="from_dwelling",
        d1="to_dwelling",
        birth_year="birth_year",
        born_abroad="born_abroad",
        income=pl.coalesce("income", "income_after", pl.lit(0)),
        origin_kind=pl.col("event").replace_strict(ARRIVALS, default=None, return_dtype=pl.String),
        destination_kind=pl.col("event").replace_strict(DEPARTURES, default=None, return_dtype=pl.String),
        stay_from="stay_from",
        stay_to="stay_to",
        oldest_from="oldest_from",
        position="position",
        position_outdated="position_outdated",
        position_before="position_before",
        order=pl.col("_row").cast(pl.Int64) if ordered else pl.lit(0, pl.Int64),
        row=pl.col("_row").cast(pl.Int64),  # table order of the events: the tie-break of last resort
    )


def _positions_at_the_move(ev: pl.LazyFrame) -> pl.LazyFrame:
    """Each mover's family position at the move and whether it may be outdated (docs/ingest.md).

    Input: ``position`` from the move year's snapshot (the latest earlier one for a
    person gone by then; ``position_year`` says which), ``position_before`` from the
    latest snapshot before the move's year.
    """
    first, last = (pl.col("step").min().over("person_id", "ref_year"),
                   pl.col("step").max().over("person_id", "ref_year"))  # the person's events that year
    # a person who moves again later that year may have a new position by 31 December
    # (a child who then leaves home): the position before the move's year is nearer
    use_before = (pl.col("step") < last) & pl.col("position_before").is_not_null()
    # a known position from before the move's year, of a person who moved earlier that year
    # (perhaps in with a partner), may be outdated
    outdated = (use_before | (pl.col("position_year") < pl.col("ref_year"))) & (pl.col("step") > first)
    ev = ev.with_columns(position=pl.when(use_before).then("position_before").otherwise("position"),
                         position_outdated=outdated.fill_null(False))
    return ev.with_columns(position_outdated=pl.col("position_outdated") & pl.col("position").is_not_null())


def annual_projection(events, persons=None, *, columns: Mapping[str, str] | None = None,
                      arrival: str = "in_migration", departure: str = "out_migration") -> pl.DataFrame:
    """Dated person events as yearly snapshots would show them (see docs/ingest.md).

    Each person's events of one calendar year become one net event from the
    dwelling they held at the start of the year to the one at its end, dated
    31 December (dropped when the two are equal). What a yearly panel of the
    region cannot see is mapped to what it shows: an arrival from outside is
    ``arrival`` (or ``birth`` for a person born that year: birth years from
    ``persons`` when given), a departure to outside is ``departure``.
    ``from_person_moves(annual_projection(events, persons), persons, ordered=False)`` is then
    what ``from_snapshots`` gives on the panel those events produce, with
    ``absent_origin``/``absent_destination`` set to the matching codes.

    Returns a PERSON_EVENTS frame sorted by (event_date, person_id).
    """
    if arrival not in ARRIVALS or departure not in DEPARTURES:
        raise ValueError(f"arrival must be one of {list(ARRIVALS)}, departure one of {list(DEPARTURES)}")
    ev = _events(events, columns).with_columns(year=pl.col("event_date").dt.year())
    net = (
        ev.sort("event_date", "_row")
        .group_by("person_id", "year")
        .agg(pl.col("from_dwelling").first(), pl.col("to_dwelling").last(),
             first=pl.col("event").first(), born=(pl.col("event") == "birth").any())
        .filter(~pl.col("from_dwelling").eq_missing(pl.col("to_dwelling")))
    )
    if persons is not None:
        births = pl.concat([collect(s.frame.select("person_id", "birth_year"), s.label)
                            for s in open_panel(persons, columns)]).unique("person_id")
        net = net.join(births, on="person_id", how="left").with_columns(
            born=pl.col("born") | (pl.col("birth_year") == pl.col("year")))
    kind = (
        pl.when(pl.col("from_dwelling").is_null() & pl.col("born")).then(pl.lit("birth"))
        .when(pl.col("from_dwelling").is_null()).then(pl.lit(arrival))
        .when(pl.col("to_dwelling").is_null()).then(pl.lit(departure))
        .otherwise(pl.lit("move"))
    )
    return net.select(
        "person_id", event_date=pl.date(pl.col("year"), 12, 31), event=kind,
        from_dwelling="from_dwelling", to_dwelling="to_dwelling",
    ).sort("event_date", "person_id")
