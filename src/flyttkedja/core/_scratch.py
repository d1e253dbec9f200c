"""Scratch arrays for the tracer's kernels, in fresh memory backed by huge pages.

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
"""

from __future__ import annotations

import mmap

import numpy as np

HUGE_PAGE_MIN_BYTES = 4 << 20  # below this, huge pages cannot help


def scratch(shape: int | tuple[int, ...], dtype, zero: bool = False) -> np.ndarray:
    """An uninitialised (``zero``: zero-filled), writable array for a kernel to fill.

    A fresh mapping is zero-filled by the kernel as its pages are first touched,
    so ``zero`` costs nothing for the pages a kernel never writes.

    >>> step = scratch(10_000_000, np.int64)   # doctest: +SKIP
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes < HUGE_PAGE_MIN_BYTES or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
    memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    memory.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(memory, dtype).reshape(shape)
