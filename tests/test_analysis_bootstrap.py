"""The bootstrap kernel against the plain-Python reference; thread-count invariance."""

from __future__ import annotations

import numba
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from flyttkedja.analysis import bootstrap
from flyttkedja.analysis.bootstrap import percentile_interval, replicate_cell_totals
from naive_analysis import naive_replicate_cell_totals


@st.composite
def records(draw):
    n_units = draw(st.integers(1, 12))
    n_cells = draw(st.integers(1, 6))
    n = draw(st.integers(0, 40))
    unit = draw(st.lists(st.integers(0, n_units - 1), min_size=n, max_size=n))
    cell = draw(st.lists(st.integers(0, n_cells - 1), min_size=n, max_size=n))
    return np.array(unit, np.int64), np.array(cell, np.int64), n_units, n_cells


@settings(max_examples=40, deadline=None)
@given(data=records(), replicates=st.integers(1, 6), seed=st.integers(0, 2**32))
def test_kernel_matches_plain_reference(data, replicates, seed):
    unit, cell, n_units, n_cells = data
    fast = replicate_cell_totals(unit, cell, n_units=n_units, n_cells=n_cells, replicates=replicates, seed=seed)
    slow = naive_replicate_cell_totals(unit, cell, n_units, n_cells, replicates, seed)
    assert np.array_equal(fast, slow)


def test_identical_for_any_thread_count(monkeypatch):
    """One thread runs the kernel's serial twin, more its parallel form (a bootstrap this small
    would run on one thread: SERIAL_BELOW patched to 0); both equal the reference."""
    rng = np.random.default_rng(0)
    unit, cell = rng.integers(0, 500, 3000), rng.integers(0, 30, 3000)
    monkeypatch.setattr(bootstrap, "SERIAL_BELOW", 0)
    runs = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        runs.append(replicate_cell_totals(unit, cell, n_units=500, n_cells=30, replicates=64, seed=3))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert np.array_equal(runs[0], runs[1])
    assert np.array_equal(runs[0], naive_replicate_cell_totals(unit, cell, 500, 30, 64, 3))
    kernel = bootstrap._kernel
    assert len(kernel.serial.signatures) == 1
    assert len(kernel.parallel.signatures) == (1 if numba.config.NUMBA_NUM_THREADS > 1 else 0)


def test_resampling_is_unbiased_for_totals():
    # E[replicate total] = observed total: mean over many replicates is close to it
    rng = np.random.default_rng(1)
    unit, cell = rng.integers(0, 200, 1000), rng.integers(0, 4, 1000)
    reps = replicate_cell_totals(unit, cell, n_units=200, n_cells=4, replicates=2000, seed=9)
    observed = np.bincount(cell, minlength=4)
    assert np.allclose(reps.mean(axis=0), observed, rtol=0.02)
    assert (reps.sum(axis=1) > 0).all()


def test_percentile_interval_ignores_nan_replicates():
    reps = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, 1.0]])
    low, high = percentile_interval(reps, 0.5)
    assert low[0] == 1.5 and high[0] == 2.5 and low[1] == 1.0
