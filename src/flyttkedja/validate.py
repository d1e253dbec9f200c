"""Data-quality report over a register: the checks of :data:`flyttkedja.schema.RULES`.

:func:`validate` evaluates every rule that applies to the tables it is given and
returns a :class:`ValidationReport`: one row per rule with the number of rows
concerned and up to five example *row numbers* (never person or household ids,
so the report can leave a secure environment). The rules are the ones the
refusing functions use: a rule with action ``refuse`` found broken here is what
``trace``, ``Report``, ``from_snapshots`` and ``from_person_moves`` refuse; a
``count`` rule is accepted there and counted (the tracer's ``quality``). The
command ``flyttkedja validate DIR`` prints the report and exits 0 (clean), 1
(issues found) or 2 (input unreadable).

Checks (docs/data-model.md lists each rule)
------
dwellings: types, nulls, codes in any accepted spelling, duplicate ids, ranges
of rooms and floor area, dates, completion before demolition; with an areas
table: every area_id in it, of the same municipality.
moves: types, nulls, codes, dates in 1900..2100 of a date type, ranges of size,
adults, age and income (and their sum), self-moves, the consistency rules of the
chain rule (``origin == "dwelling"`` iff a from dwelling, ``destination ==
"dwelling"`` iff a to dwelling, ``vacates`` needs a from dwelling, ``fills`` a to
dwelling); with dwellings: unknown dwellings, departures before a completion
(an old dwelling marked as a new build), a household moving twice on one day or
leaving a dwelling it did not last enter; occupancy: a filling move into a
dwelling that is occupied, a non-filling move into one that is empty, a
departure from an empty dwelling (occupancy follows each dwelling's events in
the tracer's order: date, completion and departures before arrivals; on one
date the departure that empties the dwelling after those that leave others
behind, the filling arrival before those that join; then table order).
persons (one year at a time): types, nulls, duplicate ids, impossible ages,
incomes, unknown family_position codes, dwellings unknown to the dwellings table.
person_events: types, nulls, codes, dates, dwellings each event kind needs,
self-moves, duplicated events.

Example
-------
>>> report = flyttkedja.validate("run/register")          # doctest: +SKIP
>>> print(report.to_text()); report.exit_code               # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa

from flyttkedja import store
from flyttkedja.io import to_arrow
from flyttkedja.schema import EXAMPLES, Finding, SchemaError, evaluate, inspect, missing_columns, rules, with_areas


@dataclass
class ValidationReport:
    """Result of :func:`validate`: one row per check (table, check, rows, example_rows)."""

    checks: list[dict] = field(default_factory=list)

    def extend(self, findings: list[Finding]) -> None:
        """One check per rule finding (table, column, check, action, rows, example_rows, values)."""
        for f in findings:
            self.checks.append(dict(table=f.rule.table, column=f.rule.column, check=f.rule.message,
                                    action=f.rule.action, rows=f.rows, example_rows=f.example_rows[:EXAMPLES],
                                    example_values=[str(v) for v in f.example_values]))

    @property
    def issues(self) -> list[dict]:
        return [c for c in self.checks if c["rows"]]

    @property
    def refusals(self) -> list[dict]:
        """Issues that the refusing functions (trace, Report, ingestion) refuse."""
        return [c for c in self.issues if c["action"] == "refuse"]

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def exit_code(self) -> int:
        """0 when clean, 1 when any check found rows."""
        return 0 if self.ok else 1

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.checks, schema={"table": pl.String, "column": pl.String, "check": pl.String,
                                                 "action": pl.String, "rows": pl.Int64,
                                                 "example_rows": pl.List(pl.Int64),
                                                 "example_values": pl.List(pl.String)})

    def to_text(self) -> str:
        """Plain text: one line per check; example rows are row numbers from 0 in that table/file.

        FAIL: refused by trace/Report/ingestion; WARN: accepted there and counted."""
        lines = []
        for c in self.checks:
            mark = "ok  " if not c["rows"] else ("FAIL" if c["action"] == "refuse" else "WARN")
            values = f" (values {', '.join(c['example_values'])})" if c["rows"] and c["example_values"] else ""
            rows = f"  e.g. rows {c['example_rows']}" if c["rows"] else ""
            lines.append(f"{mark} {c['table']}.{c['column']}: {c['check']}{values}: {c['rows']}{rows}")
        verdict = "clean" if self.ok else (f"{len(self.issues)} check(s) found issues, {len(self.refusals)} of them "
                                           "refused by trace, report and ingest")
        return "\n".join(lines + [verdict])


def validate(
    register: str | os.PathLike | None = None,
    *,
    dwellings=None,
    moves=None,
    persons=None,
    events=None,
    areas=None,
    columns: Mapping[str, str] | None = None,
) -> ValidationReport:
    """Data-quality report over a register directory or tables.

    Parameters
    ----------
    register : path, optional
        A register directory (``dwellings.parquet``, ``moves.parquet``,
        ``areas.parquet``, ``persons/``, ``person_events.parquet``); tables it lacks are skipped.
    dwellings, moves, areas : table or path, optional
        Override or supply the tables (canonical column names).
    persons : directory, file or table, optional
        PERSONS panel, read one year at a time.
    events : table or path, optional
        PERSON_EVENTS (input of ``from_person_moves``).
    columns : mapping, optional
        Register names → canonical names (person panel, events, dwellings and moves).

    Raises
    ------
    SchemaError, FileNotFoundError, ValueError
        When an input cannot be read (the CLI exits 2).
    """
    if register is not None:
        root = Path(register)
        if not root.is_dir():
            raise FileNotFoundError(f"register directory {root} not found")
        store.read_register_manifest(root)  # the manifest trace reads: a corrupt one is unreadable input
        dwellings = dwellings if dwellings is not None else _maybe(store.register_input(root, "dwellings"))
        moves = moves if moves is not None else _maybe(store.register_input(root, "moves"))
        areas = areas if areas is not None else _maybe(store.register_file(root, "areas"))
        persons = persons if persons is not None else _maybe(store.persons_dir(root))
        events = events if events is not None else _maybe(store.register_file(root, "person_events"))
    report = ValidationReport()
    mapping = dict(columns) if columns else None
    dw = None
    if dwellings is not None:
        raw = to_arrow(dwellings, "dwellings", mapping)
        dw_table, _, found = inspect(raw, "dwellings")
        report.extend(missing_columns(raw, "dwellings") + found)
        dw = pl.from_arrow(dw_table)
        if areas is not None:
            ar_table, _, found = inspect(to_arrow(areas, "areas"), "areas")
            report.extend(found)
            report.extend(evaluate(rules("dwellings", scope="register"), with_areas(dw, pl.from_arrow(ar_table))))
    elif areas is not None:
        report.extend(inspect(to_arrow(areas, "areas"), "areas")[2])
    if moves is not None:
        raw = to_arrow(moves, "moves", mapping)
        mv_table, _, found = inspect(raw, "moves")
        report.extend(missing_columns(raw, "moves") + found)
        report.extend(evaluate(rules("moves", scope="register"), _moves_derived(mv_table, dw), row="_row"))
    if persons is not None:
        _check_persons(report, persons, dw, columns)
    if events is not None:
        table = to_arrow(events, "person_events")
        if columns:
            table = table.rename_columns([columns.get(c, c) for c in table.column_names])
        report.extend(missing_columns(table, "person_events") + inspect(table, "person_events")[2])
    if not report.checks:
        raise FileNotFoundError("validate: no dwellings, moves, persons or events given")
    return report


def _maybe(path: Path):
    return path if path.exists() else None


def _moves_derived(mv: pa.Table, dw: pl.DataFrame | None) -> pl.DataFrame:
    """Moves with the derived columns of schema.DERIVED, by polars joins and windows (the
    tracer derives the same from its dense index; tests/test_fuzz.py checks they agree)."""
    frame = pl.from_arrow(mv).with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))
    if isinstance(frame, pl.Series):
        frame = frame.to_frame()
    names = set(frame.columns)
    if dw is not None and "dwelling_id" in dw.columns and {"from_dwelling", "to_dwelling"} <= names:
        ids = dw["dwelling_id"].implode()
        f, t = pl.col("from_dwelling"), pl.col("to_dwelling")
        frame = frame.with_columns(_from_known=f.is_null() | f.is_in(ids), _to_known=t.is_null() | t.is_in(ids))
        if "completed" in dw.columns:
            done = dw.select("dwelling_id", "completed").unique("dwelling_id", keep="first")
            for side in ("from", "to"):
                frame = frame.join(done.rename({"dwelling_id": f"{side}_dwelling", "completed": f"_{side}_completed"}),
                                   on=f"{side}_dwelling", how="left", maintain_order="left")
    if {"household_id", "move_date", "from_dwelling", "to_dwelling"} <= names:
        frame = frame.join(_household_conflicts(frame), on="_row", how="left", maintain_order="left")
    if {"move_date", "from_dwelling", "to_dwelling", "vacates", "fills"} <= names:
        frame = frame.join(_occupancy(frame, dw), on="_row", how="left", maintain_order="left")
    return frame


def _household_conflicts(mv: pl.DataFrame) -> pl.DataFrame:
    """Per move row: ``_twice`` (the household moved earlier that date) and ``_elsewhere`` (it
    leaves a dwelling other than the one its previous move entered), in (date, row) order."""
    ordered = mv.select("_row", "household_id", "move_date", "from_dwelling", "to_dwelling") \
        .sort("household_id", "move_date", "_row")
    prev_to = pl.col("to_dwelling").shift(1).over("household_id")
    prev_date = pl.col("move_date").shift(1).over("household_id")
    return ordered.select(
        "_row",
        _twice=prev_date.is_not_null() & (prev_date == pl.col("move_date")),
        _elsewhere=(prev_date != pl.col("move_date")) & prev_to.is_not_null()
        & pl.col("from_dwelling").is_not_null() & (pl.col("from_dwelling") != prev_to),
    )


def _occupancy(mv: pl.DataFrame, dw: pl.DataFrame | None) -> pl.DataFrame:
    """Occupancy before each event from the previous event at the same dwelling, per move row:
    ``_occupied_fill``, ``_empty_join``, ``_empty_departure``.

    Order at a dwelling: date; then completion, departures that leave others
    behind, the departure that empties it, the arrival that fills it, arrivals
    that join (the tracer's order: departures before arrivals; inside each, the
    only order in which one date's events can be consistent); then table order.
    """
    events = [
        mv.select("_row", dwelling="from_dwelling", date="move_date",
                  kind=pl.when(pl.col("vacates")).then(pl.lit(2, pl.Int8)).otherwise(pl.lit(1, pl.Int8)),
                  empties=pl.col("vacates"), fills=pl.lit(None, pl.Boolean)),
        mv.select("_row", dwelling="to_dwelling", date="move_date",
                  kind=pl.when(pl.col("fills")).then(pl.lit(3, pl.Int8)).otherwise(pl.lit(4, pl.Int8)),
                  empties=pl.lit(False), fills=pl.col("fills")),
    ]
    if dw is not None and "completed" in dw.columns:
        events.append(dw.select(_row=pl.lit(-1, pl.Int64), dwelling="dwelling_id", date="completed",
                                kind=pl.lit(0, pl.Int8), empties=pl.lit(True), fills=pl.lit(None, pl.Boolean)))
    ev = (
        pl.concat([e.with_columns(pl.col("date").cast(pl.Date), pl.col("dwelling").cast(pl.Int64)) for e in events])
        .filter(pl.col("dwelling").is_not_null() & pl.col("date").is_not_null())
        .sort("dwelling", "date", "kind", "_row")
    )
    before = pl.col("empties").shift(1).over("dwelling")  # null: no earlier event known
    arrival, departure = pl.col("kind") >= 3, pl.col("kind").is_in([1, 2])
    flags = ev.with_columns(empty_before=before).select(
        "_row",
        _occupied_fill=arrival & pl.col("fills") & (pl.col("empty_before") == False),  # noqa: E712
        _empty_join=arrival & ~pl.col("fills") & pl.col("empty_before"),
        _empty_departure=departure & pl.col("empty_before"),
    )
    return flags.filter(pl.col("_row") >= 0).group_by("_row").agg(pl.all().fill_null(False).any())


def _check_persons(report: ValidationReport, persons, dw: pl.DataFrame | None, columns) -> None:
    from flyttkedja.ingest._panel import open_panel, year_findings  # the panel reader lives with ingestion

    ids = dw["dwelling_id"] if dw is not None and "dwelling_id" in dw.columns else None
    for source in open_panel(persons, columns):
        report.extend(year_findings(source, ids))
