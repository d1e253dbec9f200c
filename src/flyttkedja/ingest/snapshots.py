"""Household moves from yearly person snapshots (annual resolution), out of core.

The panel is read one pair of consecutive years at a time (polars lazy frames,
streaming engine) and each pair's moves are appended to the output, so peak
memory grows with one pair of years, not with the number of years.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from flyttkedja.ingest._households import PARENT_GAP, household_moves, to_moves_table
from flyttkedja.ingest._panel import YearSource, check_year, collect, open_panel
from flyttkedja.io import PARQUET_OPTIONS, atomic_parquet_writer, to_arrow
from flyttkedja.schema import DESTINATIONS, MOVES, ORIGINS, SchemaError

MOVE_DATES = ("year_end", "mid_year")
Progress = Callable[[int, int, int], None]  # (pairs done, pairs in all, year just done)


def from_snapshots(
    persons,
    dwellings=None,
    *,
    columns: Mapping[str, str] | None = None,
    out: str | os.PathLike | None = None,
    move_date: str = "year_end",
    absent_origin: str = "immigrant",
    absent_destination: str = "emigrant",
    parent_gap: int = PARENT_GAP,
    progress: Progress | None = None,
) -> pa.Table | Path:
    """Canonical household moves between consecutive yearly person snapshots.

    Parameters
    ----------
    persons : directory, file, or table
        PERSONS panel (one row per person and year, snapshot at 31 December):
        a directory of Parquet files with the year in each name
        (``persons/persons_2019.parquet``), one file, or a pyarrow/polars/pandas table.
        An optional ``family_position`` column (head, partner, child, other) decides
        heads, children and home leavers; without it the age rules do.
    dwellings : table or path, optional
        The study area's dwellings (needs ``dwelling_id``). A person registered
        on a dwelling not listed counts as outside the study area. ``None``:
        every dwelling in the panel is inside.
    columns : mapping, optional
        Register name → canonical name, e.g. ``{"LopNr": "person_id"}``
        (:data:`flyttkedja.ingest.SCB_COLUMNS` is a ready example).
    out : path, optional
        Write the moves to this Parquet file (atomically, appending one pair
        of years at a time) and return its path. Without it the moves are
        returned as a pyarrow Table (then they must fit in memory).
    move_date : {"year_end", "mid_year"}
        Date given to the moves between snapshots y-1 and y: 31 December y
        (default; keeps every move on or after completions of year y) or 1 July y.
    absent_origin, absent_destination : str
        Origin of persons absent from the previous snapshot (default
        ``immigrant``) and destination of persons absent from the next one
        (default ``emigrant``; a panel cannot tell emigration from death or,
        for a regional panel, from out-migration: set these to ``in_migrant``
        / ``out_migrant`` / ``dissolved`` as your panel's coverage implies).
        Persons present but on no dwelling of the area are ``in_migrant`` /
        ``out_migrant``.
    parent_gap : int
        A group leaving others behind is a home leaver (``new_household``) when
        its oldest member was born at least this many years after the oldest
        resident it leaves; otherwise a split.
    progress : callable, optional
        Called as ``progress(done, total, year)`` after each pair of years.

    Returns
    -------
    pyarrow.Table with the MOVES schema, or the output path.

    Raises
    ------
    SchemaError
        Missing columns, wrong types, nulls, duplicate ids, a missing year or an
        unreadable file, naming file, column and rows. Nothing is written then.

    Example
    -------
    >>> moves = from_snapshots("register/persons", "register/dwellings.parquet")  # doctest: +SKIP
    """
    if move_date not in MOVE_DATES:
        raise ValueError(f"move_date must be one of {MOVE_DATES}, got {move_date!r}")
    _check_code("absent_origin", absent_origin, ORIGINS[1:])
    _check_code("absent_destination", absent_destination, DESTINATIONS[1:])
    sources = open_panel(persons, columns)
    if len(sources) < 2:
        raise SchemaError(f"persons: need at least two snapshot years, found {[s.year for s in sources]}")
    area = _study_area(dwellings, columns)
    options = dict(move_date=move_date, absent_origin=absent_origin,
                   absent_destination=absent_destination, parent_gap=parent_gap)
    pairs = list(zip(sources[:-1], sources[1:]))
    check_year(sources[0])
    with _MovesSink(out) as append:
        for i, (before, after) in enumerate(pairs):
            check_year(after)
            append(pair_moves(before, after, area, first_label=append.rows, **options))
            if progress:
                progress(i + 1, len(pairs), after.year)
    return append.result


def _check_code(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _study_area(dwellings, columns: Mapping[str, str] | None = None) -> pl.Series | None:
    if dwellings is None:
        return None
    table = to_arrow(dwellings, "dwellings", dict(columns) if columns else None)
    if "dwelling_id" not in table.column_names:
        raise SchemaError(f"dwellings: missing column ['dwelling_id']; present: {table.column_names}")
    return pl.Series("dwelling_id", table.column("dwelling_id").to_numpy(), dtype=pl.Int64)


def pair_moves(
    before: YearSource,
    after: YearSource,
    area: pl.Series | None,
    *,
    move_date: str = "year_end",
    absent_origin: str = "immigrant",
    absent_destination: str = "emigrant",
    parent_gap: int = PARENT_GAP,
    first_label: int = 0,
) -> pa.Table:
    """Household moves between two consecutive snapshots (rules in ``_households``).

    ``household_id`` numbers the moves from ``first_label`` (the rows written so far).
    """
    y0, y1 = before.year, after.year
    p0 = _located(before.frame, area).select(
        "person_id", d0="dwelling_id", by0="birth_year", ba0="born_abroad", inc0="income", in0=pl.lit(True),
        position_before="family_position", row0=pl.col("_file_row").cast(pl.Int64),
    )
    p1 = _located(after.frame, area).select(
        "person_id", "birth_year", "born_abroad", "income", "family_position", d1="dwelling_id", in1=pl.lit(True),
        row1=pl.col("_file_row").cast(pl.Int64),
    )
    joined = collect(
        p0.join(p1, on="person_id", how="full", coalesce=True).with_columns(
            pl.col("in0", "in1").fill_null(False),
            birth_year=pl.coalesce("birth_year", "by0"),
            born_abroad=pl.coalesce("born_abroad", "ba0"),
            income=pl.coalesce("income", "inc0"),
            # the family position of the year's snapshot; the previous one for persons gone by then
            position=pl.when(pl.col("in1")).then("family_position").otherwise("position_before"),
        ),
        f"{before.label} + {after.label}",
    ).lazy()
    stay = joined.filter(pl.col("d0") == pl.col("d1")).group_by("d0").agg(stay=pl.len())
    oldest = joined.filter(pl.col("d0").is_not_null()).group_by("d0").agg(oldest_from=pl.col("birth_year").min())
    born = ~pl.col("in0") & (pl.col("birth_year") > y0)
    date = dt.date(y1, 12, 31) if move_date == "year_end" else dt.date(y1, 7, 1)
    movers = (
        joined.filter(~pl.col("d0").eq_missing(pl.col("d1")) & ~born)
        .join(stay, on="d0", how="left")
        .join(stay.rename({"d0": "d1", "stay": "stay_to"}), on="d1", how="left")
        .join(oldest, on="d0", how="left")
        .select(
            period=pl.lit(y1, pl.Int64),
            move_date=pl.lit(date),
            ref_year=pl.lit(y1, pl.Int32),
            person_id="person_id", d0="d0", d1="d1",
            birth_year="birth_year", born_abroad="born_abroad", income="income",
            origin_kind=pl.when(pl.col("in0")).then(pl.lit("in_migrant")).otherwise(pl.lit(absent_origin)),
            destination_kind=pl.when(pl.col("in1")).then(pl.lit("out_migrant")).otherwise(pl.lit(absent_destination)),
            stay_from=pl.col("stay").fill_null(0),
            stay_to=pl.col("stay_to").fill_null(0),
            oldest_from="oldest_from",
            position="position",
            position_before="position_before",
            position_outdated=pl.lit(False),
            order=pl.lit(0, pl.Int64),  # snapshots do not show the order inside a year
            # row order of the year's snapshot (then of the previous one, for persons gone)
            row=pl.coalesce("row1", pl.col("row0") + (1 << 40)),
        )
    )
    return to_moves_table(household_moves(movers, parent_gap=parent_gap, first_label=first_label).collect())


def _located(frame: pl.LazyFrame, area: pl.Series | None) -> pl.LazyFrame:
    """Dwelling ids outside the study area become null (the person is outside)."""
    if area is None:
        return frame
    return frame.with_columns(
        dwelling_id=pl.when(pl.col("dwelling_id").is_in(area.implode())).then("dwelling_id")
    )


class _MovesSink(contextlib.AbstractContextManager):
    """Collects pair tables in memory, or appends them to a Parquet file written atomically."""

    def __init__(self, out: str | os.PathLike | None):
        self.out = Path(out) if out is not None else None
        self.tables: list[pa.Table] = []
        self.writer: pq.ParquetWriter | None = None
        self.result: pa.Table | Path | None = None
        self.rows = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        if self.out is not None:
            self.writer = self._stack.enter_context(atomic_parquet_writer(self.out, MOVES))
        return self

    def __call__(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if self.writer is None:
            self.tables.append(table)
        elif table.num_rows:
            self.writer.write_table(table, row_group_size=PARQUET_OPTIONS["row_group_size"])

    def __exit__(self, kind, exc, tb):
        self._stack.__exit__(kind, exc, tb)  # closes the writer; renames on success, removes on failure
        if kind is None:
            if self.writer is None:
                self.result = pa.concat_tables(self.tables) if self.tables else MOVES.empty_table()
            else:
                self.result = self.out
        return False

