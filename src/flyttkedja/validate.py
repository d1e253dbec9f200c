"""Data-quality report over a register: dwellings, household moves, person panel.

:func:`validate` runs every check that applies to the tables it is given and
returns a :class:`ValidationReport`: one row per check with the number of rows
concerned and up to five example *row numbers* (never person or household ids,
so the report can leave a secure environment). The command
``flyttkedja validate DIR`` prints it and exits 0 (clean), 1 (issues found) or
2 (input unreadable).

Checks
------
dwellings: duplicate ids, missing or unknown tenure.
moves: unknown dwellings; the consistency rules of the chain rule
(``origin == "dwelling"`` iff a from dwelling, ``destination == "dwelling"``
iff a to dwelling, ``vacates`` needs a from dwelling, ``fills`` a to dwelling);
a household moving twice on one day; occupancy: a filling move into a dwelling
that is occupied, a non-filling move into one that is empty, a departure from
an empty dwelling (occupancy follows each dwelling's events in the tracer's
order: date, completion and departures before arrivals; on one date the
departure that empties the dwelling after those that leave others behind, the
filling arrival before those that join; then table order);
impossible sizes and ages.
persons (one year at a time): a person twice in one year (duplicate id), in two
dwellings at once, impossible ages (year - birth_year outside 0..120),
dwellings unknown to the dwellings table, unknown family_position codes.

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

from flyttkedja import store
from flyttkedja.io import to_arrow
from flyttkedja.schema import TENURES, SchemaError

MAX_AGE = 120
EXAMPLES = 5


@dataclass
class ValidationReport:
    """Result of :func:`validate`: one row per check (table, check, rows, example_rows)."""

    checks: list[dict] = field(default_factory=list)

    def add(self, table: str, check: str, frame: pl.DataFrame, bad: pl.Expr) -> None:
        """Count rows of ``frame`` (with a ``_row`` column) where ``bad`` holds."""
        hits = frame.lazy().filter(bad).select("_row")
        counted = hits.select(n=pl.len(), rows=pl.col("_row").sort().head(EXAMPLES).implode()).collect()
        self.checks.append(dict(table=table, check=check, rows=int(counted["n"][0]),
                                example_rows=counted["rows"][0].to_list()))

    @property
    def issues(self) -> list[dict]:
        return [c for c in self.checks if c["rows"]]

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def exit_code(self) -> int:
        """0 when clean, 1 when any check found rows."""
        return 0 if self.ok else 1

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.checks, schema={"table": pl.String, "check": pl.String, "rows": pl.Int64,
                                                 "example_rows": pl.List(pl.Int64)})

    def to_text(self) -> str:
        """Plain text: one line per check; example rows are row numbers from 0 in that table/file."""
        lines = []
        for c in self.checks:
            mark = "ok  " if not c["rows"] else "FAIL"
            rows = f"  e.g. rows {c['example_rows']}" if c["rows"] else ""
            lines.append(f"{mark} {c['table']}: {c['check']}: {c['rows']}{rows}")
        verdict = "clean" if self.ok else f"{len(self.issues)} check(s) found issues"
        return "\n".join(lines + [verdict])


def validate(
    register: str | os.PathLike | None = None,
    *,
    dwellings=None,
    moves=None,
    persons=None,
    columns: Mapping[str, str] | None = None,
) -> ValidationReport:
    """Data-quality report over a register directory or tables.

    Parameters
    ----------
    register : path, optional
        A register directory (``dwellings.parquet``, ``moves.parquet``,
        ``persons/``); tables it lacks are skipped.
    dwellings, moves : table or path, optional
        Override or supply the tables (canonical column names).
    persons : directory, file or table, optional
        PERSONS panel, read one year at a time.
    columns : mapping, optional
        Register names → canonical names for the person panel.

    Raises
    ------
    SchemaError, FileNotFoundError, ValueError
        When an input cannot be read (the CLI exits 2).
    """
    if register is not None:
        root = Path(register)
        if not root.is_dir():
            raise FileNotFoundError(f"register directory {root} not found")
        dwellings = dwellings if dwellings is not None else _maybe(store.register_file(root, "dwellings"))
        moves = moves if moves is not None else _maybe(store.register_file(root, "moves"))
        persons = persons if persons is not None else _maybe(store.persons_dir(root))
    report = ValidationReport()
    dw = _frame(dwellings, "dwellings") if dwellings is not None else None
    if dw is not None:
        _check_dwellings(report, dw)
    if moves is not None:
        _check_moves(report, _frame(moves, "moves"), dw)
    if persons is not None:
        _check_persons(report, persons, dw, columns)
    if not report.checks:
        raise FileNotFoundError("validate: no dwellings, moves or persons given")
    return report


def _maybe(path: Path):
    return path if path.exists() else None


def _frame(source, name: str) -> pl.DataFrame:
    return pl.from_arrow(to_arrow(source, name)).with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))


def _require(df: pl.DataFrame, name: str, cols: list[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise SchemaError(f"{name}: missing column(s) {missing}; present: {df.columns[1:]}")


def _check_dwellings(report: ValidationReport, dw: pl.DataFrame) -> None:
    _require(dw, "dwellings", ["dwelling_id", "tenure"])
    report.add("dwellings", "duplicate dwelling id", dw, pl.col("dwelling_id").is_duplicated())
    tenure = pl.col("tenure").cast(pl.String)
    report.add("dwellings", "dwelling without tenure", dw, tenure.is_null() | (tenure.str.strip_chars() == ""))
    report.add("dwellings", "unknown tenure code", dw, tenure.is_not_null() & ~tenure.is_in(list(TENURES))
               & (tenure.str.strip_chars() != ""))


def _check_moves(report: ValidationReport, mv: pl.DataFrame, dw: pl.DataFrame | None) -> None:
    _require(mv, "moves", ["household_id", "move_date", "from_dwelling", "to_dwelling", "origin",
                           "destination", "vacates", "fills"])
    mv = mv.with_columns(pl.col("from_dwelling", "to_dwelling").cast(pl.Int64),
                         pl.col("vacates", "fills").cast(pl.Boolean), pl.col("move_date").cast(pl.Date))
    f, t = pl.col("from_dwelling"), pl.col("to_dwelling")
    if dw is not None:
        known = dw["dwelling_id"].implode()
        report.add("moves", "move names an unknown dwelling", mv,
                   (f.is_not_null() & ~f.is_in(known)) | (t.is_not_null() & ~t.is_in(known)))
    report.add("moves", "origin is 'dwelling' but no from_dwelling, or the reverse", mv,
               (pl.col("origin") == "dwelling") != f.is_not_null())
    report.add("moves", "destination is 'dwelling' but no to_dwelling, or the reverse", mv,
               (pl.col("destination") == "dwelling") != t.is_not_null())
    report.add("moves", "vacates without a from_dwelling", mv, pl.col("vacates") & f.is_null())
    report.add("moves", "fills without a to_dwelling", mv, pl.col("fills") & t.is_null())
    report.add("moves", "household moves more than once on a day", mv,
               pl.struct("household_id", "move_date").is_duplicated())
    if "size" in mv.columns:
        bad = pl.col("size") < 1
        if "adults" in mv.columns:
            bad = bad | (pl.col("adults") > pl.col("size")) | (pl.col("adults") < 0)
        report.add("moves", "impossible size or adults", mv, bad)
    if "age_head" in mv.columns:
        report.add("moves", "impossible age of head", mv, (pl.col("age_head") < 0) | (pl.col("age_head") > MAX_AGE))
    _check_occupancy(report, mv, dw)


def _check_occupancy(report: ValidationReport, mv: pl.DataFrame, dw: pl.DataFrame | None) -> None:
    """Occupancy before each event from the previous event at the same dwelling.

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
        pl.concat([e.with_columns(pl.col("date").cast(pl.Date)) for e in events])
        .filter(pl.col("dwelling").is_not_null() & pl.col("date").is_not_null())
        .sort("dwelling", "date", "kind", "_row")
    )
    before = pl.col("empties").shift(1).over("dwelling")  # null: no earlier event known
    ev = ev.with_columns(empty_before=before)
    arrival, departure = pl.col("kind") >= 3, pl.col("kind").is_in([1, 2])
    report.add("moves", "fills=True into an occupied dwelling", ev,
               arrival & pl.col("fills") & (pl.col("empty_before") == False))  # noqa: E712
    report.add("moves", "fills=False into an empty dwelling", ev,
               arrival & ~pl.col("fills") & pl.col("empty_before"))
    report.add("moves", "departure from an empty dwelling", ev, departure & pl.col("empty_before"))


def _check_persons(report: ValidationReport, persons, dw: pl.DataFrame | None, columns) -> None:
    from flyttkedja.ingest._panel import open_panel  # the panel reader lives with ingestion

    checks = {
        "person twice in one year (duplicate id)": pl.col("person_id").is_duplicated(),
        "person in two dwellings at once": pl.col("dwelling_id").n_unique().over("person_id") > 1,
        f"impossible age (year - birth_year outside 0..{MAX_AGE})":
            ((pl.col("year") - pl.col("birth_year")) < 0) | ((pl.col("year") - pl.col("birth_year")) > MAX_AGE),
        # the reader maps known codes and Swedish names; what is left is unknown
        "unknown family_position code": pl.col("_given_family_position") & pl.col("family_position").is_null(),
    }
    if dw is not None:
        known = dw["dwelling_id"].implode()
        checks["person on an unknown dwelling"] = pl.col("dwelling_id").is_not_null() & ~pl.col("dwelling_id").is_in(known)
    for source in open_panel(persons, columns):
        frame = source.frame  # rows count from the start of the file (or table)
        if "_file_row" not in frame.collect_schema().names():
            frame = frame.with_row_index("_file_row")
        counted = frame.select(
            [pl.col("_file_row").cast(pl.Int64).filter(bad).sort().head(EXAMPLES).implode().alias(name)
             for name, bad in checks.items()]
            + [bad.sum().alias(f"n:{name}") for name, bad in checks.items()]
        ).collect(engine="streaming")
        for name in checks:
            report.checks.append(dict(table=source.label, check=name, rows=int(counted[f"n:{name}"][0]),
                                      example_rows=counted[name][0].to_list()))
