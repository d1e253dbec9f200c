"""The tracer's input checks: one-pass fast paths against the general ones (core/_prepare.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from flyttkedja.core import _kernels as K
from flyttkedja.core._prepare import _ALL_VALID, _dense_lookup, bitmap, household_conflicts, values


def frozen(array: np.ndarray) -> np.ndarray:
    """``array`` read-only, as the tracer passes Arrow columns: the kernels' one specialisation
    (a writable input would compile each kernel a second time)."""
    array = np.array(array)
    array.flags.writeable = False
    return array


def conflicts_by_sorting(household, day, mv_from, mv_to):
    """The general path (households grouped by a counting sort), as a reference."""
    _, dense = np.unique(household, return_inverse=True)
    start, rows = K.household_order(dense.astype(np.int32), int(dense.max()) + 1, day)  # int32: _dense_households
    twice, elsewhere = K.household_conflicts(start, rows, day, mv_from, mv_to)
    return twice >= 0, elsewhere >= 0


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 60), households=st.integers(1, 8), dwellings=st.integers(1, 6), days=st.integers(1, 5),
       seed=st.integers(0, 2**32 - 1), sparse=st.booleans())
def test_in_order_pass_equals_sorting(n, households, dwellings, days, seed, sparse) -> None:
    rng = np.random.default_rng(seed)
    household = frozen(rng.integers(0, households, n).astype(np.int64) * (10**15 if sparse else 1) - 3)
    day = frozen(np.sort(rng.integers(-2, days, n)).astype(np.int32))  # date order (negative days: before 1970)
    mv_from = rng.integers(-1, dwellings, n).astype(np.int32)
    mv_to = rng.integers(-1, dwellings, n).astype(np.int32)
    want = conflicts_by_sorting(household, day, mv_from, mv_to)
    got = [g.to_numpy(zero_copy_only=False) for g in household_conflicts(household, day, mv_from, mv_to)]
    assert all((g == w).all() for g, w in zip(got, want))
    order = rng.permutation(n)  # out of date order: the sorting path, same answers per row
    got = [g.to_numpy(zero_copy_only=False)
           for g in household_conflicts(frozen(household[order]), frozen(day[order]), mv_from[order], mv_to[order])]
    want = conflicts_by_sorting(frozen(household[order]), frozen(day[order]), mv_from[order], mv_to[order])
    assert all((g == w).all() for g, w in zip(got, want))


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.integers(-50, 50), min_size=1, max_size=40, unique=True) | st.builds(
    lambda lo, n: list(range(lo, lo + n)), st.integers(-50, 50), st.integers(1, 40)))
def test_dense_lookup_is_the_rank(ids) -> None:
    """The lookup table (or, for ids lo, lo + 1, ... in table order, the identity) is the rank,
    and map_ids gives the same dense index and completion day by either."""
    ids = frozen(np.array(ids, np.int64))
    sorted_ids, rows, lookup = _dense_lookup(ids)
    rank = np.searchsorted(np.sort(ids), ids)
    assert (sorted_ids == np.sort(ids)).all() and (ids[rows if rows is not None else slice(None)] == sorted_ids).all()
    table, lo = lookup
    identity = rows is None
    assert identity == bool((np.diff(ids) == 1).all())
    if not identity:
        assert (table[ids - lo] == rank).all() and (table >= 0).sum() == len(ids)
    probe = np.concatenate([ids, [ids.min() - 1, ids.max() + 1]])  # two unknown ids
    days = np.arange(len(ids), dtype=np.int32) * 7
    dense, day = np.empty(len(probe), np.int32), np.empty(len(probe), np.int32)
    dated = np.packbits(np.arange(len(ids)) % 3 > 0, bitorder="little")  # every third dwelling has no day
    days[::3] = K.NO_DATE
    K.map_ids(frozen(probe), _ALL_VALID, 0, table, np.int64(lo), len(ids), days, dated, K.NO_DATE, dense, day)
    assert dense.tolist() == rank.tolist() + [-2, -2]
    assert day.tolist() == days[rank].tolist() + [K.NO_DATE] * 2
    column = pa.array([0, *probe.tolist(), None], pa.int64()).slice(1)  # a null, read at a bitmap offset
    dense, day = np.empty(len(column), np.int32), np.empty(len(column), np.int32)
    K.map_ids(values(column, np.int64), bitmap(column), column.offset, table, np.int64(lo), len(ids), days,
              dated, K.NO_DATE, dense, day)
    assert dense.tolist() == rank.tolist() + [-2, -2, -1] and day[-1] == K.NO_DATE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-3, 3), max_size=40), st.integers(-2, 2))
def test_bitmap_kernel_equals_numpy_packbits(values, lo):
    """_codes.bits_at_least (code validity, dated dwellings, rule flags) against numpy."""
    from flyttkedja import _codes

    v = np.array(values, np.int32)
    bits = np.empty((len(v) + 7) // 8, np.uint8)
    below = _codes.bits_at_least(v, lo, bits)
    assert below == int((v < lo).sum())
    assert bits.tolist() == np.packbits(v >= lo, bitorder="little").tolist()
