"""Bootstrap confidence intervals for ratio statistics of chains.

Every statistic of :mod:`flyttkedja.analysis` is a ratio of sums of record
counts in cells, so one bootstrap replicate only needs each cell's total in
a resample. :func:`replicate_cell_totals` resamples *units* — chains, or
clusters of chains whose seeds share a building/project (the cluster
bootstrap; Davison & Hinkley 1997, ch. 3.8) — and returns the cell totals of
every replicate. Resampling is the *Poisson bootstrap*: each unit is drawn
a Poisson(1) number of times, independently (Hanley & MacGibbon 2006;
Chamandy et al. 2012), which matches the multinomial n-out-of-n bootstrap as
the number of units grows and lets every weight be computed where it is
needed, so the data are streamed once per batch of 16 replicates. Each
replicate has its own random stream (splitmix64 seeded from
``numpy.random.SeedSequence``), so results are identical for any number of
threads.

Example
-------
>>> totals = replicate_cell_totals(np.array([0, 1, 1]), np.array([0, 0, 1]), n_units=2,
...                                n_cells=2, replicates=3, seed=1)   # doctest: +SKIP
>>> totals.shape
(3, 2)
"""

from __future__ import annotations

import numpy as np
import polars as pl

from flyttkedja._jit import one_thread
from flyttkedja.analysis._bootstrap_kernels import POISSON_CDF
from flyttkedja.analysis._bootstrap_kernels import replicate_cell_totals as _kernel


# entries of the unit x cell matrix times replicates: a smaller bootstrap runs on one thread, the
# kernel's serial twin (flyttkedja._jit.Threaded). flyttkedja demo's (36,487 entries x 1,000
# replicates) takes 20 ms serially and 11 ms on two threads; compiling the parallel form costs
# about 1.9 CPU-s more than the serial one, once per install (docs/performance.md).
SERIAL_BELOW = 10**8


def replicate_seeds(seed: int, replicates: int) -> np.ndarray:
    """One uint64 seed per replicate, from ``SeedSequence(seed)``."""
    return np.random.SeedSequence(seed).generate_state(replicates, dtype=np.uint64)


def unit_cell_matrix(unit: np.ndarray, cell: np.ndarray, n_units: int, n_cells: int) -> tuple[np.ndarray, ...]:
    """CSR (indptr int64, cells int32, counts int32) of record counts per (unit, cell), sorted by unit then cell."""
    key = pl.Series(np.asarray(unit, np.int64) * n_cells + np.asarray(cell, np.int64)).sort().to_numpy()
    if len(key) == 0:
        return np.zeros(n_units + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    counts = np.diff(np.r_[starts, len(key)]).astype(np.int32)
    distinct = key[starts]
    indptr = np.zeros(n_units + 1, dtype=np.int64)
    np.cumsum(np.bincount(distinct // n_cells, minlength=n_units), out=indptr[1:])
    return indptr, (distinct % n_cells).astype(np.int32), counts


def replicate_cell_totals(
    unit: np.ndarray,
    cell: np.ndarray,
    *,
    n_units: int,
    n_cells: int,
    replicates: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """Cell totals (replicates × n_cells, float64 holding integers) of bootstrap resamples of units.

    Parameters
    ----------
    unit, cell : int arrays, one entry per record (a chain or a link)
        The resampling unit (0..n_units-1) and the cell (0..n_cells-1) of each record.
    replicates : int
    seed : int
        Same seed → identical totals, whatever the thread count.
    """
    unit, cell = np.asarray(unit), np.asarray(cell)
    if unit.shape != cell.shape:
        raise ValueError("bootstrap: unit and cell must have the same length")
    if len(unit) and (unit.min() < 0 or unit.max() >= n_units or cell.min() < 0 or cell.max() >= n_cells):
        raise ValueError("bootstrap: unit or cell index out of range")
    if replicates < 1 or n_units < 1:
        return np.zeros((max(replicates, 0), n_cells))
    indptr, cells, counts = unit_cell_matrix(unit, cell, n_units, n_cells)
    with one_thread(len(cells) * replicates < SERIAL_BELOW):
        return _kernel(indptr, cells, counts, n_cells, replicate_seeds(seed, replicates), POISSON_CDF)


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column of (replicates × statistics), ignoring NaN replicates."""
    alpha = (1 - level) / 2
    if replicates.shape[0] == 0:
        nan = np.full(replicates.shape[1], np.nan)
        return nan, nan.copy()
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanquantile(replicates, [alpha, 1 - alpha], axis=0)
    return low, high
