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


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.lists(st.booleans(), max_size=40), min_size=1, max_size=4), cut=st.integers(0, 9))
def test_bools_equal_python(chunks, cut) -> None:
    """_bools (the parallel unpacking of vacates/fills) against the values in Python, for
    columns of several chunks and chunks sliced at any bit offset; also across the kernel's
    64 Ki-row blocks."""
    from flyttkedja.core._prepare import _bools

    values = [v for c in chunks for v in c]
    cut = min(cut, len(values))
    column = pa.chunked_array([pa.array(c, pa.bool_()) for c in chunks], pa.bool_()).slice(cut)
    want = values[cut:]
    assert _bools(column).tolist() == want
    if len(column):  # one chunk at a bit offset: the kernel reads the bitmap itself
        got = _bools(pa.chunked_array([column.combine_chunks()]))
        assert got.tolist() == want
    rng = np.random.default_rng(cut)
    long = rng.random(3 * 65536 + 11) < 0.3
    sliced = pa.array(long).slice(cut + 1)
    assert (_bools(pa.chunked_array([sliced])) == long[cut + 1:]).all()


SPELLINGS = ["rental", "owner", "cooperative", None, "hyresrätt", "villa"]


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.lists(st.tuples(st.sampled_from(SPELLINGS), st.sampled_from(["public", "private", None])),
                                max_size=12), min_size=1, max_size=3),
       codes_of=st.sampled_from([None, (), ("tenure",)]))
def test_codes_answered_from_dictionaries(chunks, codes_of) -> None:
    """The tracer's inspection (dictionary-encoded code columns kept, their code rules answered
    from the dictionaries where they hold canonical codes only) finds what the row-by-row
    inspection of the same table as plain strings finds: the same findings, rows and
    examples, the same codes and the same values."""
    from flyttkedja.core.chainset import decoded
    from flyttkedja.schema import inspect

    def column(values):
        return pa.chunked_array([pa.array(v, pa.string()).dictionary_encode() for v in values])

    table = pa.table({"dwelling_id": pa.array(range(sum(map(len, chunks))), pa.int64()),
                      "tenure": column([[t for t, _ in c] for c in chunks]),
                      "landlord": column([[landlord for _, landlord in c] for c in chunks])})
    got_table, got_codes, got = inspect(table, "dwellings", keep_dictionary=True, codes_of=codes_of)
    want_table, want_codes, want = inspect(decoded(table), "dwellings")

    def described(findings):
        return [(f.rule.column, f.rule.message, f.rows, f.example_rows, f.example_values) for f in findings]

    assert described(got) == described(want)
    assert decoded(got_table).equals(want_table)
    for name, codes in got_codes.items():
        assert codes.tolist() == want_codes[name].tolist()
    assert set(got_codes) >= set(want_codes) - {"tenure", "landlord"} and (codes_of is not None or
                                                                            set(got_codes) == set(want_codes))
