"""Integer codes of a string code column in one pass (private; used by :mod:`flyttkedja.schema`).

Finding the distinct values of a 10-million-row string column (``pc.unique``,
then ``pc.index_in``) took about a second of ``trace()``; here each value is
compared byte by byte with the few accepted spellings straight from the Arrow
buffers (offsets and data), without building a hash table or copying a string.
One thread: the loop is memory-bound, and a file read in row groups gives one
call per chunk (78 for 10 M moves), where a parallel region's start and barrier
cost more than the work, above all on a busy machine (3.1 s of CPU against 0.14 s
per column at 10.2 M moves, measured on the shared 2-core machine).

>>> import pyarrow as pa
>>> match(pa.array(["b", None, "a", "zz"]), ["a", "b"], [0, 1]).tolist()
[1, -1, 0, -2]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit, prange

from flyttkedja._jit import threaded

NULL, UNKNOWN = -1, -2


@njit(cache=True, no_cfunc_wrapper=True)
def _match(offsets, data, valid, has_nulls, cand_offsets, cand_data, cand_code, out):
    """out[i] = code of the candidate spelled exactly as value i; NULL for nulls, UNKNOWN if none."""
    n = offsets.shape[0] - 1
    for i in range(n):
        if has_nulls and not valid[i]:
            out[i] = NULL
            continue
        a = offsets[i]
        length = offsets[i + 1] - a
        code = UNKNOWN
        for k in range(cand_code.shape[0]):
            ca = cand_offsets[k]
            if cand_offsets[k + 1] - ca != length:
                continue
            same = True
            for j in range(length):
                if data[a + j] != cand_data[ca + j]:
                    same = False
                    break
            if same:
                code = cand_code[k]
                break
        out[i] = code


def _candidates(spellings) -> tuple[np.ndarray, np.ndarray]:
    encoded = [s.encode("utf-8") for s in spellings]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded) or b"\0", np.uint8)
    return offsets, data


def match(array: pa.Array, spellings, code_of) -> np.ndarray:
    """int8 code of each value of a string array: ``code_of[k]`` where the value is ``spellings[k]``,
    NULL (-1) for nulls, UNKNOWN (-2) for anything else. Zero-copy on the Arrow buffers."""
    if pa.types.is_string_view(array.type):
        array = array.cast(pa.large_string())
    n = len(array)
    out = np.empty(n, np.int8)
    if n == 0:
        return out
    buffers = array.buffers()
    if pa.types.is_large_string(array.type):
        offsets = np.frombuffer(buffers[1], np.int64, count=n + 1 + array.offset)[array.offset:]
    else:  # one specialisation of _match (int64 offsets, as polars' strings have): widen a string array's
        offsets = np.frombuffer(buffers[1], np.int32, count=n + 1 + array.offset)[array.offset:].astype(np.int64)
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None and buffers[2].size else np.zeros(1, np.uint8)
    has_nulls = array.null_count > 0
    valid = array.is_valid().to_numpy(zero_copy_only=False) if has_nulls else np.ones(1, np.bool_)
    cand_offsets, cand_data = _candidates(spellings)
    _match(read_only(offsets), read_only(data), read_only(valid), has_nulls, cand_offsets, cand_data,
           np.asarray(code_of, np.int8), out)
    return out


def read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view (``a`` itself when it is one): Arrow buffers are mutable or not depending
    on where they come from (polars, pyarrow, a file), and numba compiles a kernel once per mix of
    writable and read-only inputs; passing every input read-only keeps it to one (here and in
    ``core``, which passes Arrow columns read-only)."""
    if not a.flags.writeable:
        return a
    a = a.view()
    a.flags.writeable = False
    return a


@njit(cache=True, no_cfunc_wrapper=True)
def _pick(indices, lut, bits, bit_offset, has_nulls, out):
    """out[i] = lut[indices[i]]: a dictionary-encoded chunk's codes from its dictionary's;
    NULL where the validity bit (``bits`` from ``bit_offset``, LSB first) is 0 or the index
    is outside the dictionary (a null slot may hold any index)."""
    n_lut = lut.shape[0]
    table = np.empty(256, np.int8)  # index → code for the first 256 indices (a code list is shorter)
    for k in range(256):  # a loop, not np.full and a slice assignment: those compile 40 of numba's
        table[k] = lut[k] if k < n_lut else NULL  # helpers (1.8 CPU-s on a fresh install)
    if n_lut <= 256:  # branch-free: an index outside the dictionary only in null slots
        for i in range(out.shape[0]):
            k = indices[i]
            out[i] = table[k & 255] if k == (k & 255) else NULL
    else:
        for i in range(out.shape[0]):
            k = indices[i]
            out[i] = lut[k] if 0 <= k < n_lut else NULL
    if has_nulls:
        for i in range(out.shape[0]):
            j = i + bit_offset
            if not (bits[j >> 3] >> (j & 7)) & 1:
                out[i] = NULL


def pick(chunk: pa.DictionaryArray, lut: np.ndarray, out: np.ndarray) -> None:
    """Codes of a dictionary-encoded chunk into ``out`` (its length): ``lut[index]``, NULL for
    nulls. One pass over the index and validity buffers, no copy (a numpy ``take`` with
    ``mode="clip"`` and a validity mask took 15 ms per 10 M rows more).

    >>> pick(pa.array(["b", None, "a"]).dictionary_encode(), np.array([5, 7], np.int8), out := np.empty(3, np.int8))
    >>> out.tolist()
    [5, -1, 7]
    """
    indices = chunk.indices
    n = len(indices)
    if n == 0:
        return
    validity, data = indices.buffers()[:2]
    raw = np.frombuffer(data, indices.type.to_pandas_dtype(), count=n + indices.offset)[indices.offset:]
    has_nulls = chunk.null_count > 0
    bits = np.frombuffer(validity, np.uint8) if has_nulls else np.zeros(1, np.uint8)
    _pick(raw, lut, bits, indices.offset, has_nulls, out)


def bits_at_least(values: np.ndarray, lo: int, bits: np.ndarray) -> int:
    """An Arrow bitmap (LSB first) of ``values[i] >= lo`` into ``bits`` (``(len(values) + 7) // 8``
    bytes); returns the number of rows below ``lo``. The one bitmap pass: code validity here
    (``lo = 0``), dated dwellings and register rules' flags in ``core``. int32 values (days,
    dense ids) go through one parallel kernel; int8 values (codes, flags) through numpy's
    ``packbits`` (same bytes), so the kernel compiles for one dtype only (a fresh install
    compiles each specialisation of a parallel kernel, about a second each).

    >>> bits = np.empty(2, np.uint8)
    >>> bits_at_least(np.array([3, -1, 5, 0, 0, 0, 0, 0, 9], np.int32), 1, bits), bits.tolist()
    (6, [5, 1])
    """
    if values.dtype == np.int8:
        above = values >= lo
        bits[:] = np.packbits(above, bitorder="little")
        return int(len(values) - np.count_nonzero(above))
    if values.dtype != np.int32:
        raise TypeError(f"bits_at_least takes int8 or int32 values, not {values.dtype}")
    return int(_bits_at_least(values, np.int64(lo), bits))


@threaded
def _bits_at_least(values, lo, bits):
    """int32 ``values`` → bitmap of ``values[i] >= lo`` and the count below. One call per column
    (not per chunk): each byte of ``bits`` belongs to one iteration, so the pass is parallel
    without races."""
    n = values.shape[0]
    below = 0
    for b in prange((n + 7) // 8):
        byte = 0
        count = 0
        for i in range(8 * b, min(n, 8 * b + 8)):
            if values[i] >= lo:
                byte |= 1 << (i - 8 * b)
            else:
                count += 1
        bits[b] = byte
        below += count
    return below


def validity(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """The validity bitmap of int8 codes (a code >= 0 is valid) and the number of invalid codes,
    in one pass (no boolean copy, no separate packing).

    >>> bits, invalid = validity(np.array([0, -1, 2], np.int8))
    >>> bits.tolist(), invalid
    ([5], 1)
    """
    bits = np.empty((len(codes) + 7) // 8, np.uint8)
    return bits, int(bits_at_least(codes, 0, bits))
