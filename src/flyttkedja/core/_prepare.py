"""Validation and conversion of a register into the tracer's arrays (private).

Everything here runs before any kernel: bad input is refused with a
:class:`~flyttkedja.schema.SchemaError` naming table, column and example rows,
or repaired by a rule documented in ``docs/chains.md``. Numeric Arrow columns
reach numba without copies (their value buffers are viewed, not converted).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flyttkedja.core import _kernels as K
from flyttkedja import _codes
from flyttkedja._scratch import scratch
from flyttkedja.io import to_arrow
from flyttkedja.schema import CODE_LISTS, DATE_MAX, DATE_MIN, REQUIRED_COLUMNS, SchemaError, conform_codes, counted

MOVE_COLUMNS = REQUIRED_COLUMNS["moves"]
MAX_GAP_DAYS = 36_525  # a century: the kernels add it to int32 days
# Dense-id lookup tables are used when the id range is at most this many times the count.
_LOOKUP_SPAN = 8
_IDENTITY = np.empty(0, np.int32)  # map_ids' lookup for ids lo, lo + 1, ... in table order
_NO_ROWS = np.empty(0, np.int64)  # days_of, label_views: the rows in their own order
_ALL_VALID = np.empty(0, np.uint8)  # the validity bitmap of an array without nulls
_ALL_VALID.flags.writeable = False  # read-only like every bitmap view (one kernel specialisation)


@dataclass
class Prepared:
    """A validated register as flat arrays (dense dwelling index = rank of the id)."""

    moves: pa.Table
    dwellings: pa.Table
    dwelling_ids: np.ndarray      # int64, sorted: dense index → id
    dwelling_rows: np.ndarray | None  # int64: dense index → row in ``dwellings`` (None: the same; see table_rows)
    household: np.ndarray         # int64 per move (zero-copy view)
    mv_date: np.ndarray           # int32 days since 1970-01-01 (zero-copy view)
    mv_from: np.ndarray           # int32 dense index, -1 null
    mv_to: np.ndarray             # int32 dense index, -1 null
    mv_vacates: np.ndarray        # bool
    mv_fills: np.ndarray          # bool
    mv_origin: np.ndarray         # int8 position in ORIGINS
    dw_codes: dict                # int8 codes of the dwellings' code columns, per row (schema.CODE_LISTS order)
    dw_completed: np.ndarray      # int32 days, NO_DATE when null
    dw_demolished: np.ndarray     # int32 days, NO_DATE when null
    start: int                    # window, inclusive, days since 1970-01-01
    end: int
    max_gap_days: int
    max_length: int
    input_counts: dict            # rows of each broken "count" rule of schema.RULES (accepted, counted)

    def dense(self, dwelling_ids: np.ndarray) -> np.ndarray:
        """Dense index of each id; -1 for ids not in the dwellings table."""
        idx = np.searchsorted(self.dwelling_ids, dwelling_ids)
        idx = np.minimum(idx, max(len(self.dwelling_ids) - 1, 0))
        known = (self.dwelling_ids[idx] == dwelling_ids) if len(self.dwelling_ids) else np.zeros(len(dwelling_ids), bool)
        return np.where(known, idx, -1)

    def table_rows(self, dense: np.ndarray) -> np.ndarray:
        """The row in ``dwellings`` of each dense dwelling index."""
        return dense if self.dwelling_rows is None else self.dwelling_rows[dense]

    def window_dates(self) -> tuple[dt.date, dt.date]:
        epoch = dt.date(1970, 1, 1)
        return epoch + dt.timedelta(days=self.start), epoch + dt.timedelta(days=self.end)


# ------------------------------------------------------------------ arrow → numpy
def _array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.Array):
        return column
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def values(column: pa.ChunkedArray | pa.Array, dtype) -> np.ndarray:
    """The value buffer of a fixed-width column as a numpy view (no copy for one chunk; a file
    read in row groups is combined once: pass the combined array on to :func:`valid`)."""
    arr = _array(column)
    if pa.types.is_date32(arr.type):
        arr = arr.view(pa.int32())
    if len(arr) == 0:
        out = np.empty(0, dtype)
        out.flags.writeable = False  # as below: empty inputs must not add a mutable specialisation
        return out
    buf = arr.buffers()[1]
    out = np.frombuffer(buf, dtype=dtype, count=len(arr) + arr.offset)[arr.offset:]
    # read-only whatever the buffer (a file's is, one pyarrow built from numpy is not): one
    # kernel specialisation for both, not a second compile of each kernel (test time, fresh clone)
    out.flags.writeable = False
    return out


def valid(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if column.null_count == 0:
        return np.ones(len(column), bool)
    return _array(column).is_valid().to_numpy(zero_copy_only=False)


def bitmap(arr: pa.Array) -> np.ndarray:
    """An array's Arrow validity bitmap as uint8 (bit i + ``arr.offset``, LSB first, set for a
    valid row), zero-copy; empty when no row is null (the kernels then read no bitmap)."""
    if arr.null_count == 0:
        return _ALL_VALID
    bits = np.frombuffer(arr.buffers()[0], np.uint8)
    bits.flags.writeable = False  # as values(): one specialisation for mutable and immutable buffers
    return bits


def _dates(column: pa.ChunkedArray | None, n: int, rows: np.ndarray | None) -> np.ndarray:
    """int32 days of a date column (NO_DATE for null), in dense order (``rows``; None: the
    table's own order), as one writable array."""
    if column is None:
        return np.full(n, K.NO_DATE, np.int32)
    arr = _array(column)
    out = scratch(n, np.int32)  # writable: the kernels take writable day arrays (one specialisation)
    K.days_of(values(arr, np.int32), bitmap(arr), arr.offset, _NO_ROWS if rows is None else rows, K.NO_DATE, out)
    return out


def _bools(column: pa.ChunkedArray) -> np.ndarray:
    """A boolean column without nulls (the rules refused them) as numpy booleans, unpacked
    from its bitmap by one parallel pass (:func:`~flyttkedja.core._kernels.bools_of`)."""
    arr = _array(column)  # a bitmap per chunk: combining copies 1/8 byte per row
    out = scratch(len(arr), np.bool_)
    if len(arr):
        bits = np.frombuffer(arr.buffers()[1], np.uint8)
        K.bools_of(_codes.read_only(bits), arr.offset, out)
    return out


def to_days(value) -> int:
    """A date (``datetime.date``, ISO string, numpy datetime64) → days since 1970-01-01."""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return int(np.datetime64(value, "D").astype(np.int64))


# ---------------------------------------------------------------------- checks
def _refuse(table: str, column: str, problem: str, mask: np.ndarray) -> None:
    rows = np.flatnonzero(mask)
    if len(rows):
        raise SchemaError(f"{table}.{column}: {problem} ({len(rows)} row(s)), e.g. rows {rows[:5].tolist()}")


def _dense_lookup(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, object]:
    """Sorted ids, dense index → row (None: row i holds dense dwelling i), and an id → dense
    mapper ``(lookup, lo)`` for :func:`~flyttkedja.core._kernels.map_ids` (None: binary
    search); refuses duplicates.

    A table sorted by compact ids ``lo, lo + 1, ...`` (a register's running numbers, in
    key order) takes no table at all: dense = id - lo, the ids are their own sorted copy."""
    n = len(ids)
    if n == 0:
        empty = ids.copy()
        empty.flags.writeable = False
        return empty, np.empty(0, np.int64), None
    lo, hi = int(ids.min()), int(ids.max())
    if hi - lo + 1 == n and K.is_identity(ids, np.int64(lo)):
        return ids, None, (_IDENTITY, lo)
    if hi - lo + 1 <= _LOOKUP_SPAN * n + (1 << 20):
        lookup, rows, sorted_ids, dup = K.dense_lookup(ids, np.int64(lo), hi - lo + 1)
        if dup < 0:
            sorted_ids.flags.writeable = False  # as the identity path's view: one kernel specialisation
            return sorted_ids, rows, (lookup, lo)
        counts = np.bincount(ids - lo, minlength=hi - lo + 1)  # the refusal names every repeated row
        _refuse("dwellings", "dwelling_id", "duplicate id", counts[ids - lo] > 1)
        rank = np.cumsum(counts, dtype=np.int64) - 1
        lookup = np.where(counts > 0, rank, -1).astype(np.int32)
        rows = np.empty(n, np.int64)
        rows[lookup[ids - lo]] = np.arange(n)
        sorted_ids = ids[rows]
        sorted_ids.flags.writeable = False
        return sorted_ids, rows, (lookup, lo)
    rows = np.argsort(ids, kind="stable")
    sorted_ids = ids[rows]
    dup = np.zeros(n, bool)
    dup[rows[1:]] = sorted_ids[1:] == sorted_ids[:-1]
    _refuse("dwellings", "dwelling_id", "duplicate id", dup)
    sorted_ids.flags.writeable = False
    return sorted_ids, rows, None


def _map(column: pa.ChunkedArray, sorted_ids: np.ndarray, lookup, completed: np.ndarray,
         dated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense index of each move's dwelling (-1 null, -2 unknown) and that dwelling's
    completion day (NO_DATE for none), in one pass when the ids are compact (``dated``:
    the dwellings with a completion day, one bit each)."""
    n = len(column)
    if n == 0:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    arr = _array(column)  # one parallel pass over the combined chunks: a region per row-group chunk
    raw = values(arr, np.int64)  # costs more than the copy (78 chunks: 2.6x the CPU, workers spinning)
    if lookup is not None:
        dense, day = scratch(n, np.int32), scratch(n, np.int32)
        K.map_ids(raw, bitmap(arr), arr.offset, lookup[0], np.int64(lookup[1]),
                  len(sorted_ids), completed, dated, K.NO_DATE, dense, day)
        return dense, day
    ok = valid(arr)
    idx = np.searchsorted(sorted_ids, raw)
    idx = np.minimum(idx, max(len(sorted_ids) - 1, 0))
    known = sorted_ids[idx] == raw if len(sorted_ids) else np.zeros(len(raw), bool)
    dense = np.where(ok, np.where(known, idx, -2), -1).astype(np.int32)
    return dense, K.gather_days(completed, dense, K.NO_DATE)


def _bits(values: np.ndarray, lo: int) -> tuple[pa.Buffer, int]:
    """An Arrow bitmap of ``values >= lo`` (one kernel pass) and the number of rows below."""
    bits = scratch((len(values) + 7) // 8, np.uint8)
    below = _codes.bits_at_least(values, lo, bits)
    return pa.py_buffer(bits), int(below)


def _date_column(days: np.ndarray) -> pa.Array:
    """int32 days (NO_DATE for none) as a date32 column with nulls, for the rules: the days'
    buffer itself with a validity bitmap (no cast, no copy of the values)."""
    bitmap, nulls = _bits(days, K.NO_DATE + 1)
    return pa.Array.from_buffers(pa.date32(), len(days), [bitmap if nulls else None, pa.py_buffer(days)])


def _flags(values: np.ndarray, lo: int) -> pa.Array:
    """``values >= lo`` as an Arrow boolean column (a bitmap: polars takes it without a copy,
    where a numpy bool column is packed again onto fresh pages)."""
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, _bits(values, lo)[0]])


def _derived(mv_from, mv_to, from_completed, to_completed, twice, elsewhere) -> dict:
    """The derived columns of schema.DERIVED that the register-scope rules on moves read,
    from the dense dwelling index (the tracer's own lookups, no joins)."""
    return {"_from_known": _flags(mv_from, -1), "_to_known": _flags(mv_to, -1),
            "_from_completed": _date_column(from_completed), "_to_completed": _date_column(to_completed),
            "_twice": twice, "_elsewhere": elsewhere}


def _dense_households(household: np.ndarray) -> tuple[np.ndarray, int]:
    """Household ids → 0..k-1 (a lookup table when the ids are compact, else a sort)."""
    if len(household) == 0:
        return np.empty(0, np.int64), 0
    lo, hi = int(household.min()), int(household.max())
    if hi - lo + 1 <= _LOOKUP_SPAN * len(household) + (1 << 20):
        dense, k = K.dense_households(household, np.int64(lo), hi - lo + 1)
        return dense, int(k)
    unique, inverse = np.unique(household, return_inverse=True)
    return inverse.astype(np.int32), len(unique)


def household_conflicts(household, day, mv_from, mv_to) -> tuple[pa.Array, pa.Array]:
    """Per move, whether it conflicts with the earlier move of its household: on the same date
    (``twice``), or leaving a dwelling other than the one that move entered (``elsewhere``),
    as Arrow boolean columns (the register rules read them as they are).

    Tables in date order with compact household ids take one pass that writes the two
    bitmaps (:func:`~flyttkedja.core._kernels.household_conflicts_in_order`); others are
    grouped by household with a counting sort first."""
    n = len(household)
    if n >= 2:
        lo, hi = int(household.min()), int(household.max())
        if hi - lo + 1 <= _LOOKUP_SPAN * n + (1 << 20):
            twice, elsewhere = (scratch((n + 7) // 8, np.uint8, zero=True) for _ in range(2))
            if K.household_conflicts_in_order(household, np.int64(lo), scratch(hi - lo + 1, np.int64), day,
                                              mv_from, mv_to, twice, elsewhere):
                return tuple(pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(b)]) for b in (twice, elsewhere))
        dense, k = _dense_households(household)
        start, rows = K.household_order(dense, k, day)
        earlier_same_day, earlier_elsewhere = K.household_conflicts(start, rows, day, mv_from, mv_to)
        return pa.array(earlier_same_day >= 0), pa.array(earlier_elsewhere >= 0)
    return pa.array(np.zeros(n, bool)), pa.array(np.zeros(n, bool))


def read(source, name: str) -> pa.Table:
    """A table-like input as Arrow; a Parquet file with its string code columns read as
    dictionaries (Parquet stores them so: no string per row is built, and the codes are
    matched on the dictionary; the ChainSet decodes them on first use)."""
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() in (".parquet", ".pq") \
            and Path(source).is_file():
        try:
            schema = pq.read_schema(source)
            coded = [f.name for f in schema if f.name in CODE_LISTS and pa.types.is_string(f.type)]
            return pq.read_table(source, read_dictionary=coded)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValueError(f"{name}: cannot read {source}: {exc}") from None
    return to_arrow(source, name)


def _require(table: pa.Table, name: str, columns) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise SchemaError(f"{name}: missing column(s) {missing}; present: {table.column_names}")


# ------------------------------------------------------------------------ main
def prepare(moves, dwellings, *, window=None, max_gap_days: int = 365, max_length: int = 1000,
            check_households: bool = True) -> Prepared:
    """Validate and convert ``moves`` and ``dwellings`` (any table-like input)."""
    if not 0 <= int(max_gap_days) <= MAX_GAP_DAYS:
        raise ValueError(f"max_gap_days must be in 0..{MAX_GAP_DAYS} (days), got {max_gap_days}")
    if not 1 <= int(max_length) < 2**31:
        raise ValueError(f"max_length must be in 1..{2**31 - 1}, got {max_length}")
    mv = read(moves, "moves")
    dw = read(dwellings, "dwellings")
    _require(mv, "moves", MOVE_COLUMNS)
    _require(dw, "dwellings", ("dwelling_id",))
    # the dwellings' rules of schema.RULES (types, nulls, codes, ranges, dates) refuse here ...
    dw, dw_codes, dw_found = conform_codes(dw, "dwellings", partial=True, check_unique=False, keep_dictionary=True)
    sorted_ids, rows, lookup = _dense_lookup(values(dw.column("dwelling_id"), np.int64))
    completed, demolished = (_dates(dw.column(c) if c in dw.column_names else None, len(sorted_ids), rows)
                             for c in ("completed", "demolished"))
    dense: dict[str, np.ndarray] = {}
    dated = np.packbits(completed != K.NO_DATE, bitorder="little")  # in cache: most dwellings have none

    def derive(conformed: pa.Table) -> dict:
        """The register rules' columns from the tracer's dense index (dwellings known,
        completions, households), kept for the kernels."""
        dense["from"], from_completed = _map(conformed.column("from_dwelling"), sorted_ids, lookup, completed, dated)
        dense["to"], to_completed = _map(conformed.column("to_dwelling"), sorted_ids, lookup, completed, dated)
        dense["household"] = values(conformed.column("household_id"), np.int64)
        dense["day"] = values(conformed.column("move_date"), np.int32)
        none = pa.array(np.zeros(len(dense["day"]), bool))
        twice, elsewhere = (household_conflicts(dense["household"], dense["day"], dense["from"], dense["to"])
                            if check_households else (none, none))
        return _derived(dense["from"], dense["to"], from_completed, to_completed, twice, elsewhere)

    # ... and the moves' table and register rules in one fused query (schema.inspect)
    # (codes of origin for the kernels; a column no rule reads row by row, household_type, none)
    mv, mv_codes, mv_found = conform_codes(mv, "moves", partial=True, derive=derive, keep_dictionary=True,
                                           codes_of=("origin",))
    mv_from, mv_to, household, day = dense["from"], dense["to"], dense["household"], dense["day"]
    vacates, fills = _bools(mv.column("vacates")), _bools(mv.column("fills"))
    start, end = _window(window, day, completed)
    return Prepared(mv, dw, sorted_ids, rows, household, day, mv_from, mv_to, vacates, fills,
                    mv_codes["origin"], dw_codes, completed, demolished, start, end, int(max_gap_days), int(max_length),
                    counted(mv_found + dw_found))


def _window(window, day: np.ndarray, completed: np.ndarray) -> tuple[int, int]:
    """Default window: earliest to latest move date (completion dates when there are no moves)."""
    if window is not None:
        try:
            start, end = (to_days(w) for w in window)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"window: expected two ISO dates (start, end), got {window!r}: {exc}") from None
        if end < start:
            raise ValueError(f"window ends before it starts: {window}")
        lo, hi = to_days(DATE_MIN), to_days(DATE_MAX)
        if start < lo or end > hi:
            raise ValueError(f"window {window}: outside {DATE_MIN}..{DATE_MAX}")
        return start, end
    known = day if len(day) else completed[completed != K.NO_DATE]
    if len(known) == 0:
        return 0, 0
    return int(known.min()), int(known.max())
