"""File readers behind :func:`flyttkedja.io.to_arrow`: the files a register environment delivers.

Parquet and Arrow IPC as before; SAS (``.sas7bdat``, XPORT ``.xpt``), Stata
(``.dta``) and SPSS (``.sav``/``.zsav``) through pyreadstat (ReadStat); CSV
(``.csv``, ``.csv.gz``, ``.tsv``) through pyarrow's streaming CSV reader. Every
reader yields Arrow tables of at most :data:`CHUNK_ROWS` rows with one fixed
schema, so a file larger than memory is read chunk by chunk
(:func:`iter_tables`; :func:`spool_parquet` turns such a file into a Parquet
file that polars scans lazily).

What the statistical formats need, and gets here:

* dates: a numeric column with a date format (SAS ``DATE9.``, ``YYMMDD10.``,
  ``E8601DA.`` ...; Stata ``%td``; SPSS ``DATE``/``ADATE`` ...) becomes ``date32``,
  counted from each format's own origin (SAS and Stata: days since 1960-01-01;
  SPSS: seconds since 1582-10-14) by ReadStat's format rules;
* text: these formats have no missing text value, only blanks: an empty string
  becomes null;
* numbers are doubles (SAS has no integers): the canonical integer columns are
  cast later (``schema.conform``, ingestion), refusing a value with a fraction;
* value labels (Stata/SPSS labels, SAS formats in a catalogue) are kept off the
  data — a code column stays a code — and are available from :func:`value_labels`.

CSV types are inferred over the whole file (a first pass reads every column as
text and finds the narrowest type each column's values all fit: int64, float64,
bool, ISO date, else text), so a column whose first rows are empty or integral
is not mistyped; empty fields are null.

Example
-------
>>> from flyttkedja._readers import iter_tables     # doctest: +SKIP
>>> sum(t.num_rows for t in iter_tables("mona/lisa_2019.sas7bdat", "persons"))   # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

CHUNK_ROWS = 1 << 20  # rows per chunk read from a SAS/Stata/SPSS/CSV file (~100 MB of doubles at 12 columns)

# file suffix -> reader kind (".csv.gz" is matched before ".gz")
KINDS: dict[str, str] = {
    ".parquet": "parquet", ".pq": "parquet",
    ".arrow": "ipc", ".feather": "ipc", ".ipc": "ipc",
    ".csv": "csv", ".csv.gz": "csv", ".tsv": "csv", ".tsv.gz": "csv",
    ".sas7bdat": "sas7bdat", ".xpt": "xport",
    ".dta": "stata",
    ".sav": "spss", ".zsav": "spss",
}
_STAT_KINDS = ("sas7bdat", "xport", "stata", "spss")
# ReadStat's storage types -> Arrow (for a chunk in which a column is all missing)
_READSTAT_TYPES = {"double": pa.float64(), "float": pa.float64(), "int8": pa.float64(), "int16": pa.float64(),
                   "int32": pa.float64(), "string": pa.string()}


def kind_of(path: str | os.PathLike) -> str | None:
    """The reader kind of ``path`` from its suffix (None: not a table file flyttkedja reads).

    >>> kind_of("lisa_2019.csv.gz"), kind_of("x.SAS7BDAT"), kind_of("notes.txt")
    ('csv', 'sas7bdat', None)
    """
    name = Path(path).name.lower()
    for suffix in sorted(KINDS, key=len, reverse=True):
        if name.endswith(suffix):
            return KINDS[suffix]
    return None


def is_table_file(path: str | os.PathLike) -> bool:
    """True for a file of a kind :func:`read_table` reads (hidden files excluded)."""
    return not Path(path).name.startswith(".") and kind_of(path) is not None


def read_table(path: str | os.PathLike, name: str = "table") -> pa.Table:
    """The whole file as one Arrow table (Parquet/IPC as before; others chunk by chunk)."""
    path = Path(path)
    kind = _kind_or_error(path, name)
    try:
        if kind == "ipc":
            return feather.read_table(path, memory_map=True)
        if kind == "parquet":
            return pq.read_table(path)
        chunks = list(iter_tables(path, name))
        return pa.concat_tables(chunks) if chunks else _empty(path, name)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{name}: cannot read {path}: {exc}") from None


def iter_tables(path: str | os.PathLike, name: str = "table", chunk_rows: int | None = None) -> Iterator[pa.Table]:
    """Arrow tables of at most ``chunk_rows`` rows (default :data:`CHUNK_ROWS`), one fixed schema,
    read one at a time."""
    path = Path(path)
    chunk_rows = chunk_rows or CHUNK_ROWS
    kind = _kind_or_error(path, name)
    if kind == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield pa.Table.from_batches([batch])
    elif kind == "ipc":
        table = feather.read_table(path, memory_map=True)
        for start in range(0, table.num_rows, chunk_rows):
            yield table.slice(start, chunk_rows)
    elif kind == "csv":
        yield from _csv_tables(path, name, chunk_rows)
    else:
        yield from _stat_tables(path, kind, name, chunk_rows)


def spool_parquet(path: str | os.PathLike, name: str, directory: str | os.PathLike | None = None) -> Path:
    """``path`` itself when it is Parquet; otherwise a Parquet copy written chunk by chunk
    into ``directory`` (default: a fresh temporary directory), for lazy scans."""
    path = Path(path)
    if _kind_or_error(path, name) == "parquet":
        return path
    directory = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="flyttkedja-spool-"))
    fd, name_ = tempfile.mkstemp(prefix=path.name.replace(".", "_") + ".", suffix=".parquet", dir=directory)
    os.close(fd)  # a fresh name: two inputs of one name (year=2019/part.sas7bdat ...) never collide
    out = Path(name_)
    writer = None
    try:
        for table in iter_tables(path, name):
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema, compression="zstd")
            writer.write_table(table)
        if writer is None:
            pq.write_table(_empty(path, name), out)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{name}: cannot read {path}: {exc}") from None
    finally:
        if writer is not None:
            writer.close()
    return out


def value_labels(path: str | os.PathLike) -> dict[str, dict]:
    """``{column: {code: label}}`` of a Stata/SPSS file (or a SAS file's formats); ``{}`` for other kinds.

    >>> value_labels("lisa_2019.dta")["Kon"]       # doctest: +SKIP
    {1.0: 'Man', 2.0: 'Kvinna'}
    """
    kind = kind_of(path)
    if kind not in _STAT_KINDS:
        return {}
    _, meta = _stat_reader(kind)(str(path), metadataonly=True)
    return {column: dict(labels) for column, labels in (meta.variable_value_labels or {}).items()}


# ------------------------------------------------------------------ SAS, Stata, SPSS
def _stat_reader(kind: str):
    try:
        import pyreadstat
    except ImportError:  # pragma: no cover - a dependency; a broken install says so plainly
        raise ImportError("reading SAS/Stata/SPSS files needs pyreadstat (pip install pyreadstat)") from None
    return {"sas7bdat": pyreadstat.read_sas7bdat, "xport": pyreadstat.read_xport,
            "stata": pyreadstat.read_dta, "spss": pyreadstat.read_sav}[kind]


def _stat_tables(path: Path, kind: str, name: str, chunk_rows: int) -> Iterator[pa.Table]:
    import pyreadstat

    read = _stat_reader(kind)
    schema = None
    try:
        chunks = pyreadstat.read_file_in_chunks(read, str(path), chunksize=chunk_rows, output_format="polars")
        for frame, meta in chunks:
            table = frame.to_arrow()
            if schema is None:
                schema = _stat_schema(table, meta)
            yield _stat_chunk(table, schema)
    except pyreadstat.ReadstatError as exc:
        raise ValueError(f"{name}: cannot read {path}: {exc}") from None


def _stat_schema(table: pa.Table, meta) -> pa.Schema:
    """The file's schema: the first chunk's types, ReadStat's storage type where a column is all missing."""
    fields = []
    for field in table.schema:
        t = field.type
        if pa.types.is_null(t):
            t = _READSTAT_TYPES.get(meta.readstat_variable_types.get(field.name, "double"), pa.float64())
        elif pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        elif pa.types.is_timestamp(t):
            t = pa.timestamp("us")
        fields.append(pa.field(field.name, t))
    return pa.schema(fields)


def _stat_chunk(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for field in schema:
        column = table.column(field.name).cast(field.type)
        if pa.types.is_string(field.type):  # blank = missing in these formats
            column = pc.if_else(pc.equal(pc.utf8_trim_whitespace(column), ""), pa.scalar(None, pa.string()), column)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


# ------------------------------------------------------------------ CSV
def _csv_options(path: Path) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions]:
    delimiter = "\t" if kind_of(path) == "csv" and ".tsv" in path.name.lower() else ","
    return pacsv.ReadOptions(block_size=16 << 20), pacsv.ParseOptions(delimiter=delimiter)


def _csv_tables(path: Path, name: str, chunk_rows: int) -> Iterator[pa.Table]:
    types = _csv_types(path, name)
    read, parse = _csv_options(path)
    convert = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True, true_values=_TRUE,
                                   false_values=_FALSE)
    try:
        with pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert) as reader:
            for batch in reader:
                table = pa.Table.from_batches([batch])
                for start in range(0, table.num_rows, chunk_rows):
                    yield table.slice(start, chunk_rows)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"{name}: cannot read {path}: {exc}") from None


_TRUE, _FALSE = ["true", "True", "TRUE"], ["false", "False", "FALSE"]
# candidate types, narrowest first; a column takes the first that every value of the file fits
_CANDIDATES = (pa.int64(), pa.float64(), pa.bool_(), pa.date32())


def _csv_types(path: Path, name: str) -> dict[str, pa.DataType]:
    """First pass: every column as text; the narrowest candidate type all its values cast to."""
    read, parse = _csv_options(path)
    convert = pacsv.ConvertOptions(default_column_type=pa.string(), strings_can_be_null=True)
    fits: dict[str, set] | None = None
    try:
        with pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert) as reader:
            for batch in reader:
                if fits is None:
                    fits = {c: set(range(len(_CANDIDATES))) for c in batch.schema.names}
                for column_name, column in zip(batch.schema.names, batch.columns):
                    fits[column_name] = {i for i in fits[column_name] if _casts(column, _CANDIDATES[i])}
    except pa.ArrowInvalid as exc:
        raise ValueError(f"{name}: cannot read {path}: {exc}") from None
    return {c: (_CANDIDATES[min(ok)] if ok else pa.string()) for c, ok in (fits or {}).items()}


def _casts(column: pa.Array, target: pa.DataType) -> bool:
    if pa.types.is_boolean(target):
        return pc.all(pc.is_in(column.drop_null(), value_set=pa.array(_TRUE + _FALSE))).as_py() in (True, None)
    if pa.types.is_integer(target) or pa.types.is_floating(target):
        # a code with a leading zero (municipality 0180, a DeSO code) is text, not a number
        if pc.any(pc.match_substring_regex(column, r"^[+-]?0[0-9]")).as_py():
            return False
    try:
        column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


# ------------------------------------------------------------------ helpers
def _kind_or_error(path: Path, name: str) -> str:
    """The reader kind; a file of unknown suffix is read as Parquet (as flyttkedja always did)."""
    if not path.exists():
        raise FileNotFoundError(f"{name}: no such file {path}")
    if path.is_dir():
        raise ValueError(f"{name}: {path} is a directory, expected a table file")
    return kind_of(path) or "parquet"


def _empty(path: Path, name: str) -> pa.Table:
    """An empty file's table: its columns, no rows."""
    kind = kind_of(path)
    if kind in _STAT_KINDS:
        _, meta = _stat_reader(kind)(str(path), metadataonly=True)
        return pa.table({c: pa.array([], _READSTAT_TYPES.get(meta.readstat_variable_types.get(c, "double"),
                                                              pa.float64())) for c in meta.column_names})
    return pa.table({c: pa.array([], t) for c, t in _csv_types(path, name).items()})
