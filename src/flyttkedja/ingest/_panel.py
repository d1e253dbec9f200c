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
from flyttkedja.schema import FAMILY_POSITIONS, SchemaError, canonical_code

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
    years = frame.select(pl.col("year").unique().sort()).collect()["year"].drop_nulls().to_list()
    return [
        YearSource(y, f"{label} (year {y})", frame.filter(pl.col("year") == y)) for y in years
    ]


_SPOOL: list[tempfile.TemporaryDirectory] = []


def _spool_directory() -> str:
    """One temporary directory per process for spooled panel files, removed at exit."""
    if not _SPOOL:
        _SPOOL.append(tempfile.TemporaryDirectory(prefix="flyttkedja-spool-"))
    return _SPOOL[0].name


def check_year(source: YearSource) -> None:
    """Check one snapshot's content: types, nulls, duplicate person ids, its year.

    Raises :class:`SchemaError` naming the file, the column and example rows
    (row numbers inside that file or year, from 0).
    """
    frame = source.frame
    names = frame.collect_schema().names()
    problems: list[tuple[str, pl.Expr, str]] = []
    for name in INTEGER_COLUMNS:
        if name in names:
            problems.append((name, pl.col(f"_given_{name}") & pl.col(name).is_null(), "not an integer"))
    for name in NOT_NULL:
        problems.append((name, pl.col(name).is_null(), "null value"))
    problems.append(("family_position", pl.col("_given_family_position") & pl.col("family_position").is_null(),
                     f"unknown code (allowed: {', '.join(FAMILY_POSITIONS)})"))
    problems.append(("person_id", pl.col("person_id").is_duplicated(), "duplicate person id"))
    problems.append(("year", pl.col("year") != source.year, f"year differs from {source.year}"))
    counts = collect(frame.select([e.sum().alias(str(i)) for i, (_, e, _) in enumerate(problems)]), source.label)
    for i, (column, expr, what) in enumerate(problems):
        n = counts[str(i)][0]
        if n:
            numbered = frame if "_file_row" in names else frame.with_row_index("_file_row")
            rows = numbered.filter(expr).select("_file_row").head(5).collect()["_file_row"].to_list()
            raise SchemaError(f"{source.label}.{column}: {n} row(s) with {what}, e.g. rows {rows}")


def collect(frame: pl.LazyFrame, label: str) -> pl.DataFrame:
    """Collect with the streaming engine; a read error names ``label`` (file or year)."""
    try:
        return frame.collect(engine="streaming")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SchemaError(f"{label}: cannot read: {exc}") from None
