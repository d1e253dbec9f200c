"""Scratch arrays for the tracer's kernels and output columns: huge pages, reused (private;
used by flyttkedja.core and the code columns of flyttkedja.schema).

The kernels read and write arrays with one slot per move or per dwelling (tens
to hundreds of MB) at random. With 4 KiB pages, TLB misses and first-touch page
faults cost about as much as the work itself. numpy asks the kernel for
transparent huge pages only on memory newly mapped; in a long-lived process
(a notebook, a test session) glibc serves big arrays from recycled heap
memory, and the same trace ran 30–40% slower there (10.2 M moves: kernels
0.57 s in a pytest session against 0.40 s in a fresh script). A private
anonymous mapping per array, advised MADV_HUGEPAGE, makes the speed
independent of the process's history. Elsewhere than Linux, or for small
arrays, a plain ``numpy.empty``.

Fresh memory is not free either: the first touch of a page faults, and on a
virtual machine that hands freed memory back to its host (free page reporting)
each fault costs the host's work too (measured on the project's VM: 1.1–1.4 ms
per MB on 4 KiB pages, 0.12–0.4 ms per MB on huge pages, nothing for memory
already touched). So a mapping nobody references any more is kept and handed
out again: by the next phase of the same ``trace()``, or by the next call. A
mapping is idle when its only reference is this module's pool (reference
count), so an array still held anywhere — a view, an Arrow buffer, a polars
column of a returned ChainSet — keeps its memory to itself. At most
:data:`KEEP_IDLE_BYTES` of idle mappings are kept (the oldest are unmapped
first); :func:`release` unmaps them all. Nothing here changes a process-wide
setting (allocators, ``malloc`` tuning): the pool is the library's own memory.
"""

from __future__ import annotations

import mmap
import sys
import threading

import numpy as np

HUGE_PAGE_MIN_BYTES = 4 << 20  # below this, huge pages cannot help
KEEP_IDLE_BYTES = 2 << 30      # idle mappings kept for reuse at most (2 GiB: one 10 M-move trace needs ~0.6)
_SLACK = 2                     # a mapping serves arrays down to 1/_SLACK of its size
_POOL: list[mmap.mmap] = []    # every live mapping made here, oldest first
_LOCK = threading.Lock()


def scratch(shape: int | tuple[int, ...], dtype, zero: bool = False) -> np.ndarray:
    """An uninitialised (``zero``: zero-filled), writable array for a kernel to fill.

    Big arrays live on huge pages, in a mapping reused once no array refers to it
    (its old contents stay: pass ``zero`` when the kernel relies on zeros).

    >>> step = scratch(10_000_000, np.int64)   # doctest: +SKIP
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    nbytes = count * dtype.itemsize
    if nbytes < HUGE_PAGE_MIN_BYTES or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
    memory = _reuse(nbytes)
    reused = memory is not None
    if memory is None:
        memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        memory.madvise(mmap.MADV_HUGEPAGE)
        with _LOCK:
            _POOL.append(memory)
    out = np.frombuffer(memory, dtype, count=count).reshape(shape)
    if zero and reused:  # a fresh mapping is zero-filled by the kernel as its pages are first touched
        out.fill(0)
    return out


def _refs(memory: mmap.mmap) -> int:
    return sys.getrefcount(memory)


def _idle(memory: mmap.mmap) -> bool:
    """No array refers to ``memory``: its references are the pool's list and the caller's loop
    variable (and this call's), as counted once at import in the same pattern."""
    return _refs(memory) <= _IDLE_REFS


def _calibrate() -> int:
    pool = [mmap.mmap(-1, 1)]
    for memory in pool:
        return _refs(memory) + 1  # + _idle's own parameter


_IDLE_REFS = _calibrate()


def _reuse(nbytes: int) -> mmap.mmap | None:
    """The smallest idle mapping that holds ``nbytes`` (and not more than _SLACK times that),
    moved to the pool's end (most recently used); trims the idle ones beyond the budget."""
    with _LOCK:
        best = None
        for memory in _POOL:
            if nbytes <= len(memory) <= _SLACK * nbytes and (best is None or len(memory) < len(best)) \
                    and _idle(memory):
                best = memory
        if best is not None:
            _POOL.remove(best)
            _POOL.append(best)
        _trim(KEEP_IDLE_BYTES)
        return best


def _trim(keep: int) -> None:
    """Unmap the oldest idle mappings until at most ``keep`` bytes of idle ones remain (lock held)."""
    idle = [m for m in _POOL if _idle(m)]
    total = sum(len(m) for m in idle)
    for memory in idle:
        if total <= keep:
            break
        _POOL.remove(memory)
        total -= len(memory)
        memory.close()


def release() -> int:
    """Unmap every idle scratch mapping now; returns the bytes given back.

    Public as ``flyttkedja.release_scratch()``. ``trace()`` keeps up to
    :data:`KEEP_IDLE_BYTES` (2 GiB; about 0.6 GiB after one 10 M-move trace) of
    idle huge-page mappings so the next call does not pay their first touch again.
    A long-lived process (a notebook) that has finished tracing and needs the
    memory for something else calls this; the next ``trace()`` maps fresh memory
    (about 0.1–0.2 s slower at 10 M moves). Arrays still referenced (a returned
    ChainSet's columns) are never unmapped.

    >>> import flyttkedja
    >>> flyttkedja.release_scratch() >= 0
    True
    """
    with _LOCK:
        before = sum(len(m) for m in _POOL)
        _trim(0)
        return before - sum(len(m) for m in _POOL)


def idle_bytes() -> int:
    """Bytes of scratch mappings kept for reuse (no array refers to them)."""
    with _LOCK:
        return sum(len(m) for m in _POOL if _idle(m))
