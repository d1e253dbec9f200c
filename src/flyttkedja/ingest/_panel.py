"""Opening a person panel (yearly snapshots) as one polars lazy frame per year.

A panel may be a directory of table files (one per year, the year in the file
name, e.g. ``persons/persons_2019.parquet``, ``lisa_2019.sas7bdat``, or hive style
``year=2019/``), one file holding every year, or an in-memory table (pyarrow,
polars, pandas). Files may be of any kind :func:`flyttkedja.io.to_arrow` reads
(Parquet, Arrow IPC, CSV, SAS, Stata, SPSS); all but Parquet are first copied
chunk by chunk to a temporary Parquet file (:func:`flyttkedja.io.spool_parquet`),
so a file larger than memory is never held whole. Each year becomes a :class:`YearSource`: a lazy frame with the
canonical column names and types, so that only one pair of years is ever read
at a time. Checks that need the data (nulls, duplicate ids, wrong years) run
per year in :func:`check_year`, before any output is written.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from flyttkedja import io
from flyttkedja.io import to_arrow
from flyttkedja.schema import FAMILY_POSITIONS, Finding, Rule, SchemaError, canonical_code, evaluate, refuse, rules

# Columns from_snapshots needs; household_id (labels only) and family_position
# (head, partner, children; docs/ingest.md) are optional.
REQUIRED: tuple[str, ...] = ("person_id", "year", "dwelling_id", "birth_year", "born_abroad", "income")
OPTIONAL: tuple[str, ...] = ("household_id", "family_position")
INTEGER_COLUMNS: dict[str, pl.DataType] = {
    "person_id": pl.Int64,
    "year": pl.Int32,
    "dwelling_id": pl.Int64,
    "household_id": pl.Int64,
    "birth_year": pl.Int32,
    "income": pl.Int64,
}
NOT_NULL: tuple[str, ...] = ("person_id", "year", "birth_year", "born_abroad", "income")
# Values of a text country-of-birth column (FodLand) that mean "born in Sweden".
SWEDEN: tuple[str, ...] = ("sverige", "sweden", "se", "swe")
_YEAR_IN_NAME = re.compile(r"(?:^|[^0-9])((?:18|19|20|21)[0-9]{2})(?:[^0-9]|$)")


@dataclass(frozen=True)
class YearSource:
    """One snapshot year: where it comes from (for messages) and its lazy frame."""

    year: int
    label: str
    frame: pl.LazyFrame


def _canonical(frame: pl.LazyFrame, label: str, columns: Mapping[str, str] | None) -> pl.LazyFrame:
    """Rename register names to canonical ones, check presence, cast types (lazily)."""
    if columns:
        frame = frame.rename(io.renames(frame.collect_schema().names(), dict(columns)))
    schema = frame.collect_schema()
    missing = [c for c in REQUIRED if c not in schema]
    if missing:
        hint = " (map your register's names with columns={...}; see docs/ingest.md)"
        raise SchemaError(f"{label}: missing column(s) {missing}; present: {schema.names()}{hint}")
    exprs = []
    for name, dtype in INTEGER_COLUMNS.items():
        if name not in schema:
            continue
        kind = schema[name]
        if not (kind.is_integer() or kind.is_float() or kind == pl.String or kind == pl.Null):
            raise SchemaError(f"{label}.{name}: expected integers, got {kind}")
        exprs.append(_integers(pl.col(name), kind, dtype).alias(name))
        exprs.append(pl.col(name).is_not_null().alias(f"_given_{name}"))
    exprs.append(_born_abroad(schema["born_abroad"], label).alias("born_abroad"))
    position = pl.col("family_position") if "family_position" in schema else pl.lit(None, pl.String)
    exprs.append(_family_position(position).alias("family_position"))
    exprs.append(position.is_not_null().alias("_given_family_position"))
    if "_file_row" in schema:
        exprs.append(pl.col("_file_row"))
    return frame.select(exprs)


def _integers(col: pl.Expr, kind: pl.DataType, dtype: pl.DataType) -> pl.Expr:
    """Cast to ``dtype``; a non-integer (text, or a number with a fraction, as SAS stores
    every number as a double) becomes null and is reported by :func:`check_year`."""
    if kind.is_float():
        return pl.when(col == col.floor()).then(col.cast(dtype, strict=False))
    return col.cast(dtype, strict=False)


def _born_abroad(dtype: pl.DataType, label: str) -> pl.Expr:
    """born_abroad as bool: a bool, 0/1 (also as doubles), or a country of birth (Sverige/SE = False)."""
    col = pl.col("born_abroad")
    if dtype == pl.Boolean:
        return col
    if dtype.is_integer() or dtype.is_float():
        return col != 0
    if dtype == pl.String:
        folded = col.str.strip_chars().str.to_lowercase()
        return pl.when(col.is_null()).then(None).otherwise(~folded.is_in(list(SWEDEN))).alias("born_abroad")
    raise SchemaError(f"{label}.born_abroad: expected bool, 0/1 or a country of birth, got {dtype}")


def _family_position(col: pl.Expr) -> pl.Expr:
    """family_position as a canonical code (schema.FAMILY_POSITIONS); Swedish names and
    any case accepted (as ``schema.conform`` does); unknown codes become null and are
    reported by :func:`check_year`."""
    # a numeric code stored as a double (SAS, Stata, SPSS) is read as its integer, 1.0 -> "1"
    text = pl.when(col.cast(pl.Float64, strict=False) == col.cast(pl.Float64, strict=False).floor()) \
        .then(col.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False).cast(pl.String)) \
        .otherwise(col.cast(pl.String))
    return text.map_batches(_positions, return_dtype=pl.String, is_elementwise=True)


def _positions(values: pl.Series) -> pl.Series:
    # fold each distinct value once per batch: a panel has a handful of codes in millions of rows
    mapping = {v: canonical_code("family_position", v) for v in values.drop_nulls().unique().to_list()}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


def open_panel(persons, columns: Mapping[str, str] | None = None) -> list[YearSource]:
    """The panel's snapshot years in order, each as a canonical lazy frame.

    Raises :class:`SchemaError` naming the file for unreadable files, missing
    columns, wrong types, or a year missing between the first and the last.
    """
    if isinstance(persons, (str, os.PathLike)) and Path(persons).is_dir():
        sources = _directory_sources(Path(persons), columns)
    else:
        sources = _frame_sources(persons, columns)
    if not sources:
        raise SchemaError(f"persons: no snapshot years found in {persons!r}")
    years = [s.year for s in sources]
    gaps = sorted(set(range(years[0], years[-1] + 1)) - set(years))
    if gaps:
        raise SchemaError(f"persons: snapshot year(s) {gaps} missing between {years[0]} and {years[-1]}")
    return sources


def _directory_sources(directory: Path, columns) -> list[YearSource]:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and io.is_table_file(p))
    by_year: dict[int, Path] = {}
    for path in files:
        found = _YEAR_IN_NAME.findall(str(path.relative_to(directory)))
        if not found:
            raise SchemaError(f"{path}: no year in the file name (expected e.g. persons_2019.parquet, lisa2019.sas7bdat)")
        year = int(found[-1])
        if year in by_year:
            raise SchemaError(f"persons: year {year} in two files: {by_year[year]} and {path}")
        by_year[year] = path
    sources = []
    for year in sorted(by_year):
        path = by_year[year]
        frame = _scan(path).with_row_index("_file_row")  # row order: the tie-break of last resort
        sources.append(YearSource(year, str(path), _canonical(frame, str(path), columns)))
    return sources


def _scan(path: Path) -> pl.LazyFrame:
    """Lazy scan of one file (any kind, spooled to Parquet first); a truncated or corrupt
    Parquet footer fails here, before any work."""
    if not path.exists():
        raise FileNotFoundError(f"persons: no such file {path}")
    if io.kind_of(path) not in (None, "parquet"):
        try:
            path = io.spool_parquet(path, str(path), _spool_directory())
        except ValueError as exc:
            raise SchemaError(str(exc)) from None
    try:
        pq.read_schema(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
        raise SchemaError(f"{path}: not a readable Parquet file: {exc}") from None
    return pl.scan_parquet(path)


def _frame_sources(persons, columns) -> list[YearSource]:
    if isinstance(persons, pl.LazyFrame):
        frame, label = persons, "persons"
    elif isinstance(persons, pl.DataFrame):
        frame, label = persons.lazy(), "persons"
    elif isinstance(persons, (str, os.PathLike)) and Path(persons).is_file():
        frame, label = _scan(Path(persons)), str(persons)  # lazily: one year at a time
    else:
        label = str(persons) if isinstance(persons, (str, os.PathLike)) else "persons"
        try:
            frame = pl.from_arrow(to_arrow(persons, "persons")).lazy()
        except ValueError as exc:
            raise SchemaError(str(exc)) from None
    # row numbers in messages count from the start of the file/table, not of the year
    frame = _canonical(frame.with_row_index("_file_row"), label, columns)
    years = frame.select(pl.col("year").unique().sort()).collect()["year"].to_list()
    if None in years:  # rows of no year would belong to no snapshot: refused, not dropped
        rows = frame.filter(pl.col("year").is_null()).select("_file_row").head(5).collect()["_file_row"].to_list()
        raise SchemaError(f"{label}.year: null year in some rows (each row is one person in one year), "
                          f"e.g. rows {rows}")
    return [
        YearSource(y, f"{label} (year {y})", frame.filter(pl.col("year") == y)) for y in years
    ]


_SPOOL: list[tempfile.TemporaryDirectory] = []


def _spool_directory() -> str:
    """One temporary directory per process for spooled panel files, removed at exit."""
    if not _SPOOL:
        _SPOOL.append(tempfile.TemporaryDirectory(prefix="flyttkedja-spool-"))
    return _SPOOL[0].name


def _panel_rules(year: int) -> list[Rule]:
    """What the reader itself can get wrong (values that are not integers, unknown family
    positions, a file's rows of another year), checked before the schema's rules on persons."""
    out = [Rule("persons", name, pl.col(f"_given_{name}") & pl.col(name).is_null(), "not an integer")
           for name in INTEGER_COLUMNS]
    out.append(Rule("persons", "family_position", pl.col("_given_family_position") & pl.col("family_position").is_null(),
                    f"unknown code (allowed: {', '.join(FAMILY_POSITIONS)})"))
    out.append(Rule("persons", "year", pl.col("year") != year, f"year differs from {year}"))
    return out


def year_findings(source: YearSource, dwelling_ids: pl.Series | None = None) -> list[Finding]:
    """Every rule on one snapshot year (schema.RULES on persons, plus the reader's own), as
    findings with row numbers inside that file or year, from 0; ``dwelling_ids`` adds the
    (counted) check that persons live on known dwellings."""
    frame = source.frame
    if "_file_row" not in frame.collect_schema().names():
        frame = frame.with_row_index("_file_row")
    todo = _panel_rules(source.year) + rules("persons", scope="table")
    if dwelling_ids is not None:
        frame = frame.with_columns(_dwelling_known=pl.when(pl.col("dwelling_id").is_not_null())
                                   .then(pl.col("dwelling_id").is_in(dwelling_ids.implode())))
        todo += rules("persons", scope="register")
    return evaluate(todo, frame, row="_file_row", label=source.label)


def check_year(source: YearSource) -> None:
    """Check one snapshot's content against :func:`year_findings`' rules.

    Raises :class:`SchemaError` naming the file, the column and example rows
    (row numbers inside that file or year, from 0).
    """
    refuse(year_findings(source))


def collect(frame: pl.LazyFrame, label: str) -> pl.DataFrame:
    """Collect with the streaming engine; a read error names ``label`` (file or year)."""
    try:
        return frame.collect(engine="streaming")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SchemaError(f"{label}: cannot read: {exc}") from None
