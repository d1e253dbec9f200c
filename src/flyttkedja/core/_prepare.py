"""Validation and conversion of a register into the tracer's arrays (private).

Everything here runs before any kernel: bad input is refused with a
:class:`~flyttkedja.schema.SchemaError` naming table, column and example rows,
or repaired by a rule documented in ``docs/chains.md``. Numeric Arrow columns
reach numba without copies (their value buffers are viewed, not converted).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from flyttkedja.core import _kernels as K
from flyttkedja.io import to_arrow
from flyttkedja.schema import DESTINATIONS, ORIGINS, SchemaError, codes, conform

MOVE_COLUMNS = ("household_id", "move_date", "from_dwelling", "to_dwelling",
                "origin", "destination", "vacates", "fills")
# Dense-id lookup tables are used when the id range is at most this many times the count.
_LOOKUP_SPAN = 8


@dataclass
class Prepared:
    """A validated register as flat arrays (dense dwelling index = rank of the id)."""

    moves: pa.Table
    dwellings: pa.Table
    dwelling_ids: np.ndarray      # int64, sorted: dense index → id
    dwelling_rows: np.ndarray     # int64: dense index → row in ``dwellings``
    household: np.ndarray         # int64 per move (zero-copy view)
    mv_date: np.ndarray           # int32 days since 1970-01-01 (zero-copy view)
    mv_from: np.ndarray           # int32 dense index, -1 null
    mv_to: np.ndarray             # int32 dense index, -1 null
    mv_vacates: np.ndarray        # bool
    mv_fills: np.ndarray          # bool
    mv_origin: np.ndarray         # int8 position in ORIGINS
    dw_completed: np.ndarray      # int32 days, NO_DATE when null
    dw_demolished: np.ndarray     # int32 days, NO_DATE when null
    start: int                    # window, inclusive, days since 1970-01-01
    end: int
    max_gap_days: int
    max_length: int

    def dense(self, dwelling_ids: np.ndarray) -> np.ndarray:
        """Dense index of each id; -1 for ids not in the dwellings table."""
        idx = np.searchsorted(self.dwelling_ids, dwelling_ids)
        idx = np.minimum(idx, max(len(self.dwelling_ids) - 1, 0))
        known = (self.dwelling_ids[idx] == dwelling_ids) if len(self.dwelling_ids) else np.zeros(len(dwelling_ids), bool)
        return np.where(known, idx, -1)

    def window_dates(self) -> tuple[dt.date, dt.date]:
        epoch = dt.date(1970, 1, 1)
        return epoch + dt.timedelta(days=self.start), epoch + dt.timedelta(days=self.end)


# ------------------------------------------------------------------ arrow → numpy
def _array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def values(column: pa.ChunkedArray, dtype) -> np.ndarray:
    """The value buffer of a fixed-width column as a numpy view (no copy)."""
    arr = _array(column)
    if pa.types.is_date32(arr.type):
        arr = arr.view(pa.int32())
    if len(arr) == 0:
        return np.empty(0, dtype)
    buf = arr.buffers()[1]
    return np.frombuffer(buf, dtype=dtype, count=len(arr) + arr.offset)[arr.offset:]


def valid(column: pa.ChunkedArray) -> np.ndarray:
    if column.null_count == 0:
        return np.ones(len(column), bool)
    return _array(column).is_valid().to_numpy(zero_copy_only=False)


def _dates(column: pa.ChunkedArray | None, n: int) -> np.ndarray:
    if column is None:
        return np.full(n, K.NO_DATE, np.int32)
    return np.where(valid(column), values(column, np.int32), K.NO_DATE).astype(np.int32)


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


def _dense_lookup(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, object]:
    """Sorted ids, dense index → row, and an id → dense mapper; refuses duplicates."""
    n = len(ids)
    if n == 0:
        return ids.copy(), np.empty(0, np.int64), None
    lo, hi = int(ids.min()), int(ids.max())
    if hi - lo + 1 <= _LOOKUP_SPAN * n + (1 << 20):
        counts = np.bincount(ids - lo, minlength=hi - lo + 1)
        _refuse("dwellings", "dwelling_id", "duplicate id", counts[ids - lo] > 1)
        rank = np.cumsum(counts, dtype=np.int64) - 1
        lookup = np.where(counts > 0, rank, -1).astype(np.int32)
        rows = np.empty(n, np.int64)
        rows[lookup[ids - lo]] = np.arange(n)
        return ids[rows], rows, (lookup, lo)
    rows = np.argsort(ids, kind="stable")
    sorted_ids = ids[rows]
    dup = np.zeros(n, bool)
    dup[rows[1:]] = sorted_ids[1:] == sorted_ids[:-1]
    _refuse("dwellings", "dwelling_id", "duplicate id", dup)
    return sorted_ids, rows, None


def _map(column: pa.ChunkedArray, sorted_ids: np.ndarray, lookup) -> np.ndarray:
    raw, ok = values(column, np.int64), valid(column)
    if len(raw) == 0:
        return np.empty(0, np.int32)
    if lookup is not None:
        return K.map_ids(raw, ok, lookup[0], np.int64(lookup[1]))
    idx = np.searchsorted(sorted_ids, raw)
    idx = np.minimum(idx, max(len(sorted_ids) - 1, 0))
    known = sorted_ids[idx] == raw if len(sorted_ids) else np.zeros(len(raw), bool)
    return np.where(ok, np.where(known, idx, -2), -1).astype(np.int32)


def _check_flags(origin, destination, mv_from, mv_to, vacates, fills) -> None:
    """Briefing item 6: flags consistent with the dwellings named."""
    _refuse("moves", "from_dwelling", "dwelling id not in dwellings.dwelling_id", mv_from == -2)
    _refuse("moves", "to_dwelling", "dwelling id not in dwellings.dwelling_id", mv_to == -2)
    _refuse("moves", "origin", "origin is 'dwelling' iff from_dwelling is given; violated",
            (origin == 0) != (mv_from >= 0))
    _refuse("moves", "destination", "destination is 'dwelling' iff to_dwelling is given; violated",
            (destination == 0) != (mv_to >= 0))
    _refuse("moves", "vacates", "vacates is true but from_dwelling is null", vacates & (mv_from < 0))
    _refuse("moves", "fills", "fills is true but to_dwelling is null", fills & (mv_to < 0))


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


def _check_households(household, day, mv_from, mv_to) -> None:
    """A household moves at most once a day and leaves only the dwelling it last entered."""
    if len(household) < 2:
        return
    dense, k = _dense_households(household)
    start, rows = K.household_order(dense, k, day)
    twice, elsewhere = K.household_conflicts(start, rows, day, mv_from, mv_to)
    for found, column, problem in (
        (twice, "move_date", "household(s) move twice on one day"),
        (elsewhere, "from_dwelling", "move(s) leave a dwelling other than the one the household last "
                                     "entered (a household in two dwellings at once)"),
    ):
        bad = np.flatnonzero(found >= 0)
        if len(bad):
            pairs = sorted((int(found[r]), int(r)) for r in bad)[:3]
            raise SchemaError(f"moves.{column}: {len(bad)} {problem}, e.g. rows {pairs}; see docs/chains.md")


def _require(table: pa.Table, name: str, columns) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise SchemaError(f"{name}: missing column(s) {missing}; present: {table.column_names}")


# ------------------------------------------------------------------------ main
def prepare(moves, dwellings, *, window=None, max_gap_days: int = 365, max_length: int = 1000,
            check_households: bool = True) -> Prepared:
    """Validate and convert ``moves`` and ``dwellings`` (any table-like input)."""
    if int(max_gap_days) < 0:
        raise ValueError(f"max_gap_days must be >= 0, got {max_gap_days}")
    if int(max_length) < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    mv = to_arrow(moves, "moves")
    dw = to_arrow(dwellings, "dwellings")
    _require(mv, "moves", MOVE_COLUMNS)
    _require(dw, "dwellings", ("dwelling_id",))
    mv = conform(mv, "moves", partial=True)
    dw = conform(dw, "dwellings", partial=True, check_unique=False)
    sorted_ids, rows, lookup = _dense_lookup(values(dw.column("dwelling_id"), np.int64))
    mv_from = _map(mv.column("from_dwelling"), sorted_ids, lookup)
    mv_to = _map(mv.column("to_dwelling"), sorted_ids, lookup)
    origin = codes(mv.column("origin"), ORIGINS)
    vacates = mv.column("vacates").to_numpy()
    fills = mv.column("fills").to_numpy()
    _check_flags(origin, codes(mv.column("destination"), DESTINATIONS), mv_from, mv_to, vacates, fills)
    household = values(mv.column("household_id"), np.int64)
    day = values(mv.column("move_date"), np.int32)
    if check_households:
        _check_households(household, day, mv_from, mv_to)
    completed = _dates(dw.column("completed") if "completed" in dw.column_names else None, len(rows))[rows]
    demolished = _dates(dw.column("demolished") if "demolished" in dw.column_names else None, len(rows))[rows]
    start, end = _window(window, day, completed)
    return Prepared(mv, dw, sorted_ids, rows, household, day, mv_from, mv_to, vacates, fills, origin,
                    completed, demolished, start, end, int(max_gap_days), int(max_length))


def _window(window, day: np.ndarray, completed: np.ndarray) -> tuple[int, int]:
    """Default window: earliest to latest move date (completion dates when there are no moves)."""
    if window is not None:
        start, end = (to_days(w) for w in window)
        if end < start:
            raise ValueError(f"window ends before it starts: {window}")
        return start, end
    known = day if len(day) else completed[completed != K.NO_DATE]
    if len(known) == 0:
        return 0, 0
    return int(known.min()), int(known.max())
